//! Reaching a cluster's nodes for its jobs: the recorded cluster, its runners (cached per
//! cluster incarnation) and what a job is told about the cluster.

use sky_core::provision::ClusterRef;
use sky_exec::{ClusterMeta, ExecError, GangNode};

use serde::Serialize;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::state::{ClusterRecord, ClusterStatus};

/// A node of a cluster that did not answer ([`Broker::unreachable_nodes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnreachableNode {
    /// The node's rank.
    pub rank: u32,
    /// Its IP.
    pub ip: String,
    /// Why: the connect error, with ssh's reason and the fix.
    pub error: String,
}

impl Broker {
    pub(super) fn exec_err(&self, cluster: &str, source: ExecError) -> BrokerError {
        BrokerError::Exec {
            cluster: cluster.to_string(),
            source,
        }
    }

    /// The recorded cluster, which must be `UP`.
    pub(super) fn up_cluster(&self, name: &str) -> Result<ClusterRecord, BrokerError> {
        let rec = self.cluster(name)?;
        if rec.status != ClusterStatus::Up {
            return Err(BrokerError::InvalidState {
                name: name.into(),
                status: rec.status,
                message: "jobs run on UP clusters only; `start` it or launch again".into(),
            });
        }
        Ok(rec)
    }

    /// Runners for every node of cluster `name`, by rank (connections are cached).
    pub async fn nodes(&self, name: &str) -> Result<Vec<GangNode>, BrokerError> {
        let rec = self.cluster(name)?;
        self.nodes_of(&rec).await
    }

    pub(crate) async fn nodes_of(&self, rec: &ClusterRecord) -> Result<Vec<GangNode>, BrokerError> {
        if let Some(n) = self
            .nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&rec.cluster_hash)
        {
            return Ok(n.clone());
        }
        let launched = rec
            .launched
            .as_ref()
            .ok_or_else(|| BrokerError::InvalidState {
                name: rec.name.clone(),
                status: rec.status,
                message: "it was never placed".into(),
            })?;
        let entry = self.clouds.get(&launched.cloud).ok_or_else(|| {
            BrokerError::Config(format!(
                "cloud {} is not enabled in this broker",
                launched.cloud
            ))
        })?;
        let info = Self::cluster_info_of(rec, launched, entry.provisioner.as_ref()).await?;
        let connector = entry.connector.clone().ok_or_else(|| {
            BrokerError::Config(format!("cloud {} has no node connector", launched.cloud))
        })?;
        let nodes = connector
            .runners(&info)
            .await
            .map_err(|e| self.exec_err(&rec.name, e))?;
        if nodes.is_empty() {
            return Err(BrokerError::InvalidState {
                name: rec.name.clone(),
                status: rec.status,
                message: "it has no running node".into(),
            });
        }
        let gone: Vec<UnreachableNode> = nodes
            .iter()
            .filter_map(|n| {
                n.runner.unreachable().map(|e| UnreachableNode {
                    rank: n.rank,
                    ip: n.ip.clone(),
                    error: e.to_string(),
                })
            })
            .collect();
        for g in &gone {
            // Callers report it (`unreachable_nodes`; the CLI warns once).
            tracing::info!(cluster = %rec.name, rank = g.rank, ip = %g.ip, error = %g.error, "node unreachable");
        }
        if gone.is_empty() {
            // Connections to every node are reused; a cluster with a dead node is asked
            // again next time, so that the node is used as soon as it answers.
            self.nodes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(rec.cluster_hash.clone(), nodes.clone());
        }
        self.set_unreachable(&rec.name, gone);
        Ok(nodes)
    }

    /// The `ssh` command line that opens a shell on the head node of cluster `name`, for
    /// clouds reached with sky's own key ([`SshConnector`](crate::SshConnector)): `ssh -i
    /// <key> -p <port> <user>@<ip>`. `None` for backends without such a login (the local
    /// backend has no SSH; an SSH pool's hosts are reached with the pool's own login, see
    /// its file).
    ///
    /// Asks the provider for the head's address; the cluster must be `UP`.
    pub async fn ssh_command(&self, name: &str) -> Result<Option<Vec<String>>, BrokerError> {
        let rec = self.up_cluster(name)?;
        let Some(launched) = &rec.launched else {
            return Ok(None);
        };
        let Some(entry) = self.clouds.get(&launched.cloud) else {
            return Ok(None);
        };
        let Some(dir) = &entry.ssh_key_dir else {
            return Ok(None);
        };
        let info = Self::cluster_info_of(&rec, launched, entry.provisioner.as_ref()).await?;
        let Some(ip) = info
            .head()
            .and_then(|h| h.public_ip.clone().or_else(|| h.private_ip.clone()))
        else {
            return Ok(None);
        };
        let key = sky_exec::SshKeyPair::ensure(dir).map_err(|e| self.exec_err(name, e))?;
        Ok(Some(vec![
            "ssh".into(),
            "-i".into(),
            key.private_key_path().display().to_string(),
            "-p".into(),
            info.ssh_port.to_string(),
            format!("{}@{ip}", info.ssh_user),
        ]))
    }

    /// How to reach the nodes of `rec`, placed at `launched`, as its provider says.
    async fn cluster_info_of(
        rec: &ClusterRecord,
        launched: &crate::state::LaunchedResources,
        provisioner: &dyn sky_core::provision::Provisioner,
    ) -> Result<sky_core::provision::ClusterInfo, BrokerError> {
        let cluster = ClusterRef {
            name: rec.cluster_hash.clone(),
            region: launched.region.clone(),
            zone: launched.zone.clone(),
        };
        provisioner
            .cluster_info(&cluster)
            .await
            .map_err(|error| BrokerError::Provider {
                cluster: rec.name.clone(),
                error,
            })
    }

    fn set_unreachable(&self, name: &str, gone: Vec<UnreachableNode>) {
        let mut map = self.unreachable.lock().unwrap_or_else(|p| p.into_inner());
        if gone.is_empty() {
            map.remove(name);
        } else {
            map.insert(name.to_string(), gone);
        }
    }

    /// The nodes of cluster `name` that did not answer the last time this broker connected
    /// to them (by [`Broker::queue`], [`Broker::logs`], [`Broker::cancel`],
    /// [`Broker::refresh`], ...); empty when every node answered, or before any contact.
    ///
    /// While a node is unreachable, the others still answer: the queue advances the jobs that
    /// do not use it, logs show the other ranks, cancelling stops the ranks that can be
    /// reached (the job stays [`JobStatus::Cancelling`](crate::JobStatus::Cancelling)), no
    /// new job is started, `launch` and `exec` on the cluster fail with the node's error,
    /// and `refresh` marks the cluster `INIT` (on backends whose provider cannot see whether
    /// nodes are alive, [`Capabilities::probe_nodes`](sky_core::provision::Capabilities::probe_nodes)).
    pub fn unreachable_nodes(&self, name: &str) -> Vec<UnreachableNode> {
        self.unreachable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// The nodes of `rec`, failing with the first unreachable node's error: for what needs
    /// every node (syncing files, starting a job).
    pub(crate) async fn all_nodes_of(
        &self,
        rec: &ClusterRecord,
    ) -> Result<Vec<GangNode>, BrokerError> {
        let nodes = self.nodes_of(rec).await?;
        if let Some(e) = nodes.iter().find_map(GangNode::unreachable) {
            return Err(self.exec_err(&rec.name, e));
        }
        Ok(nodes)
    }

    /// Drops cached connections of a cluster incarnation (after a failure or teardown).
    pub(crate) fn forget_nodes(&self, cluster_hash: &str) {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(cluster_hash);
    }

    pub(super) fn meta(rec: &ClusterRecord) -> ClusterMeta {
        let mut m = ClusterMeta::new(
            rec.name.clone(),
            rec.launched
                .as_ref()
                .map_or(sky_core::CloudId::Fake, |l| l.cloud.clone()),
        );
        if let Some(l) = &rec.launched {
            m.region = Some(l.region.clone());
            m.zone = l.zone.clone();
            m.gpus_per_node = l.accelerator.as_ref().map_or(0, |a| {
                if a.count.is_finite() && a.count > 0.0 {
                    a.count.ceil().min(f64::from(u32::MAX)) as u32
                } else {
                    0
                }
            });
        }
        m
    }
}
