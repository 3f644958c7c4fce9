//! The SSH node pools as `sky check` and `sky show-gpus` see them.
//!
//! A pool is not enabled by a check: the broker uses every pool the file defines. The check
//! says whether the file parses and which hosts answer over SSH, with ssh's own reason and
//! the fix for those that do not ([`sky_exec::ConnectFailure`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use sky_exec::ConnectFailure;

/// How long a pool host has to answer `sky check` by default.
pub(super) const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of the broker, for listings: its name and hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolSummary {
    /// The pool's name (a region of the `ssh` cloud).
    pub name: String,
    /// Its hosts as `user@host:port`, in file order.
    pub hosts: Vec<String>,
}

#[cfg(feature = "ssh")]
impl PoolSummary {
    pub(super) fn of(pool: &sky_cloud_ssh::NodePool) -> Self {
        PoolSummary {
            name: pool.name.clone(),
            hosts: pool
                .hosts
                .iter()
                .map(sky_cloud_ssh::PoolHost::login)
                .collect(),
        }
    }
}

/// What the check of the SSH node pools found ([`Clouds::check`](super::Clouds::check)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolsReport {
    /// The pool file.
    pub file: PathBuf,
    /// Whether the file exists (without it there are no pools, which is not a failure).
    pub exists: bool,
    /// Why the file cannot be used (unreadable or invalid); no pool is used then.
    pub error: Option<String>,
    /// Each pool, by name.
    pub pools: Vec<PoolReport>,
}

/// The check of one pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolReport {
    /// The pool's name.
    pub name: String,
    /// Each host, in file order.
    pub hosts: Vec<HostReport>,
}

/// The check of one pool host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostReport {
    /// `user@host:port`.
    pub node: String,
    /// Why it did not answer; `None` when it did (an SSH login succeeded).
    pub failure: Option<HostFailure>,
}

/// Why a pool host did not answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostFailure {
    /// The kind, for scripts: `unreachable`, `refused`, `timeout`, `auth`,
    /// `host_key_changed`, `host_key_unknown`, `key_file` or `other`.
    pub kind: String,
    /// The kind, for people (`connection refused`).
    pub summary: String,
    /// ssh's own reason, on one line.
    pub reason: String,
    /// What to do about it, when known.
    pub fix: Option<String>,
    /// The classified connect failure, when ssh got that far.
    #[serde(skip)]
    pub connect: Option<ConnectFailure>,
}

impl PoolsReport {
    /// Whether the file is usable and every host of every pool answered (no file counts).
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self
                .pools
                .iter()
                .all(|p| p.hosts.iter().all(|h| h.failure.is_none()))
    }
}

impl PoolReport {
    /// How many of its hosts answered.
    pub fn answering(&self) -> usize {
        self.hosts.iter().filter(|h| h.failure.is_none()).count()
    }
}

impl fmt::Display for PoolsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        if let Some(e) = &self.error {
            writeln!(f, "ssh: {file} is invalid: no SSH node pool can be used")?;
            return writeln!(f, "  {e}");
        }
        if !self.exists {
            writeln!(f, "ssh: no SSH node pool")?;
            return writeln!(
                f,
                "  {file} does not exist; write it to use machines you have"
            );
        }
        let n = self.pools.len();
        writeln!(
            f,
            "ssh: {n} SSH node pool{} in {file}",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.pools {
            writeln!(
                f,
                "  {}: {} of {} host{} answered",
                p.name,
                p.answering(),
                p.hosts.len(),
                if p.hosts.len() == 1 { "" } else { "s" },
            )?;
            for h in &p.hosts {
                match &h.failure {
                    None => writeln!(f, "    - {}: ok", h.node)?,
                    Some(x) => {
                        write!(f, "    - {}: {} ({})", h.node, x.summary, x.reason)?;
                        match &x.fix {
                            Some(fix) => writeln!(f, ". Fix: {fix}")?,
                            None => writeln!(f)?,
                        }
                    }
                }
            }
        }
        writeln!(
            f,
            "  (pools are used whenever the file defines them; `sky check` does not enable them)"
        )
    }
}

/// Checks the pools of `file` (see [`Clouds::check_pools`](super::Clouds::check_pools)).
#[cfg(feature = "ssh")]
pub(super) async fn check(file: &std::path::Path, timeout: Duration) -> PoolsReport {
    use sky_cloud_ssh::NodePools;
    let mut report = PoolsReport {
        file: file.to_path_buf(),
        exists: file.exists(),
        error: None,
        pools: Vec::new(),
    };
    if !report.exists {
        return report;
    }
    let pools = match NodePools::from_file(file) {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    // Host keys as launches check them (SshPoolCloud::from_default_file).
    let known_hosts = sky_cloud_ssh::known_hosts_file_from_env();
    let answers = sky_cloud_ssh::check_hosts(
        &pools,
        sky_exec::KnownHostsPolicy::AcceptNew,
        known_hosts.as_deref(),
        timeout,
    )
    .await;
    let mut answers = answers.into_iter();
    for p in pools.iter() {
        let hosts = p
            .hosts
            .iter()
            .map(|h| HostReport {
                node: h.login(),
                failure: answers.next().and_then(|(_, _, r)| r.err()).map(failure),
            })
            .collect();
        report.pools.push(PoolReport {
            name: p.name.clone(),
            hosts,
        });
    }
    report
}

/// What a user is told of a host that did not let sky log in.
#[cfg(feature = "ssh")]
fn failure(e: sky_exec::ExecError) -> HostFailure {
    match e {
        sky_exec::ExecError::Connect {
            failure,
            reason,
            fix,
            ..
        } => HostFailure {
            kind: failure.as_str().to_string(),
            summary: failure.to_string(),
            reason,
            fix: Some(fix),
            connect: Some(failure),
        },
        e => HostFailure {
            kind: "other".to_string(),
            summary: "ssh failed".to_string(),
            reason: e.to_string(),
            fix: None,
            connect: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(node: &str, failure: Option<HostFailure>) -> HostReport {
        HostReport {
            node: node.into(),
            failure,
        }
    }

    #[test]
    fn a_report_names_each_host_and_why_it_did_not_answer() {
        let refused = HostFailure {
            kind: "refused".into(),
            summary: ConnectFailure::Refused.to_string(),
            reason: "connect to host 10.0.0.2 port 22: Connection refused".into(),
            fix: Some(ConnectFailure::Refused.fix("10.0.0.2", 22)),
            connect: Some(ConnectFailure::Refused),
        };
        let report = PoolsReport {
            file: "/home/u/.sky/ssh_node_pools.yaml".into(),
            exists: true,
            error: None,
            pools: vec![PoolReport {
                name: "lab".into(),
                hosts: vec![
                    host("u@10.0.0.1:22", None),
                    host("u@10.0.0.2:22", Some(refused)),
                ],
            }],
        };
        assert!(!report.ok());
        assert_eq!(report.pools[0].answering(), 1);
        let text = report.to_string();
        assert!(
            text.starts_with("ssh: 1 SSH node pool in /home/u/.sky/"),
            "{text}"
        );
        assert!(text.contains("  lab: 1 of 2 hosts answered\n"), "{text}");
        assert!(text.contains("    - u@10.0.0.1:22: ok\n"), "{text}");
        assert!(
            text.contains(
                "    - u@10.0.0.2:22: connection refused (connect to host 10.0.0.2 port 22: \
                 Connection refused). Fix: start sshd on 10.0.0.2"
            ),
            "{text}"
        );
        assert!(text.contains("does not enable them"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["pools"][0]["hosts"][1]["failure"]["kind"], "refused");
        assert!(
            json["pools"][0]["hosts"][1]["failure"]
                .get("connect")
                .is_none()
        );
    }

    #[test]
    fn no_file_is_no_failure_and_a_bad_file_says_so() {
        let mut report = PoolsReport {
            file: "/h/.sky/ssh_node_pools.yaml".into(),
            exists: false,
            error: None,
            pools: Vec::new(),
        };
        assert!(report.ok());
        assert!(report.to_string().contains("does not exist"));
        report.exists = true;
        report.error = Some("expected `pool-name: ...`".into());
        assert!(!report.ok());
        assert!(
            report
                .to_string()
                .contains("is invalid: no SSH node pool can be used")
        );
    }
}
