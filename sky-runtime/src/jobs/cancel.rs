//! Cancelling jobs: by the user, and every unfinished job before a cluster stops or goes
//! away.

use std::collections::BTreeMap;

use sky_exec::{ExecError, GangNode, GangState, Phase};

use super::JobRecord;
use super::JobStatus;
use super::store::JobRow;
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::state::{ClusterRecord, ClusterStatus};

impl Broker {
    /// Cancels jobs of cluster `name`: a pending job leaves the queue, a running one has its
    /// process group killed on every node (SIGTERM, then SIGKILL after a grace period).
    /// Each ends `CANCELLED` (jobs that already ended are left as they are). Returns the
    /// jobs afterwards, then lets the queue advance.
    ///
    /// The recorded status follows what the nodes did: a running job is `CANCELLING` from
    /// the moment it is told to stop, and `CANCELLED` only once every rank has stopped. When
    /// a node does not answer, the ranks on the others are stopped anyway and the job stays
    /// `CANCELLING`, its message naming the node; cancelling it again (or the next queue
    /// poll) tries that node again.
    pub async fn cancel(&self, name: &str, job_ids: &[u64]) -> Result<Vec<JobRecord>, BrokerError> {
        let rec = self.cluster(name)?;
        {
            let _guard = self.sched.lock().await;
            for &id in job_ids {
                let row = self.job_row(&rec, id)?;
                self.cancel_row(&rec, &row, "cancelled by the user").await?;
            }
        }
        // With a node gone, polling would only wait for it again.
        if rec.status == ClusterStatus::Up && self.unreachable_nodes(name).is_empty() {
            self.poll_jobs(name).await?;
        }
        job_ids.iter().map(|&id| self.job(name, id)).collect()
    }

    pub(super) async fn cancel_row(
        &self,
        rec: &ClusterRecord,
        row: &JobRow,
        why: &str,
    ) -> Result<(), BrokerError> {
        let status = row.record.status;
        if status.is_terminal() {
            return Ok(());
        }
        let to = if status == JobStatus::Pending {
            JobStatus::Cancelled
        } else {
            JobStatus::Cancelling
        };
        if status != JobStatus::Cancelling
            && !self.finish(row, &[status], to, None, Some(why.to_string()))?
        {
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
        self.stop_ranks(rec, row, &nodes, why).await
    }

    /// Kills every rank of a `CANCELLING` job that can be reached; it becomes `CANCELLED`
    /// when none is left unreached.
    pub(super) async fn stop_ranks(
        &self,
        rec: &ClusterRecord,
        row: &JobRow,
        nodes: &[GangNode],
        why: &str,
    ) -> Result<(), BrokerError> {
        let from = [JobStatus::Cancelling];
        let gang = match Self::gang_for(row, nodes) {
            Ok(g) => g,
            Err(e) => {
                // A node of the job is no longer in the cluster: nothing of it runs there.
                self.finish(
                    row,
                    &from,
                    JobStatus::Cancelled,
                    None,
                    Some(format!("{why}; {e}")),
                )?;
                return Ok(());
            }
        };
        let mut code = None;
        let mut unreached: BTreeMap<u32, String> = BTreeMap::new();
        for phase in [Phase::Setup, Phase::Run] {
            if phase == Phase::Setup && row.payload.setup.is_none() {
                continue;
            }
            let (after, errors) = gang.cancel_reachable(phase).await;
            if let GangState::Failed { code: c, .. } = after.state {
                code = code.or(Some(c));
            }
            for e in errors {
                let rank = match &e {
                    ExecError::Node { rank, .. } => *rank,
                    _ => u32::MAX,
                };
                unreached.entry(rank).or_insert_with(|| e.to_string());
            }
        }
        if !unreached.is_empty() {
            let which: Vec<String> = unreached.into_values().collect();
            self.finish(
                row,
                &from,
                JobStatus::Cancelling,
                None,
                Some(format!(
                    "{why}; still running where sky could not reach: {}",
                    which.join("; ")
                )),
            )?;
            return Ok(());
        }
        if let Some(c) = code {
            self.state
                .set_job_exit_code(&rec.cluster_hash, row.record.job_id, c)?;
        }
        self.finish(
            row,
            &from,
            JobStatus::Cancelled,
            None,
            Some(why.to_string()),
        )?;
        self.drop_secrets(row, nodes).await;
        Ok(())
    }

    /// Cancels every unfinished job of a cluster before it is stopped or torn down; node
    /// errors are logged, not returned (the nodes are going away, and with them whatever
    /// ran on a node that did not answer: such jobs end `CANCELLED` too).
    pub(crate) async fn cancel_all_for(&self, rec: &ClusterRecord, why: &str) {
        let Ok(rows) = self.state.job_rows(&rec.cluster_hash) else {
            return;
        };
        let _guard = self.sched.lock().await;
        for row in rows.iter().filter(|r| !r.record.status.is_terminal()) {
            if let Err(e) = self.cancel_row(rec, row, why).await {
                tracing::warn!(cluster = %rec.name, job = row.record.job_id, error = %e, "cancelling a job before teardown");
            }
            let Ok(after) = self.job_row(rec, row.record.job_id) else {
                continue;
            };
            if after.record.status == JobStatus::Cancelling
                && let Err(e) = self.finish(
                    &after,
                    &[JobStatus::Cancelling],
                    JobStatus::Cancelled,
                    None,
                    Some(format!(
                        "{why}; ranks on unreachable nodes went with the cluster"
                    )),
                )
            {
                tracing::warn!(cluster = %rec.name, job = row.record.job_id, error = %e, "recording a cancelled job");
            }
        }
    }
}
