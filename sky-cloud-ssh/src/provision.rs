//! Provisioning as allocation: hosts of a pool are given to a cluster and taken back.

use std::sync::Arc;
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
use crate::config::{NodePool, PoolHost};
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

/// The capacity error of a pool with `free` of its `total` hosts free (and answering, when
/// some free ones do not), for a cluster that still needs `missing` hosts; `notes` say why
/// hosts were not free (`198.18.0.13: connection refused`, ...).
fn pool_full_message(
    pool: &str,
    free: usize,
    total: usize,
    missing: usize,
    answering: bool,
    notes: &[String],
) -> String {
    let mut m = format!(
        "SSH node pool {pool} has {} of {total} free{}; the cluster needs {missing}, {} short",
        plural(free, "host"),
        if answering { " and answering" } else { "" },
        plural(missing.saturating_sub(free), "host"),
    );
    if !notes.is_empty() {
        m.push_str(&format!(" ({})", notes.join("; ")));
    }
    m
}

/// How many times a launch probes and allocates again when another launch took the hosts it
/// probed.
const ALLOCATE_ATTEMPTS: usize = 3;

impl SshPoolCloud {
    /// How to reach an allocated host: as its pool lists it now (a key path fixed in the
    /// file applies), or as it was reached when allocated (the host left the file, or the
    /// file is malformed).
    fn host_of(&self, a: &Allocation) -> PoolHost {
        let login = a.host.login();
        self.pools
            .get(&a.pool)
            .and_then(|p| p.hosts.iter().find(|h| h.login() == login).cloned())
            .unwrap_or_else(|| a.host.clone())
    }

    /// Gives the cluster's missing ranks answering hosts of `pool`, all or nothing.
    async fn allocate(&self, pool: &NodePool, req: &LaunchRequest) -> Result<Vec<Allocation>> {
        let name = &req.cluster.name;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let needs = self
                .alloc
                .needs(&pool.name, &pool.hosts, name, req.num_nodes)?;
            let (ok, dead) = if needs.missing == 0 {
                (Vec::new(), Vec::new())
            } else {
                self.answering(needs.free, needs.missing).await
            };
            let outcome = self.alloc.allocate(&pool.name, &ok, name, req.num_nodes);
            // Keep the connections of the hosts the cluster got, for its first `runners`.
            let kept: Vec<String> = match &outcome {
                Ok(Allocated::Done(all)) => all.iter().map(|a| a.host.login()).collect(),
                _ => Vec::new(),
            };
            self.probed
                .discard(ok.iter().map(|h| h.login()).filter(|l| !kept.contains(l)));
            let free = match outcome? {
                Allocated::Done(all) => return Ok(all),
                // Another launch took probed hosts meanwhile: look again.
                Allocated::Short { .. }
                    if ok.len() >= needs.missing && attempt < ALLOCATE_ATTEMPTS =>
                {
                    continue;
                }
                Allocated::Short { free } => free,
            };
            let answering = !dead.is_empty();
            let mut notes = dead;
            notes.extend(needs.elsewhere.iter().map(|(login, cluster, other)| {
                format!("{login} is also in pool {other}, where cluster {cluster} has it")
            }));
            return Err(Error::new(
                ErrorKind::Capacity,
                pool_full_message(
                    &pool.name,
                    free,
                    pool.hosts.len(),
                    needs.missing,
                    answering,
                    &notes,
                ),
            )
            .with_code("PoolFull")
            .with_scope(Scope::Region)
            .with_placement(placement(&pool.name)));
        }
    }

    fn instance(a: &Allocation) -> InstanceInfo {
        InstanceInfo {
            id: format!("{}/{}", a.pool, a.host.key()),
            rank: a.rank,
            state: InstanceState::Running,
            private_ip: Some(a.host.ip.clone()),
            public_ip: None,
            zone: None,
            instance_type: instance_type(&a.pool),
            spot: false,
        }
    }

    pub(crate) fn ssh_config(&self, host: &PoolHost) -> SshConfig {
        host.ssh_config(
            self.known_hosts,
            self.known_hosts_file.as_deref(),
            self.connect_timeout,
        )
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
        clean(&runner, host).await
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
        c.probe_nodes = true;
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
        let all = self.allocate(pool, req).await?;
        Ok(all.iter().map(Self::instance).collect())
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
            .map(Self::instance)
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
        let head = self.host_of(head);
        Ok(ClusterInfo {
            cluster: cluster.clone(),
            instances: allocs.iter().map(Self::instance).collect(),
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
        self.probed.discard(allocs.iter().map(|a| a.host.login()));
        let hosts: Vec<PoolHost> = allocs.iter().map(|a| self.host_of(a)).collect();
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
        let mut nodes = Vec::new();
        let mut configs = Vec::new();
        for a in &allocs {
            match self.probed.take(&a.host.login()) {
                Some(runner) => nodes.push(GangNode::new(a.rank, Arc::new(runner))),
                None => configs.push((a.rank, self.ssh_config(&self.host_of(a)))),
            }
        }
        nodes.extend(sky_exec::connector::connect_all(configs).await?);
        nodes.sort_by_key(|n| n.rank);
        Ok(nodes)
    }

    async fn release(&self, _cluster: &ClusterRef) -> std::result::Result<(), ExecError> {
        Ok(())
    }
}

/// Kills every sky job process on a host and removes sky's job files: what `down` does
/// before releasing a host, and what a probe does before a free host is allocated (a free
/// host runs no sky job of this state directory; anything found is left by a cluster that
/// was torn down while the host did not answer).
pub(crate) async fn clean(
    runner: &SshRunner,
    host: &PoolHost,
) -> std::result::Result<(), ExecError> {
    let killed = sky_exec::connector::kill_node_jobs(runner, KILL_GRACE).await?;
    if killed > 0 {
        tracing::warn!(host = %host.key(), killed, "stopped sky jobs left on a released host");
    }
    let out = runner
        .exec("rm -rf \"$HOME\"/.sky/jobs \"$HOME\"/.sky/pending\n")
        .await?;
    if out.code != 0 {
        tracing::warn!(host = %host.key(), "cannot remove sky's job files");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pool_counts_what_is_missing() {
        assert_eq!(
            pool_full_message("lab", 1, 3, 3, false, &[]),
            "SSH node pool lab has 1 host of 3 free; the cluster needs 3, 2 hosts short"
        );
        assert_eq!(
            pool_full_message("lab", 0, 2, 1, false, &[]),
            "SSH node pool lab has 0 hosts of 2 free; the cluster needs 1, 1 host short"
        );
        assert_eq!(
            pool_full_message(
                "lab",
                1,
                3,
                2,
                true,
                &["10.0.0.3: connection refused".into()]
            ),
            "SSH node pool lab has 1 host of 3 free and answering; the cluster needs 2, \
             1 host short (10.0.0.3: connection refused)"
        );
    }
}
