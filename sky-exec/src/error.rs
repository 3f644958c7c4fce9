//! The error type of sky-exec.

use std::path::PathBuf;
use std::time::Duration;

use crate::ssh_failure::ConnectFailure;

/// The result type of sky-exec.
pub type Result<T, E = ExecError> = std::result::Result<T, E>;

/// What went wrong while running something on a node.
///
/// Node-level failures name the node (its address, or the local directory that plays it);
/// gang operations wrap them in [`ExecError::Node`] with the rank.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The SSH master connection could not be established.
    #[error("cannot connect to {node} over ssh: {failure} ({reason}). Fix: {fix}")]
    Connect {
        /// `user@host:port`.
        node: String,
        /// What kind of failure, for callers that act on it (skip a dead host, ...).
        failure: ConnectFailure,
        /// ssh's own reason, on one line.
        reason: String,
        /// What to do about it.
        fix: String,
    },
    /// An established SSH session failed (the host went away, the master died, ...).
    #[error("ssh to {node} failed: {source}")]
    Ssh {
        /// `user@host:port`.
        node: String,
        /// The ssh error.
        #[source]
        source: openssh::Error,
    },
    /// A local I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A helper program (rsync, the node-side job script, ...) failed.
    #[error("{what} failed on {node} (exit code {code}){}", fmt_stderr(.stderr))]
    CommandFailed {
        /// The node.
        node: String,
        /// What was being run.
        what: String,
        /// Its exit code.
        code: i32,
        /// The tail of its standard error.
        stderr: String,
    },
    /// A node-side script answered something this crate does not understand.
    #[error("unexpected answer from {node} while {what}: {answer:?}")]
    Protocol {
        /// The node.
        node: String,
        /// What was being done.
        what: String,
        /// The answer, truncated.
        answer: String,
    },
    /// An environment variable name cannot be exported by a shell.
    #[error(
        "invalid environment variable name {0:?}: names must match [A-Za-z_][A-Za-z0-9_]* \
         and values must not contain NUL bytes"
    )]
    InvalidEnv(String),
    /// A task env declared without a value (`envs: {HF_TOKEN: null}`) was not supplied.
    #[error(
        "environment variable {0} is required by the task but has no value; \
         pass it with --env {0}=VALUE"
    )]
    MissingEnv(String),
    /// A secret the task declares without a value (`secrets: {KEY: null}`) was not given one.
    #[error("secret {0} is required by the task but has no value; pass it with --secret {0}=VALUE")]
    MissingSecret(String),
    /// A request that cannot work (bad rank set, missing source, bad process name, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// Something sky-exec does not do (yet), such as cloud-URI file mounts.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A detached process of that name is still running in its job directory.
    #[error("{process} is already running on {node} (pid {pid}); cancel it first")]
    AlreadyRunning {
        /// The node.
        node: String,
        /// The process (`<dir>/<name>`).
        process: String,
        /// Its pid.
        pid: u32,
    },
    /// An SSH key could not be created, read or validated.
    #[error("ssh key {}: {message}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A bounded wait ran out.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The bound.
        after: Duration,
    },
    /// An operation on one node of a gang failed.
    #[error("rank {rank} ({ip}): {source}")]
    Node {
        /// The node's rank.
        rank: u32,
        /// The node's IP.
        ip: String,
        /// The failure.
        #[source]
        source: Box<ExecError>,
    },
}

fn fmt_stderr(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

impl ExecError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ExecError::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn on_node(self, rank: u32, ip: &str) -> Self {
        ExecError::Node {
            rank,
            ip: ip.to_string(),
            source: Box::new(self),
        }
    }
}

/// Keeps the last `max` bytes of a program's stderr for an error message.
pub(crate) fn stderr_tail(stderr: &[u8]) -> String {
    const MAX: usize = 2000;
    let s = String::from_utf8_lossy(stderr);
    let s = s.trim();
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut start = s.len() - MAX;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &s[start..])
}
