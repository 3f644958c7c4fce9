//! The backends the job scenarios run on, and bounded polling helpers.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sky_cloud_local::LocalCloud;
use sky_cloud_ssh::{NodePools, SshPoolCloud};
use sky_core::Task;
use sky_core::fake::FakeCloud;
use sky_exec::testing::{HarnessError, NetnsHosts};
use sky_exec::{KnownHostsPolicy, LogLine, SshKeyPair};
use sky_runtime::{Broker, JobRecord, LogsOptions, ProvisionOptions};

/// The bound of every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(60);

/// Where a scenario's cluster lives.
pub enum Kind {
    /// FakeCloud, nodes played by directories (the broker's default `DirConnector`).
    Fake(FakeCloud),
    /// The local backend.
    Local,
    /// An SSH node pool of network-namespace hosts running sshd.
    Ssh {
        hosts: Box<NetnsHosts>,
        _key: SshKeyPair,
    },
}

/// A backend with its own state directory; [`Backend::broker`] makes a new broker over it
/// each time, as a restarted process would.
pub struct Backend {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
}

impl Backend {
    pub fn fake() -> Backend {
        Backend {
            kind: Kind::Fake(FakeCloud::default()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn local() -> Backend {
        Backend {
            kind: Kind::Local,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `n` SSH hosts in a pool named `netns`, or `None` (with a note) where they cannot run
    /// outside CI. In CI (env `CI` set) they must run.
    pub fn ssh(n: usize) -> Option<Backend> {
        let dir = tempfile::tempdir().unwrap();
        let key = SshKeyPair::ensure(&dir.path().join("test-keys")).unwrap();
        let hosts = match NetnsHosts::create(n, key.public_key_openssh()) {
            Ok(h) => h,
            Err(HarnessError::Unavailable(why)) if std::env::var_os("CI").is_none() => {
                eprintln!("note: skipping the SSH pool variant of this test: {why}");
                return None;
            }
            Err(e) => panic!(
                "{e}\nCI must run the SSH tests: run them as root with openssh-server, \
                 openssh-client, rsync and iproute2 installed"
            ),
        };
        let mut yaml = format!(
            "netns:\n  user: root\n  identity_file: {}\n  hosts:\n",
            key.private_key_path().display()
        );
        for h in hosts.hosts() {
            yaml.push_str(&format!("    - {}\n", h.ip));
        }
        std::fs::write(dir.path().join("ssh_node_pools.yaml"), yaml).unwrap();
        Some(Backend {
            kind: Kind::Ssh {
                hosts: Box::new(hosts),
                _key: key,
            },
            dir,
        })
    }

    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new broker over this backend's state directory.
    pub fn broker(&self) -> Broker {
        let b = Broker::builder()
            .state_dir(self.state_dir())
            .unwrap()
            .owner("tester");
        let b = match &self.kind {
            Kind::Fake(f) => b.cloud(Arc::new(f.clone()), Arc::new(f.clone())),
            Kind::Local => b.backend(Arc::new(LocalCloud::new(self.state_dir()))),
            Kind::Ssh { hosts, .. } => {
                let pools =
                    NodePools::from_file(&self.state_dir().join("ssh_node_pools.yaml")).unwrap();
                b.backend(Arc::new(
                    SshPoolCloud::new(pools, self.state_dir())
                        .unwrap()
                        .with_known_hosts(
                            KnownHostsPolicy::Strict,
                            Some(hosts.known_hosts_file().to_path_buf()),
                        )
                        .with_connect_timeout(Duration::from_secs(10)),
                ))
            }
        };
        b.build().unwrap()
    }
}

/// Parses a task.
pub fn task(yaml: &str) -> Task {
    Task::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// Launches and returns the job id.
pub async fn launch(b: &Broker, t: &Task, cluster: &str) -> u64 {
    let l = b
        .launch(t, cluster, &ProvisionOptions::new())
        .await
        .unwrap_or_else(|e| panic!("launch {cluster}: {e}"));
    l.job_id.expect("a job")
}

/// Follows a job's logs to its end and returns every line.
pub async fn follow(b: &Broker, cluster: &str, job: u64) -> (JobRecord, Vec<LogLine>) {
    let mut lines = Vec::new();
    let rec = tokio::time::timeout(
        WAIT,
        b.logs(
            cluster,
            &LogsOptions::new().job(job).follow(true),
            &mut |l| lines.push(l),
        ),
    )
    .await
    .expect("logs --follow ended in time")
    .unwrap();
    (rec, lines)
}

/// The logs as they are now.
pub async fn logs_now(b: &Broker, cluster: &str, job: u64) -> Vec<String> {
    let mut lines = Vec::new();
    b.logs(cluster, &LogsOptions::new().job(job), &mut |l| {
        lines.push(l.text)
    })
    .await
    .unwrap();
    lines
}

/// Polls `check` until it returns `Some`, at most [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    let mut interval = Duration::from_millis(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_millis(300));
    }
}
