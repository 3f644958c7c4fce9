//! [`TaskLoader`]: reads tasks and DAGs, optionally checking names against catalogs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::Task;
use super::read::{doc_keys, edge_pairs, task_from_node};
use crate::catalog::Catalogs;
use crate::cloud::CloudId;
use crate::dag::{Dag, DagError};
use crate::resources::names::LoadCtx;
use crate::yaml::access::{entries, near, opt_name};
use crate::yaml::error::{FieldPath, TaskError, TaskErrorKind};
use crate::yaml::node::{Node, Value};
use crate::yaml::read::{parse_documents, utf8};

/// Loads task YAML, with options: catalogs to check accelerator, region and zone names
/// against (canonicalising accelerator names, e.g. `v100` → `V100`), and clouds of your own
/// that YAML may name.
///
/// ```
/// use sky_core::task::TaskLoader;
///
/// let task = TaskLoader::new()
///     .load_str("resources:\n  accelerators: V100:4\nrun: python train.py\n")
///     .unwrap();
/// assert_eq!(task.run.as_deref(), Some("python train.py"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct TaskLoader<'a> {
    catalogs: Option<&'a Catalogs>,
    clouds: Vec<CloudId>,
}

impl<'a> TaskLoader<'a> {
    /// A loader without catalogs: syntax and values are checked, names are not (except cloud
    /// names, which must be ones sky knows).
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks accelerator names (case-insensitively, canonicalising them), regions and zones
    /// against these catalogs; clouds with a catalog may be named in YAML. An empty
    /// [`Catalogs`] checks nothing.
    pub fn with_catalogs(mut self, catalogs: &'a Catalogs) -> Self {
        self.catalogs = Some(catalogs);
        self
    }

    /// Lets YAML name a cloud outside [`CloudId::KNOWN`] (for example
    /// `CloudId::Other("mycloud".into())`, or `kubernetes` to accept `infra: k8s/<context>`).
    pub fn with_cloud(mut self, cloud: CloudId) -> Self {
        if !self.clouds.contains(&cloud) {
            self.clouds.push(cloud);
        }
        self
    }

    fn ctx(&self) -> LoadCtx<'a> {
        LoadCtx {
            catalogs: self.catalogs,
            extra_clouds: self.clouds.clone(),
        }
    }

    /// Loads a single-document task. An empty document is a default task; several documents
    /// are an error (load them with [`TaskLoader::load_dag_str`]).
    pub fn load_str(&self, yaml: &str) -> Result<Task, TaskError> {
        let docs = parse_documents(yaml)?;
        match docs.as_slice() {
            [] => Ok(Task::default()),
            [one] => task_from_node(&self.ctx(), one),
            many => Err(
                TaskError::new(TaskErrorKind::MultipleDocuments { count: many.len() })
                    .with_loc(many[1].loc),
            ),
        }
    }

    /// [`TaskLoader::load_str`] on bytes, which must be UTF-8.
    pub fn load_bytes(&self, yaml: &[u8]) -> Result<Task, TaskError> {
        self.load_str(utf8(yaml)?)
    }

    /// [`TaskLoader::load_str`] on a file; errors name the file.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Task, TaskError> {
        let path = path.as_ref();
        read(path)
            .and_then(|text| self.load_str(&text))
            .map_err(|e| e.with_file(path))
    }

    /// Loads a DAG: one task per document, chained in document order, or a general DAG when
    /// the first document carries `edges` (see the [module docs](super)).
    pub fn load_dag_str(&self, yaml: &str) -> Result<Dag, TaskError> {
        dag_from_docs(&self.ctx(), &parse_documents(yaml)?)
    }

    /// [`TaskLoader::load_dag_str`] on bytes, which must be UTF-8.
    pub fn load_dag_bytes(&self, yaml: &[u8]) -> Result<Dag, TaskError> {
        self.load_dag_str(utf8(yaml)?)
    }

    /// [`TaskLoader::load_dag_str`] on a file; errors name the file.
    pub fn load_dag_file(&self, path: impl AsRef<Path>) -> Result<Dag, TaskError> {
        let path = path.as_ref();
        read(path)
            .and_then(|text| self.load_dag_str(&text))
            .map_err(|e| e.with_file(path))
    }
}

fn read(path: &Path) -> Result<String, TaskError> {
    let bytes = std::fs::read(path).map_err(|e| {
        TaskError::new(TaskErrorKind::Io {
            path: path.to_owned(),
            source: Arc::new(e),
        })
    })?;
    utf8(&bytes).map(str::to_owned)
}

/// The node of a document's `name` value.
fn name_node(doc: &Node) -> Option<&Node> {
    match &doc.value {
        Value::Map(items) => items
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "name"))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Builds a DAG from its documents, as SkyPilot's `load_chain_dag_from_yaml` does, plus
/// sky's `edges` header.
fn dag_from_docs(ctx: &LoadCtx<'_>, docs: &[Node]) -> Result<Dag, TaskError> {
    let Some(first) = docs.first() else {
        return Ok(Dag::single(Task::default()));
    };
    let root = FieldPath::root();
    let keys = doc_keys(first);
    let has_edges = keys.iter().any(|k| k == "edges");
    let name_only_header = docs.len() > 1 && keys == ["name"];
    let mut dag_name = None;
    let mut edges = Vec::new();
    let task_docs = if has_edges {
        for e in entries(first, &root, Some(&["name", "edges"]), "a mapping")? {
            match e.key.as_str() {
                "name" => dag_name = opt_name(e.value, &e.path)?,
                _ => edges = edge_pairs(e.value, &e.path)?,
            }
        }
        &docs[1..]
    } else if name_only_header {
        if let Some(v) = name_node(first) {
            dag_name = opt_name(v, &root.key("name"))?;
        }
        &docs[1..]
    } else {
        docs
    };
    let mut tasks = task_docs
        .iter()
        .map(|d| task_from_node(ctx, d))
        .collect::<Result<Vec<Task>, TaskError>>()?;
    if tasks.is_empty() {
        // SkyPilot: a YAML with only `name` is still one task of that name.
        tasks.push(Task {
            name: dag_name.clone(),
            ..Task::default()
        });
    }
    if !has_edges && !name_only_header && tasks.len() == 1 {
        dag_name = tasks[0].name.clone();
    }
    if !has_edges {
        let mut dag = Dag::chain(tasks);
        dag.name = dag_name;
        return Ok(dag);
    }
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    if !edges.is_empty() {
        for (i, t) in tasks.iter().enumerate() {
            let doc = task_docs.get(i);
            let Some(n) = &t.name else {
                let mut e = TaskError::new(TaskErrorKind::UnnamedTask { index: i });
                if let Some(d) = doc {
                    e = e.with_loc(d.loc);
                }
                return Err(e);
            };
            if index.insert(n.clone(), i).is_some() {
                let mut e = TaskError::new(TaskErrorKind::DuplicateTaskName { name: n.clone() })
                    .with_path(&root.key("name"));
                if let Some(v) = doc.and_then(name_node) {
                    e = e.with_loc(v.loc);
                }
                return Err(e);
            }
        }
    }
    let mut dag = Dag::new();
    dag.name = dag_name;
    for t in tasks {
        dag.add_task(t);
    }
    let names: Vec<&str> = index.keys().map(String::as_str).collect();
    for (i, [(from, from_node, from_path), (to, to_node, to_path)]) in edges.iter().enumerate() {
        let lookup = |name: &str, node: &Node, path: &FieldPath| {
            index.get(name).copied().ok_or_else(|| {
                TaskError::at(
                    TaskErrorKind::UnknownTask {
                        name: name.to_owned(),
                    },
                    path,
                    node,
                )
                .with_suggestion(near(name, names.iter().copied()))
            })
        };
        let a = lookup(from, from_node, from_path)?;
        let b = lookup(to, to_node, to_path)?;
        dag.add_edge(a, b).map_err(|e| {
            let kind = match e {
                DagError::SelfLoop(_) => TaskErrorKind::SelfLoop { name: from.clone() },
                _ => TaskErrorKind::Cycle {
                    from: from.clone(),
                    to: to.clone(),
                },
            };
            let edge_path = FieldPath::root().key("edges").index(i);
            TaskError::new(kind)
                .with_path(&edge_path)
                .with_loc(from_node.loc)
        })?;
    }
    Ok(dag)
}
