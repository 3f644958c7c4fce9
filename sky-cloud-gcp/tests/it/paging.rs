//! Paged lists: Compute Engine may page any list ("If the number of results is larger than
//! maxResults, use the nextPageToken as a value for the query parameter pageToken in the next
//! list request"). With one instance per page, every node is still seen, stopped, started and
//! deleted, by zone (`instances.list`) and across a region (`instances.aggregatedList`).

use std::time::Duration;

use sky_core::provision::{ClusterRef, InstanceState, LaunchRequest, Provisioner};

use crate::fake_gce::FakeGce;
use crate::support::*;

fn zonal(zone: &str) -> ClusterRef {
    ClusterRef {
        name: "pg".into(),
        region: zone.rsplit_once('-').unwrap().0.into(),
        zone: Some(zone.into()),
    }
}

#[tokio::test]
async fn with_one_instance_per_page_every_node_is_seen_and_stopped() {
    let fake = FakeGce::start().await;
    fake.page_size(1);
    let gcp = provisioner(&fake).await;
    let c = zonal("us-central1-a");
    let up = gcp
        .run_instances(&LaunchRequest::new(c.clone(), "n2-standard-8", 3))
        .await
        .unwrap();
    assert_eq!(up.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(fake.later_pages() > 0, "the server paged the list");

    let seen = gcp.query_instances(&c).await.unwrap();
    assert_eq!(seen.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1, 2]);

    gcp.stop_instances(&c).await.unwrap();
    let statuses: Vec<_> = fake
        .instances()
        .iter()
        .map(|i| i["status"].clone())
        .collect();
    assert_eq!(statuses, ["TERMINATED", "TERMINATED", "TERMINATED"]);
    gcp.wait_instances(&c, InstanceState::Stopped, Duration::from_secs(5))
        .await
        .unwrap();

    // The same cluster seen without its zone: the aggregated list, paged too.
    let zoneless = ClusterRef {
        zone: None,
        ..c.clone()
    };
    let pages_before = fake.later_pages();
    let across = gcp.query_instances(&zoneless).await.unwrap();
    assert_eq!(across.len(), 3);
    assert!(
        fake.later_pages() >= pages_before + 2,
        "aggregatedList paged"
    );
    let started = gcp.start_instances(&zoneless).await.unwrap();
    assert_eq!(started.len(), 3);
    assert!(started.iter().all(|n| n.state == InstanceState::Running));

    gcp.terminate_instances(&c).await.unwrap();
    assert!(fake.instances().is_empty(), "{:?}", fake.instances());
}
