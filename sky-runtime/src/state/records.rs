//! What the state store keeps about a cluster: its status, what was launched, its nodes, its
//! events and its history.

use serde::{Deserialize, Serialize};
use sky_core::CloudId;
use sky_core::catalog::Accelerator;
use sky_core::provision::InstanceInfo;
use sky_core::resources::PortRange;

/// A cluster's status, as SkyPilot's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterStatus {
    /// Provisioning, partially up, or unhealthy.
    Init,
    /// Every node is running.
    Up,
    /// Every node is stopped.
    Stopped,
}

impl ClusterStatus {
    /// `INIT`, `UP` or `STOPPED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Init => "INIT",
            ClusterStatus::Up => "UP",
            ClusterStatus::Stopped => "STOPPED",
        }
    }

    pub(crate) fn parse(s: &str) -> ClusterStatus {
        match s {
            "UP" => ClusterStatus::Up,
            "STOPPED" => ClusterStatus::Stopped,
            _ => ClusterStatus::Init,
        }
    }
}

impl std::fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a cluster was launched as: one placement, on N nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaunchedResources {
    /// The cloud.
    pub cloud: CloudId,
    /// The region.
    pub region: String,
    /// The zone, once known.
    pub zone: Option<String>,
    /// The instance type.
    pub instance_type: String,
    /// The accelerator.
    pub accelerator: Option<Accelerator>,
    /// Spot market.
    pub spot: bool,
    /// Hourly price of one node, from the catalog at launch.
    pub hourly_price: f64,
    /// Number of nodes.
    pub num_nodes: u32,
    /// OS disk size in GB.
    pub disk_size_gb: u64,
    /// Open ports.
    pub ports: Vec<PortRange>,
}

/// Autostop setting of a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutostopSetting {
    /// Idle minutes before acting.
    pub idle_minutes: u32,
    /// Tear down instead of stopping.
    pub down: bool,
}

/// A row of the `clusters` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// The user's cluster name.
    pub name: String,
    /// A unique id for this incarnation of the name (history key; also the on-cloud suffix).
    pub cluster_hash: String,
    /// Status.
    pub status: ClusterStatus,
    /// What was (or is being) launched; `None` before the first placement is chosen.
    pub launched: Option<LaunchedResources>,
    /// The nodes the provider reported, by rank.
    pub nodes: Vec<InstanceInfo>,
    /// Autostop, if set.
    pub autostop: Option<AutostopSetting>,
    /// Who launched it.
    pub owner: String,
    /// Unix seconds of creation.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// Unix seconds of the last use (launch, exec, start), for autostop.
    pub last_use_at: i64,
    /// The holder of a live provisioning lease, if a process is provisioning it now.
    pub provisioning_by: Option<String>,
    /// The failed provisioning attempts of this incarnation, oldest first: where each was
    /// aimed, the error and what the failover decided (also for a launch that ended UP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<crate::failover::FailedAttempt>,
}

/// A row of the `cluster_events` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterEvent {
    /// The cluster.
    pub name: String,
    /// The incarnation.
    pub cluster_hash: String,
    /// Status before (`None` for creation).
    pub from: Option<ClusterStatus>,
    /// Status after (`None` for deletion).
    pub to: Option<ClusterStatus>,
    /// Why.
    pub reason: String,
    /// Unix seconds.
    pub at: i64,
}

/// A row of the `cluster_history` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// The incarnation.
    pub cluster_hash: String,
    /// The cluster name.
    pub name: String,
    /// What was launched, once known.
    pub launched: Option<LaunchedResources>,
    /// Intervals `(start, end)` in unix seconds while the cluster was up; `end` is `None`
    /// while it still is.
    pub usage_intervals: Vec<(i64, Option<i64>)>,
}

impl HistoryRecord {
    /// Seconds of use up to `now` (an open interval counts to `now`).
    pub fn duration_s(&self, now: i64) -> i64 {
        self.usage_intervals
            .iter()
            .map(|(s, e)| (e.unwrap_or(now) - s).max(0))
            .sum()
    }

    /// Estimated cost: duration × nodes × hourly price (an estimate, not the bill).
    pub fn cost(&self, now: i64) -> f64 {
        match &self.launched {
            Some(l) => {
                self.duration_s(now) as f64 / 3600.0 * f64::from(l.num_nodes) * l.hourly_price
            }
            None => 0.0,
        }
    }
}
