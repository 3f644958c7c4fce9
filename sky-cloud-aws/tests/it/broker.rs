//! The broker over the real AWS provisioner on moto: launch, status --refresh, stop/start,
//! down, and nothing left running afterwards.

use std::sync::Arc;

use sky_core::CloudId;
use sky_runtime::ProvisionOptions;
use sky_runtime::state::ClusterStatus;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_and_on_demand_clusters_live_and_die_through_the_broker() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let cat = Arc::new(moto_catalog(&p).await);
    let dir = tempfile::tempdir().unwrap();
    let b = broker(cat, Arc::new(p.clone()), dir.path());
    let prefix = unique("brk");
    let (spot_name, od_name) = (format!("{prefix}-s"), format!("{prefix}-o"));

    let spot = b
        .provision(&cpu_task(2, true), &spot_name, &ProvisionOptions::new())
        .await
        .unwrap();
    assert_eq!(spot.status, ClusterStatus::Up);
    let launched = spot.launched.clone().unwrap();
    assert_eq!(launched.cloud, CloudId::Aws);
    assert!(launched.spot);
    assert!(
        launched
            .zone
            .as_deref()
            .is_some_and(|z| z.starts_with(&launched.region)),
        "placed in a named zone of its region: {launched:?}"
    );
    assert_eq!(spot.nodes.len(), 2);
    assert!(spot.nodes.iter().all(|n| n.spot), "{:?}", spot.nodes);

    let od = b
        .provision(&cpu_task(1, false), &od_name, &ProvisionOptions::new())
        .await
        .unwrap();
    assert_eq!(od.status, ClusterStatus::Up);
    assert!(!od.launched.as_ref().unwrap().spot);
    assert_eq!(od.nodes.len(), 1);
    assert_eq!(live_by_prefix(&p, &prefix).await.len(), 3);

    // status --refresh asks EC2 and agrees.
    let refreshed = b.refresh(None).await.unwrap();
    let mut statuses: Vec<(String, ClusterStatus)> = refreshed
        .iter()
        .map(|r| (r.name.clone(), r.status))
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            (od_name.clone(), ClusterStatus::Up),
            (spot_name.clone(), ClusterStatus::Up)
        ]
    );

    // Stop and start the on-demand cluster: same instance, stopped then running.
    let stopped = b.stop(&od_name).await.unwrap();
    assert_eq!(stopped.status, ClusterStatus::Stopped);
    let od_id = od.nodes[0].id.clone();
    let live = live_by_prefix(&p, &od_name).await;
    assert_eq!(live, vec![(od_id.clone(), "stopped".to_owned())]);
    let refreshed = b.refresh(Some(&od_name)).await.unwrap();
    assert_eq!(refreshed[0].status, ClusterStatus::Stopped);
    let started = b.start(&od_name).await.unwrap();
    assert_eq!(started.status, ClusterStatus::Up);
    assert_eq!(started.nodes[0].id, od_id, "start restarts the same node");
    assert_eq!(
        live_by_prefix(&p, &od_name).await,
        vec![(od_id, "running".to_owned())]
    );

    b.down(&spot_name).await.unwrap();
    b.down(&od_name).await.unwrap();
    assert!(b.status().unwrap().is_empty());
    assert!(
        live_by_prefix(&p, &prefix).await.is_empty(),
        "DescribeInstances by sky's tags finds nothing left"
    );
}

/// The key pair rule: one key pair per state directory and region, living while a cluster of
/// that state directory lives in the region; `down` of the last one deletes it, so state
/// directories that are then deleted leave no key pairs behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_down_in_a_region_deletes_the_state_dirs_key_pair() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let cat = Arc::new(moto_catalog(&p).await);
    let dir = tempfile::tempdir().unwrap();
    let b = broker(cat, Arc::new(p.clone()), dir.path());
    let prefix = unique("kp");
    let (one, two) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let a = b
        .provision(&cpu_task(1, false), &one, &ProvisionOptions::new())
        .await
        .unwrap();
    let region = a.launched.unwrap().region;
    let bb = b
        .provision(&cpu_task(1, false), &two, &ProvisionOptions::new())
        .await
        .unwrap();
    assert_eq!(bb.launched.unwrap().region, region, "both in one region");
    let public = std::fs::read_to_string(dir.path().join("keys/sky-key.pub")).unwrap();
    let name = sky_cloud_aws::provision::key_pair_name(&public);
    let key_pairs = || async {
        p.client(&region)
            .describe_key_pairs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("key-name")
                    .values(&name)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .key_pairs()
            .len()
    };
    assert_eq!(key_pairs().await, 1, "imported once for both");
    b.down(&one).await.unwrap();
    assert_eq!(
        key_pairs().await,
        1,
        "kept while a cluster of the state dir is there"
    );
    b.down(&two).await.unwrap();
    assert_eq!(key_pairs().await, 0, "the last down deletes it");
    assert!(live_by_prefix(&p, &prefix).await.is_empty());
}
