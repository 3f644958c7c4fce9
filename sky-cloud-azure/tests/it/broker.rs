//! Through sky's broker: spot and on-demand clusters provisioned, refreshed, deallocated,
//! started and downed on the local ARM server; each error class injected at VM creation
//! fails over at its scope, leaving no resource group behind; the quota pre-check moves on
//! without creating a VM.

use std::sync::Arc;

use sky_core::catalog::Catalog;
use sky_core::error::ErrorKind;
use sky_core::resources::ResourceSet;
use sky_core::{CloudId, Resources, Task};
use sky_runtime::broker::PolicyFactory;
use sky_runtime::failover::{Decision, DefaultPolicy};
use sky_runtime::state::ClusterStatus;
use sky_runtime::{Broker, BrokerError, ProvisionOptions};

use crate::fake_arm::{FakeArm, Fault};
use crate::{catalog, provisioner};

const SIZE: &str = "Standard_D2s_v5";
const FAMILY: &str = "standardDSv5Family";

pub(crate) struct Env {
    pub(crate) fake: FakeArm,
    pub(crate) broker: Broker,
    pub(crate) _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let fake = FakeArm::start().await;
    fake.sku(SIZE, FAMILY, 2, "V1,V2");
    env_with(fake).await
}

/// A broker over the Azure backend on `fake`, with failover that does not pause.
pub(crate) async fn env_with(fake: FakeArm) -> Env {
    let p = provisioner(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let policy: PolicyFactory = Arc::new(|| Box::new(DefaultPolicy::without_backoff()));
    let cat: Arc<dyn Catalog> = catalog();
    let broker = Broker::builder()
        .cloud(cat, Arc::new(p))
        .state_dir(dir.path())
        .unwrap()
        .policy(policy)
        .owner("tester")
        .build()
        .unwrap();
    Env {
        fake,
        broker,
        _dir: dir,
    }
}

fn task(nodes: u32, spot: bool) -> Task {
    let mut r = Resources::new();
    r.cloud = Some(CloudId::Azure);
    r.instance_type = Some(SIZE.into());
    r.use_spot = Some(spot);
    let mut t = Task::new();
    t.resources = ResourceSet::one(r);
    t.num_nodes = nodes;
    t
}

fn opts() -> ProvisionOptions {
    ProvisionOptions::default()
}

#[tokio::test]
async fn spot_and_on_demand_clusters_live_and_die_through_the_broker() {
    let Env { fake, broker, _dir } = env().await;
    let spot = broker
        .provision(&task(2, true), "az-spot", &opts())
        .await
        .unwrap();
    let od = broker
        .provision(&task(1, false), "az-od", &opts())
        .await
        .unwrap();
    for (rec, is_spot, n) in [(&spot, true, 2), (&od, false, 1)] {
        assert_eq!(rec.status, ClusterStatus::Up);
        let l = rec.launched.as_ref().unwrap();
        assert_eq!(
            (l.cloud.clone(), l.spot, l.zone.as_deref()),
            (CloudId::Azure, is_spot, None)
        );
        assert_eq!(rec.nodes.len(), n);
        assert!(
            rec.nodes
                .iter()
                .all(|x| x.spot == is_spot && x.private_ip.is_some() && x.public_ip.is_some())
        );
    }
    assert_eq!(fake.groups().len(), 2);
    assert_eq!(fake.creations().iter().filter(|c| c.spot).count(), 2);

    let refreshed = broker.refresh(None).await.unwrap();
    assert!(
        refreshed.iter().all(|r| r.status == ClusterStatus::Up),
        "{refreshed:?}"
    );

    for name in ["az-spot", "az-od"] {
        let stopped = broker.stop(name).await.unwrap();
        assert_eq!(stopped.status, ClusterStatus::Stopped);
    }
    let refreshed = broker.refresh(None).await.unwrap();
    assert!(
        refreshed.iter().all(|r| r.status == ClusterStatus::Stopped),
        "{refreshed:?}"
    );
    for name in ["az-spot", "az-od"] {
        let up = broker.start(name).await.unwrap();
        assert_eq!(up.status, ClusterStatus::Up);
    }
    assert_eq!(fake.creations().len(), 3, "starting creates no VM");

    broker.down("az-spot").await.unwrap();
    broker.down("az-od").await.unwrap();
    assert!(broker.status().unwrap().is_empty());
    assert!(fake.groups().is_empty(), "left behind: {:?}", fake.groups());
}

/// Region-scoped errors: the failed region is abandoned (its resource group deleted) and
/// the next region is tried.
#[tokio::test]
async fn capacity_and_quota_errors_fail_over_to_another_region() {
    let faults = [
        Fault::immediate(409, "SkuNotAvailable"),
        Fault::failed_operation("AllocationFailed"),
        Fault::failed_operation("ZonalAllocationFailed"),
        Fault::immediate(409, "OverconstrainedAllocationRequest"),
        Fault::immediate(409, "QuotaExceeded"),
        Fault::immediate(409, "OperationNotAllowed")
            .message("Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota."),
    ];
    for f in faults {
        let code = f.code.clone();
        let Env { fake, broker, _dir } = env().await;
        fake.push_fault(f);
        let rec = broker
            .provision(&task(1, false), "fo", &opts())
            .await
            .unwrap();
        let made = fake.creations();
        assert_eq!(made.len(), 2, "{code}: {made:?}");
        assert_eq!(made[0].failed.as_deref(), Some(code.as_str()));
        assert_ne!(
            made[0].region, made[1].region,
            "{code} moves to another region"
        );
        let region = &rec.launched.as_ref().unwrap().region;
        assert_eq!(&made[1].region, region);
        let groups = fake.groups();
        assert!(
            groups.len() == 1
                && groups[0].starts_with("sky-fo")
                && groups[0].ends_with(&format!("-{region}")),
            "{code}: the failed region's group is gone: {groups:?}"
        );
        broker.down("fo").await.unwrap();
        assert!(fake.groups().is_empty());
    }
}

#[tokio::test]
async fn auth_errors_rule_out_azure_and_invalid_requests_abort() {
    for (f, cloud_wide) in [
        (Fault::immediate(403, "AuthorizationFailed"), true),
        (Fault::failed_operation("InvalidAuthenticationToken"), true),
        (Fault::immediate(404, "SubscriptionNotFound"), true),
        (Fault::immediate(400, "InvalidParameter"), false),
    ] {
        let code = f.code.clone();
        let Env { fake, broker, _dir } = env().await;
        fake.push_fault(f);
        let err = broker
            .provision(&task(1, false), "bad", &opts())
            .await
            .unwrap_err();
        let history = match (&err, cloud_wide) {
            (BrokerError::Unavailable { history, .. }, true) => history,
            (BrokerError::Aborted { history, error, .. }, false) => {
                assert_eq!(error.kind(), ErrorKind::InvalidRequest);
                history
            }
            _ => panic!("{code}: unexpected {err}"),
        };
        assert_eq!(history.attempts.len(), 1, "{code}: {history}");
        assert_eq!(history.attempts[0].code.as_deref(), Some(code.as_str()));
        if !cloud_wide {
            assert_eq!(history.attempts[0].decision, Decision::Abort);
        }
        assert_eq!(fake.creations().len(), 1, "{code}: one attempt only");
        assert!(
            fake.groups().is_empty(),
            "{code}: left behind {:?}",
            fake.groups()
        );
    }
}

#[tokio::test]
async fn transient_errors_retry_in_place_then_move_on() {
    // One 429: retried in the same region, which then works.
    let Env { fake, broker, _dir } = env().await;
    fake.push_fault(Fault::immediate(429, "TooManyRequests").retry_after(1));
    let rec = broker
        .provision(&task(1, false), "thr", &opts())
        .await
        .unwrap();
    let made = fake.creations();
    assert_eq!(made.len(), 2);
    assert_eq!(made[0].region, made[1].region);
    assert_eq!(made[1].region, rec.launched.unwrap().region);
    broker.down("thr").await.unwrap();
    assert!(fake.groups().is_empty());

    // A region that keeps failing with 5xx (immediately and as failed operations) is left
    // after the policy's retries.
    let Env { fake, broker, _dir } = env().await;
    for i in 0..4 {
        fake.push_fault(if i % 2 == 0 {
            Fault::immediate(503, "ServiceUnavailable")
        } else {
            Fault::failed_operation("InternalServerError")
        });
    }
    let rec = broker
        .provision(&task(1, false), "five", &opts())
        .await
        .unwrap();
    let made = fake.creations();
    assert_eq!(made.len(), 5, "{made:?}");
    assert!(
        made[..4]
            .iter()
            .all(|m| m.region == made[0].region && m.failed.is_some())
    );
    assert_ne!(made[4].region, made[0].region);
    assert_eq!(made[4].region, rec.launched.unwrap().region);
    broker.down("five").await.unwrap();
    assert!(fake.groups().is_empty());
}

/// The quota pre-check (SkyPilot #10119): regions without vCPU quota are skipped without a
/// VM creation.
#[tokio::test]
async fn regions_without_quota_are_skipped_without_creating_vms() {
    let Env { fake, broker, _dir } = env().await;
    fake.limit("*", FAMILY, 0);
    fake.limit("eastus2", FAMILY, 100);
    let rec = broker
        .provision(&task(1, false), "q", &opts())
        .await
        .unwrap();
    assert_eq!(rec.launched.as_ref().unwrap().region, "eastus2");
    let made = fake.creations();
    assert_eq!(
        made.len(),
        1,
        "no VM creation outside the region with quota: {made:?}"
    );
    let groups = fake.groups();
    assert!(
        groups.len() == 1 && groups[0].ends_with("-eastus2"),
        "{groups:?}"
    );
    broker.down("q").await.unwrap();
    assert!(fake.groups().is_empty());
}
