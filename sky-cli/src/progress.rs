//! How the CLI shows a launch as it happens: the library's [`LaunchEvent`]s rendered for a
//! person or a machine. Nothing here decides anything; it only prints.
//!
//! - On a terminal (stderr): one live line per phase with a spinner and the time it has
//!   taken, replaced by a `✓`/`✗` line when the phase ends ([`indicatif`]); log lines of the
//!   job are printed above the live line, which is redrawn under them.
//! - Without a terminal: one plain line per event, `[  12.3s] what happened`.
//! - With `--json-events`: one JSON object per event and line (the event's fields, plus
//!   `elapsed_s`), for scripts that render their own progress.
//!
//! Everything goes to stderr: stdout keeps only the command's result (the cluster table,
//! the job's output, or `--json`).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use sky::runtime::events::LaunchEvent;

use crate::style;

/// How events are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Live lines on a terminal.
    Live,
    /// Timestamped plain lines.
    Plain,
    /// JSON lines.
    Json,
    /// Nothing (`--json` without `--json-events`).
    Quiet,
}

impl Mode {
    /// The mode for this process: JSON lines when asked, nothing with `--json`, live lines
    /// when stderr is a terminal, plain lines otherwise.
    pub fn detect(json: bool, json_events: bool) -> Mode {
        if json_events {
            Mode::Json
        } else if json {
            Mode::Quiet
        } else if std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

/// The live line of the phase under way.
struct Phase {
    bar: ProgressBar,
    started: Instant,
}

struct State {
    phase: Option<Phase>,
}

/// Renders the events of one command. Cheap to clone; every clone draws the same lines.
#[derive(Clone)]
pub struct Progress {
    mode: Mode,
    start: Instant,
    state: Arc<Mutex<State>>,
}

impl Progress {
    /// A renderer in `mode`, its clock starting now.
    pub fn new(mode: Mode) -> Self {
        Progress {
            mode,
            start: Instant::now(),
            state: Arc::new(Mutex::new(State { phase: None })),
        }
    }

    /// Shows `event`.
    pub fn event(&self, event: &LaunchEvent) {
        let elapsed = self.start.elapsed().as_secs_f64();
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => {
                let mut v = serde_json::to_value(event).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert(
                        "elapsed_s".into(),
                        serde_json::json!((elapsed * 1000.0).round() / 1000.0),
                    );
                }
                eprintln!("{v}");
            }
            Mode::Plain => eprintln!("[{elapsed:>7.1}s] {event}"),
            Mode::Live => self.live(event),
        }
    }

    /// Prints a line of the job's output on stdout, keeping the live line intact below it.
    pub fn output(&self, line: &str) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &state.phase {
            Some(p) => p.bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// Clears the live line (before the final summary, or on an error).
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = state.phase.take() {
            p.bar.finish_and_clear();
        }
    }

    fn live(&self, event: &LaunchEvent) {
        use LaunchEvent as E;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            E::Optimized { .. } => self.begin(&mut state, &format!("Launching: {event}")),
            E::AttemptStarted { .. } => self.begin(&mut state, &event.to_string()),
            E::AttemptFailed { .. } => {
                self.end(&mut state, false, &event.to_string());
            }
            E::NodesUp { .. } => {
                self.end(&mut state, true, &event.to_string());
                self.begin(&mut state, "Preparing the nodes");
            }
            E::FilesSynced { .. } => {
                self.end(&mut state, true, &event.to_string());
                self.begin(&mut state, "Submitting the job");
            }
            E::JobSubmitted { job_id, .. } => {
                self.end(&mut state, true, &event.to_string());
                self.begin(&mut state, &format!("Job {job_id}: waiting for nodes"));
            }
            E::SetupStarted { job_id, .. } => {
                self.clear(&mut state);
                self.begin(&mut state, &format!("Job {job_id}: running setup"));
            }
            E::SetupFinished { succeeded, .. } => {
                self.end(&mut state, *succeeded, &event.to_string());
            }
            E::RunStarted { job_id, .. } => {
                self.clear(&mut state);
                self.begin(&mut state, &format!("Job {job_id}: running"));
            }
            E::JobFinished { status, .. } => {
                let ok = matches!(status, sky::runtime::JobStatus::Succeeded);
                self.end(&mut state, ok, &event.to_string());
            }
            _ => {
                let line = event.to_string();
                match &state.phase {
                    Some(p) => p.bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
        }
    }

    /// Starts a live line for a new phase (the one under way, if any, is replaced).
    fn begin(&self, state: &mut State, message: &str) {
        if let Some(p) = &state.phase {
            p.bar.set_message(message.to_string());
            return;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        state.phase = Some(Phase {
            bar,
            started: Instant::now(),
        });
    }

    /// Ends the phase under way with a `✓` or `✗` line (and how long it took).
    fn end(&self, state: &mut State, ok: bool, line: &str) {
        let took = state
            .phase
            .take()
            .map(|p| {
                p.bar.finish_and_clear();
                p.started.elapsed()
            })
            .unwrap_or_default();
        let mark = if ok {
            style::ok("✓")
        } else {
            style::bad("✗")
        };
        anstream::eprintln!(
            "{mark} {line} {}",
            style::dim(&format!("({:.1}s)", took.as_secs_f64()))
        );
    }

    fn clear(&self, state: &mut State) {
        if let Some(p) = state.phase.take() {
            p.bar.finish_and_clear();
        }
    }
}
