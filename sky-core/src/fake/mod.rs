//! FakeCloud: a deterministic simulated cloud with scripted faults, always compiled.
//!
//! [`FakeCloud`] is a whole backend: it implements both [`Catalog`] (a small embedded price
//! table, see [`FakeCatalog`]) and [`crate::provision::Provisioner`] (every operation, with
//! the same contract as the real clouds, checked by the conformance suite). It exists so that
//! the optimizer, the failover loop, examples and embedders' tests run without credentials.
//!
//! # Why a first-class fake
//! Real clouds cannot be made to fail on cue. The fake can: [`Fault`] rules script errors per
//! operation and placement (`times(n)`, sequences, partial launches), [`ChaosConfig`] adds
//! seeded random failures, and [`SimMode::Explicit`] holds instances in `Pending` until the
//! test says otherwise, as omicron's simulated sled agent does. [`Faulty`] injects the same
//! rules into any other provisioner.
//!
//! # Determinism
//! Instance ids, IP addresses and chaos draws come from counters and seeded ChaCha8 streams;
//! listings are sorted. Two fakes built alike and called alike behave alike.
//!
//! ```
//! use sky_core::error::ErrorKind;
//! use sky_core::fake::{FakeCloud, Fault, Op};
//! use sky_core::provision::{ClusterRef, LaunchRequest, Provisioner};
//!
//! let fake = FakeCloud::builder()
//!     .fault(
//!         Fault::on(Op::RunInstances)
//!             .zone("fake-east-1a")
//!             .kind(ErrorKind::Capacity)
//!             .code("InsufficientInstanceCapacity")
//!             .times(1),
//!     )
//!     .build();
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let cluster = ClusterRef {
//!         name: "demo".into(),
//!         region: "fake-east-1".into(),
//!         zone: Some("fake-east-1a".into()),
//!     };
//!     let req = LaunchRequest::new(cluster.clone(), "fake.cpu8", 2);
//!     let err = fake.run_instances(&req).await.unwrap_err();
//!     assert_eq!(err.kind(), ErrorKind::Capacity);
//!     // The fault fired once; the retry launches both nodes.
//!     let nodes = fake.run_instances(&req).await.unwrap();
//!     assert_eq!(nodes.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1]);
//!     assert_eq!(fake.live_instances().len(), 2);
//!     fake.terminate_instances(&cluster).await.unwrap();
//!     assert!(fake.live_instances().is_empty());
//! });
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Feasibility, Offering,
    Region,
};
use crate::cloud::CloudId;
use crate::provision::{Capabilities, ClusterRef, InstanceInfo, InstanceState};
use crate::resources::{PortRange, Resources};

mod catalog;
mod chaos;
mod cloud;
mod fault;
mod faulty;

pub use catalog::FakeCatalog;
pub use chaos::ChaosConfig;
pub use fault::{Call, Failure, Fault, Op, Outcome};
pub use faulty::Faulty;

use cloud::State;
use fault::FaultInjector;

/// How simulated instances move between states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimMode {
    /// Transitions complete at once: `run_instances` and `start_instances` leave instances
    /// `Running`, `stop_instances` leaves them `Stopped`.
    #[default]
    Auto,
    /// Instances stay `Pending` (after run/start) or `Stopping` (after stop) until the test
    /// calls [`FakeCloud::advance`], [`FakeCloud::advance_instance`] or
    /// [`FakeCloud::advance_cluster`]. `wait_instances` waits for those calls (no polling,
    /// no sleeping) and fails with `ErrorKind::Transient` at its timeout.
    Explicit,
}

/// One simulated instance, as the test sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeInstance {
    /// The cluster name it is tagged with.
    pub cluster: String,
    /// Its region.
    pub region: String,
    /// What `query_instances` reports about it.
    pub info: InstanceInfo,
    /// Ports opened on it, sorted.
    pub ports: Vec<PortRange>,
    /// Labels from the launch request.
    pub labels: BTreeMap<String, String>,
}

/// A per-cluster network resource of the simulated cloud ([`FakeCloud::live_groups`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FakeGroup {
    /// The cluster (as the provider names it: the cluster hash).
    pub cluster: String,
    /// Its region.
    pub region: String,
}

/// Builds a [`FakeCloud`]. Defaults: [`SimMode::Auto`], [`Capabilities::all`], the embedded
/// catalog, no faults, no chaos, seed 0.
#[derive(Debug)]
pub struct FakeCloudBuilder {
    mode: SimMode,
    faults: Vec<Fault>,
    chaos: Option<ChaosConfig>,
    seed: u64,
    capabilities: Capabilities,
    catalog: Option<FakeCatalog>,
    cloud: Option<CloudId>,
}

impl Default for FakeCloudBuilder {
    fn default() -> Self {
        FakeCloudBuilder {
            mode: SimMode::Auto,
            faults: Vec::new(),
            chaos: None,
            seed: 0,
            capabilities: Capabilities::all(),
            catalog: None,
            cloud: None,
        }
    }
}

impl FakeCloudBuilder {
    /// How instances change state.
    pub fn mode(mut self, mode: SimMode) -> Self {
        self.mode = mode;
        self
    }

    /// Adds a scripted fault (rules are tried in the order added).
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Adds seeded random failures.
    pub fn chaos(mut self, chaos: ChaosConfig) -> Self {
        self.chaos = Some(chaos);
        self
    }

    /// Seeds the instance-id generator.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// What the fake supports; operations it lacks fail with `ErrorKind::Unsupported`.
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Uses `catalog` instead of the embedded one (for prices and for validating launches).
    pub fn catalog(mut self, catalog: FakeCatalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Presents the fake as `cloud` (default [`CloudId::Fake`]), to simulate several clouds.
    pub fn cloud(mut self, cloud: CloudId) -> Self {
        self.cloud = Some(cloud);
        self
    }

    /// Builds the fake.
    pub fn build(self) -> FakeCloud {
        let mut catalog = self.catalog.unwrap_or_else(FakeCatalog::embedded);
        if let Some(c) = self.cloud {
            catalog = catalog.with_cloud(c);
        }
        FakeCloud {
            inner: Arc::new(Inner {
                mode: self.mode,
                capabilities: self.capabilities,
                catalog,
                faults: FaultInjector::new(self.faults, self.chaos),
                state: Mutex::new(State::new(self.seed)),
                changed: watch::Sender::new(0),
            }),
        }
    }
}

#[derive(Debug)]
struct Inner {
    mode: SimMode,
    capabilities: Capabilities,
    catalog: FakeCatalog,
    faults: FaultInjector,
    state: Mutex<State>,
    /// Bumped on every instance change; `wait_instances` and `next_transition` watch it.
    changed: watch::Sender<u64>,
}

/// A deterministic simulated cloud: a [`Catalog`] and a
/// [`crate::provision::Provisioner`] in one (see the [module docs](self)).
///
/// Cheap to clone: clones share the same simulated instances, faults and call log, so one
/// clone can go to a broker while the test inspects another.
///
/// ```
/// use std::time::Duration;
/// use sky_core::fake::{FakeCloud, SimMode};
/// use sky_core::provision::{ClusterRef, InstanceState, LaunchRequest, Provisioner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fake = FakeCloud::builder().mode(SimMode::Explicit).build();
/// let cluster = ClusterRef { name: "job".into(), region: "fake-west-1".into(), zone: None };
/// let nodes = fake.run_instances(&LaunchRequest::new(cluster.clone(), "fake.cpu8", 1)).await.unwrap();
/// assert_eq!(nodes[0].state, InstanceState::Pending);
/// assert_eq!(nodes[0].zone.as_deref(), Some("fake-west-1a")); // the cheapest zone
/// assert_eq!(fake.advance(), 1);
/// fake.wait_instances(&cluster, InstanceState::Running, Duration::from_secs(1)).await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct FakeCloud {
    inner: Arc<Inner>,
}

impl Default for FakeCloud {
    /// [`SimMode::Auto`], every capability, the embedded catalog, no faults.
    fn default() -> Self {
        FakeCloudBuilder::default().build()
    }
}

impl FakeCloud {
    /// A builder with the defaults of [`FakeCloud::default`].
    pub fn builder() -> FakeCloudBuilder {
        FakeCloudBuilder::default()
    }

    /// The cloud id the fake presents (inherent, so `fake.cloud()` is not ambiguous between
    /// the two traits).
    pub fn cloud(&self) -> CloudId {
        self.inner.catalog.cloud()
    }

    /// The simulation mode.
    pub fn mode(&self) -> SimMode {
        self.inner.mode
    }

    /// The catalog the fake prices and validates with.
    pub fn catalog(&self) -> &FakeCatalog {
        &self.inner.catalog
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread cannot leave the simulated state half-updated in a way
        // later assertions would misread, so a poisoned lock is recovered.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Every instance not terminated, sorted by cluster, region and rank.
    pub fn live_instances(&self) -> Vec<FakeInstance> {
        self.state()
            .snapshot(|i| i.info.state != InstanceState::Terminated)
    }

    /// The per-cluster network resources (security group / firewall analogues) that
    /// `bootstrap` made and no `terminate_instances` of their cluster and region has removed,
    /// sorted. A launch that fails, crashes or is torn down must leave none behind.
    pub fn live_groups(&self) -> Vec<FakeGroup> {
        self.state()
            .groups
            .iter()
            .map(|(cluster, region)| FakeGroup {
                cluster: cluster.clone(),
                region: region.clone(),
            })
            .collect()
    }

    /// Every instance ever created, terminated ones included.
    pub fn all_instances(&self) -> Vec<FakeInstance> {
        self.state().snapshot(|_| true)
    }

    /// How many instances were ever created (a launch that reuses nodes creates none).
    pub fn instance_count_ever_created(&self) -> usize {
        self.state().instances.len()
    }

    /// The instance with this id, terminated or not.
    pub fn instance(&self, id: &str) -> Option<FakeInstance> {
        self.state().snapshot(|i| i.info.id == id).pop()
    }

    /// The log of every provider call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.faults.calls()
    }

    /// The logged calls of one operation, in order.
    pub fn calls_of(&self, op: Op) -> Vec<Call> {
        let mut v = self.calls();
        v.retain(|c| c.op == op);
        v
    }

    /// Empties the call log.
    pub fn clear_calls(&self) {
        self.inner.faults.clear_calls();
    }

    /// Adds a scripted fault after the rules already present.
    pub fn add_fault(&self, fault: Fault) {
        self.inner.faults.add(fault);
    }

    /// Removes every scripted fault and the chaos.
    pub fn clear_faults(&self) {
        self.inner.faults.clear();
    }

    /// Replaces (or, with `None`, removes) the seeded chaos, restarting its stream.
    pub fn set_chaos(&self, chaos: Option<ChaosConfig>) {
        self.inner.faults.set_chaos(chaos);
    }

    /// Completes every pending transition (`Pending` → `Running`, `Stopping` → `Stopped`) and
    /// returns how many instances moved. A no-op in [`SimMode::Auto`].
    pub fn advance(&self) -> usize {
        self.advance_where(|_| true)
    }

    /// Completes the pending transition of one instance; `false` if it has none.
    pub fn advance_instance(&self, id: &str) -> bool {
        self.advance_where(|i| i.info.id == id) == 1
    }

    /// Completes the pending transitions of one cluster's instances; returns how many moved.
    pub fn advance_cluster(&self, cluster: &ClusterRef) -> usize {
        self.advance_where(|i| i.cluster == cluster.name && i.region == cluster.region)
    }

    fn advance_where(&self, pick: impl Fn(&cloud::Instance) -> bool) -> usize {
        let n = self.state().advance(pick);
        if n > 0 {
            self.notify();
        }
        n
    }

    /// Simulates a spot preemption: the instance is terminated by the cloud. `false` if it
    /// does not exist or is terminated already.
    pub fn preempt(&self, id: &str) -> bool {
        let done = self.state().terminate_where(|i| i.info.id == id) == 1;
        if done {
            self.notify();
        }
        done
    }

    /// Waits until some instance awaits an `advance` (is `Pending` or `Stopping`).
    ///
    /// With it, a background task can play the cloud in [`SimMode::Explicit`]:
    /// `loop { fake.next_transition().await; fake.advance(); }`.
    pub async fn next_transition(&self) {
        let mut rx = self.inner.changed.subscribe();
        loop {
            if self.state().has_transitional() {
                return;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self.inner`, so this cannot happen while `self` exists.
                return;
            }
        }
    }
}

/// The catalog of a fake is its [`FakeCatalog`]; see [`FakeCloud::catalog`].
impl Catalog for FakeCloud {
    fn cloud(&self) -> CloudId {
        self.inner.catalog.cloud()
    }

    fn offerings(&self, req: &Resources) -> Feasibility {
        self.inner.catalog.offerings(req)
    }

    fn optimize_by_zone(&self) -> bool {
        self.inner.catalog.optimize_by_zone()
    }

    fn zones_for(&self, offering: &Offering) -> Vec<String> {
        self.inner.catalog.zones_for(offering)
    }

    fn regions(&self) -> Vec<Region> {
        self.inner.catalog.regions()
    }

    fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        self.inner.catalog.validate_region_zone(region, zone)
    }

    fn hourly_cost(
        &self,
        instance_type: &str,
        accelerator: Option<&Accelerator>,
        spot: bool,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Option<f64> {
        self.inner
            .catalog
            .hourly_cost(instance_type, accelerator, spot, region, zone)
    }

    fn accelerators(&self, filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        self.inner.catalog.accelerators(filter)
    }

    fn accelerator_names(&self) -> Vec<String> {
        self.inner.catalog.accelerator_names()
    }

    fn egress_cost(&self, gb: f64) -> f64 {
        self.inner.catalog.egress_cost(gb)
    }
}
