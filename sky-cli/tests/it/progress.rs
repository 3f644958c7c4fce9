//! What a person sees during a launch: the plan before the question, live progress on a
//! terminal (a real pseudo-terminal), plain lines or JSON lines without one, completion
//! with cluster names, and the plan as a DOT graph.

use std::process::Command;

use rexpect::process::WaitStatus;

use super::{catalog_dir, json, sky, succeeded, write};

/// `sky` in a pseudo-terminal of its own, answering at its prompts.
fn in_terminal(
    args: &[&str],
    state: &std::path::Path,
    no_color: bool,
) -> rexpect::session::PtySession {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sky"));
    c.args(args)
        .env("SKY_CATALOG_DIR", catalog_dir())
        .env("SKY_STATE_DIR", state)
        .env("TERM", "xterm-256color")
        .env_remove("SKY_LOG")
        .env_remove("CLICOLOR_FORCE");
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    rexpect::session::spawn_command(c, Some(60_000)).expect("spawn sky in a pty")
}

/// What the terminal received, as text (rexpect hands over each byte as a char).
fn utf8(s: &str) -> String {
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn exit_code(p: &rexpect::session::PtySession) -> i32 {
    match p.process().wait().expect("wait for sky") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("sky did not exit: {other:?}"),
    }
}

/// On a terminal, `sky launch` shows the plan ("Considered resources", the chosen row)
/// before it asks; "n" provisions nothing.
#[test]
fn in_a_terminal_the_plan_comes_before_the_question_and_no_creates_nothing() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "t.yaml", "run: echo hi\n");
    let mut p = in_terminal(&["launch", &f, "-c", "tty1"], d.path(), false);
    let before = utf8(&p.exp_string("Proceed? [Y/n]").expect("the question"));
    let plan = before.find("Considered resources").expect(&before);
    assert!(before[plan..].contains("LOCAL"), "{before}");
    assert!(
        before[plan..].contains('\u{2714}'),
        "the chosen row: {before}"
    );
    assert!(
        before.contains("\u{1b}[1m\u{1b}[32m") || before.contains("\u{1b}[32m"),
        "the chosen row is green on a terminal: {before:?}"
    );
    p.send_line("n").unwrap();
    let rest = utf8(&p.exp_eof().unwrap());
    assert!(rest.contains("aborted"), "{rest}");
    assert_eq!(exit_code(&p), 1);
    assert_eq!(
        json(&sky(&["status", "--json"], d.path())),
        serde_json::json!([]),
        "nothing was provisioned"
    );
}

/// Answered "y" on a terminal: live phase lines end as `✓` lines, the job's output is
/// printed between them, and a summary says where it runs and what to do next. With
/// `NO_COLOR` nothing is colored.
#[test]
fn in_a_terminal_a_launch_shows_each_phase_and_a_summary() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "t.yaml",
        "setup: echo preparing\nrun: echo working\n",
    );
    let mut p = in_terminal(&["launch", &f, "-c", "tty2"], d.path(), true);
    p.exp_string("Proceed? [Y/n]").expect("the question");
    p.send_line("y").unwrap();
    let all = utf8(&p.exp_eof().unwrap());
    assert_eq!(exit_code(&p), 0, "{all}");
    let at = |needle: &str| {
        all.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {all}"))
    };
    assert!(at("✓ 1 node up on local/local") < at("preparing"), "{all}");
    assert!(at("preparing") < at("✓ job 1: setup finished"), "{all}");
    assert!(at("✓ job 1: setup finished") < at("working"), "{all}");
    assert!(at("working") < at("✓ job 1: SUCCEEDED"), "{all}");
    assert!(
        at("Cluster tty2 is UP on local/local") > at("working"),
        "{all}"
    );
    assert!(all.contains("sky logs tty2 1"), "{all}");
    assert!(all.contains("sky down tty2"), "{all}");
    // NO_COLOR: no color codes (indicatif's cursor movement is not color).
    for code in ["\u{1b}[31m", "\u{1b}[32m", "\u{1b}[33m", "\u{1b}[36m"] {
        assert!(!all.contains(code), "{code:?} with NO_COLOR: {all:?}");
    }
    succeeded(&sky(&["down", "tty2", "-y"], d.path()));
}

/// Without a terminal: the plan and plain timestamped progress lines on stderr, nothing on
/// stdout but the result (the cluster table, then the job's output).
#[test]
fn without_a_terminal_progress_is_plain_lines_on_stderr() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "t.yaml",
        "setup: echo preparing\nrun: echo working\n",
    );
    let out = sky(&["launch", &f, "-c", "plain1", "-y"], d.path());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Considered resources"), "{stderr}");
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with('['))
        .map(|l| l.split_once("s] ").expect(l).1)
        .collect();
    assert_eq!(
        progress,
        [
            "chose 1x local/local local at $0.0000/h per node",
            "attempt 1: launching on local/local local",
            "1 node up on local/local local",
            "job 1 submitted",
            "job 1: setup started",
            "job 1: setup finished",
            "job 1: run started",
            "job 1: SUCCEEDED",
        ],
        "{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].trim_start().starts_with("NAME"), "{stdout}");
    assert!(lines[1].trim_start().starts_with("plain1 "), "{stdout}");
    assert_eq!(&lines[2..], ["preparing", "working"], "{stdout}");
    assert!(
        !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
        "no escape codes off a terminal"
    );
    succeeded(&sky(&["down", "plain1", "-y"], d.path()));
}

/// `--json-events`: one JSON object per event on stderr, in order, each with its kind and
/// `elapsed_s`; `--json` keeps stdout one JSON document.
#[test]
fn json_events_are_one_object_per_line() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "t.yaml", "run: echo working\n");
    let out = sky(
        &["launch", &f, "-c", "jl1", "-y", "--json", "--json-events"],
        d.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["optimized", "attempt_started", "nodes_up", "job_submitted"],
        "{stderr}"
    );
    assert_eq!(events[0]["target"]["cloud"], "local");
    assert!(events.iter().all(|e| e["elapsed_s"].is_number()));
    let cluster = json(&out);
    assert_eq!(cluster[0]["name"], "jl1");
    succeeded(&sky(&["down", "jl1", "-y"], d.path()));
}

/// A launch that can try nothing says why, before asking anything.
#[test]
fn a_launch_that_can_try_nothing_says_why() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "t.yaml",
        "resources:\n  accelerators: H100:8\nrun: echo hi\n",
    );
    let out = sky(&["launch", &f, "-c", "none1"], d.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nothing can be tried"), "{stderr}");
    assert!(stderr.contains("H100"), "{stderr}");
    assert!(!stderr.contains("Proceed?"), "{stderr}");
}

/// Shell completion: the registration script for a shell, and cluster names from the state
/// store as candidates (fish's protocol, the simplest to read).
#[test]
fn completion_offers_cluster_names() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "t.yaml", "resources:\n  cpus: 1+\n");
    let out = sky(&["provision", &f, "-c", "comp1", "-y"], d.path());
    succeeded(&out);
    let out = Command::new(env!("CARGO_BIN_EXE_sky"))
        .args(["--", "sky", "down", ""])
        .env("COMPLETE", "fish")
        .env("SKY_STATE_DIR", d.path())
        .output()
        .unwrap();
    let candidates = String::from_utf8_lossy(&out.stdout);
    assert!(
        candidates.lines().any(|l| l.starts_with("comp1")),
        "{candidates}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sky"))
        .args(["--", "sky", "dow"])
        .env("COMPLETE", "fish")
        .env("SKY_STATE_DIR", d.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.starts_with("down")),
        "subcommands complete too"
    );
    let out = sky(&["completion", "bash"], d.path());
    succeeded(&out);
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("COMPLETE") && script.contains("complete "),
        "{script}"
    );
    let out = sky(&["completion", "bsh"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean \"bash\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    succeeded(&sky(&["down", "comp1", "-y"], d.path()));
}

/// `sky optimize --dot`: each task's placement in a box, the data on each edge.
#[test]
fn optimize_dot_draws_placements_and_egress() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "dag.yaml",
        "name: prep\nresources:\n  infra: azure\n  cpus: 4+\noutputs:\n  s3://x/y: 50\nrun: echo p\n\
         ---\nname: train\nresources:\n  infra: gcp\n  accelerators: V100\nrun: echo t\n",
    );
    let out = sky(
        &["optimize", &f, "--dot", "--clouds", "azure,gcp"],
        d.path(),
    );
    let dot = String::from_utf8_lossy(&out.stdout);
    succeeded(&out);
    assert!(dot.starts_with("digraph \"plan\" {"), "{dot}");
    assert!(dot.contains("t0 [label=\"prep\\nazure/"), "{dot}");
    assert!(dot.contains("t1 [label=\"train\\ngcp/"), "{dot}");
    let edge = dot
        .lines()
        .find(|l| l.trim_start().starts_with("t0 -> t1"))
        .expect(&dot);
    assert!(edge.contains("50 GB"), "the egress of the edge: {edge}");
    assert!(!edge.contains("$0.00"), "Azure to GCP is charged: {edge}");
    assert!(dot.trim_end().ends_with('}'));
    // Two outputs asked for: refused, not one of them silently dropped.
    let out = sky(&["optimize", &f, "--dot", "--json"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["error"]["kind"], "invalid_argument");
}

/// The task files of the README's examples load and place (the pipeline drawn with `--dot`,
/// the task of the launch transcript).
#[test]
fn the_readme_example_tasks_place() {
    let d = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pipeline = root.join("examples/tasks/pipeline.yaml");
    let out = sky(
        &[
            "optimize",
            pipeline.to_str().unwrap(),
            "--dot",
            "--clouds",
            "gcp,azure",
        ],
        d.path(),
    );
    let dot = String::from_utf8_lossy(&out.stdout);
    succeeded(&out);
    for edge in ["t0 -> t1", "t1 -> t2", "in0 -> t0"] {
        assert!(dot.contains(edge), "{edge}: {dot}");
    }
    let hello = root.join("examples/tasks/hello.yaml");
    let out = sky(&["optimize", hello.to_str().unwrap()], d.path());
    succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("LOCAL"));
}
