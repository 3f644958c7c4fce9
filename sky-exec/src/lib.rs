//! # sky-exec
//!
//! How sky runs work on nodes it has provisioned: run commands, start a task's `setup` and
//! `run` on every node as one gang job, follow its logs, cancel it, and copy the workdir and
//! file mounts there.
//!
//! - [`CommandRunner`]: the node interface (run, detached spawn/status/kill, log reads,
//!   rsync up, fetch), with [`LocalRunner`] (a directory on this machine plays a node) and
//!   [`SshRunner`] (one multiplexed OpenSSH master connection per node).
//! - [`gang`]: [`GangJob`] starts a phase on N nodes with SkyPilot's environment
//!   (`SKYPILOT_NODE_RANK`, `SKYPILOT_NODE_IPS`, ...), aggregates their statuses and cancels
//!   them together; [`JobSpec`] resolves a [`sky_core::Task`] into what each node runs.
//! - [`logs::LogFollower`]: `sky logs --follow` over every node, with rank prefixes.
//! - [`keys::SshKeyPair`]: sky's own ed25519 key pair.
//! - `testing` (feature `test-hosts`): network-namespace hosts running a real `sshd`, for
//!   multi-node tests.
//!
//! # Why a separate crate
//! Execution is separate from provisioning. A provisioner's job ends when the nodes are up
//! and reachable; from then on, any cluster — from any cloud, or an SSH node pool that was
//! never provisioned by sky at all — is run the same way, through a [`CommandRunner`] per
//! node. Keeping it apart means no cloud backend re-implements job launch, log following or
//! file sync, and the broker (`sky-runtime`) drives every cluster through one interface.
//!
//! # Jobs outlive the caller
//! A job phase runs on each node as a detached process (its own session and process group,
//! started with `setsid`) whose pid, combined log and exit code are files in a job directory
//! on the node (layout in [`gang`] and [`ProcessRef`]). Nothing about a running job lives
//! only in memory: a broker that restarts builds a new [`GangJob`] with new runners and reads
//! the same status and logs, or cancels the job.
//!
//! # Secrets
//! - Secret values reach a node only inside the script that runners send on the standard
//!   input of `bash -c 'eval "$(cat)"'`, as `export NAME='value'` lines. They are never on a
//!   command line (visible in `ps` on either machine), never in a file (the job's script
//!   file holds the task's command, not the values), and never logged by sky.
//! - Job logs are written through an `awk` filter on the node that reads the secret values
//!   from its environment and replaces them with `<redacted>` before anything reaches the log
//!   file (each line of a multi-line secret is also redacted on its own). Attached runs
//!   ([`CommandRunner::run`]) redact the streamed lines the same way on this side.
//! - The task's processes see the secrets in their environment, as SkyPilot's do.
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//! use sky_core::{CloudId, Task};
//! use sky_exec::{ClusterMeta, GangJob, GangNode, JobSpec, LocalRunner, Phase};
//!
//! # async fn demo() -> sky_exec::Result<()> {
//! let mut task = Task::new();
//! task.num_nodes = 2;
//! task.run = Some("echo rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES".into());
//! let nodes = (0..2)
//!     .map(|r| Ok(GangNode::new(r, Arc::new(LocalRunner::new(format!("/tmp/sky-node-{r}"))?))))
//!     .collect::<sky_exec::Result<Vec<_>>>()?;
//! let job = GangJob::for_task(1, &task, nodes)?;
//! let ts = sky_exec::gang::run_timestamp(SystemTime::now());
//! let spec = JobSpec::from_task(&task, 1, ClusterMeta::new("dev", CloudId::Local), &ts)?;
//! job.sync_task_files(&task).await?;
//! job.start(Phase::Run, &spec).await?;
//! let status = job.wait(Phase::Run, Duration::from_secs(60)).await?;
//! println!("{:?}", status.state);
//! # Ok(()) }
//! ```

pub mod connector;
pub mod error;
pub mod gang;
mod jobfs;
pub mod keys;
mod local;
pub mod logs;
mod procio;
pub mod redact;
pub mod runner;
mod shell;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod ssh;
pub mod ssh_failure;
#[cfg(feature = "test-hosts")]
pub mod testing;
mod unreachable;

pub use connector::{DirConnector, NodeConnector, SshConnector};
pub use error::{ExecError, Result};
pub use gang::{ClusterMeta, GangJob, GangNode, GangState, GangStatus, JobSpec, NodeStatus, Phase};
pub use keys::SshKeyPair;
pub use local::LocalRunner;
pub use logs::{LogFollower, LogLine};
pub use redact::Redactor;
pub use runner::{
    CollectSink, CommandRunner, DetachedSpec, ExecEnv, ExecOutput, FileChunk, OutputLine,
    OutputSink, ProcessRef, ProcessStatus, RemoteCommand, Stream, SyncFilter, SyncOptions,
};
pub use ssh::{KnownHostsPolicy, SshConfig, SshRunner};
pub use ssh_failure::ConnectFailure;
pub use unreachable::UnreachableRunner;
