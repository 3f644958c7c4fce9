//! Cluster lifecycle: status and reconciliation, stop, start, down, autostop, cost report.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sky_core::CloudId;
use sky_core::error::ErrorKind;
use sky_core::provision::{ClusterRef, InstanceInfo, InstanceState};

use crate::ProvisionOptions;
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::failover::terminate_with_retries;
use crate::state::{AutostopSetting, ClusterRecord, ClusterStatus, now_s};

/// How long lifecycle operations wait for nodes to reach a state.
const LIFECYCLE_WAIT: Duration = Duration::from_secs(600);

/// What [`Broker::enforce_autostop`] did to one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutostopAction {
    /// The cluster.
    pub cluster: String,
    /// `true` if it was torn down, `false` if stopped.
    pub down: bool,
    /// Idle minutes when acted on.
    pub idle_minutes: i64,
}

/// One row of the cost report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    /// The cluster's name.
    pub name: String,
    /// Its incarnation.
    pub cluster_hash: String,
    /// `cloud/region/zone` and instance type, if it got that far.
    pub resources: Option<String>,
    /// Nodes.
    pub num_nodes: u32,
    /// Seconds up.
    pub duration_s: i64,
    /// Hourly price of one node.
    pub hourly_price: f64,
    /// Estimated cost (duration × nodes × hourly price).
    pub cost: f64,
    /// Whether the cluster still exists.
    pub live: bool,
}

/// Where a placed cluster lives: its on-cloud reference and its cloud.
fn placed(record: &ClusterRecord) -> Option<(ClusterRef, CloudId)> {
    record.launched.as_ref().map(|l| {
        let cluster = ClusterRef {
            name: record.cluster_hash.clone(),
            region: l.region.clone(),
            zone: l.zone.clone(),
        };
        (cluster, l.cloud.clone())
    })
}

fn status_of(nodes: &[InstanceInfo], want: u32) -> Option<ClusterStatus> {
    let alive: Vec<_> = nodes
        .iter()
        .filter(|n| n.state != InstanceState::Terminated)
        .collect();
    if alive.is_empty() {
        return None;
    }
    let all = |s: InstanceState| alive.len() >= want as usize && alive.iter().all(|n| n.state == s);
    Some(if all(InstanceState::Running) {
        ClusterStatus::Up
    } else if alive.iter().all(|n| n.state == InstanceState::Stopped) {
        ClusterStatus::Stopped
    } else {
        ClusterStatus::Init
    })
}

impl Broker {
    /// Every cluster, as recorded (no provider call).
    pub fn status(&self) -> Result<Vec<ClusterRecord>, BrokerError> {
        Ok(self.state.list()?)
    }

    /// One cluster, as recorded.
    pub fn cluster(&self, name: &str) -> Result<ClusterRecord, BrokerError> {
        self.state
            .get(name)?
            .ok_or_else(|| BrokerError::NotFound { name: name.into() })
    }

    /// Asks the providers about every cluster (or `name` only) and reconciles the records:
    /// vanished or preempted nodes, stopped clusters, half-made ones. A cluster with no
    /// instance left is torn down as by [`Broker::down`] (what the provider made besides
    /// instances, such as a security group, goes with it) and removed. Returns the clusters
    /// that remain.
    pub async fn refresh(&self, name: Option<&str>) -> Result<Vec<ClusterRecord>, BrokerError> {
        let records = match name {
            Some(n) => vec![self.cluster(n)?],
            None => self.state.list()?,
        };
        for record in records {
            // A cluster another live process is provisioning is its business.
            if record
                .provisioning_by
                .as_ref()
                .is_some_and(|h| *h != self.holder)
            {
                continue;
            }
            self.reconcile(&record).await?;
        }
        match name {
            Some(n) => Ok(self.state.get(n)?.into_iter().collect()),
            None => Ok(self.state.list()?),
        }
    }

    async fn reconcile(&self, record: &ClusterRecord) -> Result<(), BrokerError> {
        let name = &record.name;
        let Some((cluster, cloud)) = placed(record) else {
            // Never got to a provider call: nothing can exist.
            if record.status == ClusterStatus::Init && record.nodes.is_empty() {
                self.state
                    .remove(name, "refresh: provisioning never reached a provider")?;
            }
            return Ok(());
        };
        let launched = record.launched.as_ref().map_or(1, |l| l.num_nodes);
        let provisioner = self.provisioner(&cloud)?;
        let nodes = provisioner
            .query_instances(&cluster)
            .await
            .map_err(|error| BrokerError::Provider {
                cluster: name.clone(),
                error,
            })?;
        self.state.set_nodes(name, &nodes)?;
        match status_of(&nodes, launched) {
            None => {
                // What the provider made besides instances (a security group, firewall rules,
                // a resource group) outlives them: it goes with the row, by the same
                // teardown as `down` (idempotent, retried). A row whose teardown fails stays,
                // so that the next refresh or `down` tries again.
                terminate_with_retries(
                    provisioner.as_ref(),
                    &cluster,
                    ProvisionOptions::default().teardown_backoff,
                )
                .await
                .map_err(|error| BrokerError::Provider {
                    cluster: name.clone(),
                    error,
                })?;
                self.forget_torn_down(
                    record,
                    &cluster,
                    &cloud,
                    "refresh: no instance left (terminated or preempted)",
                )
                .await?;
            }
            Some(ClusterStatus::Up) => match self.unanswered(record).await {
                Some(why) => self.state.set_status(name, ClusterStatus::Init, &why)?,
                None => self.state.set_status(
                    name,
                    ClusterStatus::Up,
                    "refresh: every node is running and answers",
                )?,
            },
            Some(s) => {
                let reason = if s == ClusterStatus::Stopped {
                    "refresh: every node is stopped"
                } else {
                    "refresh: some nodes are missing or not running"
                };
                self.state.set_status(name, s, reason)?;
            }
        }
        Ok(())
    }

    /// For a backend whose provider cannot see whether nodes are alive
    /// ([`Capabilities::probe_nodes`](sky_core::provision::Capabilities::probe_nodes)), connects
    /// afresh to every node of a cluster whose instances all run: why it is not usable (a
    /// node that does not answer), or `None`. A cloud provider's own instance state is
    /// trusted (its nodes are not contacted), and a backend without a node connector has
    /// nothing to ask.
    async fn unanswered(&self, record: &ClusterRecord) -> Option<String> {
        let cloud = record.launched.as_ref().map(|l| &l.cloud)?;
        let entry = self.clouds.get(cloud)?;
        if !entry.provisioner.capabilities().probe_nodes {
            return None;
        }
        entry.connector.as_ref()?;
        self.forget_nodes(&record.cluster_hash);
        match self.nodes_of(record).await {
            Ok(_) => {
                let gone = self.unreachable_nodes(&record.name);
                (!gone.is_empty()).then(|| {
                    let each: Vec<String> = gone.iter().map(|g| g.error.clone()).collect();
                    format!("refresh: a node does not answer: {}", each.join("; "))
                })
            }
            Err(e) => Some(format!("refresh: its nodes cannot be reached: {e}")),
        }
    }

    /// Stops every node of an `UP` cluster, keeping its disks.
    pub async fn stop(&self, name: &str) -> Result<ClusterRecord, BrokerError> {
        let record = self.cluster(name)?;
        let (cluster, cloud) = self.launched_ref(&record)?;
        let provisioner = self.provisioner(&cloud)?;
        if !provisioner.capabilities().stop {
            return Err(BrokerError::InvalidState {
                name: name.into(),
                status: record.status,
                message: format!("{} cannot stop instances; use `down`", provisioner.cloud()),
            });
        }
        let perr = |error| BrokerError::Provider {
            cluster: name.to_string(),
            error,
        };
        self.cancel_all_for(&record, "the cluster was stopped")
            .await;
        self.forget_nodes(&record.cluster_hash);
        provisioner.stop_instances(&cluster).await.map_err(perr)?;
        provisioner
            .wait_instances(&cluster, InstanceState::Stopped, LIFECYCLE_WAIT)
            .await
            .map_err(perr)?;
        let nodes = provisioner.query_instances(&cluster).await.map_err(perr)?;
        self.state.set_nodes(name, &nodes)?;
        self.state
            .set_status(name, ClusterStatus::Stopped, "stopped")?;
        self.cluster(name)
    }

    /// Starts a `STOPPED` cluster in its own zone. It never moves: if its zone has no
    /// capacity, the error says so and the cluster stays stopped.
    pub async fn start(&self, name: &str) -> Result<ClusterRecord, BrokerError> {
        let record = self.cluster(name)?;
        if record.status == ClusterStatus::Up {
            return Ok(record);
        }
        let (cluster, cloud) = self.launched_ref(&record)?;
        let provisioner = self.provisioner(&cloud)?;
        let perr = |error| BrokerError::Provider {
            cluster: name.to_string(),
            error,
        };
        let nodes = provisioner.start_instances(&cluster).await.map_err(perr)?;
        self.state.set_nodes(name, &nodes)?;
        provisioner
            .wait_instances(&cluster, InstanceState::Running, LIFECYCLE_WAIT)
            .await
            .map_err(perr)?;
        let nodes = provisioner.query_instances(&cluster).await.map_err(perr)?;
        self.state.set_nodes(name, &nodes)?;
        self.state.set_status(name, ClusterStatus::Up, "started")?;
        self.state.touch(name)?;
        self.cluster(name)
    }

    /// Terminates every node, verifies that none is left, then deletes the record. If the
    /// provider keeps failing, the record stays (so nothing is forgotten) and the error says
    /// which instances remain.
    pub async fn down(&self, name: &str) -> Result<(), BrokerError> {
        let record = self.cluster(name)?;
        let Some((cluster, cloud)) = placed(&record) else {
            self.state.remove(name, "down")?;
            return Ok(());
        };
        let provisioner = self.provisioner(&cloud)?;
        if record.status == ClusterStatus::Up {
            self.cancel_all_for(&record, "the cluster was torn down")
                .await;
        }
        self.forget_nodes(&record.cluster_hash);
        let last = match terminate_with_retries(
            provisioner.as_ref(),
            &cluster,
            ProvisionOptions::default().teardown_backoff,
        )
        .await
        {
            Ok(()) => {
                self.forget_torn_down(&record, &cluster, &cloud, "down")
                    .await?;
                return Ok(());
            }
            Err(e) => Some(e),
        };
        let left = provisioner
            .query_instances(&cluster)
            .await
            .unwrap_or_default();
        self.state.set_nodes(name, &left)?;
        Err(BrokerError::TeardownFailed {
            cluster: name.into(),
            instances: left.into_iter().map(|i| i.id).collect(),
            error: last.unwrap_or_else(|| {
                sky_core::error::Error::new(ErrorKind::Unexpected, "down failed")
            }),
            history: Default::default(),
        })
    }

    /// After the teardown of `record` (placed as `cluster` on `cloud`) succeeded, by `down`
    /// or by a refresh that found no instance left: its row and jobs go, the node connector
    /// drops what it kept for it, and what the region's clusters shared is released once it
    /// was the last one there.
    async fn forget_torn_down(
        &self,
        record: &ClusterRecord,
        cluster: &ClusterRef,
        cloud: &CloudId,
        reason: &str,
    ) -> Result<(), BrokerError> {
        self.forget_nodes(&record.cluster_hash);
        self.state.remove(&record.name, reason)?;
        self.state.delete_jobs(&record.cluster_hash)?;
        self.release_region_if_unused(cloud, &cluster.region)
            .await?;
        if let Some(c) = self.clouds.get(cloud).and_then(|e| e.connector.clone())
            && let Err(e) = c.release(cluster).await
        {
            tracing::warn!(cluster = %record.name, error = %e, "releasing the cluster's local state");
        }
        Ok(())
    }

    /// Once no cluster of this state store is left on `cloud` in `region` (any status: a
    /// launch in progress there has its row already), lets the provider delete what the
    /// clusters shared there ([`Provisioner::release_region`]: AWS's key pair). A failure is
    /// a warning: the next `down` there tries again.
    ///
    /// [`Provisioner::release_region`]: sky_core::provision::Provisioner::release_region
    async fn release_region_if_unused(
        &self,
        cloud: &CloudId,
        region: &str,
    ) -> Result<(), BrokerError> {
        let in_use = self.state.list()?.iter().any(|r| {
            r.launched
                .as_ref()
                .is_some_and(|l| l.cloud == *cloud && l.region == region)
        });
        if in_use {
            return Ok(());
        }
        let key = self.ssh_public_key(cloud);
        let provisioner = self.provisioner(cloud)?;
        if let Err(e) = provisioner.release_region(region, key.as_deref()).await {
            tracing::warn!(%cloud, region, error = %e, "releasing what the clusters shared in the region");
        }
        Ok(())
    }

    /// Sets autostop: after `idle_minutes` without use, stop (or tear down, with `down`).
    /// `None` turns it off. Enforced by [`Broker::enforce_autostop`].
    pub fn set_autostop(
        &self,
        name: &str,
        setting: Option<AutostopSetting>,
    ) -> Result<(), BrokerError> {
        self.cluster(name)?;
        Ok(self.state.set_autostop(name, setting)?)
    }

    /// Stops or tears down every `UP` cluster idle for longer than its autostop setting.
    /// A cluster with unfinished jobs (after [`Broker::poll_jobs`]) is busy: its idle clock
    /// is reset instead.
    /// An embedding service calls this periodically (`sky autostop --daemon` does).
    pub async fn enforce_autostop(&self) -> Result<Vec<AutostopAction>, BrokerError> {
        self.enforce_autostop_at(now_s()).await
    }

    /// [`Broker::enforce_autostop`] as if the time were `now` (unix seconds).
    pub async fn enforce_autostop_at(&self, now: i64) -> Result<Vec<AutostopAction>, BrokerError> {
        let mut actions = Vec::new();
        for record in self.state.list()? {
            let Some(a) = record.autostop else { continue };
            if record.status != ClusterStatus::Up {
                continue;
            }
            // Running or queued jobs keep a cluster busy (SkyPilot's `wait_for: jobs`).
            if let Err(e) = self.poll_jobs(&record.name).await {
                tracing::warn!(cluster = %record.name, error = %e, "cannot poll jobs for autostop");
            }
            if self.state.unfinished_jobs(&record.cluster_hash)? > 0 {
                self.state.touch(&record.name)?;
                continue;
            }
            let idle_minutes = (now - record.last_use_at) / 60;
            if idle_minutes < i64::from(a.idle_minutes) {
                continue;
            }
            if a.down {
                self.down(&record.name).await?;
            } else {
                self.stop(&record.name).await?;
            }
            actions.push(AutostopAction {
                cluster: record.name,
                down: a.down,
                idle_minutes,
            });
        }
        Ok(actions)
    }

    /// The cost report: every cluster ever made, with its usage and estimated cost.
    pub fn cost_report(&self) -> Result<Vec<CostRow>, BrokerError> {
        let now = now_s();
        let live: Vec<String> = self
            .state
            .list()?
            .into_iter()
            .map(|r| r.cluster_hash)
            .collect();
        Ok(self
            .state
            .history()?
            .into_iter()
            .map(|h| CostRow {
                resources: h.launched.as_ref().map(|l| {
                    let zone = l
                        .zone
                        .as_deref()
                        .map(|z| format!("/{z}"))
                        .unwrap_or_default();
                    format!(
                        "{}/{}{zone} {}{}",
                        l.cloud,
                        l.region,
                        l.instance_type,
                        if l.spot { " [spot]" } else { "" }
                    )
                }),
                num_nodes: h.launched.as_ref().map_or(0, |l| l.num_nodes),
                hourly_price: h.launched.as_ref().map_or(0.0, |l| l.hourly_price),
                duration_s: h.duration_s(now),
                cost: h.cost(now),
                live: live.contains(&h.cluster_hash),
                name: h.name,
                cluster_hash: h.cluster_hash,
            })
            .collect())
    }

    fn launched_ref(&self, record: &ClusterRecord) -> Result<(ClusterRef, CloudId), BrokerError> {
        placed(record).ok_or_else(|| BrokerError::InvalidState {
            name: record.name.clone(),
            status: record.status,
            message: "it was never placed".into(),
        })
    }
}
