//! # sky-runtime
//!
//! The broker that ties catalogs, the optimizer and cloud backends together: failover
//! provisioning, the SQLite [`state`] store and the cluster lifecycle.
//!
//! # Why a separate crate
//! `sky-optimizer` must stay pure (no I/O, no clock) and each backend crate knows one cloud
//! only; the loop that optimizes, provisions, classifies errors, blocks and re-optimizes needs
//! all of them plus a database, so it lives here (the analogue of kube-runtime). The `sky`
//! facade re-exports it.

pub mod broker;
pub mod error;
pub mod failover;
pub mod lifecycle;
pub mod state;

pub use broker::{Broker, BrokerBuilder, ProvisionOptions};
pub use error::BrokerError;
