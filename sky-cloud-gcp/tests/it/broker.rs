//! Through the broker: lifecycles of a spot GPU and a CPU cluster, and failover at the
//! right scope for every error class the server injects at insert time.

use std::sync::Arc;

use sky_cloud_gcp::GcpProvisioner;
use sky_core::error::{ErrorKind, Scope};
use sky_core::resources::{AcceleratorSpec, ResourceSet};
use sky_core::{Resources, Task};
use sky_runtime::broker::PolicyFactory;
use sky_runtime::failover::{Decision, DefaultPolicy};
use sky_runtime::state::{ClusterStatus, StateStore};
use sky_runtime::{Broker, BrokerError, ProvisionOptions};

use crate::fake_gce::{FakeGce, Fault, FaultShape};
use crate::support::*;

fn no_backoff() -> PolicyFactory {
    Arc::new(|| Box::new(DefaultPolicy::without_backoff()))
}

fn broker(gcp: GcpProvisioner) -> Broker {
    Broker::builder()
        .cloud(catalog(), Arc::new(gcp))
        .state(Arc::new(StateStore::open_in_memory().unwrap()))
        .policy(no_backoff())
        .owner("tester")
        .build()
        .expect("broker")
}

fn spot_v100_task() -> Task {
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::named("V100", 1.0));
    r.use_spot = Some(true);
    let mut t = Task::new();
    t.resources = ResourceSet::one(r);
    t
}

fn cpu_task(nodes: u32) -> Task {
    let mut t = Task::new();
    t.num_nodes = nodes;
    t
}

fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').map_or(zone, |(r, _)| r)
}

/// The zone an unhindered launch of `task` lands in.
async fn first_zone(task: &Task) -> String {
    let fake = FakeGce::start().await;
    let b = broker(provisioner(&fake).await);
    let c = b
        .provision(task, "probe", &ProvisionOptions::new())
        .await
        .unwrap();
    let zone = c.launched.unwrap().zone.expect("GCP placements are zonal");
    b.down("probe").await.unwrap();
    zone
}

async fn lifecycle(task: &Task, nodes: usize) -> (FakeGce, serde_json::Value) {
    let fake = FakeGce::start().await;
    let b = broker(provisioner(&fake).await);
    let c = b
        .provision(task, "life", &ProvisionOptions::new())
        .await
        .unwrap();
    assert_eq!(c.status, ClusterStatus::Up);
    assert_eq!(c.nodes.len(), nodes);
    assert_eq!(fake.instances().len(), nodes);
    let head = fake.instances()[0].clone();
    assert!(fake.instances().iter().all(|i| i["status"] == "RUNNING"));

    let refreshed = b.refresh(Some("life")).await.unwrap();
    assert_eq!(refreshed[0].status, ClusterStatus::Up);

    let stopped = b.stop("life").await.unwrap();
    assert_eq!(stopped.status, ClusterStatus::Stopped);
    assert!(fake.instances().iter().all(|i| i["status"] == "TERMINATED"));
    let refreshed = b.refresh(Some("life")).await.unwrap();
    assert_eq!(refreshed[0].status, ClusterStatus::Stopped);

    let started = b.start("life").await.unwrap();
    assert_eq!(started.status, ClusterStatus::Up);
    assert!(fake.instances().iter().all(|i| i["status"] == "RUNNING"));
    // Started in place: the same zone, no new insert.
    assert_eq!(fake.inserts().len(), nodes);

    b.down("life").await.unwrap();
    assert!(fake.instances().is_empty(), "{:?}", fake.instances());
    assert!(fake.firewalls().is_empty());
    assert!(b.status().unwrap().is_empty());
    (fake, head)
}

#[tokio::test]
async fn a_spot_gpu_cluster_lives_and_dies() {
    let (_fake, head) = lifecycle(&spot_v100_task(), 1).await;
    assert_eq!(head["scheduling"]["provisioningModel"], "SPOT");
    let machine = head["machineType"].as_str().unwrap();
    let acc = head["guestAccelerators"][0]["acceleratorType"].as_str();
    if machine.contains("/n1-") {
        assert!(acc.unwrap().ends_with("/nvidia-tesla-v100"), "{head}");
    } else {
        assert!(acc.is_none(), "{head}");
    }
}

#[tokio::test]
async fn a_cpu_cluster_lives_and_dies() {
    let (_fake, head) = lifecycle(&cpu_task(2), 2).await;
    assert!(
        head["guestAccelerators"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
    assert!(head["scheduling"]["provisioningModel"].is_null());
}

/// Provisions `task` with `fault` injected, and returns the fake, the broker's result and
/// the zones of the insert calls.
async fn with_fault(
    task: &Task,
    fault: Fault,
) -> (
    FakeGce,
    Broker,
    Result<sky_runtime::state::ClusterRecord, BrokerError>,
) {
    let fake = FakeGce::start().await;
    fake.fail_inserts(fault);
    let b = broker(provisioner(&fake).await);
    let r = b.provision(task, "c", &ProvisionOptions::new()).await;
    (fake, b, r)
}

fn capacity() -> FaultShape {
    FaultShape::Operation {
        code: "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
        message: "The zone does not have enough resources available to fulfill the request. '(resource type:compute)'.".into(),
        http_status: 503,
    }
}

#[tokio::test]
async fn capacity_blocks_the_zone_and_leaves_nothing_behind() {
    let task = cpu_task(2);
    let zone = first_zone(&task).await;
    // One of the two concurrent inserts fails: the node that made it is torn down.
    let (fake, b, r) = with_fault(&task, Fault::everywhere(capacity()).in_zone(&zone)).await;
    let c = r.unwrap();
    let zones = fake.insert_zones();
    assert_eq!(zones[..2], [zone.clone(), zone.clone()], "{zones:?}");
    let landed = c.launched.unwrap().zone.unwrap();
    assert_ne!(landed, zone);
    assert!(zones[2..].iter().all(|z| *z != zone), "{zones:?}");
    let live = fake.instances();
    assert_eq!(live.len(), 2);
    assert!(
        live.iter()
            .all(|i| i["zone"].as_str().unwrap().ends_with(&landed)),
        "nothing is left in the exhausted zone: {live:?}"
    );
    b.down("c").await.unwrap();
    assert!(fake.instances().is_empty());
}

#[tokio::test]
async fn a_partial_launch_is_torn_down_before_moving_on() {
    let task = cpu_task(2);
    let zone = first_zone(&task).await;
    let (fake, b, r) =
        with_fault(&task, Fault::everywhere(capacity()).in_zone(&zone).times(1)).await;
    let c = r.unwrap();
    let calls = fake.inserts();
    assert_eq!(calls.iter().filter(|c| c.failed).count(), 1, "{calls:?}");
    assert_ne!(c.launched.unwrap().zone.as_deref(), Some(zone.as_str()));
    assert_eq!(fake.instances().len(), 2);
    b.down("c").await.unwrap();
    assert!(fake.instances().is_empty());
}

#[tokio::test]
async fn regional_quota_blocks_the_region() {
    let task = spot_v100_task();
    let zone = first_zone(&task).await;
    let region = region_of(&zone).to_string();
    let (fake, b, r) = with_fault(
        &task,
        Fault::everywhere(FaultShape::Operation {
            code: "QUOTA_EXCEEDED",
            message: format!(
                "Quota 'PREEMPTIBLE_NVIDIA_V100_GPUS' exceeded.  Limit: 0.0 in region {region}."
            ),
            http_status: 403,
        })
        .in_region(&region),
    )
    .await;
    let c = r.unwrap();
    let zones = fake.insert_zones();
    assert_eq!(
        zones.iter().filter(|z| region_of(z) == region).count(),
        1,
        "one try in the region, then it is blocked: {zones:?}"
    );
    assert_ne!(c.launched.unwrap().region, region);
    b.down("c").await.unwrap();
    assert!(fake.instances().is_empty());
}

/// Errors that end the launch: a global quota and permissions block the whole (only) cloud,
/// an invalid request aborts. Each is tried once and leaves nothing.
#[tokio::test]
async fn cloud_wide_and_invalid_errors_stop_after_one_try_and_leave_nothing() {
    let rows = [
        (
            FaultShape::Http {
                status: 403,
                reason: "quotaExceeded",
                message: "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally.".into(),
            },
            ErrorKind::Quota,
            Decision::Block(Scope::Cloud),
        ),
        (
            FaultShape::Http {
                status: 403,
                reason: "forbidden",
                message:
                    "Required 'compute.instances.create' permission for 'projects/sky-test-project'"
                        .into(),
            },
            ErrorKind::Auth,
            Decision::Block(Scope::Cloud),
        ),
        (
            FaultShape::Http {
                status: 403,
                reason: "accessNotConfigured",
                message:
                    "Compute Engine API has not been used in project 1 before or it is disabled."
                        .into(),
            },
            ErrorKind::Auth,
            Decision::Block(Scope::Cloud),
        ),
        (
            FaultShape::Http {
                status: 400,
                reason: "invalid",
                message: "Invalid value for field 'resource.disks[0].initializeParams.sourceImage'"
                    .into(),
            },
            ErrorKind::InvalidRequest,
            Decision::Abort,
        ),
    ];
    for (shape, kind, decision) in rows {
        let (fake, b, r) = with_fault(&spot_v100_task(), Fault::everywhere(shape.clone())).await;
        let err = r.expect_err("nothing can launch");
        let history = err.history().expect("the broker keeps the history");
        assert_eq!(fake.inserts().len(), 1, "{shape:?}: {:?}", fake.inserts());
        let first = &history.attempts[0];
        assert_eq!(
            (first.kind, &first.decision),
            (kind, &decision),
            "{shape:?}"
        );
        assert!(fake.instances().is_empty());
        assert!(b.status().unwrap().is_empty(), "{shape:?}");
    }
}

#[tokio::test]
async fn transient_errors_retry_in_the_same_zone() {
    let task = cpu_task(1);
    let zone = first_zone(&task).await;
    let (fake, b, r) = with_fault(
        &task,
        Fault::everywhere(FaultShape::Http {
            status: 403,
            reason: "rateLimitExceeded",
            message: "Rate Limit Exceeded".into(),
        })
        .times(1),
    )
    .await;
    let c = r.unwrap();
    assert_eq!(fake.insert_zones(), [zone.clone(), zone.clone()]);
    assert_eq!(c.launched.unwrap().zone.as_deref(), Some(zone.as_str()));
    b.down("c").await.unwrap();
    assert!(fake.instances().is_empty());
}
