//! The scenarios on local nodes (directories on this machine), plus local-only cases.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sky_core::CloudId;
use sky_core::task::Task;
use sky_exec::runner::{DetachedSpec, ExecOutput, FileChunk, OutputSink, SyncOptions};
use sky_exec::{
    ClusterMeta, CommandRunner, ExecError, GangJob, GangNode, JobSpec, LocalRunner, Phase,
    ProcessRef, ProcessStatus, RemoteCommand,
};

use crate::common::Fixture;
use crate::scenarios;

#[tokio::test]
async fn ranks_ips_and_env() {
    scenarios::ranks_ips_and_env(&Fixture::local(3)).await;
}

#[tokio::test]
async fn workdir_and_mounts() {
    scenarios::workdir_and_mounts(&Fixture::local(3)).await;
}

#[tokio::test]
async fn secrets_are_redacted() {
    scenarios::secrets_are_redacted(&Fixture::local(3)).await;
}

#[tokio::test]
async fn cancel_kills_every_process() {
    scenarios::cancel_kills_every_process(&Fixture::local(3)).await;
}

#[tokio::test]
async fn reattach_after_restart() {
    scenarios::reattach_after_restart(&Fixture::local(3)).await;
}

#[tokio::test]
async fn exit_codes_are_kept() {
    scenarios::exit_codes_are_kept(&Fixture::local(3)).await;
}

#[tokio::test]
async fn runner_basics() {
    scenarios::runner_basics(&Fixture::local(1)).await;
}

#[tokio::test]
async fn home_is_the_node_directory() {
    let dir = tempfile::tempdir().unwrap();
    let r = LocalRunner::new(dir.path().join("n")).unwrap();
    assert_eq!(r.node_ip(), "127.0.0.1");
    let out = r.exec("echo \"$HOME\"; pwd").await.unwrap();
    let home = r.home().display().to_string();
    assert_eq!(out.stdout_text(), format!("{home}\n{home}\n"));
    assert_eq!(r.resolve("~/sky_workdir"), r.home().join("sky_workdir"));
    assert_eq!(r.resolve("/abs/path"), Path::new("/abs/path"));
}

/// A node whose detached starts always fail.
#[derive(Debug)]
struct CannotSpawn(LocalRunner);

#[async_trait]
impl CommandRunner for CannotSpawn {
    fn node_ip(&self) -> &str {
        self.0.node_ip()
    }
    async fn exec(&self, script: &str) -> sky_exec::Result<ExecOutput> {
        self.0.exec(script).await
    }
    async fn run(&self, cmd: &RemoteCommand, sink: &dyn OutputSink) -> sky_exec::Result<i32> {
        self.0.run(cmd, sink).await
    }
    async fn spawn_detached(&self, _spec: &DetachedSpec) -> sky_exec::Result<u32> {
        Err(ExecError::InvalidArgument("injected start failure".into()))
    }
    async fn process_status(&self, p: &ProcessRef) -> sky_exec::Result<ProcessStatus> {
        self.0.process_status(p).await
    }
    async fn process_pids(&self, p: &ProcessRef) -> sky_exec::Result<Vec<u32>> {
        self.0.process_pids(p).await
    }
    async fn kill(&self, p: &ProcessRef, grace: Duration) -> sky_exec::Result<ProcessStatus> {
        self.0.kill(p, grace).await
    }
    async fn read_file_from(&self, path: &str, o: u64, m: usize) -> sky_exec::Result<FileChunk> {
        self.0.read_file_from(path, o, m).await
    }
    async fn sync_up(&self, l: &Path, r: &str, o: &SyncOptions) -> sky_exec::Result<()> {
        self.0.sync_up(l, r, o).await
    }
    async fn fetch_file(&self, r: &str, l: &Path) -> sky_exec::Result<()> {
        self.0.fetch_file(r, l).await
    }
}

#[tokio::test]
async fn failed_gang_start_kills_the_started_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for r in 0..3u32 {
        let local = LocalRunner::new(dir.path().join(format!("n{r}"))).unwrap();
        let runner: Arc<dyn CommandRunner> = if r == 1 {
            Arc::new(CannotSpawn(local))
        } else {
            Arc::new(local)
        };
        nodes.push(GangNode::new(r, runner));
    }
    let mut task = Task::new();
    task.num_nodes = 3;
    task.run = Some("sleep 300".into());
    let job = GangJob::for_task(21, &task, nodes).unwrap();
    let spec =
        JobSpec::from_task(&task, 21, ClusterMeta::new("c", CloudId::Local), "sky-t").unwrap();
    let err = job.start(Phase::Run, &spec).await.unwrap_err();
    assert!(
        matches!(&err, ExecError::Node { rank: 1, .. }) && err.to_string().contains("injected"),
        "{err}"
    );
    let status = job.status(Phase::Run).await.unwrap();
    for n in &status.nodes {
        let expect = if n.rank == 1 {
            ProcessStatus::NotFound
        } else {
            ProcessStatus::Exited { code: 143 }
        };
        assert_eq!(n.status, expect, "{status:?}");
    }
    assert!(
        job.pids(Phase::Run)
            .await
            .unwrap()
            .values()
            .all(Vec::is_empty)
    );
}

#[tokio::test]
async fn phase_without_a_script_starts_nothing() {
    let f = Fixture::local(1);
    let task = Task::new();
    let job = f.job(22).await;
    let spec =
        JobSpec::from_task(&task, 22, ClusterMeta::new("c", CloudId::Local), "sky-t").unwrap();
    assert!(!job.start(Phase::Setup, &spec).await.unwrap());
    let s = job.status(Phase::Setup).await.unwrap();
    assert_eq!(s.state, sky_exec::GangState::NotStarted);
}
