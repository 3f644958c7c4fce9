//! The local backend against the provisioner contract, and what terminate does to jobs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sky_cloud_local::{INSTANCE_TYPE, LocalCloud, REGION};
use sky_core::conformance::{ConformanceConfig, run_all};
use sky_core::provision::{ClusterRef, LaunchRequest, Provisioner};
use sky_exec::{CommandRunner, DetachedSpec, LocalRunner, ProcessRef, RemoteCommand};

#[tokio::test]
async fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalCloud::new(dir.path());
    let cfg = ConformanceConfig::new(INSTANCE_TYPE, REGION);
    run_all(&local, &local, &cfg).await.unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path().join("local"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "every node directory was removed");
}

#[tokio::test]
async fn terminate_kills_the_nodes_jobs_and_removes_their_directories() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(LocalCloud::new(dir.path()));
    let cluster = ClusterRef {
        name: "c-1".into(),
        region: REGION.into(),
        zone: None,
    };
    let nodes = local
        .run_instances(&LaunchRequest::new(cluster.clone(), INSTANCE_TYPE, 2))
        .await
        .unwrap();
    assert_eq!(nodes.len(), 2);
    // Idempotent by rank: asking again creates nothing new.
    let again = local
        .run_instances(&LaunchRequest::new(cluster.clone(), INSTANCE_TYPE, 2))
        .await
        .unwrap();
    assert_eq!(again, nodes);
    let home = local.node_dir("c-1", 1);
    let runner = LocalRunner::new(&home).unwrap();
    let process = ProcessRef::new("~/.sky/jobs/1/run", "rank-0").unwrap();
    runner
        .spawn_detached(&DetachedSpec {
            process: process.clone(),
            command: RemoteCommand::new("sleep 300"),
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let pids = loop {
        let pids = runner.process_pids(&process).await.unwrap();
        if pids.len() >= 2 || Instant::now() > deadline {
            break pids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!pids.is_empty());
    local.terminate_instances(&cluster).await.unwrap();
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|s| s.split(' ').next());
        assert!(
            stat.is_empty() || state == Some("Z"),
            "pid {pid} of the job survived terminate: {stat}"
        );
    }
    assert!(!home.exists());
    assert!(local.query_instances(&cluster).await.unwrap().is_empty());
    local.terminate_instances(&cluster).await.unwrap();
}
