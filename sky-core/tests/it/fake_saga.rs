//! Saga-style leak tests (omicron's `action_failure_can_unwind`): fail a multi-node launch at
//! every step, check the partial state is visible, clean up, and check nothing leaks.

use std::time::Duration;

use sky_core::error::{Error, ErrorKind};
use sky_core::fake::{ChaosConfig, FakeCloud, Fault, Faulty, Op, SimMode};
use sky_core::provision::{ClusterInfo, InstanceState, LaunchRequest, Provisioner};

use crate::fake_cloud::cluster;

const NODES: u32 = 4;

/// The launch saga a broker runs: bootstrap, run, wait, cluster info.
async fn launch(p: &dyn Provisioner, req: &LaunchRequest) -> Result<ClusterInfo, Error> {
    p.bootstrap(req).await?;
    p.run_instances(req).await?;
    p.wait_instances(
        &req.cluster,
        InstanceState::Running,
        Duration::from_secs(60),
    )
    .await?;
    p.cluster_info(&req.cluster).await
}

/// Each failure point, and how many nodes exist when it fails.
fn failure_points() -> Vec<(String, Fault, usize)> {
    let mut v = vec![(
        "bootstrap".to_string(),
        Fault::on(Op::Bootstrap).kind(ErrorKind::Quota),
        0,
    )];
    for k in 0..NODES {
        v.push((
            format!("run_instances after {k} nodes"),
            Fault::on(Op::RunInstances).after_nodes(k),
            k as usize,
        ));
    }
    v.push((
        "wait_instances".into(),
        Fault::on(Op::WaitInstances).kind(ErrorKind::Transient),
        NODES as usize,
    ));
    v.push((
        "cluster_info".into(),
        Fault::on(Op::ClusterInfo).kind(ErrorKind::Unexpected),
        NODES as usize,
    ));
    v
}

async fn unwinds(p: &dyn Provisioner, live: impl Fn() -> usize, step: &str, partial: usize) {
    let req = LaunchRequest::new(cluster("saga", "fake-east-1", None), "fake.cpu2", NODES);
    let err = launch(p, &req).await.expect_err(step);
    assert!(err.to_string().contains("injected"), "{step}: {err}");
    // Before cleanup, the partial cluster is visible to the caller.
    let seen = p.query_instances(&req.cluster).await.unwrap();
    assert_eq!(
        seen.len(),
        partial,
        "{step}: query_instances before cleanup"
    );
    assert_eq!(
        seen.iter().map(|n| n.rank).collect::<Vec<_>>(),
        (0..partial as u32).collect::<Vec<_>>(),
        "{step}"
    );
    assert_eq!(live(), partial, "{step}: live instances before cleanup");
    // The caller's unwind: terminate (twice, as a retried unwind would).
    p.terminate_instances(&req.cluster).await.unwrap();
    p.terminate_instances(&req.cluster).await.unwrap();
    assert_eq!(live(), 0, "{step}: leaked instances after cleanup");
    assert!(
        p.query_instances(&req.cluster).await.unwrap().is_empty(),
        "{step}"
    );
    // The fault fired once; the saga now completes.
    let info = launch(p, &req)
        .await
        .unwrap_or_else(|e| panic!("{step}: relaunch failed: {e}"));
    assert_eq!(info.instances.len(), NODES as usize, "{step}");
    p.terminate_instances(&req.cluster).await.unwrap();
    assert_eq!(live(), 0, "{step}");
}

#[tokio::test]
async fn every_failure_point_unwinds_without_leaks() {
    for (step, fault, partial) in failure_points() {
        let fake = FakeCloud::builder().fault(fault.times(1)).build();
        unwinds(&fake, || fake.live_instances().len(), &step, partial).await;
        assert_eq!(
            fake.instance_count_ever_created(),
            partial + NODES as usize,
            "{step}"
        );
    }
}

#[tokio::test]
async fn every_failure_point_unwinds_through_faulty() {
    for (step, fault, partial) in failure_points() {
        let fake = FakeCloud::default();
        let p = Faulty::new(fake.clone()).fault(fault.times(1));
        unwinds(&p, || fake.live_instances().len(), &step, partial).await;
    }
}

#[tokio::test]
async fn each_step_is_idempotent() {
    let fake = FakeCloud::default();
    let req = LaunchRequest::new(cluster("rep", "fake-west-1", None), "fake.cpu2", NODES);
    let c = &req.cluster;
    for _ in 0..2 {
        fake.bootstrap(&req).await.unwrap();
    }
    let first = fake.run_instances(&req).await.unwrap();
    assert_eq!(fake.run_instances(&req).await.unwrap(), first);
    for _ in 0..2 {
        fake.wait_instances(c, InstanceState::Running, Duration::ZERO)
            .await
            .unwrap();
    }
    assert_eq!(
        fake.cluster_info(c).await.unwrap(),
        fake.cluster_info(c).await.unwrap()
    );
    assert_eq!(fake.instance_count_ever_created(), NODES as usize);
    for _ in 0..2 {
        fake.terminate_instances(c).await.unwrap();
    }
    assert!(fake.live_instances().is_empty());
}

#[tokio::test(start_paused = true)]
async fn explicit_mode_wait_timeout_unwinds() {
    // Nobody advances: the nodes stay Pending, the wait times out, the caller cleans up.
    let fake = FakeCloud::builder().mode(SimMode::Explicit).build();
    let req = LaunchRequest::new(cluster("slow", "fake-east-1", None), "fake.cpu2", NODES);
    let err = launch(&fake, &req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    let seen = fake.query_instances(&req.cluster).await.unwrap();
    assert!(seen.len() == NODES as usize && seen.iter().all(|n| n.state == InstanceState::Pending));
    fake.terminate_instances(&req.cluster).await.unwrap();
    assert!(fake.live_instances().is_empty());
    assert_eq!(
        fake.advance(),
        0,
        "terminated nodes have nothing left to advance"
    );
}

#[tokio::test]
async fn chaotic_launches_never_leak() {
    let fake = FakeCloud::builder()
        .chaos(ChaosConfig {
            seed: 11,
            failure_rate: 0.3,
            kinds: vec![ErrorKind::Capacity, ErrorKind::Transient],
        })
        .fault(Fault::on(Op::RunInstances).after_nodes(2).times(3))
        .build();
    let (mut ok, mut failed) = (0, 0);
    for i in 0..30 {
        let req = LaunchRequest::new(
            cluster(&format!("ch{i}"), "fake-east-1", None),
            "fake.cpu2",
            NODES,
        );
        match launch(&fake, &req).await {
            Ok(info) => {
                ok += 1;
                assert_eq!(info.instances.len(), NODES as usize);
            }
            Err(_) => {
                failed += 1;
                fake.terminate_instances(&req.cluster).await.unwrap();
            }
        }
    }
    assert!(ok > 0 && failed > 3, "ok {ok}, failed {failed}");
    assert_eq!(
        fake.live_instances().len(),
        ok * NODES as usize,
        "only the successful clusters remain"
    );
    for i in 0..30 {
        fake.terminate_instances(&cluster(&format!("ch{i}"), "fake-east-1", None))
            .await
            .unwrap();
    }
    assert!(fake.live_instances().is_empty());
}
