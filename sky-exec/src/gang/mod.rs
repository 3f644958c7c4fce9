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
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use sky_core::CloudId;
use sky_core::resources::AcceleratorSpec;
use sky_core::task::{FileMount, Secret, Task, Workdir};

use crate::error::{ExecError, Result};
use crate::runner::{
    CommandRunner, DEFAULT_KILL_GRACE, DetachedSpec, ExecEnv, ProcessRef, ProcessStatus,
    RemoteCommand, SyncFilter, SyncOptions,
};

/// Where the workdir lands on every node.
pub const REMOTE_WORKDIR: &str = "~/sky_workdir";

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

/// What a job needs to know about its cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMeta {
    /// The cluster's name.
    pub name: String,
    /// Its cloud.
    pub cloud: CloudId,
    /// Its region.
    pub region: Option<String>,
    /// Its zone.
    pub zone: Option<String>,
    /// GPUs (accelerators) per node.
    pub gpus_per_node: u32,
}

impl ClusterMeta {
    /// A cluster without region, zone or accelerators.
    pub fn new(name: impl Into<String>, cloud: CloudId) -> Self {
        ClusterMeta {
            name: name.into(),
            cloud,
            region: None,
            zone: None,
            gpus_per_node: 0,
        }
    }

    /// Sets the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the zone.
    pub fn with_zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// Sets the GPUs per node from the launched accelerators (count rounded up).
    pub fn with_accelerators(mut self, acc: Option<&AcceleratorSpec>) -> Self {
        self.gpus_per_node = gpus_per_node(acc);
        self
    }

    /// `SKYPILOT_CLUSTER_INFO`: `{"cloud", "cluster_name", "region", "zone"}`, with SkyPilot's
    /// cloud names (`AWS`, `GCP`, `Azure`; other clouds by their sky name).
    pub fn info_json(&self) -> String {
        let cloud = match self.cloud {
            CloudId::Aws => "AWS",
            CloudId::Gcp => "GCP",
            CloudId::Azure => "Azure",
            ref other => other.as_str(),
        };
        serde_json::json!({
            "cluster_name": self.name,
            "cloud": cloud,
            "region": self.region,
            "zone": self.zone,
        })
        .to_string()
    }
}

/// `SKYPILOT_NUM_GPUS_PER_NODE`: the accelerator count rounded up, 0 without accelerators.
pub fn gpus_per_node(acc: Option<&AcceleratorSpec>) -> u32 {
    acc.map_or(0, |a| {
        let c = a.count();
        if c.is_finite() && c > 0.0 {
            c.ceil().min(f64::from(u32::MAX)) as u32
        } else {
            0
        }
    })
}

/// SkyPilot's run timestamp, `sky-YYYY-MM-DD-HH-MM-SS-ffffff` (UTC).
pub fn run_timestamp(at: SystemTime) -> String {
    let rfc = humantime::format_rfc3339_micros(at).to_string();
    let digits: String = rfc
        .trim_end_matches('Z')
        .chars()
        .map(|c| if c.is_ascii_digit() { c } else { '-' })
        .collect();
    format!("sky-{digits}")
}

/// `SKYPILOT_TASK_ID`: `<run timestamp>_<cluster>_<job id>`.
pub fn task_id(run_timestamp: &str, cluster: &str, job_id: u64) -> String {
    format!("{run_timestamp}_{cluster}_{job_id}")
}

/// Everything needed to start a job's phases on its nodes, resolved from a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec {
    /// `SKYPILOT_TASK_ID`.
    pub task_id: String,
    /// The cluster.
    pub cluster: ClusterMeta,
    /// Task envs, all with values.
    pub envs: BTreeMap<String, String>,
    /// Task secrets.
    pub secrets: BTreeMap<String, Secret>,
    /// The setup script.
    pub setup: Option<String>,
    /// The run script.
    pub run: Option<String>,
    /// Where the scripts run: [`REMOTE_WORKDIR`] when the task has a workdir, else the home.
    pub cwd: Option<String>,
}

impl JobSpec {
    /// The spec of `task` as job `job_id` on `cluster`, started at `run_timestamp` (see
    /// [`run_timestamp`]).
    ///
    /// Fails with [`ExecError::MissingEnv`] for an env declared without a value and
    /// [`ExecError::InvalidEnv`] for a name a shell cannot export.
    pub fn from_task(
        task: &Task,
        job_id: u64,
        cluster: ClusterMeta,
        run_timestamp: &str,
    ) -> Result<Self> {
        let mut envs = BTreeMap::new();
        for (k, v) in &task.envs {
            let v = v.clone().ok_or_else(|| ExecError::MissingEnv(k.clone()))?;
            if !crate::shell::valid_env_name(k) {
                return Err(ExecError::InvalidEnv(k.clone()));
            }
            envs.insert(k.clone(), v);
        }
        if let Some(bad) = task
            .secrets
            .keys()
            .find(|k| !crate::shell::valid_env_name(k))
        {
            return Err(ExecError::InvalidEnv(bad.clone()));
        }
        Ok(JobSpec {
            task_id: task_id(run_timestamp, &cluster.name, job_id),
            cluster,
            envs,
            secrets: task.secrets.clone(),
            setup: task.setup.clone(),
            run: task.run.clone(),
            cwd: task.workdir.as_ref().map(|_| REMOTE_WORKDIR.to_string()),
        })
    }

    /// The environment of `phase` on the node of `rank`, given every node's IP in rank order.
    pub fn node_env(&self, phase: Phase, rank: u32, ips: &[String]) -> ExecEnv {
        let mut vars = self.envs.clone();
        let ip_list = ips.join("\n");
        let (rank_var, ips_var) = match phase {
            Phase::Setup => ("SKYPILOT_SETUP_NODE_RANK", "SKYPILOT_SETUP_NODE_IPS"),
            Phase::Run => ("SKYPILOT_NODE_RANK", "SKYPILOT_NODE_IPS"),
        };
        vars.insert(rank_var.to_string(), rank.to_string());
        vars.insert(ips_var.to_string(), ip_list);
        vars.insert("SKYPILOT_NUM_NODES".to_string(), ips.len().to_string());
        vars.insert(
            "SKYPILOT_NUM_GPUS_PER_NODE".to_string(),
            self.cluster.gpus_per_node.to_string(),
        );
        vars.insert("SKYPILOT_TASK_ID".to_string(), self.task_id.clone());
        vars.insert(
            "SKYPILOT_CLUSTER_INFO".to_string(),
            self.cluster.info_json(),
        );
        ExecEnv {
            vars,
            secrets: self.secrets.clone(),
        }
    }

    /// The script of a phase.
    pub fn script(&self, phase: Phase) -> Option<&str> {
        match phase {
            Phase::Setup => self.setup.as_deref(),
            Phase::Run => self.run.as_deref(),
        }
    }
}

/// The aggregate state of a job phase over its nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum GangState {
    /// No node has a record of the phase.
    NotStarted,
    /// At least one node still runs and none failed.
    Running,
    /// Every node exited with 0.
    Succeeded,
    /// A node exited non-zero: the lowest such rank and its code.
    Failed {
        /// The rank.
        rank: u32,
        /// Its exit code.
        code: i32,
    },
    /// A node's process is gone without an exit code, or has no record while others do.
    Lost {
        /// The rank.
        rank: u32,
    },
}

impl GangState {
    /// Whether nothing is running any more (or never was).
    pub fn is_finished(&self) -> bool {
        !matches!(self, GangState::Running)
    }

    /// Aggregates per-node statuses (in rank order): a failure wins, then a vanished process,
    /// then a running one; all exited 0 is success.
    pub fn aggregate(nodes: &[NodeStatus]) -> GangState {
        if let Some((rank, code)) = nodes.iter().find_map(|n| match n.status {
            ProcessStatus::Exited { code } if code != 0 => Some((n.rank, code)),
            _ => None,
        }) {
            return GangState::Failed { rank, code };
        }
        if let Some(n) = nodes
            .iter()
            .find(|n| matches!(n.status, ProcessStatus::Vanished { .. }))
        {
            return GangState::Lost { rank: n.rank };
        }
        if nodes.iter().any(|n| n.status.is_running()) {
            return GangState::Running;
        }
        if nodes.iter().all(|n| n.status == ProcessStatus::NotFound) {
            return GangState::NotStarted;
        }
        match nodes.iter().find(|n| n.status == ProcessStatus::NotFound) {
            Some(n) => GangState::Lost { rank: n.rank },
            None => GangState::Succeeded,
        }
    }
}

/// One node's status in a [`GangStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The rank.
    pub rank: u32,
    /// Its process status.
    pub status: ProcessStatus,
}

/// A job phase's aggregate state and every node's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GangStatus {
    /// The aggregate.
    pub state: GangState,
    /// Per node, in rank order.
    pub nodes: Vec<NodeStatus>,
}

impl GangStatus {
    fn new(nodes: Vec<NodeStatus>) -> Self {
        GangStatus {
            state: GangState::aggregate(&nodes),
            nodes,
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
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(50);
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
            tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now())))
                .await;
            interval = (interval * 2).min(Duration::from_secs(1));
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

/// The rsync transfers of a task, checked before anything is copied.
#[derive(Debug, Default)]
struct SyncPlan {
    items: Vec<(PathBuf, String, SyncOptions)>,
}

fn expand_local(path: &str) -> PathBuf {
    match path
        .strip_prefix("~/")
        .or(if path == "~" { Some("") } else { None })
    {
        Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
        None => PathBuf::from(path),
    }
}

impl SyncPlan {
    fn for_task(task: &Task) -> Result<Self> {
        let mut plan = SyncPlan::default();
        match &task.workdir {
            None => {}
            Some(Workdir::Git { url, .. }) => {
                return Err(ExecError::Unsupported(format!(
                    "git workdirs ({url}) are not supported yet; clone it locally and use the path"
                )));
            }
            Some(Workdir::Path(p)) => {
                let local = expand_local(&p.to_string_lossy());
                if !local.is_dir() {
                    return Err(ExecError::InvalidArgument(format!(
                        "workdir {} is not a directory",
                        local.display()
                    )));
                }
                plan.items.push((
                    local.clone(),
                    REMOTE_WORKDIR.to_string(),
                    SyncOptions {
                        delete: true,
                        filters: ignore_filters(&local),
                    },
                ));
            }
        }
        for (target, mount) in &task.file_mounts {
            match mount {
                FileMount::Local(src) => {
                    let local = expand_local(src);
                    if !local.exists() {
                        return Err(ExecError::InvalidArgument(format!(
                            "file_mounts source {src} (for {target}) does not exist"
                        )));
                    }
                    plan.items
                        .push((local, target.clone(), SyncOptions::default()));
                }
                FileMount::CloudUri(uri) => {
                    return Err(ExecError::Unsupported(format!(
                        "file_mounts {target}: cloud URI {uri} cannot be copied yet \
                         (only local files and directories are)"
                    )));
                }
                FileMount::Storage(_) => {
                    return Err(ExecError::Unsupported(format!(
                        "file_mounts {target}: storage mounts are not supported yet \
                         (only local files and directories are)"
                    )));
                }
            }
        }
        Ok(plan)
    }
}

/// `.skyignore` if present, else the `.gitignore` files, as SkyPilot does.
fn ignore_filters(workdir: &Path) -> Vec<SyncFilter> {
    let skyignore = workdir.join(".skyignore");
    if skyignore.is_file() {
        vec![SyncFilter::ExcludeFrom(skyignore)]
    } else if workdir.join(".gitignore").is_file() {
        vec![SyncFilter::DirMerge(".gitignore".to_string())]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sky_core::task::StorageMount;

    fn st(rank: u32, status: ProcessStatus) -> NodeStatus {
        NodeStatus { rank, status }
    }

    #[test]
    fn aggregate_rules() {
        use ProcessStatus::*;
        let ok = Exited { code: 0 };
        assert_eq!(
            GangState::aggregate(&[st(0, ok), st(1, ok)]),
            GangState::Succeeded
        );
        assert_eq!(
            GangState::aggregate(&[st(0, Running { pid: 1 }), st(1, Exited { code: 7 })]),
            GangState::Failed { rank: 1, code: 7 }
        );
        assert_eq!(
            GangState::aggregate(&[st(0, Running { pid: 1 }), st(1, ok)]),
            GangState::Running
        );
        assert_eq!(
            GangState::aggregate(&[st(0, Running { pid: 1 }), st(1, Vanished { pid: 2 })]),
            GangState::Lost { rank: 1 }
        );
        assert_eq!(
            GangState::aggregate(&[st(0, NotFound), st(1, NotFound)]),
            GangState::NotStarted
        );
        assert_eq!(
            GangState::aggregate(&[st(0, ok), st(1, NotFound)]),
            GangState::Lost { rank: 1 }
        );
    }

    #[test]
    fn env_per_node() {
        let mut task = Task::new();
        task.envs.insert("A".into(), Some("1".into()));
        task.envs
            .insert("SKYPILOT_NODE_RANK".into(), Some("overridden".into()));
        task.secrets.insert("TOKEN".into(), Secret::new("t"));
        task.workdir = Some(Workdir::Path("/tmp".into()));
        let cluster = ClusterMeta::new("c1", CloudId::Gcp)
            .with_region("us-central1")
            .with_accelerators(Some(&AcceleratorSpec::named("A100", 0.5)));
        let spec = JobSpec::from_task(&task, 4, cluster, "sky-2024-01-02-03-04-05-000006").unwrap();
        assert_eq!(spec.task_id, "sky-2024-01-02-03-04-05-000006_c1_4");
        assert_eq!(spec.cwd.as_deref(), Some(REMOTE_WORKDIR));
        let ips = vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()];
        let env = spec.node_env(Phase::Run, 1, &ips);
        assert_eq!(env.vars["SKYPILOT_NODE_RANK"], "1");
        assert_eq!(env.vars["SKYPILOT_NODE_IPS"], "10.0.0.1\n10.0.0.2");
        assert_eq!(env.vars["SKYPILOT_NUM_NODES"], "2");
        assert_eq!(env.vars["SKYPILOT_NUM_GPUS_PER_NODE"], "1");
        assert_eq!(env.vars["A"], "1");
        assert_eq!(env.secrets["TOKEN"].expose(), "t");
        let info: serde_json::Value =
            serde_json::from_str(&env.vars["SKYPILOT_CLUSTER_INFO"]).unwrap();
        assert_eq!(
            info,
            serde_json::json!({"cluster_name": "c1", "cloud": "GCP", "region": "us-central1", "zone": null})
        );
        let setup = spec.node_env(Phase::Setup, 0, &ips);
        assert_eq!(setup.vars["SKYPILOT_SETUP_NODE_RANK"], "0");
        // sky's variables win over task envs only where sky sets them.
        assert_eq!(setup.vars["SKYPILOT_NODE_RANK"], "overridden");
    }

    #[test]
    fn missing_env_and_bad_names() {
        let mut task = Task::new();
        task.envs.insert("HF_TOKEN".into(), None);
        let c = ClusterMeta::new("c", CloudId::Local);
        assert!(matches!(
            JobSpec::from_task(&task, 1, c.clone(), "sky-x"),
            Err(ExecError::MissingEnv(n)) if n == "HF_TOKEN"
        ));
        let mut task = Task::new();
        task.secrets.insert("bad name".into(), Secret::new("x"));
        assert!(matches!(
            JobSpec::from_task(&task, 1, c, "sky-x"),
            Err(ExecError::InvalidEnv(_))
        ));
    }

    #[test]
    fn gpus_round_up() {
        assert_eq!(gpus_per_node(None), 0);
        assert_eq!(gpus_per_node(Some(&AcceleratorSpec::named("V100", 4.0))), 4);
        assert_eq!(
            gpus_per_node(Some(&AcceleratorSpec::named("A10G", 0.25))),
            1
        );
    }

    #[test]
    fn timestamp_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(run_timestamp(t), "sky-2023-11-14-22-13-20-123456");
    }

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

    #[test]
    fn unsupported_mounts_fail_before_copying() {
        let mut task = Task::new();
        task.file_mounts
            .insert("/data".into(), FileMount::CloudUri("s3://bucket/x".into()));
        let err = SyncPlan::for_task(&task).unwrap_err();
        assert!(matches!(err, ExecError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("s3://bucket/x"));
        let mut task = Task::new();
        task.file_mounts
            .insert("/data".into(), FileMount::Storage(StorageMount::default()));
        assert!(matches!(
            SyncPlan::for_task(&task),
            Err(ExecError::Unsupported(_))
        ));
        let mut task = Task::new();
        task.workdir = Some(Workdir::Git {
            url: "https://example.invalid/r.git".into(),
            git_ref: None,
        });
        assert!(matches!(
            SyncPlan::for_task(&task),
            Err(ExecError::Unsupported(_))
        ));
        let mut task = Task::new();
        task.file_mounts.insert(
            "~/x".into(),
            FileMount::Local("/nonexistent/sky/path".into()),
        );
        assert!(matches!(
            SyncPlan::for_task(&task),
            Err(ExecError::InvalidArgument(_))
        ));
    }
}
