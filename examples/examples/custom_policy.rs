//! A failover policy of your own: what the broker does when a provider call fails.
//!
//! `Cautious` never retries in place: a capacity error rules out the whole region (its other
//! zones are likely short of the same type), a quota error aborts the launch (a quota is not
//! lifted by trying elsewhere in the same account), an auth error rules out the cloud, and
//! anything else moves on to the next zone. sky's default policy
//! (`sky::runtime::failover::DefaultPolicy`) blocks only the zone on capacity errors and the
//! region on quota errors, and retries transient errors in place.
//!
//! The example runs two launches on sky's simulated cloud, [`FakeCloud`], with scripted
//! faults, and prints for each the failover history and where it landed:
//!
//! 1. capacity in `fake-east-1a`, then throttling in `fake-west-1a`: the cluster lands in
//!    `fake-west-1b`;
//! 2. a vCPU quota error: the launch is aborted after one attempt.
//!
//! A successful launch returns the cluster and no history (a failed one carries its history
//! in the error, [`Error::history`]), so `Cautious` also writes down each of its decisions.
//!
//! Needs no cloud account; it finishes in well under a second.
//!
//! ```sh
//! cargo run -p sky-examples --example custom_policy
//! ```

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use sky::fake::{FakeCloud, Fault, Op};
use sky::provider::{self, ErrorKind, Scope};
use sky::runtime::failover::{Attempt, Decision, FailoverHistory, FailoverPolicy};
use sky::{Broker, Error, ProvisionOptions, Task};

/// Never retries in place; see the module docs. Records its decisions in `log`.
struct Cautious {
    log: Arc<Mutex<FailoverHistory>>,
}

impl FailoverPolicy for Cautious {
    fn on_error(&mut self, attempt: &Attempt<'_>, err: &provider::Error) -> Decision {
        let decision = match err.kind() {
            ErrorKind::Capacity => Decision::Block(Scope::Region),
            ErrorKind::Quota | ErrorKind::InvalidRequest | ErrorKind::Unsupported => {
                Decision::Abort
            }
            ErrorKind::Auth => Decision::Block(Scope::Cloud),
            _ => Decision::Block(Scope::Zone),
        };
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(err, decision, attempt.spot);
        decision
    }
}

async fn run(state: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let fake = FakeCloud::builder()
        .fault(
            Fault::on(Op::RunInstances)
                .zone("fake-east-1a")
                .kind(ErrorKind::Capacity)
                .code("InsufficientInstanceCapacity")
                .times(1),
        )
        .fault(
            Fault::on(Op::RunInstances)
                .zone("fake-west-1a")
                .kind(ErrorKind::Transient)
                .code("RequestLimitExceeded")
                .times(1),
        )
        .fault(
            Fault::on(Op::RunInstances)
                .instance_type("fake.cpu16")
                .kind(ErrorKind::Quota)
                .code("VcpuLimitExceeded"),
        )
        .build();
    let log = Arc::new(Mutex::new(FailoverHistory::default()));
    let policy_log = log.clone();
    let broker = Broker::builder()
        .state_dir(state)?
        .cloud(Arc::new(fake.clone()), Arc::new(fake.clone()))
        .policy(Arc::new(move || {
            Box::new(Cautious {
                log: policy_log.clone(),
            })
        }))
        .build()?;

    // 1. Capacity, then throttling: two regions and three zones tried, up in the third.
    let task = Task::from_yaml_str("resources:\n  infra: fake\n  cpus: 8\n")?;
    let up = broker
        .provision(&task, "cautious", &ProvisionOptions::new())
        .await?;
    let history = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
    print!("launch 1, failover history:\n{history}");
    let placed = up.launched.as_ref().ok_or("no placement recorded")?;
    println!(
        "launch 1 landed: {} in {}/{} at ${:.4}/h",
        placed.instance_type,
        placed.region,
        placed.zone.as_deref().unwrap_or("-"),
        placed.hourly_price
    );
    if placed.zone.as_deref() != Some("fake-west-1b") {
        return Err("launch 1 should have landed in fake-west-1b".into());
    }
    broker.down("cautious").await?;

    // 2. A quota error: the policy aborts, and the error carries the history.
    let task = Task::from_yaml_str("resources:\n  infra: fake\n  cpus: 16\n")?;
    match broker
        .provision(&task, "quota", &ProvisionOptions::new())
        .await
    {
        Err(err @ Error::Aborted { .. }) => {
            let history = err.history().ok_or("an aborted launch has a history")?;
            print!("launch 2, failover history:\n{history}");
            println!("launch 2 aborted, as the policy asked");
        }
        Err(other) => return Err(other.into()),
        Ok(_) => return Err("launch 2 should have been aborted".into()),
    }

    let left = fake.live_instances().len();
    println!("fake instances left: {left}");
    if left != 0 {
        return Err(format!("{left} fake instances are left").into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = std::env::temp_dir().join(format!("sky-custom-policy-{}", std::process::id()));
    let result = run(&state).await;
    let _ = std::fs::remove_dir_all(&state);
    result
}
