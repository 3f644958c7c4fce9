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
            LaunchEvent::NodesUp { target, nodes, .. } => write!(f, "{nodes} nodes up on {target}"),
            LaunchEvent::FilesSynced { .. } => f.write_str("workdir and file mounts synced"),
            LaunchEvent::JobSubmitted { job_id, .. } => write!(f, "job {job_id} submitted"),
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
