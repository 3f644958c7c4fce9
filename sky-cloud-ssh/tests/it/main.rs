//! The SSH node-pool backend on network-namespace hosts running sshd (root only; in CI, env
//! `CI` set, these must run), and allocation races between processes.

use std::sync::Arc;
use std::time::Duration;

use sky_cloud_ssh::{NodePools, SshPoolCloud, instance_type};
use sky_core::Task;
use sky_core::conformance::{ConformanceConfig, run_all};
use sky_core::error::ErrorKind;
use sky_core::provision::{ClusterRef, LaunchRequest, Provisioner};
use sky_exec::testing::{HarnessError, NetnsHosts};
use sky_exec::{GangJob, KnownHostsPolicy, Phase, SshKeyPair};
use sky_runtime::{Broker, ProvisionOptions};

struct Pool {
    hosts: NetnsHosts,
    dir: tempfile::TempDir,
    _key: SshKeyPair,
    pools: NodePools,
}

impl Pool {
    fn cloud(&self) -> SshPoolCloud {
        SshPoolCloud::new(self.pools.clone(), self.dir.path())
            .unwrap()
            .with_known_hosts(
                KnownHostsPolicy::Strict,
                Some(self.hosts.known_hosts_file().to_path_buf()),
            )
            .with_connect_timeout(Duration::from_secs(10))
    }
}

fn pool(n: usize) -> Option<Pool> {
    pool_file(n, |key, ips| {
        let mut yaml = format!("netns:\n  user: root\n  identity_file: {key}\n  hosts:\n");
        for ip in ips {
            yaml.push_str(&format!("    - {ip}\n"));
        }
        yaml
    })
}

/// `n` netns hosts and the pool file `yaml(key path, host addresses)` gives for them.
fn pool_file(n: usize, yaml: impl FnOnce(&str, &[String]) -> String) -> Option<Pool> {
    let dir = tempfile::tempdir().unwrap();
    let key = SshKeyPair::ensure(&dir.path().join("keys")).unwrap();
    let hosts = match NetnsHosts::create(n, key.public_key_openssh()) {
        Ok(h) => h,
        Err(HarnessError::Unavailable(why)) if std::env::var_os("CI").is_none() => {
            eprintln!("note: skipping an SSH pool test: {why}");
            return None;
        }
        Err(e) => panic!("{e}\nCI must run the SSH tests (root, openssh-server, rsync, iproute2)"),
    };
    let ips: Vec<String> = hosts.hosts().iter().map(|h| h.ip.clone()).collect();
    let text = yaml(&key.private_key_path().display().to_string(), &ips);
    let pools = NodePools::from_yaml_str(&text).unwrap();
    Some(Pool {
        hosts,
        dir,
        _key: key,
        pools,
    })
}

impl Pool {
    /// A broker over this pool's backend and state directory.
    fn broker(&self) -> Broker {
        Broker::builder()
            .state_dir(self.dir.path())
            .unwrap()
            .owner("tester")
            .backend(Arc::new(self.cloud()))
            .build()
            .unwrap()
    }

    /// Every allocation in the store: `(host, cluster)`.
    fn allocations(&self) -> Vec<(String, String)> {
        let c = rusqlite::Connection::open(self.dir.path().join("ssh_node_pools.db")).unwrap();
        let mut st = c
            .prepare("SELECT host, cluster FROM host_allocations ORDER BY host")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

/// The message of a failed launch's last attempt, in full (the error's table shortens it).
fn last_attempt(e: &sky_runtime::BrokerError) -> String {
    let history = e.history().unwrap_or_else(|| panic!("no history: {e}"));
    history.attempts.last().expect("an attempt").message.clone()
}

fn task(yaml: &str) -> Task {
    Task::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// The run phase's processes of `job` on `cluster`, by rank.
async fn run_pids(b: &Broker, cluster: &str, job: u64) -> Vec<usize> {
    let gang = GangJob::new(job, b.nodes(cluster).await.unwrap()).unwrap();
    let pids = gang.pids(Phase::Run).await.unwrap();
    pids.values().map(Vec::len).collect()
}

/// Polls `check` until it is true, at most 60 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut pause = Duration::from_millis(20);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(300));
    }
}

fn cluster(name: &str) -> ClusterRef {
    ClusterRef {
        name: name.into(),
        region: "netns".into(),
        zone: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let Some(p) = pool(3) else { return };
    let cloud = p.cloud();
    let cfg = ConformanceConfig::new(instance_type("netns"), "netns");
    run_all(&cloud, &cloud, &cfg).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_is_a_capacity_error_and_down_frees_hosts() {
    let Some(p) = pool(2) else { return };
    let cloud = p.cloud();
    let it = instance_type("netns");
    let a = cloud
        .run_instances(&LaunchRequest::new(cluster("a"), &it, 2))
        .await
        .unwrap();
    let ips: Vec<_> = a.iter().map(|i| i.private_ip.clone().unwrap()).collect();
    let want: Vec<_> = p.hosts.hosts().iter().map(|h| h.ip.clone()).collect();
    assert_eq!(ips, want);
    let err = cloud
        .run_instances(&LaunchRequest::new(cluster("b"), &it, 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Capacity);
    assert!(
        err.to_string()
            .contains("has 0 hosts of 2 free; the cluster needs 1, 1 host short"),
        "{err}"
    );
    // Another process sees the same allocations.
    assert_eq!(p.cloud().query_instances(&cluster("a")).await.unwrap(), a);
    cloud.terminate_instances(&cluster("a")).await.unwrap();
    assert!(
        cloud
            .query_instances(&cluster("a"))
            .await
            .unwrap()
            .is_empty()
    );
    let b = p
        .cloud()
        .run_instances(&LaunchRequest::new(cluster("b"), &it, 1))
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_allocations_never_share_a_host() {
    // Six launches at once, each with its own store (as six processes), on five hosts.
    let Some(p) = pool(5) else { return };
    let mut tasks = Vec::new();
    for i in 0..6 {
        let cloud = Arc::new(p.cloud());
        tasks.push(tokio::spawn(async move {
            cloud
                .run_instances(&LaunchRequest::new(
                    cluster(&format!("c{i}")),
                    instance_type("netns"),
                    2,
                ))
                .await
        }));
    }
    let mut taken = Vec::new();
    let mut full = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(nodes) => taken.extend(nodes.into_iter().map(|n| n.private_ip.unwrap())),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Capacity);
                full += 1;
            }
        }
    }
    assert_eq!(taken.len(), 4, "two clusters of 2 fit in 5 hosts");
    assert_eq!(full, 4);
    let distinct: std::collections::BTreeSet<_> = taken.iter().collect();
    assert_eq!(
        distinct.len(),
        taken.len(),
        "a host was given twice: {taken:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_says_how_many_hosts_are_missing() {
    let Some(p) = pool(3) else { return };
    let cloud = p.cloud();
    let it = instance_type("netns");
    cloud
        .run_instances(&LaunchRequest::new(cluster("a"), &it, 2))
        .await
        .unwrap();
    let err = cloud
        .run_instances(&LaunchRequest::new(cluster("b"), &it, 3))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Capacity);
    eprintln!("user sees: {err}");
    assert!(
        err.to_string().contains(
            "SSH node pool netns has 1 host of 3 free; the cluster needs 3, 2 hosts short"
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_pool_file_fails_launches_not_existing_clusters() {
    use sky_core::catalog::Catalog;
    use sky_core::resources::Resources;
    let Some(p) = pool(1) else { return };
    let it = instance_type("netns");
    p.cloud()
        .run_instances(&LaunchRequest::new(cluster("a"), &it, 1))
        .await
        .unwrap();
    // The user edits the file and mistypes a key.
    let file = p.dir.path().join("ssh_node_pools.yaml");
    std::fs::write(&file, "netns:\n  usr: root\n  hosts: [198.18.0.1]\n").unwrap();
    let cloud = SshPoolCloud::from_file(&file, p.dir.path())
        .unwrap()
        .with_known_hosts(
            KnownHostsPolicy::Strict,
            Some(p.hosts.known_hosts_file().to_path_buf()),
        )
        .with_connect_timeout(Duration::from_secs(10));
    let want = format!(
        "{}:2:3: unknown field `usr`; did you mean `user`?",
        file.display()
    );
    assert_eq!(cloud.pool_file_error().unwrap().to_string(), want);
    // The existing cluster is still there and can be torn down.
    assert_eq!(cloud.query_instances(&cluster("a")).await.unwrap().len(), 1);
    // Launches on the pool say why.
    let err = cloud
        .run_instances(&LaunchRequest::new(cluster("b"), &it, 1))
        .await
        .unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.to_string().contains(&want), "{err}");
    let hint = cloud.offerings(&Resources::default()).hint.unwrap();
    assert!(hint.contains(&want), "{hint}");
    let err = cloud.validate_region_zone(Some("netns"), None).unwrap_err();
    assert!(err.to_string().contains(":2: unknown field `usr`"), "{err}");
    cloud.terminate_instances(&cluster("a")).await.unwrap();
    assert!(
        cloud
            .query_instances(&cluster("a"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_in_two_pools_goes_to_one_cluster_and_down_of_another_spares_its_job() {
    // Pools `a` and `b` both list the first host; `b` has a second one.
    let Some(p) = pool_file(2, |key, ips| {
        format!(
            "a:\n  user: root\n  identity_file: {key}\n  hosts: [{0}]\n\
             b:\n  user: root\n  identity_file: {key}\n  hosts: [{0}, {1}]\n",
            ips[0], ips[1]
        )
    }) else {
        return;
    };
    let shared = p.hosts.hosts()[0].ip.clone();
    let b = p.broker();
    let opts = ProvisionOptions::new();
    let x = b
        .launch(
            &task("resources:\n  infra: ssh/a\nrun: sleep 300\n"),
            "x",
            &opts,
        )
        .await
        .unwrap();
    let job = x.job_id.unwrap();
    let running = |v: Vec<usize>| v.len() == 1 && v[0] > 0;
    eventually("x's job to run", || async {
        running(run_pids(&b, "x", job).await)
    })
    .await;
    // `y` needs both hosts of `b`: one is x's.
    let two = task("num_nodes: 2\nresources:\n  infra: ssh/b\nrun: echo hi\n");
    let y = b.launch(&two, "y", &opts).await;
    if y.is_ok() {
        b.down("y").await.unwrap();
    }
    assert!(
        running(run_pids(&b, "x", job).await),
        "down of y killed x's job"
    );
    let err = y.unwrap_err();
    eprintln!("user sees: {err}");
    let err = last_attempt(&err);
    eprintln!("in full: {err}");
    assert!(
        err.contains(&format!(
            "SSH node pool b has 1 host of 2 free; the cluster needs 2, 1 host short \
             (root@{shared}:22 is also in pool a, where cluster "
        )),
        "{err}"
    );
    // One node of `b` fits beside x, on the other host.
    let z = b
        .launch(
            &task("resources:\n  infra: ssh/b\nrun: echo hi\n"),
            "z",
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(
        z.cluster.nodes[0].private_ip.as_deref(),
        Some(p.hosts.hosts()[1].ip.as_str())
    );
    b.down("z").await.unwrap();
    assert!(
        running(run_pids(&b, "x", job).await),
        "down of z killed x's job"
    );
    b.down("x").await.unwrap();
    assert!(p.allocations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_skips_a_host_whose_sshd_is_stopped() {
    let Some(mut p) = pool(3) else { return };
    p.hosts.stop_sshd(0);
    let b = p.broker();
    let l = b
        .launch(
            &task("num_nodes: 2\nrun: echo rank-$SKYPILOT_NODE_RANK\n"),
            "two",
            &ProvisionOptions::new(),
        )
        .await
        .unwrap();
    let mut ips: Vec<_> = l
        .cluster
        .nodes
        .iter()
        .map(|n| n.private_ip.clone().unwrap())
        .collect();
    ips.sort();
    let live: Vec<_> = p.hosts.hosts()[1..].iter().map(|h| h.ip.clone()).collect();
    assert_eq!(ips, live);
    let rec = b
        .wait_job("two", l.job_id.unwrap(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(rec.status, sky_runtime::JobStatus::Succeeded, "{rec:?}");
    b.down("two").await.unwrap();
    assert!(p.allocations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_that_needs_a_dead_host_names_it_and_keeps_nothing() {
    let Some(mut p) = pool(3) else { return };
    p.hosts.stop_sshd(0);
    let dead = p.hosts.hosts()[0].ip.clone();
    let b = p.broker();
    let err = b
        .launch(
            &task("num_nodes: 3\nrun: echo hi\n"),
            "three",
            &ProvisionOptions::new(),
        )
        .await
        .unwrap_err();
    eprintln!("user sees: {err}");
    let text = last_attempt(&err);
    eprintln!("in full: {text}");
    assert!(
        text.contains(&format!(
            "SSH node pool netns has 2 hosts of 3 free and answering; the cluster needs 3, \
             1 host short ({dead}: connection refused)"
        )),
        "{text}"
    );
    assert!(p.allocations().is_empty(), "{:?}", p.allocations());
    // The provisioner alone says the same and keeps nothing either.
    let cloud = p.cloud();
    let e = cloud
        .run_instances(&LaunchRequest::new(cluster("c"), instance_type("netns"), 3))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Capacity);
    assert!(
        e.to_string()
            .contains(&format!("({dead}: connection refused)")),
        "{e}"
    );
    assert!(
        cloud
            .query_instances(&cluster("c"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// What the tests' log subscriber was given.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_skipped_host_is_logged_with_the_reason() {
    let Some(mut p) = pool(3) else { return };
    p.hosts.stop_sshd(0);
    let dead = p.hosts.hosts()[0].ip.clone();
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let nodes = p
        .cloud()
        .run_instances(&LaunchRequest::new(cluster("c"), instance_type("netns"), 2))
        .await
        .unwrap();
    let ips: Vec<_> = nodes
        .iter()
        .map(|n| n.private_ip.clone().unwrap())
        .collect();
    let live: Vec<_> = p.hosts.hosts()[1..].iter().map(|h| h.ip.clone()).collect();
    assert_eq!(ips, live);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    eprintln!("user sees: {text}");
    assert!(text.contains("WARN"), "{text}");
    assert!(
        text.contains(&format!(
            "skipping an SSH pool host that does not answer host=root@{dead}:22"
        )),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probes_connections_are_the_clusters_first_runners() {
    use sky_exec::NodeConnector;
    let Some(mut p) = pool(2) else { return };
    let cloud = p.cloud();
    cloud
        .run_instances(&LaunchRequest::new(cluster("c"), instance_type("netns"), 2))
        .await
        .unwrap();
    // New logins are refused now; the connections the probes opened still work.
    p.hosts.stop_sshd(0);
    p.hosts.stop_sshd(1);
    let info = cloud.cluster_info(&cluster("c")).await.unwrap();
    let nodes = cloud.runners(&info).await.unwrap();
    assert_eq!(nodes.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1]);
    for n in &nodes {
        assert_eq!(n.runner.exec("true").await.unwrap().code, 0);
    }
    // They are handed out once: the next call logs in again, and sshd is stopped.
    let again = cloud.runners(&info).await.unwrap();
    assert!(again.iter().all(|n| n.unreachable().is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_down_is_skipped_within_the_probe_timeout() {
    let Some(mut p) = pool(2) else { return };
    p.hosts.kill_host(0);
    let down = p.hosts.hosts()[0].ip.clone();
    let cloud = p.cloud().with_probe_timeout(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let e = cloud
        .run_instances(&LaunchRequest::new(cluster("c"), instance_type("netns"), 2))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    eprintln!("user sees: {e}");
    assert!(
        e.to_string().contains(&format!(
            "has 1 host of 2 free and answering; the cluster needs 2, 1 host short \
             ({down}: timed out)"
        )),
        "{e}"
    );
    let one = cloud
        .run_instances(&LaunchRequest::new(cluster("c"), instance_type("netns"), 1))
        .await
        .unwrap();
    assert_eq!(
        one[0].private_ip.as_deref(),
        Some(p.hosts.hosts()[1].ip.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_with_a_malformed_pool_file_still_stops_the_clusters_jobs() {
    use sky_exec::CommandRunner;
    let Some(p) = pool(1) else { return };
    let b = p.broker();
    let l = b
        .launch(&task("run: sleep 300\n"), "x", &ProvisionOptions::new())
        .await
        .unwrap();
    let job = l.job_id.unwrap();
    let running = |v: Vec<usize>| v.len() == 1 && v[0] > 0;
    eventually("the job to run", || async {
        running(run_pids(&b, "x", job).await)
    })
    .await;
    let gang = GangJob::new(job, b.nodes("x").await.unwrap()).unwrap();
    let pids: Vec<u32> = gang
        .pids(Phase::Run)
        .await
        .unwrap()
        .into_values()
        .flatten()
        .collect();
    drop((gang, b));
    // The user breaks the file; `down` reaches the host as it was allocated.
    let file = p.dir.path().join("ssh_node_pools.yaml");
    std::fs::write(&file, "netns:\n  usr: root\n  hosts: [198.18.0.1]\n").unwrap();
    let cloud = SshPoolCloud::from_file(&file, p.dir.path())
        .unwrap()
        .with_known_hosts(
            KnownHostsPolicy::Strict,
            Some(p.hosts.known_hosts_file().to_path_buf()),
        )
        .with_connect_timeout(Duration::from_secs(10));
    assert!(cloud.pool_file_error().is_some());
    let b = Broker::builder()
        .state_dir(p.dir.path())
        .unwrap()
        .owner("tester")
        .backend(Arc::new(cloud))
        .build()
        .unwrap();
    b.down("x").await.unwrap();
    let host = sky_exec::SshRunner::connect(p.hosts.ssh_config(0, p._key.private_key_path()))
        .await
        .unwrap();
    for pid in pids {
        // Gone, or a zombie (the namespaces share this machine's init, which may not reap).
        let state = host
            .exec(&format!("ps -o stat= -p {pid} || true"))
            .await
            .unwrap();
        let state = state.stdout_text();
        assert!(
            state.trim().is_empty() || state.trim().starts_with('Z'),
            "process {pid} of the job survived down: {state}"
        );
    }
    assert!(p.allocations().is_empty());
}
