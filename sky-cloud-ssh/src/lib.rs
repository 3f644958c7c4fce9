//! # sky-cloud-ssh
//!
//! sky's `ssh` backend: node pools of machines that already exist, listed in
//! `~/.sky/ssh_node_pools.yaml` in SkyPilot's format (see [`config`]). Each pool is a region
//! of the `ssh` cloud with one instance type, `ssh-<pool>`, at price 0. Provisioning a
//! cluster allocates free hosts of a pool to it, skipping hosts that do not accept an SSH
//! login (a probe whose connection the launch then uses), and records the allocation
//! (`<state dir>/ssh_node_pools.db`, see [`SshPoolCloud`]). A host (`user@address:port`) is
//! allocated once, whatever pools list it. `down` kills the cluster's jobs on its hosts and
//! releases them. Nodes are reached over SSH with each host's user, key and
//! port ([`SshPoolCloud`] is also the broker's `NodeConnector` for them).
//!
//! # Why it exists
//! Reserved instances, on-premise GPU boxes and lab machines are capacity too. With a pool,
//! the optimizer sees them as a free region, the failover loop moves to a cloud when the pool
//! is full (a full pool is a capacity error), and jobs run on them exactly as on cloud VMs.
//!
//! # Requirements on the hosts
//! Key-based SSH login (the `password` field is accepted and ignored), and what
//! `sky_exec::CommandRunner` needs on a node: bash, awk, setsid, rsync and a Linux `/proc`.
//! The hosts' CPUs and memory are not probed: CPU and memory requests are assumed to fit, and
//! accelerator requests never do.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sky_core::CloudId;
use sky_exec::KnownHostsPolicy;

mod alloc;
mod builder;
mod catalog;
pub mod config;
mod error;
mod probe;
mod provision;

pub use builder::{KNOWN_HOSTS_ENV, known_hosts_file_from_env};
pub use config::{NodePool, NodePools, PoolHost};
pub use error::PoolError;
pub use probe::check_hosts;

/// The cloud this crate provisions on.
pub const CLOUD: CloudId = CloudId::Ssh;

/// The instance type of pool `pool`: `ssh-<pool>`.
pub fn instance_type(pool: &str) -> String {
    format!("ssh-{pool}")
}

/// The SSH node-pool backend: catalog, provisioner and node connector in one.
///
/// ```no_run
/// use std::sync::Arc;
/// use sky_cloud_ssh::{NodePools, SshPoolCloud};
/// use sky_runtime::Broker;
///
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let state = sky_runtime::state::StateStore::default_dir();
/// let pools = NodePools::from_file(&NodePools::default_path())?;
/// let broker = Broker::builder()
///     .state_dir(&state)?
///     .backend(Arc::new(SshPoolCloud::new(pools, &state)?))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SshPoolCloud {
    pools: NodePools,
    alloc: Arc<alloc::AllocStore>,
    known_hosts: KnownHostsPolicy,
    known_hosts_file: Option<PathBuf>,
    connect_timeout: Duration,
    probe_timeout: Duration,
    /// Connections probes opened, for the clusters' first use ([`probe`]).
    probed: Arc<probe::Probed>,
    /// Why the pool file could not be used ([`SshPoolCloud::from_file`]).
    file_error: Option<Arc<PoolError>>,
}

impl SshPoolCloud {
    /// The pools.
    pub fn pools(&self) -> &NodePools {
        &self.pools
    }

    /// Why the pool file could not be read, when [`SshPoolCloud::from_file`] found it
    /// malformed: launches on a pool fail with this error, while the clusters the pools
    /// already have are still listed and torn down.
    pub fn pool_file_error(&self) -> Option<&PoolError> {
        self.file_error.as_deref()
    }
}
