//! How an [`SshPoolCloud`] is made: the pools (from `~/.sky/ssh_node_pools.yaml`, SkyPilot's
//! format, or given), the allocation store in the broker's state directory, and the SSH
//! settings (host-key policy, connect timeout).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sky_exec::KnownHostsPolicy;

use crate::{NodePools, PoolError, SshPoolCloud, alloc};

impl SshPoolCloud {
    /// The pools of `pools`, with allocations recorded in `<state_dir>/ssh_node_pools.db`.
    ///
    /// Host keys are checked as `ssh` does by default (unknown hosts are added to
    /// `~/.ssh/known_hosts`, changed keys refused); see [`SshPoolCloud::with_known_hosts`].
    pub fn new(pools: NodePools, state_dir: &Path) -> Result<Self, PoolError> {
        Ok(SshPoolCloud {
            pools,
            alloc: Arc::new(alloc::AllocStore::open(state_dir)?),
            known_hosts: KnownHostsPolicy::AcceptNew,
            known_hosts_file: None,
            connect_timeout: Duration::from_secs(30),
        })
    }

    /// The pools of `~/.sky/ssh_node_pools.yaml` (none when the file does not exist).
    pub fn from_default_file(state_dir: &Path) -> Result<Self, PoolError> {
        let path = NodePools::default_path();
        let pools = if path.exists() {
            NodePools::from_file(&path)?
        } else {
            NodePools::default()
        };
        Self::new(pools, state_dir)
    }

    /// Checks host keys with `policy`, against `file` (default: ssh's own known-hosts file).
    pub fn with_known_hosts(mut self, policy: KnownHostsPolicy, file: Option<PathBuf>) -> Self {
        self.known_hosts = policy;
        self.known_hosts_file = file;
        self
    }

    /// Sets the SSH connection timeout (default 30 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}
