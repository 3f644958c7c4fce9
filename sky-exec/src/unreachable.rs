//! [`UnreachableRunner`]: the stand-in for a node sky could not connect to.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{ExecError, Result};
use crate::runner::{
    CommandRunner, DetachedSpec, ExecOutput, FileChunk, OutputSink, ProcessRef, ProcessStatus,
    RemoteCommand, SyncOptions,
};
use crate::ssh_failure::ConnectFailure;

/// A node that did not answer when its cluster was connected to: every operation fails with
/// the connect error, and [`CommandRunner::unreachable`] says so up front.
///
/// [`connect_all`](crate::connector::connect_all) puts one in place of each node it could
/// not reach, so that one dead host does not hide the others: the broker answers for the
/// nodes that are there and reports this one.
#[derive(Clone, Debug)]
pub struct UnreachableRunner {
    ip: String,
    node: String,
    failure: ConnectFailure,
    reason: String,
    fix: String,
}

impl UnreachableRunner {
    /// The stand-in for the node at `ip` that failed with `error`, when that error is a
    /// connection failure ([`ExecError::Connect`]); `None` for any other error.
    pub fn from_error(ip: impl Into<String>, error: &ExecError) -> Option<Self> {
        match error {
            ExecError::Connect {
                node,
                failure,
                reason,
                fix,
            } => Some(UnreachableRunner {
                ip: ip.into(),
                node: node.clone(),
                failure: *failure,
                reason: reason.clone(),
                fix: fix.clone(),
            }),
            _ => None,
        }
    }

    /// The connect error, again.
    pub fn error(&self) -> ExecError {
        ExecError::Connect {
            node: self.node.clone(),
            failure: self.failure,
            reason: self.reason.clone(),
            fix: self.fix.clone(),
        }
    }
}

#[async_trait]
impl CommandRunner for UnreachableRunner {
    fn node_ip(&self) -> &str {
        &self.ip
    }

    fn unreachable(&self) -> Option<ExecError> {
        Some(self.error())
    }

    async fn exec(&self, _script: &str) -> Result<ExecOutput> {
        Err(self.error())
    }

    async fn run(&self, _cmd: &RemoteCommand, _sink: &dyn OutputSink) -> Result<i32> {
        Err(self.error())
    }

    async fn spawn_detached(&self, _spec: &DetachedSpec) -> Result<u32> {
        Err(self.error())
    }

    async fn process_status(&self, _process: &ProcessRef) -> Result<ProcessStatus> {
        Err(self.error())
    }

    async fn process_pids(&self, _process: &ProcessRef) -> Result<Vec<u32>> {
        Err(self.error())
    }

    async fn kill(&self, _process: &ProcessRef, _grace: Duration) -> Result<ProcessStatus> {
        Err(self.error())
    }

    async fn read_file_from(
        &self,
        _path: &str,
        _offset: u64,
        _max_bytes: usize,
    ) -> Result<FileChunk> {
        Err(self.error())
    }

    async fn sync_up(&self, _local: &Path, _remote: &str, _opts: &SyncOptions) -> Result<()> {
        Err(self.error())
    }

    async fn fetch_file(&self, _remote: &str, _local: &Path) -> Result<()> {
        Err(self.error())
    }
}
