//! Issue #22 on the local ARM server: every list paged one entry at a time is read to its
//! last page (nodes seen and stopped, the quota pre-check's SKU and usage lists), quota
//! errors name what their quota covers, the pre-check runs before anything is created, and
//! through the broker a regional shortfall ends in one attempt while a family shortfall
//! moves to another family.

use std::time::Duration;

use sky_core::error::{ErrorKind, QuotaCover};
use sky_core::provision::{ClusterRef, InstanceState, LaunchRequest, Provisioner};
use sky_core::resources::{CpuSpec, ResourceSet};
use sky_core::{CloudId, Resources, Task};
use sky_runtime::{BrokerError, ProvisionOptions};

use crate::broker::Env;
use crate::fake_arm::{FakeArm, Fault};
use crate::provisioner;

const REGION: &str = "eastus";
const SIZE: &str = "Standard_D2s_v5";
const SIBLING: &str = "Standard_D4s_v5";
const FAMILY: &str = "standardDSv5Family";

fn cluster(name: &str) -> ClusterRef {
    ClusterRef {
        name: name.into(),
        region: REGION.into(),
        zone: None,
    }
}

/// A fake whose SKU list has the launched size last (behind two others) and pages by one.
async fn paged_fake() -> FakeArm {
    let f = FakeArm::start().await;
    f.sku("Standard_A1_v2", "standardAv2Family", 1, "V1");
    f.sku("Standard_B2s", "standardBSFamily", 2, "V1,V2");
    f.sku(SIZE, FAMILY, 2, "V1,V2");
    f.sku(SIBLING, FAMILY, 4, "V1,V2");
    f.page_size(1);
    f
}

#[tokio::test]
async fn every_node_is_seen_and_stopped_with_one_entry_per_page() {
    let fake = paged_fake().await;
    let p = provisioner(&fake).await;
    let c = cluster("paged");
    let req = LaunchRequest::new(c.clone(), SIZE, 3);
    p.bootstrap(&req).await.unwrap();
    let nodes = p.run_instances(&req).await.unwrap();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    p.wait_instances(&c, InstanceState::Running, Duration::from_secs(5))
        .await
        .unwrap();
    let nodes = p.query_instances(&c).await.unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.rank).collect::<Vec<_>>(),
        [0, 1, 2],
        "every node, off every page"
    );
    assert!(
        nodes
            .iter()
            .all(|n| n.private_ip.is_some() && n.public_ip.is_some()),
        "NICs and public IPs off every page: {nodes:?}"
    );
    assert!(
        fake.gets_ending("/virtualMachines") >= 3,
        "the list was paged"
    );

    p.stop_instances(&c).await.unwrap();
    p.wait_instances(&c, InstanceState::Stopped, Duration::from_secs(5))
        .await
        .unwrap();
    let nodes = p.query_instances(&c).await.unwrap();
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes.iter().all(|n| n.state == InstanceState::Stopped),
        "every VM deallocated: {nodes:?}"
    );
    p.terminate_instances(&c).await.unwrap();
    assert!(fake.groups().is_empty());
}

#[tokio::test]
async fn the_quota_precheck_reads_paged_lists_and_creates_nothing_on_a_shortfall() {
    // (usage, limit, spot, the cover expected)
    let family_cover = QuotaCover::region(FAMILY)
        .only_spot(false)
        .only_instance_types([SIZE.to_string(), SIBLING.to_string()]);
    let cases = [
        (FAMILY, 2, false, family_cover),
        (
            "cores",
            3,
            false,
            QuotaCover::region("cores").only_spot(false),
        ),
        (
            "lowPriorityCores",
            2,
            true,
            QuotaCover::region("lowPriorityCores").only_spot(true),
        ),
    ];
    for (usage, limit, spot, cover) in cases {
        let fake = paged_fake().await;
        fake.limit(REGION, usage, limit);
        let p = provisioner(&fake).await;
        let mut req = LaunchRequest::new(cluster("short"), SIZE, 2);
        req.spot = spot;
        let e = p.bootstrap(&req).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Quota, "{usage}: {e}");
        assert_eq!(e.quota(), Some(&cover), "{usage}: {e}");
        assert!(
            fake.puts().is_empty(),
            "{usage}: no resource at all: {:?}",
            fake.puts()
        );
        assert!(fake.groups().is_empty());
        assert!(fake.gets_ending("/usages") > 1, "{usage}: usages paged");
    }
}

#[tokio::test]
async fn quota_errors_at_creation_name_what_they_cover() {
    let family_cover = QuotaCover::region(FAMILY)
        .only_spot(false)
        .only_instance_types([SIZE.to_string(), SIBLING.to_string()]);
    let cases = [
        (
            "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 10, Current Usage: 8, Additional Required: 4, (Minimum) New Limit Required: 12.",
            false,
            QuotaCover::region("cores").only_spot(false),
        ),
        (
            "Operation results in exceeding quota limits of Core. Maximum allowed: 4, Current in use: 4, Additional requested: 2.",
            false,
            QuotaCover::region("cores").only_spot(false),
        ),
        (
            "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 0, Current Usage: 0, Additional Required: 2, (Minimum) New Limit Required: 2.",
            false,
            family_cover,
        ),
        (
            "Operation could not be completed as it results in exceeding approved LowPriorityCores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 100, Current Usage: 100, Additional Required: 8, (Minimum) New Limit Required: 108.",
            true,
            QuotaCover::region("lowPriorityCores").only_spot(true),
        ),
    ];
    for (message, spot, cover) in cases {
        let fake = paged_fake().await;
        fake.push_fault(Fault::immediate(409, "OperationNotAllowed").message(message));
        let p = provisioner(&fake).await;
        let c = cluster("qe");
        let mut req = LaunchRequest::new(c.clone(), SIZE, 1);
        req.spot = spot;
        p.bootstrap(&req).await.unwrap();
        let e = p.run_instances(&req).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Quota, "{message}: {e}");
        assert_eq!(e.quota(), Some(&cover), "{message}");
        p.terminate_instances(&c).await.unwrap();
    }
}

async fn env(fake: FakeArm) -> Env {
    crate::broker::env_with(fake).await
}

/// Two or more vCPUs, on demand, pinned to eastus: many sizes are candidates.
fn pinned_task() -> Task {
    let mut r = Resources::new();
    r.cloud = Some(CloudId::Azure);
    r.region = Some(REGION.into());
    r.cpus = Some(CpuSpec {
        count: 2.0,
        or_more: true,
    });
    r.use_spot = Some(false);
    let mut t = Task::new();
    t.resources = ResourceSet::one(r);
    t
}

fn unavailable(e: BrokerError) -> sky_runtime::failover::FailoverHistory {
    match e {
        BrokerError::Unavailable { history, .. } => history,
        other => panic!("expected Unavailable, got {other}"),
    }
}

#[tokio::test]
async fn a_regional_cores_shortfall_in_a_pinned_region_ends_after_one_attempt() {
    // At creation: one VM creation, then a typed Unavailable.
    let Env { fake, broker, _dir } = env(FakeArm::start().await).await;
    fake.push_fault(Fault::immediate(409, "OperationNotAllowed").message(
        "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.",
    ));
    let err = broker
        .provision(&pinned_task(), "rq", &ProvisionOptions::default())
        .await
        .unwrap_err();
    let history = unavailable(err);
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 1, "one attempt only: {attempts:?}");
    assert_eq!(attempts[0].0, REGION);
    assert_eq!(history.attempts.len(), 1, "{history}");
    assert!(fake.groups().is_empty(), "{:?}", fake.groups());

    // In the pre-check: nothing created at all. The pre-check needs the size's family and
    // vCPUs from the SKU list, so first find the broker's first choice.
    let Env {
        fake: _f,
        broker,
        _dir,
    } = env(FakeArm::start().await).await;
    let first = broker
        .provision(&pinned_task(), "rp", &ProvisionOptions::default())
        .await
        .unwrap()
        .launched
        .unwrap()
        .instance_type;
    broker.down("rp").await.unwrap();
    let Env { fake, broker, _dir } = env(FakeArm::start().await).await;
    fake.sku(&first, "standardXFamily", 2, "V1,V2");
    fake.limit(REGION, "cores", 1);
    let err = broker
        .provision(&pinned_task(), "rp", &ProvisionOptions::default())
        .await
        .unwrap_err();
    let history = unavailable(err);
    assert_eq!(history.attempts.len(), 1, "{history}");
    assert!(fake.attempts().is_empty(), "{:?}", fake.attempts());
    assert!(fake.puts().is_empty(), "{:?}", fake.puts());
}

#[tokio::test]
async fn a_family_shortfall_moves_to_another_family_in_the_same_region() {
    // The broker's first two choices (X, then Y once X fails) and the third, Z.
    let Env { fake, broker, _dir } = env(FakeArm::start().await).await;
    fake.push_fault(Fault::immediate(409, "SkuNotAvailable"));
    fake.push_fault(Fault::immediate(409, "SkuNotAvailable"));
    broker
        .provision(&pinned_task(), "probe", &ProvisionOptions::default())
        .await
        .unwrap();
    let seen = fake.attempts();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|(r, _)| r == REGION));
    let (x, y, z) = (seen[0].1.clone(), seen[1].1.clone(), seen[2].1.clone());
    broker.down("probe").await.unwrap();

    // X and Y are one family, with no quota left: X fails, Y is skipped, Z launches.
    let fake = FakeArm::start().await;
    fake.sku(&x, "standardTestFamily", 2, "V1,V2");
    fake.sku(&y, "standardTestFamily", 2, "V1,V2");
    fake.fill_family("standardTestFamily");
    let Env { fake, broker, _dir } = env(fake).await;
    let rec = broker
        .provision(&pinned_task(), "fam", &ProvisionOptions::default())
        .await
        .unwrap();
    assert_eq!(
        fake.attempts(),
        [
            (REGION.to_string(), x.clone()),
            (REGION.to_string(), z.clone())
        ],
        "the family's other size {y} is not tried"
    );
    assert_eq!(rec.launched.as_ref().unwrap().instance_type, z);
    broker.down("fam").await.unwrap();
    assert!(fake.groups().is_empty());
}

#[tokio::test]
async fn a_next_link_off_the_endpoint_is_not_followed() {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, ResponseTemplate};
    let fake = FakeArm::start().await;
    Mock::given(method("GET"))
        .and(path_regex("(?i)/virtualMachines$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "value": [],
            "nextLink": "https://elsewhere.invalid/subscriptions/x/virtualMachines?$skiptoken=1"
        })))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let p = provisioner(&fake).await;
    let e = p.query_instances(&cluster("off")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unexpected, "{e}");
    assert!(e.message().contains("elsewhere.invalid"), "{e}");
}
