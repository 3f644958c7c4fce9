//! Following a job's logs on every node (`sky logs --follow`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{ExecError, Result};
use crate::gang::{GangJob, GangStatus, Phase};
use crate::redact::Redactor;

/// How many bytes one read of a node's log fetches at most.
const CHUNK: usize = 256 * 1024;

/// One line of a node's job log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The node's rank.
    pub rank: u32,
    /// `(head, rank=0, ip=...) ` / `(worker2, rank=2, ip=...) ` when several nodes'
    /// logs are interleaved; empty for a single node.
    pub prefix: String,
    /// The line, without its terminator.
    pub text: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix, self.text)
    }
}

#[derive(Clone, Debug)]
struct Cursor {
    rank: u32,
    prefix: String,
    offset: u64,
    partial: Vec<u8>,
}

/// Reads new log output of a job phase from every node, from where it left off.
///
/// Each node's log is read from a byte offset, so following is cheap and can resume
/// ([`LogFollower::offsets`], [`LogFollower::resume_from`]) in another process. Only complete
/// lines are returned until [`LogFollower::flush`]. Logs are redacted on the node when written;
/// a [`Redactor`] given here is applied again on read.
#[derive(Clone, Debug)]
pub struct LogFollower {
    phase: Phase,
    cursors: Vec<Cursor>,
    redactor: Redactor,
}

impl LogFollower {
    /// A follower of `phase` of `job`, from the start of every log.
    pub fn new(job: &GangJob, phase: Phase) -> Self {
        let several = job.nodes().len() > 1;
        let cursors = job
            .nodes()
            .iter()
            .map(|n| Cursor {
                rank: n.rank,
                prefix: if several {
                    let role = if n.rank == 0 {
                        "head".to_string()
                    } else {
                        format!("worker{}", n.rank)
                    };
                    format!("({role}, rank={}, ip={}) ", n.rank, n.ip)
                } else {
                    String::new()
                },
                offset: 0,
                partial: Vec::new(),
            })
            .collect();
        LogFollower {
            phase,
            cursors,
            redactor: Redactor::default(),
        }
    }

    /// Also redacts these secrets when reading.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Continues from byte offsets saved with [`LogFollower::offsets`].
    pub fn resume_from(mut self, offsets: &BTreeMap<u32, u64>) -> Self {
        for c in &mut self.cursors {
            if let Some(o) = offsets.get(&c.rank) {
                c.offset = *o;
                c.partial.clear();
            }
        }
        self
    }

    /// Per rank, the offset of the first byte not yet returned as part of a line.
    pub fn offsets(&self) -> BTreeMap<u32, u64> {
        self.cursors
            .iter()
            .map(|c| (c.rank, c.offset - c.partial.len() as u64))
            .collect()
    }

    fn line(&self, c: &Cursor, bytes: &[u8]) -> LogLine {
        let mut bytes = bytes;
        while let [rest @ .., b'\r' | b'\n'] = bytes {
            bytes = rest;
        }
        let text = String::from_utf8_lossy(bytes);
        LogLine {
            rank: c.rank,
            prefix: c.prefix.clone(),
            text: self.redactor.redact(&text).into_owned(),
        }
    }

    /// The complete lines written since the last poll: every node's new lines, in rank order.
    ///
    /// A node that could not be connected to ([`GangNode::unreachable`]) is skipped: the
    /// others' lines are returned, and its log resumes from where it stopped once it answers
    /// again.
    ///
    /// [`GangNode::unreachable`]: crate::GangNode::unreachable
    pub async fn poll(&mut self, job: &GangJob) -> Result<Vec<LogLine>> {
        let mut out = Vec::new();
        for i in 0..self.cursors.len() {
            let rank = self.cursors[i].rank;
            let node = job.nodes().iter().find(|n| n.rank == rank).ok_or_else(|| {
                ExecError::InvalidArgument(format!("job {} has no rank {rank}", job.job_id()))
            })?;
            if node.unreachable().is_some() {
                continue;
            }
            let path = job.process(self.phase, rank).log_path();
            loop {
                let chunk = node
                    .runner
                    .read_file_from(&path, self.cursors[i].offset, CHUNK)
                    .await
                    .map_err(|e| e.on_node(rank, &node.ip))?;
                let n = chunk.data.len();
                self.cursors[i].offset += n as u64;
                self.cursors[i].partial.extend_from_slice(&chunk.data);
                let partial = std::mem::take(&mut self.cursors[i].partial);
                let mut start = 0;
                for (pos, b) in partial.iter().enumerate() {
                    if *b == b'\n' {
                        out.push(self.line(&self.cursors[i], &partial[start..pos]));
                        start = pos + 1;
                    }
                }
                self.cursors[i].partial = partial[start..].to_vec();
                if n < CHUNK {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The unterminated last lines, if any (call once the phase has finished).
    pub fn flush(&mut self) -> Vec<LogLine> {
        let mut out = Vec::new();
        for i in 0..self.cursors.len() {
            let partial = std::mem::take(&mut self.cursors[i].partial);
            if !partial.is_empty() {
                out.push(self.line(&self.cursors[i], &partial));
            }
        }
        out
    }

    /// Hands every new line to `sink` until the phase is no longer running (then the last
    /// lines, complete or not), polling every `interval`; returns the final status. With a
    /// `timeout`, gives up with [`ExecError::Timeout`] after it.
    pub async fn follow(
        &mut self,
        job: &GangJob,
        interval: Duration,
        timeout: Option<Duration>,
        mut sink: impl FnMut(LogLine) + Send,
    ) -> Result<GangStatus> {
        let start = Instant::now();
        loop {
            // Read the status first: once it says finished, the wrapper has already written
            // the whole log, so the poll after it sees everything.
            let status = job.status(self.phase).await?;
            for line in self.poll(job).await? {
                sink(line);
            }
            if status.state.is_finished() {
                for line in self.flush() {
                    sink(line);
                }
                return Ok(status);
            }
            if let Some(t) = timeout.filter(|t| start.elapsed() >= *t) {
                return Err(ExecError::Timeout {
                    what: format!("the logs of job {} to end", job.job_id()),
                    after: t,
                });
            }
            tokio::time::sleep(interval).await;
        }
    }
}
