//! The broker's job operations: launch, exec, poll, wait, cancel, logs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sky_core::Task;
use sky_core::provision::ClusterRef;
use sky_core::task::Secret;
use sky_exec::gang::run_timestamp;
use sky_exec::{
    ClusterMeta, ExecError, GangJob, GangNode, GangState, JobSpec, LogFollower, LogLine, Phase,
    Redactor,
};

use super::store::{JobRow, NewJob, Transition};
use super::{JobPayload, JobRecord, JobStatus, Launched};
use crate::broker::{Broker, ProvisionOptions};
use crate::error::BrokerError;
use crate::state::{ClusterRecord, ClusterStatus, now_s};

/// A claimed job whose processes have not appeared after this many seconds is failed (the
/// broker that claimed it died before starting it).
pub const LOST_GRACE_SECONDS: i64 = 60;

/// Where a queued job's secrets wait on the head node.
const PENDING_DIR: &str = ".sky/pending";

static TOKENS: AtomicU64 = AtomicU64::new(0);

/// Secrets of jobs this broker submitted, by (cluster incarnation, job id).
pub(crate) type SecretCache = BTreeMap<(String, u64), BTreeMap<String, Secret>>;

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

fn first_phase(row: &JobRow) -> Phase {
    if row.payload.setup.is_some() {
        Phase::Setup
    } else {
        Phase::Run
    }
}

fn failed_status(phase: Phase) -> JobStatus {
    match phase {
        Phase::Setup => JobStatus::FailedSetup,
        Phase::Run => JobStatus::Failed,
    }
}

impl Broker {
    fn exec_err(&self, cluster: &str, source: ExecError) -> BrokerError {
        BrokerError::Exec {
            cluster: cluster.to_string(),
            source,
        }
    }

    /// The recorded cluster, which must be `UP`.
    fn up_cluster(&self, name: &str) -> Result<ClusterRecord, BrokerError> {
        let rec = self.cluster(name)?;
        if rec.status != ClusterStatus::Up {
            return Err(BrokerError::InvalidState {
                name: name.into(),
                status: rec.status,
                message: "jobs run on UP clusters only; `start` it or launch again".into(),
            });
        }
        Ok(rec)
    }

    /// Runners for every node of cluster `name`, by rank (connections are cached).
    pub async fn nodes(&self, name: &str) -> Result<Vec<GangNode>, BrokerError> {
        let rec = self.cluster(name)?;
        self.nodes_of(&rec).await
    }

    pub(crate) async fn nodes_of(&self, rec: &ClusterRecord) -> Result<Vec<GangNode>, BrokerError> {
        if let Some(n) = self
            .nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&rec.cluster_hash)
        {
            return Ok(n.clone());
        }
        let launched = rec
            .launched
            .as_ref()
            .ok_or_else(|| BrokerError::InvalidState {
                name: rec.name.clone(),
                status: rec.status,
                message: "it was never placed".into(),
            })?;
        let entry = self.clouds.get(&launched.cloud).ok_or_else(|| {
            BrokerError::Config(format!(
                "cloud {} is not enabled in this broker",
                launched.cloud
            ))
        })?;
        let cluster = ClusterRef {
            name: rec.cluster_hash.clone(),
            region: launched.region.clone(),
            zone: launched.zone.clone(),
        };
        let info = entry
            .provisioner
            .cluster_info(&cluster)
            .await
            .map_err(|error| BrokerError::Provider {
                cluster: rec.name.clone(),
                error,
            })?;
        let connector = entry.connector.clone().ok_or_else(|| {
            BrokerError::Config(format!("cloud {} has no node connector", launched.cloud))
        })?;
        let nodes = connector
            .runners(&info)
            .await
            .map_err(|e| self.exec_err(&rec.name, e))?;
        if nodes.is_empty() {
            return Err(BrokerError::InvalidState {
                name: rec.name.clone(),
                status: rec.status,
                message: "it has no running node".into(),
            });
        }
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rec.cluster_hash.clone(), nodes.clone());
        Ok(nodes)
    }

    /// Drops cached connections of a cluster incarnation (after a failure or teardown).
    pub(crate) fn forget_nodes(&self, cluster_hash: &str) {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(cluster_hash);
    }

    fn meta(rec: &ClusterRecord) -> ClusterMeta {
        let mut m = ClusterMeta::new(
            rec.name.clone(),
            rec.launched
                .as_ref()
                .map_or(sky_core::CloudId::Fake, |l| l.cloud.clone()),
        );
        if let Some(l) = &rec.launched {
            m.region = Some(l.region.clone());
            m.zone = l.zone.clone();
            m.gpus_per_node = l.accelerator.as_ref().map_or(0, |a| {
                if a.count.is_finite() && a.count > 0.0 {
                    a.count.ceil().min(f64::from(u32::MAX)) as u32
                } else {
                    0
                }
            });
        }
        m
    }

    /// Launches `task` on cluster `name`: provisions it (or reuses it when `UP`), syncs the
    /// workdir and local file mounts to every node, and submits the task as a job whose
    /// `setup` runs on its nodes before `run` (see [`crate::jobs`]). Returns once the job is
    /// submitted (and started when nodes are free); follow it with [`Broker::logs`] or
    /// [`Broker::wait_job`].
    ///
    /// Envs without a value and cloud-URI file mounts fail before anything is provisioned
    /// or copied.
    pub async fn launch(
        &self,
        task: &Task,
        name: &str,
        options: &ProvisionOptions,
    ) -> Result<Launched, BrokerError> {
        JobSpec::from_task(
            task,
            0,
            ClusterMeta::new(name, sky_core::CloudId::Local),
            "sky-x",
        )
        .map_err(|e| self.exec_err(name, e))?;
        let cluster = self.provision(task, name, options).await?;
        let has_files = task.workdir.is_some() || !task.file_mounts.is_empty();
        if !has_files && task.setup.is_none() && task.run.is_none() {
            return Ok(Launched {
                cluster,
                job_id: None,
            });
        }
        let nodes = self.nodes_of(&cluster).await?;
        if has_files {
            let all = GangJob::new(0, nodes).map_err(|e| self.exec_err(name, e))?;
            if let Err(e) = all.sync_task_files(task).await {
                self.forget_nodes(&cluster.cluster_hash);
                return Err(self.exec_err(name, e));
            }
        }
        let job_id = if task.setup.is_some() || task.run.is_some() {
            Some(self.submit(&cluster, task, true).await?)
        } else {
            None
        };
        Ok(Launched { cluster, job_id })
    }

    /// Submits `task` as a job on the `UP` cluster `name`, without setup (SkyPilot's
    /// `sky exec`): syncs the workdir (not file mounts) to every node first. Returns the job
    /// id; the job starts when `task.num_nodes` nodes are free (see [`crate::jobs`]).
    pub async fn exec(&self, name: &str, task: &Task) -> Result<u64, BrokerError> {
        let rec = self.up_cluster(name)?;
        JobSpec::from_task(task, 0, Self::meta(&rec), "sky-x")
            .map_err(|e| self.exec_err(name, e))?;
        let have = rec.launched.as_ref().map_or(0, |l| l.num_nodes);
        if task.num_nodes.max(1) > have {
            return Err(BrokerError::InvalidState {
                name: name.into(),
                status: rec.status,
                message: format!(
                    "the task needs {} nodes and the cluster has {have}",
                    task.num_nodes
                ),
            });
        }
        if task.workdir.is_some() {
            let nodes = self.nodes_of(&rec).await?;
            let mut only_workdir = task.clone();
            only_workdir.file_mounts.clear();
            let all = GangJob::new(0, nodes).map_err(|e| self.exec_err(name, e))?;
            if let Err(e) = all.sync_task_files(&only_workdir).await {
                self.forget_nodes(&rec.cluster_hash);
                return Err(self.exec_err(name, e));
            }
        }
        self.state.touch(name)?;
        self.submit(&rec, task, false).await
    }

    async fn submit(
        &self,
        rec: &ClusterRecord,
        task: &Task,
        with_setup: bool,
    ) -> Result<u64, BrokerError> {
        let ts = run_timestamp(SystemTime::now());
        let spec = JobSpec::from_task(task, 0, Self::meta(rec), &ts)
            .map_err(|e| self.exec_err(&rec.name, e))?;
        let token = if spec.secrets.is_empty() {
            None
        } else {
            let token = format!(
                "{}-{}-{}-{}",
                rec.cluster_hash,
                ts,
                std::process::id(),
                TOKENS.fetch_add(1, Ordering::Relaxed)
            );
            self.stash_secrets(rec, &token, &spec.secrets).await?;
            Some(token)
        };
        let payload = JobPayload {
            setup: if with_setup { spec.setup } else { None },
            run: spec.run,
            envs: spec.envs,
            secret_names: spec.secrets.keys().cloned().collect(),
            secrets_token: token,
            cwd: spec.cwd,
        };
        let id = self.state.add_job(&NewJob {
            cluster: &rec.name,
            cluster_hash: &rec.cluster_hash,
            name: task.name.as_deref(),
            num_nodes: task.num_nodes.max(1),
            run_timestamp: &ts,
            payload: &payload,
        })?;
        if !spec.secrets.is_empty() {
            self.secrets
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((rec.cluster_hash.clone(), id), spec.secrets);
        }
        tracing::debug!(cluster = %rec.name, job = id, "submitted");
        self.poll_jobs(&rec.name).await?;
        Ok(id)
    }

    fn pending_path(token: &str) -> String {
        format!("\"$HOME\"/{PENDING_DIR}/{token}.env")
    }

    async fn stash_secrets(
        &self,
        rec: &ClusterRecord,
        token: &str,
        secrets: &BTreeMap<String, Secret>,
    ) -> Result<(), BrokerError> {
        let nodes = self.nodes_of(rec).await?;
        let body: String = secrets
            .iter()
            .map(|(k, v)| format!("{k}={}\n", hex(v.expose())))
            .collect();
        let path = Self::pending_path(token);
        let script = format!(
            "umask 077\nmkdir -p \"$HOME\"/{PENDING_DIR}\ncat > {path}.tmp <<'__SKY_SECRETS__'\n{body}__SKY_SECRETS__\nmv -f {path}.tmp {path}\n"
        );
        let out = nodes[0]
            .runner
            .exec(&script)
            .await
            .map_err(|e| self.exec_err(&rec.name, e))?;
        if out.code != 0 {
            return Err(self.exec_err(
                &rec.name,
                ExecError::CommandFailed {
                    node: nodes[0].ip.clone(),
                    what: "storing the job's secrets on the head node".into(),
                    code: out.code,
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                },
            ));
        }
        Ok(())
    }

    /// The secrets of a job: from memory, or from the head node's file; `None` if lost.
    async fn secrets_for(
        &self,
        row: &JobRow,
        nodes: &[GangNode],
    ) -> Result<Option<BTreeMap<String, Secret>>, ExecError> {
        if row.payload.secret_names.is_empty() {
            return Ok(Some(BTreeMap::new()));
        }
        let key = (row.record.cluster_hash.clone(), row.record.job_id);
        if let Some(s) = self
            .secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(s.clone()));
        }
        let Some(token) = &row.payload.secrets_token else {
            return Ok(None);
        };
        let out = nodes[0]
            .runner
            .exec(&format!(
                "cat {} 2>/dev/null || exit 3\n",
                Self::pending_path(token)
            ))
            .await?;
        if out.code != 0 {
            return Ok(None);
        }
        let mut secrets = BTreeMap::new();
        for line in out.stdout_text().lines() {
            if let Some((k, v)) = line.split_once('=')
                && let Some(v) = unhex(v.trim())
            {
                secrets.insert(k.to_string(), Secret::new(v));
            }
        }
        let complete = row
            .payload
            .secret_names
            .iter()
            .all(|n| secrets.contains_key(n));
        Ok(complete.then_some(secrets))
    }

    /// Forgets a job's secrets once they are no longer needed (its run started, or it ended).
    async fn drop_secrets(&self, row: &JobRow, nodes: &[GangNode]) {
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(row.record.cluster_hash.clone(), row.record.job_id));
        if let Some(token) = &row.payload.secrets_token
            && let Some(head) = nodes.first()
            && let Err(e) = head
                .runner
                .exec(&format!("rm -f {}\n", Self::pending_path(token)))
                .await
        {
            tracing::warn!(job = row.record.job_id, error = %e, "cannot remove a job's secrets file");
        }
    }

    /// The gang of a claimed job: job rank `i` on cluster node `node_ranks[i]`.
    fn gang_for(row: &JobRow, nodes: &[GangNode]) -> Result<GangJob, ExecError> {
        let members = row
            .record
            .node_ranks
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let n = nodes.iter().find(|n| n.rank == *r).ok_or_else(|| {
                    ExecError::InvalidArgument(format!(
                        "job {} runs on node {r}, which the cluster no longer has",
                        row.record.job_id
                    ))
                })?;
                Ok(GangNode {
                    rank: i as u32,
                    ip: n.ip.clone(),
                    runner: Arc::clone(&n.runner),
                })
            })
            .collect::<Result<Vec<_>, ExecError>>()?;
        GangJob::new(row.record.job_id, members)
    }

    fn finish(
        &self,
        row: &JobRow,
        from: &[JobStatus],
        to: JobStatus,
        exit_code: Option<i32>,
        message: Option<String>,
    ) -> Result<bool, BrokerError> {
        let moved = self.state.transition_job(
            &row.record.cluster_hash,
            row.record.job_id,
            &Transition {
                from,
                to,
                exit_code,
                message,
            },
        )?;
        if moved {
            tracing::debug!(cluster = %row.record.cluster, job = row.record.job_id, status = %to, "job status");
        }
        Ok(moved)
    }

    /// Advances the job queue of cluster `name` and returns it: reads the status of every
    /// job that occupies nodes from its files on the nodes, records the ones that ended (a
    /// failed node ends the whole gang: the other nodes are killed), starts the run phase of
    /// jobs whose setup succeeded, and starts pending jobs in FIFO order while enough nodes
    /// are free. Nothing is contacted when no job is unfinished.
    pub async fn poll_jobs(&self, name: &str) -> Result<Vec<JobRecord>, BrokerError> {
        let _guard = self.sched.lock().await;
        let rec = self.cluster(name)?;
        let hash = rec.cluster_hash.clone();
        if rec.status != ClusterStatus::Up || self.state.unfinished_jobs(&hash)? == 0 {
            return Ok(self.state.jobs(&hash)?);
        }
        let nodes = self.nodes_of(&rec).await?;
        let result = self.advance_all(&rec, &nodes).await;
        if let Err(e) = &result {
            if matches!(e, BrokerError::Exec { .. }) {
                self.forget_nodes(&hash);
            }
            return Err(result.unwrap_err());
        }
        Ok(self.state.jobs(&hash)?)
    }

    async fn advance_all(
        &self,
        rec: &ClusterRecord,
        nodes: &[GangNode],
    ) -> Result<(), BrokerError> {
        let meta = Self::meta(rec);
        for row in self.state.job_rows(&rec.cluster_hash)? {
            if row.record.status.is_active() {
                self.advance(rec, nodes, &meta, &row).await?;
            }
        }
        for row in self
            .state
            .claim_pending(&rec.cluster_hash, nodes.len() as u32)?
        {
            self.start_phase(rec, nodes, &meta, &row, first_phase(&row))
                .await?;
        }
        Ok(())
    }

    async fn advance(
        &self,
        rec: &ClusterRecord,
        nodes: &[GangNode],
        meta: &ClusterMeta,
        row: &JobRow,
    ) -> Result<(), BrokerError> {
        let ex = |e| self.exec_err(&rec.name, e);
        let phase = if row.record.status == JobStatus::SettingUp {
            Phase::Setup
        } else {
            Phase::Run
        };
        let gang = match Self::gang_for(row, nodes) {
            Ok(g) => g,
            Err(e) => {
                self.finish(
                    row,
                    &[row.record.status],
                    failed_status(phase),
                    None,
                    Some(e.to_string()),
                )?;
                return Ok(());
            }
        };
        let status = gang.status(phase).await.map_err(ex)?;
        let from = [row.record.status];
        match status.state {
            GangState::Running => {}
            GangState::NotStarted => {
                if now_s() - row.updated_at > LOST_GRACE_SECONDS {
                    self.finish(
                        row,
                        &from,
                        failed_status(phase),
                        None,
                        Some(format!("the job's {} never started", phase.as_str())),
                    )?;
                    self.drop_secrets(row, nodes).await;
                }
            }
            GangState::Succeeded => match phase {
                Phase::Setup => {
                    if self.finish(row, &from, JobStatus::Running, None, None)? {
                        self.start_phase(rec, nodes, meta, row, Phase::Run).await?;
                    }
                }
                Phase::Run => {
                    self.finish(row, &from, JobStatus::Succeeded, Some(0), None)?;
                    self.drop_secrets(row, nodes).await;
                }
            },
            GangState::Failed { rank, code } => {
                if status.nodes.iter().any(|n| n.status.is_running()) {
                    gang.cancel(phase).await.map_err(ex)?;
                }
                let what = if gang.nodes().len() > 1 {
                    format!("rank {rank}: {} exited with code {code}", phase.as_str())
                } else {
                    format!("{} exited with code {code}", phase.as_str())
                };
                self.finish(row, &from, failed_status(phase), Some(code), Some(what))?;
                self.drop_secrets(row, nodes).await;
            }
            GangState::Lost { rank } => {
                if status.nodes.iter().any(|n| n.status.is_running()) {
                    gang.cancel(phase).await.map_err(ex)?;
                }
                self.finish(
                    row,
                    &from,
                    failed_status(phase),
                    None,
                    Some(format!(
                        "rank {rank}: the {} process is gone without an exit code \
                         (killed outside sky, or the node rebooted)",
                        phase.as_str()
                    )),
                )?;
                self.drop_secrets(row, nodes).await;
            }
        }
        Ok(())
    }

    /// Starts `phase` of a claimed job (already recorded as `SETTING_UP`/`RUNNING`).
    async fn start_phase(
        &self,
        rec: &ClusterRecord,
        nodes: &[GangNode],
        meta: &ClusterMeta,
        row: &JobRow,
        phase: Phase,
    ) -> Result<(), BrokerError> {
        let status = match phase {
            Phase::Setup => JobStatus::SettingUp,
            Phase::Run => JobStatus::Running,
        };
        let gang = match Self::gang_for(row, nodes) {
            Ok(g) => g,
            Err(e) => {
                self.finish(
                    row,
                    &[status],
                    failed_status(phase),
                    None,
                    Some(e.to_string()),
                )?;
                return Ok(());
            }
        };
        let secrets = match self.secrets_for(row, nodes).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.finish(
                    row,
                    &[status],
                    failed_status(phase),
                    None,
                    Some(
                        "the job's secrets are gone (the head node's copy was removed); \
                         submit it again"
                            .into(),
                    ),
                )?;
                return Ok(());
            }
            Err(e) => return Err(self.exec_err(&rec.name, e)),
        };
        let spec = JobSpec {
            task_id: row.record.task_id.clone(),
            cluster: meta.clone(),
            envs: row.payload.envs.clone(),
            secrets,
            setup: row.payload.setup.clone(),
            run: row.payload.run.clone(),
            cwd: row.payload.cwd.clone(),
        };
        match gang.start(phase, &spec).await {
            Ok(true) => {
                tracing::debug!(cluster = %rec.name, job = row.record.job_id, phase = phase.as_str(), "started");
                if phase == Phase::Run {
                    self.drop_secrets(row, nodes).await;
                }
                // A cancel from another process may have landed between the claim and now.
                if let Some(now) = self
                    .state
                    .job_row(&row.record.cluster_hash, row.record.job_id)?
                    && now.record.status == JobStatus::Cancelled
                {
                    let _ = gang.cancel(phase).await;
                }
            }
            Ok(false) => match phase {
                Phase::Setup => {
                    if self.finish(row, &[status], JobStatus::Running, None, None)? {
                        Box::pin(self.start_phase(rec, nodes, meta, row, Phase::Run)).await?;
                    }
                }
                Phase::Run => {
                    self.finish(row, &[status], JobStatus::Succeeded, Some(0), None)?;
                    self.drop_secrets(row, nodes).await;
                }
            },
            Err(e) => {
                let redactor = Redactor::new(spec.secrets.values());
                let msg = redactor.redact(&e.to_string()).into_owned();
                tracing::warn!(cluster = %rec.name, job = row.record.job_id, error = %msg, "cannot start a job");
                self.finish(
                    row,
                    &[status],
                    failed_status(phase),
                    None,
                    Some(format!("could not start the {}: {msg}", phase.as_str())),
                )?;
                self.drop_secrets(row, nodes).await;
            }
        }
        Ok(())
    }

    /// The recorded jobs of cluster `name`, by id (no node is contacted; see
    /// [`Broker::queue`]).
    pub fn jobs(&self, name: &str) -> Result<Vec<JobRecord>, BrokerError> {
        let rec = self.cluster(name)?;
        Ok(self.state.jobs(&rec.cluster_hash)?)
    }

    /// The job queue of cluster `name`, advanced first ([`Broker::poll_jobs`]) when the
    /// cluster is `UP`.
    pub async fn queue(&self, name: &str) -> Result<Vec<JobRecord>, BrokerError> {
        self.poll_jobs(name).await
    }

    /// One recorded job.
    pub fn job(&self, name: &str, job_id: u64) -> Result<JobRecord, BrokerError> {
        let rec = self.cluster(name)?;
        Ok(self.job_row(&rec, job_id)?.record)
    }

    fn job_row(&self, rec: &ClusterRecord, job_id: u64) -> Result<JobRow, BrokerError> {
        self.state
            .job_row(&rec.cluster_hash, job_id)?
            .ok_or_else(|| BrokerError::JobNotFound {
                cluster: rec.name.clone(),
                job_id,
            })
    }

    /// Advances the queue until job `job_id` has ended, at most `timeout` (bounded polling,
    /// 50 ms growing to 500 ms).
    pub async fn wait_job(
        &self,
        name: &str,
        job_id: u64,
        timeout: Duration,
    ) -> Result<JobRecord, BrokerError> {
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(50);
        loop {
            self.poll_jobs(name).await?;
            let job = self.job(name, job_id)?;
            if job.status.is_terminal() {
                return Ok(job);
            }
            if Instant::now() >= deadline {
                return Err(BrokerError::Timeout {
                    what: format!("job {job_id} of cluster {name:?} (now {})", job.status),
                    after: timeout,
                });
            }
            tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now())))
                .await;
            interval = (interval * 2).min(Duration::from_millis(500));
        }
    }

    /// Cancels jobs of cluster `name`: a pending job leaves the queue, a running one has its
    /// process group killed on every node (SIGTERM, then SIGKILL after a grace period).
    /// Each ends `CANCELLED` (jobs that already ended are left as they are). Returns the
    /// jobs afterwards, then lets the queue advance.
    pub async fn cancel(&self, name: &str, job_ids: &[u64]) -> Result<Vec<JobRecord>, BrokerError> {
        let rec = self.cluster(name)?;
        {
            let _guard = self.sched.lock().await;
            for &id in job_ids {
                let row = self.job_row(&rec, id)?;
                self.cancel_row(&rec, &row, "cancelled by the user").await?;
            }
        }
        if rec.status == ClusterStatus::Up {
            self.poll_jobs(name).await?;
        }
        job_ids.iter().map(|&id| self.job(name, id)).collect()
    }

    async fn cancel_row(
        &self,
        rec: &ClusterRecord,
        row: &JobRow,
        why: &str,
    ) -> Result<(), BrokerError> {
        let status = row.record.status;
        if status.is_terminal() {
            return Ok(());
        }
        if !self.finish(
            row,
            &[status],
            JobStatus::Cancelled,
            None,
            Some(why.to_string()),
        )? {
            // It moved meanwhile (e.g. from setup to run): look again.
            let again = self.job_row(rec, row.record.job_id)?;
            if again.record.status != status {
                return Box::pin(self.cancel_row(rec, &again, why)).await;
            }
            return Ok(());
        }
        if status == JobStatus::Pending {
            if row.payload.secrets_token.is_some() {
                if let Ok(nodes) = self.nodes_of(rec).await {
                    self.drop_secrets(row, &nodes).await;
                }
            } else {
                self.drop_secrets(row, &[]).await;
            }
            return Ok(());
        }
        let nodes = self.nodes_of(rec).await?;
        let gang = Self::gang_for(row, &nodes).map_err(|e| self.exec_err(&rec.name, e))?;
        let mut code = None;
        for phase in [Phase::Setup, Phase::Run] {
            if phase == Phase::Setup && row.payload.setup.is_none() {
                continue;
            }
            let after = gang
                .cancel(phase)
                .await
                .map_err(|e| self.exec_err(&rec.name, e))?;
            if let GangState::Failed { code: c, .. } = after.state {
                code = Some(c);
            }
        }
        if let Some(c) = code {
            self.state
                .set_job_exit_code(&rec.cluster_hash, row.record.job_id, c)?;
        }
        self.drop_secrets(row, &nodes).await;
        Ok(())
    }

    /// Cancels every unfinished job of a cluster before it is stopped or torn down; node
    /// errors are logged, not returned (the nodes are going away).
    pub(crate) async fn cancel_all_for(&self, rec: &ClusterRecord, why: &str) {
        let Ok(rows) = self.state.job_rows(&rec.cluster_hash) else {
            return;
        };
        let _guard = self.sched.lock().await;
        for row in rows.iter().filter(|r| !r.record.status.is_terminal()) {
            if let Err(e) = self.cancel_row(rec, row, why).await {
                tracing::warn!(cluster = %rec.name, job = row.record.job_id, error = %e, "cancelling a job before teardown");
            }
        }
    }

    /// Streams the logs of job `job_id` (the latest job when `None`) of cluster `name` to
    /// `sink`: the setup's lines, then the run's, one line at a time, rank-prefixed when the
    /// job has several nodes (`(head, rank=0, ip=...) `, `(worker1, rank=1, ip=...) `).
    ///
    /// Without `follow`, hands over what the logs hold now and returns. With `follow`, keeps
    /// advancing the queue and reading until the job has ended (a pending job is waited
    /// for). Returns the job as last seen.
    pub async fn logs(
        &self,
        name: &str,
        job_id: Option<u64>,
        follow: bool,
        sink: &mut (dyn FnMut(LogLine) + Send),
    ) -> Result<JobRecord, BrokerError> {
        let rec = self.cluster(name)?;
        let job_id = match job_id {
            Some(id) => id,
            None => self
                .state
                .jobs(&rec.cluster_hash)?
                .last()
                .map(|j| j.job_id)
                .ok_or_else(|| BrokerError::JobNotFound {
                    cluster: name.to_string(),
                    job_id: 0,
                })?,
        };
        let mut followers: Option<(GangJob, Vec<LogFollower>)> = None;
        let mut interval = Duration::from_millis(20);
        loop {
            if follow {
                self.poll_jobs(name).await?;
            }
            // The status is read before the logs: once it says ended, the logs are complete.
            let row = self.job_row(&rec, job_id)?;
            if followers.is_none() && !row.record.node_ranks.is_empty() {
                let nodes = self.nodes_of(&rec).await?;
                let gang = Self::gang_for(&row, &nodes).map_err(|e| self.exec_err(name, e))?;
                let mut fs = Vec::new();
                if row.payload.setup.is_some() {
                    fs.push(LogFollower::new(&gang, Phase::Setup));
                }
                if row.payload.run.is_some() {
                    fs.push(LogFollower::new(&gang, Phase::Run));
                }
                followers = Some((gang, fs));
            }
            let done = row.record.status.is_terminal() || !follow;
            let mut got_lines = false;
            if let Some((gang, fs)) = &mut followers {
                for f in fs.iter_mut() {
                    for line in f.poll(gang).await.map_err(|e| self.exec_err(name, e))? {
                        got_lines = true;
                        sink(line);
                    }
                    if done {
                        for line in f.flush() {
                            sink(line);
                        }
                    }
                }
            }
            if done {
                return Ok(row.record);
            }
            // Output keeps the pace up; silence backs off to at most 500 ms between reads.
            interval = if got_lines {
                Duration::from_millis(20)
            } else {
                (interval * 2).min(Duration::from_millis(500))
            };
            tokio::time::sleep(interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        for s in ["", "a=b", "multi\nline 'quoted' \"x\" $HOME", "üñí"] {
            assert_eq!(unhex(&hex(s)).as_deref(), Some(s));
        }
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }
}
