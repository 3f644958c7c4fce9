//! Gang-job scenarios, run on local nodes (`local.rs`) and on SSH hosts (`ssh.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use sky_core::CloudId;
use sky_core::resources::AcceleratorSpec;
use sky_core::task::{FileMount, Secret, Task, Workdir};
use sky_exec::gang::run_timestamp;
use sky_exec::{
    ClusterMeta, CollectSink, ExecEnv, GangJob, GangState, JobSpec, LogFollower, NodeStatus, Phase,
    ProcessStatus, RemoteCommand, Stream,
};

use crate::common::{
    Fixture, WAIT, cmdlines_containing, eventually, field, files_containing, log_of, pid_alive,
};

fn cluster() -> ClusterMeta {
    ClusterMeta::new("test-cluster", CloudId::Aws)
        .with_region("us-east-1")
        .with_zone("us-east-1a")
        .with_accelerators(Some(&AcceleratorSpec::named("V100", 1.5)))
}

fn spec(task: &Task, job_id: u64) -> JobSpec {
    JobSpec::from_task(task, job_id, cluster(), &run_timestamp(SystemTime::now())).unwrap()
}

fn three_node_task(run: &str) -> Task {
    let mut task = Task::new();
    task.num_nodes = 3;
    task.run = Some(run.to_string());
    task
}

/// A 3-node job: each rank sees its rank, every IP in rank order, SkyPilot's variables, and
/// runs on the node of its rank; setup sees the setup variables. Logs follow with prefixes.
pub async fn ranks_ips_and_env(f: &Fixture) {
    let mut task = three_node_task(
        r#"echo "RANK=$SKYPILOT_NODE_RANK"
echo "IPS=$(printf '%s' "$SKYPILOT_NODE_IPS" | paste -sd, -)"
echo "IP_LINES=$(printf '%s\n' "$SKYPILOT_NODE_IPS" | wc -l)"
echo "NUM_NODES=$SKYPILOT_NUM_NODES"
echo "GPUS=$SKYPILOT_NUM_GPUS_PER_NODE"
echo "TASK_ID=$SKYPILOT_TASK_ID"
echo "CLUSTER_INFO=$SKYPILOT_CLUSTER_INFO"
echo "NODE_ID=$(cat ~/node-id)"
echo "MY_VAR=$MY_VAR"
set -- $SSH_CONNECTION
echo "SERVER_IP=$3"
"#,
    );
    task.setup = Some(
        r#"echo "SETUP_RANK=$SKYPILOT_SETUP_NODE_RANK"
echo "SETUP_IPS=$(printf '%s' "$SKYPILOT_SETUP_NODE_IPS" | paste -sd, -)"
echo "SETUP_HAS_RUN_RANK=${SKYPILOT_NODE_RANK:-no}"
"#
        .to_string(),
    );
    task.envs
        .insert("MY_VAR".into(), Some("hello world".into()));
    let job = GangJob::for_task(11, &task, f.nodes().await).unwrap();
    let spec = spec(&task, 11);
    let ips = job.ips();
    assert_eq!(ips.len(), 3);

    assert!(job.start(Phase::Setup, &spec).await.unwrap());
    let setup = job.wait(Phase::Setup, WAIT).await.unwrap();
    assert_eq!(setup.state, GangState::Succeeded, "{setup:?}");
    for r in 0..3u32 {
        let log = log_of(&job, Phase::Setup, r).await;
        assert_eq!(
            field(&log, "SETUP_RANK"),
            Some(r.to_string().as_str()),
            "{log}"
        );
        assert_eq!(field(&log, "SETUP_IPS"), Some(ips.join(",").as_str()));
        assert_eq!(field(&log, "SETUP_HAS_RUN_RANK"), Some("no"));
    }

    assert!(job.start(Phase::Run, &spec).await.unwrap());
    let mut follower = LogFollower::new(&job, Phase::Run);
    let mut followed = Vec::new();
    let status = follower
        .follow(&job, Duration::from_millis(50), Some(WAIT), |l| {
            followed.push(l)
        })
        .await
        .unwrap();
    assert_eq!(status.state, GangState::Succeeded, "{status:?}");
    for r in 0..3u32 {
        let log = log_of(&job, Phase::Run, r).await;
        assert_eq!(field(&log, "RANK"), Some(r.to_string().as_str()), "{log}");
        assert_eq!(field(&log, "IPS"), Some(ips.join(",").as_str()));
        assert_eq!(field(&log, "IP_LINES"), Some("3"));
        assert_eq!(field(&log, "NUM_NODES"), Some("3"));
        assert_eq!(field(&log, "GPUS"), Some("2"));
        assert_eq!(field(&log, "TASK_ID"), Some(spec.task_id.as_str()));
        assert!(spec.task_id.starts_with("sky-") && spec.task_id.ends_with("_test-cluster_11"));
        let info: serde_json::Value =
            serde_json::from_str(field(&log, "CLUSTER_INFO").unwrap()).unwrap();
        assert_eq!(
            info,
            serde_json::json!({"cluster_name": "test-cluster", "cloud": "AWS",
                               "region": "us-east-1", "zone": "us-east-1a"})
        );
        assert_eq!(field(&log, "NODE_ID"), Some(format!("node-{r}").as_str()));
        assert_eq!(field(&log, "MY_VAR"), Some("hello world"));
        if f.is_ssh() {
            // The process of rank r really runs on the host whose address is IP r.
            assert_eq!(field(&log, "SERVER_IP"), Some(ips[r as usize].as_str()));
        }
        // The follower saw the same lines, prefixed with the node.
        let prefix = if r == 0 {
            format!("(head, rank=0, ip={}) ", ips[0])
        } else {
            format!("(worker{r}, rank={r}, ip={}) ", ips[r as usize])
        };
        let mine: Vec<String> = followed
            .iter()
            .filter(|l| l.rank == r)
            .map(|l| {
                assert_eq!(l.prefix, prefix);
                l.text.clone()
            })
            .collect();
        assert_eq!(mine, log.lines().map(str::to_string).collect::<Vec<_>>());
        assert!(
            followed
                .iter()
                .any(|l| l.to_string() == format!("{prefix}RANK={r}"))
        );
    }
    // A follower resumed at the saved offsets has nothing new.
    let mut again = LogFollower::new(&job, Phase::Run).resume_from(&follower.offsets());
    assert!(again.poll(&job).await.unwrap().is_empty());
}

/// The workdir is mirrored to `~/sky_workdir` on every node (ignores honoured, stale files
/// deleted) and local file mounts land at their targets; run starts in the workdir.
pub async fn workdir_and_mounts(f: &Fixture) {
    let src = tempfile::tempdir().unwrap();
    let wd = src.path().join("wd");
    std::fs::create_dir_all(wd.join("sub")).unwrap();
    std::fs::write(wd.join("hello.txt"), "hello from the workdir\n").unwrap();
    std::fs::write(wd.join("sub/nested.txt"), "nested\n").unwrap();
    std::fs::write(wd.join("debug.log"), "ignored\n").unwrap();
    std::fs::write(wd.join(".skyignore"), "*.log\n").unwrap();
    std::fs::write(src.path().join("config.txt"), "config-value\n").unwrap();
    std::fs::create_dir_all(src.path().join("data")).unwrap();
    std::fs::write(src.path().join("data/d.txt"), "data-file\n").unwrap();
    for r in 0..3 {
        let stale = f.home(r).join("sky_workdir");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("stale.txt"), "old").unwrap();
    }

    let mut task = three_node_task(
        r#"echo "PWD=$PWD"
echo "HELLO=$(cat hello.txt)"
echo "NESTED=$(cat sub/nested.txt)"
if [ -e debug.log ]; then echo IGNORED=present; else echo IGNORED=absent; fi
if [ -e stale.txt ]; then echo STALE=present; else echo STALE=absent; fi
echo "CONFIG=$(cat ~/mounts/config.txt)"
echo "DATA=$(cat ~/mounts/data/d.txt)"
"#,
    );
    task.workdir = Some(Workdir::Path(wd.clone()));
    task.file_mounts.insert(
        "~/mounts/config.txt".into(),
        FileMount::Local(src.path().join("config.txt").display().to_string()),
    );
    task.file_mounts.insert(
        "~/mounts/data".into(),
        FileMount::Local(src.path().join("data").display().to_string()),
    );
    let job = GangJob::for_task(12, &task, f.nodes().await).unwrap();
    job.sync_task_files(&task).await.unwrap();
    job.start(Phase::Run, &spec(&task, 12)).await.unwrap();
    let status = job.wait(Phase::Run, WAIT).await.unwrap();
    assert_eq!(status.state, GangState::Succeeded, "{status:?}");
    for r in 0..3u32 {
        let log = log_of(&job, Phase::Run, r).await;
        assert!(
            field(&log, "PWD").unwrap().ends_with("/sky_workdir"),
            "{log}"
        );
        assert_eq!(field(&log, "HELLO"), Some("hello from the workdir"));
        assert_eq!(field(&log, "NESTED"), Some("nested"));
        assert_eq!(field(&log, "IGNORED"), Some("absent"));
        assert_eq!(field(&log, "STALE"), Some("absent"));
        assert_eq!(field(&log, "CONFIG"), Some("config-value"));
        assert_eq!(field(&log, "DATA"), Some("data-file"));
        let home = f.home(r);
        assert_eq!(
            std::fs::read_to_string(home.join("sky_workdir/hello.txt")).unwrap(),
            "hello from the workdir\n"
        );
    }
}

const TOKEN: &str = "s3cr3t-Value'with\"quotes $HOME `x`";
const MULTI: &str = "first-secret-line\nsecond-secret-line";

/// Envs and secrets reach the process; secret values appear in no log, no job file and no
/// command line; attached runs redact streamed output too.
pub async fn secrets_are_redacted(f: &Fixture) {
    let mut task = three_node_task(
        r#"echo "VAR=$MY_VAR"
echo "TOKEN=$TOKEN"
echo "TOKEN_LEN=${#TOKEN}"
echo "$MULTI"
echo "MULTI_LINES=$(printf '%s\n' "$MULTI" | wc -l)"
echo "READY"
while [ ! -e ~/release-13 ]; do sleep 0.05; done
"#,
    );
    task.envs.insert("MY_VAR".into(), Some("visible".into()));
    task.secrets
        .insert("TOKEN".into(), Some(Secret::new(TOKEN)));
    task.secrets
        .insert("MULTI".into(), Some(Secret::new(MULTI)));
    let job = GangJob::for_task(13, &task, f.nodes().await).unwrap();
    job.start(Phase::Run, &spec(&task, 13)).await.unwrap();
    eventually("every rank to print READY", || async {
        for r in 0..3 {
            if !log_of(&job, Phase::Run, r).await.contains("READY") {
                return None;
            }
        }
        Some(())
    })
    .await;
    // While the job runs: no command line on this machine (the test hosts share its process
    // table) carries a secret.
    for needle in ["s3cr3t-Value", "first-secret-line", "second-secret-line"] {
        assert_eq!(
            cmdlines_containing(needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    for r in 0..3 {
        let home = f.home(r);
        std::fs::write(home.join("release-13"), "").unwrap();
    }
    let status = job.wait(Phase::Run, WAIT).await.unwrap();
    assert_eq!(status.state, GangState::Succeeded, "{status:?}");
    for r in 0..3u32 {
        let log = log_of(&job, Phase::Run, r).await;
        assert_eq!(field(&log, "VAR"), Some("visible"));
        assert_eq!(field(&log, "TOKEN"), Some("<redacted>"), "{log}");
        assert_eq!(
            field(&log, "TOKEN_LEN"),
            Some(TOKEN.len().to_string().as_str())
        );
        assert_eq!(field(&log, "MULTI_LINES"), Some("2"));
        assert_eq!(
            log.lines().filter(|l| *l == "<redacted>").count(),
            2,
            "both lines of the multi-line secret are redacted: {log}"
        );
        for needle in ["s3cr3t-Value", "first-secret-line", "second-secret-line"] {
            assert!(!log.contains(needle), "{needle} leaked into the log: {log}");
            let leaked = files_containing(&f.home(r).join(".sky"), needle);
            assert!(leaked.is_empty(), "{needle} leaked into {leaked:?}");
        }
    }

    // The value really reached the process: compare inside the process without printing it.
    let runner = f.runner(0).await;
    let env = ExecEnv::new()
        .var("PLAIN", "p")
        .secret("TOKEN", Secret::new(TOKEN));
    let sink = CollectSink::new();
    let script = format!(
        "echo \"plain=$PLAIN token=$TOKEN\"\n[ \"$TOKEN\" = {} ] && echo token-ok\necho \"to stderr $TOKEN\" >&2\nexit 5",
        shell_quote(TOKEN)
    );
    let code = runner
        .run(&RemoteCommand::new(script).with_env(env), &sink)
        .await
        .unwrap();
    assert_eq!(code, 5);
    assert_eq!(
        sink.text(Stream::Stdout),
        ["plain=p token=<redacted>", "token-ok"]
    );
    assert_eq!(sink.text(Stream::Stderr), ["to stderr <redacted>"]);
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Cancelling kills every process of the job on every node.
pub async fn cancel_kills_every_process(f: &Fixture) {
    let task = three_node_task("sleep 300 &\necho started\nsleep 301\nwait\n");
    let job = GangJob::for_task(14, &task, f.nodes().await).unwrap();
    job.start(Phase::Run, &spec(&task, 14)).await.unwrap();
    let pids = eventually("every rank to run its two sleeps", || async {
        let pids = job.pids(Phase::Run).await.unwrap();
        // wrapper, job shell, log filter and two sleeps.
        pids.values().all(|p| p.len() >= 5).then_some(pids)
    })
    .await;
    let all: Vec<u32> = pids.values().flatten().copied().collect();
    assert!(all.iter().all(|p| pid_alive(*p)));
    assert_eq!(
        job.status(Phase::Run).await.unwrap().state,
        GangState::Running
    );

    let after = job.cancel(Phase::Run).await.unwrap();
    for n in &after.nodes {
        assert_eq!(n.status, ProcessStatus::Exited { code: 143 }, "{after:?}");
    }
    assert_eq!(after.state, GangState::Failed { rank: 0, code: 143 });
    let alive: Vec<u32> = all.iter().copied().filter(|p| pid_alive(*p)).collect();
    assert!(alive.is_empty(), "still alive after cancel: {alive:?}");
    assert!(
        job.pids(Phase::Run)
            .await
            .unwrap()
            .values()
            .all(Vec::is_empty)
    );
    // Cancelling again is a no-op.
    assert_eq!(job.cancel(Phase::Run).await.unwrap(), after);
}

/// A new process (new runners, new job handle) re-attaches to a running job's status and
/// logs after the original handles are dropped, and sees it finish.
pub async fn reattach_after_restart(f: &Fixture) {
    let task = three_node_task(
        "echo \"started-$SKYPILOT_NODE_RANK\"\nwhile [ ! -e ~/go-15 ]; do sleep 0.05; done\necho \"finished-$SKYPILOT_NODE_RANK\"\n",
    );
    {
        let job = GangJob::for_task(15, &task, f.nodes().await).unwrap();
        job.start(Phase::Run, &spec(&task, 15)).await.unwrap();
        eventually("every rank to start", || async {
            for r in 0..3 {
                if !log_of(&job, Phase::Run, r).await.contains("started-") {
                    return None;
                }
            }
            Some(())
        })
        .await;
        // The job handle and every runner (and SSH master connection) are dropped here.
    }
    let job = f.job(15).await;
    let status = job.status(Phase::Run).await.unwrap();
    assert_eq!(status.state, GangState::Running, "{status:?}");
    let mut follower = LogFollower::new(&job, Phase::Run);
    let lines = follower.poll(&job).await.unwrap();
    for r in 0..3u32 {
        assert!(
            lines
                .iter()
                .any(|l| l.rank == r && l.text == format!("started-{r}"))
        );
    }
    for r in 0..3u32 {
        let out = job.nodes()[r as usize]
            .runner
            .exec("touch ~/go-15")
            .await
            .unwrap();
        assert_eq!(out.code, 0);
    }
    let mut rest = Vec::new();
    let end = follower
        .follow(&job, Duration::from_millis(50), Some(WAIT), |l| {
            rest.push(l)
        })
        .await
        .unwrap();
    assert_eq!(end.state, GangState::Succeeded);
    for r in 0..3u32 {
        assert!(
            rest.iter()
                .any(|l| l.rank == r && l.text == format!("finished-{r}"))
        );
        assert!(
            !rest.iter().any(|l| l.text.starts_with("started-")),
            "no line twice"
        );
    }
}

/// Exit codes are kept per node; a failing rank fails the job with its code, and waiting
/// cancels the ranks still running.
pub async fn exit_codes_are_kept(f: &Fixture) {
    let task = three_node_task(
        "case $SKYPILOT_NODE_RANK in\n  0) exit 0 ;;\n  1) exit 7 ;;\n  *) sleep 300 ;;\nesac\n",
    );
    let job = GangJob::for_task(16, &task, f.nodes().await).unwrap();
    job.start(Phase::Run, &spec(&task, 16)).await.unwrap();
    let seen = eventually("ranks 0 and 1 to exit", || async {
        let s = job.status(Phase::Run).await.unwrap();
        let done = s.nodes[..2]
            .iter()
            .all(|n| matches!(n.status, ProcessStatus::Exited { .. }));
        done.then_some(s)
    })
    .await;
    assert_eq!(seen.state, GangState::Failed { rank: 1, code: 7 });
    assert!(seen.nodes[2].status.is_running());
    let waited = job.wait(Phase::Run, WAIT).await.unwrap();
    assert_eq!(waited.state, GangState::Failed { rank: 1, code: 7 });
    let after = job.status(Phase::Run).await.unwrap();
    let codes: BTreeMap<u32, ProcessStatus> = after
        .nodes
        .iter()
        .map(|n: &NodeStatus| (n.rank, n.status))
        .collect();
    assert_eq!(codes[&0], ProcessStatus::Exited { code: 0 });
    assert_eq!(codes[&1], ProcessStatus::Exited { code: 7 });
    assert_eq!(
        codes[&2],
        ProcessStatus::Exited { code: 143 },
        "the straggler was cancelled"
    );
    assert_eq!(after.state, GangState::Failed { rank: 1, code: 7 });
}

/// Runner basics: exec, reading a file from offsets, fetching it back, refusing to start a
/// running process twice, SIGKILL escalation when SIGTERM is ignored.
pub async fn runner_basics(f: &Fixture) {
    let runner = f.runner(0).await;
    let out = runner
        .exec("mkdir -p ~/data && printf 'abcdef\\n' > ~/data/f.txt && echo ok; exit 3")
        .await
        .unwrap();
    assert_eq!((out.code, out.stdout_text().as_str()), (3, "ok\n"));
    let chunk = runner.read_file_from("~/data/f.txt", 2, 3).await.unwrap();
    assert!(chunk.exists);
    assert_eq!(chunk.data, b"cde");
    let missing = runner
        .read_file_from("~/data/none.txt", 0, 10)
        .await
        .unwrap();
    assert!(!missing.exists && missing.data.is_empty());
    let local = tempfile::tempdir().unwrap();
    let dst = local.path().join("back/f.txt");
    runner.fetch_file("~/data/f.txt", &dst).await.unwrap();
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), "abcdef\n");

    let p = sky_exec::ProcessRef::new("~/.sky/jobs/basics", "stubborn").unwrap();
    assert_eq!(
        runner.process_status(&p).await.unwrap(),
        ProcessStatus::NotFound
    );
    let spec = sky_exec::DetachedSpec {
        process: p.clone(),
        command: RemoteCommand::new("trap '' TERM\necho up\nsleep 300\n"),
    };
    let pid = runner.spawn_detached(&spec).await.unwrap();
    assert_eq!(
        runner.process_status(&p).await.unwrap(),
        ProcessStatus::Running { pid }
    );
    let again = runner.spawn_detached(&spec).await.unwrap_err();
    assert!(
        matches!(again, sky_exec::ExecError::AlreadyRunning { pid: q, .. } if q == pid),
        "{again}"
    );
    let pids = runner.process_pids(&p).await.unwrap();
    assert!(pids.contains(&pid));
    let killed = runner.kill(&p, Duration::from_millis(300)).await.unwrap();
    assert_eq!(killed, ProcessStatus::Exited { code: 137 });
    assert!(pids.iter().all(|p| !pid_alive(*p)));
    // A finished process may be started again under the same name.
    let spec = sky_exec::DetachedSpec {
        process: p.clone(),
        command: RemoteCommand::new("echo second run"),
    };
    runner.spawn_detached(&spec).await.unwrap();
    let code = eventually("the second run to exit", || async {
        match runner.process_status(&p).await.unwrap() {
            ProcessStatus::Exited { code } => Some(code),
            _ => None,
        }
    })
    .await;
    assert_eq!(code, 0);
    let log = runner.read_file_from(&p.log_path(), 0, 1000).await.unwrap();
    assert_eq!(String::from_utf8(log.data).unwrap(), "second run\n");
}
