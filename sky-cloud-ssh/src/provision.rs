//! Provisioning as allocation: hosts of a pool are given to a cluster and taken back.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use sky_core::CloudId;
use sky_core::error::{Error, ErrorKind, Placement, Result, Scope};
use sky_core::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
};
use sky_core::resources::PortRange;
use sky_exec::NodeConnector;
use sky_exec::{CommandRunner, ExecError, GangNode, SshConfig, SshRunner};

use crate::alloc::{Allocated, Allocation};
use crate::config::PoolHost;
use crate::{CLOUD, SshPoolCloud, instance_type};

/// How long `terminate` lets a job's processes exit after SIGTERM.
const KILL_GRACE: Duration = Duration::from_secs(3);

fn placement(region: &str) -> Placement {
    Placement {
        cloud: Some(CLOUD),
        region: Some(region.to_string()),
        ..Placement::default()
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The capacity error of a pool with `free` of its `total` hosts free, for a cluster that
/// still needs `missing` hosts.
fn pool_full_message(pool: &str, free: usize, total: usize, missing: usize) -> String {
    format!(
        "SSH node pool {pool} has {} of {total} free; the cluster needs {missing}, {} short",
        plural(free, "host"),
        plural(missing.saturating_sub(free), "host"),
    )
}

impl SshPoolCloud {
    fn host_of(&self, pool: &str, a: &Allocation) -> PoolHost {
        self.pools
            .get(pool)
            .and_then(|p| p.hosts.iter().find(|h| h.key() == a.key()).cloned())
            .unwrap_or_else(|| PoolHost {
                // The host left the pool file after it was allocated: reach it with defaults.
                ip: a.ip.clone(),
                port: a.port,
                user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
                identity_file: None,
            })
    }

    fn instance(pool: &str, a: &Allocation) -> InstanceInfo {
        InstanceInfo {
            id: format!("{pool}/{}", a.key()),
            rank: a.rank,
            state: InstanceState::Running,
            private_ip: Some(a.ip.clone()),
            public_ip: None,
            zone: None,
            instance_type: instance_type(pool),
            spot: false,
        }
    }

    fn ssh_config(&self, host: &PoolHost) -> SshConfig {
        let mut cfg = SshConfig::new(host.ip.clone())
            .user(host.user.clone())
            .port(host.port)
            .known_hosts(self.known_hosts)
            .connect_timeout(self.connect_timeout);
        if let Some(k) = &host.identity_file {
            cfg = cfg.identity_file(k);
        }
        if let Some(f) = &self.known_hosts_file {
            cfg = cfg.known_hosts_file(f);
        }
        cfg
    }

    /// The error of a launch on a pool that is not in the pool file (or the file's error).
    fn no_pool(&self, pool: &str) -> Error {
        let message = match &self.file_error {
            Some(e) => format!("SSH node pool {pool:?} is unavailable: {e}"),
            None => format!("there is no SSH node pool {pool:?}"),
        };
        Error::new(ErrorKind::InvalidRequest, message).with_placement(placement(pool))
    }

    fn allocations(&self, cluster: &ClusterRef) -> Result<Vec<Allocation>> {
        Ok(self.alloc.of_cluster(&cluster.name)?)
    }

    /// Kills every sky job on a host and removes sky's job files there, before the host
    /// goes back to the pool.
    async fn clean_host(&self, host: &PoolHost) -> std::result::Result<(), ExecError> {
        let runner = SshRunner::connect(self.ssh_config(host)).await?;
        sky_exec::connector::kill_node_jobs(&runner, KILL_GRACE).await?;
        let out = runner
            .exec("rm -rf \"$HOME\"/.sky/jobs \"$HOME\"/.sky/pending\n")
            .await?;
        if out.code != 0 {
            tracing::warn!(host = %host.key(), "cannot remove sky's job files");
        }
        Ok(())
    }
}

#[async_trait]
impl Provisioner for SshPoolCloud {
    fn cloud(&self) -> CloudId {
        CLOUD
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.multi_node = true;
        c
    }

    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
        match self.pools.get(&req.cluster.region) {
            Some(_) => Ok(()),
            None => Err(self.no_pool(&req.cluster.region)),
        }
    }

    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        let pool_name = &req.cluster.region;
        let at = placement(pool_name);
        let pool = self
            .pools
            .get(pool_name)
            .ok_or_else(|| self.no_pool(pool_name))?;
        if req.instance_type != instance_type(pool_name) {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "pool {pool_name} has instance type {:?}, not {:?}",
                    instance_type(pool_name),
                    req.instance_type
                ),
            )
            .with_placement(at));
        }
        if req.spot || req.accelerator.is_some() || req.cluster.zone.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "SSH node pools have no spot market, accelerators or zones",
            )
            .with_placement(at));
        }
        match self
            .alloc
            .allocate(pool_name, &pool.hosts, &req.cluster.name, req.num_nodes)?
        {
            Allocated::Done(all) => Ok(all.iter().map(|a| Self::instance(pool_name, a)).collect()),
            Allocated::Short { free, missing } => Err(Error::new(
                ErrorKind::Capacity,
                pool_full_message(pool_name, free, pool.hosts.len(), missing),
            )
            .with_code("PoolFull")
            .with_scope(Scope::Region)
            .with_placement(at)),
        }
    }

    async fn wait_instances(
        &self,
        _cluster: &ClusterRef,
        state: InstanceState,
        _timeout: Duration,
    ) -> Result<()> {
        match state {
            InstanceState::Running | InstanceState::Terminated => Ok(()),
            other => Err(Error::unsupported(
                CLOUD,
                &format!("waiting for {other:?} hosts"),
            )),
        }
    }

    async fn query_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        Ok(self
            .allocations(cluster)?
            .iter()
            .map(|a| Self::instance(&cluster.region, a))
            .collect())
    }

    async fn cluster_info(&self, cluster: &ClusterRef) -> Result<ClusterInfo> {
        let allocs = self.allocations(cluster)?;
        let Some(head) = allocs.first() else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "cluster {} has no hosts in pool {}",
                    cluster.name, cluster.region
                ),
            )
            .with_placement(placement(&cluster.region)));
        };
        let head = self.host_of(&cluster.region, head);
        Ok(ClusterInfo {
            cluster: cluster.clone(),
            instances: allocs
                .iter()
                .map(|a| Self::instance(&cluster.region, a))
                .collect(),
            ssh_user: head.user,
            ssh_port: head.port,
        })
    }

    async fn stop_instances(&self, _cluster: &ClusterRef) -> Result<()> {
        Err(Error::unsupported(CLOUD, "stop_instances"))
    }

    async fn start_instances(&self, _cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        Err(Error::unsupported(CLOUD, "start_instances"))
    }

    async fn terminate_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let allocs = self.allocations(cluster)?;
        let hosts: Vec<PoolHost> = allocs
            .iter()
            .map(|a| self.host_of(&cluster.region, a))
            .collect();
        let results = join_all(hosts.iter().map(|h| self.clean_host(h))).await;
        for (h, r) in hosts.iter().zip(results) {
            if let Err(e) = r {
                // An unreachable host is released anyway: `down` must not hang on it.
                tracing::warn!(host = %h.key(), error = %e, "cannot clean a host before releasing it");
            }
        }
        Ok(self.alloc.release(&cluster.name)?)
    }

    async fn open_ports(&self, _cluster: &ClusterRef, _ports: &[PortRange]) -> Result<()> {
        Err(Error::unsupported(CLOUD, "open_ports"))
    }
}

#[async_trait]
impl NodeConnector for SshPoolCloud {
    async fn runners(&self, info: &ClusterInfo) -> std::result::Result<Vec<GangNode>, ExecError> {
        let allocs = self
            .alloc
            .of_cluster(&info.cluster.name)
            .map_err(|e| ExecError::InvalidArgument(e.to_string()))?;
        let configs = allocs
            .iter()
            .map(|a| {
                (
                    a.rank,
                    self.ssh_config(&self.host_of(&info.cluster.region, a)),
                )
            })
            .collect();
        sky_exec::connector::connect_all(configs).await
    }

    async fn release(&self, _cluster: &ClusterRef) -> std::result::Result<(), ExecError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pool_counts_what_is_missing() {
        assert_eq!(
            pool_full_message("lab", 1, 3, 3),
            "SSH node pool lab has 1 host of 3 free; the cluster needs 3, 2 hosts short"
        );
        assert_eq!(
            pool_full_message("lab", 0, 2, 1),
            "SSH node pool lab has 0 hosts of 2 free; the cluster needs 1, 1 host short"
        );
    }
}
