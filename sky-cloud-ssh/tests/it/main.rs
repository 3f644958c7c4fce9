//! The SSH node-pool backend on network-namespace hosts running sshd (root only; in CI, env
//! `CI` set, these must run), and allocation races between processes.

use std::sync::Arc;
use std::time::Duration;

use sky_cloud_ssh::{NodePools, SshPoolCloud, instance_type};
use sky_core::conformance::{ConformanceConfig, run_all};
use sky_core::error::ErrorKind;
use sky_core::provision::{ClusterRef, LaunchRequest, Provisioner};
use sky_exec::testing::{HarnessError, NetnsHosts};
use sky_exec::{KnownHostsPolicy, SshKeyPair};

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
    let mut yaml = format!(
        "netns:\n  user: root\n  identity_file: {}\n  hosts:\n",
        key.private_key_path().display()
    );
    for h in hosts.hosts() {
        yaml.push_str(&format!("    - {}\n", h.ip));
    }
    let pools = NodePools::from_yaml_str(&yaml).unwrap();
    Some(Pool {
        hosts,
        dir,
        _key: key,
        pools,
    })
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
    // The allocation store is shared through SQLite; no SSH is needed to allocate.
    let dir = tempfile::tempdir().unwrap();
    let pools = NodePools::from_yaml_str(
        "p:\n  user: root\n  hosts: [10.9.0.1, 10.9.0.2, 10.9.0.3, 10.9.0.4, 10.9.0.5]\n",
    )
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let cloud = Arc::new(SshPoolCloud::new(pools.clone(), dir.path()).unwrap());
        tasks.push(tokio::spawn(async move {
            let c = ClusterRef {
                name: format!("c{i}"),
                region: "p".into(),
                zone: None,
            };
            cloud
                .run_instances(&LaunchRequest::new(c, instance_type("p"), 2))
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
