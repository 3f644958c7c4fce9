//! 1,000 seeded random fault schedules, with crashes between steps: nothing leaks.

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
/// a process crash between two provider steps.
#[derive(Debug)]
struct Crashy {
    inner: FakeCloud,
    crash_at: usize,
    calls: AtomicUsize,
}

impl Crashy {
    async fn step(&self) {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.crash_at {
            std::future::pending::<()>().await;
        }
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
        self.step().await;
        self.inner.bootstrap(req).await
    }
    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        self.step().await;
        self.inner.run_instances(req).await
    }
    async fn wait_instances(&self, c: &ClusterRef, s: InstanceState, t: Duration) -> Result<()> {
        self.step().await;
        self.inner.wait_instances(c, s, t).await
    }
    async fn query_instances(&self, c: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        self.step().await;
        self.inner.query_instances(c).await
    }
    async fn cluster_info(&self, c: &ClusterRef) -> Result<ClusterInfo> {
        self.step().await;
        self.inner.cluster_info(c).await
    }
    async fn stop_instances(&self, c: &ClusterRef) -> Result<()> {
        self.step().await;
        self.inner.stop_instances(c).await
    }
    async fn start_instances(&self, c: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        self.step().await;
        self.inner.start_instances(c).await
    }
    async fn terminate_instances(&self, c: &ClusterRef) -> Result<()> {
        self.step().await;
        self.inner.terminate_instances(c).await
    }
    async fn open_ports(&self, c: &ClusterRef, p: &[PortRange]) -> Result<()> {
        self.step().await;
        self.inner.open_ports(c, p).await
    }
}

#[derive(Default, Debug)]
struct Tally {
    up: usize,
    failed: usize,
    crashed: usize,
    /// Crashes that left instances behind for the next broker to reconcile.
    crashed_with_instances: usize,
    leaked: usize,
}

#[tokio::test(start_paused = true)]
async fn a_thousand_random_fault_schedules_leak_nothing() {
    let mut tally = Tally::default();
    for seed in 0..1000u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let fake = FakeCloud::builder()
            .seed(seed)
            .chaos(ChaosConfig {
                seed,
                failure_rate: 0.4,
                kinds: vec![
                    ErrorKind::Capacity,
                    ErrorKind::Quota,
                    ErrorKind::Auth,
                    ErrorKind::Transient,
                ],
            })
            .build();
        let nodes = rng.random_range(1..=3);
        // One schedule in four crashes at a random provider call.
        let crash_at = if rng.random_bool(0.25) {
            rng.random_range(1..=8)
        } else {
            0
        };
        let state = Arc::new(StateStore::open_in_memory().unwrap());
        let crashy = Crashy {
            inner: fake.clone(),
            crash_at,
            calls: AtomicUsize::new(0),
        };
        let b1 = Broker::builder()
            .cloud(Arc::new(fake.clone()), Arc::new(crashy))
            .state(state.clone())
            .policy(no_backoff())
            .build()
            .unwrap();
        let task = if seed % 2 == 0 {
            cpu_task(nodes)
        } else {
            v100_task(nodes)
        };
        let outcome = tokio::time::timeout(
            Duration::from_secs(3600),
            b1.provision(&task, "chaos", &opts()),
        )
        .await;
        drop(b1);
        // A fresh broker (the next process) over the same state.
        let b2 = broker_with(&[&fake], state);
        match outcome {
            Ok(Ok(c)) => {
                assert_eq!(c.nodes.len(), nodes as usize, "seed {seed}");
                tally.up += 1;
            }
            Ok(Err(e)) => {
                assert!(
                    e.history().is_some_and(|h| !h.is_empty()),
                    "seed {seed}: {e}"
                );
                tally.failed += 1;
            }
            Err(_elapsed) => {
                tally.crashed += 1;
                if !fake.live_instances().is_empty() {
                    tally.crashed_with_instances += 1;
                }
                b2.refresh(None).await.unwrap();
            }
        }
        // Invariant: everything alive is owned by the state store...
        let (live, owned) = (live_ids(&fake), owned_ids(&b2));
        if !live.is_subset(&owned) {
            tally.leaked += live.difference(&owned).count();
        }
        // ...and `down` leaves nothing.
        fake.set_chaos(None);
        for c in b2.status().unwrap() {
            b2.down(&c.name).await.unwrap();
        }
        assert!(fake.live_instances().is_empty(), "seed {seed}");
    }
    println!("chaos schedules: {tally:?}");
    assert_eq!(tally.leaked, 0, "{tally:?}");
    assert_eq!(tally.up + tally.failed + tally.crashed, 1000);
    assert!(
        tally.up > 0 && tally.failed > 0 && tally.crashed_with_instances > 0,
        "{tally:?}"
    );
}
