//! 1,000 seeded random fault schedules, with crashes between and inside provider steps, and
//! names launched again on the same state store: nothing leaks, instances or groups.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use sky_core::CloudId;
use sky_core::error::{ErrorKind, Result};
use sky_core::fake::{ChaosConfig, FakeCloud};
use sky_core::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
};
use sky_core::resources::PortRange;
use sky_runtime::Broker;
use sky_runtime::state::StateStore;

use crate::common::*;

/// A provisioner whose `crash_at`-th call never returns: dropping the launch future there is
/// a process crash, between two provider steps or, with `inside`, inside the call: after the
/// provider acted and before its answer arrived.
#[derive(Debug)]
struct Crashy {
    inner: FakeCloud,
    crash_at: usize,
    inside: bool,
    calls: AtomicUsize,
}

impl Crashy {
    async fn step<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        let crash = self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.crash_at;
        if crash && !self.inside {
            std::future::pending::<()>().await;
        }
        let answer = call.await;
        if crash {
            std::future::pending::<()>().await;
        }
        answer
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Provisioner for Crashy {
    fn cloud(&self) -> CloudId {
        self.inner.cloud()
    }
    fn catalog(&self) -> Option<Arc<dyn sky_core::catalog::Catalog>> {
        Provisioner::catalog(&self.inner)
    }
    fn capabilities(&self) -> Capabilities {
        Provisioner::capabilities(&self.inner)
    }
    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
        self.step(self.inner.bootstrap(req)).await
    }
    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        self.step(self.inner.run_instances(req)).await
    }
    async fn wait_instances(&self, c: &ClusterRef, s: InstanceState, t: Duration) -> Result<()> {
        self.step(self.inner.wait_instances(c, s, t)).await
    }
    async fn query_instances(&self, c: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        self.step(self.inner.query_instances(c)).await
    }
    async fn cluster_info(&self, c: &ClusterRef) -> Result<ClusterInfo> {
        self.step(self.inner.cluster_info(c)).await
    }
    async fn stop_instances(&self, c: &ClusterRef) -> Result<()> {
        self.step(self.inner.stop_instances(c)).await
    }
    async fn start_instances(&self, c: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        self.step(self.inner.start_instances(c)).await
    }
    async fn terminate_instances(&self, c: &ClusterRef) -> Result<()> {
        self.step(self.inner.terminate_instances(c)).await
    }
    async fn release_region(&self, region: &str, key: Option<&str>) -> Result<()> {
        self.step(self.inner.release_region(region, key)).await
    }
    async fn open_ports(&self, c: &ClusterRef, p: &[PortRange]) -> Result<()> {
        self.step(self.inner.open_ports(c, p)).await
    }
}

/// Random faults of every retryable kind, on 40% of the calls.
fn chaos(seed: u64) -> ChaosConfig {
    ChaosConfig {
        seed,
        failure_rate: 0.4,
        kinds: vec![
            ErrorKind::Capacity,
            ErrorKind::Quota,
            ErrorKind::Auth,
            ErrorKind::Transient,
        ],
    }
}

#[derive(Default, Debug)]
struct Tally {
    up: usize,
    failed: usize,
    crashed: usize,
    /// Crashes inside a provider call (after it acted).
    crashed_inside: usize,
    /// Crashes that left instances behind for the next broker to reconcile.
    crashed_with_instances: usize,
    /// Crashes that left a group behind.
    crashed_with_groups: usize,
    leaked: usize,
    leaked_groups: usize,
    /// Live instances not recorded by id although no provider call was cut short.
    unrecorded: usize,
}

#[tokio::test(start_paused = true)]
async fn a_thousand_random_fault_schedules_leak_nothing() {
    let mut tally = Tally::default();
    for seed in 0..1000u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let fake = FakeCloud::builder().seed(seed).chaos(chaos(seed)).build();
        let nodes = rng.random_range(1..=3);
        let state = Arc::new(StateStore::open_in_memory().unwrap());
        let task = if seed % 2 == 0 {
            cpu_task(nodes)
        } else {
            v100_task(nodes)
        };
        // One schedule in four launches the name three times on the same store (each a new
        // process, the last one's leftovers found by the next).
        let rounds = if rng.random_bool(0.25) { 3 } else { 1 };
        for _ in 0..rounds {
            // One launch in four crashes at a random provider call, half of those inside it.
            let crash_at = if rng.random_bool(0.25) {
                rng.random_range(1..=8)
            } else {
                0
            };
            let inside = rng.random_bool(0.5);
            let crashy = Crashy {
                inner: fake.clone(),
                crash_at,
                inside,
                calls: AtomicUsize::new(0),
            };
            fake.set_chaos(Some(chaos(rng.random())));
            let b1 = Broker::builder()
                .cloud(Arc::new(fake.clone()), Arc::new(crashy))
                .state(state.clone())
                .policy(no_backoff())
                .build()
                .unwrap();
            let outcome = tokio::time::timeout(
                Duration::from_secs(3600),
                b1.provision(&task, "chaos", &opts()),
            )
            .await;
            drop(b1);
            // A fresh broker (the next process) over the same state.
            let b2 = broker_with(&[&fake], state.clone());
            match outcome {
                Ok(Ok(c)) => {
                    assert_eq!(c.nodes.len(), nodes as usize, "seed {seed}");
                    tally.up += 1;
                }
                Ok(Err(e)) => {
                    assert!(
                        e.history().is_some_and(|h| !h.is_empty()) || rounds > 1,
                        "seed {seed}: {e}"
                    );
                    tally.failed += 1;
                }
                Err(_elapsed) => {
                    tally.crashed += 1;
                    if inside {
                        tally.crashed_inside += 1;
                    }
                    if !fake.live_instances().is_empty() {
                        tally.crashed_with_instances += 1;
                    }
                    if !fake.live_groups().is_empty() {
                        tally.crashed_with_groups += 1;
                    }
                    // Half the time the next process reconciles first; otherwise the next
                    // launch of the name finds the leftovers itself.
                    if rounds == 1 || rng.random_bool(0.5) {
                        fake.set_chaos(None);
                        b2.refresh(None).await.unwrap();
                    }
                }
            }
            // Invariant: everything alive is owned by the state store, instances and groups:
            // it carries the hash of a cluster row placed in its region (which is how
            // reconciliation and teardown find it). After a crash between steps every
            // instance is also recorded by id; after a crash inside `run_instances` the
            // provider made instances the broker never heard of, and the tag is all there is.
            let rows: std::collections::BTreeSet<(String, String)> = b2
                .status()
                .unwrap()
                .into_iter()
                .filter_map(|c| Some((c.cluster_hash, c.launched?.region)))
                .collect();
            let owns = |cluster: &str, region: &str| {
                rows.contains(&(cluster.to_string(), region.to_string()))
            };
            tally.leaked += fake
                .live_instances()
                .iter()
                .filter(|i| !owns(&i.cluster, &i.region))
                .count();
            if crash_at == 0 || !inside {
                let (live, owned) = (live_ids(&fake), owned_ids(&b2));
                tally.unrecorded += live.difference(&owned).count();
            }
            tally.leaked_groups += fake
                .live_groups()
                .iter()
                .filter(|g| !owns(&g.cluster, &g.region))
                .count();
        }
        // ...and `down` leaves nothing.
        let b2 = broker_with(&[&fake], state);
        fake.set_chaos(None);
        for c in b2.status().unwrap() {
            b2.down(&c.name).await.unwrap();
        }
        assert!(fake.live_instances().is_empty(), "seed {seed}");
        assert!(
            fake.live_groups().is_empty(),
            "seed {seed}: {:?}",
            fake.live_groups()
        );
    }
    println!("chaos schedules: {tally:?}");
    assert_eq!(tally.leaked, 0, "{tally:?}");
    assert_eq!(tally.leaked_groups, 0, "{tally:?}");
    assert_eq!(tally.unrecorded, 0, "{tally:?}");
    assert!(
        tally.up + tally.failed + tally.crashed > 1000,
        "some names were launched again"
    );
    assert!(
        tally.up > 0
            && tally.failed > 0
            && tally.crashed_with_instances > 0
            && tally.crashed_inside > 0
            && tally.crashed_with_groups > 0,
        "{tally:?}"
    );
}
