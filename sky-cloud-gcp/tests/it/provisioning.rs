//! What the provisioner sends to Compute Engine, and how it reads the answers and errors.

use std::time::Duration;

use serde_json::Value;
use sky_cloud_gcp::{DEFAULT_GPU_IMAGE, GcpBuilder};
use sky_core::catalog::Accelerator;
use sky_core::error::{ErrorKind, Scope};
use sky_core::provision::{ClusterRef, InstanceState, LaunchRequest, Provisioner};
use sky_core::resources::PortRange;

use crate::fake_gce::{FakeGce, Fault, FaultShape};
use crate::support::*;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf2 sky@test";

fn cluster(name: &str, zone: &str) -> ClusterRef {
    ClusterRef {
        name: name.into(),
        region: zone.rsplit_once('-').unwrap().0.into(),
        zone: Some(zone.into()),
    }
}

fn metadata(inst: &Value, key: &str) -> Option<String> {
    inst["metadata"]["items"]
        .as_array()?
        .iter()
        .find(|i| i["key"] == key)
        .and_then(|i| i["value"].as_str())
        .map(str::to_string)
}

/// A JSON int64 (the API writes them as strings).
fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

#[tokio::test]
async fn a_spot_v100_node_on_n1_gets_guest_accelerators_spot_scheduling_key_and_firewall() {
    let fake = FakeGce::start().await;
    let gcp = provisioner(&fake).await;
    let c = cluster("gpu-7f3a", "us-central1-a");
    let mut req = LaunchRequest::new(c.clone(), "n1-highmem-8", 1);
    req.accelerator = Some(Accelerator {
        name: "V100".into(),
        count: 1.0,
    });
    req.spot = true;
    req.ssh_public_key = Some(KEY.into());
    req.ports = vec![PortRange {
        start: 8888,
        end: 8888,
    }];
    req.labels.insert("team".into(), "ML".into());
    gcp.bootstrap(&req).await.unwrap();
    let nodes = gcp.run_instances(&req).await.unwrap();
    assert_eq!(nodes.len(), 1);
    let head = &nodes[0];
    assert_eq!(head.rank, 0);
    assert!(head.spot);
    assert_eq!(head.instance_type, "n1-highmem-8");
    assert_eq!(head.zone.as_deref(), Some("us-central1-a"));
    gcp.wait_instances(&c, InstanceState::Running, Duration::from_secs(5))
        .await
        .unwrap();

    let inst = fake.instance("gpu-7f3a-0").expect("the node exists");
    let acc = &inst["guestAccelerators"][0];
    assert_eq!(
        acc["acceleratorType"],
        format!("projects/{PROJECT}/zones/us-central1-a/acceleratorTypes/nvidia-tesla-v100")
    );
    assert_eq!(acc["acceleratorCount"], 1);
    assert_eq!(inst["scheduling"]["provisioningModel"], "SPOT");
    assert_eq!(inst["scheduling"]["onHostMaintenance"], "TERMINATE");
    assert_eq!(inst["labels"]["sky-cluster"], "gpu-7f3a");
    assert_eq!(inst["labels"]["sky-rank"], "0");
    assert_eq!(inst["labels"]["team"], "ml");
    assert_eq!(
        metadata(&inst, "ssh-keys").unwrap(),
        format!("gcpuser:{KEY}")
    );
    let boot = &inst["disks"][0];
    assert_eq!(boot["boot"], true);
    assert_eq!(int(&boot["initializeParams"]["diskSizeGb"]), Some(256));
    assert_eq!(boot["initializeParams"]["sourceImage"], DEFAULT_GPU_IMAGE);
    assert_eq!(inst["tags"]["items"][0], "gpu-7f3a");

    let fws = fake.firewalls();
    assert_eq!(fws.len(), 1, "{fws:?}");
    let fw = &fws[0];
    assert_eq!(fw["direction"], "INGRESS");
    assert_eq!(fw["targetTags"], serde_json::json!(["gpu-7f3a"]));
    assert_eq!(fw["allowed"][0]["IPProtocol"], "tcp");
    assert_eq!(fw["allowed"][0]["ports"], serde_json::json!(["22", "8888"]));

    let info = gcp.cluster_info(&c).await.unwrap();
    let head = info.head().unwrap();
    assert!(head.private_ip.as_deref().unwrap().starts_with("10.128."));
    assert!(head.public_ip.as_deref().unwrap().starts_with("34.1."));
    assert_eq!((info.ssh_user.as_str(), info.ssh_port), ("gcpuser", 22));

    gcp.terminate_instances(&c).await.unwrap();
    assert!(fake.instances().is_empty());
    assert!(fake.firewalls().is_empty());
}

#[tokio::test]
async fn fixed_gpu_families_carry_their_gpus_and_custom_images_are_used() {
    let fake = FakeGce::start().await;
    let gcp = provisioner(&fake).await;
    let c = cluster("a2-c", "us-central1-b");
    let mut req = LaunchRequest::new(c.clone(), "a2-highgpu-1g", 1);
    req.accelerator = Some(Accelerator {
        name: "A100".into(),
        count: 1.0,
    });
    req.image_id = Some("projects/my-proj/global/images/my-image".into());
    req.disk_size_gb = 100;
    gcp.run_instances(&req).await.unwrap();
    let inst = fake.instance("a2-c-0").unwrap();
    assert!(
        inst["guestAccelerators"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "a2 has its GPUs built in: {inst}"
    );
    assert_eq!(inst["scheduling"]["onHostMaintenance"], "TERMINATE");
    assert!(inst["scheduling"]["provisioningModel"].is_null());
    assert_eq!(
        inst["disks"][0]["initializeParams"]["sourceImage"],
        "projects/my-proj/global/images/my-image"
    );
    assert_eq!(
        int(&inst["disks"][0]["initializeParams"]["diskSizeGb"]),
        Some(100)
    );
    assert!(metadata(&inst, "ssh-keys").is_none());
    let nodes = gcp.query_instances(&c).await.unwrap();
    assert!(!nodes[0].spot);
    gcp.terminate_instances(&c).await.unwrap();
}

#[tokio::test]
async fn stop_and_start_go_through_zone_operations() {
    let fake = FakeGce::start().await;
    let gcp = provisioner(&fake).await;
    let c = cluster("ss", "europe-west4-a");
    gcp.run_instances(&LaunchRequest::new(c.clone(), "n2-standard-8", 2))
        .await
        .unwrap();
    gcp.stop_instances(&c).await.unwrap();
    for i in fake.instances() {
        assert_eq!(
            i["status"], "TERMINATED",
            "GCE calls a stopped VM TERMINATED"
        );
    }
    let nodes = gcp.query_instances(&c).await.unwrap();
    assert!(nodes.iter().all(|n| n.state == InstanceState::Stopped));
    // Stopping again touches nothing.
    gcp.stop_instances(&c).await.unwrap();
    let started = gcp.start_instances(&c).await.unwrap();
    assert_eq!(started.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1]);
    assert!(started.iter().all(|n| n.state == InstanceState::Running));
    gcp.terminate_instances(&c).await.unwrap();
    gcp.terminate_instances(&c).await.unwrap();
    assert!(fake.instances().is_empty());
}

#[tokio::test]
async fn a_cluster_without_a_zone_is_found_across_its_region_but_not_launched() {
    let fake = FakeGce::start().await;
    let gcp = provisioner(&fake).await;
    let zoneless = |region: &str| ClusterRef {
        name: "nz".into(),
        region: region.into(),
        zone: None,
    };
    let e = gcp
        .run_instances(&LaunchRequest::new(
            zoneless("us-central1"),
            "n2-standard-8",
            1,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(fake.inserts().is_empty());

    // Nodes launched in a zone are found (aggregated list), stopped, started and deleted
    // through a reference that lost its zone; another region's namesake is left alone.
    gcp.run_instances(&LaunchRequest::new(
        cluster("nz", "us-central1-c"),
        "n2-standard-8",
        2,
    ))
    .await
    .unwrap();
    gcp.run_instances(&LaunchRequest::new(
        cluster("nz", "europe-west4-a"),
        "n2-standard-8",
        1,
    ))
    .await
    .unwrap();
    let c = zoneless("us-central1");
    let nodes = gcp.query_instances(&c).await.unwrap();
    assert_eq!(nodes.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1]);
    assert!(
        nodes
            .iter()
            .all(|n| n.zone.as_deref() == Some("us-central1-c"))
    );
    gcp.stop_instances(&c).await.unwrap();
    gcp.wait_instances(&c, InstanceState::Stopped, Duration::from_secs(5))
        .await
        .unwrap();
    gcp.start_instances(&c).await.unwrap();
    gcp.terminate_instances(&c).await.unwrap();
    assert!(gcp.query_instances(&c).await.unwrap().is_empty());
    let left = fake.instances();
    assert_eq!(left.len(), 1);
    assert!(
        left[0]["zone"]
            .as_str()
            .unwrap()
            .ends_with("europe-west4-a")
    );
    assert_eq!(left[0]["status"], "RUNNING");
}

/// Every error class, injected at insert time, comes back through the real client with the
/// kind and scope of the table in `sky_cloud_gcp::error`.
#[tokio::test]
async fn insert_errors_are_classified_through_the_client() {
    let http = |status, reason, message: &str| FaultShape::Http {
        status,
        reason,
        message: message.into(),
    };
    let op = |code, message: &str| FaultShape::Operation {
        code,
        message: message.into(),
        http_status: 503,
    };
    let rows = [
        (
            op(
                "ZONE_RESOURCE_POOL_EXHAUSTED",
                "The zone 'projects/p/zones/us-east1-b' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.",
            ),
            ErrorKind::Capacity,
            Scope::Zone,
            "ZONE_RESOURCE_POOL_EXHAUSTED",
        ),
        (
            op(
                "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
                "The zone 'projects/p/zones/us-east1-b' does not have enough resources available to fulfill the request. '(resource type:compute)'.",
            ),
            ErrorKind::Capacity,
            Scope::Zone,
            "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
        ),
        (
            op(
                "QUOTA_EXCEEDED",
                "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-east1.",
            ),
            ErrorKind::Quota,
            Scope::Region,
            "QUOTA_EXCEEDED",
        ),
        (
            http(
                403,
                "quotaExceeded",
                "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally.",
            ),
            ErrorKind::Quota,
            Scope::Cloud,
            "quotaExceeded",
        ),
        (
            http(
                503,
                "",
                "The zone 'projects/p/zones/us-east1-b' does not have enough resources available to fulfill the request.",
            ),
            ErrorKind::Capacity,
            Scope::Zone,
            "HTTP 503",
        ),
        (
            http(403, "rateLimitExceeded", "Rate Limit Exceeded"),
            ErrorKind::Transient,
            Scope::Zone,
            "rateLimitExceeded",
        ),
        (
            http(503, "backendError", "Backend Error"),
            ErrorKind::Transient,
            Scope::Zone,
            "backendError",
        ),
        (
            http(
                403,
                "forbidden",
                "Required 'compute.instances.create' permission for 'projects/p/zones/us-east1-b/instances/e-0'",
            ),
            ErrorKind::Auth,
            Scope::Cloud,
            "forbidden",
        ),
        (
            http(
                403,
                "accessNotConfigured",
                "Compute Engine API has not been used in project 1 before or it is disabled.",
            ),
            ErrorKind::Auth,
            Scope::Cloud,
            "accessNotConfigured",
        ),
        (
            http(
                400,
                "invalid",
                "Invalid value for field 'resource.machineType': 'zones/us-east1-b/machineTypes/n2-bogus-8'.",
            ),
            ErrorKind::InvalidRequest,
            Scope::Zone,
            "invalid",
        ),
    ];
    let fake = FakeGce::start().await;
    let gcp = provisioner(&fake).await;
    let c = cluster("e", "us-east1-b");
    for (shape, kind, scope, code) in rows {
        fake.fail_inserts(Fault::everywhere(shape.clone()).times(1));
        let err = gcp
            .run_instances(&LaunchRequest::new(c.clone(), "n2-standard-8", 1))
            .await
            .expect_err("the injected fault fails the insert");
        assert_eq!((err.kind(), err.scope()), (kind, scope), "{shape:?}: {err}");
        assert_eq!(err.code(), Some(code), "{err}");
        assert_eq!(err.placement().zone.as_deref(), Some("us-east1-b"));
        assert!(fake.instances().is_empty(), "{shape:?} left an instance");
    }
}

#[tokio::test]
async fn check_names_its_sources_and_verifies_with_projects_get() {
    let fake = FakeGce::start().await;
    let report = builder(&fake).check().await;
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(text.contains("anonymous credentials"), "{text}");
    assert!(text.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{text}");
    assert!(text.contains("gcloud ADC file"), "{text}");
    assert!(text.contains(PROJECT), "{text}");

    fake.fail_project_get(
        403,
        "forbidden",
        "Required 'compute.projects.get' permission for 'projects/sky-test-project'",
    );
    let report = builder(&fake).check().await;
    assert!(!report.ok(), "{report}");
    assert!(
        report.to_string().contains("projects.get failed"),
        "{report}"
    );

    let report = GcpBuilder::new().anonymous_credentials().check().await;
    assert!(!report.ok());
    assert!(report.to_string().contains("no GCP project"), "{report}");
}

#[tokio::test]
async fn concurrent_launches_of_one_cluster_make_each_node_once() {
    let fake = FakeGce::start().await;
    let gcp = provisioner(&fake).await;
    let req = LaunchRequest::new(cluster("race", "us-west1-b"), "n2-standard-8", 2);
    let (x, y) = tokio::join!(gcp.bootstrap(&req), gcp.bootstrap(&req));
    x.unwrap();
    y.unwrap();
    assert_eq!(fake.firewalls().len(), 1);
    let (a, b) = tokio::join!(gcp.run_instances(&req), gcp.run_instances(&req));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(fake.instances().len(), 2);
    assert_eq!(a.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(
        a.iter().map(|n| &n.id).collect::<Vec<_>>(),
        b.iter().map(|n| &n.id).collect::<Vec<_>>()
    );
    gcp.terminate_instances(&req.cluster).await.unwrap();
}
