//! # sky
//!
//! An intercloud broker: describe a batch job as a [`Task`] with resource requirements, and
//! sky picks the cheapest or fastest placement across clouds from price catalogs, provisions
//! it with failover, runs it, and tears down what it made.
//!
//! This is the crate applications depend on. It re-exports [`sky_core`] (tasks, the catalog
//! interface, cloud traits, FakeCloud), [`sky_catalog`] (SkyPilot's CSV catalogs, in
//! [`catalog`] beside the interface), [`sky_optimizer`] and [`sky_runtime`] (the [`Broker`]),
//! and each cloud backend behind a feature:
//!
//! | feature | backend |
//! |---|---|
//! | `aws` | `sky_cloud_aws` (EC2) |
//! | `gcp` | `sky_cloud_gcp` (Compute Engine) |
//! | `azure` | `sky_cloud_azure` (ARM) |
//! | `local` (default) | `sky_cloud_local`: nodes are directories on this machine |
//! | `ssh` | `sky_cloud_ssh`: SSH node pools of existing machines |
//! | `highs` | HiGHS for large DAGs in the optimizer |
//! | `fetch` (default) | download SkyPilot's catalogs into the cache |
//!
//! [`clouds::Clouds`] turns a state directory into the broker `sky launch` uses: the local
//! backend, the SSH node pools, and every cloud `sky check` enabled, each with its catalog;
//! [`clouds::Clouds::catalogs`] and [`clouds::Clouds::backends`] give the same set to plan
//! or list on, and [`clouds::Clouds::check`] checks credentials and the pools' hosts.
//!
//! # Using it from Rust
//! Load the price catalogs of the clouds you use, read a task (or a DAG of them) and ask the
//! optimizer for the cheapest placement:
//!
//! ```no_run
//! use sky::catalog::CatalogSource;
//! use sky::optimizer::{BlockList, Objective, Options, optimize};
//! use sky::{CloudId, Dag};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catalogs = sky::catalog::load(&CatalogSource::from_env(), &[CloudId::Gcp, CloudId::Azure])?;
//! let dag = Dag::from_yaml_file("train.yaml")?;
//! let plan = optimize(&dag, &catalogs, &BlockList::new(), Objective::Cost, &Options::new())?;
//! println!("{}", plan.render_table());
//! # Ok(())
//! # }
//! ```
//!
//! A [`Broker`] then provisions the plan with failover, runs the task and manages what it
//! made. The `sky-examples` package of the repository has complete programs to copy (run one
//! with `cargo run -p sky-examples --example NAME`):
//!
//! - `quickstart`: a 2-node task on this machine (the `local` backend), its logs, teardown;
//! - `byo_cloud`: a [`provision::Provisioner`] and a [`catalog::Catalog`] of your own,
//!   named [`CloudId::Other`], registered with [`BrokerBuilder::cloud_with`];
//! - `custom_policy`: a [`runtime::failover::FailoverPolicy`] of your own
//!   ([`BrokerBuilder::policy`]), on [`fake::FakeCloud`] with scripted faults;
//! - `launch_enabled`: [`clouds::Clouds`], the broker `sky launch` uses;
//! - `aws_moto` (`--features aws`): AWS on the moto emulator.
//!
//! # Why a facade
//! The backends pull in large SDKs (aws-sdk-ec2 alone takes minutes to build). With one crate
//! per backend behind features, an application pays only for the clouds it enables, and
//! custom schedulers can depend on `sky-core` and `sky-optimizer` alone.

pub mod clouds;

// sky-core, by name: the task model, catalogs' types, the provider traits and errors.
#[cfg(feature = "conformance")]
pub use sky_core::conformance;
/// The provider error taxonomy ([`provision::Provisioner`] calls fail with
/// [`provider::Error`]); the error of a [`Broker`] is [`Error`].
pub use sky_core::error as provider;
pub use sky_core::{CloudId, Dag, ResourceSet, Resources, Task};
pub use sky_core::{check, cloud, dag, fake, provision, resources, suggest, task};

/// Price catalogs: the interface and its types ([`sky_core::catalog`]) and SkyPilot's v8 CSV
/// catalogs ([`sky_catalog`]: [`CatalogSource`](catalog::CatalogSource),
/// [`AwsCatalog`](catalog::AwsCatalog), [`GcpCatalog`](catalog::GcpCatalog),
/// [`AzureCatalog`](catalog::AzureCatalog) and [`load`](catalog::load), which loads several
/// clouds' catalogs at once), in one module.
pub mod catalog {
    pub use sky_catalog::*;
    pub use sky_core::catalog::*;
}

pub use sky_exec as exec;
pub use sky_optimizer as optimizer;
pub use sky_runtime as runtime;
/// The error of every [`Broker`] operation.
pub use sky_runtime::BrokerError as Error;
pub use sky_runtime::{Broker, BrokerBuilder, BrokerError, ProvisionOptions};
pub use sky_runtime::{JobRecord, JobStatus, Launched, LogLine, LogsOptions};

#[cfg(feature = "aws")]
pub use sky_cloud_aws as aws;
#[cfg(feature = "azure")]
pub use sky_cloud_azure as azure;
#[cfg(feature = "gcp")]
pub use sky_cloud_gcp as gcp;
#[cfg(feature = "local")]
pub use sky_cloud_local as local;
#[cfg(feature = "ssh")]
pub use sky_cloud_ssh as ssh;
