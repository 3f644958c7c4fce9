//! The [`CommandRunner`] contract: everything sky does on a node, over any transport.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sky_core::task::Secret;

use crate::error::{ExecError, Result};
use crate::redact::Redactor;

/// Environment for a command on a node: plain variables and secrets.
///
/// Both are exported into the command's process environment. Secrets are never written to a
/// file or a command line, and their values are redacted from streamed output and job logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecEnv {
    /// Plain variables.
    pub vars: BTreeMap<String, String>,
    /// Secret variables (exported after `vars`, so a secret wins over a variable of the same
    /// name).
    pub secrets: BTreeMap<String, Secret>,
}

impl ExecEnv {
    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plain variable.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Adds a secret variable.
    pub fn secret(mut self, name: impl Into<String>, value: Secret) -> Self {
        self.secrets.insert(name.into(), value);
        self
    }

    /// A redactor for the secret values.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(self.secrets.values())
    }
}

/// A bash script to run on a node, with its environment and working directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteCommand {
    /// The bash script (any number of lines).
    pub script: String,
    /// Its environment.
    pub env: ExecEnv,
    /// The directory to run in (`~/...` for the node's home); `None` for the home directory.
    /// The command fails if the directory does not exist.
    pub cwd: Option<String>,
}

impl RemoteCommand {
    /// `script` in the home directory, without extra environment.
    pub fn new(script: impl Into<String>) -> Self {
        RemoteCommand {
            script: script.into(),
            ..Self::default()
        }
    }

    /// Sets the environment.
    pub fn with_env(mut self, env: ExecEnv) -> Self {
        self.env = env;
        self
    }

    /// Sets the working directory.
    pub fn with_cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a command's output, without its line terminator, secrets redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    /// Where it came from.
    pub stream: Stream,
    /// The text (invalid UTF-8 replaced).
    pub line: String,
}

/// Receives output lines as they arrive.
///
/// Implemented for closures (`|line: OutputLine| ...`), for tokio unbounded channel senders
/// (send errors are ignored: a dropped receiver just stops listening) and for
/// [`CollectSink`].
pub trait OutputSink: Send + Sync {
    /// Called once per line, in arrival order per stream.
    fn line(&self, line: OutputLine);
}

impl<F: Fn(OutputLine) + Send + Sync> OutputSink for F {
    fn line(&self, line: OutputLine) {
        self(line)
    }
}

impl OutputSink for tokio::sync::mpsc::UnboundedSender<OutputLine> {
    fn line(&self, line: OutputLine) {
        let _ = self.send(line);
    }
}

/// A sink that keeps every line, for callers that want the output afterwards.
#[derive(Debug, Default)]
pub struct CollectSink {
    lines: Mutex<Vec<OutputLine>>,
}

impl CollectSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines received so far.
    pub fn lines(&self) -> Vec<OutputLine> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The text of the lines of one stream.
    pub fn text(&self, stream: Stream) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.line)
            .collect()
    }
}

impl OutputSink for CollectSink {
    fn line(&self, line: OutputLine) {
        if let Ok(mut l) = self.lines.lock() {
            l.push(line);
        }
    }
}

/// The captured result of [`CommandRunner::exec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code (128 + signal number when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Names a detached process on a node: a directory and a name, which give its files.
///
/// | file | content |
/// |---|---|
/// | `<dir>/<name>.sh` | the command script (no secret values: those are only in the environment) |
/// | `<dir>/<name>.pid` | `<pid> <start time>`: the process group leader and its start time in clock ticks since boot (`/proc/<pid>/stat` field 22), so a reused pid is not mistaken for the job |
/// | `<dir>/<name>.log` | stdout and stderr combined, secrets redacted |
/// | `<dir>/<name>.exit` | the exit code, written when the command ends (128 + signal when killed) |
///
/// Files are written to a temporary name and renamed, so a reader never sees half a pid or
/// exit code. The gang layer puts rank `r` of job `j` at
/// `~/.sky/jobs/<j>/<phase>/rank-<r>.*` (see [`crate::gang`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProcessRef {
    dir: String,
    name: String,
}

impl ProcessRef {
    /// The process `name` in `dir` (`~/...` for the node's home).
    ///
    /// `name` may contain ASCII letters, digits, `.`, `_` and `-`, and must not start with a
    /// dot; `dir` must not be empty or contain NUL or newline characters.
    pub fn new(dir: impl Into<String>, name: impl Into<String>) -> Result<Self> {
        let (dir, name) = (dir.into(), name.into());
        let name_ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            return Err(ExecError::InvalidArgument(format!(
                "invalid detached process name {name:?}: use letters, digits, '.', '_' and '-'"
            )));
        }
        if dir.is_empty() || dir.contains(['\0', '\n']) {
            return Err(ExecError::InvalidArgument(format!(
                "invalid job directory {dir:?}"
            )));
        }
        Ok(ProcessRef {
            dir: dir.trim_end_matches('/').to_string(),
            name,
        })
    }

    /// A reference built from parts known to be valid (the gang layout).
    pub(crate) fn trusted(dir: String, name: String) -> Self {
        ProcessRef { dir, name }
    }

    /// The directory holding the process's files.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A file of the process: `<dir>/<name>.<ext>`.
    pub fn file(&self, ext: &str) -> String {
        format!("{}/{}.{ext}", self.dir, self.name)
    }

    /// The combined, redacted log: `<dir>/<name>.log`.
    pub fn log_path(&self) -> String {
        self.file("log")
    }
}

impl std::fmt::Display for ProcessRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.dir, self.name)
    }
}

/// A command to start detached on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetachedSpec {
    /// Where its files go.
    pub process: ProcessRef,
    /// What to run.
    pub command: RemoteCommand,
}

/// The state of a detached process, read from its files on the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ProcessStatus {
    /// No pid file: never started (or its directory was removed).
    NotFound,
    /// Running, with this process group id.
    Running {
        /// The process group leader's pid.
        pid: u32,
    },
    /// Ended with this exit code (128 + signal number when killed by a signal).
    Exited {
        /// The exit code.
        code: i32,
    },
    /// Unknown: the process is gone but left no exit code (killed with SIGKILL outside sky,
    /// or the node rebooted).
    Vanished {
        /// The pid it had.
        pid: u32,
    },
}

impl ProcessStatus {
    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        matches!(self, ProcessStatus::Running { .. })
    }
}

/// A chunk of a node file read from an offset ([`CommandRunner::read_file_from`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileChunk {
    /// Whether the file exists.
    pub exists: bool,
    /// The bytes from the offset (at most the requested maximum).
    pub data: Vec<u8>,
}

/// An rsync filter rule for [`SyncOptions`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncFilter {
    /// `--exclude=PATTERN`.
    Exclude(String),
    /// `--exclude-from=FILE` (a local file of patterns, such as `.skyignore`).
    ExcludeFrom(PathBuf),
    /// `--filter=':- NAME'`: per-directory merge files such as `.gitignore`.
    DirMerge(String),
}

/// How [`CommandRunner::sync_up`] copies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// Delete files on the node that are not in the source (`--delete`).
    pub delete: bool,
    /// Filter rules, in order.
    pub filters: Vec<SyncFilter>,
}

impl SyncOptions {
    /// The rsync arguments for these options.
    pub(crate) fn rsync_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.delete {
            args.push("--delete".to_string());
        }
        for f in &self.filters {
            args.push(match f {
                SyncFilter::Exclude(p) => format!("--exclude={p}"),
                SyncFilter::ExcludeFrom(p) => format!("--exclude-from={}", p.display()),
                SyncFilter::DirMerge(n) => format!("--filter=:- {n}"),
            });
        }
        args
    }
}

/// Runs commands on one node, starts and tracks detached processes there, and moves files
/// to and from it.
///
/// Implementations: [`crate::LocalRunner`] (a directory on this machine plays the node) and
/// [`crate::SshRunner`] (a multiplexed SSH connection). Both run the same node-side bash
/// scripts, so a job started by one process can be inspected, followed and cancelled by
/// another one later: the state lives in files on the node, not in the runner.
///
/// # Node requirements
/// `bash` (4.4 or newer), `awk`, `setsid`, `tail`, `head`, a Linux `/proc`, and `rsync` for
/// [`CommandRunner::sync_up`] and [`CommandRunner::fetch_file`]. As for scp and rsync, the
/// login shell must not print anything when started non-interactively.
///
/// # Behavior
/// - Scripts reach the node on the standard input of `bash -c 'eval "$(cat)"'`; nothing
///   variable (and no secret) is on a command line. Commands see a closed stdin.
/// - Paths on the node may start with `~/` (the node's home directory); relative paths are
///   relative to the home directory.
/// - A transport failure is an `Err`; a command that ran and failed is an exit code.
#[async_trait]
pub trait CommandRunner: Send + Sync + Debug {
    /// The node's IP address, as other nodes of the cluster reach it.
    fn node_ip(&self) -> &str;

    /// Why the node could not be reached when it was connected to (then every other call
    /// fails with that error too); `None` for a node that answered.
    fn unreachable(&self) -> Option<ExecError> {
        None
    }

    /// Runs a bash script on the node and captures its output.
    ///
    /// The script is sent on stdin (see the trait's Behavior), so it may contain secrets;
    /// nothing of it is logged.
    async fn exec(&self, script: &str) -> Result<ExecOutput>;

    /// Runs `cmd` attached, streaming stdout and stderr lines (secrets redacted) to `sink`,
    /// and returns its exit code.
    async fn run(&self, cmd: &RemoteCommand, sink: &dyn OutputSink) -> Result<i32>;

    /// Starts `spec.command` detached: in its own session and process group, outliving this
    /// call, this runner and this process, with its files as described on [`ProcessRef`].
    /// Returns its pid (also its process group id).
    ///
    /// Previous files of a finished process of the same name are replaced; a running one is
    /// [`ExecError::AlreadyRunning`].
    async fn spawn_detached(&self, spec: &DetachedSpec) -> Result<u32>;

    /// Reads the status of a detached process from its files.
    async fn process_status(&self, process: &ProcessRef) -> Result<ProcessStatus>;

    /// The pids of the live processes in the detached process's group (empty when it
    /// ended or never started).
    async fn process_pids(&self, process: &ProcessRef) -> Result<Vec<u32>>;

    /// Kills the detached process's whole group: SIGTERM, then SIGKILL if any member is
    /// still alive after `grace`. Returns the status afterwards: `Exited` with the code the
    /// process recorded (143 after SIGTERM), or 137 recorded on its behalf after SIGKILL.
    /// Killing a process that already ended is a no-op that returns its status.
    async fn kill(&self, process: &ProcessRef, grace: Duration) -> Result<ProcessStatus>;

    /// Reads at most `max_bytes` of a node file from byte `offset` (for following logs).
    async fn read_file_from(&self, path: &str, offset: u64, max_bytes: usize) -> Result<FileChunk>;

    /// Copies a local directory's contents (or a single file) to `remote` on the node with
    /// rsync, creating missing parent directories. Symlinks are copied as symlinks.
    async fn sync_up(&self, local: &Path, remote: &str, opts: &SyncOptions) -> Result<()>;

    /// Copies a node file to a local path.
    async fn fetch_file(&self, remote: &str, local: &Path) -> Result<()>;
}

/// Default grace period between SIGTERM and SIGKILL when cancelling.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ref_validation() {
        let p = ProcessRef::new("~/.sky/jobs/1/run/", "rank-0").unwrap();
        assert_eq!(p.log_path(), "~/.sky/jobs/1/run/rank-0.log");
        assert_eq!(p.to_string(), "~/.sky/jobs/1/run/rank-0");
        assert!(ProcessRef::new("~/x", "a/b").is_err());
        assert!(ProcessRef::new("~/x", ".hidden").is_err());
        assert!(ProcessRef::new("", "a").is_err());
    }

    #[test]
    fn sync_args() {
        let o = SyncOptions {
            delete: true,
            filters: vec![
                SyncFilter::Exclude("*.tmp".into()),
                SyncFilter::DirMerge(".gitignore".into()),
            ],
        };
        assert_eq!(
            o.rsync_args(),
            ["--delete", "--exclude=*.tmp", "--filter=:- .gitignore"]
        );
    }

    #[test]
    fn sinks() {
        let c = CollectSink::new();
        c.line(OutputLine {
            stream: Stream::Stderr,
            line: "e".into(),
        });
        assert_eq!(c.text(Stream::Stderr), ["e"]);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tx.line(OutputLine {
            stream: Stream::Stdout,
            line: "o".into(),
        });
        assert_eq!(rx.try_recv().unwrap().line, "o");
    }
}
