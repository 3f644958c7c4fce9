//! [`LocalRunner`]: a directory on this machine plays a node.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::process::Command;

use crate::error::{ExecError, Result};
use crate::jobfs;
use crate::procio;
use crate::runner::{
    CommandRunner, DetachedSpec, ExecOutput, FileChunk, OutputSink, ProcessRef, ProcessStatus,
    RemoteCommand, SyncOptions,
};
use crate::shell::{exports, home_relative, path_expr};

/// Runs a "node" on this machine: commands run here with `HOME` set to the node's
/// directory, so `~/sky_workdir` and the job files (`~/.sky/jobs/...`) land inside it.
///
/// This is what the `local` cloud and tests use: several `LocalRunner`s with different
/// directories form a multi-node cluster on one machine. Absolute paths are real paths on this
/// machine (shared by all local nodes). The node IP is `127.0.0.1` unless set with
/// [`LocalRunner::with_ip`]. Commands inherit this process's environment (with `HOME`
/// replaced), as any local child process does.
#[derive(Clone, Debug)]
pub struct LocalRunner {
    home: PathBuf,
    ip: String,
}

impl LocalRunner {
    /// A node whose home is `home` (created if missing).
    pub fn new(home: impl Into<PathBuf>) -> Result<Self> {
        let home = home.into();
        std::fs::create_dir_all(&home)
            .map_err(|e| ExecError::io(format!("creating {}", home.display()), e))?;
        let home = home
            .canonicalize()
            .map_err(|e| ExecError::io(format!("resolving {}", home.display()), e))?;
        Ok(LocalRunner {
            home,
            ip: "127.0.0.1".to_string(),
        })
    }

    /// Reports `ip` as the node's IP instead of `127.0.0.1`.
    pub fn with_ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = ip.into();
        self
    }

    /// The node's home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The local path of a node path (`~/x` and relative paths are inside the home).
    pub fn resolve(&self, node_path: &str) -> PathBuf {
        match home_relative(node_path) {
            Some(rel) => self.home.join(rel),
            None => PathBuf::from(node_path),
        }
    }

    fn bash(&self) -> Command {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(r#"eval "$(cat)""#)
            .env("HOME", &self.home)
            .current_dir(&self.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    fn spawn_err(&self, e: std::io::Error) -> ExecError {
        ExecError::io(format!("running bash for node {}", self.home.display()), e)
    }
}

/// The script `run` executes: exports, `cd`, then the command itself.
pub(crate) fn attached_script(cmd: &RemoteCommand) -> Result<String> {
    let mut s = exports(&cmd.env)?;
    s.push_str("unset __SKY_REDACT_NAMES\n");
    if let Some(cwd) = &cmd.cwd {
        s.push_str(&format!("cd {} || exit 1\n", path_expr(cwd)));
    }
    s.push_str(&cmd.script);
    s.push('\n');
    Ok(s)
}

#[async_trait]
impl CommandRunner for LocalRunner {
    fn node_ip(&self) -> &str {
        &self.ip
    }

    async fn exec(&self, script: &str) -> Result<ExecOutput> {
        let mut child = self.bash().spawn().map_err(|e| self.spawn_err(e))?;
        let (stdout, stderr) = procio::capture(
            child.stdin.take(),
            child.stdout.take(),
            child.stderr.take(),
            script.as_bytes(),
        )
        .await
        .map_err(|e| self.spawn_err(e))?;
        let status = child.wait().await.map_err(|e| self.spawn_err(e))?;
        Ok(ExecOutput {
            code: procio::exit_code(status),
            stdout,
            stderr,
        })
    }

    async fn run(&self, cmd: &RemoteCommand, sink: &dyn OutputSink) -> Result<i32> {
        let script = attached_script(cmd)?;
        let mut child = self.bash().spawn().map_err(|e| self.spawn_err(e))?;
        procio::stream(
            child.stdin.take(),
            child.stdout.take(),
            child.stderr.take(),
            script.as_bytes(),
            sink,
            &cmd.env.redactor(),
        )
        .await
        .map_err(|e| self.spawn_err(e))?;
        let status = child.wait().await.map_err(|e| self.spawn_err(e))?;
        Ok(procio::exit_code(status))
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
        let target = self.resolve(remote);
        let mkdir = if meta.is_dir() {
            Some(target.as_path())
        } else {
            target.parent()
        };
        if let Some(dir) = mkdir {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| ExecError::io(format!("creating {}", dir.display()), e))?;
        }
        let mut args = procio::rsync_base(opts);
        if meta.is_dir() {
            args.push(format!("{}/", local.display()));
            args.push(format!("{}/", target.display()));
        } else {
            args.push(local.display().to_string());
            args.push(target.display().to_string());
        }
        procio::rsync(&self.ip, &format!("{} -> {remote}", local.display()), &args).await
    }

    async fn fetch_file(&self, remote: &str, local: &Path) -> Result<()> {
        let src = self.resolve(remote);
        if let Some(dir) = local.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| ExecError::io(format!("creating {}", dir.display()), e))?;
        }
        tokio::fs::copy(&src, local).await.map(|_| ()).map_err(|e| {
            ExecError::io(
                format!("copying {} to {}", src.display(), local.display()),
                e,
            )
        })
    }
}
