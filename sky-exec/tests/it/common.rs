//! Fixtures and bounded polling helpers shared by the test modules.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sky_exec::testing::{HarnessError, NetnsHosts};
use sky_exec::{CommandRunner, GangJob, GangNode, LocalRunner, Phase, SshKeyPair, SshRunner};

/// The bound of every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(60);

/// A cluster of nodes the scenarios run on; `nodes()` makes fresh runners every time, as a
/// restarted broker would.
pub enum Fixture {
    /// Directories on this machine.
    Local {
        _dir: tempfile::TempDir,
        homes: Vec<PathBuf>,
    },
    /// Network-namespace hosts over SSH.
    Ssh {
        hosts: NetnsHosts,
        key: SshKeyPair,
        _keys: tempfile::TempDir,
    },
}

impl Fixture {
    /// `n` local nodes with distinct loopback IPs 127.0.0.10+rank.
    pub fn local(n: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let homes: Vec<PathBuf> = (0..n)
            .map(|r| dir.path().join(format!("node-{r}")))
            .collect();
        for (r, h) in homes.iter().enumerate() {
            std::fs::create_dir_all(h).unwrap();
            std::fs::write(h.join("node-id"), format!("node-{r}\n")).unwrap();
        }
        Fixture::Local { _dir: dir, homes }
    }

    /// `n` SSH hosts, or `None` (with a note) where they cannot run outside CI.
    pub fn ssh(n: usize) -> Option<Fixture> {
        let keys = tempfile::tempdir().unwrap();
        let key = SshKeyPair::ensure(&keys.path().join("keys")).unwrap();
        match NetnsHosts::create(n, key.public_key_openssh()) {
            Ok(hosts) => {
                for (r, h) in hosts.hosts().iter().enumerate() {
                    std::fs::write(h.home.join("node-id"), format!("node-{r}\n")).unwrap();
                }
                Some(Fixture::Ssh {
                    hosts,
                    key,
                    _keys: keys,
                })
            }
            Err(HarnessError::Unavailable(why)) if std::env::var_os("CI").is_none() => {
                eprintln!("note: skipping the SSH variant of this test: {why}");
                None
            }
            Err(e) => panic!(
                "{e}\nCI must run the SSH tests: run them as root with openssh-server, \
                 openssh-client, rsync and iproute2 installed"
            ),
        }
    }

    /// Whether the nodes are reached over SSH.
    pub fn is_ssh(&self) -> bool {
        matches!(self, Fixture::Ssh { .. })
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        match self {
            Fixture::Local { homes, .. } => homes.len(),
            Fixture::Ssh { hosts, .. } => hosts.hosts().len(),
        }
    }

    /// The home directory of the node of `rank`, as seen from the test.
    pub fn home(&self, rank: u32) -> PathBuf {
        match self {
            Fixture::Local { homes, .. } => homes[rank as usize].clone(),
            Fixture::Ssh { hosts, .. } => hosts.hosts()[rank as usize].home.clone(),
        }
    }

    /// The runner of one node (a fresh one).
    pub async fn runner(&self, rank: u32) -> Arc<dyn CommandRunner> {
        match self {
            Fixture::Local { homes, .. } => Arc::new(
                LocalRunner::new(&homes[rank as usize])
                    .unwrap()
                    .with_ip(format!("127.0.0.{}", 10 + rank)),
            ),
            Fixture::Ssh { hosts, key, .. } => Arc::new(
                SshRunner::connect(hosts.ssh_config(rank as usize, key.private_key_path()))
                    .await
                    .unwrap(),
            ),
        }
    }

    /// Fresh runners for every node, as gang nodes.
    pub async fn nodes(&self) -> Vec<GangNode> {
        let mut out = Vec::new();
        for r in 0..self.len() as u32 {
            out.push(GangNode::new(r, self.runner(r).await));
        }
        out
    }

    /// A gang job on fresh runners for every node.
    pub async fn job(&self, job_id: u64) -> GangJob {
        GangJob::new(job_id, self.nodes().await).unwrap()
    }
}

/// Polls `check` (every 50 ms) until it returns `Some`, at most [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The whole log of `phase` on the node of `rank`, read through its runner.
pub async fn log_of(job: &GangJob, phase: Phase, rank: u32) -> String {
    let node = &job.nodes()[rank as usize];
    let chunk = node
        .runner
        .read_file_from(&job.process(phase, rank).log_path(), 0, 1 << 20)
        .await
        .unwrap();
    String::from_utf8(chunk.data).unwrap()
}

/// The value of `KEY=value` lines in a log.
pub fn field<'a>(log: &'a str, key: &str) -> Option<&'a str> {
    log.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Whether a pid is a live (non-zombie) process on this machine (the test hosts share the
/// pid namespace).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    !matches!(rest.split_whitespace().next(), Some("Z" | "X") | None)
}

/// Every process command line on this machine that contains `needle`.
pub fn cmdlines_containing(needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if let Ok(raw) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&raw).replace('\0', " ");
            if text.contains(needle) {
                hits.push(text);
            }
        }
    }
    hits
}

/// Every file under `dir` whose content contains `needle`.
pub fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
            {
                hits.push(p);
            }
        }
    }
    hits
}
