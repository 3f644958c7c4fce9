//! Quota errors, in every shape Compute Engine reports them (the 403 API error with and
//! without `details`, the failed operation with and without `errorDetails[].quotaInfo`), come
//! back naming the quota and what it covers ([`QuotaCover`]); through the broker the failover
//! blocks exactly that.

use std::sync::Arc;

use sky_core::Task;
use sky_core::error::{ErrorKind, QuotaCover, Scope};
use sky_core::provision::{ClusterRef, LaunchRequest, Provisioner};
use sky_runtime::broker::PolicyFactory;
use sky_runtime::failover::DefaultPolicy;
use sky_runtime::state::StateStore;
use sky_runtime::{Broker, BrokerError, ProvisionOptions};

use crate::fake_gce::{FakeGce, Fault, FaultShape, QuotaForm};
use crate::support::*;

const FORMS: [QuotaForm; 4] = [
    QuotaForm::Http,
    QuotaForm::HttpDetails,
    QuotaForm::Operation,
    QuotaForm::OperationDetails,
];

/// Each quota and the cover it must come back with.
fn rows() -> Vec<(&'static str, QuotaCover)> {
    let r = QuotaCover::region;
    vec![
        ("CPUS", r("CPUS")),
        ("N2_CPUS", r("N2_CPUS").only_instance_type_prefix("n2-")),
        ("N2D_CPUS", r("N2D_CPUS").only_instance_type_prefix("n2d-")),
        ("C2_CPUS", r("C2_CPUS").only_instance_type_prefix("c2-")),
        ("A2_CPUS", r("A2_CPUS").only_instance_type_prefix("a2-")),
        ("PREEMPTIBLE_CPUS", r("PREEMPTIBLE_CPUS").only_spot(true)),
        ("NVIDIA_T4_GPUS", r("NVIDIA_T4_GPUS").only_accelerator("T4")),
        (
            "NVIDIA_V100_GPUS",
            r("NVIDIA_V100_GPUS").only_accelerator("V100"),
        ),
        (
            "NVIDIA_A100_GPUS",
            r("NVIDIA_A100_GPUS").only_accelerator("A100"),
        ),
        (
            "NVIDIA_A100_80GB_GPUS",
            r("NVIDIA_A100_80GB_GPUS").only_accelerator("A100-80GB"),
        ),
        (
            "PREEMPTIBLE_NVIDIA_T4_GPUS",
            r("PREEMPTIBLE_NVIDIA_T4_GPUS")
                .only_accelerator("T4")
                .only_spot(true),
        ),
        (
            "PREEMPTIBLE_NVIDIA_V100_GPUS",
            r("PREEMPTIBLE_NVIDIA_V100_GPUS")
                .only_accelerator("V100")
                .only_spot(true),
        ),
        ("CPUS_ALL_REGIONS", QuotaCover::global("CPUS_ALL_REGIONS")),
        (
            "GPUS_ALL_REGIONS",
            QuotaCover::global("GPUS_ALL_REGIONS").only_any_accelerator(),
        ),
    ]
}

#[tokio::test]
async fn every_quota_shape_names_what_the_quota_covers() {
    let fake = FakeGce::start().await;
    let gcp = provisioner(&fake).await;
    let c = ClusterRef {
        name: "q".into(),
        region: "us-east1".into(),
        zone: Some("us-east1-b".into()),
    };
    for (name, cover) in rows() {
        for form in FORMS {
            fake.fail_inserts(Fault::everywhere(FaultShape::quota(name, form)).times(1));
            let err = gcp
                .run_instances(&LaunchRequest::new(c.clone(), "n2-standard-8", 1))
                .await
                .expect_err("the quota fails the insert");
            let what = format!("{name} as {form:?}: {err}");
            assert_eq!(err.kind(), ErrorKind::Quota, "{what}");
            assert_eq!(err.quota(), Some(&cover), "{what}");
            assert_eq!(err.scope(), cover.scope, "{what}");
            let want_scope = if name.ends_with("_ALL_REGIONS") {
                Scope::Cloud
            } else {
                Scope::Region
            };
            assert_eq!(err.scope(), want_scope, "{what}");
            assert!(err.message().contains(name), "{what}");
            assert!(fake.instances().is_empty(), "{what}");
        }
    }
}

fn broker(gcp: sky_cloud_gcp::GcpProvisioner) -> Broker {
    let policy: PolicyFactory = Arc::new(|| Box::new(DefaultPolicy::without_backoff()));
    Broker::builder()
        .cloud(catalog(), Arc::new(gcp))
        .state(Arc::new(StateStore::open_in_memory().unwrap()))
        .policy(policy)
        .owner("tester")
        .build()
        .expect("broker")
}

/// (zone, machine type) of an unhindered launch of `task`.
async fn probe(task: &Task) -> (String, String) {
    let fake = FakeGce::start().await;
    let b = broker(provisioner(&fake).await);
    let c = b
        .provision(task, "probe", &ProvisionOptions::new())
        .await
        .unwrap();
    let l = c.launched.unwrap();
    b.down("probe").await.unwrap();
    (l.zone.expect("GCP placements are zonal"), l.instance_type)
}

fn pinned_cpu_task() -> Task {
    Task::from_yaml_str("resources:\n  infra: gcp/us-central1\n  cpus: 8+\n").unwrap()
}

/// A regional `CPUS` shortfall covers every machine type of the region: a launch pinned there
/// ends after one attempt, with a typed unavailability, in every shape the quota comes in.
#[tokio::test]
async fn a_regional_cpus_quota_ends_a_pinned_launch_after_one_attempt() {
    let task = pinned_cpu_task();
    let first = probe(&task).await;
    assert!(first.0.starts_with("us-central1-"), "{first:?}");
    for form in FORMS {
        let fake = FakeGce::start().await;
        fake.fail_inserts(
            Fault::everywhere(FaultShape::quota("CPUS", form)).in_region("us-central1"),
        );
        let b = broker(provisioner(&fake).await);
        let err = b
            .provision(&task, "c", &ProvisionOptions::new())
            .await
            .expect_err("no machine type fits the region's CPUS quota");
        let BrokerError::Unavailable { history, .. } = &err else {
            panic!("{form:?}: not a typed unavailability: {err}");
        };
        assert_eq!(
            fake.insert_placements(),
            std::slice::from_ref(&first),
            "{form:?}: {err}"
        );
        assert_eq!(history.attempts.len(), 1, "{form:?}: {err}");
        assert_eq!(history.attempts[0].kind, ErrorKind::Quota, "{form:?}");
        assert!(fake.instances().is_empty());
        assert!(b.status().unwrap().is_empty(), "{form:?}");
    }
}

/// An `N2_CPUS` shortfall covers the n2 family only: the launch moves straight to the next
/// machine type of another family in the same region, skipping the other n2 sizes.
#[tokio::test]
async fn an_n2_family_quota_moves_to_another_family_in_the_region() {
    let task = Task::from_yaml_str(
        "resources:\n  infra: gcp/us-central1\n  any_of:\n    - instance_type: n2-standard-8\n    - instance_type: n2-highmem-8\n    - instance_type: n1-standard-16\n",
    )
    .unwrap();
    let (zone, first) = probe(&task).await;
    assert_eq!(first, "n2-standard-8");
    for form in FORMS {
        let fake = FakeGce::start().await;
        fake.fail_inserts(
            Fault::everywhere(FaultShape::quota("N2_CPUS", form))
                .in_region("us-central1")
                .for_machine_types("n2-"),
        );
        let b = broker(provisioner(&fake).await);
        let c = b
            .provision(&task, "c", &ProvisionOptions::new())
            .await
            .unwrap_or_else(|e| panic!("{form:?}: {e}"));
        assert_eq!(
            fake.insert_placements(),
            [
                (zone.clone(), "n2-standard-8".to_string()),
                (zone.clone(), "n1-standard-16".to_string()),
            ],
            "{form:?}"
        );
        let l = c.launched.unwrap();
        assert_eq!(
            (l.region.as_str(), l.instance_type.as_str()),
            ("us-central1", "n1-standard-16")
        );
        b.down("c").await.unwrap();
        assert!(fake.instances().is_empty());
    }
}

/// A `PREEMPTIBLE_CPUS` shortfall covers the spot VMs of the region only: a launch that
/// takes spot or on-demand in a pinned region tries spot once, then goes straight to
/// on-demand there, not through the other spot machine types.
#[tokio::test]
async fn a_preemptible_cpus_quota_moves_to_on_demand_in_the_region() {
    let task = Task::from_yaml_str(
        "resources:\n  infra: gcp/us-central1\n  cpus: 8+\n  any_of:\n    - use_spot: true\n    - use_spot: false\n",
    )
    .unwrap();
    let spot_first = probe(&task).await;
    let on_demand =
        probe(&Task::from_yaml_str("resources:\n  infra: gcp/us-central1\n  cpus: 8+\n").unwrap())
            .await;
    let fake = FakeGce::start().await;
    fake.fail_inserts(
        Fault::everywhere(FaultShape::quota(
            "PREEMPTIBLE_CPUS",
            QuotaForm::OperationDetails,
        ))
        .in_region("us-central1")
        .spot_only(),
    );
    let b = broker(provisioner(&fake).await);
    let c = b
        .provision(&task, "c", &ProvisionOptions::new())
        .await
        .unwrap();
    assert_eq!(fake.insert_placements(), [spot_first, on_demand]);
    assert!(!c.launched.unwrap().spot);
    b.down("c").await.unwrap();
    assert!(fake.instances().is_empty());
}
