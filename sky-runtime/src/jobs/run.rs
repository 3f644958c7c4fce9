//! The broker's job operations that move jobs along: launch, exec, and the queue's
//! advance (poll) from submission to a terminal status.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sky_core::Task;
use sky_exec::gang::run_timestamp;
use sky_exec::{ClusterMeta, ExecError, GangJob, GangNode, GangState, JobSpec, Phase, Redactor};

use super::store::{JobRow, NewJob, Transition};
use super::{JobPayload, JobRecord, JobStatus, Launched};
use crate::broker::{Broker, ProvisionOptions};
use crate::error::BrokerError;
use crate::state::{ClusterRecord, ClusterStatus, now_s};

/// A claimed job whose processes have not appeared after this many seconds is failed (the
/// broker that claimed it died before starting it).
pub const LOST_GRACE_SECONDS: i64 = 60;

static TOKENS: AtomicU64 = AtomicU64::new(0);

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
    /// Launches `task` on cluster `name`: provisions it (or reuses it when `UP`), syncs the
    /// workdir and local file mounts to every node, and submits the task as a job whose
    /// `setup` runs on its nodes before `run` (see [`crate::jobs`]). Returns once the job is
    /// submitted (and started when nodes are free); follow it with [`Broker::logs`] or
    /// [`Broker::wait_job`].
    ///
    /// Everything [`Broker::precheck`] checks (envs and secrets without a value, missing local
    /// sources, cloud-URI file mounts, fields sky does not implement) fails before anything
    /// is provisioned or copied.
    pub async fn launch(
        &self,
        task: &Task,
        name: &str,
        options: &ProvisionOptions,
    ) -> Result<Launched, BrokerError> {
        self.precheck(task)?;
        let existed = self.state.get(name)?.is_some();
        let cluster = self.provision(task, name, options).await?;
        let has_files = task.workdir.is_some() || !task.file_mounts.is_empty();
        if !has_files && task.setup.is_none() && task.run.is_none() {
            return Ok(Launched {
                cluster,
                job_id: None,
            });
        }
        let nodes = match self.all_nodes_of(&cluster).await {
            Ok(n) => n,
            Err(e) if !existed => {
                // A cluster made by this call whose node does not answer is of no use:
                // what it holds is released rather than left UP.
                tracing::warn!(cluster = %name, error = %e, "a new cluster's node does not answer; tearing it down");
                if let Err(down) = self.down(name).await {
                    tracing::warn!(cluster = %name, error = %down, "tearing down the new cluster");
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if has_files {
            let all = GangJob::new(0, nodes).map_err(|e| self.exec_err(name, e))?;
            if let Err(e) = all.sync_task_files(task).await {
                self.forget_nodes(&cluster.cluster_hash);
                return Err(self.exec_err(name, e));
            }
            crate::events::emit(
                options.events.as_ref(),
                crate::events::LaunchEvent::FilesSynced {
                    cluster: name.to_string(),
                },
            );
        }
        let job_id = if task.setup.is_some() || task.run.is_some() {
            let id = self.submit(&cluster, task, true).await?;
            crate::events::emit(
                options.events.as_ref(),
                crate::events::LaunchEvent::JobSubmitted {
                    cluster: name.to_string(),
                    job_id: id,
                },
            );
            Some(id)
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
        let nodes = self.all_nodes_of(&rec).await?;
        if task.workdir.is_some() {
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

    /// The gang of a claimed job: job rank `i` on cluster node `node_ranks[i]`.
    pub(super) fn gang_for(row: &JobRow, nodes: &[GangNode]) -> Result<GangJob, ExecError> {
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

    pub(super) fn finish(
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
        // An INIT cluster that was placed may have jobs: one marked INIT because a node
        // stopped answering still runs them on the others.
        let reachable = rec.status == ClusterStatus::Up
            || rec.status == ClusterStatus::Init && rec.launched.is_some();
        if !reachable || self.state.unfinished_jobs(&hash)? == 0 {
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

    pub(super) async fn advance_all(
        &self,
        rec: &ClusterRecord,
        nodes: &[GangNode],
    ) -> Result<(), BrokerError> {
        let meta = Self::meta(rec);
        let gone: Vec<u32> = nodes
            .iter()
            .filter(|n| n.unreachable().is_some())
            .map(|n| n.rank)
            .collect();
        for row in self.state.job_rows(&rec.cluster_hash)? {
            if row.record.status == JobStatus::Cancelling {
                let why = row.record.message.clone().unwrap_or_default();
                let why = why.split("; still running").next().unwrap_or_default();
                self.stop_ranks(rec, &row, nodes, why).await?;
            } else if row.record.node_ranks.iter().any(|r| gone.contains(r)) {
                // Its state is on a node that does not answer: it is left as recorded
                // until the node is back (or the cluster goes).
                tracing::debug!(cluster = %rec.name, job = row.record.job_id, "job on an unreachable node");
            } else if row.record.status.is_active() {
                self.advance(rec, nodes, &meta, &row).await?;
            }
        }
        if !gone.is_empty() {
            // A pending job could land on the dead node: nothing starts until it is back.
            return Ok(());
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

    pub(super) async fn advance(
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
    pub(super) async fn start_phase(
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
}
