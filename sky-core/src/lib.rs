//! # sky-core
//!
//! The foundation of sky, an intercloud broker: the types a user describes work with, the
//! catalogs that say what each cloud offers, and the traits every cloud backend implements.
//!
//! - [`task::Task`], [`resources::Resources`] and [`dag::Dag`]: SkyPilot's task YAML, field
//!   for field, plus a builder API for Rust callers.
//! - [`catalog`]: the price catalog interface the optimizer queries ([`catalog::Catalog`]) and
//!   its types; the `sky-catalog` crate implements it over SkyPilot's v8 CSV catalogs.
//! - [`provision::Provisioner`] and [`error::Error`]: the provider interface and the error
//!   whose kind and scope drive failover.
//! - `fake::FakeCloud` (feature `fake`, on by default and always through `sky`): a
//!   deterministic simulated cloud with scripted faults, for tests, examples and offline use.
//! - `conformance` (feature `conformance`): the suite every backend must pass.
//!
//! # Why a separate core crate
//! The optimizer and embedding schedulers need tasks and catalogs but none of the cloud SDKs,
//! which take minutes to compile, and embedders with catalogs of their own need none of the CSV
//! engine (`sky-catalog`). `sky-core` has no HTTP client, no CSV reader and, without the `fake`
//! feature, no random number generator.

pub mod catalog;
pub mod check;
pub mod cloud;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod dag;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod provision;
pub mod resources;
pub mod suggest;
pub mod task;
mod yaml;

pub use cloud::CloudId;
pub use dag::Dag;
pub use resources::{ResourceSet, Resources};
pub use task::Task;
