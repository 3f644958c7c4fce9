//! A node that stops answering, on an SSH node pool of network-namespace hosts: the other
//! node still answers `queue`, `logs` and `cancel`, the job's status follows what the nodes
//! did (CANCELLING until every rank is stopped), and `refresh` says the cluster is not UP.

use sky_exec::testing::NetnsHosts;
use sky_runtime::JobStatus;
use sky_runtime::state::ClusterStatus;

use super::fixture::{self, Backend, Kind};

/// The processes of a namespace host whose command line contains `needle`.
fn processes(hosts: &NetnsHosts, i: usize, needle: &str) -> usize {
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", &hosts.hosts()[i].netns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .count()
}

fn hosts(b: &mut Backend) -> &mut NetnsHosts {
    match &mut b.kind {
        Kind::Ssh { hosts, .. } => hosts,
        _ => unreachable!("an SSH backend"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_answering_does_not_block_the_others() {
    let Some(mut backend) = Backend::ssh(2) else {
        return;
    };
    let b = backend.broker();
    let t = fixture::task(
        "num_nodes: 2\nrun: |\n  echo started-$SKYPILOT_NODE_RANK\n  exec sleep 3001\n",
    );
    let job = fixture::launch(&b, &t, "c").await;
    fixture::eventually("both ranks to start", || async {
        let lines = fixture::logs_now(&b, "c", job).await;
        (lines.iter().any(|l| l == "started-0") && lines.iter().any(|l| l == "started-1"))
            .then_some(())
    })
    .await;
    drop(b);
    let dead_ip = hosts(&mut backend).hosts()[1].ip.clone();
    assert_eq!(processes(hosts(&mut backend), 1, "sleep 3001"), 1);
    // sshd of the second host stops; what it runs keeps running.
    hosts(&mut backend).stop_sshd(1);

    // A new process (fresh connections): the queue answers, and names the dead node.
    let b = backend.broker();
    let jobs = b.queue("c").await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Running);
    let gone = b.unreachable_nodes("c");
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!((gone[0].rank, gone[0].ip.as_str()), (1, dead_ip.as_str()));
    assert!(
        gone[0].error.contains("connection refused"),
        "{}",
        gone[0].error
    );
    eprintln!("user sees: {}", gone[0].error);
    // Logs show the rank that answers.
    let lines = fixture::logs_now(&b, "c", job).await;
    assert!(lines.iter().any(|l| l == "started-0"), "{lines:?}");
    // The cluster is not UP while a node is gone.
    let rec = b.refresh(Some("c")).await.unwrap().remove(0);
    assert_eq!(rec.status, ClusterStatus::Init);
    // Cancel stops the rank it can reach, and says the job is still being cancelled.
    let after = b.cancel("c", &[job]).await.unwrap().remove(0);
    assert_eq!(after.status, JobStatus::Cancelling, "{after:?}");
    let message = after.message.clone().unwrap_or_default();
    assert!(message.contains(&dead_ip), "{message}");
    eprintln!("user sees: job {job} {}: {message}", after.status);
    assert_eq!(processes(hosts(&mut backend), 0, "sleep 3001"), 0);
    assert_eq!(processes(hosts(&mut backend), 1, "sleep 3001"), 1);
    // The queue still lists it as unfinished (so `cancel --all` finds it).
    let jobs = b.queue("c").await.unwrap();
    assert!(!jobs[0].status.is_terminal());

    // The host comes back: cancelling again stops the last rank, and the cluster is UP.
    hosts(&mut backend).restart_sshd(1).unwrap();
    let after = b.cancel("c", &[job]).await.unwrap().remove(0);
    assert_eq!(after.status, JobStatus::Cancelled, "{after:?}");
    assert_eq!(processes(hosts(&mut backend), 1, "sleep 3001"), 0);
    assert!(b.unreachable_nodes("c").is_empty());
    let rec = b.refresh(Some("c")).await.unwrap().remove(0);
    assert_eq!(rec.status, ClusterStatus::Up);
    b.down("c").await.unwrap();
}

/// `down` of a cluster with a dead node ends its jobs and releases the hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_with_a_dead_node_ends_its_jobs() {
    let Some(mut backend) = Backend::ssh(2) else {
        return;
    };
    let b = backend.broker();
    let t = fixture::task("num_nodes: 2\nrun: exec sleep 3002\n");
    let job = fixture::launch(&b, &t, "d").await;
    fixture::eventually("the job to run", || async {
        (processes(hosts_ref(&backend), 1, "sleep 3002") == 1).then_some(())
    })
    .await;
    drop(b);
    hosts(&mut backend).stop_sshd(1);
    let b = backend.broker();
    let jobs = b.cancel("d", &[job]).await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Cancelling);
    b.down("d").await.unwrap();
    assert!(b.cluster("d").is_err());
    // A new launch can have both hosts again once the dead one is back.
    hosts(&mut backend).restart_sshd(1).unwrap();
    let job = fixture::launch(&b, &fixture::task("num_nodes: 2\nrun: echo ok\n"), "e").await;
    let (rec, _) = fixture::follow(&b, "e", job).await;
    assert_eq!(rec.status, JobStatus::Succeeded, "{rec:?}");
    // What the dead host still ran when it was released was stopped before it was reused.
    assert_eq!(processes(hosts_ref(&backend), 1, "sleep 3002"), 0);
    b.down("e").await.unwrap();
}

fn hosts_ref(b: &Backend) -> &NetnsHosts {
    match &b.kind {
        Kind::Ssh { hosts, .. } => hosts,
        _ => unreachable!("an SSH backend"),
    }
}

/// Plays nodes with directories, except that node `dead` does not answer.
#[derive(Debug)]
struct OneDead {
    dirs: sky_runtime::DirConnector,
    dead: u32,
}

#[async_trait::async_trait]
impl sky_runtime::NodeConnector for OneDead {
    async fn runners(
        &self,
        info: &sky_core::provision::ClusterInfo,
    ) -> Result<Vec<sky_exec::GangNode>, sky_exec::ExecError> {
        let mut nodes = self.dirs.runners(info).await?;
        for n in &mut nodes {
            if n.rank == self.dead {
                let err = sky_exec::ExecError::Connect {
                    node: format!("root@{}:22", n.ip),
                    failure: sky_exec::ConnectFailure::Refused,
                    reason: "Connection refused".into(),
                    fix: "start sshd".into(),
                };
                let stand_in = sky_exec::UnreachableRunner::from_error(n.ip.clone(), &err).unwrap();
                n.runner = std::sync::Arc::new(stand_in);
            }
        }
        Ok(nodes)
    }

    async fn release(
        &self,
        _cluster: &sky_core::provision::ClusterRef,
    ) -> Result<(), sky_exec::ExecError> {
        Ok(())
    }
}

/// A cluster made by `launch` whose node does not answer is torn down, not left UP holding
/// it; the error names the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_cluster_whose_node_does_not_answer_is_not_left_up() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let fake = sky_core::fake::FakeCloud::default();
    let connector = OneDead {
        dirs: sky_runtime::DirConnector::new(dir.path().join("nodes")),
        dead: 1,
    };
    let b = sky_runtime::Broker::builder()
        .state_dir(dir.path())
        .unwrap()
        .cloud_with(
            Arc::new(fake.clone()),
            Arc::new(fake.clone()),
            Arc::new(connector),
        )
        .build()
        .unwrap();
    let t = fixture::task("num_nodes: 2\nrun: echo hi\n");
    let err = b
        .launch(&t, "n", &sky_runtime::ProvisionOptions::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rank 1"), "{err}");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert!(b.cluster("n").is_err(), "the cluster is gone");
    assert!(fake.live_instances().is_empty());
}
