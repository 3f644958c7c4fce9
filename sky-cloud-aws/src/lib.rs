//! # sky-cloud-aws
//!
//! sky's AWS backend: provisioning on EC2 through `aws-sdk-ec2`.
//!
//! - [`AwsBuilder`] gathers the configuration ([`AwsBuilder::from_env`]: profile, regions,
//!   endpoint override; retry attempts and backoff, timeouts), checks credentials for
//!   `sky check` ([`AwsBuilder::check`] names every source of the default chain it looked
//!   at, never a value, then calls DescribeRegions), and builds an [`AwsProvisioner`].
//! - [`AwsProvisioner`] implements [`sky_core::provision::Provisioner`]. Bootstrap is
//!   idempotent per region: it imports the request's SSH public key as a key pair, makes the
//!   cluster's security group in the default VPC opening port 22 and the task's ports only,
//!   and finds the default VPC's subnet of each zone. `run_instances` launches the missing
//!   ranks one RunInstances call each (instance type, the task's image or the newest Ubuntu
//!   image Canonical publishes in the region, disk size, spot through
//!   `InstanceMarketOptions`), tagged at creation with [`TAG_CLUSTER`], [`TAG_RANK`] and
//!   [`TAG_HEAD`], so nothing created is ever invisible to `query_instances`. Stop, start,
//!   terminate (idempotent, and verified from TerminateInstances' answer) and open ports work
//!   on those tags.
//! - Nothing is made that the broker has not recorded first: the security group is named
//!   `sky-sg-<cluster hash>` ([`provision::security_group_name`]) and tagged with the hash,
//!   and the broker writes the hash and region of an attempt to its state store before
//!   `bootstrap`. Terminate finds the group by that name (so a launch killed after
//!   `bootstrap`, before any instance, leaves nothing), waits for the cluster's instances
//!   to leave `shutting-down` (AWS refuses to delete a group in use), and deletes it, at most
//!   [`provision::GROUP_DELETE_WAIT`]; the broker's teardown retries with backoff.
//! - [`catalog`]: [`AwsProvisioner::catalog_with_zone_names`] turns the catalog's zone ids
//!   (SkyPilot's `aws/vms.csv` names zones `use1-az1`, the same in every account) into this
//!   account's zone names with DescribeAvailabilityZones, and [`ZoneNames`] keeps them
//!   between processes. A builder given a catalog ([`AwsBuilder::catalog`]) builds a
//!   provisioner that carries it, which is how the broker registers AWS.
//!
//! ## Errors
//!
//! One table, [`error::classify`], maps EC2 error codes to sky's
//! [`sky_core::error::ErrorKind`] and [`sky_core::error::Scope`], each arm quoting the AWS
//! documentation; the broker's failover reads only those two:
//!
//! | EC2 code | kind | scope (what failover blocks) |
//! | --- | --- | --- |
//! | `InsufficientInstanceCapacity`, `InsufficientHostCapacity`, `SpotMaxPriceTooLow`, `Unsupported` | capacity | zone |
//! | `VcpuLimitExceeded`, `MaxSpotInstanceCountExceeded`, `InstanceLimitExceeded` | quota | region |
//! | `AuthFailure`, `UnauthorizedOperation`, `ExpiredToken`, `RequestExpired`, ... | auth | cloud |
//! | `RequestLimitExceeded`, `InternalError`, `ServiceUnavailable`, HTTP 5xx | transient (after the SDK's own retries with backoff) | zone |
//! | `InvalidParameterValue`, `InvalidAMIID.NotFound`, ... | invalid request (the broker aborts) | zone |
//!
//! ## Tests run against moto
//!
//! The integration tests (`tests/it/`) run the provisioner conformance suite, the broker
//! lifecycle and fault-injected failover against the `moto` EC2 emulator. Start one and point
//! the tests at it:
//!
//! ```text
//! moto_server -H 127.0.0.1 -p 5000 &
//! SKY_TEST_MOTO_ENDPOINT=http://127.0.0.1:5000 cargo test -p sky-cloud-aws
//! ```
//!
//! Without `SKY_TEST_MOTO_ENDPOINT` the moto tests print a skip line, except under CI (`CI`
//! set), where they fail: `.ci/run` installs a pinned moto and starts it. moto's state
//! changes are instant, it injects no faults, and its spot market is cosmetic, so error
//! paths are driven by wrapping the real provisioner in `sky_core::fake::Faulty`.
//!
//! ## Why a separate crate
//!
//! `aws-sdk-ec2` is one of the largest crates there is (minutes of compile time and
//! hundreds of MB of artefacts); embedders who do not use AWS should not pay for it. The
//! `sky` facade pulls this crate in only with its `aws` feature.

pub mod builder;
pub mod catalog;
pub mod error;
mod image;
pub mod provision;

pub use builder::AwsBuilder;
pub use catalog::ZoneNames;
pub use provision::{AwsProvisioner, TAG_CLUSTER, TAG_HEAD, TAG_RANK};

/// The cloud this crate provisions on.
pub const CLOUD: sky_core::CloudId = sky_core::CloudId::Aws;
