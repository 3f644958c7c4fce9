//! Cluster commands: launch, provision, status, stop, start, down, autostop, cost-report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sky::runtime::lifecycle::CostRow;
use sky::runtime::state::{AutostopSetting, ClusterRecord, ClusterStatus};
use sky::{BrokerError, LogsOptions, ProvisionOptions};

use crate::progress::{self, Progress};
use crate::style;
use crate::table::{num, render};
use crate::{CmdResult, Failure, Global, load};

/// Arguments of `sky launch` and `sky provision`.
#[derive(Args, Debug)]
pub struct LaunchArgs {
    /// The task YAML (one task).
    file: PathBuf,
    /// The cluster's name (default: a new one, `sky-<4 hex>-<user>`, as SkyPilot makes).
    #[arg(short = 'c', long = "cluster", add = clap_complete::engine::ArgValueCandidates::new(crate::completion::cluster_names))]
    cluster: Option<String>,
    /// Only these clouds (comma-separated).
    #[arg(long, value_delimiter = ',')]
    clouds: Vec<String>,
    /// When every candidate fails, start over until the cluster is up.
    #[arg(long)]
    retry_until_up: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Do not follow the job's logs after launching.
    #[arg(short = 'd', long)]
    detach_run: bool,
    /// Print each step of the launch as a JSON object per line on stderr (instead of live or
    /// plain progress lines).
    #[arg(long)]
    json_events: bool,
}

/// Arguments of `sky status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Ask the providers and reconcile before printing.
    #[arg(short = 'r', long)]
    refresh: bool,
}

/// Cluster names.
#[derive(Args, Debug)]
pub struct NamesArgs {
    /// The clusters.
    #[arg(required = true, add = clap_complete::engine::ArgValueCandidates::new(crate::completion::cluster_names))]
    names: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
}

/// Arguments of `sky autostop`.
#[derive(Args, Debug)]
pub struct AutostopArgs {
    /// The cluster (not with `--daemon`).
    #[arg(required_unless_present = "daemon", add = clap_complete::engine::ArgValueCandidates::new(crate::completion::cluster_names))]
    name: Option<String>,
    /// Idle minutes before stopping.
    #[arg(short = 'i', long = "idle-minutes", conflicts_with = "cancel")]
    idle_minutes: Option<u32>,
    /// Tear down instead of stopping.
    #[arg(long)]
    down: bool,
    /// Turn autostop off.
    #[arg(long)]
    cancel: bool,
    /// Enforce autostop for every cluster every `--interval` seconds, forever.
    #[arg(long, conflicts_with_all = ["name", "cancel"])]
    daemon: bool,
    /// Seconds between checks with `--daemon`.
    #[arg(long, default_value_t = 60)]
    interval: u64,
}

/// Asks `question` on the terminal unless `yes`; without a terminal, refuses unless `yes`.
fn confirm(question: &str, yes: bool) -> Result<(), Failure> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::new(
            "aborted",
            format!("{question} Pass -y to confirm without a terminal."),
            1,
        ));
    }
    eprint!("{question} [Y/n] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = stdin.lock().read_line(&mut answer);
    match answer.trim().to_ascii_lowercase().as_str() {
        "" | "y" | "yes" => Ok(()),
        _ => Err(Failure::new("aborted", "aborted by the user", 1)),
    }
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, Failure> {
    load::runtime().map_err(|m| Failure::new("runtime", m, 2))
}

fn broker_failure(e: BrokerError) -> Failure {
    let kind = match &e {
        BrokerError::Unavailable { .. } => "resources_unavailable",
        BrokerError::Aborted { .. } => "aborted",
        BrokerError::TeardownFailed { .. } => "teardown_failed",
        BrokerError::NotFound { .. } => "not_found",
        BrokerError::InvalidName { .. } => "invalid_argument",
        BrokerError::InvalidState { .. } => "invalid_state",
        BrokerError::Refused { .. } => "refused",
        _ => "error",
    };
    Failure::new(kind, e.to_string(), 1)
}

/// `sky launch` / `sky provision`.
pub fn launch(g: &Global, a: &LaunchArgs, run: bool) -> CmdResult {
    let dag =
        load::dag(&a.file, None).map_err(|e| Failure::new("invalid_task", e.to_string(), 2))?;
    if dag.len() != 1 {
        return Err(Failure::new(
            "invalid_task",
            "launch takes one task; this file has a DAG",
            2,
        ));
    }
    let task = &dag.tasks()[0];
    let clouds = load::parse_clouds(&a.clouds)?;
    // A cloud the launch names that `sky check` has not enabled is checked now.
    let mut named = clouds.clone();
    named.extend(
        task.resources
            .alternatives
            .iter()
            .filter_map(|r| r.cloud.clone()),
    );
    let rt = runtime()?;
    for report in rt
        .block_on(load::clouds(g).enable_named(&named))
        .map_err(|e| Failure::new("state", e.to_string(), 2))?
    {
        if report.ok() {
            eprintln!("{} was not enabled: checked now, and enabled", report.cloud);
        } else {
            eprint!("{report}");
            eprintln!(
                "note: {} is named but its credentials do not work; run `sky check {}` after fixing them",
                report.cloud, report.cloud
            );
        }
    }
    let broker = load::broker(g)?;
    let name = match &a.cluster {
        Some(n) => n.clone(),
        None => {
            let user = std::env::var("USER").unwrap_or_default();
            let n = sky::runtime::broker::generate_cluster_name(&user);
            eprintln!("Cluster name: {n} (pass -c NAME to choose one)");
            n
        }
    };
    let cluster = name.as_str();
    // Before asking anything: what the optimizer will skip, and what sky cannot honour.
    for n in task.notes(&broker.catalogs()) {
        if n.kind == sky::task::TaskNoteKind::Infeasible {
            eprintln!("note: {n}");
        }
    }
    if run {
        broker.precheck(task)
    } else {
        broker.precheck_resources(task)
    }
    .map_err(broker_failure)?;
    let mut opts = ProvisionOptions::new();
    if clouds.is_empty() {
        let real = broker
            .catalogs()
            .clouds()
            .into_iter()
            .filter(|c| *c != sky::CloudId::Fake);
        opts = opts.with_clouds(real);
    } else {
        opts = opts.with_clouds(clouds);
    }
    if a.retry_until_up {
        opts = opts.with_retry_until_up(Duration::from_secs(30));
    }
    let existing = broker.cluster(cluster).ok();
    if existing
        .as_ref()
        .is_none_or(|r| r.status == ClusterStatus::Init)
    {
        // What the launch will try first, before anything is asked or created.
        let plan = broker.plan(task, &opts).map_err(|e| {
            Failure::new(
                "resources_unavailable",
                format!("cannot launch cluster {cluster:?}: nothing can be tried: {e}"),
                1,
            )
        })?;
        if !g.json {
            anstream::eprint!("{}", style::chosen_rows(&plan.render_table()));
        }
    }
    if existing.is_none() {
        confirm(
            &format!("Launching a new cluster {:?}. Proceed?", cluster),
            a.yes,
        )?;
    }
    let progress = Progress::new(progress::Mode::detect(g.json, a.json_events));
    let sink = progress.clone();
    opts = opts.with_events(move |e| sink.event(e));
    let rt = runtime()?;
    if !run {
        let record = rt
            .block_on(broker.provision(task, cluster, &opts))
            .inspect_err(|_| progress.finish())
            .map_err(broker_failure)?;
        progress.finish();
        print_clusters(g, std::slice::from_ref(&record));
        summary(g, &broker, &record, None);
        return Ok(ExitCode::SUCCESS);
    }
    let launched = rt
        .block_on(broker.launch(task, cluster, &opts))
        .inspect_err(|_| progress.finish())
        .map_err(broker_failure)?;
    progress.finish();
    print_clusters(g, std::slice::from_ref(&launched.cluster));
    let Some(job) = launched.job_id else {
        summary(g, &broker, &launched.cluster, None);
        return Ok(ExitCode::SUCCESS);
    };
    if g.json || a.detach_run {
        summary(g, &broker, &launched.cluster, Some(job));
        return Ok(ExitCode::SUCCESS);
    }
    let sink = progress.clone();
    let out = progress.clone();
    let record = rt
        .block_on(
            broker.logs(
                cluster,
                &LogsOptions::new()
                    .job(job)
                    .follow(true)
                    .with_events(move |e| sink.event(e)),
                &mut |l| out.output(&l.to_string()),
            ),
        )
        .inspect_err(|_| progress.finish())
        .map_err(broker_failure)?;
    progress.finish();
    // The job's end was an event; the summary says what to do next.
    summary(g, &broker, &launched.cluster, Some(job));
    Ok(crate::jobs::exit_for(record.status))
}

/// What to do next with a cluster that is up: where it runs and at what price, and the
/// commands for its logs, a shell, another job, and teardown (on stderr; not with `--json`).
fn summary(g: &Global, broker: &sky::Broker, record: &ClusterRecord, job: Option<u64>) {
    if g.json {
        return;
    }
    let name = &record.name;
    if let Some(l) = &record.launched {
        anstream::eprintln!(
            "{} Cluster {} is {} on {}/{}{}: {}x {}{}, $ {:.3}/h in all.",
            style::ok("✓"),
            style::bold(name),
            style::status(&record.status.to_string()),
            l.cloud,
            l.region,
            l.zone
                .as_deref()
                .map(|z| format!("/{z}"))
                .unwrap_or_default(),
            l.num_nodes,
            l.instance_type,
            if l.spot { " [spot]" } else { "" },
            l.hourly_price * f64::from(l.num_nodes)
        );
    }
    let mut hints: Vec<(String, &str)> = Vec::new();
    if let Some(j) = job {
        hints.push((format!("sky logs {name} {j}"), "the job's logs"));
    }
    let ssh = runtime()
        .ok()
        .and_then(|rt| rt.block_on(broker.ssh_command(name)).ok().flatten());
    if let Some(cmd) = ssh {
        hints.push((cmd.join(" "), "a shell on the head node"));
    }
    hints.push((
        format!("sky exec {name} TASK.yaml"),
        "run another task there",
    ));
    hints.push((format!("sky down {name}"), "tear it down"));
    let width = hints.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (cmd, what) in hints {
        anstream::eprintln!("  {cmd:<width$}  {}", style::dim(what));
    }
}

/// `sky status`.
pub fn status(g: &Global, a: &StatusArgs) -> CmdResult {
    let broker = load::broker(g)?;
    let records = if a.refresh {
        runtime()?
            .block_on(broker.refresh(None))
            .map_err(broker_failure)?
    } else {
        broker.status().map_err(broker_failure)?
    };
    print_clusters(g, &records);
    Ok(ExitCode::SUCCESS)
}

fn print_clusters(g: &Global, records: &[ClusterRecord]) {
    if g.json {
        println!(
            "{}",
            serde_json::to_string_pretty(records).unwrap_or_default()
        );
        return;
    }
    if records.is_empty() {
        println!("No existing clusters.");
        return;
    }
    let now = sky::runtime::state::now_s();
    let rows = records
        .iter()
        .map(|r| {
            let (infra, res) = match &r.launched {
                Some(l) => (
                    format!(
                        "{}/{}{}",
                        l.cloud,
                        l.region,
                        l.zone
                            .as_deref()
                            .map(|z| format!("/{z}"))
                            .unwrap_or_default()
                    ),
                    format!(
                        "{}x {}{}{}",
                        l.num_nodes,
                        l.instance_type,
                        l.accelerator
                            .as_ref()
                            .map(|a| format!(" {{{}:{}}}", a.name, num(a.count)))
                            .unwrap_or_default(),
                        if l.spot { " [spot]" } else { "" }
                    ),
                ),
                None => ("-".into(), "-".into()),
            };
            let autostop = r.autostop.map_or("-".into(), |a| {
                format!("{}m{}", a.idle_minutes, if a.down { " (down)" } else { "" })
            });
            vec![
                r.name.clone(),
                format!("{} ago", crate::jobs::duration((now - r.created_at).max(0))),
                infra,
                res,
                r.status.to_string(),
                autostop,
                r.owner.clone(),
            ]
        })
        .collect();
    let table = render(
        &[
            "NAME",
            "LAUNCHED",
            "INFRA",
            "RESOURCES",
            "STATUS",
            "AUTOSTOP",
            "OWNER",
        ],
        rows,
    );
    anstream::print!("{}", style::column(&table, "STATUS", style::status));
}

/// A lifecycle operation on named clusters.
#[derive(Clone, Copy)]
enum Op {
    Stop,
    Start,
    Down,
}

fn for_each(g: &Global, a: &NamesArgs, op: Op) -> CmdResult {
    let broker = load::broker(g)?;
    if !matches!(op, Op::Start) {
        let verb = if matches!(op, Op::Stop) {
            "Stopping"
        } else {
            "Terminating"
        };
        confirm(&format!("{verb} {}. Proceed?", a.names.join(", ")), a.yes)?;
    }
    let rt = runtime()?;
    let mut failed = Vec::new();
    for name in &a.names {
        if matches!(op, Op::Start)
            && broker
                .cluster(name)
                .is_ok_and(|r| r.status == ClusterStatus::Up)
        {
            eprintln!("{name} is already UP");
            continue;
        }
        let (verb, res) = rt.block_on(async {
            match op {
                Op::Stop => ("Stopped", broker.stop(name).await.map(drop)),
                Op::Start => ("Started", broker.start(name).await.map(drop)),
                Op::Down => ("Terminated", broker.down(name).await),
            }
        });
        match res {
            Ok(()) => eprintln!("{verb} {name}"),
            Err(e) => failed.push(broker_failure(e)),
        }
    }
    match failed.len() {
        0 => Ok(ExitCode::SUCCESS),
        1 => Err(failed.remove(0)),
        _ => Err(Failure::new(
            "error",
            failed
                .into_iter()
                .map(|f| f.message)
                .collect::<Vec<_>>()
                .join("\n"),
            1,
        )),
    }
}

/// `sky stop`.
pub fn stop(g: &Global, a: &NamesArgs) -> CmdResult {
    for_each(g, a, Op::Stop)
}

/// `sky start`.
pub fn start(g: &Global, a: &NamesArgs) -> CmdResult {
    for_each(g, a, Op::Start)
}

/// `sky down`.
pub fn down(g: &Global, a: &NamesArgs) -> CmdResult {
    for_each(g, a, Op::Down)
}

/// `sky autostop`.
pub fn autostop(g: &Global, a: &AutostopArgs) -> CmdResult {
    let broker = load::broker(g)?;
    if a.daemon {
        let rt = runtime()?;
        loop {
            match rt.block_on(broker.enforce_autostop()) {
                Ok(acts) => {
                    for act in acts {
                        eprintln!(
                            "autostop: {} {} after {} idle minutes",
                            if act.down { "tore down" } else { "stopped" },
                            act.cluster,
                            act.idle_minutes
                        );
                    }
                }
                Err(e) => eprintln!("autostop: {e}"),
            }
            std::thread::sleep(Duration::from_secs(a.interval.max(1)));
        }
    }
    let name = a.name.as_deref().unwrap_or_default();
    let setting = if a.cancel {
        None
    } else {
        Some(AutostopSetting {
            idle_minutes: a.idle_minutes.unwrap_or(5),
            down: a.down,
        })
    };
    broker.set_autostop(name, setting).map_err(broker_failure)?;
    Ok(ExitCode::SUCCESS)
}

/// `sky cost-report`.
pub fn cost_report(g: &Global) -> CmdResult {
    let broker = load::broker(g)?;
    let rows: Vec<CostRow> = broker.cost_report().map_err(broker_failure)?;
    if g.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let total: f64 = rows.iter().map(|r| r.cost).sum();
    let table = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.resources.clone().unwrap_or_else(|| "-".into()),
                num(f64::from(r.num_nodes)),
                format!("{:.1}h", r.duration_s as f64 / 3600.0),
                format!("$ {:.3}", r.hourly_price),
                format!("$ {:.2}", r.cost),
                if r.live { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    print!(
        "{}",
        render(
            &[
                "NAME",
                "RESOURCES",
                "NODES",
                "DURATION",
                "HOURLY",
                "COST",
                "LIVE"
            ],
            table
        )
    );
    println!("Total: $ {total:.2}");
    Ok(ExitCode::SUCCESS)
}
