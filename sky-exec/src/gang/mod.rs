//! Gang execution: a task's `setup` and `run` on every node of a cluster, as one job.
//!
//! # Layout on each node
//! Rank `r` of job `j` keeps its files in `~/.sky/jobs/<j>/<phase>/`, where `<phase>` is
//! `setup` or `run`:
//!
//! ```text
//! ~/.sky/jobs/7/run/rank-1.sh          the run script (no secret values)
//! ~/.sky/jobs/7/run/rank-1.wrapper.sh  sky's wrapper (process group leader)
//! ~/.sky/jobs/7/run/rank-1.pid         "<pid> <start time>"
//! ~/.sky/jobs/7/run/rank-1.log         stdout + stderr, secrets redacted
//! ~/.sky/jobs/7/run/rank-1.exit        exit code, once finished
//! ```
//!
//! File names carry the rank, so nodes that share a home directory (NFS homes, several
//! network namespaces on one machine) do not overwrite each other. Because the state is in
//! these files, a [`GangJob`] is cheap to rebuild: after a broker restart,
//! `GangJob::new(job_id, nodes)` with fresh runners reads the same status and logs.
//!
//! # Environment
//! [`JobSpec::node_env`] computes, per node, the task's `envs`, then SkyPilot's variables
//! (which win over task envs of the same name), then the task's secrets:
//!
//! | variable | phase | value |
//! |---|---|---|
//! | `SKYPILOT_NODE_RANK` | run | the node's rank (0 = head) |
//! | `SKYPILOT_NODE_IPS` | run | every node's IP, newline-separated, in rank order |
//! | `SKYPILOT_SETUP_NODE_RANK` | setup | the node's rank |
//! | `SKYPILOT_SETUP_NODE_IPS` | setup | as `SKYPILOT_NODE_IPS` |
//! | `SKYPILOT_NUM_NODES` | both | the number of nodes of the job |
//! | `SKYPILOT_NUM_GPUS_PER_NODE` | both | accelerator count per node, rounded up (0 without) |
//! | `SKYPILOT_TASK_ID` | both | `sky-<timestamp>_<cluster>_<job id>` |
//! | `SKYPILOT_CLUSTER_INFO` | both | JSON `{"cloud", "cluster_name", "region", "zone"}` |

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use sky_core::task::Task;

use crate::error::{ExecError, Result};
use crate::runner::{CommandRunner, DEFAULT_KILL_GRACE, DetachedSpec, ProcessRef, RemoteCommand};

mod spec;
mod status;
mod sync;

pub use spec::{ClusterMeta, JobSpec, gpus_per_node, run_timestamp, task_id};
pub use status::{GangState, GangStatus, NodeStatus};
use sync::SyncPlan;

/// Where the workdir lands on every node.
pub const REMOTE_WORKDIR: &str = "~/sky_workdir";

/// How long to wait before looking again at something that has not changed for `quiet`:
/// a tenth of it, between 20 ms and 500 ms.
///
/// A job that ends is noticed within about 10% of how long it ran (and within 500 ms however
/// long), at the cost of a few polls a second while it is young; doubling intervals instead
/// would notice a 0.3 s job up to 0.3 s late.
///
/// ```
/// use std::time::Duration;
/// use sky_exec::gang::poll_interval;
/// assert_eq!(poll_interval(Duration::ZERO), Duration::from_millis(20));
/// assert_eq!(poll_interval(Duration::from_secs(1)), Duration::from_millis(100));
/// assert_eq!(poll_interval(Duration::from_secs(60)), Duration::from_millis(500));
/// ```
pub fn poll_interval(quiet: Duration) -> Duration {
    (quiet / 10).clamp(Duration::from_millis(20), Duration::from_millis(500))
}

/// One node of a gang: its rank, the IP other nodes see, and how to reach it.
#[derive(Clone, Debug)]
pub struct GangNode {
    /// Rank: 0 is the head.
    pub rank: u32,
    /// The IP listed in `SKYPILOT_NODE_IPS`.
    pub ip: String,
    /// The node's runner.
    pub runner: Arc<dyn CommandRunner>,
}

impl GangNode {
    /// A node whose IP is the runner's [`CommandRunner::node_ip`].
    pub fn new(rank: u32, runner: Arc<dyn CommandRunner>) -> Self {
        GangNode {
            rank,
            ip: runner.node_ip().to_string(),
            runner,
        }
    }

    /// Why this node could not be reached (the connect error, naming its rank), or `None`
    /// for a node that answered ([`CommandRunner::unreachable`]).
    pub fn unreachable(&self) -> Option<ExecError> {
        self.runner
            .unreachable()
            .map(|e| e.on_node(self.rank, &self.ip))
    }

    /// Overrides the IP (e.g. the private IP from the provisioner's instance info).
    pub fn with_ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = ip.into();
        self
    }
}

/// The two commands of a task, run one after the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The task's `setup`.
    Setup,
    /// The task's `run`.
    Run,
}

impl Phase {
    /// `setup` or `run` (the directory name in the job layout).
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Run => "run",
        }
    }
}

/// A job on a set of nodes: starts, observes and cancels its phases on all of them.
///
/// A `GangJob` holds no state besides the job id and the nodes: everything else is read from
/// the job files on the nodes (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct GangJob {
    job_id: u64,
    nodes: Vec<GangNode>,
    kill_grace: Duration,
}

/// Checks the workdir and file mounts of `task` without copying anything, as
/// [`GangJob::sync_task_files`] would before its first copy: local sources must exist, the
/// workdir must be a directory, and cloud URIs and storage mounts are refused
/// ([`ExecError::Unsupported`]) until sky can copy them.
pub fn check_task_files(task: &Task) -> Result<()> {
    SyncPlan::for_task(task).map(|_| ())
}

impl GangJob {
    /// Job `job_id` on `nodes`, whose ranks must be exactly `0..nodes.len()` (any order).
    pub fn new(job_id: u64, mut nodes: Vec<GangNode>) -> Result<Self> {
        nodes.sort_by_key(|n| n.rank);
        if nodes.is_empty() {
            return Err(ExecError::InvalidArgument(
                "a job needs at least one node".to_string(),
            ));
        }
        if let Some((i, n)) = nodes
            .iter()
            .enumerate()
            .find(|(i, n)| u64::from(n.rank) != *i as u64)
        {
            return Err(ExecError::InvalidArgument(format!(
                "node ranks must be 0..{} without gaps or duplicates; found rank {} at position {i}",
                nodes.len(),
                n.rank
            )));
        }
        Ok(GangJob {
            job_id,
            nodes,
            kill_grace: DEFAULT_KILL_GRACE,
        })
    }

    /// Job `job_id` for `task` on the first `task.num_nodes` nodes (by rank) of a cluster.
    pub fn for_task(job_id: u64, task: &Task, mut cluster_nodes: Vec<GangNode>) -> Result<Self> {
        let want = task.num_nodes.max(1) as usize;
        if cluster_nodes.len() < want {
            return Err(ExecError::InvalidArgument(format!(
                "the task needs {want} nodes but the cluster has {}",
                cluster_nodes.len()
            )));
        }
        cluster_nodes.sort_by_key(|n| n.rank);
        cluster_nodes.truncate(want);
        Self::new(job_id, cluster_nodes)
    }

    /// Sets the grace period between SIGTERM and SIGKILL for [`GangJob::cancel`].
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// The job id.
    pub fn job_id(&self) -> u64 {
        self.job_id
    }

    /// The nodes, in rank order.
    pub fn nodes(&self) -> &[GangNode] {
        &self.nodes
    }

    /// Every node's IP, in rank order.
    pub fn ips(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.ip.clone()).collect()
    }

    /// The job's directory on every node: `~/.sky/jobs/<job id>`.
    pub fn job_dir(job_id: u64) -> String {
        format!("~/.sky/jobs/{job_id}")
    }

    /// The detached process of `phase` on the node of `rank`.
    pub fn process(&self, phase: Phase, rank: u32) -> ProcessRef {
        ProcessRef::trusted(
            format!("{}/{}", Self::job_dir(self.job_id), phase.as_str()),
            format!("rank-{rank}"),
        )
    }

    async fn each<'a, T, F, Fut>(&'a self, f: F) -> Vec<(&'a GangNode, Result<T>)>
    where
        F: Fn(&'a GangNode) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        join_all(self.nodes.iter().map(|n| {
            let fut = f(n);
            async move { (n, fut.await) }
        }))
        .await
    }

    fn first_error<T>(results: Vec<(&GangNode, Result<T>)>) -> Result<Vec<(u32, T)>> {
        let mut ok = Vec::new();
        let mut err = None;
        for (n, r) in results {
            match r {
                Ok(v) => ok.push((n.rank, v)),
                Err(e) if err.is_none() => err = Some(e.on_node(n.rank, &n.ip)),
                Err(_) => {}
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(ok),
        }
    }

    /// Syncs the task's workdir to [`REMOTE_WORKDIR`] and its local file mounts to their
    /// targets, on every node (nodes in parallel).
    ///
    /// The workdir is mirrored (`--delete`), skipping what `.skyignore` lists or, without
    /// one, what `.gitignore` files list. Cloud-URI and storage mounts, and git workdirs, are
    /// [`ExecError::Unsupported`]; that is checked before anything is copied.
    pub async fn sync_task_files(&self, task: &Task) -> Result<()> {
        let plan = SyncPlan::for_task(task)?;
        for (local, remote, opts) in &plan.items {
            let results = self.each(|n| n.runner.sync_up(local, remote, opts)).await;
            Self::first_error(results)?;
        }
        Ok(())
    }

    /// Starts `phase` detached on every node with each node's environment.
    ///
    /// Returns `false` (and starts nothing) when the spec has no script for the phase. Gang
    /// semantics: if any node fails to start, the nodes that did start are killed and the
    /// first failure is returned.
    pub async fn start(&self, phase: Phase, spec: &JobSpec) -> Result<bool> {
        let Some(script) = spec.script(phase) else {
            return Ok(false);
        };
        let ips = self.ips();
        let specs: Vec<DetachedSpec> = self
            .nodes
            .iter()
            .map(|n| DetachedSpec {
                process: self.process(phase, n.rank),
                command: RemoteCommand {
                    script: script.to_string(),
                    env: spec.node_env(phase, n.rank, &ips),
                    cwd: spec.cwd.clone(),
                },
            })
            .collect();
        let results = self
            .each(|n| n.runner.spawn_detached(&specs[n.rank as usize]))
            .await;
        let any_failed = results.iter().any(|(_, r)| r.is_err());
        if any_failed {
            let started: Vec<&GangNode> = results
                .iter()
                .filter(|(_, r)| r.is_ok())
                .map(|(n, _)| *n)
                .collect();
            join_all(started.iter().map(|n| {
                let p = self.process(phase, n.rank);
                async move {
                    if let Err(e) = n.runner.kill(&p, self.kill_grace).await {
                        tracing::warn!(rank = n.rank, error = %e, "killing a started node after a failed gang start");
                    }
                }
            }))
            .await;
        }
        Self::first_error(results)?;
        tracing::debug!(
            job = self.job_id,
            phase = phase.as_str(),
            nodes = self.nodes.len(),
            "started"
        );
        Ok(true)
    }

    /// Reads every node's status of `phase`.
    pub async fn status(&self, phase: Phase) -> Result<GangStatus> {
        let results = self
            .each(|n| {
                let p = self.process(phase, n.rank);
                async move { n.runner.process_status(&p).await }
            })
            .await;
        let nodes = Self::first_error(results)?
            .into_iter()
            .map(|(rank, status)| NodeStatus { rank, status })
            .collect();
        Ok(GangStatus::new(nodes))
    }

    /// Polls [`GangJob::status`] until the phase is no longer running, at most `timeout`.
    ///
    /// Gang semantics: when a node failed or was lost while others still run, the others are
    /// cancelled; the returned status is the one that ended the wait (with the failure).
    pub async fn wait(&self, phase: Phase, timeout: Duration) -> Result<GangStatus> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            let status = self.status(phase).await?;
            if status.state.is_finished() {
                let stragglers = status.nodes.iter().any(|n| n.status.is_running());
                if stragglers {
                    self.cancel(phase).await?;
                }
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(ExecError::Timeout {
                    what: format!("job {} ({})", self.job_id, phase.as_str()),
                    after: timeout,
                });
            }
            let interval = poll_interval(start.elapsed());
            tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }

    /// Kills `phase`'s process group on every node (SIGTERM, then SIGKILL after the grace
    /// period) and returns the statuses afterwards. Every node is attempted; the first
    /// failure is returned after all have been tried.
    pub async fn cancel(&self, phase: Phase) -> Result<GangStatus> {
        let results = self
            .each(|n| {
                let p = self.process(phase, n.rank);
                async move { n.runner.kill(&p, self.kill_grace).await }
            })
            .await;
        let nodes = Self::first_error(results)?
            .into_iter()
            .map(|(rank, status)| NodeStatus { rank, status })
            .collect();
        Ok(GangStatus::new(nodes))
    }

    /// Kills `phase` on every node that answers, as [`GangJob::cancel`] does, without
    /// stopping at a node that does not: returns the status of the nodes that answered and
    /// the error of each one that did not (naming its rank), so that a dead node never keeps
    /// the live ranks running.
    pub async fn cancel_reachable(&self, phase: Phase) -> (GangStatus, Vec<ExecError>) {
        let results = self
            .each(|n| {
                let p = self.process(phase, n.rank);
                async move { n.runner.kill(&p, self.kill_grace).await }
            })
            .await;
        let mut nodes = Vec::new();
        let mut errors = Vec::new();
        for (n, r) in results {
            match r {
                Ok(status) => nodes.push(NodeStatus {
                    rank: n.rank,
                    status,
                }),
                Err(e) => errors.push(e.on_node(n.rank, &n.ip)),
            }
        }
        (GangStatus::new(nodes), errors)
    }

    /// The live pids of `phase` on every node, by rank.
    pub async fn pids(&self, phase: Phase) -> Result<BTreeMap<u32, Vec<u32>>> {
        let results = self
            .each(|n| {
                let p = self.process(phase, n.rank);
                async move { n.runner.process_pids(&p).await }
            })
            .await;
        Ok(Self::first_error(results)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ranks_validated() {
        let r: Arc<dyn CommandRunner> =
            Arc::new(crate::LocalRunner::new(std::env::temp_dir()).unwrap());
        let nodes = vec![GangNode::new(1, r.clone()), GangNode::new(0, r.clone())];
        let job = GangJob::new(3, nodes).unwrap();
        assert_eq!(job.nodes()[0].rank, 0);
        assert_eq!(
            job.process(Phase::Run, 1).log_path(),
            "~/.sky/jobs/3/run/rank-1.log"
        );
        assert!(GangJob::new(3, vec![GangNode::new(1, r.clone())]).is_err());
        assert!(GangJob::new(3, vec![]).is_err());
        let mut task = Task::new();
        task.num_nodes = 2;
        assert!(GangJob::for_task(1, &task, vec![GangNode::new(0, r)]).is_err());
    }
}
