//! Errors from loading, validating and serialising task YAML.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::node::{Loc, Node};

/// What is wrong with a task YAML (the *what*; [`TaskError`] adds the *where*).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TaskErrorKind {
    /// The text is not valid YAML.
    #[error("invalid YAML: {message}")]
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// The bytes are not UTF-8.
    #[error("the input is not valid UTF-8: {message}")]
    NotUtf8 {
        /// Where the first invalid byte is.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A field that SkyPilot's schema (and sky's) does not have.
    #[error("unknown field `{field}`")]
    UnknownField {
        /// The field as written.
        field: String,
    },
    /// The same key twice in one mapping.
    #[error("duplicate key `{key}`")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A required field is missing.
    #[error("missing field `{field}`")]
    MissingField {
        /// The field.
        field: String,
    },
    /// A value of the wrong YAML type.
    #[error("expected {expected}, found {found}")]
    InvalidType {
        /// What the field accepts.
        expected: String,
        /// What was given (`a string`, `a list`, ...).
        found: String,
    },
    /// A value of the right type that is not valid for the field.
    #[error("{message}")]
    InvalidValue {
        /// What is wrong, and what is expected.
        message: String,
    },
    /// Fields that cannot be given together (e.g. `infra` and `cloud`, `any_of` and `ordered`).
    #[error("{message}")]
    Conflict {
        /// Which fields conflict.
        message: String,
    },
    /// Valid SkyPilot YAML that sky does not support (e.g. a Kubernetes `infra`).
    #[error("unsupported: {message}")]
    Unsupported {
        /// What is not supported, and what to do instead.
        message: String,
    },
    /// A cloud name that is not known.
    #[error("unknown cloud `{name}`")]
    UnknownCloud {
        /// The name as written.
        name: String,
    },
    /// An accelerator that no enabled catalog offers.
    #[error("unknown accelerator `{name}`: no enabled catalog offers it")]
    UnknownAccelerator {
        /// The name as written.
        name: String,
    },
    /// A region that the cloud's catalog does not have.
    #[error("{} has no region `{region}`", cloud.as_deref().unwrap_or("no enabled cloud"))]
    UnknownRegion {
        /// The cloud, when known.
        cloud: Option<String>,
        /// The region as written.
        region: String,
    },
    /// A zone that the cloud's catalog does not have (or not in the given region).
    #[error("{} has no zone `{zone}`", cloud.as_deref().unwrap_or("no enabled cloud"))]
    UnknownZone {
        /// The cloud, when known.
        cloud: Option<String>,
        /// The zone as written.
        zone: String,
    },
    /// A zone was given for a cloud without zones.
    #[error("{cloud} does not support zones")]
    ZonesUnsupported {
        /// The cloud's display name (`Azure`).
        cloud: String,
    },
    /// An edge names a task that does not exist.
    #[error("no task named `{name}`")]
    UnknownTask {
        /// The name as written.
        name: String,
    },
    /// Two tasks of a DAG with edges have the same name.
    #[error("duplicate task name `{name}`: task names must be unique when `edges` is given")]
    DuplicateTaskName {
        /// The name.
        name: String,
    },
    /// A task of a DAG with edges has no name.
    #[error("task {index} has no `name`; every task must be named when `edges` is given")]
    UnnamedTask {
        /// The task's index (0-based, in document order).
        index: usize,
    },
    /// The edges do not form a DAG.
    #[error("edge `{from}` -> `{to}` would make a cycle")]
    Cycle {
        /// Source task.
        from: String,
        /// Target task.
        to: String,
    },
    /// An edge from a task to itself.
    #[error("task `{name}` cannot depend on itself")]
    SelfLoop {
        /// The task.
        name: String,
    },
    /// [`crate::task::Task::from_yaml_str`] was given several documents.
    #[error(
        "expected one task document, found {count}; load multi-document YAML with Dag::from_yaml_str"
    )]
    MultipleDocuments {
        /// Number of documents.
        count: usize,
    },
    /// The value cannot be written as task YAML.
    #[error("cannot serialise: {message}")]
    Serialize {
        /// Why.
        message: String,
    },
}

/// A task YAML error: what is wrong ([`TaskErrorKind`]), the field path
/// (`resources.any_of[1].accelerators`), the YAML line and column when known, and a
/// "did you mean" suggestion when one exists.
///
/// `Display` renders all of it on one line, e.g.
/// `task.yaml:4:5: resources.acelerators: unknown field `acelerators`; did you mean `accelerators`?`
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct TaskError(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    kind: TaskErrorKind,
    path: String,
    line: Option<u64>,
    column: Option<u64>,
    suggestion: Option<String>,
    file: Option<PathBuf>,
    task: Option<String>,
}

impl TaskError {
    /// An error of `kind` with no position.
    pub fn new(kind: TaskErrorKind) -> Self {
        TaskError(Box::new(Inner {
            kind,
            path: String::new(),
            line: None,
            column: None,
            suggestion: None,
            file: None,
            task: None,
        }))
    }

    /// An error at a field path and node.
    pub(crate) fn at(kind: TaskErrorKind, path: &FieldPath, node: &Node) -> Self {
        Self::new(kind).with_path(path).with_loc(node.loc)
    }

    pub(crate) fn with_loc(mut self, loc: Loc) -> Self {
        if loc.is_known() {
            self.0.line = Some(loc.line);
            self.0.column = Some(loc.column);
        }
        self
    }

    pub(crate) fn with_path(mut self, path: &FieldPath) -> Self {
        self.0.path = path.as_str().to_owned();
        self
    }

    /// Adds a "did you mean" suggestion.
    pub(crate) fn with_suggestion(mut self, suggestion: Option<String>) -> Self {
        self.0.suggestion = suggestion;
        self
    }

    /// Records the file the YAML came from (shown before the line number).
    pub(crate) fn with_file(mut self, file: &Path) -> Self {
        if self.0.file.is_none() {
            self.0.file = Some(file.to_owned());
        }
        self
    }

    /// Records which task of a DAG the error is about, for errors without a line.
    pub(crate) fn with_task(mut self, task: String) -> Self {
        self.0.task = Some(task);
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &TaskErrorKind {
        &self.0.kind
    }

    /// The field path, e.g. `resources.any_of[1].accelerators`; empty for errors about the
    /// whole document.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// The 1-based YAML line, when known.
    pub fn line(&self) -> Option<u64> {
        self.0.line
    }

    /// The 1-based YAML column, when known.
    pub fn column(&self) -> Option<u64> {
        self.0.column
    }

    /// A near name the user may have meant (a field, cloud, accelerator, region, zone or
    /// task name).
    pub fn suggestion(&self) -> Option<&str> {
        self.0.suggestion.as_deref()
    }

    /// The file the YAML was read from, when loaded from a file.
    pub fn file(&self) -> Option<&Path> {
        self.0.file.as_deref()
    }

    fn render(&self) -> String {
        let mut out = String::new();
        match (&self.0.file, self.0.line) {
            (Some(f), Some(l)) => out.push_str(&format!(
                "{}:{l}:{}: ",
                f.display(),
                self.0.column.unwrap_or(1)
            )),
            (Some(f), None) => out.push_str(&format!("{}: ", f.display())),
            (None, Some(l)) => out.push_str(&format!(
                "line {l}, column {}: ",
                self.0.column.unwrap_or(1)
            )),
            (None, None) => {}
        }
        if let Some(t) = &self.0.task {
            out.push_str(&format!("{t}: "));
        }
        if !self.0.path.is_empty() {
            out.push_str(&self.0.path);
            out.push_str(": ");
        }
        out.push_str(&self.0.kind.to_string());
        if let Some(s) = &self.0.suggestion {
            out.push_str(&format!("; did you mean `{s}`?"));
        }
        out
    }
}

/// A field path being built while walking the YAML tree: `resources`, `resources.any_of[1]`,
/// `file_mounts["/data"].mode`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    pub(crate) fn root() -> Self {
        FieldPath(String::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let simple = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let mut s = self.0.clone();
        if simple {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(key);
        } else {
            s.push_str(&format!("[{key:?}]"));
        }
        FieldPath(s)
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{i}]", self.0))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_selectors() {
        let p = FieldPath::root().key("resources").key("any_of").index(1);
        assert_eq!(
            p.key("accelerators").as_str(),
            "resources.any_of[1].accelerators"
        );
        assert_eq!(
            FieldPath::root().key("file_mounts").key("/data").as_str(),
            "file_mounts[\"/data\"]"
        );
    }

    #[test]
    fn display_has_location_path_and_suggestion() {
        let e = TaskError::new(TaskErrorKind::UnknownField {
            field: "resource".into(),
        })
        .with_path(&FieldPath::root().key("resource"))
        .with_loc(Loc { line: 3, column: 1 })
        .with_suggestion(Some("resources".into()));
        assert_eq!(
            e.to_string(),
            "line 3, column 1: resource: unknown field `resource`; did you mean `resources`?"
        );
        let e = e.with_file(Path::new("t.yaml"));
        assert!(e.to_string().starts_with("t.yaml:3:1: resource:"));
    }
}
