//! Job scenarios, each run on every backend (see `mod.rs`).

use std::time::Duration;

use sky_exec::{GangJob, Phase};
use sky_runtime::{Broker, JobStatus};

use super::fixture::{Backend, WAIT, eventually, follow, launch, logs_now, task};

const SECRET: &str = "s3cr3t-Value-xyz";

fn node_ips(b: &Broker, cluster: &str) -> Vec<String> {
    let mut nodes = b.cluster(cluster).unwrap().nodes;
    nodes.sort_by_key(|n| n.rank);
    nodes
        .into_iter()
        .map(|n| n.private_ip.expect("a private IP"))
        .collect()
}

/// Every byte the state directory's databases hold (the SQLite file and its WAL).
fn state_bytes(backend: &Backend) -> Vec<u8> {
    let mut all = Vec::new();
    for f in [
        "state.db",
        "state.db-wal",
        "ssh_node_pools.db",
        "ssh_node_pools.db-wal",
    ] {
        if let Ok(b) = std::fs::read(backend.state_dir().join(f)) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Touches `~/<name>` on every node of the cluster (what the jobs below wait for).
async fn release(b: &Broker, cluster: &str, name: &str) {
    for n in b.nodes(cluster).await.unwrap() {
        let out = n.runner.exec(&format!("touch ~/{name}")).await.unwrap();
        assert_eq!(out.code, 0);
    }
}

pub async fn three_node_job_sees_ranks_ips_workdir_env_and_secrets(backend: &Backend) {
    let workdir = tempfile::tempdir().unwrap();
    std::fs::write(workdir.path().join("data.txt"), "payload-42\n").unwrap();
    std::fs::create_dir(workdir.path().join("sub")).unwrap();
    std::fs::write(workdir.path().join("sub/nested.txt"), "nested-ok").unwrap();
    let b = backend.broker();
    let t = task(&format!(
        r#"
name: hello
num_nodes: 3
workdir: {}
envs:
  GREETING: hi there
secrets:
  TOKEN: {SECRET}
setup: |
  echo "setup rank=$SKYPILOT_SETUP_NODE_RANK nodes=$SKYPILOT_NUM_NODES"
run: |
  echo "rank=$SKYPILOT_NODE_RANK of=$SKYPILOT_NUM_NODES greeting=$GREETING file=$(cat data.txt) nested=$(cat sub/nested.txt) pwd=$(basename "$PWD")"
  echo "ips=$(echo $SKYPILOT_NODE_IPS | tr ' ' ',')"
  echo "token=$TOKEN len=${{#TOKEN}}"
  echo "task=$SKYPILOT_TASK_ID"
"#,
        workdir.path().display()
    ));
    let job = launch(&b, &t, "three").await;
    let (rec, lines) = follow(&b, "three", job).await;
    assert_eq!(rec.status, JobStatus::Succeeded, "{rec:?}\n{lines:#?}");
    assert_eq!(rec.exit_code, Some(0));
    assert_eq!(rec.node_ranks, [0, 1, 2]);
    assert!(rec.has_setup && rec.has_run);
    let ips = node_ips(&b, "three");
    assert_eq!(ips.len(), 3);
    let distinct: std::collections::BTreeSet<&String> = ips.iter().collect();
    assert_eq!(distinct.len(), 3, "distinct node IPs: {ips:?}");
    for rank in 0..3u32 {
        let mine: Vec<&str> = lines
            .iter()
            .filter(|l| l.rank == rank)
            .map(|l| l.text.as_str())
            .collect();
        let prefix = &lines.iter().find(|l| l.rank == rank).unwrap().prefix;
        assert!(
            prefix.contains(&format!("rank={rank}")) && prefix.contains(&ips[rank as usize]),
            "{prefix}"
        );
        assert!(
            mine.contains(&format!("setup rank={rank} nodes=3").as_str()),
            "{mine:#?}"
        );
        assert!(
            mine.contains(
                &format!(
                    "rank={rank} of=3 greeting=hi there file=payload-42 nested=nested-ok pwd=sky_workdir"
                )
                .as_str()
            ),
            "{mine:#?}"
        );
        assert!(
            mine.contains(&format!("ips={}", ips.join(",")).as_str()),
            "{mine:#?}"
        );
        assert!(
            mine.contains(&format!("token=<redacted> len={}", SECRET.len()).as_str()),
            "{mine:#?}"
        );
        assert!(
            mine.contains(&format!("task={}", rec.task_id).as_str()),
            "{mine:#?}"
        );
    }
    assert!(rec.task_id.starts_with("sky-") && rec.task_id.ends_with(&format!("_three_{job}")));
    // Setup lines come before run lines on every node.
    let first_run = lines
        .iter()
        .position(|l| l.text.starts_with("rank="))
        .unwrap();
    assert!(
        lines[..first_run]
            .iter()
            .all(|l| l.text.starts_with("setup"))
    );
    assert!(lines.iter().all(|l| !l.text.contains(SECRET)));
    // The secret is in no database and in no file on the nodes.
    assert!(!contains(&state_bytes(backend), SECRET));
    for n in b.nodes("three").await.unwrap() {
        let out = n
            .runner
            .exec(&format!("grep -rl '{SECRET}' ~/.sky ~/sky_workdir || true"))
            .await
            .unwrap();
        assert_eq!(
            out.stdout_text().trim(),
            "",
            "rank {} has the secret in a file",
            n.rank
        );
    }
    b.down("three").await.unwrap();
    assert!(b.jobs("three").is_err(), "the cluster is gone");
}

pub async fn cancel_kills_every_node(backend: &Backend) {
    let b = backend.broker();
    let t = task("num_nodes: 3\nrun: |\n  echo started\n  sleep 300 & sleep 300\n");
    let job = launch(&b, &t, "cancel").await;
    let nodes = b.nodes("cancel").await.unwrap();
    let gang = GangJob::new(job, nodes).unwrap();
    eventually("every node to run the job", || async {
        let pids = gang.pids(Phase::Run).await.unwrap();
        (pids.len() == 3 && pids.values().all(|p| p.len() >= 2)).then_some(())
    })
    .await;
    assert_eq!(b.job("cancel", job).unwrap().status, JobStatus::Running);
    let after = b.cancel("cancel", &[job]).await.unwrap();
    assert_eq!(after[0].status, JobStatus::Cancelled);
    assert!(
        matches!(after[0].exit_code, Some(143) | Some(137)),
        "{:?}",
        after[0].exit_code
    );
    let pids = gang.pids(Phase::Run).await.unwrap();
    assert!(pids.values().all(|p| p.is_empty()), "left alive: {pids:?}");
    // Cancelling again changes nothing; the queue still reports it cancelled.
    let again = b.cancel("cancel", &[job]).await.unwrap();
    assert_eq!(again[0].status, JobStatus::Cancelled);
    let q = b.queue("cancel").await.unwrap();
    assert_eq!(q.last().unwrap().status, JobStatus::Cancelled);
    assert!(matches!(
        b.cancel("cancel", &[999]).await,
        Err(sky_runtime::BrokerError::JobNotFound { job_id: 999, .. })
    ));
    b.down("cancel").await.unwrap();
}

pub async fn a_new_broker_reattaches_to_status_and_logs(backend: &Backend) {
    let t = task(
        "num_nodes: 3\nrun: |\n  echo started-$SKYPILOT_NODE_RANK\n  \
         while [ ! -f ~/release ]; do sleep 0.1; done\n  echo finished-$SKYPILOT_NODE_RANK\n  \
         while [ ! -f ~/exit ]; do sleep 0.1; done\n  exit 3\n",
    );
    let job = {
        let a = backend.broker();
        let job = launch(&a, &t, "restart").await;
        eventually("every rank to start", || async {
            let lines = logs_now(&a, "restart", job).await;
            (lines.iter().filter(|l| l.starts_with("started-")).count() == 3).then_some(())
        })
        .await;
        job
        // `a` is dropped here: its connections close, the job keeps running.
    };
    let b = backend.broker();
    let q = b.queue("restart").await.unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].status, JobStatus::Running);
    let lines = logs_now(&b, "restart", job).await;
    for r in 0..3 {
        assert!(lines.contains(&format!("started-{r}")), "{lines:#?}");
    }
    release(&b, "restart", "release").await;
    // Every rank logs its last line before any may exit: the first failing rank ends the
    // job and cancels the others.
    eventually("every rank to finish", || async {
        let lines = logs_now(&b, "restart", job).await;
        (lines.iter().filter(|l| l.starts_with("finished-")).count() == 3).then_some(())
    })
    .await;
    release(&b, "restart", "exit").await;
    let done = b.wait_job("restart", job, WAIT).await.unwrap();
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.exit_code, Some(3));
    let (_, lines) = follow(&b, "restart", job).await;
    for r in 0..3 {
        assert!(lines.iter().any(|l| l.text == format!("finished-{r}")));
    }
    // A third broker sees the same final record.
    let c = backend.broker();
    assert_eq!(c.job("restart", job).unwrap(), done);
    c.down("restart").await.unwrap();
}

pub async fn fifo_with_gang_scheduling(backend: &Backend) {
    let b = backend.broker();
    let first = launch(&b, &task("num_nodes: 2\nrun: echo up\n"), "fifo").await;
    assert_eq!(
        b.wait_job("fifo", first, WAIT).await.unwrap().status,
        JobStatus::Succeeded
    );
    let a = b
        .exec(
            "fifo",
            &task("name: a\nnum_nodes: 2\nrun: |\n  while [ ! -f ~/release-a ]; do sleep 0.1; done\n  echo a-done\n"),
        )
        .await
        .unwrap();
    let bj = b
        .exec(
            "fifo",
            &task("name: b\nrun: echo b-ran-on-$SKYPILOT_NODE_RANK\n"),
        )
        .await
        .unwrap();
    assert_eq!((a, bj), (first + 1, first + 2));
    for _ in 0..3 {
        let q = b.queue("fifo").await.unwrap();
        let status = |id: u64| q.iter().find(|j| j.job_id == id).unwrap().status;
        assert_eq!(status(a), JobStatus::Running);
        assert_eq!(
            status(bj),
            JobStatus::Pending,
            "B must wait for both of A's nodes"
        );
    }
    assert!(b.job("fifo", bj).unwrap().node_ranks.is_empty());
    // A new broker sees the same queue and B still waits.
    assert_eq!(
        backend.broker().queue("fifo").await.unwrap()[2].status,
        JobStatus::Pending
    );
    release(&b, "fifo", "release-a").await;
    let a_done = b.wait_job("fifo", a, WAIT).await.unwrap();
    assert_eq!(a_done.status, JobStatus::Succeeded);
    let b_done = b.wait_job("fifo", bj, WAIT).await.unwrap();
    assert_eq!(b_done.status, JobStatus::Succeeded);
    assert_eq!(b_done.node_ranks, [0]);
    assert!(b_done.started_at.unwrap() >= a_done.ended_at.unwrap());
    let (_, lines) = follow(&b, "fifo", bj).await;
    assert_eq!(
        lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
        ["b-ran-on-0"]
    );
    assert_eq!(
        lines[0].prefix, "",
        "a one-node job's lines carry no prefix"
    );
    b.down("fifo").await.unwrap();
}

pub async fn exit_codes_and_failed_setup(backend: &Backend) {
    let b = backend.broker();
    let t = task("num_nodes: 2\nsetup: |\n  echo preparing\n  exit 7\nrun: echo never\n");
    let job = launch(&b, &t, "codes").await;
    let (rec, lines) = follow(&b, "codes", job).await;
    assert_eq!(rec.status, JobStatus::FailedSetup, "{rec:?}");
    assert_eq!(rec.exit_code, Some(7));
    assert!(lines.iter().any(|l| l.text == "preparing"));
    assert!(lines.iter().all(|l| l.text != "never"));
    let fail = b
        .exec(
            "codes",
            &task("num_nodes: 2\nrun: exit $((40 + SKYPILOT_NODE_RANK))\n"),
        )
        .await
        .unwrap();
    let rec = b.wait_job("codes", fail, WAIT).await.unwrap();
    assert_eq!(rec.status, JobStatus::Failed);
    // Both ranks fail; whichever sky saw failing first (the lowest rank when it saw both)
    // gives the code, and the message names that rank. The other one is killed.
    let code = rec.exit_code.expect("a failed job has a code");
    assert!(
        code == 40 || code == 41,
        "a failing rank's own code: {code}"
    );
    let rank = code - 40;
    assert_eq!(
        rec.message.as_deref(),
        Some(format!("rank {rank}: run exited with code {code}").as_str())
    );
    let ok = b.exec("codes", &task("run: exit 0\n")).await.unwrap();
    let rec = b.wait_job("codes", ok, WAIT).await.unwrap();
    assert_eq!((rec.status, rec.exit_code), (JobStatus::Succeeded, Some(0)));
    // A node failing ends the gang: the other node's process is killed, not waited for.
    let gang = b
        .exec(
            "codes",
            &task("num_nodes: 2\nrun: |\n  if [ $SKYPILOT_NODE_RANK = 1 ]; then exit 5; fi\n  sleep 300\n"),
        )
        .await
        .unwrap();
    let rec = tokio::time::timeout(Duration::from_secs(30), b.wait_job("codes", gang, WAIT))
        .await
        .expect("the gang ends when a node fails")
        .unwrap();
    assert_eq!(rec.status, JobStatus::Failed);
    assert_eq!(rec.exit_code, Some(5));
    let codes: Vec<_> = b
        .queue("codes")
        .await
        .unwrap()
        .iter()
        .map(|j| j.exit_code)
        .collect();
    assert_eq!(codes, [Some(7), Some(40), Some(0), Some(5)]);
    b.down("codes").await.unwrap();
}

/// Following a job with events tells its phases between the log lines they mark: setup
/// started, the setup's lines, setup finished, run started, the run's lines, job finished;
/// a failed setup ends with `setup failed` and the job's end, and no run.
pub async fn a_followed_job_reports_its_phases(backend: &Backend) {
    use sky_runtime::LogsOptions;
    use sky_runtime::events::LaunchEvent;
    use std::sync::{Arc, Mutex};

    let b = backend.broker();
    // What the follower saw, in order: log lines as `line: ...`, events as their text.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let follow_with_events = |cluster: &'static str, job: u64| {
        let seen = seen.clone();
        let b = &b;
        async move {
            seen.lock().unwrap().clear();
            let sink = seen.clone();
            let options = LogsOptions::new()
                .job(job)
                .follow(true)
                .with_events(move |e: &LaunchEvent| sink.lock().unwrap().push(e.to_string()));
            let lines = seen.clone();
            let rec = tokio::time::timeout(
                WAIT,
                b.logs(cluster, &options, &mut |l| {
                    lines.lock().unwrap().push(format!("line: {}", l.text))
                }),
            )
            .await
            .expect("followed to the end")
            .unwrap();
            (rec, seen.lock().unwrap().clone())
        }
    };
    let t = task("setup: echo preparing\nrun: echo working\n");
    let job = launch(&b, &t, "phases").await;
    let (rec, seen_ok) = follow_with_events("phases", job).await;
    assert_eq!(rec.status, JobStatus::Succeeded);
    assert_eq!(
        seen_ok,
        [
            format!("job {job}: setup started"),
            "line: preparing".to_string(),
            format!("job {job}: setup finished"),
            format!("job {job}: run started"),
            "line: working".to_string(),
            format!("job {job}: SUCCEEDED"),
        ],
        "{seen_ok:#?}"
    );
    let bad = b.exec("phases", &task("run: exit 0\n")).await.unwrap();
    let (_, seen_exec) = follow_with_events("phases", bad).await;
    assert_eq!(
        seen_exec,
        [
            format!("job {bad}: run started"),
            format!("job {bad}: SUCCEEDED")
        ],
        "a job without setup has no setup events"
    );
    b.down("phases").await.unwrap();
    let t = task("setup: |\n  echo preparing\n  exit 3\nrun: echo never\n");
    let job = launch(&b, &t, "phases2").await;
    let (rec, seen_bad) = follow_with_events("phases2", job).await;
    assert_eq!(rec.status, JobStatus::FailedSetup);
    assert_eq!(
        seen_bad,
        [
            format!("job {job}: setup started"),
            "line: preparing".to_string(),
            format!("job {job}: setup failed"),
            format!("job {job}: FAILED_SETUP"),
        ],
        "{seen_bad:#?}"
    );
}
