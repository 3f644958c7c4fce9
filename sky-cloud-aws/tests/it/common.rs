//! Shared helpers: the moto endpoint, a provisioner and a catalog pointed at it, broker setup.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use sky_catalog::AwsCatalog;
use sky_cloud_aws::{AwsBuilder, AwsProvisioner, TAG_CLUSTER};
use sky_core::catalog::Catalog;
use sky_core::conformance::ConformanceConfig;
use sky_core::provision::Provisioner;
use sky_core::resources::ResourceSet;
use sky_core::{Resources, Task};
use sky_runtime::Broker;
use sky_runtime::broker::PolicyFactory;
use sky_runtime::failover::DefaultPolicy;

/// The regions the tests use (both are in the AWS fixture catalog).
pub const REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];

/// The moto endpoint, or `None` (with a skip line) when it is not set outside CI. Under CI
/// (`CI` set) a missing endpoint is a failure.
pub fn moto() -> Option<String> {
    match std::env::var("SKY_TEST_MOTO_ENDPOINT") {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "moto is required in CI: SKY_TEST_MOTO_ENDPOINT is not set (.ci/run starts moto_server)"
                );
            }
            eprintln!(
                "skipped: SKY_TEST_MOTO_ENDPOINT is not set (run `moto_server -p 5000` and set it)"
            );
            None
        }
    }
}

/// The moto endpoint, or returns from the test.
macro_rules! moto_or_skip {
    () => {
        match crate::common::moto() {
            Some(e) => e,
            None => return,
        }
    };
}
pub(crate) use moto_or_skip;

/// A builder aimed at moto with test credentials, fast polling and few retries.
pub fn builder(endpoint: &str) -> AwsBuilder {
    AwsBuilder::from_env()
        .endpoint(endpoint)
        .regions(REGIONS)
        .credentials("testing", "testing")
        .poll_interval(Duration::from_millis(50))
        .max_attempts(2)
        .initial_backoff(Duration::from_millis(10))
}

/// A provisioner aimed at moto.
pub async fn provisioner(endpoint: &str) -> AwsProvisioner {
    builder(endpoint).build().await.expect("provisioner")
}

/// SkyPilot's AWS catalog layout: the small fixture of sky-catalog.
pub fn fixture_catalog() -> AwsCatalog {
    let path = sky_catalog::testing::fixture_dir().join("aws/vms.csv");
    AwsCatalog::from_path(path).expect("AWS fixture catalog")
}

/// The fixture catalog with moto's zone names.
pub async fn moto_catalog(p: &AwsProvisioner) -> AwsCatalog {
    p.catalog_with_zone_names(fixture_catalog())
        .await
        .expect("zone names")
}

/// A cluster-name prefix no other test (or earlier run on the same moto) uses.
pub fn unique(tag: &str) -> String {
    let p = ConformanceConfig::unique_prefix();
    format!("{tag}{}", p.trim_start_matches("skyconf"))
}

/// A policy that retries transient errors without waiting.
pub fn no_backoff() -> PolicyFactory {
    Arc::new(|| Box::new(DefaultPolicy::without_backoff()))
}

/// A broker over `provisioner` with the moto catalog, its state in `dir`.
pub fn broker(
    catalog: Arc<dyn Catalog>,
    provisioner: Arc<dyn Provisioner>,
    dir: &std::path::Path,
) -> Broker {
    Broker::builder()
        .cloud(catalog, provisioner)
        .state_dir(dir)
        .expect("state dir")
        .policy(no_backoff())
        .owner("tester")
        .build()
        .expect("broker")
}

/// A CPU task of `n` nodes, spot or not.
pub fn cpu_task(n: u32, spot: bool) -> Task {
    let mut r = Resources::new();
    r.use_spot = Some(spot);
    let mut t = Task::new();
    t.resources = ResourceSet::one(r);
    t.num_nodes = n;
    t
}

/// Ids and states of every instance in the test regions whose `sky-cluster` tag starts with
/// `prefix` and that is not terminated.
pub async fn live_by_prefix(p: &AwsProvisioner, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for region in REGIONS {
        let resp = p
            .client(region)
            .describe_instances()
            .filters(
                Filter::builder()
                    .name(format!("tag:{TAG_CLUSTER}"))
                    .values(format!("{prefix}*"))
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .values("stopping")
                    .values("stopped")
                    .build(),
            )
            .send()
            .await
            .expect("DescribeInstances");
        for r in resp.reservations() {
            for i in r.instances() {
                out.push((
                    i.instance_id().unwrap_or_default().to_owned(),
                    i.state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_owned())
                        .unwrap_or_default(),
                ));
            }
        }
    }
    out.sort();
    out
}
