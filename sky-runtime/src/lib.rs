//! # sky-runtime
//!
//! The broker that ties catalogs, the optimizer and cloud backends together: failover
//! provisioning, the SQLite [`state`] store, the cluster lifecycle, and running tasks on
//! clusters: each cluster's [`jobs`] queue, reached through a [`NodeConnector`] per cloud.
//!
//! # Why a separate crate
//! `sky-optimizer` must stay pure (no I/O, no clock) and each backend crate knows one cloud
//! only; the loop that optimizes, provisions, classifies errors, blocks and re-optimizes needs
//! all of them plus a database, so it lives here (the analogue of kube-runtime). The `sky`
//! facade re-exports it.

pub mod broker;
pub use sky_exec::connector;
pub mod error;
pub mod events;
pub mod failover;
pub mod jobs;
pub mod lifecycle;
mod precheck;
pub mod state;

pub use broker::{Broker, BrokerBuilder, ProvisionOptions};
pub use connector::{DirConnector, NodeConnector, SshConnector};
pub use error::BrokerError;
pub use jobs::{JobRecord, JobStatus, Launched, LogsOptions};
pub use sky_exec::{GangNode, LogLine};
