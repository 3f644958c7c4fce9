//! Quickstart: launch a 2-node task on this machine (the `local` backend: each node is a
//! directory), stream its logs, wait for it to succeed and tear the cluster down.
//!
//! Needs nothing but a Rust toolchain (and bash): no cloud account, no sshd.
//!
//! ```sh
//! cargo run -p sky-examples --example quickstart
//! ```

use std::path::Path;
use std::sync::Arc;

use sky::local::LocalCloud;
use sky::{Broker, JobStatus, LogsOptions, ProvisionOptions, Task};

const TASK: &str = r#"
name: quickstart
num_nodes: 2
envs:
  GREETING: hello
setup: |
  echo "setup on rank $SKYPILOT_SETUP_NODE_RANK"
run: |
  echo "$GREETING from rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES"
  echo "node IPs: $(echo $SKYPILOT_NODE_IPS)"
"#;

async fn quickstart(state: &Path) -> Result<JobStatus, Box<dyn std::error::Error>> {
    let broker = Broker::builder()
        .state_dir(state)?
        .backend(Arc::new(LocalCloud::new(state)))
        .build()?;
    let task = Task::from_yaml_str(TASK)?;
    let launched = broker
        .launch(&task, "quickstart", &ProvisionOptions::new())
        .await?;
    let job = launched.job_id.ok_or("the task has no run command")?;
    println!(
        "launched cluster {} ({} nodes on this machine), job {job}",
        launched.cluster.name,
        launched.cluster.nodes.len()
    );
    let record = broker
        .logs(
            "quickstart",
            &LogsOptions::new().job(job).follow(true),
            &mut |line| println!("{line}"),
        )
        .await?;
    println!("job {job}: {}", record.status);
    broker.down("quickstart").await?;
    println!("cluster quickstart torn down");
    Ok(record.status)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = std::env::temp_dir().join(format!("sky-quickstart-{}", std::process::id()));
    let result = quickstart(&state).await;
    let _ = std::fs::remove_dir_all(&state);
    match result? {
        JobStatus::Succeeded => Ok(()),
        other => Err(format!("the job ended {other}").into()),
    }
}
