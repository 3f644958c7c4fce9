//! The `jobs` table: submission, FIFO claims and conditional transitions.

use std::collections::BTreeSet;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{JobPayload, JobRecord, JobStatus};
use crate::state::{StateError, StateStore, now_s};

const JOB_COLUMNS: &str = "cluster, cluster_hash, job_id, name, status, exit_code, message, \
     num_nodes, node_ranks, run_timestamp, task_id, payload, submitted_at, started_at, ended_at, updated_at";

/// A job row with its payload and last update time.
#[derive(Clone, Debug)]
pub(crate) struct JobRow {
    pub(crate) record: JobRecord,
    pub(crate) payload: JobPayload,
    pub(crate) updated_at: i64,
}

/// A new job to append to a queue.
pub(crate) struct NewJob<'a> {
    pub(crate) cluster: &'a str,
    pub(crate) cluster_hash: &'a str,
    pub(crate) name: Option<&'a str>,
    pub(crate) num_nodes: u32,
    pub(crate) run_timestamp: &'a str,
    pub(crate) payload: &'a JobPayload,
}

/// A conditional status change.
pub(crate) struct Transition<'a> {
    pub(crate) from: &'a [JobStatus],
    pub(crate) to: JobStatus,
    pub(crate) exit_code: Option<i32>,
    pub(crate) message: Option<String>,
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(JobRecord, String, String, i64)> {
    let status: String = r.get(4)?;
    let ranks: String = r.get(8)?;
    let payload: String = r.get(11)?;
    let job_id: i64 = r.get(2)?;
    let num_nodes: i64 = r.get(7)?;
    let record = JobRecord {
        cluster: r.get(0)?,
        cluster_hash: r.get(1)?,
        job_id: job_id.max(0) as u64,
        name: r.get(3)?,
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
        exit_code: r.get(5)?,
        message: r.get(6)?,
        num_nodes: num_nodes.clamp(0, i64::from(u32::MAX)) as u32,
        node_ranks: Vec::new(),
        run_timestamp: r.get(9)?,
        task_id: r.get(10)?,
        has_setup: false,
        has_run: false,
        submitted_at: r.get(12)?,
        started_at: r.get(13)?,
        ended_at: r.get(14)?,
    };
    Ok((record, ranks, payload, r.get(15)?))
}

impl StateStore {
    fn decode_job(
        &self,
        (mut record, ranks, payload, updated_at): (JobRecord, String, String, i64),
    ) -> Result<JobRow, StateError> {
        let err = |column, source| StateError::Json {
            path: self.path().to_path_buf(),
            column,
            cluster: record.cluster.clone(),
            source,
        };
        let node_ranks: Vec<u32> =
            serde_json::from_str(&ranks).map_err(|e| err("node_ranks", e))?;
        let payload: JobPayload = serde_json::from_str(&payload).map_err(|e| err("payload", e))?;
        record.node_ranks = node_ranks;
        record.has_setup = payload.setup.is_some();
        record.has_run = payload.run.is_some();
        Ok(JobRow {
            record,
            payload,
            updated_at,
        })
    }

    /// Appends a `PENDING` job to the queue of `cluster_hash`; returns its id (one more than
    /// the largest so far).
    pub(crate) fn add_job(&self, job: &NewJob<'_>) -> Result<u64, StateError> {
        let payload = serde_json::to_string(job.payload).unwrap_or_default();
        let now = now_s();
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id: i64 = tx.query_row(
                "SELECT COALESCE(MAX(job_id), 0) + 1 FROM jobs WHERE cluster_hash = ?1",
                [job.cluster_hash],
                |r| r.get(0),
            )?;
            let task_id = sky_exec::gang::task_id(job.run_timestamp, job.cluster, id as u64);
            tx.execute(
                "INSERT INTO jobs (cluster_hash, job_id, cluster, name, status, num_nodes,
                     run_timestamp, task_id, payload, submitted_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'PENDING', ?5, ?6, ?7, ?8, ?9, ?9)",
                params![
                    job.cluster_hash,
                    id,
                    job.cluster,
                    job.name,
                    job.num_nodes,
                    job.run_timestamp,
                    task_id,
                    payload,
                    now
                ],
            )?;
            tx.commit()?;
            Ok(id as u64)
        })
    }

    /// Every job of a cluster incarnation, by id.
    pub(crate) fn job_rows(&self, cluster_hash: &str) -> Result<Vec<JobRow>, StateError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE cluster_hash = ?1 ORDER BY job_id");
        let raws = self.with(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([cluster_hash], from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        raws.into_iter().map(|r| self.decode_job(r)).collect()
    }

    /// One job.
    pub(crate) fn job_row(
        &self,
        cluster_hash: &str,
        job_id: u64,
    ) -> Result<Option<JobRow>, StateError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE cluster_hash = ?1 AND job_id = ?2");
        let raw = self.with(|c| {
            c.query_row(&sql, params![cluster_hash, job_id as i64], from_row)
                .optional()
        })?;
        raw.map(|r| self.decode_job(r)).transpose()
    }

    /// Every job of a cluster incarnation, by id.
    pub fn jobs(&self, cluster_hash: &str) -> Result<Vec<JobRecord>, StateError> {
        Ok(self
            .job_rows(cluster_hash)?
            .into_iter()
            .map(|r| r.record)
            .collect())
    }

    /// How many jobs of the incarnation are pending or occupy nodes.
    pub fn unfinished_jobs(&self, cluster_hash: &str) -> Result<u64, StateError> {
        let n: i64 = self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE cluster_hash = ?1
                 AND status IN ('PENDING', 'SETTING_UP', 'RUNNING', 'CANCELLING')",
                [cluster_hash],
                |r| r.get(0),
            )
        })?;
        Ok(n.max(0) as u64)
    }

    /// FIFO gang scheduling in one transaction: takes pending jobs in id order while the
    /// first one fits on the nodes no active job uses (lowest free ranks first), marks each
    /// `SETTING_UP` (when it runs a setup) or `RUNNING`, and returns them. A job needing more
    /// nodes than the cluster has is failed at once.
    pub(crate) fn claim_pending(
        &self,
        cluster_hash: &str,
        cluster_nodes: u32,
    ) -> Result<Vec<JobRow>, StateError> {
        let now = now_s();
        let rows = self.job_rows(cluster_hash)?;
        let pending_ids: Vec<u64> = rows
            .iter()
            .filter(|r| r.record.status == JobStatus::Pending)
            .map(|r| r.record.job_id)
            .collect();
        if pending_ids.is_empty() {
            return Ok(Vec::new());
        }
        let claimed: Vec<u64> = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Re-read inside the transaction: another process may have claimed meanwhile.
            let mut busy = BTreeSet::new();
            let mut pending: Vec<(u64, u32, bool)> = Vec::new();
            {
                let mut st = tx.prepare(
                    "SELECT job_id, status, num_nodes, node_ranks, payload FROM jobs
                     WHERE cluster_hash = ?1 AND status IN ('PENDING', 'SETTING_UP', 'RUNNING', 'CANCELLING')
                     ORDER BY job_id",
                )?;
                let mut q = st.query([cluster_hash])?;
                while let Some(r) = q.next()? {
                    let id: i64 = r.get(0)?;
                    let status: String = r.get(1)?;
                    let n: i64 = r.get(2)?;
                    if status == "PENDING" {
                        let payload: String = r.get(4)?;
                        let has_setup = serde_json::from_str::<JobPayload>(&payload)
                            .map(|p| p.setup.is_some())
                            .unwrap_or(false);
                        pending.push((id as u64, n.clamp(0, i64::from(u32::MAX)) as u32, has_setup));
                    } else {
                        let ranks: String = r.get(3)?;
                        let ranks: Vec<u32> = serde_json::from_str(&ranks).unwrap_or_default();
                        busy.extend(ranks);
                    }
                }
            }
            let mut claimed = Vec::new();
            for (id, need, has_setup) in pending {
                if need > cluster_nodes {
                    tx.execute(
                        "UPDATE jobs SET status = 'FAILED', message = ?3, ended_at = ?4, updated_at = ?4
                         WHERE cluster_hash = ?1 AND job_id = ?2 AND status = 'PENDING'",
                        params![
                            cluster_hash,
                            id as i64,
                            format!("the job needs {need} nodes but the cluster has {cluster_nodes}"),
                            now
                        ],
                    )?;
                    continue;
                }
                let free: Vec<u32> = (0..cluster_nodes).filter(|r| !busy.contains(r)).collect();
                if (free.len() as u32) < need.max(1) {
                    break; // FIFO: nothing behind the head of the queue may overtake it
                }
                let ranks: Vec<u32> = free.into_iter().take(need.max(1) as usize).collect();
                busy.extend(ranks.iter().copied());
                let status = if has_setup { "SETTING_UP" } else { "RUNNING" };
                tx.execute(
                    "UPDATE jobs SET status = ?3, node_ranks = ?4, started_at = ?5, updated_at = ?5
                     WHERE cluster_hash = ?1 AND job_id = ?2 AND status = 'PENDING'",
                    params![
                        cluster_hash,
                        id as i64,
                        status,
                        serde_json::to_string(&ranks).unwrap_or_else(|_| "[]".into()),
                        now
                    ],
                )?;
                claimed.push(id);
            }
            tx.commit()?;
            Ok(claimed)
        })?;
        let mut out = Vec::new();
        for id in claimed {
            if let Some(row) = self.job_row(cluster_hash, id)? {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// Moves a job from one of `t.from` to `t.to`; `false` (and no change) when it is in
    /// another status by now (someone else moved it). Terminal statuses set `ended_at`.
    pub(crate) fn transition_job(
        &self,
        cluster_hash: &str,
        job_id: u64,
        t: &Transition<'_>,
    ) -> Result<bool, StateError> {
        let now = now_s();
        let from: Vec<String> = t.from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "UPDATE jobs SET status = ?3, exit_code = COALESCE(?4, exit_code),
                 message = COALESCE(?5, message), updated_at = ?6,
                 ended_at = CASE WHEN ?7 THEN ?6 ELSE ended_at END
             WHERE cluster_hash = ?1 AND job_id = ?2 AND status IN ({})",
            from.join(", ")
        );
        let n = self.with(|c| {
            c.execute(
                &sql,
                params![
                    cluster_hash,
                    job_id as i64,
                    t.to.as_str(),
                    t.exit_code,
                    t.message,
                    now,
                    t.to.is_terminal()
                ],
            )
        })?;
        Ok(n > 0)
    }

    /// Records the exit code of a job (after a cancellation killed it).
    pub(crate) fn set_job_exit_code(
        &self,
        cluster_hash: &str,
        job_id: u64,
        code: i32,
    ) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET exit_code = ?3 WHERE cluster_hash = ?1 AND job_id = ?2",
                params![cluster_hash, job_id as i64, code],
            )
        })?;
        Ok(())
    }

    /// Deletes the queue of a cluster incarnation (after `down`).
    pub(crate) fn delete_jobs(&self, cluster_hash: &str) -> Result<(), StateError> {
        self.with(|c| c.execute("DELETE FROM jobs WHERE cluster_hash = ?1", [cluster_hash]))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(s: &StateStore, nodes: u32, setup: bool) -> u64 {
        let payload = JobPayload {
            setup: setup.then(|| "echo s".to_string()),
            run: Some("echo r".into()),
            ..JobPayload::default()
        };
        s.add_job(&NewJob {
            cluster: "c",
            cluster_hash: "c-1",
            name: Some("t"),
            num_nodes: nodes,
            run_timestamp: "sky-2024-01-01-00-00-00-000000",
            payload: &payload,
        })
        .unwrap()
    }

    #[test]
    fn fifo_gang_claims() {
        let s = StateStore::open_in_memory().unwrap();
        let a = submit(&s, 2, true);
        let b = submit(&s, 1, false);
        let c = submit(&s, 1, false);
        assert_eq!((a, b, c), (1, 2, 3));
        let got = s.claim_pending("c-1", 2).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].record.status, JobStatus::SettingUp);
        assert_eq!(got[0].record.node_ranks, [0, 1]);
        assert_eq!(got[0].record.task_id, "sky-2024-01-01-00-00-00-000000_c_1");
        // Nothing fits while A holds both nodes.
        assert!(s.claim_pending("c-1", 2).unwrap().is_empty());
        assert!(
            s.transition_job(
                "c-1",
                a,
                &Transition {
                    from: &[JobStatus::SettingUp, JobStatus::Running],
                    to: JobStatus::Succeeded,
                    exit_code: Some(0),
                    message: None,
                }
            )
            .unwrap()
        );
        // A second identical transition finds nothing to move.
        assert!(
            !s.transition_job(
                "c-1",
                a,
                &Transition {
                    from: &[JobStatus::SettingUp, JobStatus::Running],
                    to: JobStatus::Failed,
                    exit_code: Some(1),
                    message: None,
                }
            )
            .unwrap()
        );
        let got = s.claim_pending("c-1", 2).unwrap();
        let ranks: Vec<_> = got.iter().map(|r| r.record.node_ranks.clone()).collect();
        assert_eq!(ranks, [vec![0], vec![1]]);
        let jobs = s.jobs("c-1").unwrap();
        assert_eq!(jobs[0].status, JobStatus::Succeeded);
        assert!(jobs[0].ended_at.is_some());
        assert_eq!(jobs[1].status, JobStatus::Running);
        assert_eq!(s.unfinished_jobs("c-1").unwrap(), 2);
        // A job larger than the cluster fails instead of blocking the queue forever.
        let d = submit(&s, 3, false);
        assert!(s.claim_pending("c-1", 2).unwrap().is_empty());
        let d = s.job_row("c-1", d).unwrap().unwrap().record;
        assert_eq!(d.status, JobStatus::Failed);
        assert!(d.message.unwrap().contains("needs 3 nodes"));
        s.delete_jobs("c-1").unwrap();
        assert!(s.jobs("c-1").unwrap().is_empty());
    }
}
