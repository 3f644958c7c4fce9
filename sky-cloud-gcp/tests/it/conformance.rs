//! The provisioner contract, checked against the local Compute Engine API server.

use std::time::{Duration, Instant};

use sky_core::conformance::{ConformanceConfig, run_all};

use crate::fake_gce::FakeGce;
use crate::support::*;

#[tokio::test]
async fn conformance_against_the_local_api_server() {
    let fake = FakeGce::start().await;
    let gcp = provisioner(&fake).await;
    let catalog = catalog();
    let cfg = ConformanceConfig::from_catalog(catalog.as_ref())
        .expect("the GCP catalog has a CPU offering")
        .with_timeout(Duration::from_secs(20));
    assert!(cfg.zone.is_some(), "GCP offerings are zonal: {cfg:?}");
    let started = Instant::now();
    run_all(&gcp, catalog.as_ref(), &cfg).await.unwrap();
    let took = started.elapsed();
    assert!(
        fake.instances().is_empty(),
        "the suite leaves no instance: {:?}",
        fake.instances()
    );
    assert!(
        fake.firewalls().is_empty(),
        "terminate removes the cluster's firewall rules: {:?}",
        fake.firewalls()
    );
    // Every node was inserted in the configured zone, through the real client.
    let zone = cfg.zone.clone().unwrap();
    assert!(!fake.inserts().is_empty());
    assert!(fake.insert_zones().iter().all(|z| *z == zone));
    eprintln!(
        "conformance against the local Compute Engine server: {took:?}, {} requests",
        fake.requests()
    );
}
