//! What the broker does, as typed events for embedders ([`ProvisionOptions::with_events`]).
//!
//! A custom scheduler or a UI receives each step of a launch as it happens and renders or
//! records it; the library prints nothing. Every event is also a `tracing` event (target
//! `sky::events`, level INFO, the event's fields as JSON in `event`).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use sky_runtime::ProvisionOptions;
//! use sky_runtime::events::LaunchEvent;
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! let opts = ProvisionOptions::new().with_events(move |e: &LaunchEvent| {
//!     sink.lock().unwrap().push(e.clone());
//! });
//! # let _ = opts;
//! ```
//!
//! [`ProvisionOptions::with_events`]: crate::ProvisionOptions::with_events

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use sky_core::CloudId;
use sky_core::error::{ErrorKind, Scope};

use crate::failover::Decision;

/// Where an attempt is aimed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    /// The cloud.
    pub cloud: CloudId,
    /// The region.
    pub region: String,
    /// The zone, for clouds with zones.
    pub zone: Option<String>,
    /// The instance type.
    pub instance_type: String,
    /// Spot instances.
    pub spot: bool,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cloud, self.region)?;
        if let Some(z) = &self.zone {
            write!(f, "/{z}")?;
        }
        write!(
            f,
            " {}{}",
            self.instance_type,
            if self.spot { " [spot]" } else { "" }
        )
    }
}

/// One step of a launch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LaunchEvent {
    /// The optimizer chose where to try next (once per round of the failover loop).
    Optimized {
        /// The cluster.
        cluster: String,
        /// The chosen placement (its zone is the first to try, if one is fixed).
        target: Target,
        /// Its price per node-hour in USD.
        hourly_price: f64,
        /// The nodes asked for.
        num_nodes: u32,
    },
    /// A provider attempt starts.
    AttemptStarted {
        /// The cluster.
        cluster: String,
        /// Attempts so far in this launch, this one included.
        number: u32,
        /// Where.
        target: Target,
    },
    /// A provider attempt failed, and what the failover decided.
    AttemptFailed {
        /// The cluster.
        cluster: String,
        /// Its number.
        number: u32,
        /// Where.
        target: Target,
        /// The error's kind.
        kind: ErrorKind,
        /// How much it rules out.
        scope: Scope,
        /// The provider's code.
        code: Option<String>,
        /// The message.
        message: String,
        /// What follows.
        decision: Decision,
    },
    /// Every node is running.
    NodesUp {
        /// The cluster.
        cluster: String,
        /// Where it landed.
        target: Target,
        /// How many nodes.
        nodes: u32,
    },
    /// The workdir and file mounts are on every node.
    FilesSynced {
        /// The cluster.
        cluster: String,
    },
    /// The task was submitted as a job.
    JobSubmitted {
        /// The cluster.
        cluster: String,
        /// The job.
        job_id: u64,
    },
    /// The job's `setup` started on its nodes (reported while its logs are followed with
    /// [`crate::LogsOptions::with_events`]).
    SetupStarted {
        /// The cluster.
        cluster: String,
        /// The job.
        job_id: u64,
    },
    /// The job's `setup` ended on every node: `succeeded` when each exited 0 (the job then
    /// runs), else the job is `FAILED_SETUP`.
    SetupFinished {
        /// The cluster.
        cluster: String,
        /// The job.
        job_id: u64,
        /// Whether every node's setup exited 0.
        succeeded: bool,
    },
    /// The job's `run` started on its nodes.
    RunStarted {
        /// The cluster.
        cluster: String,
        /// The job.
        job_id: u64,
    },
    /// The job ended.
    JobFinished {
        /// The cluster.
        cluster: String,
        /// The job.
        job_id: u64,
        /// How it ended.
        status: crate::jobs::JobStatus,
    },
}

impl LaunchEvent {
    /// The events that a job's status moving from `from` (`None`: not seen yet) to `to`
    /// stands for, in order. A job seen first when already past a phase reports the phases
    /// it went through (`None` → `RUNNING` with a setup: setup started, finished, run
    /// started), so that a follower that looked late still tells the whole story.
    pub(crate) fn of_job_transition(
        cluster: &str,
        job_id: u64,
        has_setup: bool,
        from: Option<crate::jobs::JobStatus>,
        to: crate::jobs::JobStatus,
    ) -> Vec<LaunchEvent> {
        use crate::jobs::JobStatus as S;
        #[derive(Clone, Copy, PartialEq)]
        enum M {
            SetupStarted,
            SetupDone(bool),
            RunStarted,
            Finished(S),
        }
        // What has happened to a job by the time it is in `s`, in order; `before` is what
        // had happened when it was last seen (a cancel adds no phase).
        fn milestones(s: S, has_setup: bool, before: &[M]) -> Vec<M> {
            let setup = |ok: bool| {
                if has_setup {
                    vec![M::SetupStarted, M::SetupDone(ok)]
                } else {
                    Vec::new()
                }
            };
            match s {
                S::Pending => Vec::new(),
                S::SettingUp => vec![M::SetupStarted],
                S::Running => [setup(true), vec![M::RunStarted]].concat(),
                S::Succeeded | S::Failed => {
                    [setup(true), vec![M::RunStarted, M::Finished(s)]].concat()
                }
                S::FailedSetup => vec![M::SetupStarted, M::SetupDone(false), M::Finished(s)],
                S::Cancelling => before.to_vec(),
                S::Cancelled => [before, &[M::Finished(s)]].concat(),
            }
        }
        let seen = from.map_or_else(Vec::new, |f| milestones(f, has_setup, &[]));
        let now = milestones(to, has_setup, &seen);
        if !now.starts_with(&seen) {
            return Vec::new();
        }
        let c = cluster.to_string();
        now[seen.len()..]
            .iter()
            .map(|m| match *m {
                M::SetupStarted => LaunchEvent::SetupStarted {
                    cluster: c.clone(),
                    job_id,
                },
                M::SetupDone(succeeded) => LaunchEvent::SetupFinished {
                    cluster: c.clone(),
                    job_id,
                    succeeded,
                },
                M::RunStarted => LaunchEvent::RunStarted {
                    cluster: c.clone(),
                    job_id,
                },
                M::Finished(status) => LaunchEvent::JobFinished {
                    cluster: c.clone(),
                    job_id,
                    status,
                },
            })
            .collect()
    }
}

impl fmt::Display for LaunchEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchEvent::Optimized {
                target,
                hourly_price,
                num_nodes,
                ..
            } => write!(
                f,
                "chose {num_nodes}x {target} at ${:.4}/h per node",
                hourly_price
            ),
            LaunchEvent::AttemptStarted { number, target, .. } => {
                write!(f, "attempt {number}: launching on {target}")
            }
            LaunchEvent::AttemptFailed {
                number,
                kind,
                code,
                message,
                decision,
                ..
            } => {
                let decision = match decision {
                    Decision::Retry { after } => format!("retrying in {after:?}"),
                    Decision::Block(s) => format!("skipping this {s}"),
                    Decision::Abort => "giving up".to_string(),
                };
                write!(
                    f,
                    "attempt {number} failed: {kind}{}: {message}; {decision}",
                    code.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default()
                )
            }
            LaunchEvent::NodesUp { target, nodes, .. } => write!(
                f,
                "{nodes} node{} up on {target}",
                if *nodes == 1 { "" } else { "s" }
            ),
            LaunchEvent::FilesSynced { .. } => f.write_str("workdir and file mounts synced"),
            LaunchEvent::JobSubmitted { job_id, .. } => write!(f, "job {job_id} submitted"),
            LaunchEvent::SetupStarted { job_id, .. } => write!(f, "job {job_id}: setup started"),
            LaunchEvent::SetupFinished {
                job_id, succeeded, ..
            } => write!(
                f,
                "job {job_id}: setup {}",
                if *succeeded { "finished" } else { "failed" }
            ),
            LaunchEvent::RunStarted { job_id, .. } => write!(f, "job {job_id}: run started"),
            LaunchEvent::JobFinished { job_id, status, .. } => {
                write!(f, "job {job_id}: {status}")
            }
        }
    }
}

/// Receives the events of a launch ([`crate::ProvisionOptions::with_events`]).
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(&LaunchEvent) + Send + Sync>);

impl EventSink {
    /// Calls `f` with every event.
    pub fn new(f: impl Fn(&LaunchEvent) + Send + Sync + 'static) -> Self {
        EventSink(Arc::new(f))
    }

    pub(crate) fn emit(&self, event: LaunchEvent) {
        emit_trace(&event);
        (self.0)(&event);
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventSink(..)")
    }
}

/// The event as a `tracing` event, for runs without a sink too.
pub(crate) fn emit_trace(event: &LaunchEvent) {
    let json = serde_json::to_string(event).unwrap_or_default();
    tracing::info!(target: "sky::events", event = %json, "{event}");
}

/// Emits to `sink` when there is one, else to `tracing` only.
pub(crate) fn emit(sink: Option<&EventSink>, event: LaunchEvent) {
    match sink {
        Some(s) => s.emit(event),
        None => emit_trace(&event),
    }
}

#[cfg(test)]
mod tests {
    use super::LaunchEvent;
    use crate::jobs::JobStatus as S;

    fn names(from: Option<S>, to: S, setup: bool) -> Vec<String> {
        LaunchEvent::of_job_transition("c", 1, setup, from, to)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_job_status_change_stands_for_the_phases_it_passed() {
        assert_eq!(
            names(None, S::Succeeded, true),
            [
                "job 1: setup started",
                "job 1: setup finished",
                "job 1: run started",
                "job 1: SUCCEEDED"
            ]
        );
        assert_eq!(
            names(Some(S::SettingUp), S::Running, true),
            ["job 1: setup finished", "job 1: run started"]
        );
        assert_eq!(
            names(Some(S::SettingUp), S::FailedSetup, true),
            ["job 1: setup failed", "job 1: FAILED_SETUP"]
        );
        assert_eq!(
            names(None, S::Running, false),
            ["job 1: run started"],
            "no setup, no setup events"
        );
        assert_eq!(
            names(Some(S::Pending), S::Cancelled, true),
            ["job 1: CANCELLED"]
        );
        assert_eq!(
            names(Some(S::Running), S::Cancelled, false),
            ["job 1: CANCELLED"]
        );
        assert!(names(Some(S::Running), S::Running, true).is_empty());
        assert!(names(Some(S::Pending), S::Pending, true).is_empty());
        assert!(names(Some(S::Running), S::Cancelling, true).is_empty());
    }
}
