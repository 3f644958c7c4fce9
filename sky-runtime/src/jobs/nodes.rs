//! Reaching a cluster's nodes for its jobs: the recorded cluster, its runners (cached per
//! cluster incarnation) and what a job is told about the cluster.

use sky_core::provision::ClusterRef;
use sky_exec::{ClusterMeta, ExecError, GangNode};

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::state::{ClusterRecord, ClusterStatus};

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
        let cluster = ClusterRef {
            name: rec.cluster_hash.clone(),
            region: launched.region.clone(),
            zone: launched.zone.clone(),
        };
        let info = entry
            .provisioner
            .cluster_info(&cluster)
            .await
            .map_err(|error| BrokerError::Provider {
                cluster: rec.name.clone(),
                error,
            })?;
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
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rec.cluster_hash.clone(), nodes.clone());
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
