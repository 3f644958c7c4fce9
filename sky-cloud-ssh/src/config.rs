//! `~/.sky/ssh_node_pools.yaml`: SkyPilot's SSH node pool file.
//!
//! ```yaml
//! my-cluster:            # the pool's name (a "region" of the ssh cloud)
//!   user: ubuntu         # pool defaults, each optional
//!   identity_file: ~/.ssh/id_ed25519
//!   port: 22             # sky's addition; SkyPilot reads ports from ~/.ssh/config
//!   hosts:
//!     - 10.0.0.1         # a bare address (or a host name `ssh` resolves)
//!     - ip: 10.0.0.2     # or an object overriding the pool's defaults
//!       user: admin
//!       identity_file: ~/.ssh/other
//!       port: 2222
//! ```
//!
//! `password` (pool or host) is accepted and ignored: SkyPilot uses it for `sudo`, and sky
//! logs in with keys only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::PoolError;

/// One machine of a pool, with the pool's defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PoolHost {
    /// Address (or host name) to connect to; also the node's IP in `SKYPILOT_NODE_IPS`.
    pub ip: String,
    /// SSH port.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// Private key, if not ssh's default.
    pub identity_file: Option<PathBuf>,
}

impl PoolHost {
    /// `ip:port`: how allocations name the host.
    pub fn key(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// A named pool of machines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePool {
    /// The pool's name.
    pub name: String,
    /// Its machines, in file order (allocation takes the first free ones).
    pub hosts: Vec<PoolHost>,
}

/// Every pool of a node-pool file, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodePools {
    pools: BTreeMap<String, NodePool>,
}

#[derive(Deserialize)]
struct RawPool {
    #[serde(default)]
    hosts: Vec<RawHost>,
    user: Option<String>,
    identity_file: Option<String>,
    port: Option<u16>,
    #[serde(default, rename = "password")]
    _password: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawHost {
    Address(String),
    Full {
        ip: String,
        user: Option<String>,
        identity_file: Option<String>,
        port: Option<u16>,
        #[serde(default, rename = "password")]
        _password: Option<String>,
    },
}

fn expand(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
        None => PathBuf::from(path),
    }
}

/// Pool names become cloud regions and instance type names (`ssh-<pool>`).
fn valid_pool_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl NodePools {
    /// The default file: `~/.sky/ssh_node_pools.yaml`.
    pub fn default_path() -> PathBuf {
        dirs::home_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".sky")
            .join("ssh_node_pools.yaml")
    }

    /// Reads a pool file.
    pub fn from_file(path: &Path) -> Result<Self, PoolError> {
        let text = std::fs::read_to_string(path).map_err(|source| PoolError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a pool file's text.
    pub fn from_yaml_str(text: &str) -> Result<Self, PoolError> {
        Self::parse(text, "ssh_node_pools.yaml")
    }

    fn parse(text: &str, origin: &str) -> Result<Self, PoolError> {
        let invalid = |message: String| PoolError::Invalid {
            origin: origin.to_string(),
            message,
        };
        if text.trim().is_empty() {
            return Ok(NodePools::default());
        }
        let raw: BTreeMap<String, RawPool> = serde_saphyr::from_str(text).map_err(|e| {
            invalid(format!(
                "{e} (expected `pool-name: {{hosts: [ip, ...], user: ..., identity_file: ...}}`)"
            ))
        })?;
        let default_user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let mut pools = BTreeMap::new();
        for (name, p) in raw {
            if !valid_pool_name(&name) {
                return Err(invalid(format!(
                    "pool name {name:?}: use letters, digits, '-', '_' and '.'"
                )));
            }
            if p.hosts.is_empty() {
                return Err(invalid(format!("pool {name:?} has no hosts")));
            }
            let mut seen = BTreeSet::new();
            let mut hosts = Vec::new();
            for h in p.hosts {
                let host = match h {
                    RawHost::Address(ip) => PoolHost {
                        ip,
                        port: p.port.unwrap_or(22),
                        user: p.user.clone().unwrap_or_else(|| default_user.clone()),
                        identity_file: p.identity_file.as_deref().map(expand),
                    },
                    RawHost::Full {
                        ip,
                        user,
                        identity_file,
                        port,
                        ..
                    } => PoolHost {
                        ip,
                        port: port.or(p.port).unwrap_or(22),
                        user: user
                            .or_else(|| p.user.clone())
                            .unwrap_or_else(|| default_user.clone()),
                        identity_file: identity_file
                            .as_deref()
                            .or(p.identity_file.as_deref())
                            .map(expand),
                    },
                };
                let ip = host.ip.trim();
                if ip.is_empty() || ip.contains(char::is_whitespace) {
                    return Err(invalid(format!(
                        "pool {name:?}: host {:?} is not an address",
                        host.ip
                    )));
                }
                if !seen.insert(host.key()) {
                    return Err(invalid(format!("pool {name:?} lists {} twice", host.key())));
                }
                hosts.push(host);
            }
            pools.insert(name.clone(), NodePool { name, hosts });
        }
        Ok(NodePools { pools })
    }

    /// A pool by name.
    pub fn get(&self, name: &str) -> Option<&NodePool> {
        self.pools.get(name)
    }

    /// Every pool, by name.
    pub fn iter(&self) -> impl Iterator<Item = &NodePool> {
        self.pools.values()
    }

    /// The pool names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.pools.keys().cloned().collect()
    }

    /// Whether there is no pool.
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skypilot_format_with_defaults_and_overrides() {
        let pools = NodePools::from_yaml_str(
            "my-box:\n  hosts:\n    - 10.0.0.9\n\
             gpus:\n  user: ubuntu\n  identity_file: /keys/id\n  password: sudo-pw\n  hosts:\n    - 10.0.0.1\n    - ip: 10.0.0.2\n      user: admin\n      port: 2222\n",
        )
        .unwrap();
        assert_eq!(pools.names(), ["gpus", "my-box"]);
        let g = pools.get("gpus").unwrap();
        assert_eq!(
            g.hosts[0],
            PoolHost {
                ip: "10.0.0.1".into(),
                port: 22,
                user: "ubuntu".into(),
                identity_file: Some("/keys/id".into()),
            }
        );
        assert_eq!(g.hosts[1].user, "admin");
        assert_eq!(g.hosts[1].port, 2222);
        assert_eq!(g.hosts[1].identity_file, Some(PathBuf::from("/keys/id")));
        assert_eq!(g.hosts[1].key(), "10.0.0.2:2222");
        let b = pools.get("my-box").unwrap();
        assert_eq!(b.hosts[0].identity_file, None);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let e = NodePools::from_yaml_str("p:\n  hosts: []\n").unwrap_err();
        assert!(e.to_string().contains("no hosts"), "{e}");
        let e = NodePools::from_yaml_str("p:\n  hosts: [1.2.3.4, 1.2.3.4]\n").unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let e = NodePools::from_yaml_str("p q:\n  hosts: [1.2.3.4]\n").unwrap_err();
        assert!(e.to_string().contains("pool name"), "{e}");
        let e = NodePools::from_yaml_str("- a\n- b\n").unwrap_err();
        assert!(e.to_string().contains("expected"), "{e}");
        assert!(NodePools::from_yaml_str("").unwrap().is_empty());
    }
}
