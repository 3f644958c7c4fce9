//! The broker's errors.

use crate::failover::FailoverHistory;
use crate::state::{ClusterStatus, StateError};

/// Why a broker operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The broker is misconfigured (a cloud that is not enabled, mismatched parts).
    #[error("broker configuration: {0}")]
    Config(String),
    /// A cluster name the clouds would reject.
    #[error("invalid cluster name {name:?}: {message}")]
    InvalidName {
        /// The name.
        name: String,
        /// The rule.
        message: String,
    },
    /// No such cluster.
    #[error("no cluster named {name:?}")]
    NotFound {
        /// The name.
        name: String,
    },
    /// The operation does not apply to the cluster in its current status.
    #[error("cluster {name:?} is {status}: {message}")]
    InvalidState {
        /// The cluster.
        name: String,
        /// Its status.
        status: ClusterStatus,
        /// What is wrong.
        message: String,
    },
    /// Every candidate failed or none fit; the history says what was tried.
    #[error("cannot provision cluster {cluster:?}: {reason}\n{history}")]
    Unavailable {
        /// The cluster.
        cluster: String,
        /// Why the loop stopped.
        reason: String,
        /// Every failed attempt.
        history: FailoverHistory,
        /// How long the launch tried.
        elapsed: std::time::Duration,
        /// The optimizer's error, when it ran out of candidates.
        #[source]
        source: Option<Box<sky_optimizer::OptimizeError>>,
    },
    /// The failover policy aborted (an invalid request fails the same way everywhere).
    #[error("provisioning of cluster {cluster:?} aborted: {error}\n{history}")]
    Aborted {
        /// The cluster.
        cluster: String,
        /// The error that aborted.
        #[source]
        error: sky_core::error::Error,
        /// Every failed attempt.
        history: FailoverHistory,
    },
    /// Instances could not be terminated: failover stopped rather than leak them.
    #[error(
        "cluster {cluster:?}: could not terminate instances {instances:?} ({error}); they are \
         recorded in the state store, retry with `sky down {cluster}`\n{history}"
    )]
    TeardownFailed {
        /// The cluster.
        cluster: String,
        /// Instances still alive.
        instances: Vec<String>,
        /// The last teardown error.
        #[source]
        error: sky_core::error::Error,
        /// Every failed attempt before it.
        history: FailoverHistory,
    },
    /// Running something on a cluster's nodes failed (connecting, syncing files, starting
    /// or reading a job).
    #[error("cluster {cluster:?}: {source}")]
    Exec {
        /// The cluster.
        cluster: String,
        /// What failed on the nodes.
        #[source]
        source: sky_exec::ExecError,
    },
    /// No such job in the cluster's queue.
    #[error("cluster {cluster:?} has no job {job_id}{}", if *job_id == 0 { " (it has no jobs)" } else { "" })]
    JobNotFound {
        /// The cluster.
        cluster: String,
        /// The job id (0 when the latest job was asked for and there is none).
        job_id: u64,
    },
    /// A bounded wait ran out.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The bound.
        after: std::time::Duration,
    },
    /// The task asks for something sky does not implement yet; nothing was provisioned (see
    /// [`Broker::precheck`](crate::Broker::precheck)).
    #[error("{field}: {message}")]
    Refused {
        /// The field path in the task YAML, e.g. `resources.image_id`.
        field: String,
        /// What is refused and what to do instead.
        message: String,
    },
    /// A provider call of a lifecycle operation failed.
    #[error("cluster {cluster:?}: {error}")]
    Provider {
        /// The cluster.
        cluster: String,
        /// The provider's error.
        #[source]
        error: sky_core::error::Error,
    },
}

impl BrokerError {
    /// The failover history, for errors that have one.
    pub fn history(&self) -> Option<&FailoverHistory> {
        match self {
            BrokerError::Unavailable { history, .. }
            | BrokerError::Aborted { history, .. }
            | BrokerError::TeardownFailed { history, .. } => Some(history),
            _ => None,
        }
    }
}
