//! [`SshRunner`]: a node reached over a multiplexed SSH connection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use openssh::{KnownHosts, Session, SessionBuilder, Stdio};

use crate::error::{ExecError, Result};
use crate::jobfs;
use crate::local::attached_script;
use crate::procio;
use crate::runner::{
    CommandRunner, DetachedSpec, ExecOutput, FileChunk, OutputSink, ProcessRef, ProcessStatus,
    RemoteCommand, SyncOptions,
};
use crate::shell::{BOOTSTRAP, home_relative, path_expr};
use crate::ssh_failure::{ConnectFailure, reason_line};

/// How the host key of a node is checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KnownHostsPolicy {
    /// The key must already be in the known-hosts file (`StrictHostKeyChecking=yes`).
    Strict,
    /// Unknown hosts are added; a changed key is refused (`StrictHostKeyChecking=accept-new`).
    #[default]
    AcceptNew,
    /// Any key is accepted (`StrictHostKeyChecking=no`): for freshly provisioned VMs whose
    /// keys cannot be known in advance, together with a throw-away known-hosts file.
    AcceptAny,
}

/// Where and how to reach a node over SSH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshConfig {
    /// Host name or address to connect to.
    pub host: String,
    /// Port (default 22).
    pub port: u16,
    /// Login user (default `root`).
    pub user: String,
    /// Private key; when set, only this key is offered (`IdentitiesOnly=yes`).
    pub identity_file: Option<PathBuf>,
    /// Host key policy.
    pub known_hosts: KnownHostsPolicy,
    /// The known-hosts file (default: ssh's, `~/.ssh/known_hosts`).
    pub known_hosts_file: Option<PathBuf>,
    /// Where the master connection's control socket directory is created (default: ssh's
    /// state directory, `$XDG_STATE_HOME` or `~/.local/state`). Unix socket paths are limited
    /// to about 100 bytes.
    pub control_dir: Option<PathBuf>,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// The IP other nodes use to reach this one (default: `host`), e.g. the private IP
    /// when connecting through a public one.
    pub node_ip: Option<String>,
}

impl SshConfig {
    /// `root@host:22`, host keys accepted when new, 30 s connect timeout.
    pub fn new(host: impl Into<String>) -> Self {
        SshConfig {
            host: host.into(),
            port: 22,
            user: "root".to_string(),
            identity_file: None,
            known_hosts: KnownHostsPolicy::default(),
            known_hosts_file: None,
            control_dir: None,
            connect_timeout: Duration::from_secs(30),
            node_ip: None,
        }
    }

    /// Sets the user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Sets the port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the private key.
    pub fn identity_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.identity_file = Some(path.into());
        self
    }

    /// Sets the host key policy.
    pub fn known_hosts(mut self, policy: KnownHostsPolicy) -> Self {
        self.known_hosts = policy;
        self
    }

    /// Sets the known-hosts file.
    pub fn known_hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.known_hosts_file = Some(path.into());
        self
    }

    /// Sets the control socket directory.
    pub fn control_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.control_dir = Some(path.into());
        self
    }

    /// Sets the connection timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the IP reported by [`CommandRunner::node_ip`].
    pub fn node_ip(mut self, ip: impl Into<String>) -> Self {
        self.node_ip = Some(ip.into());
        self
    }

    /// `user@host:port`, for messages.
    pub fn label(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }

    fn connect_error(&self, failure: ConnectFailure, reason: String) -> ExecError {
        ExecError::Connect {
            node: self.label(),
            failure,
            reason,
            fix: failure.fix(&self.host, self.port),
        }
    }
}

/// What ssh printed, as `openssh` keeps it: the message of the I/O error under its error
/// (its own `Display` is a fixed "failed to connect to the remote host").
fn ssh_stderr(e: &openssh::Error) -> String {
    match e {
        openssh::Error::Connect(io) => io.to_string(),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text = s.to_string();
                source = s.source();
            }
            text
        }
    }
}

/// Runs commands on a node over one multiplexed SSH master connection (the `openssh` crate
/// with native mux: each command is a new channel on the master's control socket, with no
/// `ssh` process per command).
///
/// rsync goes through the same master: `rsync -e "ssh -o ControlPath=<socket>
/// -o ControlMaster=no"`, so file transfers need no second authentication. Dropping the
/// runner closes the master connection; detached processes on the node keep running. (If
/// this process dies without dropping it, the master lingers until its connection breaks, as
/// `ssh -o ControlPersist=yes` does.)
///
/// Needs the `ssh` client (and `rsync` for file transfers) on this machine.
#[derive(Debug)]
pub struct SshRunner {
    session: Session,
    config: SshConfig,
    ip: String,
}

impl SshRunner {
    /// Opens the master connection.
    pub async fn connect(config: SshConfig) -> Result<Self> {
        let mut b = SessionBuilder::default();
        b.user(config.user.clone())
            .port(config.port)
            .connect_timeout(config.connect_timeout)
            .server_alive_interval(Duration::from_secs(15))
            .known_hosts_check(match config.known_hosts {
                KnownHostsPolicy::Strict => KnownHosts::Strict,
                KnownHostsPolicy::AcceptNew => KnownHosts::Add,
                KnownHostsPolicy::AcceptAny => KnownHosts::Accept,
            });
        if let Some(k) = &config.identity_file {
            // ssh only warns about a missing key and then fails authentication: say so.
            if let Err(e) = std::fs::File::open(k) {
                return Err(config.connect_error(
                    ConnectFailure::KeyFile,
                    format!("identity file {} cannot be read: {e}", k.display()),
                ));
            }
            b.keyfile(k);
        }
        if let Some(f) = &config.known_hosts_file {
            b.user_known_hosts_file(f);
        }
        if let Some(d) = &config.control_dir {
            b.control_directory(d);
        }
        let session = b.connect_mux(&config.host).await.map_err(|e| {
            let stderr = ssh_stderr(&e);
            config.connect_error(ConnectFailure::classify(&stderr), reason_line(&stderr))
        })?;
        let ip = config
            .node_ip
            .clone()
            .unwrap_or_else(|| config.host.clone());
        Ok(SshRunner {
            session,
            config,
            ip,
        })
    }

    /// The connection settings.
    pub fn config(&self) -> &SshConfig {
        &self.config
    }

    /// The master connection's control socket (for other tools that should reuse it).
    pub fn control_socket(&self) -> &Path {
        self.session.control_socket()
    }

    /// Closes the master connection, reporting errors that dropping would ignore.
    pub async fn close(self) -> Result<()> {
        let node = self.config.label();
        self.session
            .close()
            .await
            .map_err(|source| ExecError::Ssh { node, source })
    }

    fn ssh_err(&self, source: openssh::Error) -> ExecError {
        ExecError::Ssh {
            node: self.config.label(),
            source,
        }
    }

    fn io_err(&self, e: std::io::Error) -> ExecError {
        ExecError::io(format!("talking to {}", self.config.label()), e)
    }

    async fn spawn_bash(&self) -> Result<openssh::RemoteChild<'_>> {
        self.session
            .raw_command(BOOTSTRAP)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|e| self.ssh_err(e))
    }

    async fn finish(&self, child: openssh::RemoteChild<'_>) -> Result<i32> {
        let status = child.wait().await.map_err(|e| self.ssh_err(e))?;
        Ok(procio::exit_code(status))
    }

    /// `-e` for rsync: ssh through this runner's master socket.
    fn rsync_shell(&self) -> String {
        let sock = self.session.control_socket().display().to_string();
        format!(
            "ssh -o ControlMaster=no -o BatchMode=yes -o 'ControlPath={}' -p {} -l {}",
            sock.replace('\'', ""),
            self.config.port,
            self.config.user
        )
    }

    /// rsync's `host:path` for a node path (home-relative paths become relative ones, which
    /// rsync resolves against the login directory).
    fn rsync_remote(&self, node_path: &str) -> String {
        let path = match home_relative(node_path) {
            Some("") => ".".to_string(),
            Some(rel) => rel.to_string(),
            None => node_path.to_string(),
        };
        format!("{}:{}", self.config.host, path)
    }
}

#[async_trait]
impl CommandRunner for SshRunner {
    fn node_ip(&self) -> &str {
        &self.ip
    }

    async fn exec(&self, script: &str) -> Result<ExecOutput> {
        let mut child = self.spawn_bash().await?;
        let stdin = child.stdin().take();
        let stdout = child.stdout().take();
        let stderr = child.stderr().take();
        let (stdout, stderr) = procio::capture(stdin, stdout, stderr, script.as_bytes())
            .await
            .map_err(|e| self.io_err(e))?;
        Ok(ExecOutput {
            code: self.finish(child).await?,
            stdout,
            stderr,
        })
    }

    async fn run(&self, cmd: &RemoteCommand, sink: &dyn OutputSink) -> Result<i32> {
        let script = attached_script(cmd)?;
        let mut child = self.spawn_bash().await?;
        let stdin = child.stdin().take();
        let stdout = child.stdout().take();
        let stderr = child.stderr().take();
        procio::stream(
            stdin,
            stdout,
            stderr,
            script.as_bytes(),
            sink,
            &cmd.env.redactor(),
        )
        .await
        .map_err(|e| self.io_err(e))?;
        self.finish(child).await
    }

    async fn spawn_detached(&self, spec: &DetachedSpec) -> Result<u32> {
        jobfs::spawn(self, spec).await
    }

    async fn process_status(&self, process: &ProcessRef) -> Result<ProcessStatus> {
        jobfs::status(self, process).await
    }

    async fn process_pids(&self, process: &ProcessRef) -> Result<Vec<u32>> {
        jobfs::pids(self, process).await
    }

    async fn kill(&self, process: &ProcessRef, grace: Duration) -> Result<ProcessStatus> {
        jobfs::kill(self, process, grace).await
    }

    async fn read_file_from(&self, path: &str, offset: u64, max_bytes: usize) -> Result<FileChunk> {
        jobfs::read_from(self, path, offset, max_bytes).await
    }

    async fn sync_up(&self, local: &Path, remote: &str, opts: &SyncOptions) -> Result<()> {
        let meta = tokio::fs::metadata(local)
            .await
            .map_err(|e| ExecError::io(format!("reading {}", local.display()), e))?;
        let what = format!("{} -> {}:{remote}", local.display(), self.config.host);
        let mkdir = if meta.is_dir() {
            format!("mkdir -p {}", path_expr(remote))
        } else {
            format!("mkdir -p \"$(dirname {})\"", path_expr(remote))
        };
        let out = self.exec(&mkdir).await?;
        if out.code != 0 {
            return Err(ExecError::CommandFailed {
                node: self.config.label(),
                what: format!("creating the target of {what}"),
                code: out.code,
                stderr: crate::error::stderr_tail(&out.stderr),
            });
        }
        let mut args = procio::rsync_base(opts);
        args.push("-z".to_string());
        args.push("-e".to_string());
        args.push(self.rsync_shell());
        if meta.is_dir() {
            args.push(format!("{}/", local.display()));
            args.push(format!("{}/", self.rsync_remote(remote)));
        } else {
            args.push(local.display().to_string());
            args.push(self.rsync_remote(remote));
        }
        procio::rsync(&self.config.label(), &what, &args).await
    }

    async fn fetch_file(&self, remote: &str, local: &Path) -> Result<()> {
        if let Some(dir) = local.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| ExecError::io(format!("creating {}", dir.display()), e))?;
        }
        let args = vec![
            "-a".to_string(),
            "-e".to_string(),
            self.rsync_shell(),
            self.rsync_remote(remote),
            local.display().to_string(),
        ];
        let what = format!("{}:{remote} -> {}", self.config.host, local.display());
        procio::rsync(&self.config.label(), &what, &args).await
    }
}
