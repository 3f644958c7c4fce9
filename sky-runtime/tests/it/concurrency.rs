//! Two processes launching the same cluster name on one state dir: exactly one provisions.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sky_core::fake::{FakeCloud, SimMode};
use sky_runtime::state::{StateError, StateStore};
use sky_runtime::{Broker, BrokerError, ProvisionOptions};

use crate::common::*;

const CHILD_ENV: &str = "SKY_TEST_CONCURRENCY_CHILD_DIR";
const OPENER_ENV: &str = "SKY_TEST_CONCURRENCY_OPENER";

/// In the child process: provision on a fake whose nodes never come up, so the lease stays
/// held until the parent kills us. Ignored (not a test of its own): the parent runs it with
/// `--ignored`, and it is a no-op without the parent's environment.
#[tokio::test]
#[ignore = "a child process of a_second_process_is_refused_while_the_first_provisions"]
async fn child_holds_the_lease() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let fake = FakeCloud::builder().mode(SimMode::Explicit).build();
    let b = Broker::builder()
        .cloud(Arc::new(fake.clone()), Arc::new(fake.clone()))
        .state_dir(std::path::Path::new(&dir))
        .unwrap()
        .build()
        .unwrap();
    let opts = ProvisionOptions::new().with_wait_timeout(Duration::from_secs(600));
    let _ = b.provision(&cpu_task(1), "shared", &opts).await;
}

#[tokio::test]
async fn a_second_process_is_refused_while_the_first_provisions() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "concurrency::child_holds_the_lease",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("child.stderr")).unwrap())
        .spawn()
        .unwrap();
    let state = Arc::new(StateStore::open(dir.path()).unwrap());
    // Wait (bounded) until the child has recorded the nodes it launched.
    let start = Instant::now();
    loop {
        if state
            .get("shared")
            .unwrap()
            .is_some_and(|r| !r.nodes.is_empty())
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the child never started provisioning (exit: {:?}); its stderr:\n{}",
            child.try_wait(),
            std::fs::read_to_string(dir.path().join("child.stderr")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let fake = FakeCloud::default();
    let b = broker_with(&[&fake], state.clone());
    let err = b
        .provision(&cpu_task(1), "shared", &opts())
        .await
        .unwrap_err();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        matches!(err, BrokerError::State(StateError::Busy { .. })),
        "{err}"
    );
    assert!(
        fake.calls().is_empty(),
        "the refused process made no provider call"
    );
    let rec = state.get("shared").unwrap().unwrap();
    assert_eq!(rec.nodes.len(), 1, "exactly one provisioner created nodes");
}

/// In a child process: at the agreed moment (`OPENER_ENV` = `<dir>|<unix ms>`), open the
/// state store; the exit status says whether it opened. Ignored (not a test of its own): the
/// parent runs it with `--ignored`, and it is a no-op without the parent's environment.
#[test]
#[ignore = "a child process of processes_opening_a_new_state_dir_at_once_all_succeed"]
fn child_opens_the_store() {
    let Some(spec) = std::env::var_os(OPENER_ENV) else {
        return;
    };
    let spec = spec.to_string_lossy().into_owned();
    let (dir, at) = spec.split_once('|').unwrap();
    let at = std::time::UNIX_EPOCH + Duration::from_millis(at.parse().unwrap());
    // Start together, to open the new file at the same moment (the race under test).
    if let Ok(wait) = at.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(wait);
    }
    StateStore::open(std::path::Path::new(dir)).unwrap();
}

/// Several processes opening a new state dir at once all succeed (SQLite's switch to WAL
/// does not wait on the busy handler; the store retries it).
#[test]
fn processes_opening_a_new_state_dir_at_once_all_succeed() {
    for round in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 400;
        let children: Vec<_> = (0..6)
            .map(|_| {
                Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--exact",
                        "concurrency::child_opens_the_store",
                        "--ignored",
                        "--nocapture",
                    ])
                    .env(OPENER_ENV, format!("{}|{at}", dir.path().display()))
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: a process failed to open the new state dir:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A provisioning whose future is dropped (a caller's timeout) releases its lease at once:
/// the holder lives on, so the lease would otherwise bind for as long as the process does.
#[tokio::test]
async fn a_dropped_provisioning_releases_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCloud::builder().mode(SimMode::Explicit).build();
    let b = Arc::new(
        Broker::builder()
            .cloud(Arc::new(fake.clone()), Arc::new(fake.clone()))
            .state_dir(dir.path())
            .unwrap()
            .build()
            .unwrap(),
    );
    let task = {
        let b = b.clone();
        tokio::spawn(async move {
            let opts = ProvisionOptions::new().with_wait_timeout(Duration::from_secs(600));
            let _ = b.provision(&cpu_task(1), "c", &opts).await;
        })
    };
    // Wait (bounded) until it has launched its node and holds the lease.
    let start = Instant::now();
    let launched = |b: &Broker| {
        b.state()
            .get("c")
            .unwrap()
            .is_some_and(|r| !r.nodes.is_empty())
    };
    while !launched(&b) {
        assert!(start.elapsed() < Duration::from_secs(30), "never launched");
        tokio::task::yield_now().await;
    }
    assert!(
        b.state()
            .get("c")
            .unwrap()
            .unwrap()
            .provisioning_by
            .is_some()
    );
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(b.state().get("c").unwrap().unwrap().provisioning_by, None);
}
