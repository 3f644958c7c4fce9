//! # sky
//!
//! An intercloud broker: describe a batch job as a [`Task`] with resource requirements, and
//! sky picks the cheapest or fastest placement across clouds from price catalogs, provisions
//! it with failover, runs it, and tears down what it made.
//!
//! This is the crate applications depend on. It re-exports [`sky_core`] (tasks, catalogs,
//! cloud traits, FakeCloud), [`sky_optimizer`] and [`sky_runtime`] (the [`Broker`]), and each
//! cloud backend behind a feature:
//!
//! | feature | backend |
//! |---|---|
//! | `aws` | `sky_cloud_aws` (EC2) |
//! | `gcp` | `sky_cloud_gcp` (Compute Engine) |
//! | `azure` | `sky_cloud_azure` (ARM) |
//! | `highs` | HiGHS for large DAGs in the optimizer |
//! | `fetch` (default) | download SkyPilot's catalogs into the cache |
//!
//! # Why a facade
//! The backends pull in large SDKs (aws-sdk-ec2 alone takes minutes to build). With one crate
//! per backend behind features, an application pays only for the clouds it enables, and
//! custom schedulers can depend on `sky-core` and `sky-optimizer` alone.

pub use sky_core::*;
pub use sky_optimizer as optimizer;
pub use sky_runtime as runtime;
pub use sky_runtime::{Broker, BrokerError, ProvisionOptions};

#[cfg(feature = "aws")]
pub use sky_cloud_aws as aws;
#[cfg(feature = "azure")]
pub use sky_cloud_azure as azure;
#[cfg(feature = "gcp")]
pub use sky_cloud_gcp as gcp;
