//! # sky-cloud-aws
//!
//! sky's AWS backend: provisioning on EC2 through `aws-sdk-ec2`, tested against the `moto`
//! EC2 emulator. It will hold `AwsBuilder` (`from_env`, regions, endpoint, retry config), an
//! idempotent per-region bootstrap (key pair, security group opening only SSH and the task's
//! ports, default-VPC subnets), `run_instances` with spot through `InstanceMarketOptions`,
//! tag-based queries, stop/start/terminate, and the EC2 error-code table that maps
//! `InsufficientInstanceCapacity`, `VcpuLimitExceeded`, `AuthFailure`, ... to sky's
//! [`sky_core::error::ErrorKind`] and [`sky_core::error::Scope`].
//!
//! Until that lands, the AWS *catalog* (SkyPilot's `aws/vms.csv` layout) is already served by
//! [`sky_core::catalog`], so plans can include AWS without this crate.

/// The cloud this crate provisions on.
pub const CLOUD: sky_core::CloudId = sky_core::CloudId::Aws;
