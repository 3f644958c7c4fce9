//! # sky-cloud-gcp
//!
//! sky's GCP backend: provisioning on Compute Engine through Google's official
//! `google-cloud-compute-v1` client, with Application Default Credentials
//! (`google-cloud-auth`).
//!
//! - [`GcpBuilder`] reads the project and endpoint from the environment
//!   ([`GcpBuilder::from_env`]), checks credentials for `sky check` ([`GcpBuilder::check`])
//!   and builds a [`GcpProvisioner`], sky's [`Provisioner`](sky_core::provision::Provisioner)
//!   on Compute Engine.
//! - Every node is an instance named `<cluster>-<rank>` in the cluster's zone, labelled at
//!   insert time with `sky-cluster` and `sky-rank` ([`naming`]), so a launch that dies half
//!   way leaves nodes that `query_instances` still finds by label filter.
//! - GPUs: N1 hosts get `guestAccelerators` (`V100` → `nvidia-tesla-v100`, see
//!   [`accelerator_type`]); the a2, a3, a4 and g2 families carry their GPUs in the machine
//!   type. GPU nodes use `onHostMaintenance: TERMINATE`. Spot nodes use
//!   `scheduling.provisioningModel: SPOT` with `instanceTerminationAction: STOP`, so a
//!   preempted node keeps its disk and shows as stopped.
//! - The boot disk takes the task's `image_id` or a default image family, the SSH public key
//!   goes into the `ssh-keys` metadata, and one firewall rule per cluster opens port 22 and the
//!   task's ports to the cluster's network tag only.
//! - Inserts, stops, starts and deletes are long-running zone operations, polled to
//!   completion (backoff configurable with [`GcpBuilder::polling_backoff`]). An operation that
//!   finishes `DONE` *with* an error (the usual shape of `ZONE_RESOURCE_POOL_EXHAUSTED`) is a
//!   failure, not a success.
//!
//! # Errors and failover
//! [`error::classify`] is the one table from Compute Engine errors (HTTP error reasons and
//! operation error codes) to sky's error kinds and failover scopes, each arm quoting Google's
//! documentation:
//!
//! | Compute Engine says | sky blocks |
//! | --- | --- |
//! | `ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS)`, "does not have enough resources" | the zone (capacity) |
//! | `QUOTA_EXCEEDED` / `quotaExceeded` | the region; the cloud for global quotas such as `GPUS_ALL_REGIONS` |
//! | permission denied, IAM, API not enabled, 401 | the cloud (auth) |
//! | `rateLimitExceeded`, 429, 5xx | nothing: retried (transient) |
//! | invalid arguments (400) | the launch aborts |
//!
//! # How it is tested
//! No Compute Engine emulator exists. The tests therefore run the real
//! `google-cloud-compute-v1` client against a local HTTP server in the test harness that
//! answers with the REST shapes of Google's Compute Engine API reference (Instance,
//! Operation, InstanceList, Firewall and the error bodies), keeps instances per project and
//! zone, moves them through PROVISIONING → RUNNING, STOPPING → TERMINATED, and can inject
//! every error class at insert time, as an HTTP error or as a `DONE` operation with an error.
//! The conformance suite of `sky_core` and broker-level failover tests run against it in
//! every test run.
//!
//! # Why a separate crate
//! The Compute Engine client is large (tens of seconds of compile even trimmed to the services
//! used here); keeping it in its own crate means users who do not enable GCP never build it,
//! and the rest of sky never depends on Google's types.

mod builder;
pub mod error;
pub mod naming;
mod provision;
pub mod quota;

pub use builder::{DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, ENDPOINT_ENV, GcpBuilder, PROJECT_ENVS};
pub use provision::{GcpProvisioner, accelerator_type, attaches_accelerators};

/// The cloud this crate provisions on.
pub const CLOUD: sky_core::CloudId = sky_core::CloudId::Gcp;
