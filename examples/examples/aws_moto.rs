//! AWS on the moto emulator: provision a 2-node cluster on EC2 through the broker, print its
//! status, and tear it down.
//!
//! ```sh
//! moto_server -H 127.0.0.1 -p 5000 &
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 cargo run -p sky-examples --features aws --example aws_moto
//! ```
//!
//! It is the one example that needs a cloud backend: the `aws` feature of this package
//! (`sky/aws`) builds the AWS SDK, which takes minutes the first time.
//!
//! Without an endpoint it does nothing unless `SKY_EXAMPLE_REAL_AWS=1` is set too: then it
//! uses the configured AWS credentials and launches (and terminates) two real instances.

use std::path::PathBuf;
use std::sync::Arc;

use sky::aws::AwsBuilder;
use sky::catalog::AwsCatalog;
use sky::{Broker, ProvisionOptions, Task};

const TASK: &str = r#"
name: aws-moto
num_nodes: 2
resources:
  cpus: 4+
"#;

/// SkyPilot's AWS catalog: `SKY_AWS_CATALOG`, else the small fixture in the repository.
fn catalog_path() -> PathBuf {
    std::env::var_os("SKY_AWS_CATALOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(
                // The run-time value (cargo sets it for tests, benches and `cargo run`): the
                // compile-time one is stale in a binary reused from another checkout path.
                std::env::var_os("CARGO_MANIFEST_DIR")
                    .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
            )
            .join("../sky-catalog/tests/fixtures/catalogs/aws/vms.csv")
        })
}

async fn run(state: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("SKY_TEST_MOTO_ENDPOINT"))
        .ok()
        .filter(|e| !e.is_empty());
    let mut builder = AwsBuilder::from_env().regions(["us-east-1"]);
    match &endpoint {
        // moto accepts any credentials.
        Some(e) => builder = builder.endpoint(e).credentials("testing", "testing"),
        None if std::env::var("SKY_EXAMPLE_REAL_AWS").as_deref() == Ok("1") => {}
        None => {
            println!(
                "no AWS endpoint: set AWS_ENDPOINT_URL to a moto_server (e.g. \
                 http://127.0.0.1:5000) to run this example, or SKY_EXAMPLE_REAL_AWS=1 to \
                 launch two real instances with your AWS credentials"
            );
            return Ok(());
        }
    }
    let report = builder.check().await;
    print!("{report}");
    if !report.ok() {
        println!("AWS is not usable with these settings (see above); nothing was launched");
        return Ok(());
    }
    let aws = builder.build().await?;
    let catalog = aws
        .catalog_with_zone_names(AwsCatalog::from_path(catalog_path())?)
        .await?;
    let broker = Broker::builder()
        .state_dir(state)?
        .cloud(Arc::new(catalog), Arc::new(aws))
        .build()?;
    let task = Task::from_yaml_str(TASK)?;
    let up = broker
        .provision(&task, "aws-moto", &ProvisionOptions::new())
        .await?;
    let placed = up.launched.as_ref().ok_or("no placement recorded")?;
    println!(
        "cluster {} is {}: {} x {} in {}/{} at ${:.3}/h",
        up.name,
        up.status,
        placed.num_nodes,
        placed.instance_type,
        placed.region,
        placed.zone.as_deref().unwrap_or("-"),
        placed.hourly_price
    );
    for n in &up.nodes {
        println!(
            "  rank {} {} {:?} private {} public {}",
            n.rank,
            n.id,
            n.state,
            n.private_ip.as_deref().unwrap_or("-"),
            n.public_ip.as_deref().unwrap_or("-")
        );
    }
    for r in broker.refresh(Some("aws-moto")).await? {
        println!("status --refresh: {} {}", r.name, r.status);
    }
    broker.down("aws-moto").await?;
    println!("cluster aws-moto torn down");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = std::env::temp_dir().join(format!("sky-aws-moto-{}", std::process::id()));
    let result = run(&state).await;
    let _ = std::fs::remove_dir_all(&state);
    result
}
