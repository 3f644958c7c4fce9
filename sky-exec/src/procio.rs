//! Driving a child process (local or remote): script on stdin, output captured or streamed.

use std::io;
use std::process::ExitStatus;

use futures_util::future::try_join3;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::error::{ExecError, Result, stderr_tail};
use crate::redact::Redactor;
use crate::runner::{OutputLine, OutputSink, Stream, SyncOptions};

async fn feed<W: AsyncWrite + Unpin>(stdin: Option<W>, script: &[u8]) -> io::Result<()> {
    if let Some(mut w) = stdin {
        w.write_all(script).await?;
        w.shutdown().await?;
    }
    Ok(())
}

async fn slurp<R: AsyncRead + Unpin>(r: Option<R>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(mut r) = r {
        r.read_to_end(&mut buf).await?;
    }
    Ok(buf)
}

async fn lines<R: AsyncRead + Unpin>(
    r: Option<R>,
    stream: Stream,
    sink: &dyn OutputSink,
    redactor: &Redactor,
) -> io::Result<()> {
    let Some(r) = r else { return Ok(()) };
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf).await? == 0 {
            return Ok(());
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let text = String::from_utf8_lossy(&buf);
        sink.line(OutputLine {
            stream,
            line: redactor.redact(&text).into_owned(),
        });
    }
}

/// Writes `script` to stdin (then closes it) while reading stdout and stderr to the end.
pub(crate) async fn capture<W, O, E>(
    stdin: Option<W>,
    stdout: Option<O>,
    stderr: Option<E>,
    script: &[u8],
) -> io::Result<(Vec<u8>, Vec<u8>)>
where
    W: AsyncWrite + Unpin,
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let (_, out, err) = try_join3(feed(stdin, script), slurp(stdout), slurp(stderr)).await?;
    Ok((out, err))
}

/// Writes `script` to stdin (then closes it) while streaming output lines to `sink`.
pub(crate) async fn stream<W, O, E>(
    stdin: Option<W>,
    stdout: Option<O>,
    stderr: Option<E>,
    script: &[u8],
    sink: &dyn OutputSink,
    redactor: &Redactor,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    try_join3(
        feed(stdin, script),
        lines(stdout, Stream::Stdout, sink, redactor),
        lines(stderr, Stream::Stderr, sink, redactor),
    )
    .await?;
    Ok(())
}

/// The exit code of a local process: its code, or 128 + the signal that killed it.
pub(crate) fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// Runs rsync locally with `args`, turning failures into errors that name `node`.
pub(crate) async fn rsync(node: &str, what: &str, args: &[String]) -> Result<()> {
    let out = Command::new("rsync")
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::NotFound {
                " (is rsync installed on this machine?)"
            } else {
                ""
            };
            ExecError::io(format!("running rsync for {what}{hint}"), e)
        })?;
    if !out.status.success() {
        return Err(ExecError::CommandFailed {
            node: node.to_string(),
            what: format!("rsync ({what})"),
            code: exit_code(out.status),
            stderr: stderr_tail(&out.stderr),
        });
    }
    Ok(())
}

/// The common rsync arguments: archive mode (symlinks as symlinks) plus the options' rules.
pub(crate) fn rsync_base(opts: &SyncOptions) -> Vec<String> {
    let mut args = vec!["-a".to_string()];
    args.extend(opts.rsync_args());
    args
}
