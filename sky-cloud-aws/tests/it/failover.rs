//! Failover with the real SDK: the AWS provisioner wrapped in sky-core's fault injector,
//! each EC2 error class raised at RunInstances (classified by this crate's table), the block
//! scope checked from the calls the broker made, and no instance left behind.

use std::sync::Arc;

use sky_cloud_aws::AwsProvisioner;
use sky_cloud_aws::error::classify;
use sky_core::error::{ErrorKind, Scope};
use sky_core::fake::{Call, Fault, Faulty, Op};
use sky_runtime::failover::Decision;
use sky_runtime::state::ClusterStatus;
use sky_runtime::{Broker, BrokerError, ProvisionOptions};

use crate::common::*;

struct Setup {
    p: AwsProvisioner,
    faulty: Faulty<AwsProvisioner>,
    broker: Broker,
    _dir: tempfile::TempDir,
}

/// A broker over the AWS provisioner on moto, whose first RunInstances fails with `code`
/// after launching one real node (a partial cluster to clean up).
async fn setup(endpoint: &str, code: &str) -> Setup {
    let p = provisioner(endpoint).await;
    let cat = Arc::new(moto_catalog(&p).await);
    let (kind, scope) = classify(Some(code), "", Some(400));
    let faulty = Faulty::new(p.clone()).fault(
        Fault::on(Op::RunInstances)
            .kind(kind)
            .scope(scope)
            .code(code)
            .after_nodes(1)
            .times(1),
    );
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(cat, Arc::new(faulty.clone()), dir.path());
    Setup {
        p,
        faulty,
        broker,
        _dir: dir,
    }
}

fn runs(f: &Faulty<AwsProvisioner>) -> Vec<Call> {
    f.calls()
        .into_iter()
        .filter(|c| c.op == Op::RunInstances)
        .collect()
}

/// Launches a 2-node cluster and checks what the second RunInstances shows about the block.
async fn launch_after(code: &str) -> Option<(Setup, String, Vec<Call>)> {
    let ep = crate::common::moto()?;
    let s = setup(&ep, code).await;
    let name = unique("fo");
    let c = s
        .broker
        .provision(&cpu_task(2, false), &name, &ProvisionOptions::new())
        .await
        .unwrap();
    assert_eq!(c.status, ClusterStatus::Up);
    assert_eq!(c.nodes.len(), 2);
    let calls = runs(&s.faulty);
    assert!(calls.len() >= 2, "{calls:?}");
    assert!(calls[0].injected && calls[0].is_err(), "{calls:?}");
    // Only the cluster's nodes remain: the partial first attempt was cleaned up.
    let owned: Vec<String> = {
        let mut v: Vec<String> = c.nodes.iter().map(|n| n.id.clone()).collect();
        v.sort();
        v
    };
    let live: Vec<String> = live_by_prefix(&s.p, &name)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(live, owned, "no instance left behind by the failed attempt");
    Some((s, name, calls))
}

async fn down_and_verify(s: &Setup, name: &str) {
    s.broker.down(name).await.unwrap();
    assert!(live_by_prefix(&s.p, name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_capacity_blocks_only_the_zone() {
    let Some((s, name, calls)) = launch_after("InsufficientInstanceCapacity").await else {
        return;
    };
    let (first, next) = (&calls[0].placement, &calls[1].placement);
    assert_eq!(calls[0].error, Some(ErrorKind::Capacity));
    assert!(first.zone.is_some());
    assert_ne!(first.zone, next.zone, "the zone is blocked: {calls:?}");
    down_and_verify(&s, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vcpu_quota_blocks_the_region() {
    let Some((s, name, calls)) = launch_after("VcpuLimitExceeded").await else {
        return;
    };
    assert_eq!(calls[0].error, Some(ErrorKind::Quota));
    let region = &calls[0].placement.region;
    assert!(
        calls[1..].iter().all(|c| &c.placement.region != region),
        "the region is blocked: {calls:?}"
    );
    down_and_verify(&s, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_in_place() {
    let Some((s, name, calls)) = launch_after("RequestLimitExceeded").await else {
        return;
    };
    assert_eq!(calls[0].error, Some(ErrorKind::Transient));
    assert_eq!(
        calls[0].placement, calls[1].placement,
        "same zone again: {calls:?}"
    );
    down_and_verify(&s, &name).await;
}

/// Launches a cluster that cannot come up and checks the decision and the cleanup.
async fn fail_with(code: &str, expect: Decision) {
    let Some(ep) = crate::common::moto() else {
        return;
    };
    let s = setup(&ep, code).await;
    // Every RunInstances fails (not just the first).
    let (kind, scope) = classify(Some(code), "", Some(400));
    s.faulty.add_fault(
        Fault::on(Op::RunInstances)
            .kind(kind)
            .scope(scope)
            .code(code),
    );
    let name = unique("fx");
    let err = s
        .broker
        .provision(&cpu_task(2, false), &name, &ProvisionOptions::new())
        .await
        .unwrap_err();
    let history = err.history().unwrap_or_else(|| panic!("{err}"));
    let first = &history.attempts[0];
    assert_eq!(first.code.as_deref(), Some(code));
    assert_eq!(first.decision, expect, "{history}");
    assert!(
        live_by_prefix(&s.p, &name).await.is_empty(),
        "nothing left after {code}"
    );
    if expect == Decision::Abort {
        assert!(matches!(err, BrokerError::Aborted { .. }), "{err}");
        assert_eq!(history.attempts.len(), 1, "{history}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failure_blocks_the_whole_cloud() {
    fail_with("AuthFailure", Decision::Block(Scope::Cloud)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_parameter_aborts() {
    fail_with("InvalidParameterValue", Decision::Abort).await;
}
