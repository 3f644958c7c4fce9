//! How sky reaches the nodes of a cluster: a [`NodeConnector`] per cloud turns the
//! provisioner's [`ClusterInfo`] into one [`CommandRunner`] per node.
//!
//! Provisioning ends when nodes are up; everything after (syncing files, setup, jobs, logs)
//! goes through runners. Which runner depends on the backend, not on the job: clouds reach
//! their VMs over SSH with sky's own key ([`SshConnector`], the default), the `local` backend
//! runs nodes as directories on this machine, an SSH node pool uses the pool's user and key.
//! [`DirConnector`] is what sky's simulated cloud (`sky_core::fake::FakeCloud`) gets by default, so that launches on
//! the fake run real processes (in directories under the state directory).

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::{
    CommandRunner, ExecError, GangNode, KnownHostsPolicy, LocalRunner, ProcessRef, SshConfig,
    SshKeyPair, SshRunner,
};
use async_trait::async_trait;
use futures_util::future::join_all;
use sky_core::provision::{ClusterInfo, ClusterRef, InstanceInfo, InstanceState};

/// Makes runners for the nodes of a cluster.
///
/// # Behavior
/// - Returns one [`GangNode`] per non-terminated instance of `info`, by rank, whose `ip` is
///   the address other nodes use (`SKYPILOT_NODE_IPS`).
/// - Runners may hold connections; the broker caches them per cluster and asks again after a
///   failure.
#[async_trait]
pub trait NodeConnector: Send + Sync + Debug {
    /// Runners for every node of the cluster, in rank order.
    async fn runners(&self, info: &ClusterInfo) -> Result<Vec<GangNode>, ExecError>;

    /// Called after the cluster was terminated: removes whatever the connector keeps for it
    /// on this machine. Idempotent.
    async fn release(&self, cluster: &ClusterRef) -> Result<(), ExecError>;
}

fn live(info: &ClusterInfo) -> Vec<&InstanceInfo> {
    let mut v: Vec<&InstanceInfo> = info
        .instances
        .iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .collect();
    v.sort_by_key(|i| i.rank);
    v
}

/// Reaches nodes over SSH with sky's own key pair (`<key dir>/sky-key`, created on first
/// use), the user and port of the [`ClusterInfo`], connecting to each node's public IP (or
/// its private IP when it has none).
///
/// Host keys are not checked (a fresh VM's key cannot be known in advance, and cloud IPs are
/// reused), as SkyPilot does for the clusters it makes.
#[derive(Clone, Debug)]
pub struct SshConnector {
    key_dir: PathBuf,
    connect_timeout: Duration,
}

impl SshConnector {
    /// Uses the key pair in `key_dir` (the broker passes `<state dir>/keys`).
    pub fn new(key_dir: impl Into<PathBuf>) -> Self {
        SshConnector {
            key_dir: key_dir.into(),
            connect_timeout: Duration::from_secs(30),
        }
    }

    /// Sets the connection timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

#[async_trait]
impl NodeConnector for SshConnector {
    async fn runners(&self, info: &ClusterInfo) -> Result<Vec<GangNode>, ExecError> {
        let key = SshKeyPair::ensure(&self.key_dir)?;
        let configs: Vec<(u32, SshConfig)> = live(info)
            .into_iter()
            .map(|i| {
                let private = i.private_ip.clone();
                let host = i.public_ip.clone().or_else(|| private.clone());
                let host = host.ok_or_else(|| {
                    ExecError::InvalidArgument(format!(
                        "node {} ({}) has no IP address yet",
                        i.rank, i.id
                    ))
                })?;
                let node_ip = private.unwrap_or_else(|| host.clone());
                Ok((
                    i.rank,
                    SshConfig::new(host)
                        .user(info.ssh_user.clone())
                        .port(info.ssh_port)
                        .identity_file(key.private_key_path())
                        .known_hosts(KnownHostsPolicy::AcceptAny)
                        .known_hosts_file("/dev/null")
                        .connect_timeout(self.connect_timeout)
                        .node_ip(node_ip),
                ))
            })
            .collect::<Result<_, ExecError>>()?;
        connect_all(configs).await
    }

    async fn release(&self, _cluster: &ClusterRef) -> Result<(), ExecError> {
        Ok(())
    }
}

/// Connects to every node in parallel. A node that cannot be connected to
/// ([`ExecError::Connect`]: unreachable, refused, bad key, changed host key, ...) becomes an
/// [`UnreachableRunner`](crate::UnreachableRunner) carrying that error, so the nodes that
/// answer can still be used and the dead one is reported
/// ([`CommandRunner::unreachable`]); any other failure (with its rank) is returned.
pub async fn connect_all(configs: Vec<(u32, SshConfig)>) -> Result<Vec<GangNode>, ExecError> {
    let results = join_all(configs.into_iter().map(|(rank, cfg)| async move {
        let ip = cfg.node_ip.clone().unwrap_or_else(|| cfg.host.clone());
        match SshRunner::connect(cfg).await {
            Ok(r) => Ok(GangNode::new(rank, Arc::new(r))),
            Err(e) => match crate::UnreachableRunner::from_error(ip.clone(), &e) {
                Some(u) => Ok(GangNode::new(rank, Arc::new(u))),
                None => Err(ExecError::Node {
                    rank,
                    ip,
                    source: Box::new(e),
                }),
            },
        }
    }))
    .await;
    results.into_iter().collect()
}

/// Plays every node with a [`LocalRunner`] whose home is `<base>/<cluster>/node-<rank>`
/// (`<cluster>` is the on-cloud name, [`ClusterInfo::cluster`]), reporting the instance's
/// private IP (or `127.0.0.1`).
///
/// The broker gives sky's simulated cloud (`FakeCloud`) one with `<state dir>/fake-nodes`, so that
/// jobs launched on the fake run as local processes: tests of the job queue need no machine.
#[derive(Clone, Debug)]
pub struct DirConnector {
    base: PathBuf,
}

impl DirConnector {
    /// Node directories under `base`.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        DirConnector { base: base.into() }
    }

    /// The directory of node `rank` of the on-cloud cluster `cluster`.
    pub fn node_dir(&self, cluster: &str, rank: u32) -> PathBuf {
        node_dir(&self.base, cluster, rank)
    }
}

/// `<base>/<cluster>/node-<rank>`.
pub fn node_dir(base: &Path, cluster: &str, rank: u32) -> PathBuf {
    base.join(cluster).join(format!("node-{rank}"))
}

#[async_trait]
impl NodeConnector for DirConnector {
    async fn runners(&self, info: &ClusterInfo) -> Result<Vec<GangNode>, ExecError> {
        live(info)
            .into_iter()
            .map(|i| {
                let ip = i.private_ip.clone().unwrap_or_else(|| "127.0.0.1".into());
                let runner = LocalRunner::new(self.node_dir(&info.cluster.name, i.rank))?
                    .with_ip(ip.clone());
                Ok(GangNode::new(i.rank, Arc::new(runner)).with_ip(ip))
            })
            .collect()
    }

    async fn release(&self, cluster: &ClusterRef) -> Result<(), ExecError> {
        let dir = self.base.join(&cluster.name);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ExecError::Io {
                what: format!("removing {}", dir.display()),
                source: e,
            }),
        }
    }
}

/// Kills every detached job process a node has (each `~/.sky/jobs/<job>/<phase>/<name>.pid`
/// whose process group is alive), as `down` does before releasing a node. Returns how many
/// process groups were still alive.
pub async fn kill_node_jobs(
    runner: &dyn CommandRunner,
    grace: Duration,
) -> Result<usize, ExecError> {
    let out = runner
        .exec(
            "for f in \"$HOME\"/.sky/jobs/*/*/*.pid; do [ -f \"$f\" ] && printf '%s\\n' \"$f\"; done; true\n",
        )
        .await?;
    let mut killed = 0;
    for line in out.stdout_text().lines() {
        let path = Path::new(line.trim());
        let (Some(dir), Some(stem)) = (path.parent(), path.file_stem()) else {
            continue;
        };
        let process = ProcessRef::new(dir.to_string_lossy(), stem.to_string_lossy())?;
        if runner.process_status(&process).await?.is_running() {
            runner.kill(&process, grace).await?;
            killed += 1;
        }
    }
    Ok(killed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sky_core::provision::ClusterRef;

    fn info(n: u32) -> ClusterInfo {
        ClusterInfo {
            cluster: ClusterRef {
                name: "c-1".into(),
                region: "r".into(),
                zone: None,
            },
            instances: (0..n)
                .rev()
                .map(|rank| InstanceInfo {
                    id: format!("i-{rank}"),
                    rank,
                    state: InstanceState::Running,
                    private_ip: Some(format!("10.0.0.{}", rank + 1)),
                    public_ip: None,
                    zone: None,
                    instance_type: "t".into(),
                    spot: false,
                })
                .collect(),
            ssh_user: "u".into(),
            ssh_port: 22,
        }
    }

    #[tokio::test]
    async fn dir_connector_makes_one_home_per_rank() {
        let dir = tempfile::tempdir().unwrap();
        let c = DirConnector::new(dir.path());
        let nodes = c.runners(&info(3)).await.unwrap();
        assert_eq!(nodes.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(nodes[1].ip, "10.0.0.2");
        let out = nodes[2].runner.exec("pwd").await.unwrap();
        assert!(out.stdout_text().trim().ends_with("c-1/node-2"));
        assert_eq!(
            kill_node_jobs(nodes[0].runner.as_ref(), Duration::from_secs(1))
                .await
                .unwrap(),
            0
        );
        c.release(&info(3).cluster).await.unwrap();
        assert!(!dir.path().join("c-1").exists());
        c.release(&info(3).cluster).await.unwrap();
    }
}
