//! Job commands: `sky exec`, `sky queue`, `sky logs`, `sky cancel`.
//!
//! Each takes the broker the caller built (with the clouds it enabled), its parsed arguments
//! and whether JSON output was asked for (the global `--json`), and returns the process exit
//! code or a message for stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::load::runtime;
use sky::runtime::jobs::{JobRecord, JobStatus};
use sky::{Broker, LogsOptions, Task};

/// Arguments of `sky exec NAME FILE.yaml`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The cluster (must be UP).
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(crate::completion::cluster_names))]
    pub cluster: String,
    /// The task YAML (one task); its `setup` is not run, its workdir is synced.
    pub file: PathBuf,
    /// Submit and return without following the job's logs.
    #[arg(short = 'd', long = "detach-run")]
    pub detach_run: bool,
    /// Set or override a task env (`KEY=VALUE`, repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub envs: Vec<String>,
}

/// Arguments of `sky queue NAME`.
#[derive(Args, Debug)]
pub struct QueueArgs {
    /// The cluster.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(crate::completion::cluster_names))]
    pub cluster: String,
    /// Machine-readable JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sky logs NAME [JOB]`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The cluster.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(crate::completion::cluster_names))]
    pub cluster: String,
    /// The job id (default: the latest job).
    pub job: Option<u64>,
    /// Keep streaming until the job ends.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// Arguments of `sky cancel NAME JOB...`.
#[derive(Args, Debug)]
pub struct CancelArgs {
    /// The cluster.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(crate::completion::cluster_names))]
    pub cluster: String,
    /// The job ids.
    #[arg(required_unless_present = "all")]
    pub jobs: Vec<u64>,
    /// Cancel every unfinished job of the cluster.
    #[arg(short = 'a', long, conflicts_with = "jobs")]
    pub all: bool,
}

/// Exit 0 only for a job that succeeded.
pub(crate) fn exit_for(status: JobStatus) -> ExitCode {
    if status == JobStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v).map_err(|e| format!("cannot write JSON: {e}"))
}

fn load_task(file: &PathBuf, envs: &[String]) -> Result<Task, String> {
    let mut task = Task::from_yaml_file(file).map_err(|e| e.to_string())?;
    for kv in envs {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--env {kv:?}: expected KEY=VALUE"))?;
        task.envs.insert(k.to_string(), Some(v.to_string()));
    }
    Ok(task)
}

/// Writes to stdout, ignoring a closed pipe (`sky queue | head`).
fn out(text: impl std::fmt::Display) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{text}");
    let _ = o.flush();
}

fn print_line(line: &sky::LogLine) {
    out(line);
}

/// `sky exec NAME FILE.yaml`: submits the task as a job (no setup) and, unless
/// `--detach-run` (or JSON output), follows its logs to the end; the exit code is 0 when the
/// job succeeded.
pub fn exec(broker: &Broker, args: &ExecArgs, json: bool) -> Result<ExitCode, String> {
    let task = load_task(&args.file, &args.envs)?;
    let rt = runtime()?;
    rt.block_on(async {
        let id = broker
            .exec(&args.cluster, &task)
            .await
            .map_err(|e| e.to_string())?;
        if json {
            let job = broker.job(&args.cluster, id).map_err(|e| e.to_string())?;
            out(to_json(&job)?);
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("Job submitted, ID: {id}");
        if args.detach_run {
            return Ok(ExitCode::SUCCESS);
        }
        let job = broker
            .logs(
                &args.cluster,
                &LogsOptions::new().job(id).follow(true),
                &mut |l| print_line(&l),
            )
            .await
            .map_err(|e| e.to_string())?;
        eprintln!("{}", summary(&job));
        Ok(exit_for(job.status))
    })
}

/// `sky queue NAME [--json]`: the cluster's jobs, after advancing the queue.
pub fn queue(broker: &Broker, args: &QueueArgs, json: bool) -> Result<ExitCode, String> {
    let jobs = runtime()?
        .block_on(broker.queue(&args.cluster))
        .map_err(|e| e.to_string())?;
    if json || args.json {
        out(to_json(&jobs)?);
    } else {
        let t = table(&jobs, sky::runtime::state::now_s());
        anstream::print!(
            "{}",
            crate::style::column(&t, "STATUS", crate::style::status)
        );
    }
    warn_unreachable(broker, &args.cluster);
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr which nodes did not answer the command that just ran (their jobs are
/// shown as last recorded).
fn warn_unreachable(broker: &Broker, cluster: &str) {
    for n in broker.unreachable_nodes(cluster) {
        eprintln!(
            "warning: node {} ({}) of {cluster} did not answer; its jobs are shown as last recorded: {}",
            n.rank, n.ip, n.error
        );
    }
}

/// `sky logs NAME [JOB] [--follow]`: the job's setup and run output, rank-prefixed for
/// multi-node jobs. With `--follow`, streams until the job ends and exits 0 only if it
/// succeeded.
pub fn logs(broker: &Broker, args: &LogsArgs, json: bool) -> Result<ExitCode, String> {
    let job = runtime()?
        .block_on(async {
            broker
                .logs(
                    &args.cluster,
                    &LogsOptions::new()
                        .job_or_latest(args.job)
                        .follow(args.follow),
                    &mut |l| {
                        if json {
                            out(serde_json::json!({"rank": l.rank, "line": l.text}));
                        } else {
                            print_line(&l);
                        }
                    },
                )
                .await
        })
        .map_err(|e| e.to_string())?;
    warn_unreachable(broker, &args.cluster);
    if args.follow {
        if !json {
            eprintln!("{}", summary(&job));
        }
        Ok(exit_for(job.status))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// `sky cancel NAME JOB...` (or `--all`): cancels the jobs (their processes are killed on
/// every node).
pub fn cancel(broker: &Broker, args: &CancelArgs, json: bool) -> Result<ExitCode, String> {
    let rt = runtime()?;
    let ids: Vec<u64> = if args.all {
        rt.block_on(broker.queue(&args.cluster))
            .map_err(|e| e.to_string())?
            .iter()
            .filter(|j| !j.status.is_terminal())
            .map(|j| j.job_id)
            .collect()
    } else {
        args.jobs.clone()
    };
    let jobs = rt
        .block_on(broker.cancel(&args.cluster, &ids))
        .map_err(|e| e.to_string())?;
    if json {
        out(to_json(&jobs)?);
    } else if jobs.is_empty() {
        out(format_args!(
            "No unfinished job on cluster {}.",
            args.cluster
        ));
    } else {
        for j in &jobs {
            match (&j.message, j.status) {
                (Some(m), JobStatus::Cancelling) => {
                    out(format_args!("Job {}: {} ({m})", j.job_id, j.status))
                }
                _ => out(format_args!("Job {}: {}", j.job_id, j.status)),
            }
        }
    }
    // A job some of whose ranks could not be stopped is not cancelled: say so by the code.
    if jobs.iter().any(|j| j.status == JobStatus::Cancelling) {
        eprintln!(
            "error: some ranks could not be reached and may still run; run `sky cancel {}` \
             again once the node answers (or `sky down {}`)",
            args.cluster, args.cluster
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(job: &JobRecord) -> String {
    let code = job
        .exit_code
        .map(|c| format!(" (exit code {c})"))
        .unwrap_or_default();
    let why = job
        .message
        .as_deref()
        .filter(|_| job.status != JobStatus::Succeeded)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    format!("Job {} {}{code}{why}", job.job_id, job.status)
}

/// `1h 2m 3s`, `4m 0s`, `7s`.
pub(crate) fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, s) => format!("{h}h {m}m {s}s"),
    }
}

/// The queue as SkyPilot prints it: ID, NAME, SUBMITTED, STARTED, DURATION, NODES, STATUS,
/// EXIT.
fn table(jobs: &[JobRecord], now: i64) -> String {
    let header = [
        "ID",
        "NAME",
        "SUBMITTED",
        "STARTED",
        "DURATION",
        "NODES",
        "STATUS",
        "EXIT",
    ];
    let rows: Vec<[String; 8]> = jobs
        .iter()
        .rev()
        .map(|j| {
            [
                j.job_id.to_string(),
                j.name.clone().unwrap_or_else(|| "-".into()),
                format!("{} ago", duration(now - j.submitted_at)),
                j.started_at
                    .map(|s| format!("{} ago", duration(now - s)))
                    .unwrap_or_else(|| "-".into()),
                j.started_at
                    .map(|s| duration(j.ended_at.unwrap_or(now) - s))
                    .unwrap_or_else(|| "-".into()),
                j.num_nodes.to_string(),
                j.status.to_string(),
                j.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, status: JobStatus) -> JobRecord {
        JobRecord {
            cluster: "c".into(),
            cluster_hash: "c-1".into(),
            job_id: id,
            name: Some(format!("job{id}")),
            status,
            exit_code: status.is_terminal().then_some(0),
            message: None,
            num_nodes: 2,
            node_ranks: vec![],
            run_timestamp: "sky-x".into(),
            task_id: "sky-x_c_1".into(),
            has_setup: false,
            has_run: true,
            submitted_at: 1000,
            started_at: (status != JobStatus::Pending).then_some(1010),
            ended_at: status.is_terminal().then_some(1075),
        }
    }

    #[test]
    fn queue_table_lists_newest_first() {
        let t = table(
            &[job(1, JobStatus::Succeeded), job(2, JobStatus::Pending)],
            4700,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID  NAME"));
        assert!(lines[1].starts_with("2   job2"), "{t}");
        assert!(lines[1].ends_with("PENDING    -"), "{t}");
        assert!(lines[2].contains("1m 5s"), "{t}");
        assert!(lines[2].contains("1h 1m 30s ago"), "{t}");
    }

    #[test]
    fn summaries_and_durations() {
        assert_eq!(duration(7), "7s");
        assert_eq!(duration(3723), "1h 2m 3s");
        let mut j = job(3, JobStatus::Failed);
        j.exit_code = Some(2);
        j.message = Some("run exited with code 2".into());
        assert_eq!(
            summary(&j),
            "Job 3 FAILED (exit code 2): run exited with code 2"
        );
        assert_eq!(exit_for(JobStatus::Succeeded), ExitCode::SUCCESS);
    }
}
