//! `kill -9` of `sky provision` on moto at moments spread over the launch, then
//! `sky status --refresh` and `sky down`: no instance and no security group is left (the CI
//! version of issue 13's 20-kill run).

use std::time::Duration;

use super::{moto, moto_command, succeeded, write};

/// sky's instances (not terminated) and security groups in `region` whose cluster names
/// start with `prefix`.
async fn left(moto: &str, region: &str, prefix: &str) -> (Vec<String>, Vec<String>) {
    let p = sky::aws::AwsBuilder::from_env()
        .endpoint(moto)
        .regions([region])
        .credentials("testing", "testing")
        .build()
        .await
        .unwrap();
    let c = p.client(region);
    let mut instances = Vec::new();
    for r in c.describe_instances().send().await.unwrap().reservations() {
        for i in r.instances() {
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_owned());
            let cluster = i
                .tags()
                .iter()
                .find(|t| t.key() == Some(sky::aws::TAG_CLUSTER))
                .and_then(|t| t.value())
                .unwrap_or_default();
            if cluster.starts_with(prefix) && state.as_deref() != Some("terminated") {
                instances.push(format!(
                    "{} {cluster} {state:?}",
                    i.instance_id().unwrap_or_default()
                ));
            }
        }
    }
    let groups = c
        .describe_security_groups()
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .filter_map(|g| g.group_name())
        .filter(|n| n.starts_with(&format!("sky-sg-{prefix}")))
        .map(str::to_owned)
        .collect();
    (instances, groups)
}

#[test]
fn kill_9_during_provision_leaves_nothing_after_refresh_and_down() {
    let Some(moto) = moto() else { return };
    let d = tempfile::tempdir().unwrap();
    let task = write(
        d.path(),
        "t.yaml",
        "num_nodes: 2\nresources:\n  infra: aws/us-east-1\n  cpus: 2+\n",
    );
    let prefix = format!("kill{}", std::process::id());
    // Spread over the launch: before the first call, during bootstrap, during RunInstances,
    // while waiting for the nodes (a whole launch on moto takes about a second).
    let delays_ms = [50u64, 150, 250, 400, 600, 900];
    for (i, ms) in delays_ms.iter().enumerate() {
        let name = format!("{prefix}-{i}");
        let mut child = moto_command(
            &["provision", &task, "-c", &name, "-y"],
            d.path(),
            &moto,
            "us-east-1",
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        // The fault being injected is the kill itself, at this moment; nothing waits on it.
        std::thread::sleep(Duration::from_millis(*ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    // The next process reconciles: a half-made cluster with no instance is torn down (its
    // group with it) and removed; the others are listed.
    let out = moto_command(
        &["status", "--refresh", "--json"],
        d.path(),
        &moto,
        "us-east-1",
    )
    .output()
    .unwrap();
    succeeded(&out);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in listed.as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        succeeded(
            &moto_command(&["down", name, "-y"], d.path(), &moto, "us-east-1")
                .output()
                .unwrap(),
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (instances, groups) = rt.block_on(left(&moto, "us-east-1", &prefix));
    assert!(instances.is_empty(), "instances left: {instances:?}");
    assert!(groups.is_empty(), "security groups left: {groups:?}");
}
