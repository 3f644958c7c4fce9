//! Launch wherever `sky check` enabled: the broker `sky launch` uses, built as a library.
//!
//! [`Clouds`] puts the backends together from a state directory: the `local` backend (this
//! machine), and every cloud that the last `sky check` in that directory enabled, each from
//! its environment and with its price catalog (for AWS, GCP and Azure, build with the `sky`
//! features `aws`, `gcp`, `azure`). The example prints what is enabled, builds the broker,
//! launches a small `echo` task on the cheapest backend, prints its output and tears it down.
//!
//! It uses a fresh temporary state directory, where nothing is enabled yet, so the task runs
//! on `local` and needs no cloud account and no network. With `SKY_STATE_DIR` set it uses that
//! directory instead (as `sky` does), and the clouds `sky check` enabled there.
//!
//! ```sh
//! cargo run -p sky-examples --example launch_enabled
//! ```

use sky::clouds::Clouds;
use sky::{Broker, CloudId, JobStatus, LogsOptions, ProvisionOptions, Task};

const TASK: &str = r#"
name: enabled
resources:
  cpus: 1+
run: |
  echo "hello from $SKYPILOT_NUM_NODES node, rank $SKYPILOT_NODE_RANK"
"#;

const CLUSTER: &str = "sky-example-enabled";

fn names(clouds: &[CloudId]) -> String {
    if clouds.is_empty() {
        return "none".into();
    }
    clouds
        .iter()
        .map(CloudId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn launch(broker: &Broker) -> Result<JobStatus, Box<dyn std::error::Error>> {
    let task = Task::from_yaml_str(TASK)?;
    let launched = broker
        .launch(&task, CLUSTER, &ProvisionOptions::new())
        .await?;
    let placed = launched
        .cluster
        .launched
        .as_ref()
        .ok_or("no placement recorded")?;
    println!(
        "launched {CLUSTER} on {}/{} ({}) at ${:.2}/h",
        placed.cloud, placed.region, placed.instance_type, placed.hourly_price
    );
    let job = launched.job_id.ok_or("the task has no run command")?;
    let record = broker
        .logs(
            CLUSTER,
            &LogsOptions::new().job(job).follow(true),
            &mut |line| println!("{line}"),
        )
        .await?;
    println!("job {job}: {}", record.status);
    Ok(record.status)
}

async fn run(clouds: &Clouds) -> Result<(), Box<dyn std::error::Error>> {
    println!("state directory: {}", clouds.state_dir().display());
    println!(
        "enabled by `sky check`: {}",
        names(&clouds.enabled().clouds)
    );
    let broker = clouds.broker().await?;
    println!("backends: {}", names(&broker.clouds()));
    // (The error as text: a boxed error is not `Send`, and the teardown awaits.)
    let status = launch(&broker).await.map_err(|e| e.to_string());
    // Tear down whatever happened to the job (a failed launch leaves no cluster to remove).
    if broker.status()?.iter().any(|c| c.name == CLUSTER) {
        broker.down(CLUSTER).await?;
        println!("cluster {CLUSTER} torn down");
    }
    match status? {
        JobStatus::Succeeded => Ok(()),
        other => Err(format!("the job ended {other}").into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("SKY_STATE_DIR").is_some() {
        return run(&Clouds::from_env()).await;
    }
    let state = std::env::temp_dir().join(format!("sky-launch-enabled-{}", std::process::id()));
    let result = run(&Clouds::new(&state)).await;
    let _ = std::fs::remove_dir_all(&state);
    result
}
