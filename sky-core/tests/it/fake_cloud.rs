//! FakeCloud as a provisioner: lifecycle, modes, capabilities, validation, introspection.

use std::time::Duration;

use sky_core::CloudId;
use sky_core::catalog::Catalog;
use sky_core::error::ErrorKind;
use sky_core::fake::{FakeCloud, Op, SimMode};
use sky_core::provision::{
    Capabilities, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
};
use sky_core::resources::PortRange;

pub(crate) fn cluster(name: &str, region: &str, zone: Option<&str>) -> ClusterRef {
    ClusterRef {
        name: name.into(),
        region: region.into(),
        zone: zone.map(str::to_string),
    }
}

fn ranks(nodes: &[InstanceInfo]) -> Vec<u32> {
    nodes.iter().map(|n| n.rank).collect()
}

fn states(nodes: &[InstanceInfo]) -> Vec<InstanceState> {
    nodes.iter().map(|n| n.state).collect()
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn auto_mode_launches_running_nodes_in_the_cheapest_zone() {
    let fake = FakeCloud::default();
    let c = cluster("a", "fake-east-1", None);
    let nodes = fake
        .run_instances(&LaunchRequest::new(c.clone(), "fake.cpu8", 3))
        .await
        .unwrap();
    assert_eq!(ranks(&nodes), [0, 1, 2]);
    assert_eq!(states(&nodes), [InstanceState::Running; 3]);
    assert!(
        nodes
            .iter()
            .all(|n| n.zone.as_deref() == Some("fake-east-1a"))
    );
    let ips: Vec<&str> = nodes
        .iter()
        .map(|n| n.private_ip.as_deref().unwrap())
        .collect();
    assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    assert!(nodes.iter().all(|n| n.public_ip.is_some()));
    fake.wait_instances(&c, InstanceState::Running, Duration::ZERO)
        .await
        .unwrap();

    let info = fake.cluster_info(&c).await.unwrap();
    assert_eq!(info.head().map(|h| h.id.clone()), Some(nodes[0].id.clone()));
    assert_eq!(
        info.cluster.zone.as_deref(),
        Some("fake-east-1a"),
        "zone filled from the head"
    );
    assert_eq!((info.ssh_user.as_str(), info.ssh_port), ("sky", 22));

    // A second, larger launch creates only the missing rank, in the head's zone.
    let grown = fake
        .run_instances(&LaunchRequest::new(c.clone(), "fake.cpu8", 4))
        .await
        .unwrap();
    assert_eq!(ranks(&grown), [0, 1, 2, 3]);
    assert_eq!(&grown[..3], &nodes[..]);
    assert_eq!(fake.instance_count_ever_created(), 4);
    let again = fake
        .run_instances(&LaunchRequest::new(c.clone(), "fake.cpu8", 4))
        .await
        .unwrap();
    assert_eq!(again, grown);
    assert_eq!(fake.instance_count_ever_created(), 4);

    // The same name in another region is another cluster.
    let other = cluster("a", "fake-west-1", None);
    assert!(fake.query_instances(&other).await.unwrap().is_empty());

    fake.terminate_instances(&c).await.unwrap();
    fake.terminate_instances(&c).await.unwrap();
    assert!(fake.live_instances().is_empty());
    assert_eq!(fake.all_instances().len(), 4);
    assert!(
        fake.all_instances()
            .iter()
            .all(|i| i.info.state == InstanceState::Terminated)
    );
    fake.wait_instances(&c, InstanceState::Terminated, Duration::ZERO)
        .await
        .unwrap();
    let err = fake
        .wait_instances(&c, InstanceState::Running, HOUR)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        fake.cluster_info(&c).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test(start_paused = true)]
async fn explicit_mode_holds_transitions_until_advanced() {
    let fake = FakeCloud::builder().mode(SimMode::Explicit).build();
    let c = cluster("x", "fake-west-1", Some("fake-west-1b"));
    let nodes = fake
        .run_instances(&LaunchRequest::new(c.clone(), "fake.cpu4", 2))
        .await
        .unwrap();
    assert_eq!(states(&nodes), [InstanceState::Pending; 2]);
    assert!(
        nodes
            .iter()
            .all(|n| n.public_ip.is_none() && n.private_ip.is_some())
    );

    // Nobody advances: the wait times out (the paused clock jumps, no real sleep).
    let err = fake
        .wait_instances(&c, InstanceState::Running, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.code(), Some("Timeout"));
    assert!(err.message().contains("timed out"), "{err}");

    // A waiter wakes on the advance notifications, not by polling.
    let waiter = {
        let (fake, c) = (fake.clone(), c.clone());
        tokio::spawn(async move { fake.wait_instances(&c, InstanceState::Running, HOUR).await })
    };
    tokio::task::yield_now().await;
    assert!(fake.advance_instance(&nodes[0].id));
    assert!(!fake.advance_instance(&nodes[0].id), "already running");
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "one node is still pending");
    assert_eq!(fake.advance_cluster(&c), 1);
    waiter.await.unwrap().unwrap();

    fake.stop_instances(&c).await.unwrap();
    let q = fake.query_instances(&c).await.unwrap();
    assert_eq!(states(&q), [InstanceState::Stopping; 2]);
    let err = fake.start_instances(&c).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Transient,
        "cannot start a stopping node"
    );
    assert_eq!(fake.advance(), 2);
    fake.wait_instances(&c, InstanceState::Stopped, Duration::ZERO)
        .await
        .unwrap();
    let started = fake.start_instances(&c).await.unwrap();
    assert_eq!(states(&started), [InstanceState::Pending; 2]);
    assert_eq!(fake.advance(), 2);
    assert_eq!(fake.advance(), 0);
    fake.wait_instances(&c, InstanceState::Running, Duration::ZERO)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn next_transition_lets_a_task_play_the_cloud() {
    let fake = FakeCloud::builder().mode(SimMode::Explicit).build();
    let driver = {
        let fake = fake.clone();
        tokio::spawn(async move {
            loop {
                fake.next_transition().await;
                fake.advance();
            }
        })
    };
    let c = cluster("bg", "fake-east-1", None);
    fake.run_instances(&LaunchRequest::new(c.clone(), "fake.cpu2", 2))
        .await
        .unwrap();
    fake.wait_instances(&c, InstanceState::Running, HOUR)
        .await
        .unwrap();
    fake.stop_instances(&c).await.unwrap();
    fake.wait_instances(&c, InstanceState::Stopped, HOUR)
        .await
        .unwrap();
    driver.abort();
}

#[tokio::test(start_paused = true)]
async fn wait_for_an_unreachable_state_times_out_as_transient() {
    let fake = FakeCloud::default();
    let c = cluster("t", "fake-east-1", None);
    fake.run_instances(&LaunchRequest::new(c.clone(), "fake.cpu2", 1))
        .await
        .unwrap();
    let err = fake
        .wait_instances(&c, InstanceState::Stopped, Duration::from_secs(600))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(
        err.to_string().contains("Running"),
        "names the states it saw: {err}"
    );
}

#[tokio::test]
async fn stop_start_keeps_ids_and_run_resumes_stopped_nodes() {
    let fake = FakeCloud::default();
    let c = cluster("s", "fake-east-1", None);
    let nodes = fake
        .run_instances(&LaunchRequest::new(c.clone(), "fake.cpu2", 2))
        .await
        .unwrap();
    fake.stop_instances(&c).await.unwrap();
    let q = fake.query_instances(&c).await.unwrap();
    assert_eq!(states(&q), [InstanceState::Stopped; 2]);
    assert!(
        q.iter().all(|n| n.public_ip.is_none()),
        "no public IP while stopped"
    );
    let again = fake
        .run_instances(&LaunchRequest::new(c.clone(), "fake.cpu2", 2))
        .await
        .unwrap();
    assert_eq!(states(&again), [InstanceState::Running; 2]);
    assert_eq!(
        again.iter().map(|n| &n.id).collect::<Vec<_>>(),
        nodes.iter().map(|n| &n.id).collect::<Vec<_>>()
    );
    fake.stop_instances(&c).await.unwrap();
    let started = fake.start_instances(&c).await.unwrap();
    assert_eq!(started, nodes);
    assert_eq!(fake.instance_count_ever_created(), 2);
    let unknown = cluster("nope", "fake-east-1", None);
    assert_eq!(
        fake.start_instances(&unknown).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    fake.stop_instances(&unknown).await.unwrap();
}

#[tokio::test]
async fn missing_capabilities_fail_as_unsupported() {
    let mut caps = Capabilities::all();
    caps.stop = false;
    caps.multi_node = false;
    caps.spot = false;
    caps.open_ports = false;
    caps.custom_image = false;
    let fake = FakeCloud::builder().capabilities(caps).build();
    let c = cluster("u", "fake-east-1", None);
    let one = LaunchRequest::new(c.clone(), "fake.cpu2", 1);
    fake.run_instances(&one).await.unwrap();
    assert_eq!(
        fake.stop_instances(&c).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        fake.start_instances(&c).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    let ports = [PortRange { start: 80, end: 80 }];
    assert_eq!(
        fake.open_ports(&c, &ports).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    let two = LaunchRequest::new(cluster("u2", "fake-east-1", None), "fake.cpu2", 2);
    assert_eq!(
        fake.run_instances(&two).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    let mut spot = one.clone();
    spot.spot = true;
    assert_eq!(
        fake.run_instances(&spot).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    let mut image = one.clone();
    image.image_id = Some("img-1".into());
    assert_eq!(
        fake.run_instances(&image).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        fake.live_instances().len(),
        1,
        "failed launches create nothing"
    );

    let mut caps = Capabilities::all();
    caps.max_nodes = Some(2);
    caps.zones = false;
    let fake = FakeCloud::builder().capabilities(caps).build();
    let three = LaunchRequest::new(cluster("m", "fake-east-1", None), "fake.cpu2", 3);
    assert_eq!(
        fake.run_instances(&three).await.unwrap_err().kind(),
        ErrorKind::InvalidRequest
    );
    let zoned = LaunchRequest::new(
        cluster("m", "fake-east-1", Some("fake-east-1a")),
        "fake.cpu2",
        1,
    );
    assert_eq!(
        fake.run_instances(&zoned).await.unwrap_err().kind(),
        ErrorKind::InvalidRequest
    );
    let zoneless = LaunchRequest::new(cluster("m", "fake-east-1", None), "fake.cpu2", 2);
    let nodes = fake.run_instances(&zoneless).await.unwrap();
    assert!(nodes.iter().all(|n| n.zone.is_none()));
}

#[tokio::test]
async fn launches_are_validated_against_the_catalog() {
    let fake = FakeCloud::default();
    let bad = |name: &str, region: &str, zone: Option<&str>, ty: &str, n: u32| {
        LaunchRequest::new(cluster(name, region, zone), ty, n)
    };
    let cases = [
        (
            bad("v1", "fake-east-1", None, "fake.cpu9", 1),
            "did you mean \"fake.cpu",
        ),
        (
            bad("v2", "fake-eu-1", None, "fake.gpu.a100x8", 1),
            "not offered",
        ),
        (bad("v3", "fake-est-1", None, "fake.cpu2", 1), "fake-east-1"),
        (
            bad("v4", "fake-east-1", Some("fake-west-1a"), "fake.cpu2", 1),
            "no zone",
        ),
        (bad("v5", "fake-east-1", None, "fake.cpu2", 0), "at least 1"),
    ];
    for (req, needle) in cases {
        let err = fake.run_instances(&req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle:?}"
        );
        assert_eq!(err.placement().cloud, Some(CloudId::Fake));
    }
    let mut spot = bad(
        "v6",
        "fake-east-1",
        Some("fake-east-1b"),
        "fake.gpu.a100x8",
        1,
    );
    spot.spot = true;
    assert!(
        fake.run_instances(&spot)
            .await
            .unwrap_err()
            .to_string()
            .contains("not offered spot")
    );
    assert_eq!(
        fake.bootstrap(&bad("v7", "mars-1", None, "fake.cpu2", 1))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidRequest
    );
    assert_eq!(fake.instance_count_ever_created(), 0);
}

#[tokio::test]
async fn ports_labels_preemption_and_instance_lookup() {
    let fake = FakeCloud::default();
    let c = cluster("p", "fake-east-1", None);
    let mut req = LaunchRequest::new(c.clone(), "fake.cpu2", 2);
    req.spot = true;
    req.labels.insert("team".into(), "ml".into());
    req.ports = vec![PortRange { start: 22, end: 22 }];
    let nodes = fake.run_instances(&req).await.unwrap();
    assert!(
        nodes
            .iter()
            .all(|n| n.spot && n.zone.as_deref() == Some("fake-east-1b")),
        "spot is cheapest in b"
    );
    fake.open_ports(
        &c,
        &[PortRange {
            start: 8000,
            end: 8010,
        }],
    )
    .await
    .unwrap();
    let live = fake.live_instances();
    assert!(live.iter().all(|i| i.ports
        == [
            PortRange { start: 22, end: 22 },
            PortRange {
                start: 8000,
                end: 8010
            }
        ]));
    assert!(
        live.iter()
            .all(|i| i.labels.get("team").map(String::as_str) == Some("ml") && i.cluster == "p")
    );
    assert_eq!(
        fake.open_ports(&cluster("q", "fake-east-1", None), &[])
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    assert!(fake.preempt(&nodes[1].id));
    assert!(!fake.preempt(&nodes[1].id));
    assert_eq!(
        fake.instance(&nodes[1].id).unwrap().info.state,
        InstanceState::Terminated
    );
    assert_eq!(ranks(&fake.query_instances(&c).await.unwrap()), [0]);
    let healed = fake.run_instances(&req).await.unwrap();
    assert_eq!(ranks(&healed), [0, 1]);
    assert_ne!(
        healed[1].id, nodes[1].id,
        "a preempted node is replaced, not revived"
    );
    assert_eq!(fake.instance_count_ever_created(), 3);
}

#[tokio::test]
async fn same_seed_same_ids_and_the_log_records_placements() {
    async fn ids(seed: u64) -> Vec<String> {
        let fake = FakeCloud::builder().seed(seed).build();
        let c = cluster("d", "fake-west-1", Some("fake-west-1b"));
        let nodes = fake
            .run_instances(&LaunchRequest::new(c, "fake.cpu2", 3))
            .await
            .unwrap();
        nodes.into_iter().map(|n| n.id).collect()
    }
    assert_eq!(ids(1).await, ids(1).await);
    assert_ne!(ids(1).await, ids(2).await);

    let fake = FakeCloud::default();
    let shared = fake.clone();
    let c = cluster("log", "fake-west-1", Some("fake-west-1b"));
    shared
        .bootstrap(&LaunchRequest::new(c.clone(), "fake.cpu2", 1))
        .await
        .unwrap();
    shared
        .run_instances(&LaunchRequest::new(c.clone(), "fake.cpu2", 1))
        .await
        .unwrap();
    shared.query_instances(&c).await.unwrap();
    let _ = shared
        .run_instances(&LaunchRequest::new(c.clone(), "nope", 1))
        .await;
    let calls = fake.calls();
    assert_eq!(
        calls.iter().map(|c| c.op).collect::<Vec<_>>(),
        [
            Op::Bootstrap,
            Op::RunInstances,
            Op::QueryInstances,
            Op::RunInstances
        ]
    );
    assert_eq!(
        calls.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(calls[1].location(), "fake-west-1/fake-west-1b");
    assert_eq!(
        calls[1].placement.instance_type.as_deref(),
        Some("fake.cpu2")
    );
    assert_eq!(
        (calls[1].num_nodes, calls[1].spot, calls[1].error),
        (Some(1), Some(false), None)
    );
    assert_eq!(
        calls[2].placement.instance_type.as_deref(),
        Some("fake.cpu2"),
        "cluster ops carry the cluster's type"
    );
    assert_eq!(
        (calls[3].error, calls[3].injected),
        (Some(ErrorKind::InvalidRequest), false)
    );
    assert_eq!(fake.calls_of(Op::RunInstances).len(), 2);
    fake.clear_calls();
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_fake_can_pose_as_another_cloud() {
    let fake = FakeCloud::builder()
        .cloud(CloudId::Other("fake2".into()))
        .build();
    let as_provisioner: &dyn Provisioner = &fake;
    let as_catalog: &dyn Catalog = &fake;
    assert_eq!(as_provisioner.cloud(), CloudId::Other("fake2".into()));
    assert_eq!(as_catalog.cloud(), CloudId::Other("fake2".into()));
    assert_eq!(as_provisioner.capabilities(), Capabilities::all());
    let c = cluster("o", "fake-east-1", None);
    let err = fake
        .run_instances(&LaunchRequest::new(c, "fake.cpuX", 1))
        .await
        .unwrap_err();
    assert_eq!(err.placement().cloud, Some(CloudId::Other("fake2".into())));
    assert_eq!(fake.mode(), SimMode::Auto);
    let offers = as_catalog.offerings(&Default::default()).offerings;
    assert!(!offers.is_empty());
    assert!(
        offers
            .iter()
            .all(|o| o.cloud == CloudId::Other("fake2".into()))
    );
}
