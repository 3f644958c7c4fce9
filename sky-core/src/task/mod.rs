//! Tasks: what to run, where, and on how many nodes.
//!
//! A [`Task`] mirrors one document of SkyPilot's task YAML. Load one with
//! [`Task::from_yaml_str`], or build one in Rust with [`Task::new`] and the `with_*` methods.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resources::ResourceSet;

/// A secret value. Its `Debug` and `Display` print `<redacted>`; read it with
/// [`Secret::expose`] only where it is handed to the task's process.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The task's working directory, synced to `~/sky_workdir` on every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workdir {
    /// A local directory (relative paths resolve against the caller's working directory).
    Path(PathBuf),
    /// A git repository to clone.
    Git {
        /// The repository URL.
        url: String,
        /// Branch, tag or commit; `None` for the default branch.
        #[serde(rename = "ref")]
        git_ref: Option<String>,
    },
}

/// A storage object mount (`file_mounts: {/data: {name: ..., source: ..., mode: MOUNT}}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageMount {
    /// Bucket name.
    pub name: Option<String>,
    /// Local path or cloud URI to upload from.
    pub source: Option<String>,
    /// Store kind (`s3`, `gcs`, `azure`, `r2`, ... or `volume`).
    pub store: Option<String>,
    /// Keep the bucket after teardown (default true).
    pub persistent: Option<bool>,
    /// `MOUNT`, `COPY` or `MOUNT_CACHED` (default `MOUNT`).
    pub mode: Option<String>,
    /// Other keys (e.g. a volume's `config`), round-tripped.
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The source of one `file_mounts` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileMount {
    /// A local file or directory, rsynced to every node.
    Local(String),
    /// A cloud URI (`s3://`, `gs://`, `https://<account>.blob.core.windows.net/`, ...), copied.
    CloudUri(String),
    /// A storage object or volume.
    Storage(StorageMount),
}

/// A data set a task reads or writes, with its estimated size (`inputs:` / `outputs:`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// Where the data lives (`s3://bucket/path`, `gs://...`).
    pub uri: String,
    /// Estimated size in GB; drives the optimizer's egress model.
    pub size_gb: f64,
}

/// One task: setup and run commands, resource requirements, and data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Task {
    /// Display name; DAG edges refer to tasks by name.
    pub name: Option<String>,
    /// Working directory to sync.
    pub workdir: Option<Workdir>,
    /// Number of nodes, head included (default 1).
    pub num_nodes: u32,
    /// Per-node resource alternatives.
    pub resources: ResourceSet,
    /// Environment variables; a `None` value must be supplied by the caller.
    pub envs: BTreeMap<String, Option<String>>,
    /// Secret environment variables; never logged or stored in plain text.
    pub secrets: BTreeMap<String, Secret>,
    /// Remote path → source.
    pub file_mounts: BTreeMap<String, FileMount>,
    /// Runs on every node on launch, before `run`.
    pub setup: Option<String>,
    /// Runs on every node of the task.
    pub run: Option<String>,
    /// Input data (for the egress model).
    pub inputs: Option<DataSpec>,
    /// Output data (for the egress model of edges leaving this task).
    pub outputs: Option<DataSpec>,
    /// Per-task overrides of sky's config, round-tripped.
    pub config: Option<serde_json::Value>,
    /// SkyPilot's `event_callback`, accepted and round-tripped.
    pub event_callback: Option<String>,
    /// sky's extension: the estimated runtime, used by the optimizer (default 1 hour).
    pub estimated_runtime: Option<Duration>,
    /// Fields SkyPilot accepts that sky keeps without acting on them (`service`, `pool`).
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Default for Task {
    fn default() -> Self {
        Task {
            name: None,
            workdir: None,
            num_nodes: 1,
            resources: ResourceSet::default(),
            envs: BTreeMap::new(),
            secrets: BTreeMap::new(),
            file_mounts: BTreeMap::new(),
            setup: None,
            run: None,
            inputs: None,
            outputs: None,
            config: None,
            event_callback: None,
            estimated_runtime: None,
            extra: BTreeMap::new(),
        }
    }
}

impl Task {
    /// A one-node task with no commands and no requirements.
    pub fn new() -> Self {
        Self::default()
    }
}
