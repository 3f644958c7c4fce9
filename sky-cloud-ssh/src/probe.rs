//! Probing: before a launch allocates free hosts, each must accept an SSH login with its
//! pool's settings, so that a dead host (sshd stopped, machine down, key no longer
//! authorized, host key changed) is skipped, with the reason logged and, when the pool ends up
//! short, in the capacity error.
//!
//! A probe is a real login through [`SshRunner`], not a TCP connect: it finds every reason
//! the launch itself would fail on the host. It costs nothing extra: the connection a probe
//! opens is kept and handed to the cluster's first [`NodeConnector::runners`] call (the
//! launch's setup), so a launch still makes one SSH connection per node.
//!
//! A host that answers is also cleaned of sky jobs a cluster left on it when it was torn
//! down while the host did not answer ([`crate::provision::clean`]), so a new cluster starts
//! on an empty host, as on a new VM.
//!
//! [`NodeConnector::runners`]: sky_exec::NodeConnector::runners

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use sky_exec::{ExecError, SshRunner};

use crate::SshPoolCloud;
use crate::config::PoolHost;

/// How long a probe's connection is kept for the cluster's first use.
const KEEP: Duration = Duration::from_secs(60);

/// The connections of hosts that answered a probe, by login (`user@ip:port`).
#[derive(Debug, Default)]
pub(crate) struct Probed {
    conns: Mutex<HashMap<String, (Instant, SshRunner)>>,
}

impl Probed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, SshRunner)>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn put(&self, login: String, runner: SshRunner) {
        let mut conns = self.lock();
        conns.retain(|_, (at, _)| at.elapsed() < KEEP);
        conns.insert(login, (Instant::now(), runner));
    }

    /// The connection a probe opened to `login`, if it is recent.
    pub(crate) fn take(&self, login: &str) -> Option<SshRunner> {
        let (at, runner) = self.lock().remove(login)?;
        (at.elapsed() < KEEP).then_some(runner)
    }

    /// Closes the probes' connections to `logins` (dropping a runner closes it).
    pub(crate) fn discard(&self, logins: impl IntoIterator<Item = String>) {
        let mut conns = self.lock();
        for l in logins {
            conns.remove(&l);
        }
    }
}

/// How a message names a host: its address, with the port when it is not 22.
fn short_name(h: &PoolHost) -> String {
    if h.port == 22 { h.ip.clone() } else { h.key() }
}

impl SshPoolCloud {
    /// Whether `host` accepts an SSH login within the probe timeout (the connection is
    /// kept in [`Probed`]). `Err` is why not, for the capacity error (`connection refused`,
    /// `authentication failed`, ...); the whole error is logged.
    async fn probe(&self, host: &PoolHost) -> Result<(), String> {
        let cfg = self
            .ssh_config(host)
            .connect_timeout(self.probe_timeout.min(self.connect_timeout));
        // ssh's ConnectTimeout bounds the TCP connect; this bounds a stalled handshake.
        let bound = self.probe_timeout * 2;
        let e = match tokio::time::timeout(bound, SshRunner::connect(cfg)).await {
            Ok(Ok(runner)) => match crate::provision::clean(&runner, host).await {
                Ok(()) => {
                    self.probed.put(host.login(), runner);
                    return Ok(());
                }
                Err(e) => e,
            },
            Ok(Err(e)) => e,
            Err(_) => ExecError::Timeout {
                what: format!("an SSH login to {}", host.login()),
                after: bound,
            },
        };
        tracing::warn!(host = %host.login(), error = %e, "skipping an SSH pool host that does not answer");
        Err(match e {
            ExecError::Connect { failure, .. } => failure.to_string(),
            other => other.to_string(),
        })
    }

    /// The first `missing` hosts of `free` (in order) that answer, probed in parallel a
    /// batch at a time, and `address: why` of the ones that did not.
    pub(crate) async fn answering<'h>(
        &self,
        free: Vec<&'h PoolHost>,
        missing: usize,
    ) -> (Vec<&'h PoolHost>, Vec<String>) {
        let (mut ok, mut dead) = (Vec::new(), Vec::new());
        let mut rest = free.into_iter();
        while ok.len() < missing {
            let batch: Vec<&PoolHost> = rest.by_ref().take(missing - ok.len()).collect();
            if batch.is_empty() {
                break;
            }
            let results = join_all(batch.iter().map(|h| self.probe(h))).await;
            for (h, r) in batch.into_iter().zip(results) {
                match r {
                    Ok(()) => ok.push(h),
                    Err(why) => dead.push(format!("{}: {why}", short_name(h))),
                }
            }
        }
        (ok, dead)
    }
}

/// Logs in to every host of `pools` at once, as a launch's probe does (each host's user, key
/// and port; host keys checked with `policy` against `known_hosts_file`, ssh's own when
/// `None`), each within `timeout`, and logs out: one answer per host, in file order, with the
/// pool it is in. Nothing is allocated or recorded: this is what `sky check ssh` shows.
pub async fn check_hosts<'p>(
    pools: &'p crate::NodePools,
    policy: sky_exec::KnownHostsPolicy,
    known_hosts_file: Option<&std::path::Path>,
    timeout: Duration,
) -> Vec<(&'p str, &'p PoolHost, Result<(), ExecError>)> {
    let hosts: Vec<(&str, &PoolHost)> = pools
        .iter()
        .flat_map(|p| p.hosts.iter().map(move |h| (p.name.as_str(), h)))
        .collect();
    let answers = join_all(hosts.iter().map(|(_, h)| async move {
        let cfg = h.ssh_config(policy, known_hosts_file, timeout);
        let bound = timeout * 2;
        match tokio::time::timeout(bound, SshRunner::connect(cfg)).await {
            Ok(Ok(runner)) => {
                if let Err(e) = runner.close().await {
                    tracing::debug!(host = %h.login(), error = %e, "closing a check's connection");
                }
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ExecError::Timeout {
                what: format!("an SSH login to {}", h.login()),
                after: bound,
            }),
        }
    }))
    .await;
    hosts
        .into_iter()
        .zip(answers)
        .map(|((pool, h), r)| (pool, h, r))
        .collect()
}
