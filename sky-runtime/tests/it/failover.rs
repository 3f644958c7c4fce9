//! Failover order and block granularity, per error kind.

use sky_core::CloudId;
use sky_core::error::{ErrorKind, Scope};
use sky_core::fake::{FakeCloud, Fault, Op};
use sky_runtime::BrokerError;
use sky_runtime::failover::Decision;
use sky_runtime::state::ClusterStatus;

use crate::common::*;

/// Where an unhindered launch of the V100 task lands: (region, zone).
async fn first_choice() -> (String, String) {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let c = b.provision(&v100_task(1), "probe", &opts()).await.unwrap();
    let l = c.launched.unwrap();
    (l.region, l.zone.expect("the fake has zones"))
}

#[tokio::test]
async fn capacity_blocks_the_zone_and_moves_on() {
    let (region, zone) = first_choice().await;
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone(&zone)
                .kind(ErrorKind::Capacity)
                .code("InsufficientInstanceCapacity"),
        )
        .build();
    let b = broker(&fake);
    let c = b.provision(&v100_task(1), "c", &opts()).await.unwrap();
    let calls = run_calls(&fake);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0], (region, Some(zone.clone())));
    assert_ne!(calls[1].1.as_deref(), Some(zone.as_str()));
    assert_eq!(c.status, ClusterStatus::Up);
    assert_eq!(live_ids(&fake), owned_ids(&b));
}

#[tokio::test]
async fn quota_blocks_the_region() {
    let (region, _) = first_choice().await;
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .region(&region)
                .kind(ErrorKind::Quota)
                .code("VcpuLimitExceeded"),
        )
        .build();
    let b = broker(&fake);
    let c = b.provision(&v100_task(1), "c", &opts()).await.unwrap();
    let calls = run_calls(&fake);
    assert_eq!(
        calls.iter().filter(|(r, _)| *r == region).count(),
        1,
        "{calls:?}"
    );
    assert_ne!(c.launched.unwrap().region, region);
}

#[tokio::test]
async fn auth_blocks_the_whole_cloud() {
    let a = FakeCloud::builder().cloud(CloudId::Aws).build();
    let f = FakeCloud::default();
    let b = broker_with(
        &[&a, &f],
        std::sync::Arc::new(sky_runtime::state::StateStore::open_in_memory().unwrap()),
    );
    // Find which cloud is tried first, then make it refuse our credentials.
    let first = b
        .provision(&v100_task(1), "probe", &opts())
        .await
        .unwrap()
        .launched
        .unwrap()
        .cloud;
    b.down("probe").await.unwrap();
    let (bad, good) = if first == CloudId::Aws {
        (&a, &f)
    } else {
        (&f, &a)
    };
    bad.clear_calls();
    bad.add_fault(
        Fault::on(Op::RunInstances)
            .cloud_wide()
            .kind(ErrorKind::Auth)
            .code("AuthFailure"),
    );
    let c = b.provision(&v100_task(1), "c", &opts()).await.unwrap();
    assert_eq!(c.launched.unwrap().cloud, good.cloud());
    assert_eq!(
        run_calls(bad).len(),
        1,
        "the bad cloud is tried once, then blocked"
    );
    let h = b.cluster("c").unwrap();
    assert_eq!(h.status, ClusterStatus::Up);
}

#[tokio::test]
async fn invalid_request_aborts_and_leaves_nothing() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .kind(ErrorKind::InvalidRequest)
                .code("InvalidParameterValue"),
        )
        .build();
    let b = broker(&fake);
    let err = b.provision(&v100_task(2), "c", &opts()).await.unwrap_err();
    match &err {
        BrokerError::Aborted { history, .. } => {
            assert_eq!(history.attempts.len(), 1);
            assert_eq!(history.attempts[0].decision, Decision::Abort);
        }
        other => panic!("expected Aborted, got {other}"),
    }
    assert_eq!(run_calls(&fake).len(), 1);
    assert!(fake.live_instances().is_empty());
    assert!(b.status().unwrap().is_empty());
}

#[tokio::test]
async fn transient_errors_retry_in_place_then_block_the_zone() {
    let (_, zone) = first_choice().await;
    // Two transient failures: the third try in the same zone succeeds.
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone(&zone)
                .kind(ErrorKind::Transient)
                .code("RequestLimitExceeded")
                .times(2),
        )
        .build();
    let b = broker(&fake);
    let c = b.provision(&v100_task(1), "c", &opts()).await.unwrap();
    assert_eq!(c.launched.unwrap().zone.as_deref(), Some(zone.as_str()));
    let calls = run_calls(&fake);
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|(_, z)| z.as_deref() == Some(zone.as_str()))
    );

    // Always transient: 1 try + 3 retries in the zone, then elsewhere.
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone(&zone)
                .kind(ErrorKind::Transient),
        )
        .build();
    let b = broker(&fake);
    let c = b.provision(&v100_task(1), "c", &opts()).await.unwrap();
    assert_ne!(c.launched.unwrap().zone.as_deref(), Some(zone.as_str()));
    let calls = run_calls(&fake);
    assert_eq!(
        calls
            .iter()
            .filter(|(_, z)| z.as_deref() == Some(zone.as_str()))
            .count(),
        4
    );
}

#[tokio::test]
async fn exhausting_every_candidate_returns_the_whole_history() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .kind(ErrorKind::Capacity)
                .code("InsufficientInstanceCapacity"),
        )
        .build();
    let b = broker(&fake);
    let err = b.provision(&v100_task(1), "c", &opts()).await.unwrap_err();
    let BrokerError::Unavailable { history, .. } = &err else {
        panic!("expected Unavailable, got {err}")
    };
    // One attempt per (region, zone) offering V100:1 on-demand, each blocked at zone scope.
    let zones: std::collections::BTreeSet<_> = run_calls(&fake).into_iter().collect();
    assert_eq!(history.attempts.len(), zones.len());
    assert!(
        history
            .attempts
            .iter()
            .all(|a| a.decision == Decision::Block(Scope::Zone))
    );
    let text = err.to_string();
    assert!(text.contains("InsufficientInstanceCapacity"), "{text}");
    assert!(
        text.contains("INFRA"),
        "the error prints the history table: {text}"
    );
    assert!(fake.live_instances().is_empty());
    assert!(
        b.status().unwrap().is_empty(),
        "a launch that never got a node leaves no row"
    );
}

#[tokio::test]
async fn partial_failures_are_torn_down_before_moving_on() {
    let (_, zone) = first_choice().await;
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone(&zone)
                .kind(ErrorKind::Capacity)
                .after_nodes(1),
        )
        .build();
    let b = broker(&fake);
    let c = b.provision(&v100_task(3), "c", &opts()).await.unwrap();
    assert_ne!(
        c.launched.as_ref().unwrap().zone.as_deref(),
        Some(zone.as_str())
    );
    assert_eq!(c.nodes.len(), 3);
    assert_eq!(
        fake.instance_count_ever_created(),
        4,
        "one partial node, then three"
    );
    assert_eq!(live_ids(&fake), owned_ids(&b));
}

#[tokio::test]
async fn a_teardown_that_keeps_failing_stops_failover_loudly() {
    let (_, zone) = first_choice().await;
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone(&zone)
                .kind(ErrorKind::Capacity)
                .after_nodes(1),
        )
        .fault(
            Fault::on(Op::TerminateInstances)
                .kind(ErrorKind::Transient)
                .times(3),
        )
        .build();
    let b = broker(&fake);
    let err = b.provision(&v100_task(2), "c", &opts()).await.unwrap_err();
    let BrokerError::TeardownFailed { instances, .. } = &err else {
        panic!("expected TeardownFailed, got {err}")
    };
    assert_eq!(instances.len(), 1);
    // Nothing is forgotten: the leftover is recorded, and `down` removes it.
    assert_eq!(live_ids(&fake), owned_ids(&b));
    assert_eq!(
        run_calls(&fake).len(),
        1,
        "no failover after a failed teardown"
    );
    b.down("c").await.unwrap();
    assert!(fake.live_instances().is_empty());
}

/// The failed attempts of a launch that ended UP are kept with the cluster: where each was
/// aimed, the error and the decision, in the state store (after `down` too).
#[tokio::test]
async fn failed_attempts_of_a_launch_that_ended_up_are_on_record() {
    let (region, zone) = first_choice().await;
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone(&zone)
                .kind(ErrorKind::Capacity)
                .code("InsufficientInstanceCapacity"),
        )
        .build();
    let b = broker(&fake);
    let c = b.provision(&v100_task(1), "c", &opts()).await.unwrap();
    assert_eq!(c.status, ClusterStatus::Up);
    let rec = b.cluster("c").unwrap();
    assert_eq!(rec.failed_attempts.len(), 1, "{rec:?}");
    let a = &rec.failed_attempts[0];
    assert_eq!(a.placement.region.as_deref(), Some(region.as_str()));
    assert_eq!(a.placement.zone.as_deref(), Some(zone.as_str()));
    assert_eq!(
        a.placement.instance_type.as_deref(),
        Some("fake.gpu.v100x1")
    );
    assert!(!a.spot);
    assert_eq!(a.kind, ErrorKind::Capacity);
    assert_eq!(a.scope, Scope::Zone);
    assert_eq!(a.code.as_deref(), Some("InsufficientInstanceCapacity"));
    assert_eq!(a.decision, Decision::Block(Scope::Zone));
    assert!(a.at > 0);
    // In the JSON of `status` too.
    let json = serde_json::to_value(&rec).unwrap();
    assert_eq!(
        json["failed_attempts"][0]["code"],
        "InsufficientInstanceCapacity"
    );
    let hash = rec.cluster_hash.clone();
    b.down("c").await.unwrap();
    assert_eq!(b.state().attempts(&hash).unwrap().len(), 1);
}

/// A region-scoped refusal (AWS: "no Ubuntu image … in us-west-2", InvalidRequest with
/// Scope::Region) blocks that region: the launch ends UP in the next one, with both attempts
/// on record, instead of aborting.
#[tokio::test]
async fn a_region_scoped_invalid_request_moves_to_the_next_region() {
    let (region, _) = first_choice().await;
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .region(&region)
                .kind(ErrorKind::InvalidRequest)
                .scope(Scope::Region)
                .message("no Ubuntu image for x86_64 published by Canonical here"),
        )
        .build();
    let b = broker(&fake);
    let c = b.provision(&v100_task(1), "c", &opts()).await.unwrap();
    let l = c.launched.clone().unwrap();
    assert_ne!(l.region, region);
    let rec = b.cluster("c").unwrap();
    assert_eq!(rec.failed_attempts.len(), 1, "{rec:?}");
    assert_eq!(
        rec.failed_attempts[0].decision,
        Decision::Block(Scope::Region)
    );
    let calls = run_calls(&fake);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].0, region);
    assert_eq!(calls[1].0, l.region);
}

/// A failed teardown is tried again after a pause that doubles (1 s, then 2 s, jittered), not
/// back to back; once it succeeds, failover goes on.
#[tokio::test(start_paused = true)]
async fn teardown_retries_back_off() {
    let (_, zone) = first_choice().await;
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone(&zone)
                .kind(ErrorKind::Capacity)
                .after_nodes(1),
        )
        .fault(
            Fault::on(Op::TerminateInstances)
                .kind(ErrorKind::Transient)
                .times(2),
        )
        .build();
    let b = broker(&fake);
    let start = tokio::time::Instant::now();
    let c = b
        .provision(
            &v100_task(2),
            "c",
            &opts().with_teardown_backoff(std::time::Duration::from_secs(1)),
        )
        .await
        .unwrap();
    let waited = start.elapsed();
    assert_eq!(c.status, ClusterStatus::Up);
    assert!(
        waited >= std::time::Duration::from_secs(3) && waited <= std::time::Duration::from_secs(6),
        "two pauses of 1 s and 2 s, each up to doubled by jitter: {waited:?}"
    );
    assert_eq!(fake.calls_of(Op::TerminateInstances).len(), 3);
}

/// The events of a launch whose first zone has no capacity, in order: the plan, the failed
/// attempt with its decision, the next attempt, the nodes up (a snapshot of the stream).
#[tokio::test]
async fn a_launch_reports_each_step_as_an_event() {
    use sky_runtime::events::LaunchEvent;
    use std::sync::{Arc, Mutex};
    let (region, zone) = first_choice().await;
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone(&zone)
                .kind(ErrorKind::Capacity)
                .code("InsufficientInstanceCapacity")
                .message("no capacity"),
        )
        .build();
    let b = broker(&fake);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = opts().with_events(move |e: &LaunchEvent| sink.lock().unwrap().push(e.clone()));
    let c = b.provision(&v100_task(1), "c", &options).await.unwrap();
    let landed = c.launched.unwrap();
    // Prices aside (the catalog's), the stream is exactly this.
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.to_string().split(" at $").next().unwrap().to_string())
        .collect();
    let other_zone = landed.zone.clone().unwrap();
    let there = format!("fake/{}/{other_zone} fake.gpu.v100x1", landed.region);
    assert_eq!(
        lines,
        [
            format!("chose 1x fake/{region}/{zone} fake.gpu.v100x1"),
            format!("attempt 1: launching on fake/{region}/{zone} fake.gpu.v100x1"),
            "attempt 1 failed: capacity [InsufficientInstanceCapacity]: no capacity; skipping this zone"
                .to_string(),
            format!("chose 1x {there}"),
            format!("attempt 2: launching on {there}"),
            format!("1 node up on {there}"),
        ],
        "{lines:#?}"
    );
    // As JSON lines, for machines.
    let first = serde_json::to_value(&seen.lock().unwrap()[2]).unwrap();
    assert_eq!(first["event"], "attempt_failed");
    assert_eq!(first["kind"], "capacity");
    assert_eq!(first["scope"], "zone");
    assert_eq!(first["target"]["zone"], zone.as_str());
}
