//! Multi-host test fixtures: network-namespace "hosts" running a real `sshd` each
//! (feature `test-hosts`).
//!
//! [`NetnsHosts::create`] builds, for one test:
//!
//! - a bridge `skyb<X>` with `198.18.<X>.1/24` in the root namespace, where `<X>` is claimed
//!   atomically (creating the bridge fails if another test process holds it), so parallel
//!   tests and test binaries never collide. 198.18.0.0/15 is reserved for network benchmark
//!   tests (RFC 2544), so it does not clash with real networks;
//! - per host `i` (1-based) a namespace `skyt<X>h<i>` joined to the bridge by a veth pair,
//!   with address `198.18.<X>.<10+i>`;
//! - per host an `sshd` (own ed25519 host key, `AuthorizedKeysFile` with the given key,
//!   `UsePAM no`, `PermitRootLogin prohibit-password`, `StrictModes no`, own `PidFile`)
//!   listening on port 22 of the host's address. It runs in a private mount namespace in
//!   which a per-host directory is bind-mounted over the login user's home, so every host has
//!   its own `~` (as separate machines would) while sharing the rest of the filesystem;
//! - a known-hosts file with every host key, for [`KnownHostsPolicy::Strict`] connections.
//!
//! Dropping the fixture kills every process in the namespaces (sshd and anything started
//! through it), deletes the namespaces and the bridge, and removes the files. It needs root,
//! `ip` (iproute2), `unshare`/`mount` (util-linux), `sshd` (openssh-server), `ssh` and `rsync`.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey};

use crate::ssh::{KnownHostsPolicy, SshConfig};

/// Why the fixture could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// This machine cannot run the fixture (not root, or a program is missing).
    #[error("network-namespace ssh hosts are unavailable: {0}")]
    Unavailable(String),
    /// Building the fixture failed.
    #[error("setting up network-namespace ssh hosts failed: {0}")]
    Setup(String),
}

/// One namespace host.
#[derive(Debug)]
pub struct TestHost {
    /// The network namespace's name.
    pub netns: String,
    /// The host's address.
    pub ip: String,
    /// This host's home directory as seen from the test (the login user's home inside it).
    pub home: PathBuf,
    sshd: Option<Child>,
}

/// N hosts in network namespaces on one bridge, each running `sshd`; torn down on drop.
#[derive(Debug)]
pub struct NetnsHosts {
    bridge: String,
    hosts: Vec<TestHost>,
    known_hosts: PathBuf,
    user_home: PathBuf,
    auth: PathBuf,
    dir: Option<tempfile::TempDir>,
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The login user's home directory as sshd sees it (from `/etc/passwd`).
fn passwd_home(user: &str) -> Option<PathBuf> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[0] == user).then(|| PathBuf::from(f[5]))
    })
}

/// Checks that this machine can build the fixture; the error says what is missing.
pub fn check_prerequisites() -> Result<(), HarnessError> {
    if effective_uid() != Some(0) {
        return Err(HarnessError::Unavailable(
            "must run as root (network namespaces, bridges and sshd need it)".to_string(),
        ));
    }
    let missing: Vec<&str> = [
        "ip", "sshd", "ssh", "rsync", "unshare", "mount", "setsid", "awk",
    ]
    .into_iter()
    .filter(|p| find_program(p).is_none())
    .collect();
    if !missing.is_empty() {
        return Err(HarnessError::Unavailable(format!(
            "missing programs: {} (Debian: apt-get install -y --no-install-recommends \
             openssh-server openssh-client rsync iproute2)",
            missing.join(", ")
        )));
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip(args: &[&str]) -> Result<(), HarnessError> {
    run(Command::new("ip").args(args)).map_err(HarnessError::Setup)
}

/// Kills every process in network namespace `netns`.
fn kill_namespace(netns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", netns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", pid]).output();
        }
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Claims a free subnet index by creating its bridge.
fn claim_bridge() -> Result<(u8, String), HarnessError> {
    let seed = std::process::id()
        .wrapping_mul(7)
        .wrapping_add(NEXT.fetch_add(37, Ordering::Relaxed));
    for k in 0..256u32 {
        let x = ((seed + k) % 256) as u8;
        let bridge = format!("skyb{x}");
        if run(Command::new("ip").args(["link", "add", &bridge, "type", "bridge"])).is_ok() {
            return Ok((x, bridge));
        }
    }
    Err(HarnessError::Setup(
        "no free test subnet in 198.18.0.0/16 (256 bridges skyb* exist; remove stale ones with \
         `ip link del skyb<N>`)"
            .to_string(),
    ))
}

impl NetnsHosts {
    /// Creates `n` hosts (1..=200) whose sshd accepts `authorized_key` (an OpenSSH public key
    /// line) for root.
    pub fn create(n: usize, authorized_key: &str) -> Result<Self, HarnessError> {
        check_prerequisites()?;
        if n == 0 || n > 200 {
            return Err(HarnessError::Setup(format!(
                "cannot create {n} hosts (1..=200)"
            )));
        }
        std::fs::create_dir_all("/run/sshd")
            .map_err(|e| HarnessError::Setup(format!("creating /run/sshd: {e}")))?;
        let user_home = passwd_home("root").unwrap_or_else(|| PathBuf::from("/root"));
        let (x, bridge) = claim_bridge()?;
        // From here on, Drop cleans up whatever exists.
        let mut me = NetnsHosts {
            bridge: bridge.clone(),
            hosts: Vec::new(),
            known_hosts: PathBuf::new(),
            user_home,
            auth: PathBuf::new(),
            dir: None,
        };
        // The fixture's files must stay visible inside the hosts, whose home is replaced.
        let dir = tempfile::Builder::new()
            .prefix("sky-netns-")
            .tempdir_in("/tmp")
            .map_err(|e| HarnessError::Setup(format!("creating a temp dir: {e}")))?;
        let root = dir.path().to_path_buf();
        me.dir = Some(dir);
        me.known_hosts = root.join("known_hosts");
        ip(&["addr", "add", &format!("198.18.{x}.1/24"), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        let auth = root.join("authorized_keys");
        me.auth = auth.clone();
        std::fs::write(&auth, format!("{}\n", authorized_key.trim()))
            .map_err(|e| HarnessError::Setup(format!("writing authorized_keys: {e}")))?;
        let mut known = String::new();
        for i in 1..=n {
            let netns = format!("skyt{x}h{i}");
            let addr = format!("198.18.{x}.{}", 10 + i);
            let home = root.join(format!("home-{i}"));
            me.hosts.push(TestHost {
                netns: netns.clone(),
                ip: addr.clone(),
                home: home.clone(),
                sshd: None,
            });
            // A namespace of this name can only be a leftover: we hold the bridge.
            let _ = run(Command::new("ip").args(["netns", "del", &netns]));
            ip(&["netns", "add", &netns])?;
            let veth = format!("skyv{x}h{i}");
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns,
            ])?;
            ip(&["link", "set", &veth, "master", &bridge])?;
            ip(&["link", "set", &veth, "up"])?;
            ip(&[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &netns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &netns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                &netns,
                "route",
                "add",
                "default",
                "via",
                &format!("198.18.{x}.1"),
            ])?;

            std::fs::create_dir_all(&home)
                .map_err(|e| HarnessError::Setup(format!("creating {}: {e}", home.display())))?;
            let public = me.start_sshd(i - 1, true)?;
            let _ = writeln!(known, "{addr} {public}");
        }
        std::fs::write(&me.known_hosts, known)
            .map_err(|e| HarnessError::Setup(format!("writing known_hosts: {e}")))?;
        for i in 0..me.hosts.len() {
            me.wait_listening(i, &root)?;
        }
        Ok(me)
    }

    fn root(&self) -> Result<PathBuf, HarnessError> {
        self.dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .ok_or_else(|| HarnessError::Setup("the fixture is gone".to_string()))
    }

    /// Starts host `i`'s sshd (0-based), with a fresh host key when `new_key` or when it has
    /// none yet; returns the public key line.
    fn start_sshd(&mut self, i: usize, new_key: bool) -> Result<String, HarnessError> {
        let root = self.root()?;
        let n = i + 1;
        let (netns, addr, home) = {
            let h = &self.hosts[i];
            (h.netns.clone(), h.ip.clone(), h.home.clone())
        };
        let host_key = root.join(format!("host-{n}_ed25519"));
        let key = match PrivateKey::read_openssh_file(&host_key) {
            Ok(k) if !new_key => k,
            _ => {
                let _ = std::fs::remove_file(&host_key);
                let key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
                    .map_err(|e| HarnessError::Setup(format!("host key: {e}")))?;
                key.write_openssh_file(&host_key, LineEnding::LF)
                    .map_err(|e| HarnessError::Setup(format!("writing host key: {e}")))?;
                key
            }
        };
        let public = key
            .public_key()
            .to_openssh()
            .map_err(|e| HarnessError::Setup(format!("host public key: {e}")))?;
        let config = root.join(format!("sshd-{n}.config"));
        let sftp = ["/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("internal-sftp");
        let text = format!(
            "Port 22\nListenAddress {addr}\nHostKey {}\nAuthorizedKeysFile {}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nStrictModes no\nPidFile {}\n\
             Subsystem sftp {sftp}\nMaxStartups 100:30:200\nMaxSessions 64\n",
            host_key.display(),
            self.auth.display(),
            root.join(format!("sshd-{n}.pid")).display(),
        );
        std::fs::write(&config, text)
            .map_err(|e| HarnessError::Setup(format!("writing sshd config: {e}")))?;
        let sshd = find_program("sshd")
            .ok_or_else(|| HarnessError::Unavailable("sshd not found".to_string()))?;
        run(Command::new(&sshd).arg("-t").arg("-f").arg(&config)).map_err(HarnessError::Setup)?;
        let log = std::fs::File::create(root.join(format!("sshd-{n}.log")))
            .map_err(|e| HarnessError::Setup(format!("sshd log: {e}")))?;
        let log2 = log
            .try_clone()
            .map_err(|e| HarnessError::Setup(format!("sshd log: {e}")))?;
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &netns,
                "unshare",
                "--mount",
                "--propagation",
                "private",
            ])
            .args([
                "--",
                "sh",
                "-c",
                r#"mount --bind "$1" "$2" && exec "$3" -D -e -f "$4""#,
            ])
            .arg("sky-test-host")
            .arg(&home)
            .arg(&self.user_home)
            .arg(&sshd)
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| HarnessError::Setup(format!("starting sshd: {e}")))?;
        self.hosts[i].sshd = Some(child);
        Ok(public)
    }

    /// Stops host `i`'s sshd (0-based): new connections are refused, while sessions already
    /// open and the processes they started keep running, as when a daemon is stopped.
    pub fn stop_sshd(&mut self, i: usize) {
        if let Some(mut c) = self.hosts[i].sshd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restarts host `i`'s sshd with a new host key (as a reinstalled machine has), without
    /// updating [`NetnsHosts::known_hosts_file`]; waits until it listens.
    pub fn change_host_key(&mut self, i: usize) -> Result<(), HarnessError> {
        self.stop_sshd(i);
        self.start_sshd(i, true)?;
        let root = self.root()?;
        self.wait_listening(i, &root)
    }

    /// Starts host `i`'s sshd again (0-based) after [`NetnsHosts::stop_sshd`], with the same
    /// host key; waits until it listens.
    pub fn restart_sshd(&mut self, i: usize) -> Result<(), HarnessError> {
        self.stop_sshd(i);
        self.start_sshd(i, false)?;
        let root = self.root()?;
        self.wait_listening(i, &root)
    }

    /// Host `i` dies (0-based): every process in its namespace (sshd, sessions, jobs) is
    /// killed and its link goes down, so connections to it time out.
    pub fn kill_host(&mut self, i: usize) {
        let netns = self.hosts[i].netns.clone();
        let _ = Command::new("ip")
            .args(["-n", &netns, "link", "set", "eth0", "down"])
            .output();
        kill_namespace(&netns);
        self.stop_sshd(i);
    }

    /// Polls until host `i`'s sshd accepts TCP connections (at most 20 s).
    fn wait_listening(&mut self, i: usize, root: &Path) -> Result<(), HarnessError> {
        let addr: SocketAddr = format!("{}:22", self.hosts[i].ip)
            .parse()
            .map_err(|e| HarnessError::Setup(format!("bad address: {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            let exited = self.hosts[i]
                .sshd
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                let log = std::fs::read_to_string(root.join(format!("sshd-{}.log", i + 1)))
                    .unwrap_or_default();
                return Err(HarnessError::Setup(format!(
                    "sshd of {} did not start listening ({}): {}",
                    self.hosts[i].netns,
                    if exited.is_some() {
                        "it exited"
                    } else {
                        "timeout"
                    },
                    log.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The hosts, in order (host `i` has address `198.18.<X>.<11+i>`).
    pub fn hosts(&self) -> &[TestHost] {
        &self.hosts
    }

    /// A known-hosts file listing every host's key.
    pub fn known_hosts_file(&self) -> &Path {
        &self.known_hosts
    }

    /// SSH settings for host `i` as root with `identity`, host keys checked strictly against
    /// [`NetnsHosts::known_hosts_file`].
    pub fn ssh_config(&self, i: usize, identity: &Path) -> SshConfig {
        SshConfig::new(self.hosts[i].ip.clone())
            .user("root")
            .identity_file(identity)
            .known_hosts(KnownHostsPolicy::Strict)
            .known_hosts_file(&self.known_hosts)
            .connect_timeout(Duration::from_secs(10))
    }
}

impl Drop for NetnsHosts {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            // Everything in the namespace: sshd, sessions, detached jobs.
            kill_namespace(&h.netns);
            if let Some(mut c) = h.sshd.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = Command::new("ip").args(["netns", "del", &h.netns]).output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
        if let Some(d) = self.dir.take() {
            let _ = d.close();
        }
    }
}
