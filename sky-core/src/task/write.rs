//! Writing tasks and DAGs as normalised SkyPilot YAML.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::read::task_from_node;
use super::{FileMount, Task, Workdir};
use crate::dag::Dag;
use crate::resources::names::LoadCtx;
use crate::resources::write::resource_set_out;
use crate::yaml::emit::{Out, to_yaml, to_yaml_multi};
use crate::yaml::error::{TaskError, TaskErrorKind};
use crate::yaml::node::PlainNode;

/// What a redacted secret is written as.
pub(crate) const REDACTED: &str = "<redacted>";

/// Whether secret values are written or replaced by `<redacted>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Secrets {
    Redact,
    Keep,
}

/// The task as one YAML document, fields in SkyPilot's order.
pub(crate) fn task_out(task: &Task, secrets: Secrets) -> Out {
    let mut m: Vec<(String, Out)> = Vec::new();
    let mut put = |k: &str, v: Out| m.push((k.to_owned(), v));
    if let Some(n) = &task.name {
        put("name", Out::str(n));
    }
    match &task.workdir {
        Some(Workdir::Path(p)) => put("workdir", Out::Str(p.to_string_lossy().into_owned())),
        Some(Workdir::Git { url, git_ref }) => {
            let mut w = vec![("url".to_owned(), Out::str(url))];
            if let Some(r) = git_ref {
                w.push(("ref".into(), Out::str(r)));
            }
            put("workdir", Out::Map(w));
        }
        None => {}
    }
    if task.num_nodes != 1 {
        put("num_nodes", Out::UInt(u64::from(task.num_nodes)));
    }
    if let Some(r) = resource_set_out(&task.resources) {
        put("resources", r);
    }
    if !task.envs.is_empty() {
        put(
            "envs",
            Out::Map(
                task.envs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_ref().map_or(Out::Null, Out::str)))
                    .collect(),
            ),
        );
    }
    if !task.secrets.is_empty() {
        put(
            "secrets",
            Out::Map(
                task.secrets
                    .iter()
                    .map(|(k, v)| {
                        let shown = match (v, secrets) {
                            (None, _) => Out::Null,
                            (Some(v), Secrets::Keep) => Out::str(v.expose()),
                            (Some(_), Secrets::Redact) => Out::str(REDACTED),
                        };
                        (k.clone(), shown)
                    })
                    .collect(),
            ),
        );
    }
    if !task.file_mounts.is_empty() {
        put(
            "file_mounts",
            Out::Map(
                task.file_mounts
                    .iter()
                    .map(|(k, v)| (k.clone(), file_mount_out(v)))
                    .collect(),
            ),
        );
    }
    if let Some(s) = &task.setup {
        put("setup", Out::str(s));
    }
    if let Some(r) = &task.run {
        put("run", Out::str(r));
    }
    for (key, spec) in [("inputs", &task.inputs), ("outputs", &task.outputs)] {
        if let Some(d) = spec {
            put(key, Out::Map(vec![(d.uri.clone(), Out::num(d.size_gb))]));
        }
    }
    if let Some(c) = &task.config {
        put("config", Out::from(c));
    }
    if let Some(e) = &task.event_callback {
        put("event_callback", Out::str(e));
    }
    if let Some(d) = task.estimated_runtime {
        let out = if d.subsec_nanos() == 0 {
            Out::UInt(d.as_secs())
        } else {
            Out::Float(d.as_secs_f64())
        };
        put("estimated_runtime", out);
    }
    for (k, v) in &task.extra {
        put(k, Out::from(v));
    }
    Out::Map(m)
}

fn file_mount_out(m: &FileMount) -> Out {
    match m {
        FileMount::Local(s) | FileMount::CloudUri(s) => Out::str(s),
        FileMount::Storage(s) => {
            let mut o: Vec<(String, Out)> = Vec::new();
            if let Some(n) = &s.name {
                o.push(("name".into(), Out::str(n)));
            }
            if let Some(src) = &s.source {
                o.push(("source".into(), Out::str(src)));
            }
            if let Some(st) = &s.store {
                o.push(("store".into(), Out::str(st)));
            }
            if let Some(p) = s.persistent {
                o.push(("persistent".into(), Out::Bool(p)));
            }
            if let Some(mode) = &s.mode {
                o.push(("mode".into(), Out::str(mode)));
            }
            for (k, v) in &s.extra {
                o.push((k.clone(), Out::from(v)));
            }
            Out::Map(o)
        }
    }
}

/// [`Task::to_yaml_string`] and friends.
pub(crate) fn task_to_yaml(task: &Task, secrets: Secrets) -> Result<String, TaskError> {
    to_yaml(&task_out(task, secrets))
}

/// Whether the DAG's edges are exactly the chain `0 -> 1 -> ... -> n-1`, in order.
fn is_plain_chain(dag: &Dag) -> bool {
    let edges = dag.edges();
    edges.len() + 1 == dag.len() && edges.iter().enumerate().all(|(i, &e)| e == (i, i + 1))
}

/// [`Dag::to_yaml_string`]: one document per task, and a header document when needed.
///
/// A chain is written as its documents (with a `name`-only header for the DAG name, as
/// SkyPilot does); any other DAG gets a header with `edges`. The reader
/// ([`super::loader`]) reads every form back to an equal DAG.
pub(crate) fn dag_to_yaml(dag: &Dag, secrets: Secrets) -> Result<String, TaskError> {
    let tasks = dag.tasks();
    if tasks.is_empty() || !is_plain_chain(dag) {
        return dag_with_edges(dag, secrets);
    }
    let task_docs: Vec<Out> = tasks.iter().map(|t| task_out(t, secrets)).collect();
    // A first document with only `name` would read back as a header.
    let first_is_name_only =
        matches!(&task_docs[0], Out::Map(m) if m.len() == 1 && m[0].0 == "name");
    let plain = if tasks.len() == 1 {
        dag.name == tasks[0].name
    } else {
        dag.name.is_none() && !first_is_name_only
    };
    if plain {
        return to_yaml_multi(&task_docs);
    }
    match &dag.name {
        Some(n) => {
            let mut docs = vec![Out::Map(vec![("name".to_owned(), Out::str(n))])];
            docs.extend(task_docs);
            to_yaml_multi(&docs)
        }
        None => dag_with_edges(dag, secrets),
    }
}

/// A header with `edges` (and the DAG name), then the tasks.
fn dag_with_edges(dag: &Dag, secrets: Secrets) -> Result<String, TaskError> {
    let tasks = dag.tasks();
    let mut names: Vec<&str> = Vec::with_capacity(tasks.len());
    if !dag.edges().is_empty() {
        for (i, t) in tasks.iter().enumerate() {
            let Some(n) = t.name.as_deref() else {
                return Err(TaskError::new(TaskErrorKind::Serialize {
                    message: format!(
                        "task {i} has no name; a DAG that is not a chain is written with \
                         `edges`, which name tasks"
                    ),
                }));
            };
            if names.contains(&n) {
                return Err(TaskError::new(TaskErrorKind::Serialize {
                    message: format!("two tasks are named `{n}`; `edges` needs unique task names"),
                }));
            }
            names.push(n);
        }
    }
    let mut header = Vec::new();
    if let Some(n) = &dag.name {
        header.push(("name".to_owned(), Out::str(n)));
    }
    header.push((
        "edges".to_owned(),
        Out::Seq(
            dag.edges()
                .iter()
                .map(|&(a, b)| Out::Seq(vec![Out::str(names[a]), Out::str(names[b])]))
                .collect(),
        ),
    ));
    let mut docs = vec![Out::Map(header)];
    docs.extend(tasks.iter().map(|t| task_out(t, secrets)));
    to_yaml_multi(&docs)
}

/// Task's serde form is the normalised SkyPilot YAML mapping (secrets included: this is the
/// machine form; [`Task::to_yaml_string`] is the redacted display form).
impl Serialize for Task {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        task_out(self, Secrets::Keep).serialize(s)
    }
}

/// Reads the SkyPilot YAML mapping from any self-describing format, with the loader's
/// validation (no catalog checks). Errors carry the field path; YAML positions are only
/// known through [`Task::from_yaml_str`].
impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let node = PlainNode::deserialize(d)?.0;
        task_from_node(&LoadCtx::default(), &node).map_err(serde::de::Error::custom)
    }
}
