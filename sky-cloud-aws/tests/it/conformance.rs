//! sky-core's provisioner conformance suite against moto.

use std::time::{Duration, Instant};

use sky_core::catalog::Catalog;
use sky_core::conformance::{ConformanceConfig, run_all};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_on_moto_in_a_pinned_zone() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let cat = moto_catalog(&p).await;
    let zones = cat
        .regions()
        .into_iter()
        .find(|r| r.name == "us-east-1")
        .expect("us-east-1 in the mapped catalog")
        .zones;
    let zone = zones.first().expect("a zone name").clone();
    assert!(
        zone.starts_with("us-east-1"),
        "zone ids became names: {zones:?}"
    );
    let cfg = ConformanceConfig::new("m6i.xlarge", "us-east-1")
        .with_zone(&zone)
        .with_prefix(unique("conf"))
        .with_timeout(Duration::from_secs(60));
    let t = Instant::now();
    run_all(&p, &cat, &cfg).await.unwrap();
    eprintln!("conformance on moto (pinned zone): {:?}", t.elapsed());
    assert!(live_by_prefix(&p, &cfg.cluster_prefix).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_on_moto_without_a_zone() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let cat = moto_catalog(&p).await;
    let cfg = ConformanceConfig::new("m6i.xlarge", "us-west-2")
        .with_prefix(unique("confz"))
        .with_timeout(Duration::from_secs(60));
    run_all(&p, &cat, &cfg).await.unwrap();
    assert!(live_by_prefix(&p, &cfg.cluster_prefix).await.is_empty());
}
