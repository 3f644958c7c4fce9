//! The provisioner's ARM requests, the error table end to end, the quota pre-check and the
//! credential check, against the local ARM server.

use std::sync::Arc;
use std::time::Duration;

use sky_cloud_azure::{DEFAULT_IMAGE_GEN1, DEFAULT_IMAGE_GEN2, resource_group};
use sky_core::error::{ErrorKind, Scope};
use sky_core::provision::{ClusterRef, InstanceState, LaunchRequest, Provisioner};
use sky_core::resources::PortRange;

use crate::fake_arm::{FakeArm, Fault, SUB};
use crate::{StaticToken, builder, provisioner};

const REGION: &str = "eastus";
const SIZE: &str = "Standard_D2s_v5";
const FAMILY: &str = "standardDSv5Family";

fn cluster(name: &str) -> ClusterRef {
    ClusterRef {
        name: name.into(),
        region: REGION.into(),
        zone: None,
    }
}

async fn fake() -> FakeArm {
    let f = FakeArm::start().await;
    f.sku(SIZE, FAMILY, 2, "V1,V2");
    f.sku("Standard_A1_v2", "standardAv2Family", 1, "V1");
    f
}

async fn launch(p: &dyn Provisioner, req: &LaunchRequest) -> sky_core::error::Result<()> {
    p.bootstrap(req).await?;
    p.run_instances(req).await?;
    Ok(())
}

#[tokio::test]
async fn a_spot_cluster_has_the_documented_shape_and_goes_away() {
    let fake = fake().await;
    let p = provisioner(&fake).await;
    let c = cluster("shape");
    let mut req = LaunchRequest::new(c.clone(), SIZE, 2);
    req.spot = true;
    req.disk_size_gb = 100;
    req.ports = vec![PortRange {
        start: 8888,
        end: 8888,
    }];
    req.ssh_public_key = Some("ssh-ed25519 AAAATEST sky".into());
    req.labels.insert("team".into(), "ml".into());
    launch(&p, &req).await.unwrap();
    p.wait_instances(&c, InstanceState::Running, Duration::from_secs(5))
        .await
        .unwrap();

    let rg = resource_group(&c);
    assert_eq!(fake.groups(), std::slice::from_ref(&rg));
    let made = fake.creations();
    assert_eq!(made.len(), 2);
    for m in &made {
        assert!(m.spot);
        assert_eq!(m.disk_gb, 100);
        assert_eq!(m.ssh_keys, ["ssh-ed25519 AAAATEST sky"]);
        assert_eq!(
            m.image["sku"], "22_04-lts-gen2",
            "V1,V2 size boots the gen2 image"
        );
    }
    let vm = fake
        .resource(&rg, "microsoft.compute/virtualmachines/shape-1")
        .unwrap();
    assert_eq!(vm["properties"]["priority"], "Spot");
    assert_eq!(vm["properties"]["evictionPolicy"], "Deallocate");
    assert_eq!(vm["tags"]["sky-cluster"], "shape");
    assert_eq!(vm["tags"]["sky-rank"], "1");
    assert_eq!(vm["tags"]["team"], "ml");
    let nsg = fake
        .resource(&rg, "microsoft.network/networksecuritygroups/sky-nsg")
        .unwrap();
    assert_eq!(
        nsg["tags"]["sky-cluster"], "shape",
        "bootstrap resources are tagged too"
    );
    let mut open: Vec<String> = nsg["properties"]["securityRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["properties"]["destinationPortRange"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    open.sort();
    assert_eq!(open, ["22", "8888"], "only SSH and the task's ports");

    let info = p.cluster_info(&c).await.unwrap();
    assert_eq!(info.ssh_user, "azureuser");
    assert_eq!(info.instances.len(), 2);
    for n in &info.instances {
        assert!(n.spot && n.zone.is_none());
        assert!(n.private_ip.as_deref().unwrap().starts_with("10.0.0."));
        assert!(n.public_ip.as_deref().unwrap().starts_with("20.1."));
        assert_eq!(n.instance_type, SIZE);
    }

    p.stop_instances(&c).await.unwrap();
    let stopped = p.query_instances(&c).await.unwrap();
    assert!(stopped.iter().all(|n| n.state == InstanceState::Stopped));
    let started = p.start_instances(&c).await.unwrap();
    assert!(started.iter().all(|n| n.state == InstanceState::Running));

    p.terminate_instances(&c).await.unwrap();
    assert!(fake.groups().is_empty());
    assert!(fake.resources().is_empty());
    assert!(p.query_instances(&c).await.unwrap().is_empty());
}

#[tokio::test]
async fn images_follow_the_catalog_generation_or_the_task() {
    let fake = fake().await;
    let p = provisioner(&fake).await;
    // Standard_A1_v2 is generation V1 only in the catalog.
    let gen1 = LaunchRequest::new(cluster("gen1"), "Standard_A1_v2", 1);
    launch(&p, &gen1).await.unwrap();
    let mut custom = LaunchRequest::new(cluster("custom"), SIZE, 1);
    custom.image_id = Some("Canonical:ubuntu-24_04-lts:server:latest".into());
    launch(&p, &custom).await.unwrap();
    let made = fake.creations();
    let gen1_sku = DEFAULT_IMAGE_GEN1.split(':').nth(2).unwrap();
    assert_eq!(made[0].image["sku"], gen1_sku);
    assert_eq!(made[1].image["offer"], "ubuntu-24_04-lts");
    assert_ne!(DEFAULT_IMAGE_GEN1, DEFAULT_IMAGE_GEN2);

    let mut bad = LaunchRequest::new(cluster("bad"), SIZE, 1);
    bad.image_id = Some("ubuntu".into());
    p.bootstrap(&bad).await.unwrap();
    let e = p.run_instances(&bad).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert_eq!(fake.creations().len(), 2, "no VM for a malformed image id");
    for c in ["gen1", "custom", "bad"] {
        p.terminate_instances(&cluster(c)).await.unwrap();
    }
    assert!(fake.groups().is_empty());
}

/// Every error class of the issue, injected at VM creation both as an immediate HTTP error
/// and as a failed async operation: the kind and scope come out as the table says, and the
/// cluster terminates cleanly afterwards.
#[tokio::test]
async fn each_error_class_at_vm_creation_is_classified() {
    let fake = fake().await;
    let p = provisioner(&fake).await;
    let cases: &[(u16, &str, &str, ErrorKind, Scope)] = &[
        (
            409,
            "SkuNotAvailable",
            "The requested size for resource is currently not available",
            ErrorKind::Capacity,
            Scope::Region,
        ),
        (
            409,
            "AllocationFailed",
            "Allocation failed.",
            ErrorKind::Capacity,
            Scope::Region,
        ),
        (
            409,
            "ZonalAllocationFailed",
            "Allocation failed.",
            ErrorKind::Capacity,
            Scope::Region,
        ),
        (
            409,
            "OverconstrainedAllocationRequest",
            "Allocation failed.",
            ErrorKind::Capacity,
            Scope::Region,
        ),
        (
            409,
            "QuotaExceeded",
            "exceeding approved Cores quota",
            ErrorKind::Quota,
            Scope::Region,
        ),
        (
            409,
            "OperationNotAllowed",
            "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota.",
            ErrorKind::Quota,
            Scope::Region,
        ),
        (
            403,
            "AuthorizationFailed",
            "does not have authorization",
            ErrorKind::Auth,
            Scope::Cloud,
        ),
        (
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
            ErrorKind::Auth,
            Scope::Cloud,
        ),
        (
            404,
            "SubscriptionNotFound",
            "The subscription could not be found.",
            ErrorKind::Auth,
            Scope::Cloud,
        ),
        (
            500,
            "InternalServerError",
            "oops",
            ErrorKind::Transient,
            Scope::Region,
        ),
        (
            503,
            "ServiceUnavailable",
            "busy",
            ErrorKind::Transient,
            Scope::Region,
        ),
        (
            400,
            "InvalidParameter",
            "The value of parameter vmSize is invalid.",
            ErrorKind::InvalidRequest,
            Scope::Cloud,
        ),
    ];
    let mut i = 0;
    for &(status, code, msg, kind, scope) in cases {
        for immediate in [true, false] {
            i += 1;
            let c = cluster(&format!("err{i}"));
            let req = LaunchRequest::new(c.clone(), SIZE, 1);
            p.bootstrap(&req).await.unwrap();
            let f = if immediate {
                Fault::immediate(status, code)
            } else {
                Fault::failed_operation(code)
            };
            fake.push_fault(f.message(msg));
            let e = p.run_instances(&req).await.unwrap_err();
            assert_eq!(
                (e.kind(), e.scope(), e.code()),
                (kind, scope, Some(code)),
                "{code} immediate={immediate}: {e}"
            );
            if !immediate {
                // The same failure through the `Location` protocol: the poll answers the
                // error status and body.
                fake.push_fault(Fault::failed_location(status, code).message(msg));
                let e = p.run_instances(&req).await.unwrap_err();
                assert_eq!(
                    (e.kind(), e.scope(), e.code()),
                    (kind, scope, Some(code)),
                    "{code} via Location: {e}"
                );
            }
            assert_eq!(e.placement().region.as_deref(), Some(REGION));
            assert_eq!(e.placement().instance_type.as_deref(), Some(SIZE));
            p.terminate_instances(&c).await.unwrap();
        }
    }
    assert_eq!(fake.faults_left(), 0);
    assert!(fake.groups().is_empty(), "left behind: {:?}", fake.groups());
}

#[tokio::test]
async fn throttling_is_transient_and_reports_retry_after() {
    let fake = fake().await;
    let p = provisioner(&fake).await;
    let c = cluster("throttle");
    let req = LaunchRequest::new(c.clone(), SIZE, 1);
    p.bootstrap(&req).await.unwrap();
    fake.push_fault(Fault::immediate(429, "TooManyRequests").retry_after(17));
    let e = p.run_instances(&req).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(e.message().contains("Retry-After 17s"), "{e}");
    // The same call succeeds once the throttling is over.
    let nodes = p.run_instances(&req).await.unwrap();
    assert_eq!(nodes.len(), 1);
    p.terminate_instances(&c).await.unwrap();
}

#[tokio::test]
async fn the_quota_precheck_fails_fast_without_creating_anything() {
    let fake = fake().await;
    fake.limit(REGION, FAMILY, 4);
    fake.limit(REGION, "lowPriorityCores", 2);
    let p = provisioner(&fake).await;
    let c = cluster("quota");
    // 3 × 2 vCPUs > 4 in the family.
    let req = LaunchRequest::new(c.clone(), SIZE, 3);
    let e = p.bootstrap(&req).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.scope()),
        (ErrorKind::Quota, Scope::Region),
        "{e}"
    );
    assert!(e.message().contains(FAMILY), "{e}");
    assert!(fake.creations().is_empty(), "no VM creation attempted");
    assert!(fake.puts().is_empty(), "nothing created: {:?}", fake.puts());
    // 2 × 2 fits.
    let ok = LaunchRequest::new(c.clone(), SIZE, 2);
    p.bootstrap(&ok).await.unwrap();
    assert_eq!(p.run_instances(&ok).await.unwrap().len(), 2);
    // ...and now the family is full: one more is refused, counting the live VMs.
    let e = p
        .run_instances(&LaunchRequest::new(c.clone(), SIZE, 3))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Quota);
    // Spot counts against the regional spot quota instead.
    let s = cluster("quota-spot");
    let mut spot = LaunchRequest::new(s.clone(), SIZE, 2);
    spot.spot = true;
    let e = p.bootstrap(&spot).await.unwrap_err();
    assert!(e.message().contains("lowPriorityCores"), "{e}");
    assert_eq!(fake.creations().len(), 2);
    p.terminate_instances(&c).await.unwrap();

    // A size the SKUs API does not know, or a broken usages API: the check is skipped.
    let u = cluster("unknown");
    let req = LaunchRequest::new(u.clone(), "Standard_F2s_v2", 1);
    launch(&p, &req).await.unwrap();
    fake.break_usages();
    let b = cluster("broken");
    launch(&p, &LaunchRequest::new(b.clone(), SIZE, 3))
        .await
        .unwrap();
    assert_eq!(fake.creations().len(), 6);
    p.terminate_instances(&u).await.unwrap();
    p.terminate_instances(&b).await.unwrap();
    assert!(fake.groups().is_empty());
}

#[tokio::test]
async fn open_ports_adds_rules_idempotently() {
    let fake = fake().await;
    let p = provisioner(&fake).await;
    let c = cluster("ports");
    launch(&p, &LaunchRequest::new(c.clone(), SIZE, 1))
        .await
        .unwrap();
    let ports = [
        PortRange {
            start: 9000,
            end: 9010,
        },
        PortRange { start: 22, end: 22 },
    ];
    p.open_ports(&c, &ports).await.unwrap();
    p.open_ports(&c, &ports).await.unwrap();
    let nsg = fake
        .resource(
            &resource_group(&c),
            "microsoft.network/networksecuritygroups/sky-nsg",
        )
        .unwrap();
    let rules = nsg["properties"]["securityRules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    p.terminate_instances(&c).await.unwrap();
    let e = p.open_ports(&c, &ports).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn zones_are_rejected_and_unknown_clusters_are_empty() {
    let fake = fake().await;
    let p = provisioner(&fake).await;
    assert!(!p.capabilities().zones);
    let mut c = cluster("zoned");
    c.zone = Some("1".into());
    let e = p
        .bootstrap(&LaunchRequest::new(c, SIZE, 1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(
        p.query_instances(&cluster("none"))
            .await
            .unwrap()
            .is_empty()
    );
    p.terminate_instances(&cluster("none")).await.unwrap();
    p.wait_instances(
        &cluster("none"),
        InstanceState::Terminated,
        Duration::from_secs(1),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_bad_token_or_subscription_is_a_cloud_wide_auth_error() {
    let fake = fake().await;
    let p = builder(&fake)
        .credential(Arc::new(StaticToken("stolen")))
        .build()
        .await
        .unwrap();
    let e = p.query_instances(&cluster("x")).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.scope()),
        (ErrorKind::Auth, Scope::Cloud),
        "{e}"
    );
    assert_eq!(e.code(), Some("InvalidAuthenticationToken"));

    let p = builder(&fake)
        .subscription("not-mine")
        .build()
        .await
        .unwrap();
    let e = p.query_instances(&cluster("x")).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::Auth, Some("SubscriptionNotFound")),
        "{e}"
    );
}

#[tokio::test]
async fn check_names_sources_and_verifies_the_subscription() {
    let fake = fake().await;
    let report = builder(&fake).check().await;
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(
        text.contains("credential supplied by the embedder: found"),
        "{text}"
    );
    assert!(text.contains(SUB), "{text}");
    assert!(
        !text.contains(crate::fake_arm::TOKEN),
        "never the token: {text}"
    );

    let bad = builder(&fake)
        .credential(Arc::new(StaticToken("stolen")))
        .check()
        .await;
    assert!(!bad.ok());
    assert!(
        bad.to_string().contains("InvalidAuthenticationToken"),
        "{bad}"
    );
    assert!(!bad.to_string().contains("stolen"));

    let other = builder(&fake).subscription("not-mine").check().await;
    assert!(!other.ok(), "{other}");
}
