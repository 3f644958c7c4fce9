//! The `sky` command line: a thin shell over the `sky` library.
//!
//! Every command is a call into the library; the CLI only parses flags, loads catalogs and
//! tasks, and prints tables or JSON (`--json`, for scripts).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

mod check;
mod cluster;
mod completion;
mod jobs;
mod load;
mod optimize;
mod progress;
mod show_gpus;
mod style;
mod table;
mod validate;

/// sky: an intercloud broker. Runs SkyPilot task YAML on the cheapest placement across clouds.
#[derive(Parser, Debug)]
#[command(name = "sky", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command takes.
#[derive(Args, Debug, Clone)]
struct Global {
    /// Directory of SkyPilot v8 catalogs (`<dir>/<cloud>/vms.csv`), used as is. Default: the
    /// cache in ~/.sky/catalogs/v8, downloaded when missing.
    #[arg(long, global = true, env = "SKY_CATALOG_DIR", value_name = "DIR")]
    catalog_dir: Option<PathBuf>,
    /// Directory of sky's state (`state.db`). Default: ~/.sky.
    #[arg(long, global = true, env = "SKY_STATE_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check cloud credentials (every source tried) and enable the clouds that work; check
    /// that the hosts of the SSH node pools answer.
    Check(check::CheckArgs),
    /// Parse and validate a task YAML; print the normalised task(s).
    Validate(validate::ValidateArgs),
    /// List accelerators and their prices from the catalogs, and the SSH node pools.
    #[command(name = "show-gpus")]
    ShowGpus(show_gpus::ShowGpusArgs),
    /// Show the cheapest (or fastest) placement for a task or DAG.
    Optimize(optimize::OptimizeArgs),
    /// Provision a cluster for a task (with failover) and run it.
    Launch(cluster::LaunchArgs),
    /// Provision a cluster for a task (with failover), without running it.
    Provision(cluster::LaunchArgs),
    /// Show clusters.
    Status(cluster::StatusArgs),
    /// Stop clusters (keeping their disks).
    Stop(cluster::NamesArgs),
    /// Start stopped clusters, in their own zones.
    Start(cluster::NamesArgs),
    /// Tear down clusters.
    Down(cluster::NamesArgs),
    /// Set a cluster's autostop, or enforce autostop (`--daemon`).
    Autostop(cluster::AutostopArgs),
    /// Submit a task as a job to an existing cluster (no setup).
    Exec(jobs::ExecArgs),
    /// A cluster's job queue.
    Queue(jobs::QueueArgs),
    /// A job's logs.
    Logs(jobs::LogsArgs),
    /// Cancel jobs.
    Cancel(jobs::CancelArgs),
    /// Estimated cost of every cluster ever launched.
    #[command(name = "cost-report")]
    CostReport,
    /// Print the script that sets up shell completion (with cluster names), e.g.
    /// `source <(sky completion bash)`.
    Completion(completion::CompletionArgs),
}

fn main() -> ExitCode {
    // A completion request from the shell (`COMPLETE=bash sky -- ...`) is answered and exits.
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(completion::VAR)
        .complete();
    tracing_subscriber::fmt()
        .with_env_filter(
            // By default, sky's own warnings (every target starting `sky`) and other crates'
            // errors only: an SDK's retry chatter is not the user's business.
            tracing_subscriber::EnvFilter::try_from_env("SKY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error,sky=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
    let cli = Cli::parse();
    let g = cli.global;
    let result = match cli.command {
        Command::Check(a) => check::run(&g, &a),
        Command::Validate(a) => validate::run(&g, &a),
        Command::ShowGpus(a) => show_gpus::run(&g, &a),
        Command::Optimize(a) => optimize::run(&g, &a),
        Command::Launch(a) => cluster::launch(&g, &a, true),
        Command::Provision(a) => cluster::launch(&g, &a, false),
        Command::Status(a) => cluster::status(&g, &a),
        Command::Stop(a) => cluster::stop(&g, &a),
        Command::Start(a) => cluster::start(&g, &a),
        Command::Down(a) => cluster::down(&g, &a),
        Command::Autostop(a) => cluster::autostop(&g, &a),
        Command::CostReport => cluster::cost_report(&g),
        Command::Completion(a) => completion::run(&a),
        Command::Exec(a) => jobs_cmd(&g, |b| jobs::exec(b, &a, g.json)),
        Command::Queue(a) => jobs_cmd(&g, |b| jobs::queue(b, &a, g.json)),
        Command::Logs(a) => jobs_cmd(&g, |b| jobs::logs(b, &a, g.json)),
        Command::Cancel(a) => jobs_cmd(&g, |b| jobs::cancel(b, &a, g.json)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({"error": {"kind": e.kind, "message": e.message}})
                );
            } else {
                anstream::eprintln!("{} {}", style::bad("error:"), e.message);
            }
            ExitCode::from(e.exit)
        }
    }
}

fn jobs_cmd(g: &Global, f: impl FnOnce(&sky::Broker) -> Result<ExitCode, String>) -> CmdResult {
    let broker = load::broker(g)?;
    f(&broker).map_err(|m| Failure::new("error", m, 1))
}

/// A command failure: what to print and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    /// Machine-readable kind (`resources_unavailable`, `invalid_task`, ...).
    pub kind: String,
    /// The message.
    pub message: String,
    /// Exit code.
    pub exit: u8,
}

impl Failure {
    pub(crate) fn new(kind: impl Into<String>, message: impl Into<String>, exit: u8) -> Self {
        Failure {
            kind: kind.into(),
            message: message.into(),
            exit,
        }
    }
}

pub(crate) type CmdResult = Result<ExitCode, Failure>;
