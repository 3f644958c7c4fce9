//! sky's provisioner conformance suite against the local ARM server.

use std::time::Duration;

use sky_core::conformance::{ConformanceConfig, run_all};

use crate::fake_arm::FakeArm;
use crate::{catalog, provisioner};

#[tokio::test]
async fn conformance_suite_passes_against_the_local_arm_server() {
    let fake = FakeArm::start().await;
    let cat = catalog();
    let cfg = ConformanceConfig::from_catalog(&*cat)
        .expect("the Azure catalog has a default CPU offering")
        .with_timeout(Duration::from_secs(20));
    assert_eq!(cfg.zone, None, "Azure is zoneless");
    fake.sku(&cfg.instance_type, "standardTestFamily", 8, "V1,V2");
    let azure = provisioner(&fake).await;
    run_all(&azure, &*cat, &cfg).await.unwrap();
    assert!(fake.groups().is_empty(), "left behind: {:?}", fake.groups());
    let (async_ops, location_ops) = fake.lro_counts();
    assert!(
        async_ops > 0 && location_ops > 0,
        "both LRO protocols exercised: {async_ops} / {location_ops}"
    );
    let made = fake.creations();
    assert!(made.len() >= 7, "the suite created {} VMs", made.len());
    assert!(
        made.iter()
            .all(|c| c.region == cfg.region && c.size == cfg.instance_type && c.failed.is_none())
    );
}
