//! Shared helpers.

use std::collections::BTreeSet;
use std::sync::Arc;

use sky_core::fake::FakeCloud;
use sky_core::resources::{AcceleratorSpec, ResourceSet};
use sky_core::{Resources, Task};
use sky_runtime::broker::PolicyFactory;
use sky_runtime::failover::DefaultPolicy;
use sky_runtime::state::StateStore;
use sky_runtime::{Broker, ProvisionOptions};

/// A policy that retries transient errors without waiting.
pub fn no_backoff() -> PolicyFactory {
    Arc::new(|| Box::new(DefaultPolicy::without_backoff()))
}

/// A broker over the given fakes and state store.
pub fn broker_with(fakes: &[&FakeCloud], state: Arc<StateStore>) -> Broker {
    let mut b = Broker::builder()
        .state(state)
        .policy(no_backoff())
        .owner("tester");
    for f in fakes {
        b = b.cloud(Arc::new((*f).clone()), Arc::new((*f).clone()));
    }
    b.build().expect("broker")
}

/// A broker over one fake and an in-memory store.
pub fn broker(fake: &FakeCloud) -> Broker {
    broker_with(&[fake], Arc::new(StateStore::open_in_memory().unwrap()))
}

/// A task needing `n` nodes of V100:1.
pub fn v100_task(n: u32) -> Task {
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::named("V100", 1.0));
    let mut t = Task::new();
    t.resources = ResourceSet::one(r);
    t.num_nodes = n;
    t
}

/// A CPU task on `n` nodes.
pub fn cpu_task(n: u32) -> Task {
    let mut t = Task::new();
    t.num_nodes = n;
    t
}

/// Options without waits.
pub fn opts() -> ProvisionOptions {
    ProvisionOptions::new().with_teardown_backoff(std::time::Duration::ZERO)
}

/// The ids of the fake's live instances.
pub fn live_ids(fake: &FakeCloud) -> BTreeSet<String> {
    fake.live_instances()
        .into_iter()
        .map(|i| i.info.id)
        .collect()
}

/// The ids of every node the state store records.
pub fn owned_ids(broker: &Broker) -> BTreeSet<String> {
    broker
        .status()
        .unwrap()
        .into_iter()
        .flat_map(|r| r.nodes.into_iter().map(|n| n.id))
        .collect()
}

/// The (region, zone) of every RunInstances call, in order.
pub fn run_calls(fake: &FakeCloud) -> Vec<(String, Option<String>)> {
    fake.calls_of(sky_core::fake::Op::RunInstances)
        .into_iter()
        .map(|c| (c.placement.region.unwrap_or_default(), c.placement.zone))
        .collect()
}
