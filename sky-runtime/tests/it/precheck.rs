//! Checks before money: what a task asks for and sky cannot honour is refused, naming the
//! field, before the first provider call; `resources.autostop` takes effect at launch.

use sky_core::Task;
use sky_core::fake::{FakeCloud, Op};
use sky_runtime::BrokerError;
use sky_runtime::state::AutostopSetting;

use crate::common::*;

fn task(yaml: &str) -> Task {
    Task::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// Launching `yaml` is refused at `field`, and nothing was created: no provider call that
/// makes something, no cluster row.
async fn refused_at(yaml: &str, field: &str) {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let err = b.launch(&task(yaml), "c1", &opts()).await.unwrap_err();
    match &err {
        BrokerError::Refused { field: f, .. } => assert_eq!(f, field, "{err}"),
        BrokerError::Exec { .. } => assert_eq!(field, "(exec)", "{err}"),
        other => panic!("{yaml}: expected a refusal at {field}, got {other}"),
    }
    assert!(fake.calls_of(Op::Bootstrap).is_empty(), "{yaml}");
    assert!(fake.calls_of(Op::RunInstances).is_empty(), "{yaml}");
    assert!(b.status().unwrap().is_empty(), "{yaml}");
}

#[tokio::test]
async fn what_sky_cannot_honour_is_refused_before_anything_is_created() {
    refused_at(
        "resources:\n  image_id: docker:ubuntu:22.04\nrun: cat /etc/os-release\n",
        "resources.image_id",
    )
    .await;
    refused_at(
        "resources:\n  disk_tier: high\nrun: x\n",
        "resources.disk_tier",
    )
    .await;
    refused_at(
        "resources:\n  network_tier: best\nrun: x\n",
        "resources.network_tier",
    )
    .await;
    refused_at(
        "resources:\n  autostop: {idle_minutes: 5, hook: echo bye}\nrun: x\n",
        "resources.autostop.hook",
    )
    .await;
    refused_at(
        "resources:\n  autostop: {idle_minutes: 5, wait_for: jobs_and_ssh}\nrun: x\n",
        "resources.autostop.wait_for",
    )
    .await;
    refused_at(
        "config:\n  docker:\n    run_options: [--shm-size=1g]\nrun: x\n",
        "config.docker.run_options",
    )
    .await;
    refused_at(
        "resources:\n  any_of:\n    - cpus: 2\n    - cpus: 4\n      image_id: docker:x\nrun: x\n",
        "resources.any_of[1].image_id",
    )
    .await;
    // Files and envs: a cloud URI, a missing local source, an env or secret without a value.
    refused_at(
        "file_mounts:\n  /data: s3://bucket/data\nrun: ls /data\n",
        "(exec)",
    )
    .await;
    refused_at(
        "file_mounts:\n  /data: /no/such/dir/here\nrun: x\n",
        "(exec)",
    )
    .await;
    refused_at("envs:\n  MODEL: null\nrun: echo $MODEL\n", "(exec)").await;
    refused_at("secrets:\n  HF_TOKEN: null\nrun: x\n", "(exec)").await;
}

#[tokio::test]
async fn provision_refuses_resources_too() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let err = b
        .provision(&task("resources:\n  disk_tier: best\n"), "c1", &opts())
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::Refused { .. }), "{err}");
    assert!(fake.calls_of(Op::RunInstances).is_empty());
}

#[tokio::test]
async fn the_tasks_autostop_takes_effect_at_launch() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let rec = b
        .provision(
            &task("resources:\n  autostop: {idle_minutes: 30, down: true}\n"),
            "c1",
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(
        rec.autostop,
        Some(AutostopSetting {
            idle_minutes: 30,
            down: true
        })
    );
    assert_eq!(b.cluster("c1").unwrap().autostop, rec.autostop);
    // `autostop: false` clears a setting; no autostop leaves it alone.
    let rec = b
        .provision(&task("resources:\n  autostop: false\n"), "c1", &opts())
        .await
        .unwrap();
    assert_eq!(rec.autostop, None);
}

#[tokio::test]
async fn config_for_places_sky_does_not_launch_is_kept_and_launches() {
    let fake = FakeCloud::default();
    let b = broker(&fake);
    let t = task("config:\n  kubernetes:\n    pod_config: {spec: {}}\n");
    let rec = b.provision(&t, "c1", &opts()).await.unwrap();
    assert_eq!(rec.status, sky_runtime::state::ClusterStatus::Up);
}
