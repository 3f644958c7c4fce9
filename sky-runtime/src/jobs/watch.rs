//! Reading jobs: their records, waiting for one to end, and following its logs.

use std::time::{Duration, Instant};

use sky_exec::gang::poll_interval;
use sky_exec::{GangJob, LogFollower, LogLine, Phase};

use super::JobRecord;
use super::store::JobRow;
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::events::{EventSink, LaunchEvent};
use crate::state::ClusterRecord;

impl Broker {
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

    pub(super) fn job_row(&self, rec: &ClusterRecord, job_id: u64) -> Result<JobRow, BrokerError> {
        self.state
            .job_row(&rec.cluster_hash, job_id)?
            .ok_or_else(|| BrokerError::JobNotFound {
                cluster: rec.name.clone(),
                job_id,
            })
    }

    /// Advances the queue until job `job_id` has ended, at most `timeout` (bounded polling,
    /// every [`poll_interval`] of the time waited).
    pub async fn wait_job(
        &self,
        name: &str,
        job_id: u64,
        timeout: Duration,
    ) -> Result<JobRecord, BrokerError> {
        let start = Instant::now();
        let deadline = start + timeout;
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
            let interval = poll_interval(start.elapsed());
            tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }

    /// Streams the logs of a job of cluster `name` to `sink` (which job, and whether to follow,
    /// are in `options`): the setup's lines, then the run's, one line at a time,
    /// rank-prefixed when the job has several nodes (`(head, rank=0, ip=...) `,
    /// `(worker1, rank=1, ip=...) `).
    ///
    /// Without [`LogsOptions::follow`], hands over what the logs hold now and returns. With
    /// it, keeps advancing the queue and reading until the job has ended (a pending job is
    /// waited for). Returns the job as last seen.
    pub async fn logs(
        &self,
        name: &str,
        options: &LogsOptions,
        sink: &mut (dyn FnMut(LogLine) + Send),
    ) -> Result<JobRecord, BrokerError> {
        let (job_id, follow) = (options.job_id, options.follow);
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
        let mut followers: Option<(GangJob, Vec<(Phase, LogFollower)>)> = None;
        let mut quiet_since = Instant::now();
        let mut last_status = None;
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
                    fs.push((Phase::Setup, LogFollower::new(&gang, Phase::Setup)));
                }
                if row.payload.run.is_some() {
                    fs.push((Phase::Run, LogFollower::new(&gang, Phase::Run)));
                }
                followers = Some((gang, fs));
            }
            // The job's phase changes, told between the lines of the phases they mark.
            let mut events = match &options.events {
                Some(_) => LaunchEvent::of_job_transition(
                    name,
                    job_id,
                    row.payload.setup.is_some(),
                    last_status,
                    row.record.status,
                ),
                None => Vec::new(),
            };
            last_status = Some(row.record.status);
            let tell = |events: &mut Vec<LaunchEvent>, which: fn(&LaunchEvent) -> bool| {
                let Some(sink) = &options.events else { return };
                for e in events.extract_if(.., |e| which(e)) {
                    sink.emit(e);
                }
            };
            let done = row.record.status.is_terminal() || !follow;
            let mut got_lines = false;
            if let Some((gang, fs)) = &mut followers {
                for (phase, f) in fs.iter_mut() {
                    let setup = *phase == Phase::Setup;
                    if setup {
                        tell(&mut events, |e| {
                            matches!(e, LaunchEvent::SetupStarted { .. })
                        });
                    } else {
                        tell(&mut events, |e| matches!(e, LaunchEvent::RunStarted { .. }));
                    }
                    for line in f.poll(gang).await.map_err(|e| self.exec_err(name, e))? {
                        got_lines = true;
                        sink(line);
                    }
                    if done {
                        for line in f.flush() {
                            sink(line);
                        }
                    }
                    if setup {
                        tell(&mut events, |e| {
                            matches!(e, LaunchEvent::SetupFinished { .. })
                        });
                    }
                }
            }
            tell(&mut events, |_| true);
            if done {
                return Ok(row.record);
            }
            // Output keeps the pace up; silence slows it down to at most 500 ms between
            // reads, a tenth of how long it has lasted, so that a job's end is seen soon.
            if got_lines {
                quiet_since = Instant::now();
            }
            tokio::time::sleep(poll_interval(quiet_since.elapsed())).await;
        }
    }
}

/// Which logs [`Broker::logs`] streams, and how.
///
/// ```
/// use sky_runtime::jobs::LogsOptions;
/// let latest_followed = LogsOptions::new().follow(true);
/// let job_3_now = LogsOptions::new().job(3);
/// assert_eq!(job_3_now.job_id, Some(3));
/// assert!(latest_followed.follow && !job_3_now.follow);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct LogsOptions {
    /// The job (default: the cluster's latest).
    pub job_id: Option<u64>,
    /// Keep streaming until the job has ended (default: what the logs hold now).
    pub follow: bool,
    /// Where the job's phase changes go while it is followed: setup started and finished,
    /// run started, job finished ([`LaunchEvent`]), each between the log lines it marks.
    pub events: Option<EventSink>,
}

impl LogsOptions {
    /// The latest job's logs as they are now.
    pub fn new() -> Self {
        LogsOptions::default()
    }

    /// The logs of job `job_id`.
    pub fn job(mut self, job_id: u64) -> Self {
        self.job_id = Some(job_id);
        self
    }

    /// The logs of job `job_id`, or of the latest job when `None`.
    pub fn job_or_latest(mut self, job_id: Option<u64>) -> Self {
        self.job_id = job_id;
        self
    }

    /// Whether to keep streaming until the job has ended.
    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }

    /// Sends the job's phase changes to `f` while following (see [`LogsOptions::events`]).
    ///
    /// ```
    /// use sky_runtime::events::LaunchEvent;
    /// use sky_runtime::jobs::LogsOptions;
    /// let opts = LogsOptions::new()
    ///     .follow(true)
    ///     .with_events(|e: &LaunchEvent| eprintln!("{e}"));
    /// assert!(opts.events.is_some());
    /// ```
    pub fn with_events(mut self, f: impl Fn(&LaunchEvent) + Send + Sync + 'static) -> Self {
        self.events = Some(EventSink::new(f));
        self
    }
}
