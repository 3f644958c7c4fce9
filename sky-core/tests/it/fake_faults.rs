//! Scripted faults, seeded chaos, and `Faulty<P>` around any provisioner.

use std::collections::BTreeSet;
use std::time::Duration;

use sky_core::catalog::Catalog;
use sky_core::error::{ErrorKind, Scope};
use sky_core::fake::{ChaosConfig, FakeCloud, Fault, Faulty, Op, Outcome};
use sky_core::provision::{InstanceState, LaunchRequest, Provisioner};
use sky_core::resources::Resources;

use crate::fake_cloud::cluster;

fn req(name: &str, region: &str, zone: Option<&str>, ty: &str, n: u32) -> LaunchRequest {
    LaunchRequest::new(cluster(name, region, zone), ty, n)
}

#[tokio::test]
async fn times_limits_a_zonal_capacity_fault() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone("fake-east-1a")
                .kind(ErrorKind::Capacity)
                .code("InsufficientInstanceCapacity")
                .times(2),
        )
        .build();
    let r = req("z", "fake-east-1", Some("fake-east-1a"), "fake.cpu8", 1);
    for _ in 0..2 {
        let e = fake.run_instances(&r).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.scope(), e.code()),
            (
                ErrorKind::Capacity,
                Scope::Zone,
                Some("InsufficientInstanceCapacity")
            )
        );
        assert_eq!(e.placement().zone.as_deref(), Some("fake-east-1a"));
        assert_eq!(e.placement().instance_type.as_deref(), Some("fake.cpu8"));
    }
    assert_eq!(fake.run_instances(&r).await.unwrap().len(), 1);
    // The zone a launch resolves to counts: an unpinned launch lands in 1a too.
    fake.add_fault(Fault::on(Op::RunInstances).zone("fake-east-1a").times(1));
    let unpinned = req("z2", "fake-east-1", None, "fake.cpu8", 1);
    assert_eq!(
        fake.run_instances(&unpinned).await.unwrap_err().kind(),
        ErrorKind::Capacity
    );
    let log = fake.calls_of(Op::RunInstances);
    assert_eq!(
        log.iter()
            .map(|c| (c.is_err(), c.injected))
            .collect::<Vec<_>>(),
        [(true, true), (true, true), (false, false), (true, true)]
    );
    assert!(fake.live_instances().iter().all(|i| i.cluster == "z"));
}

/// A miniature failover loop over the catalog's offerings: block by the error's scope, try
/// the next. The fake's call log then shows the order the loop tried.
async fn failover(fake: &FakeCloud, name: &str) -> Result<String, Vec<String>> {
    let offers = fake.offerings(&Resources::new()).offerings;
    let mut blocked: BTreeSet<String> = BTreeSet::new();
    let mut errors = Vec::new();
    for o in offers.iter().filter(|o| o.instance_type == "fake.cpu8") {
        let zone = o.zone.clone().unwrap_or_default();
        if blocked.contains(&zone) || blocked.contains(&o.region) || blocked.contains("*") {
            continue;
        }
        let r = req(name, &o.region, Some(&zone), &o.instance_type, 1);
        match fake.run_instances(&r).await {
            Ok(_) => return Ok(zone),
            Err(e) => {
                errors.push(e.to_string());
                blocked.insert(match e.scope() {
                    Scope::Zone => zone,
                    Scope::Region => o.region.clone(),
                    Scope::Cloud => "*".to_string(),
                });
            }
        }
    }
    Err(errors)
}

#[tokio::test]
async fn scopes_drive_failover_order() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone("fake-east-1a")
                .kind(ErrorKind::Capacity),
        )
        .fault(
            Fault::on(Op::RunInstances)
                .zone("fake-east-1b")
                .kind(ErrorKind::Quota),
        )
        .build();
    assert_eq!(failover(&fake, "f").await.unwrap(), "fake-west-1a");
    let tried: Vec<String> = fake
        .calls_of(Op::RunInstances)
        .iter()
        .map(|c| c.location())
        .collect();
    assert_eq!(
        tried,
        [
            "fake-east-1/fake-east-1a",
            "fake-east-1/fake-east-1b",
            "fake-west-1/fake-west-1a"
        ],
        "quota blocks the region, so 1c is skipped"
    );

    let down = FakeCloud::builder()
        .fault(Fault::any_op().kind(ErrorKind::Auth).cloud_wide())
        .build();
    let errors = failover(&down, "g").await.unwrap_err();
    assert_eq!(
        errors.len(),
        1,
        "a cloud-wide error ends the search: {errors:?}"
    );
    assert!(down.live_instances().is_empty());
}

#[tokio::test]
async fn filters_on_instance_type_market_and_cluster() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .spot(true)
                .kind(ErrorKind::Capacity)
                .code("SpotMaxPriceTooLow"),
        )
        .fault(
            Fault::on(Op::RunInstances)
                .instance_type("fake.gpu.v100x1")
                .kind(ErrorKind::Quota)
                .scope(Scope::Cloud),
        )
        .fault(
            Fault::on(Op::QueryInstances)
                .cluster("flaky")
                .kind(ErrorKind::Transient)
                .times(1),
        )
        .build();
    let mut spot = req("s", "fake-east-1", None, "fake.cpu2", 1);
    spot.spot = true;
    assert_eq!(
        fake.run_instances(&spot).await.unwrap_err().code(),
        Some("SpotMaxPriceTooLow")
    );
    spot.spot = false;
    fake.run_instances(&spot).await.unwrap();
    let e = fake
        .run_instances(&req("g", "fake-west-1", None, "fake.gpu.v100x1", 1))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.scope()),
        (ErrorKind::Quota, Scope::Cloud),
        "explicit scope overrides the kind's"
    );
    let flaky = cluster("flaky", "fake-east-1", None);
    assert_eq!(
        fake.query_instances(&flaky).await.unwrap_err().kind(),
        ErrorKind::Transient
    );
    assert!(fake.query_instances(&flaky).await.unwrap().is_empty());
    assert!(
        fake.query_instances(&cluster("s", "fake-east-1", None))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn sequences_are_consumed_in_order() {
    let fake = FakeCloud::default();
    let c = cluster("q", "fake-east-1", None);
    fake.run_instances(&req("q", "fake-east-1", None, "fake.cpu2", 1))
        .await
        .unwrap();
    fake.stop_instances(&c).await.unwrap();
    fake.add_fault(Fault::on(Op::StartInstances).sequence([
        Outcome::fail(ErrorKind::Transient),
        Outcome::Pass,
        Outcome::Fail(
            sky_core::fake::Failure::new(ErrorKind::Capacity).code("ZONE_RESOURCE_POOL_EXHAUSTED"),
        ),
    ]));
    assert_eq!(
        fake.start_instances(&c).await.unwrap_err().kind(),
        ErrorKind::Transient
    );
    assert_eq!(
        fake.start_instances(&c).await.unwrap()[0].state,
        InstanceState::Running
    );
    fake.stop_instances(&c).await.unwrap();
    assert_eq!(
        fake.start_instances(&c).await.unwrap_err().code(),
        Some("ZONE_RESOURCE_POOL_EXHAUSTED")
    );
    assert!(fake.start_instances(&c).await.is_ok(), "sequence used up");

    fake.add_fault(
        Fault::on(Op::TerminateInstances)
            .kind(ErrorKind::Transient)
            .times(1),
    );
    fake.add_fault(
        Fault::on(Op::WaitInstances)
            .kind(ErrorKind::Transient)
            .times(1),
    );
    assert!(
        fake.wait_instances(&c, InstanceState::Running, Duration::ZERO)
            .await
            .is_err()
    );
    assert!(fake.terminate_instances(&c).await.is_err());
    assert_eq!(
        fake.live_instances().len(),
        1,
        "a failed terminate leaves the node"
    );
    fake.terminate_instances(&c).await.unwrap();
    assert!(fake.live_instances().is_empty());
    fake.add_fault(Fault::any_op().kind(ErrorKind::Auth));
    fake.clear_faults();
    fake.query_instances(&c).await.unwrap();
}

#[tokio::test]
async fn partial_launch_leaves_visible_nodes_and_the_retry_completes_it() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .after_nodes(2)
                .kind(ErrorKind::Capacity)
                .times(1),
        )
        .build();
    let r = req("p", "fake-east-1", None, "fake.cpu2", 4);
    assert_eq!(
        fake.run_instances(&r).await.unwrap_err().kind(),
        ErrorKind::Capacity
    );
    let seen = fake.query_instances(&r.cluster).await.unwrap();
    assert_eq!(seen.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1]);
    let all = fake.run_instances(&r).await.unwrap();
    assert_eq!(all.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(&all[..2], &seen[..]);
    assert_eq!(fake.instance_count_ever_created(), 4);
}

async fn chaos_trace(seed: u64) -> Vec<Option<ErrorKind>> {
    let fake = FakeCloud::builder()
        .chaos(ChaosConfig {
            seed,
            failure_rate: 0.4,
            kinds: vec![ErrorKind::Capacity, ErrorKind::Transient, ErrorKind::Quota],
        })
        .build();
    for i in 0..40 {
        let r = req(&format!("c{i}"), "fake-east-1", None, "fake.cpu2", 1);
        let _ = fake.bootstrap(&r).await;
        let _ = fake.run_instances(&r).await;
        // Chaos never touches teardown, so cleanup always works.
        fake.terminate_instances(&r.cluster).await.unwrap();
    }
    assert!(fake.live_instances().is_empty());
    fake.calls()
        .iter()
        .filter(|c| c.op != Op::TerminateInstances)
        .map(|c| c.error)
        .collect()
}

#[tokio::test]
async fn chaos_is_reproducible_from_its_seed() {
    let a = chaos_trace(42).await;
    assert_eq!(a, chaos_trace(42).await);
    assert_ne!(a, chaos_trace(43).await);
    let failed = a.iter().filter(|e| e.is_some()).count();
    assert!(
        (16..=48).contains(&failed),
        "rate 0.4 of 80 calls gave {failed}"
    );
    for k in [ErrorKind::Capacity, ErrorKind::Transient, ErrorKind::Quota] {
        assert!(a.contains(&Some(k)), "{k} never drawn");
    }
    let fake = FakeCloud::default();
    fake.set_chaos(Some(ChaosConfig {
        seed: 0,
        failure_rate: 1.0,
        kinds: vec![],
    }));
    assert_eq!(
        fake.bootstrap(&req("x", "fake-east-1", None, "fake.cpu2", 1))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Capacity
    );
    fake.set_chaos(None);
    assert!(
        fake.bootstrap(&req("x", "fake-east-1", None, "fake.cpu2", 1))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn faulty_injects_into_any_provisioner() {
    let fake = FakeCloud::default();
    let p = Faulty::new(fake.clone())
        .fault(
            Fault::on(Op::RunInstances)
                .region("fake-east-1")
                .after_nodes(1)
                .kind(ErrorKind::Capacity)
                .times(1),
        )
        .fault(Fault::on(Op::QueryInstances).instance_type("fake.cpu2"));
    let r = req("w", "fake-east-1", None, "fake.cpu2", 3);
    let e = p.run_instances(&r).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Capacity);
    assert_eq!(
        fake.live_instances().len(),
        1,
        "the partial node exists in the inner cloud"
    );
    // Cluster operations carry no instance type through the wrapper, so that rule never fires.
    assert_eq!(p.query_instances(&r.cluster).await.unwrap().len(), 1);
    assert_eq!(p.run_instances(&r).await.unwrap().len(), 3);
    let log: Vec<(Op, bool)> = p.calls().iter().map(|c| (c.op, c.injected)).collect();
    assert_eq!(
        log,
        [
            (Op::RunInstances, true),
            (Op::QueryInstances, false),
            (Op::RunInstances, false)
        ]
    );
    assert_eq!(p.cloud(), fake.cloud());
    assert_eq!(p.capabilities(), Provisioner::capabilities(&fake));

    p.add_fault(
        Fault::on(Op::TerminateInstances)
            .kind(ErrorKind::Transient)
            .times(1),
    );
    assert!(p.terminate_instances(&r.cluster).await.is_err());
    assert_eq!(fake.live_instances().len(), 3);
    p.terminate_instances(&r.cluster).await.unwrap();
    assert!(p.inner().live_instances().is_empty());
    let chaotic = Faulty::new(p.into_inner()).chaos(ChaosConfig {
        seed: 3,
        failure_rate: 1.0,
        kinds: vec![ErrorKind::Quota],
    });
    assert_eq!(
        chaotic.bootstrap(&r).await.unwrap_err().kind(),
        ErrorKind::Quota
    );
    chaotic.clear_faults();
    chaotic.bootstrap(&r).await.unwrap();
}
