//! An exceeded quota blocks what the quota covers (the region, a family, a market, an
//! accelerator, the cloud), not only the instance type that failed; a launch ends after one
//! attempt per candidate the quota does not cover.

use sky_core::Task;
use sky_core::error::{ErrorKind, QuotaCover};
use sky_core::fake::{FakeCloud, Fault, Op};
use sky_runtime::BrokerError;

use crate::common::*;

/// `cpus: 4+` (and spot when asked), pinned to `fake-east-1` when `pinned`.
fn task(pinned: bool, spot: bool) -> Task {
    let infra = if pinned {
        "  infra: fake/fake-east-1\n"
    } else {
        ""
    };
    Task::from_yaml_str(&format!(
        "resources:\n  cpus: 4+\n  use_spot: {spot}\n{infra}"
    ))
    .unwrap()
}

/// (region, instance type, spot) of every RunInstances call, in order.
fn attempts(fake: &FakeCloud) -> Vec<(String, String, bool)> {
    fake.calls_of(Op::RunInstances)
        .into_iter()
        .map(|c| {
            (
                c.placement.region.unwrap_or_default(),
                c.placement.instance_type.unwrap_or_default(),
                c.spot.unwrap_or(false),
            )
        })
        .collect()
}

fn east(fake: &FakeCloud) -> Vec<String> {
    attempts(fake)
        .into_iter()
        .filter(|(r, _, _)| r == "fake-east-1")
        .map(|(_, t, _)| t)
        .collect()
}

async fn unavailable(fake: &FakeCloud, t: &Task) -> (usize, String) {
    let b = broker(fake);
    let err = b.provision(t, "q", &opts()).await.unwrap_err();
    let BrokerError::Unavailable { history, .. } = &err else {
        panic!("not a typed unavailability: {err}");
    };
    (history.attempts.len(), err.to_string())
}

#[tokio::test]
async fn a_regional_total_ends_a_pinned_launch_after_one_attempt() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .region("fake-east-1")
                .quota(QuotaCover::region("cores")),
        )
        .build();
    let (n, text) = unavailable(&fake, &task(true, false)).await;
    assert_eq!(east(&fake), ["fake.cpu4"], "{text}");
    assert_eq!(n, 1);
    assert!(text.contains("quota"), "{text}");
}

#[tokio::test]
async fn a_regional_total_moves_to_another_region() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .region("fake-east-1")
                .quota(QuotaCover::region("cores")),
        )
        .build();
    let b = broker(&fake);
    let c = b
        .provision(&task(false, false), "q", &opts())
        .await
        .unwrap();
    assert_eq!(east(&fake), ["fake.cpu4"]);
    assert_ne!(c.launched.unwrap().region, "fake-east-1");
}

#[tokio::test]
async fn a_family_quota_blocks_the_family_only() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .region("fake-east-1")
                .instance_type("fake.cpu4")
                .quota(QuotaCover::region("FAKE_CPU_CPUS").only_instance_type_prefix("fake.cpu")),
        )
        .build();
    let b = broker(&fake);
    let c = b.provision(&task(true, false), "q", &opts()).await.unwrap();
    let tried = east(&fake);
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert_eq!(tried[0], "fake.cpu4");
    assert!(!tried[1].starts_with("fake.cpu"), "{tried:?}");
    assert_eq!(c.launched.unwrap().instance_type, tried[1]);
}

#[tokio::test]
async fn a_listed_family_blocks_the_listed_types() {
    let family = ["fake.cpu4", "fake.cpu8", "fake.cpu16"].map(String::from);
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .region("fake-east-1")
                .instance_type("fake.cpu4")
                .quota(QuotaCover::region("standardFakeFamily").only_instance_types(family)),
        )
        .build();
    let b = broker(&fake);
    b.provision(&task(true, false), "q", &opts()).await.unwrap();
    let tried = east(&fake);
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert!(
        !["fake.cpu8", "fake.cpu16"].contains(&tried[1].as_str()),
        "{tried:?}"
    );
}

#[tokio::test]
async fn a_spot_quota_blocks_the_market_only() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .region("fake-east-1")
                .spot(true)
                .quota(QuotaCover::region("lowPriorityCores").only_spot(true)),
        )
        .build();
    // Spot only, pinned: one attempt, then a typed error.
    let (n, text) = unavailable(&fake, &task(true, true)).await;
    assert_eq!(n, 1, "{text}");
    assert_eq!(east(&fake).len(), 1);
    // On-demand in the same region is not covered.
    let b = broker(&fake);
    let c = b
        .provision(&task(true, false), "od", &opts())
        .await
        .unwrap();
    assert_eq!(c.launched.unwrap().region, "fake-east-1");
}

#[tokio::test]
async fn a_global_quota_blocks_the_cloud() {
    let fake = FakeCloud::builder()
        .fault(Fault::on(Op::RunInstances).quota(QuotaCover::global("CPUS_ALL_REGIONS")))
        .build();
    let (n, text) = unavailable(&fake, &task(false, false)).await;
    assert_eq!(n, 1, "{text}");
    assert_eq!(attempts(&fake).len(), 1);
    assert!(
        sky_core::error::Error::new(ErrorKind::Capacity, "x")
            .with_quota(QuotaCover::global("g"))
            .kind()
            == ErrorKind::Quota
    );
}

/// A quota cover that misses what failed (a backend's mistake) still ends the launch: each
/// candidate is tried once, and the error says how many attempts in how long.
#[tokio::test]
async fn a_cover_that_misses_the_failure_still_ends_the_launch() {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .region("fake-east-1")
                .quota(QuotaCover::region("NVIDIA_A100_GPUS").only_accelerator("A100")),
        )
        .build();
    let b = broker(&fake);
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        b.provision(&task(true, false), "q", &opts()),
    )
    .await
    .expect("the launch ends by itself")
    .unwrap_err();
    let tried = east(&fake);
    let mut distinct = tried.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        tried.len(),
        distinct.len(),
        "each candidate once: {tried:?}"
    );
    assert!(tried.len() > 1, "{tried:?}");
    let BrokerError::Unavailable {
        history, elapsed, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(history.attempts.len(), tried.len());
    assert!(*elapsed < std::time::Duration::from_secs(60));
    let text = err.to_string();
    assert!(
        text.contains(&format!("after {} attempts in ", tried.len())),
        "{text}"
    );
}
