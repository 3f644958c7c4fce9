//! Nodes as directories: provisioning is `mkdir`, termination kills the node's jobs and
//! removes its directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sky_core::CloudId;
use sky_core::error::{Error, ErrorKind, Placement, Result};
use sky_core::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
};
use sky_core::resources::PortRange;
use sky_exec::NodeConnector;
use sky_exec::{ExecError, GangNode, LocalRunner};

use crate::error::{invalid, io_error};
use crate::{CLOUD, INSTANCE_TYPE, LocalCloud, REGION, node_ip};

/// How long `terminate` lets a job's processes exit after SIGTERM.
const KILL_GRACE: Duration = Duration::from_secs(3);

impl LocalCloud {
    fn cluster_dir(&self, cluster: &str) -> PathBuf {
        self.base.join(cluster)
    }

    fn instance(&self, cluster: &str, rank: u32) -> InstanceInfo {
        InstanceInfo {
            id: format!("{cluster}-node-{rank}"),
            rank,
            state: InstanceState::Running,
            private_ip: Some(node_ip(rank)),
            public_ip: None,
            zone: None,
            instance_type: INSTANCE_TYPE.to_string(),
            spot: false,
        }
    }

    /// The ranks of the node directories of a cluster, sorted.
    async fn ranks(&self, cluster: &str) -> Result<Vec<u32>> {
        let dir = self.cluster_dir(cluster);
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(format!("listing {}", dir.display()), e)),
        };
        let mut ranks = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io_error(format!("listing {}", dir.display()), e))?
        {
            let name = entry.file_name();
            if let Some(rank) = name
                .to_str()
                .and_then(|n| n.strip_prefix("node-"))
                .and_then(|r| r.parse().ok())
            {
                ranks.push(rank);
            }
        }
        ranks.sort_unstable();
        Ok(ranks)
    }

    fn check_cluster_name(cluster: &ClusterRef) -> Result<()> {
        let ok = !cluster.name.is_empty()
            && cluster.name != "."
            && cluster.name != ".."
            && cluster
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(())
        } else {
            Err(invalid(format!(
                "cluster name {:?} cannot name a directory",
                cluster.name
            )))
        }
    }
}

/// Kills the running jobs of one node directory (best effort: a node whose processes cannot
/// be listed is still removed).
async fn kill_jobs_in(home: &Path) {
    let Ok(runner) = LocalRunner::new(home) else {
        return;
    };
    match sky_exec::connector::kill_node_jobs(&runner, KILL_GRACE).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::debug!(node = %home.display(), killed = n, "killed jobs before removing a node")
        }
        Err(e) => tracing::warn!(node = %home.display(), error = %e, "cannot kill a node's jobs"),
    }
}

#[async_trait]
impl Provisioner for LocalCloud {
    fn cloud(&self) -> CloudId {
        CLOUD
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.multi_node = true;
        c
    }

    async fn bootstrap(&self, _req: &LaunchRequest) -> Result<()> {
        tokio::fs::create_dir_all(&self.base)
            .await
            .map_err(|e| io_error(format!("creating {}", self.base.display()), e))
    }

    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        Self::check_cluster_name(&req.cluster)?;
        if req.instance_type != INSTANCE_TYPE {
            return Err(invalid(format!(
                "local has one instance type, {INSTANCE_TYPE:?}; asked for {:?}",
                req.instance_type
            )));
        }
        if req.cluster.region != REGION || req.cluster.zone.is_some() {
            return Err(invalid(format!(
                "local has one region, {REGION:?}, and no zones; asked for {}{}",
                req.cluster.region,
                req.cluster
                    .zone
                    .as_deref()
                    .map(|z| format!("/{z}"))
                    .unwrap_or_default()
            )));
        }
        if req.spot {
            return Err(Error::unsupported(CLOUD, "spot instances"));
        }
        if req.accelerator.is_some() {
            return Err(invalid("local has no accelerators".into()));
        }
        for rank in 0..req.num_nodes {
            let dir = self.node_dir(&req.cluster.name, rank);
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| io_error(format!("creating {}", dir.display()), e))?;
        }
        self.query_instances(&req.cluster).await
    }

    async fn wait_instances(
        &self,
        _cluster: &ClusterRef,
        state: InstanceState,
        _timeout: Duration,
    ) -> Result<()> {
        // Directories exist or they do not: nothing is ever on its way.
        match state {
            InstanceState::Running | InstanceState::Terminated => Ok(()),
            other => Err(Error::unsupported(
                CLOUD,
                &format!("waiting for {other:?} nodes"),
            )),
        }
    }

    async fn query_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        Self::check_cluster_name(cluster)?;
        Ok(self
            .ranks(&cluster.name)
            .await?
            .into_iter()
            .map(|r| self.instance(&cluster.name, r))
            .collect())
    }

    async fn cluster_info(&self, cluster: &ClusterRef) -> Result<ClusterInfo> {
        let instances = self.query_instances(cluster).await?;
        if instances.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("local cluster {} has no nodes", cluster.name),
            )
            .with_placement(Placement::cloud(CLOUD)));
        }
        Ok(ClusterInfo {
            cluster: cluster.clone(),
            instances,
            ssh_user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
            ssh_port: 22,
        })
    }

    async fn stop_instances(&self, _cluster: &ClusterRef) -> Result<()> {
        Err(Error::unsupported(CLOUD, "stop_instances"))
    }

    async fn start_instances(&self, _cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        Err(Error::unsupported(CLOUD, "start_instances"))
    }

    async fn terminate_instances(&self, cluster: &ClusterRef) -> Result<()> {
        Self::check_cluster_name(cluster)?;
        for rank in self.ranks(&cluster.name).await? {
            kill_jobs_in(&self.node_dir(&cluster.name, rank)).await;
        }
        let dir = self.cluster_dir(&cluster.name);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(format!("removing {}", dir.display()), e)),
        }
    }

    async fn open_ports(&self, _cluster: &ClusterRef, _ports: &[PortRange]) -> Result<()> {
        Err(Error::unsupported(CLOUD, "open_ports"))
    }
}

#[async_trait]
impl NodeConnector for LocalCloud {
    async fn runners(&self, info: &ClusterInfo) -> std::result::Result<Vec<GangNode>, ExecError> {
        let mut nodes = Vec::new();
        for i in &info.instances {
            if i.state == InstanceState::Terminated {
                continue;
            }
            let ip = node_ip(i.rank);
            let runner =
                LocalRunner::new(self.node_dir(&info.cluster.name, i.rank))?.with_ip(ip.clone());
            nodes.push(GangNode::new(i.rank, Arc::new(runner)).with_ip(ip));
        }
        nodes.sort_by_key(|n| n.rank);
        Ok(nodes)
    }

    async fn release(&self, cluster: &ClusterRef) -> std::result::Result<(), ExecError> {
        // terminate_instances removed the directories; nothing else is kept.
        let _ = cluster;
        Ok(())
    }
}
