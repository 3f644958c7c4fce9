//! Cancelling jobs: by the user, and every unfinished job before a cluster stops or goes
//! away.

use sky_exec::{GangState, Phase};

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
}
