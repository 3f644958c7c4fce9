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
