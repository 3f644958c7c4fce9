//! Detached processes as files on the node: the bash scripts both runners execute.
//!
//! Every operation is one script sent through [`CommandRunner::exec`], so the local and SSH
//! runners behave identically and any process can pick a job up again from its files.

use std::time::Duration;

use crate::error::{ExecError, Result, stderr_tail};
use crate::runner::{CommandRunner, DetachedSpec, FileChunk, ProcessRef, ProcessStatus};
use crate::shell::{exports, heredoc_to, path_expr, quote};

/// Bash helpers shared by the scripts below.
///
/// `__sky_alive PID START` succeeds when PID is alive, not a zombie and (when START is not
/// empty) started at START clock ticks after boot. `__sky_group_pids PGID` prints the live
/// members of a process group. Both read `/proc/<pid>/stat` with builtins only, skipping the
/// command name, which may contain spaces and parentheses.
const PRELUDE: &str = r#"
__sky_alive() {
  local want=$2 s
  { IFS= read -r s < "/proc/$1/stat"; } 2>/dev/null || return 1
  s=${s##*) }
  set -- $s
  [ "$1" != Z ] && [ "$1" != X ] && { [ -z "$want" ] || [ "${20}" = "$want" ]; }
}
__sky_group_pids() {
  local g=$1 f s p
  for f in /proc/[0-9]*/stat; do
    { IFS= read -r s < "$f"; } 2>/dev/null || continue
    p=${s%% *}
    s=${s##*) }
    set -- $s
    if [ "$3" = "$g" ] && [ "$1" != Z ] && [ "$1" != X ]; then echo "$p"; fi
  done
}
__sky_status() {
  if [ -f "$n.exit" ]; then printf 'exited %s\n' "$(cat "$n.exit")"; return; fi
  [ -f "$n.pid" ] || { echo notfound; return; }
  local pid st
  read -r pid st < "$n.pid"
  if __sky_alive "$pid" "$st"; then echo "running $pid"; return; fi
  if [ -f "$n.exit" ]; then printf 'exited %s\n' "$(cat "$n.exit")"; else echo "vanished $pid"; fi
}
"#;

/// The wrapper that runs as the detached process group leader (`$1` = job dir, `$2` = name).
///
/// It records `<pid> <start time>`, runs the command in a subshell whose combined output goes
/// through an awk filter that replaces the values of the variables named in
/// `__SKY_REDACT_NAMES` (read from awk's environment, never from a command line) with
/// `<redacted>`, then records the command's exit code. It survives SIGTERM/SIGINT/SIGHUP
/// (they reach the command, which is in the same group) so that it can record the code; a
/// signal that arrives after the pid is published but before the command starts records 143
/// without starting it.
const WRAPPER: &str = r#"# sky detached process wrapper: $1 = job directory, $2 = process name
d=$1
n=$2
cd "$d" || exit 97
cwd=$__SKY_CWD
um=$__SKY_UMASK
unset __SKY_CWD __SKY_UMASK
if [ -n "$um" ]; then umask "$um"; fi
# mawk (Debian's awk) reads pipes in blocks unless -W interactive; gawk and busybox read lines.
awk_opts=
case "$(awk -W version 2>&1 < /dev/null)" in *mawk*) awk_opts="-W interactive" ;; esac
# Everything slow happens before the pid is published: from then on a kill may arrive, and
# one that arrives before the command starts is remembered here.
term=
trap 'term=1' TERM INT HUP
IFS= read -r s < "/proc/$$/stat"
s=${s##*) }
set -- $s
printf '%s %s\n' "$$" "${20}" > "$n.pid.tmp" && mv -f "$n.pid.tmp" "$n.pid"
if [ -n "$term" ]; then
  code=143
else
(
  unset __SKY_REDACT_NAMES
  if [ -n "$cwd" ]; then cd "$cwd" || exit 1; else cd || exit 1; fi
  exec bash "$d/$n.sh"
) < /dev/null 2>&1 | awk $awk_opts '
BEGIN {
  n = split(ENVIRON["__SKY_REDACT_NAMES"], names, " ")
  k = 0
  for (i = 1; i <= n; i++) {
    v = ENVIRON[names[i]]
    if (v == "") continue
    vals[++k] = v
    m = split(v, parts, "\n")
    if (m > 1) for (j = 1; j <= m; j++) if (parts[j] != "") vals[++k] = parts[j]
  }
  for (i = 2; i <= k; i++) {
    v = vals[i]; j = i - 1
    while (j > 0 && length(vals[j]) < length(v)) { vals[j + 1] = vals[j]; j-- }
    vals[j + 1] = v
  }
}
{
  line = $0
  for (i = 1; i <= k; i++) {
    v = vals[i]; L = length(v); out = ""
    while ((p = index(line, v)) > 0) {
      out = out substr(line, 1, p - 1) "<redacted>"
      line = substr(line, p + L)
    }
    line = out line
  }
  print line
  fflush()
}' >> "$n.log"
code=${PIPESTATUS[0]}
fi
printf '%s\n' "$code" > "$n.exit.tmp" && mv -f "$n.exit.tmp" "$n.exit"
"#;

/// How many 50 ms polls the spawn script waits for the wrapper's pid file (20 s).
const SPAWN_POLLS: u32 = 400;

fn locate(p: &ProcessRef) -> String {
    format!("d={}\nn={}\n", path_expr(p.dir()), quote(p.name()))
}

fn failed(r: &(impl CommandRunner + ?Sized), what: &str, code: i32, stderr: &[u8]) -> ExecError {
    ExecError::CommandFailed {
        node: r.node_ip().to_string(),
        what: what.to_string(),
        code,
        stderr: stderr_tail(stderr),
    }
}

fn protocol(r: &(impl CommandRunner + ?Sized), what: &str, answer: &str) -> ExecError {
    let mut answer = answer.trim().to_string();
    answer.truncate(200);
    ExecError::Protocol {
        node: r.node_ip().to_string(),
        what: what.to_string(),
        answer,
    }
}

/// Parses the one-line answer of `__sky_status`.
fn parse_status(
    r: &(impl CommandRunner + ?Sized),
    what: &str,
    answer: &str,
) -> Result<ProcessStatus> {
    let line = answer.lines().last().unwrap_or("").trim();
    let mut words = line.split_whitespace();
    let status = match (words.next(), words.next()) {
        (Some("notfound"), None) => Some(ProcessStatus::NotFound),
        (Some("running"), Some(pid)) => pid.parse().ok().map(|pid| ProcessStatus::Running { pid }),
        (Some("vanished"), Some(pid)) => {
            pid.parse().ok().map(|pid| ProcessStatus::Vanished { pid })
        }
        (Some("exited"), Some(code)) => {
            code.parse().ok().map(|code| ProcessStatus::Exited { code })
        }
        _ => None,
    };
    status.ok_or_else(|| protocol(r, what, answer))
}

/// The script that starts a detached process (see [`CommandRunner::spawn_detached`]).
pub(crate) fn spawn_script(spec: &DetachedSpec) -> Result<String> {
    let p = &spec.process;
    let cwd = spec.command.cwd.as_deref().map(path_expr);
    let mut s = String::from(PRELUDE);
    s.push_str("set -e\n__SKY_UMASK=$(umask)\numask 077\n");
    s.push_str(&locate(p));
    s.push_str("mkdir -p \"$d\"\ncd \"$d\"\nd=$PWD\n");
    s.push_str(
        r#"if [ -f "$n.pid" ] && [ ! -f "$n.exit" ]; then
  read -r pid st < "$n.pid" || true
  if __sky_alive "$pid" "$st"; then echo "running $pid"; exit 0; fi
fi
rm -f "$n.pid" "$n.exit" "$n.log" "$n.pid.tmp" "$n.exit.tmp"
"#,
    );
    s.push_str(&heredoc_to("\"$n.sh\"", &spec.command.script));
    s.push_str(&heredoc_to("\"$n.wrapper.sh\"", WRAPPER));
    s.push_str(": > \"$n.log\"\n");
    s.push_str(&exports(&spec.command.env)?);
    s.push_str(&format!(
        "export __SKY_CWD={} __SKY_UMASK\n",
        cwd.unwrap_or_else(|| "''".to_string())
    ));
    s.push_str(&format!(
        r#"setsid bash "$d/$n.wrapper.sh" "$d" "$n" < /dev/null > /dev/null 2>&1 &
i=0
while [ ! -s "$n.pid" ]; do
  i=$((i + 1))
  if [ "$i" -gt {SPAWN_POLLS} ]; then echo "the detached process did not write its pid file" >&2; exit 4; fi
  sleep 0.05
done
read -r pid st < "$n.pid"
echo "started $pid"
"#
    ));
    Ok(s)
}

/// [`CommandRunner::spawn_detached`] through [`CommandRunner::exec`].
pub(crate) async fn spawn<R: CommandRunner + ?Sized>(r: &R, spec: &DetachedSpec) -> Result<u32> {
    let what = format!("starting {}", spec.process);
    let out = r.exec(&spawn_script(spec)?).await?;
    if out.code != 0 {
        return Err(failed(r, &what, out.code, &out.stderr));
    }
    let text = out.stdout_text();
    let line = text.lines().last().unwrap_or("");
    match line.split_once(' ') {
        Some(("started", pid)) => pid.trim().parse().map_err(|_| protocol(r, &what, &text)),
        Some(("running", pid)) => Err(ExecError::AlreadyRunning {
            node: r.node_ip().to_string(),
            process: spec.process.to_string(),
            pid: pid.trim().parse().map_err(|_| protocol(r, &what, &text))?,
        }),
        _ => Err(protocol(r, &what, &text)),
    }
}

/// [`CommandRunner::process_status`] through [`CommandRunner::exec`].
pub(crate) async fn status<R: CommandRunner + ?Sized>(
    r: &R,
    p: &ProcessRef,
) -> Result<ProcessStatus> {
    let what = format!("reading the status of {p}");
    let script = format!(
        "{PRELUDE}{}cd \"$d\" 2>/dev/null || {{ echo notfound; exit 0; }}\n__sky_status\n",
        locate(p)
    );
    let out = r.exec(&script).await?;
    if out.code != 0 {
        return Err(failed(r, &what, out.code, &out.stderr));
    }
    parse_status(r, &what, &out.stdout_text())
}

/// [`CommandRunner::process_pids`] through [`CommandRunner::exec`].
pub(crate) async fn pids<R: CommandRunner + ?Sized>(r: &R, p: &ProcessRef) -> Result<Vec<u32>> {
    let what = format!("listing the processes of {p}");
    let script = format!(
        "{PRELUDE}{}cd \"$d\" 2>/dev/null || exit 0\n[ -f \"$n.pid\" ] || exit 0\n\
         read -r pid st < \"$n.pid\"\n__sky_group_pids \"$pid\"\n",
        locate(p)
    );
    let out = r.exec(&script).await?;
    if out.code != 0 {
        return Err(failed(r, &what, out.code, &out.stderr));
    }
    let text = out.stdout_text();
    let mut pids = text
        .split_whitespace()
        .map(|w| w.parse().map_err(|_| protocol(r, &what, &text)))
        .collect::<Result<Vec<u32>>>()?;
    pids.sort_unstable();
    Ok(pids)
}

/// [`CommandRunner::kill`] through [`CommandRunner::exec`].
pub(crate) async fn kill<R: CommandRunner + ?Sized>(
    r: &R,
    p: &ProcessRef,
    grace: Duration,
) -> Result<ProcessStatus> {
    let what = format!("killing {p}");
    let ticks = grace.as_millis().div_ceil(100).max(1);
    let script = format!(
        r#"{PRELUDE}{loc}cd "$d" 2>/dev/null || {{ echo notfound; exit 0; }}
[ -f "$n.pid" ] || {{ echo notfound; exit 0; }}
read -r pid st < "$n.pid"
__sky_group_alive() {{ [ -n "$(__sky_group_pids "$pid")" ]; }}
killed=0
if __sky_group_alive; then
  killed=1
  kill -TERM -- "-$pid" 2>/dev/null || true
  i=0
  while __sky_group_alive && [ "$i" -lt {ticks} ]; do i=$((i + 1)); sleep 0.1; done
  if __sky_group_alive; then
    kill -KILL -- "-$pid" 2>/dev/null || true
    i=0
    while __sky_group_alive && [ "$i" -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
  fi
fi
if [ "$killed" = 1 ] && [ ! -f "$n.exit" ] && ! __sky_alive "$pid" "$st"; then
  printf '137\n' > "$n.exit.tmp" && mv -f "$n.exit.tmp" "$n.exit"
fi
__sky_status
"#,
        loc = locate(p)
    );
    let out = r.exec(&script).await?;
    if out.code != 0 {
        return Err(failed(r, &what, out.code, &out.stderr));
    }
    parse_status(r, &what, &out.stdout_text())
}

/// [`CommandRunner::read_file_from`] through [`CommandRunner::exec`].
pub(crate) async fn read_from<R: CommandRunner + ?Sized>(
    r: &R,
    path: &str,
    offset: u64,
    max_bytes: usize,
) -> Result<FileChunk> {
    let script = format!(
        "f={}\n[ -f \"$f\" ] || exit 3\ntail -c +{} \"$f\" | head -c {}\n",
        path_expr(path),
        offset.saturating_add(1),
        max_bytes
    );
    let out = r.exec(&script).await?;
    match out.code {
        0 => Ok(FileChunk {
            exists: true,
            data: out.stdout,
        }),
        3 => Ok(FileChunk::default()),
        code => Err(failed(r, &format!("reading {path}"), code, &out.stderr)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{ExecEnv, RemoteCommand};
    use sky_core::task::Secret;

    #[test]
    fn spawn_script_keeps_secrets_out_of_files_and_command_lines() {
        let spec = DetachedSpec {
            process: ProcessRef::new("~/.sky/jobs/1/run", "rank-0").unwrap(),
            command: RemoteCommand::new("echo hi")
                .with_env(ExecEnv::new().secret("TOKEN", Secret::new("hunter2")))
                .with_cwd("~/sky_workdir"),
        };
        let s = spawn_script(&spec).unwrap();
        // The secret appears exactly once: in an `export` line of the script itself, which
        // travels on stdin. It is not inside any heredoc (file content).
        assert_eq!(s.matches("hunter2").count(), 1);
        assert!(s.contains("export TOKEN='hunter2'\n"));
        let export_at = s.find("export TOKEN").unwrap();
        assert!(s.find("__SKY_EOF__\n: >").unwrap() < export_at);
        assert!(s.contains(r#"export __SKY_CWD="$HOME"/'sky_workdir' __SKY_UMASK"#));
    }

    #[test]
    fn exports_reject_bad_names_before_anything_runs() {
        let spec = DetachedSpec {
            process: ProcessRef::new("~/j", "p").unwrap(),
            command: RemoteCommand::new("true").with_env(ExecEnv::new().var("A B", "x")),
        };
        assert!(matches!(spawn_script(&spec), Err(ExecError::InvalidEnv(_))));
    }
}
