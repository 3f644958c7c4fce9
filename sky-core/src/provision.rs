//! The provisioning interface every backend implements.
//!
//! [`Provisioner`] is object-safe (`#[async_trait]`) so that embedders can hold
//! `Vec<Arc<dyn Provisioner>>`. Every method is required; conveniences built on top of it
//! belong in extension traits. Errors are [`crate::error::Error`], whose kind and scope drive
//! the broker's failover.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::catalog::Accelerator;
use crate::cloud::CloudId;
use crate::error::Result;
use crate::resources::PortRange;

/// What a backend can do. Operations a backend lacks return
/// [`crate::error::ErrorKind::Unsupported`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// `stop_instances` / `start_instances` keep the disks.
    pub stop: bool,
    /// Spot (preemptible) instances.
    pub spot: bool,
    /// Clusters of more than one node.
    pub multi_node: bool,
    /// `open_ports`.
    pub open_ports: bool,
    /// Custom images (`image_id`).
    pub custom_image: bool,
    /// Zones exist and can be chosen.
    pub zones: bool,
    /// Largest cluster the backend can make, if bounded.
    pub max_nodes: Option<u32>,
    /// `query_instances` cannot tell whether a node is alive (machines sky does not run,
    /// such as an SSH node pool's hosts, are "running" while they are allocated), so a
    /// refresh asks the nodes themselves: a cluster whose node does not answer is not `UP`.
    pub probe_nodes: bool,
}

impl Capabilities {
    /// Every capability, with no node limit.
    pub fn all() -> Self {
        Capabilities {
            stop: true,
            spot: true,
            multi_node: true,
            open_ports: true,
            custom_image: true,
            zones: true,
            max_nodes: None,
            probe_nodes: false,
        }
    }
}

/// Identifies a cluster on a cloud: its on-cloud name and where it lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClusterRef {
    /// The cluster's name on the cloud (instances are tagged with it).
    pub name: String,
    /// The region.
    pub region: String,
    /// The zone, when the cluster was placed in one.
    pub zone: Option<String>,
}

/// A request to launch the nodes of a cluster in one region (and zone).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LaunchRequest {
    /// The cluster; its zone, when set, pins the launch to that zone.
    pub cluster: ClusterRef,
    /// The instance type.
    pub instance_type: String,
    /// The accelerator to attach (where the cloud attaches accelerators to a host).
    pub accelerator: Option<Accelerator>,
    /// Spot market.
    pub spot: bool,
    /// Total nodes the cluster must have, head included.
    pub num_nodes: u32,
    /// OS disk size in GB.
    pub disk_size_gb: u64,
    /// Image to boot; `None` = the backend's default image.
    pub image_id: Option<String>,
    /// Ports to open besides SSH.
    pub ports: Vec<PortRange>,
    /// Labels/tags to put on every instance.
    pub labels: BTreeMap<String, String>,
    /// The public key to authorise for SSH.
    pub ssh_public_key: Option<String>,
}

impl LaunchRequest {
    /// A request for `num_nodes` nodes of `instance_type` for `cluster`, with a 256 GB disk and
    /// nothing else set.
    pub fn new(cluster: ClusterRef, instance_type: impl Into<String>, num_nodes: u32) -> Self {
        LaunchRequest {
            cluster,
            instance_type: instance_type.into(),
            accelerator: None,
            spot: false,
            num_nodes,
            disk_size_gb: 256,
            image_id: None,
            ports: Vec::new(),
            labels: BTreeMap::new(),
            ssh_public_key: None,
        }
    }
}

/// The lifecycle state of one instance, provider-neutral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Being created or started.
    Pending,
    /// Running.
    Running,
    /// Being stopped.
    Stopping,
    /// Stopped (disks kept).
    Stopped,
    /// Being terminated.
    ShuttingDown,
    /// Gone.
    Terminated,
}

/// One instance of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// The provider's instance id.
    pub id: String,
    /// Node rank: 0 is the head.
    pub rank: u32,
    /// Current state.
    pub state: InstanceState,
    /// Private IP, once known.
    pub private_ip: Option<String>,
    /// Public IP, if any.
    pub public_ip: Option<String>,
    /// The zone it runs in.
    pub zone: Option<String>,
    /// The instance type.
    pub instance_type: String,
    /// Whether it is a spot instance.
    pub spot: bool,
}

/// How to reach a cluster's nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// The cluster.
    pub cluster: ClusterRef,
    /// Its non-terminated instances, by rank.
    pub instances: Vec<InstanceInfo>,
    /// SSH user.
    pub ssh_user: String,
    /// SSH port.
    pub ssh_port: u16,
}

impl ClusterInfo {
    /// The head node (rank 0), if present.
    pub fn head(&self) -> Option<&InstanceInfo> {
        self.instances.iter().find(|i| i.rank == 0)
    }
}

/// Whether a [`Provisioner::wait_instances`] for `state` is over: every node is in `state`, or,
/// for [`InstanceState::Terminated`], no node is left (the nodes a provisioner lists are the
/// non-terminated ones).
pub fn all_in_state(nodes: &[InstanceInfo], state: InstanceState) -> bool {
    if state == InstanceState::Terminated {
        nodes.is_empty()
    } else {
        nodes.iter().all(|n| n.state == state)
    }
}

/// The error of a [`Provisioner::wait_instances`] whose `timeout` passed: transient (the nodes
/// may still get there), naming each node's state. Backends add the placement.
pub fn wait_timeout(
    cluster: &ClusterRef,
    state: InstanceState,
    timeout: Duration,
    nodes: &[InstanceInfo],
) -> crate::error::Error {
    let states: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}={:?}", n.id, n.state))
        .collect();
    crate::error::Error::new(
        crate::error::ErrorKind::Transient,
        format!(
            "cluster {} did not reach {state:?} within {timeout:?}: {}",
            cluster.name,
            if states.is_empty() {
                "no nodes".to_string()
            } else {
                states.join(", ")
            }
        ),
    )
}

/// A cloud backend's provisioning operations, as SkyPilot's `sky/provision` API.
///
/// # Contract (checked by `sky_core::conformance` (feature `conformance`))
/// - Instances are tagged with the cluster name and their rank, so
///   [`Provisioner::query_instances`] finds them after a crash.
/// - [`Provisioner::run_instances`] is idempotent: it creates only the nodes that are missing
///   (ranks not present) and returns all of them.
/// - [`Provisioner::terminate_instances`] of a cluster that does not exist succeeds.
/// - [`Provisioner::query_instances`] of an unknown cluster returns an empty list.
/// - Operations a backend lacks (see [`Capabilities`]) fail with `ErrorKind::Unsupported`.
#[async_trait]
pub trait Provisioner: Send + Sync + Debug {
    /// The cloud this backend provisions on.
    fn cloud(&self) -> CloudId;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// The price catalog of what this backend offers, when its builder was given one
    /// (`None`, the default, for a provisioner that only manages existing clusters).
    ///
    /// `BrokerBuilder::provisioner` registers a provisioner together with this catalog, so
    /// that every backend joins a broker the same way.
    fn catalog(&self) -> Option<std::sync::Arc<dyn crate::catalog::Catalog>> {
        None
    }

    /// Prepares the region for the request (key pair, security group, network). Idempotent.
    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()>;

    /// Creates the missing nodes of `req.cluster` and returns every node of it.
    ///
    /// On error, instances already created stay tagged and visible to
    /// [`Provisioner::query_instances`], so the caller can record or terminate them.
    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>>;

    /// Waits until every non-terminated node of the cluster is in `state`, or `timeout`
    /// passes (then `ErrorKind::Transient`).
    async fn wait_instances(
        &self,
        cluster: &ClusterRef,
        state: InstanceState,
        timeout: Duration,
    ) -> Result<()>;

    /// The cluster's non-terminated instances, by rank; empty if it does not exist.
    async fn query_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>>;

    /// Addresses and SSH settings of the cluster's nodes.
    async fn cluster_info(&self, cluster: &ClusterRef) -> Result<ClusterInfo>;

    /// Stops every node, keeping the disks. Requires [`Capabilities::stop`].
    async fn stop_instances(&self, cluster: &ClusterRef) -> Result<()>;

    /// Starts the stopped nodes, in the cluster's own zone. Requires [`Capabilities::stop`].
    async fn start_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>>;

    /// Terminates every node. Idempotent: an unknown cluster is not an error.
    async fn terminate_instances(&self, cluster: &ClusterRef) -> Result<()>;

    /// Opens `ports` on every node. Requires [`Capabilities::open_ports`].
    async fn open_ports(&self, cluster: &ClusterRef, ports: &[PortRange]) -> Result<()>;

    /// Deletes what the clusters of one broker share in `region`, once the last of them
    /// there is torn down: the broker calls it after a `down` that left no cluster of its
    /// state store on this cloud in `region`, with the SSH public key its requests carried.
    /// AWS deletes the key pair it imported for that key (one per state directory), so
    /// deleted state directories do not leave key pairs piling up; the next launch imports
    /// it again. Idempotent; the default does nothing.
    async fn release_region(&self, region: &str, ssh_public_key: Option<&str>) -> Result<()> {
        let _ = (region, ssh_public_key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, state: InstanceState) -> InstanceInfo {
        InstanceInfo {
            id: id.into(),
            rank: 0,
            state,
            private_ip: None,
            public_ip: None,
            zone: None,
            instance_type: "t".into(),
            spot: false,
        }
    }

    #[test]
    fn waits_end_when_every_node_is_there() {
        let nodes = [
            node("a", InstanceState::Running),
            node("b", InstanceState::Pending),
        ];
        assert!(!all_in_state(&nodes, InstanceState::Running));
        assert!(all_in_state(&nodes[..1], InstanceState::Running));
        assert!(!all_in_state(&nodes, InstanceState::Terminated));
        assert!(all_in_state(&[], InstanceState::Terminated));
        let c = ClusterRef {
            name: "c".into(),
            region: "r".into(),
            zone: None,
        };
        let e = wait_timeout(&c, InstanceState::Running, Duration::from_secs(1), &nodes);
        assert_eq!(e.kind(), crate::error::ErrorKind::Transient);
        assert!(e.message().contains("b=Pending"), "{e}");
    }
}
