//! Running tasks on clusters: each cluster's job queue.
//!
//! [`Broker::launch`](crate::Broker::launch) provisions a cluster, syncs the task's workdir
//! and file mounts to every node, and submits the task as a job whose `setup` runs first;
//! [`Broker::exec`](crate::Broker::exec) submits a job to an existing cluster without setup
//! (SkyPilot's semantics). Jobs are recorded in the state store's `jobs` table and run on the
//! nodes as detached processes (`sky_exec::GangJob`), so they outlive the broker.
//!
//! # Scheduling
//! FIFO with gang scheduling: a job that needs `k` nodes starts when `k` nodes of the cluster
//! run no other job, on the lowest free ranks; until then it is `PENDING`, and so is every job
//! submitted after it (no backfilling). Nothing runs in the background:
//! [`Broker::poll_jobs`](crate::Broker::poll_jobs) advances a cluster's queue (reads the
//! running jobs' status files on the nodes, records the ones that ended, starts pending ones)
//! and every job operation calls it. Transitions are conditional updates in SQLite, so several
//! brokers (processes) polling the same cluster never start a job twice.
//!
//! # Statuses
//! `PENDING` → `SETTING_UP` (jobs submitted by `launch` whose task has a `setup`) →
//! `RUNNING` → `SUCCEEDED` | `FAILED`; a failed setup ends in `FAILED_SETUP`, and
//! [`Broker::cancel`](crate::Broker::cancel) ends any unfinished job in `CANCELLED`. The exit
//! code of the failing node (lowest rank) is kept.
//!
//! # Restarts
//! A new broker over the same state directory reads the queue from the database and the
//! job's state from its files on the nodes (pid, exit code, log): it re-attaches to status,
//! logs and cancellation without anything kept in memory.
//!
//! # Secrets
//! Secret values never reach the database or the logs (logs are redacted on the node). A job
//! that has secrets keeps them, until its last phase has started, in memory and in a file
//! readable only by the login user on the cluster's head node
//! (`~/.sky/pending/<token>.env`, values hex-encoded), so that a broker in another process
//! can start it when it leaves the queue; the file is removed once the run has started or the
//! job ended. This is where SkyPilot keeps a queued job's environment too: on the cluster.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::state::ClusterRecord;

mod cancel;
mod nodes;
mod run;
mod secrets;
mod store;
mod watch;

/// A job's status, as SkyPilot's job queue shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Waiting for free nodes (FIFO).
    Pending,
    /// Running `setup` on its nodes.
    SettingUp,
    /// Running `run` on its nodes.
    Running,
    /// Every node's `run` exited 0.
    Succeeded,
    /// A node's `run` failed (or a node was lost).
    Failed,
    /// A node's `setup` failed.
    FailedSetup,
    /// Cancelled by the user (or by `down`/`stop`).
    Cancelled,
    /// Being cancelled: some of its ranks may still run, on nodes that did not answer when
    /// they were told to stop. It becomes `CANCELLED` once every rank is stopped (a later
    /// `cancel` or queue poll tries again), or when the cluster goes away.
    Cancelling,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 8] = [
        JobStatus::Pending,
        JobStatus::SettingUp,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::FailedSetup,
        JobStatus::Cancelled,
        JobStatus::Cancelling,
    ];

    /// `PENDING`, `SETTING_UP`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::SettingUp => "SETTING_UP",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::FailedSetup => "FAILED_SETUP",
            JobStatus::Cancelled => "CANCELLED",
            JobStatus::Cancelling => "CANCELLING",
        }
    }

    /// Parses [`JobStatus::as_str`]'s form.
    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Whether the job has ended (it will not change any more).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded
                | JobStatus::Failed
                | JobStatus::FailedSetup
                | JobStatus::Cancelled
        )
    }

    /// Whether the job occupies nodes (`SETTING_UP`, `RUNNING` or `CANCELLING`).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobStatus::SettingUp | JobStatus::Running | JobStatus::Cancelling
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row of the `jobs` table: one job of a cluster's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The cluster's name.
    pub cluster: String,
    /// The cluster incarnation the job belongs to.
    pub cluster_hash: String,
    /// The job id: 1, 2, ... per cluster incarnation.
    pub job_id: u64,
    /// The task's name.
    pub name: Option<String>,
    /// Status.
    pub status: JobStatus,
    /// Exit code of the failing node's phase: of the lowest rank among the nodes that had
    /// failed when sky looked (the others are then killed, so their codes never count); 0 on
    /// success; `None` while unfinished, or when no code exists (a lost node, a job cancelled
    /// while pending).
    pub exit_code: Option<i32>,
    /// Why the job ended as it did, when there is more to say than the exit code.
    pub message: Option<String>,
    /// Nodes the job needs.
    pub num_nodes: u32,
    /// The cluster node ranks it runs on, in job-rank order (job rank `i` runs on cluster
    /// node `node_ranks[i]`); empty while pending.
    pub node_ranks: Vec<u32>,
    /// SkyPilot's run timestamp, `sky-YYYY-MM-DD-HH-MM-SS-ffffff`.
    pub run_timestamp: String,
    /// `SKYPILOT_TASK_ID`.
    pub task_id: String,
    /// Whether the job runs the task's `setup` before `run` (jobs submitted by `launch`).
    pub has_setup: bool,
    /// Whether the task has a `run` command.
    pub has_run: bool,
    /// Unix seconds of submission.
    pub submitted_at: i64,
    /// Unix seconds when it left the queue.
    pub started_at: Option<i64>,
    /// Unix seconds when it ended.
    pub ended_at: Option<i64>,
}

/// What a job runs, as stored in the `payload` column (no secret values).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobPayload {
    pub(crate) setup: Option<String>,
    pub(crate) run: Option<String>,
    pub(crate) envs: BTreeMap<String, String>,
    /// The names of the task's secrets; their values are held as described in the module docs.
    pub(crate) secret_names: Vec<String>,
    /// Where the node-side secret file is (`~/.sky/pending/<token>.env` on the head node).
    pub(crate) secrets_token: Option<String>,
    pub(crate) cwd: Option<String>,
}

/// What [`Broker::launch`](crate::Broker::launch) returns: the cluster and the job it
/// submitted. The cluster's name, nodes and placement are read through
/// [`cluster`](Launched::cluster) (`launched.cluster.name`).
#[derive(Clone, Debug, PartialEq)]
pub struct Launched {
    /// The cluster, as recorded after provisioning.
    pub cluster: ClusterRecord,
    /// The job running the task's setup and run; `None` when the task has neither.
    pub job_id: Option<u64>,
}

pub use nodes::UnreachableNode;
pub use run::LOST_GRACE_SECONDS;
pub(crate) use secrets::SecretCache;
pub use watch::LogsOptions;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(JobStatus::parse("running"), None);
        assert!(JobStatus::FailedSetup.is_terminal());
        assert!(JobStatus::SettingUp.is_active());
        assert!(!JobStatus::Pending.is_active() && !JobStatus::Pending.is_terminal());
    }
}
