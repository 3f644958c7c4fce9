//! status, refresh, stop, start, down, autostop, cost report.

use sky_core::error::ErrorKind;
use sky_core::fake::{FakeCloud, Fault, Op};
use sky_core::provision::InstanceState;
use sky_runtime::BrokerError;
use sky_runtime::state::{AutostopSetting, ClusterStatus};

use crate::common::*;

#[tokio::test]
async fn stop_start_down_roundtrip() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let up = b.provision(&cpu_task(2), "c", &opts()).await.unwrap();
    assert_eq!(up.status, ClusterStatus::Up);
    assert_eq!(up.nodes.len(), 2);
    let zone = up.launched.as_ref().unwrap().zone.clone();

    let stopped = b.stop("c").await.unwrap();
    assert_eq!(stopped.status, ClusterStatus::Stopped);
    assert!(
        fake.live_instances()
            .iter()
            .all(|i| i.info.state == InstanceState::Stopped)
    );

    // Provisioning a stopped cluster starts it where it was.
    let again = b.provision(&cpu_task(2), "c", &opts()).await.unwrap();
    assert_eq!(again.status, ClusterStatus::Up);
    assert_eq!(again.launched.unwrap().zone, zone);
    assert_eq!(
        fake.instance_count_ever_created(),
        2,
        "no new instance for a restart"
    );

    b.down("c").await.unwrap();
    assert!(fake.live_instances().is_empty());
    assert!(b.status().unwrap().is_empty());
    let events: Vec<_> = b
        .state()
        .events("c")
        .unwrap()
        .into_iter()
        .map(|e| e.to)
        .collect();
    assert_eq!(
        events,
        vec![
            Some(ClusterStatus::Init),
            Some(ClusterStatus::Up),
            Some(ClusterStatus::Stopped),
            Some(ClusterStatus::Up),
            None
        ]
    );
}

#[tokio::test]
async fn a_stopped_cluster_never_moves_when_its_zone_is_full() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    b.provision(&cpu_task(1), "c", &opts()).await.unwrap();
    b.stop("c").await.unwrap();
    fake.add_fault(
        Fault::on(Op::StartInstances)
            .kind(ErrorKind::Capacity)
            .code("InsufficientInstanceCapacity"),
    );
    let err = b.start("c").await.unwrap_err();
    assert!(matches!(err, BrokerError::Provider { .. }), "{err}");
    assert_eq!(b.cluster("c").unwrap().status, ClusterStatus::Stopped);
    assert_eq!(fake.instance_count_ever_created(), 1);
    assert!(
        fake.calls_of(Op::RunInstances).len() == 1,
        "no launch elsewhere"
    );
}

#[tokio::test]
async fn refresh_reconciles_preempted_and_vanished_nodes() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let c = b.provision(&cpu_task(2), "pre", &opts()).await.unwrap();
    b.provision(&cpu_task(1), "gone", &opts()).await.unwrap();
    // One node of "pre" is preempted: the cluster is no longer healthy.
    assert!(fake.preempt(&c.nodes[1].id));
    // Every node of "gone" vanishes behind sky's back.
    let gone = b.cluster("gone").unwrap();
    assert!(fake.preempt(&gone.nodes[0].id));
    let after = b.refresh(None).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].name, "pre");
    assert_eq!(after[0].status, ClusterStatus::Init);
    assert_eq!(after[0].nodes.len(), 1);
    assert!(
        b.state()
            .events("gone")
            .unwrap()
            .last()
            .unwrap()
            .reason
            .contains("no instance left")
    );
    b.down("pre").await.unwrap();
    assert!(fake.live_instances().is_empty());
}

#[tokio::test]
async fn autostop_stops_or_downs_idle_clusters() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let s = b.provision(&cpu_task(1), "stopme", &opts()).await.unwrap();
    b.provision(&cpu_task(1), "downme", &opts()).await.unwrap();
    b.provision(&cpu_task(1), "keep", &opts()).await.unwrap();
    b.set_autostop(
        "stopme",
        Some(AutostopSetting {
            idle_minutes: 10,
            down: false,
        }),
    )
    .unwrap();
    b.set_autostop(
        "downme",
        Some(AutostopSetting {
            idle_minutes: 10,
            down: true,
        }),
    )
    .unwrap();
    // Nine minutes later nothing happens; eleven minutes later both act.
    assert!(
        b.enforce_autostop_at(s.last_use_at + 9 * 60)
            .await
            .unwrap()
            .is_empty()
    );
    let acts = b
        .enforce_autostop_at(s.last_use_at + 11 * 60)
        .await
        .unwrap();
    let names: Vec<_> = acts.iter().map(|a| (a.cluster.as_str(), a.down)).collect();
    assert_eq!(names, vec![("downme", true), ("stopme", false)]);
    assert_eq!(b.cluster("stopme").unwrap().status, ClusterStatus::Stopped);
    assert!(matches!(
        b.cluster("downme"),
        Err(BrokerError::NotFound { .. })
    ));
    assert_eq!(b.cluster("keep").unwrap().status, ClusterStatus::Up);
}

#[tokio::test]
async fn cost_report_prices_usage_by_nodes() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let c = b.provision(&cpu_task(2), "c", &opts()).await.unwrap();
    b.down("c").await.unwrap();
    let rows = b.cost_report().unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.num_nodes, 2);
    assert!(!r.live);
    assert_eq!(r.hourly_price, c.launched.unwrap().hourly_price);
    let expect = r.duration_s as f64 / 3600.0 * 2.0 * r.hourly_price;
    assert!((r.cost - expect).abs() < 1e-9);
}

#[tokio::test]
async fn invalid_cluster_names_are_rejected_before_any_call() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    for bad in ["", "Upper", "9lives", "has_underscore", "trailing-"] {
        let err = b.provision(&cpu_task(1), bad, &opts()).await.unwrap_err();
        assert!(
            matches!(err, BrokerError::InvalidName { .. }),
            "{bad}: {err}"
        );
    }
    assert!(fake.calls().is_empty());
}
