//! Tasks: what to run, where, and on how many nodes — and the task YAML format.
//!
//! A [`Task`] mirrors one document of SkyPilot's task YAML; a [`Dag`] is a multi-document
//! YAML. Load them with [`Task::from_yaml_str`] / [`Dag::from_yaml_str`] (or the `_file` and
//! `_slice` variants, or a [`TaskLoader`] that also checks names against catalogs), or build
//! them in Rust with [`Task::new`] and the `with_*` methods. [`Task::to_yaml_string`] writes
//! the normalised form, which reads back to an equal value.
//!
//! ```
//! use sky_core::resources::Resources;
//! use sky_core::task::Task;
//!
//! let yaml = "
//! name: train
//! resources:
//!   accelerators: {A100: 8, H100: 8}   # either: the optimizer picks the cheaper
//!   use_spot: true
//! run: python train.py
//! ";
//! let task = Task::from_yaml_str(yaml)?;
//! assert_eq!(task.resources.alternatives.len(), 2);
//!
//! let built = Task::new()
//!     .with_name("train")
//!     .with_run("python train.py")
//!     .with_resources(Resources::new().with_accelerators("V100:4")?.with_use_spot(true));
//! let again = Task::from_yaml_str(&built.to_yaml_string()?)?;
//! assert_eq!(again, built);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Task YAML
//!
//! sky reads SkyPilot's task YAML, field for field. Every field is optional; an empty
//! document is a task that runs nothing on one node. Unknown fields are errors, with a
//! did-you-mean suggestion, as in SkyPilot.
//!
//! ```yaml
//! name: train                      # display name; DAG edges refer to tasks by name
//! workdir: ~/src/project           # synced to ~/sky_workdir; or {url: https://..., ref: main}
//! num_nodes: 2                     # default 1, head included
//! resources:                       # per node; see "Resources" below
//!   infra: aws/us-east-1
//!   accelerators: V100:4
//! envs:                            # values are strings (numbers are stringified);
//!   DATA: my-bucket                #   null = must be supplied by the caller
//!   EPOCHS: 3
//! secrets:                         # like envs, never printed: to_yaml_string redacts them
//!   HF_TOKEN: hf_xxx
//! file_mounts:                     # remote path -> source; ${VAR}/$VAR from envs substituted
//!   /data: s3://${DATA}/train      # cloud URI (s3, gs, r2, cos, oci, nebius, cw, hf, Azure blob)
//!   ~/.netrc: ~/.netrc             # local file or directory
//!   /ckpt:                         # storage object
//!     name: my-ckpts
//!     store: gcs                   # s3 | gcs | azure | r2 | ibm | oci | nebius | coreweave | hf | volume
//!     mode: MOUNT                  # MOUNT | COPY | MOUNT_CACHED
//!     persistent: true
//! setup: pip install -r requirements.txt
//! run: python train.py --epochs $EPOCHS
//! inputs: {s3://my-bucket/train: 100}     # {uri: estimated GB}, one entry; egress model
//! outputs: {s3://my-bucket/model: 2}
//! config: {docker: {run_options: [--shm-size=1g]}}   # kept; see Task::notes for what a launch refuses
//! event_callback: echo done        # accepted and kept
//! service: {...}                   # SkyServe: checked against SkyPilot's service schema,
//!                                  #   kept in Task::extra (sky does not serve)
//! pool: {...}
//! estimated_runtime: 2h            # sky's extension, see below
//! ```
//!
//! Notes on the fields:
//! - `envs` keys must be valid variable names (`[A-Za-z_][A-Za-z0-9_]*`). As in SkyPilot,
//!   `${VAR}` and `$VAR` of envs with a value are substituted into `file_mounts` keys and
//!   values (and `workdir`) when the YAML is read; other `$` text is left alone. Secrets are
//!   not substituted (they would then be printed as part of the mounts).
//! - `secrets` in the map form become [`Secret`]s; a secret without a value (`KEY: null`,
//!   which SkyPilot fills from `--secret`) loads as `None` and must be filled in before
//!   launch, which refuses it otherwise. The list form of
//!   managed secret names (`secrets: [name1, name2]`), `managed_secrets` and `volumes` are
//!   accepted and kept in [`Task::extra`] unchanged.
//! - Booleans are YAML 1.2 (`true`/`false`); where a boolean is expected, PyYAML's `yes`,
//!   `no`, `on`, `off` are accepted too. Duplicate keys are errors.
//!
//! ## Resources
//!
//! ```yaml
//! resources:
//!   infra: gcp/us-central1/us-central1-a   # cloud[/region[/zone]]; `*` wildcards: `*/us-east-1`,
//!                                          # `*/*/us-east-1a`, `aws/*/us-east-1a`
//!   # cloud: gcp / region: ... / zone: ... # the older form; not together with `infra`
//!   instance_type: n1-standard-8
//!   cpus: 4+                     # 4 = exactly, 4+ = at least; numbers allowed
//!   memory: 32GB+                # GB by default; KB MB GB TB PB (binary); `4x` = 4 GB per vCPU
//!   accelerators: V100:4         # see below
//!   accelerator_args: {runtime_version: tpu-vm-base, tpu_vm: true}
//!   use_spot: true
//!   job_recovery: FAILOVER       # FAILOVER | EAGER_NEXT_REGION | none, or {strategy,
//!                                #   max_restarts_on_errors, recover_on_exit_codes: 1 or [1, 2]}
//!                                #   (`spot_recovery` is accepted as the old name)
//!   disk_size: 512               # whole GB, or `1TB` (floored to whole GB)
//!   disk_tier: high              # low | medium | high | ultra | best
//!   network_tier: best           # standard | best
//!   ports: [8080, 10052-10100]   # or one port / range; normalised: sorted, merged
//!   labels: {team: ml}
//!   image_id: docker:pytorch/pytorch:latest   # or {us-east-1: ami-1, us-west-2: ami-2}
//!   autostop: 30m                # true (5 min), false, minutes, <n><m|h|d|w>, or
//!                                #   {idle_minutes, down, wait_for, hook, hook_timeout}
//!   priority: 10                 # -1000..1000
//!   max_hourly_cost: 12.5        # USD per node-hour, > 0
//!   local_disk: nvme
//! ```
//!
//! `accelerators` takes every SkyPilot form:
//!
//! | YAML | meaning |
//! |---|---|
//! | `V100`, `V100:4`, `{V100: 4}` | one device kind and count per node |
//! | `A10G:0.5` | a fractional device |
//! | `{A100: 8, H100: 8}` (a mapping of several, or `!!set`) | any of them: the optimizer picks the cheapest |
//! | `[A100:8, H100:8]` (a list) | in order of preference: the first that can be placed |
//! | `80GB+`, `48GB:2`, `nvidia:80GB+:8` | any device with (at least) that much memory |
//!
//! Alternatives in general come from `any_of` (the optimizer chooses freely) or `ordered`
//! (in preference order). Fields outside them are defaults for every entry; `labels` are
//! merged. `any_of` and `ordered` cannot be nested or combined; several accelerators
//! cannot be combined with `ordered`, nor a list of accelerators with `any_of`.
//!
//! ```yaml
//! resources:
//!   use_spot: true
//!   any_of:
//!     - infra: aws
//!       accelerators: A100:8
//!     - infra: gcp
//!       accelerators: H100:8       # one accelerator per entry, as SkyPilot's schema says
//! ```
//!
//! Checks at load time: `instance_type` together with `accelerators` is allowed (the catalog
//! decides later whether they match); `infra` with `cloud`, `region` or `zone` is an error;
//! Azure with a zone is an error ("Azure does not support zones"); an `any_of`/`ordered`
//! entry names one accelerator (a string or a one-key mapping), as SkyPilot's schema says;
//! cloud names must be clouds sky knows (`aws`, `gcp`, `azure`, `fake`, `local`, `ssh`, one
//! registered with [`TaskLoader::with_cloud`] / a catalog) or a SkyPilot cloud
//! ([`CloudId::SKYPILOT_ONLY`](crate::CloudId::SKYPILOT_ONLY): `oci`, `lambda`, `k8s/...`, ...),
//! which loads as [`CloudId::Other`](crate::CloudId::Other); anything else is an unknown cloud
//! with a did-you-mean. With catalogs ([`TaskLoader::with_catalogs`] or [`Task::validate`]),
//! accelerator names are matched case-insensitively and canonicalised (`v100` → `V100`), and
//! regions and zones must exist, each with a did-you-mean.
//!
//! As in SkyPilot, a valid file may ask for what sky cannot give: an alternative no enabled
//! catalog offers (an accelerator such as `A100-40GB`, a cloud sky has no backend for) is an
//! infeasible candidate that the optimizer skips with its reason, and only a task none of whose
//! alternatives is feasible fails to place; fields sky does not implement (`image_id:
//! docker:...`, most `config:` keys, cloud-URI file mounts) are refused at launch, before
//! anything is provisioned. [`Task::notes`] lists all of these for a loaded task.
//!
//! ## DAGs: several documents
//!
//! A YAML with several documents (separated by `---`) is a chain: each task runs after the
//! one before it, as in SkyPilot. A first document with only `name` names the DAG:
//!
//! ```yaml
//! name: pipeline
//! ---
//! name: preprocess
//! run: python prep.py
//! ---
//! name: train
//! run: python train.py
//! ```
//!
//! **sky's extension, `edges`:** a first document with `edges` (and optionally `name`)
//! makes a general DAG. Edges are `[from_task, to_task]` pairs of task names; the names must
//! exist (misspellings get a did-you-mean) and be unique, and the edges must not form a
//! cycle. Without `edges` the documents form a chain.
//!
//! ```yaml
//! name: diamond
//! edges: [[prep, train_a], [prep, train_b], [train_a, eval], [train_b, eval]]
//! ---
//! name: prep
//! outputs: {s3://bucket/prep: 50}
//! ---
//! name: train_a
//! ---
//! name: train_b
//! ---
//! name: eval
//! ```
//!
//! **sky's extension, `estimated_runtime`:** a task may say how long it runs, for the
//! optimizer's time model (default one hour): seconds as a number (`5400`), or a duration
//! string of `<number><unit>` parts with units `s`, `m`, `h`, `d`, `w` (`90s`, `30m`, `2h`,
//! `1d`, `1h30m`).
//!
//! ## Errors
//!
//! Every rejection is a [`TaskError`]: a [`TaskErrorKind`], the field path, the line and
//! column, and a suggestion when one exists, e.g.
//!
//! ```text
//! line 3, column 3: resources.acelerators: unknown field `acelerators`; did you mean `accelerators`?
//! train.yaml:4:17: resources.infra: GCP has no region `us-centrl1`; did you mean `us-central1`?
//! ```
//!
//! No input makes the loader panic.
//!
//! ## The normalised form
//!
//! [`Task::to_yaml_string`] writes fields in SkyPilot's order and in one canonical spelling:
//! `infra` instead of `cloud`/`region`/`zone`, accelerators as `NAME:COUNT`, `cpus` and
//! `memory` as strings (`4+`, `32+`, in GB), merged port ranges, and alternatives as an
//! accelerator set/list when they differ only in accelerators, else as `any_of`/`ordered`.
//! Secrets are written as `<redacted>`; [`Task::to_yaml_string_with_secrets`] (and the serde
//! `Serialize` impl, the machine form) keep them, so that parse → serialise → parse gives an
//! equal value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::Catalogs;
use crate::dag::Dag;
use crate::resources::ResourceSet;

mod builder;
mod loader;
mod notes;
mod read;
mod service;
mod validate;
mod write;

pub use crate::yaml::error::{TaskError, TaskErrorKind};

/// The most nodes a task can ask for: more than any cloud gives one cluster, so a larger
/// `num_nodes` is a mistake, refused when the task is read.
pub const MAX_NUM_NODES: u32 = 10_000;
pub use indexmap::IndexMap;
pub use loader::TaskLoader;
pub use notes::{
    CONFIG_SECTIONS_KEPT, TaskNote, TaskNoteKind, is_container_image, refused_config_keys,
};

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
///
/// Its serde form is the normalised SkyPilot YAML mapping described in the
/// [module docs](self), secrets included (use [`Task::to_yaml_string`] for a redacted
/// display).
#[derive(Clone, Debug, PartialEq)]
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
    /// Environment variables, in the order they were written; a `None` value must be
    /// supplied by the caller.
    pub envs: IndexMap<String, Option<String>>,
    /// Secret environment variables, in the order they were written; never logged or stored
    /// in plain text. A `None` value (`KEY: null`) must be supplied by the caller before
    /// launch, as SkyPilot's `--secret KEY=VALUE` does.
    pub secrets: IndexMap<String, Option<Secret>>,
    /// Remote path → source, in the order they were written.
    pub file_mounts: IndexMap<String, FileMount>,
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
            envs: IndexMap::new(),
            secrets: IndexMap::new(),
            file_mounts: IndexMap::new(),
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

impl Task {
    /// Loads a task from single-document YAML (see the [module docs](self) for the format).
    /// Names of accelerators, regions and zones are not checked against catalogs; use
    /// [`TaskLoader::with_catalogs`] or [`Task::validate`] for that.
    pub fn from_yaml_str(yaml: &str) -> Result<Task, TaskError> {
        TaskLoader::new().load_str(yaml)
    }

    /// [`Task::from_yaml_str`] on bytes, which must be UTF-8.
    pub fn from_yaml_slice(yaml: &[u8]) -> Result<Task, TaskError> {
        TaskLoader::new().load_bytes(yaml)
    }

    /// [`Task::from_yaml_str`] on a file; errors name the file.
    pub fn from_yaml_file(path: impl AsRef<std::path::Path>) -> Result<Task, TaskError> {
        TaskLoader::new().load_file(path)
    }

    /// The task as normalised SkyPilot YAML, with secret values replaced by `<redacted>`
    /// (safe to log or show). [`Task::from_yaml_str`] reads it back to an equal task, except
    /// for the secrets.
    pub fn to_yaml_string(&self) -> Result<String, TaskError> {
        write::task_to_yaml(self, write::Secrets::Redact)
    }

    /// The task as normalised SkyPilot YAML, secrets included: `from_yaml_str` of this is
    /// equal to `self`.
    pub fn to_yaml_string_with_secrets(&self) -> Result<String, TaskError> {
        write::task_to_yaml(self, write::Secrets::Keep)
    }

    /// Checks names against the catalogs: accelerator names (case-insensitively), regions
    /// and zones (with suggestions), and clouds. Errors name the field path (e.g.
    /// `resources.any_of[1].accelerators`) but no line; load with
    /// [`TaskLoader::with_catalogs`] to get lines and canonicalised names.
    pub fn validate(&self, catalogs: &Catalogs) -> Result<(), TaskError> {
        validate::validate_task(self, catalogs)
    }

    /// What this valid task asks for that sky will skip, refuse at launch, or keep unused,
    /// checked against `catalogs` (the enabled clouds): alternatives no enabled catalog can
    /// offer (an unknown accelerator, with a did-you-mean; a cloud without a sky backend or
    /// not enabled), and fields a launch refuses (`image_id: docker:...`, unsupported
    /// `config:` keys, cloud-URI file mounts, envs and secrets without a value) or keeps
    /// unused (`config.kubernetes`, `service`).
    ///
    /// ```
    /// use sky_core::catalog::Catalogs;
    /// use sky_core::task::{Task, TaskNoteKind};
    ///
    /// let task = Task::from_yaml_str("resources:\n  infra: oci\n").unwrap();
    /// let notes = task.notes(&Catalogs::new());
    /// assert_eq!(notes[0].kind, TaskNoteKind::Infeasible);
    /// assert_eq!(notes[0].path, "resources.infra");
    /// ```
    pub fn notes(&self, catalogs: &Catalogs) -> Vec<TaskNote> {
        notes::task_notes(self, catalogs)
    }
}

/// The redacted YAML form ([`Task::to_yaml_string`]).
impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yaml = self.to_yaml_string().map_err(|_| fmt::Error)?;
        f.write_str(&yaml)
    }
}

impl Dag {
    /// Loads a DAG from (multi-document) task YAML: a chain of the documents, or a general
    /// DAG when the first document carries `edges` (see the [module docs](self)).
    pub fn from_yaml_str(yaml: &str) -> Result<Dag, TaskError> {
        TaskLoader::new().load_dag_str(yaml)
    }

    /// [`Dag::from_yaml_str`] on bytes, which must be UTF-8.
    pub fn from_yaml_slice(yaml: &[u8]) -> Result<Dag, TaskError> {
        TaskLoader::new().load_dag_bytes(yaml)
    }

    /// [`Dag::from_yaml_str`] on a file; errors name the file.
    pub fn from_yaml_file(path: impl AsRef<std::path::Path>) -> Result<Dag, TaskError> {
        TaskLoader::new().load_dag_file(path)
    }

    /// The DAG as multi-document YAML, secrets redacted. A chain is written as its documents
    /// (after a `name`-only header when needed for the DAG name); any other DAG gets an
    /// `edges` header, which needs every task named uniquely.
    pub fn to_yaml_string(&self) -> Result<String, TaskError> {
        write::dag_to_yaml(self, write::Secrets::Redact)
    }

    /// [`Dag::to_yaml_string`] with secret values: [`Dag::from_yaml_str`] of it is equal to
    /// `self`.
    pub fn to_yaml_string_with_secrets(&self) -> Result<String, TaskError> {
        write::dag_to_yaml(self, write::Secrets::Keep)
    }

    /// [`Task::notes`] for every task; each note names its task when there are several.
    pub fn notes(&self, catalogs: &Catalogs) -> Vec<TaskNote> {
        let many = self.len() > 1;
        let mut out = Vec::new();
        for (i, t) in self.tasks().iter().enumerate() {
            for mut n in t.notes(catalogs) {
                if many {
                    n.task = Some(match &t.name {
                        Some(name) => format!("task `{name}`"),
                        None => format!("task {i}"),
                    });
                }
                out.push(n);
            }
        }
        out
    }

    /// [`Task::validate`] for every task; errors name the task.
    pub fn validate(&self, catalogs: &Catalogs) -> Result<(), TaskError> {
        for (i, t) in self.tasks().iter().enumerate() {
            t.validate(catalogs).map_err(|e| {
                e.with_task(match &t.name {
                    Some(n) => format!("task `{n}`"),
                    None => format!("task {i}"),
                })
            })?;
        }
        Ok(())
    }
}
