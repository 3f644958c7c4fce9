//! How an [`SshPoolCloud`] is made: the pools (from `~/.sky/ssh_node_pools.yaml`, SkyPilot's
//! format, or given), the allocation store in the broker's state directory, and the SSH
//! settings (host-key policy, connect timeout).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sky_exec::KnownHostsPolicy;

use crate::{NodePools, PoolError, SshPoolCloud, alloc};

/// The environment variable that names the known-hosts file the SSH node pools of
/// [`SshPoolCloud::from_default_file`] use instead of ssh's own `~/.ssh/known_hosts` (for
/// CI machines and containers whose home is not theirs to write).
pub const KNOWN_HOSTS_ENV: &str = "SKY_SSH_KNOWN_HOSTS";

/// The known-hosts file [`KNOWN_HOSTS_ENV`] names, if it is set and not empty: what
/// [`SshPoolCloud::from_default_file`] and `sky check ssh` both use.
pub fn known_hosts_file_from_env() -> Option<PathBuf> {
    std::env::var_os(KNOWN_HOSTS_ENV)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
}

impl SshPoolCloud {
    /// The pools of `pools`, with allocations recorded in `<state_dir>/ssh_node_pools.db`.
    ///
    /// Host keys are checked as `ssh` does by default (unknown hosts are added to
    /// `~/.ssh/known_hosts`, changed keys refused); see [`SshPoolCloud::with_known_hosts`].
    pub fn new(pools: NodePools, state_dir: &Path) -> Result<Self, PoolError> {
        Ok(SshPoolCloud {
            alloc: Arc::new(alloc::AllocStore::open(state_dir, &pools)?),
            pools,
            known_hosts: KnownHostsPolicy::AcceptNew,
            known_hosts_file: None,
            connect_timeout: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(5),
            probed: Arc::default(),
            file_error: None,
        })
    }

    /// The pools of `~/.sky/ssh_node_pools.yaml` (see [`SshPoolCloud::from_file`]), host
    /// keys checked against ssh's own known-hosts file, or the file [`KNOWN_HOSTS_ENV`]
    /// names (unknown hosts are added, changed keys refused).
    pub fn from_default_file(state_dir: &Path) -> Result<Self, PoolError> {
        let me = Self::from_file(&NodePools::default_path(), state_dir)?;
        Ok(match known_hosts_file_from_env() {
            Some(f) => me.with_known_hosts(KnownHostsPolicy::AcceptNew, Some(f)),
            None => me,
        })
    }

    /// The pools of the pool file `path` (none when the file does not exist).
    ///
    /// A file that cannot be read or is malformed gives no pools, not an error: the clusters
    /// already on pools stay visible to `status` and can be torn down (their hosts are in
    /// the allocation store), and a launch on a pool fails with the file's error
    /// ([`SshPoolCloud::pool_file_error`]). It is also logged as a warning.
    ///
    /// # Errors
    /// The allocation store in `state_dir` cannot be opened.
    pub fn from_file(path: &Path, state_dir: &Path) -> Result<Self, PoolError> {
        let (pools, file_error) = if !path.exists() {
            (NodePools::default(), None)
        } else {
            match NodePools::from_file(path) {
                Ok(p) => (p, None),
                Err(e) => {
                    tracing::warn!("SSH node pools unavailable: {e}");
                    (NodePools::default(), Some(Arc::new(e)))
                }
            }
        };
        let mut me = Self::new(pools, state_dir)?;
        me.file_error = file_error;
        Ok(me)
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

    /// Sets how long a free host has to accept an SSH login before a launch skips it
    /// (default 5 s; at most the connection timeout).
    pub fn with_probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }
}
