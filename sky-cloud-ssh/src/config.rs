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
//!
//! The file is checked as task YAML is: an unknown or duplicated key is an error at its
//! `line:column`, with a did-you-mean (``ssh_node_pools.yaml:2:3: unknown field `usr`; did
//! you mean `user`?``), as are a pool without hosts and a host listed twice in a pool. The
//! same host may be listed in several pools; it is given to one cluster at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use sky_core::suggest;

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
    /// `ip:port`: how a pool names the host (a pool lists it once).
    pub fn key(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// `user@ip:port`: the host as allocations name it, whatever pool lists it (a host is
    /// given to one cluster at a time).
    pub fn login(&self) -> String {
        format!("{}@{}:{}", self.user, self.ip, self.port)
    }

    /// How sky logs in to this host: its user, port and key, host keys checked with
    /// `policy` against `known_hosts_file` (ssh's own when `None`).
    pub fn ssh_config(
        &self,
        policy: sky_exec::KnownHostsPolicy,
        known_hosts_file: Option<&Path>,
        connect_timeout: std::time::Duration,
    ) -> sky_exec::SshConfig {
        let mut cfg = sky_exec::SshConfig::new(self.ip.clone())
            .user(self.user.clone())
            .port(self.port)
            .known_hosts(policy)
            .connect_timeout(connect_timeout);
        if let Some(k) = &self.identity_file {
            cfg = cfg.identity_file(k);
        }
        if let Some(f) = known_hosts_file {
            cfg = cfg.known_hosts_file(f);
        }
        cfg
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
#[serde(deny_unknown_fields)]
struct RawPool {
    #[serde(default)]
    hosts: Vec<Spanned<RawHost>>,
    user: Option<String>,
    identity_file: Option<String>,
    port: Option<u16>,
    #[serde(default, rename = "password")]
    _password: Option<String>,
}

/// A host: a bare address, or an object overriding the pool's defaults.
///
/// Not `#[serde(untagged)]`: an untagged enum replaces the error of a mistyped key (and its
/// position) with "data did not match any variant".
enum RawHost {
    Address(String),
    Full(RawHostFields),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHostFields {
    ip: String,
    user: Option<String>,
    identity_file: Option<String>,
    port: Option<u16>,
    #[serde(default, rename = "password")]
    _password: Option<String>,
}

impl<'de> Deserialize<'de> for RawHost {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawHost;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an address, or a mapping with `ip` and optional `user`, `identity_file`, `port`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawHost, E> {
                Ok(RawHost::Address(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawHost, A::Error> {
                RawHostFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawHost::Full)
            }
        }
        d.deserialize_any(V)
    }
}

/// Where in the file: 1-based line and column (0 when unknown).
type Pos = (u64, u64);

fn pos(l: &Location) -> Pos {
    (l.line(), l.column())
}

/// The parser's error as a message without the position (the error shows it once, in
/// front); an unknown key gets a did-you-mean over the keys allowed where it was written.
fn syntax_message(e: &serde_saphyr::Error, at: Option<Pos>) -> String {
    let mut inner = e;
    while let serde_saphyr::Error::WithSnippet { error, .. }
    | serde_saphyr::Error::AliasError { error, .. } = inner
    {
        inner = error;
    }
    match inner {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => {
            return match suggest::did_you_mean(field, expected.iter().copied()) {
                Some(near) => format!("unknown field `{field}`; did you mean `{near}`?"),
                None => format!(
                    "unknown field `{field}`; expected one of {}",
                    expected
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
        }
        serde_saphyr::Error::DuplicateMappingKey { key: Some(k), .. } => {
            return format!("duplicate key `{k}`");
        }
        _ => {}
    }
    let mut message = inner.to_string();
    if let Some((line, column)) = at {
        for suffix in [
            format!(" at line {line}, column {column}"),
            format!("error: line {line} column {column}: "),
        ] {
            message = message.replace(&suffix, "");
        }
    }
    format!(
        "{} (expected `pool-name: {{hosts: [ip, ...], user: ..., identity_file: ...}}`)",
        message.trim()
    )
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
        let invalid = |at: Option<Pos>, message: String| PoolError::Invalid {
            origin: origin.to_string(),
            line: at.map(|p| p.0).filter(|l| *l > 0),
            column: at.map(|p| p.1).filter(|c| *c > 0),
            message,
        };
        if text.trim().is_empty() {
            return Ok(NodePools::default());
        }
        let raw: HashMap<Spanned<String>, RawPool> = serde_saphyr::from_str(text).map_err(|e| {
            let at = e.location().map(|l| pos(&l));
            invalid(at, syntax_message(&e, at))
        })?;
        // In file order, so that the first mistake is the one reported.
        let mut raw: Vec<_> = raw.into_iter().collect();
        raw.sort_by_key(|(name, _)| pos(&name.referenced));
        let default_user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let mut pools = BTreeMap::new();
        for (name, p) in raw {
            let at = Some(pos(&name.referenced));
            let name = name.value;
            if !valid_pool_name(&name) {
                return Err(invalid(
                    at,
                    format!("pool name {name:?}: use letters, digits, '-', '_' and '.'"),
                ));
            }
            if p.hosts.is_empty() {
                return Err(invalid(at, format!("pool {name:?} has no hosts")));
            }
            let mut seen = BTreeSet::new();
            let mut hosts = Vec::new();
            for h in p.hosts {
                let at = Some(pos(&h.referenced));
                let host = match h.value {
                    RawHost::Address(ip) => PoolHost {
                        ip,
                        port: p.port.unwrap_or(22),
                        user: p.user.clone().unwrap_or_else(|| default_user.clone()),
                        identity_file: p.identity_file.as_deref().map(expand),
                    },
                    RawHost::Full(f) => PoolHost {
                        ip: f.ip,
                        port: f.port.or(p.port).unwrap_or(22),
                        user: f
                            .user
                            .or_else(|| p.user.clone())
                            .unwrap_or_else(|| default_user.clone()),
                        identity_file: f
                            .identity_file
                            .as_deref()
                            .or(p.identity_file.as_deref())
                            .map(expand),
                    },
                };
                let ip = host.ip.trim();
                if ip.is_empty() || ip.contains(char::is_whitespace) {
                    return Err(invalid(
                        at,
                        format!("pool {name:?}: host {:?} is not an address", host.ip),
                    ));
                }
                if !seen.insert(host.key()) {
                    return Err(invalid(
                        at,
                        format!("pool {name:?} lists {} twice", host.key()),
                    ));
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

    #[test]
    fn unknown_keys_are_errors_with_a_line_and_a_suggestion() {
        let e = NodePools::from_yaml_str("lab:\n  usr: ubuntu\n  hosts: [10.0.0.1]\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ssh_node_pools.yaml:2:3: unknown field `usr`; did you mean `user`?"
        );
        let e = NodePools::from_yaml_str(
            "lab:\n  hosts:\n    - 10.0.0.1\n    - ip: 10.0.0.2\n      identity_fle: /k\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ssh_node_pools.yaml:5:7: unknown field `identity_fle`; did you mean `identity_file`?"
        );
        let e = NodePools::from_yaml_str("lab:\n  hosts: [10.0.0.1]\n  gpus: 8\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ssh_node_pools.yaml:3:3: unknown field `gpus`; expected one of `hosts`, `user`, \
             `identity_file`, `port`, `password`"
        );
        let e = NodePools::from_yaml_str("lab:\n  hosts:\n    - {ip: 10.0.0.1, prt: 22}\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ssh_node_pools.yaml:3:22: unknown field `prt`; did you mean `port`?"
        );
    }

    #[test]
    fn checks_name_the_line() {
        let e =
            NodePools::from_yaml_str("ok:\n  hosts: [10.0.0.1]\np:\n  hosts: []\n").unwrap_err();
        assert!(e.to_string().starts_with("ssh_node_pools.yaml:3:"), "{e}");
        let e =
            NodePools::from_yaml_str("p:\n  hosts:\n    - 10.0.0.1\n    - 10.0.0.1\n").unwrap_err();
        assert!(e.to_string().starts_with("ssh_node_pools.yaml:4:"), "{e}");
        let e = NodePools::from_yaml_str("p:\n  hosts:\n    - ip: 10.0.0.1\n      port: x\n")
            .unwrap_err();
        assert!(e.to_string().starts_with("ssh_node_pools.yaml:4:"), "{e}");
        let e = NodePools::from_yaml_str("p:\n  hosts: [10.0.0.1]\np:\n  hosts: [10.0.0.2]\n")
            .unwrap_err();
        assert_eq!(e.to_string(), "ssh_node_pools.yaml:3:1: duplicate key `p`");
        let e = NodePools::from_yaml_str("a:\n  hosts: []\nb:\n  hosts: []\n").unwrap_err();
        assert!(
            e.to_string().starts_with("ssh_node_pools.yaml:1:"),
            "first in file order: {e}"
        );
    }
}
