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
//! | `QUOTA_EXCEEDED` / `quotaExceeded` | what the quota named covers ([`quota`]): the region for `CPUS`, the family for `N2_CPUS`, spot for `PREEMPTIBLE_*`, one GPU for `NVIDIA_T4_GPUS`, the cloud for `CPUS_ALL_REGIONS`, every GPU of the cloud for `GPUS_ALL_REGIONS` |
//! | permission denied, IAM, API not enabled, 401 | the cloud (auth) |
//! | `rateLimitExceeded`, 429, 5xx | nothing: retried (transient) |
//! | invalid arguments (400) | the launch aborts |
//!
//! The quota is read from the operation's `errorDetails[].quotaInfo`, from the `details` of a
//! 403 API error, or from the message (`Quota 'CPUS' exceeded.  Limit: 24.0 in region
//! us-central1.`), and returned with [`Error::with_quota`](sky_core::error::Error::with_quota),
//! so that a quota covering the whole region ends a launch pinned there after one attempt
//! instead of trying every other machine type of the region.
//!
//! Every list follows `nextPageToken` to the last page (`instances.list` and
//! `instances.aggregatedList` are the only lists the backend makes: operations are polled by
//! name, firewalls read by name), so a node on a later page is seen, stopped and deleted.
//!
//! # Pointing at another endpoint
//! Every call goes to `https://compute.googleapis.com` unless [`ENDPOINT_ENV`]
//! (`SKY_GCP_ENDPOINT`) names another root URL, which [`GcpBuilder::from_env`] reads (an
//! empty value is ignored) and [`GcpBuilder::endpoint`] sets in code. The value is the root
//! of the service, without the `/compute/v1` path the client adds:
//!
//! ```text
//! # a sovereign or partner cloud: its own Compute Engine endpoint
//! SKY_GCP_ENDPOINT=https://compute.<universe-domain> GOOGLE_CLOUD_PROJECT=my-project sky check
//! # a private endpoint, a proxy, or a local API server in tests
//! SKY_GCP_ENDPOINT=http://127.0.0.1:8089 sky launch task.yaml
//! ```
//!
//! Only the Compute Engine calls move: credentials are still Application Default
//! Credentials, so for a sovereign cloud they must be issued for that cloud (its ADC file
//! or service-account key). An `https` endpoint must present a certificate the client
//! trusts. The crate's tests build the provisioner with [`GcpBuilder::endpoint`] and
//! [`GcpBuilder::anonymous_credentials`] against their local server; from the CLI the
//! variable reaches such a server the same way, with whatever credentials ADC finds.
//!
//! # How it is tested
//! No Compute Engine emulator exists. The tests therefore run the real
//! `google-cloud-compute-v1` client against a local HTTP server in the test harness that
//! answers with the REST shapes of Google's Compute Engine API reference (Instance,
//! Operation, InstanceList, Firewall and the error bodies), keeps instances per project and
//! zone, moves them through PROVISIONING → RUNNING, STOPPING → TERMINATED, and can inject
//! every error class at insert time, as an HTTP error or as a `DONE` operation with an error,
//! including each quota error shape; it pages its lists when asked to (one instance a page).
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
