//! The broker: optimize, provision with failover, and record everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sky_core::catalog::{Catalog, Catalogs};
use sky_core::error::{Error, ErrorKind, Placement, Scope};
use sky_core::provision::{ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner};
use sky_core::{CloudId, Dag, Resources, Task};
use sky_optimizer::{Block, BlockList, Objective, Options, TaskPlacement};

use crate::connector::{DirConnector, NodeConnector, SshConnector};
use crate::error::BrokerError;
use crate::failover::{Attempt, Decision, DefaultPolicy, FailoverHistory, FailoverPolicy};
use crate::state::{ClusterRecord, ClusterStatus, LaunchedResources, StateStore};

/// Makes a fresh [`FailoverPolicy`] for each launch.
pub type PolicyFactory = Arc<dyn Fn() -> Box<dyn FailoverPolicy> + Send + Sync>;

/// Default OS disk size in GB (SkyPilot's).
pub const DEFAULT_DISK_SIZE_GB: u64 = 256;

/// How many times a failed attempt's leftovers are terminated before failover stops.
pub const TEARDOWN_ATTEMPTS: u32 = 3;

/// Per-launch settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProvisionOptions {
    /// What to minimise.
    pub objective: Objective,
    /// Restrict the search to these clouds.
    pub clouds: Option<Vec<CloudId>>,
    /// When every candidate failed, start over (with an empty block list) after
    /// [`ProvisionOptions::retry_gap`], until the deadline or attempt budget runs out
    /// (SkyPilot's `--retry-until-up`).
    pub retry_until_up: bool,
    /// The pause between rounds of `retry_until_up`.
    pub retry_gap: Duration,
    /// Give up after this many provider attempts in all.
    pub max_attempts: Option<u32>,
    /// Give up after this long.
    pub deadline: Option<Duration>,
    /// How long to wait for nodes to be running.
    pub wait_timeout: Duration,
    /// The optimizer's options (egress model, solver).
    pub optimizer: Options,
}

impl Default for ProvisionOptions {
    fn default() -> Self {
        ProvisionOptions {
            objective: Objective::Cost,
            clouds: None,
            retry_until_up: false,
            retry_gap: Duration::from_secs(30),
            max_attempts: None,
            deadline: None,
            wait_timeout: Duration::from_secs(600),
            optimizer: Options::default(),
        }
    }
}

impl ProvisionOptions {
    /// Defaults: cheapest plan, every cloud, no retry-until-up.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restricts the search to `clouds`.
    pub fn with_clouds(mut self, clouds: impl IntoIterator<Item = CloudId>) -> Self {
        self.clouds = Some(clouds.into_iter().collect());
        self
    }

    /// Sets the objective.
    pub fn with_objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// Turns on retry-until-up with `gap` between rounds.
    pub fn with_retry_until_up(mut self, gap: Duration) -> Self {
        self.retry_until_up = true;
        self.retry_gap = gap;
        self
    }

    /// Caps the number of provider attempts.
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }

    /// Caps the total time.
    pub fn with_deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
        self
    }

    /// Sets how long to wait for nodes to run.
    pub fn with_wait_timeout(mut self, d: Duration) -> Self {
        self.wait_timeout = d;
        self
    }
}

/// One enabled cloud: its catalog, its provisioner and how to reach its nodes.
#[derive(Clone, Debug)]
pub(crate) struct CloudEntry {
    pub(crate) catalog: Arc<dyn Catalog>,
    pub(crate) provisioner: Arc<dyn Provisioner>,
    /// `None` until [`BrokerBuilder::build`] picks the default.
    pub(crate) connector: Option<Arc<dyn NodeConnector>>,
    /// Where sky's SSH key pair is, for clouds reached with the default [`SshConnector`]:
    /// its public key goes into every [`LaunchRequest`].
    pub(crate) ssh_key_dir: Option<PathBuf>,
}

/// Builds a [`Broker`] from an explicit list of clouds (no global registry) and a state store.
#[derive(Default)]
pub struct BrokerBuilder {
    clouds: BTreeMap<CloudId, CloudEntry>,
    state: Option<Arc<StateStore>>,
    state_dir: Option<PathBuf>,
    policy: Option<PolicyFactory>,
    owner: Option<String>,
}

impl std::fmt::Debug for BrokerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerBuilder")
            .field("clouds", &self.clouds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl BrokerBuilder {
    /// Enables a cloud with its catalog and provisioner. They must name the same cloud.
    ///
    /// Its nodes are reached with the default connector: [`SshConnector`] with sky's key in
    /// `<state dir>/keys`, except for [`CloudId::Fake`], whose nodes are played by local
    /// directories (a [`DirConnector`] on `<state dir>/fake-nodes`) so that jobs launched on
    /// the fake really run.
    pub fn cloud(mut self, catalog: Arc<dyn Catalog>, provisioner: Arc<dyn Provisioner>) -> Self {
        self.clouds.insert(
            catalog.cloud(),
            CloudEntry {
                catalog,
                provisioner,
                connector: None,
                ssh_key_dir: None,
            },
        );
        self
    }

    /// Enables a cloud whose nodes are reached through `connector` (the `local` and `ssh`
    /// backends bring their own).
    pub fn cloud_with(
        mut self,
        catalog: Arc<dyn Catalog>,
        provisioner: Arc<dyn Provisioner>,
        connector: Arc<dyn NodeConnector>,
    ) -> Self {
        self.clouds.insert(
            catalog.cloud(),
            CloudEntry {
                catalog,
                provisioner,
                connector: Some(connector),
                ssh_key_dir: None,
            },
        );
        self
    }

    /// Uses this state store.
    pub fn state(mut self, state: Arc<StateStore>) -> Self {
        self.state = Some(state);
        self
    }

    /// Opens the state store in `dir` (`<dir>/state.db`); `dir` is also the broker's state
    /// directory (keys, fake nodes).
    pub fn state_dir(mut self, dir: &Path) -> Result<Self, BrokerError> {
        self.state = Some(Arc::new(StateStore::open(dir)?));
        self.state_dir = Some(dir.to_path_buf());
        Ok(self)
    }

    /// Uses a custom failover policy, made fresh for each launch.
    pub fn policy(mut self, factory: PolicyFactory) -> Self {
        self.policy = Some(factory);
        self
    }

    /// Records `owner` as the launching identity (default: `$USER`).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Builds the broker. Without a state store, opens the default one
    /// ([`StateStore::default_dir`]).
    pub fn build(self) -> Result<Broker, BrokerError> {
        for (id, entry) in &self.clouds {
            if entry.provisioner.cloud() != *id {
                return Err(BrokerError::Config(format!(
                    "the catalog is for {id} but the provisioner is for {}",
                    entry.provisioner.cloud()
                )));
            }
        }
        let state = match self.state {
            Some(s) => s,
            None => Arc::new(StateStore::open(&StateStore::default_dir())?),
        };
        let holder = crate::state::lease_holder_id(Arc::as_ptr(&state) as usize as u64);
        // The directory of the database, or for an in-memory store a per-process one.
        let state_dir = self
            .state_dir
            .unwrap_or_else(|| match state.path().parent() {
                Some(p) if state.path() != Path::new(":memory:") => p.to_path_buf(),
                _ => std::env::temp_dir().join(format!("sky-state-{}", std::process::id())),
            });
        let mut clouds = self.clouds;
        for (id, entry) in clouds.iter_mut() {
            if entry.connector.is_none() {
                let c: Arc<dyn NodeConnector> = if *id == CloudId::Fake {
                    Arc::new(DirConnector::new(state_dir.join("fake-nodes")))
                } else {
                    entry.ssh_key_dir = Some(state_dir.join("keys"));
                    Arc::new(SshConnector::new(state_dir.join("keys")))
                };
                entry.connector = Some(c);
            }
        }
        Ok(Broker {
            clouds,
            state_dir,
            nodes: Mutex::new(BTreeMap::new()),
            sched: tokio::sync::Mutex::new(()),
            secrets: Mutex::new(BTreeMap::new()),
            state,
            policy: self
                .policy
                .unwrap_or_else(|| Arc::new(|| Box::new(DefaultPolicy::default()))),
            owner: self
                .owner
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into()),
            holder,
        })
    }
}

/// The broker: what an embedding service holds to launch and manage clusters.
///
/// ```
/// # use std::sync::Arc;
/// # use sky_core::fake::FakeCloud;
/// # use sky_runtime::{Broker, ProvisionOptions, state::StateStore};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let fake = FakeCloud::default();
/// let broker = Broker::builder()
///     .cloud(Arc::new(fake.clone()), Arc::new(fake.clone()))
///     .state(Arc::new(StateStore::open_in_memory().unwrap()))
///     .build()
///     .unwrap();
/// let task = sky_core::Task::new();
/// let cluster = broker.provision(&task, "demo", &ProvisionOptions::new()).await.unwrap();
/// assert_eq!(cluster.nodes.len(), 1);
/// broker.down("demo").await.unwrap();
/// assert!(fake.live_instances().is_empty());
/// # });
/// ```
pub struct Broker {
    pub(crate) clouds: BTreeMap<CloudId, CloudEntry>,
    pub(crate) state: Arc<StateStore>,
    pub(crate) state_dir: PathBuf,
    /// Runners per cluster incarnation (connections are reused across calls).
    pub(crate) nodes: Mutex<BTreeMap<String, Vec<sky_exec::GangNode>>>,
    /// Serialises queue advancement within this broker (SQLite does it across processes).
    pub(crate) sched: tokio::sync::Mutex<()>,
    /// Secrets of jobs submitted by this broker that have not started their last phase.
    pub(crate) secrets: Mutex<crate::jobs::SecretCache>,
    policy: PolicyFactory,
    owner: String,
    pub(crate) holder: String,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("clouds", &self.clouds.keys().collect::<Vec<_>>())
            .field("state", &self.state.path())
            .finish_non_exhaustive()
    }
}

/// What the provision loop is working on.
struct Progress<'a> {
    name: &'a str,
    record: ClusterRecord,
    history: FailoverHistory,
    attempts: u32,
    started: Instant,
}

impl Broker {
    /// A builder.
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder::default()
    }

    /// The state store.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// The state directory (the database's directory; keys and fake nodes live there).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The catalogs of the enabled clouds.
    pub fn catalogs(&self) -> Catalogs {
        let mut c = Catalogs::new();
        for e in self.clouds.values() {
            c.insert(e.catalog.clone());
        }
        c
    }

    /// sky's public key for clouds reached with the default [`SshConnector`] (created on
    /// first use); `None` for clouds with their own connector, or if the key cannot be made
    /// (connecting reports that later).
    fn ssh_public_key(&self, cloud: &CloudId) -> Option<String> {
        let dir = self.clouds.get(cloud)?.ssh_key_dir.as_ref()?;
        match sky_exec::SshKeyPair::ensure(dir) {
            Ok(k) => Some(k.public_key_openssh().to_string()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot create sky's SSH key");
                None
            }
        }
    }

    pub(crate) fn provisioner(
        &self,
        cloud: &CloudId,
    ) -> Result<&Arc<dyn Provisioner>, BrokerError> {
        self.clouds
            .get(cloud)
            .map(|e| &e.provisioner)
            .ok_or_else(|| {
                BrokerError::Config(format!("cloud {cloud} is not enabled in this broker"))
            })
    }

    /// Brings up cluster `name` for `task`: optimize, provision zone by zone, and on provider
    /// errors ask the failover policy, block, and re-optimize, until the cluster is up or no
    /// candidate is left.
    ///
    /// # Behavior
    /// - The cluster's row is written as `INIT` before the first provider call and every
    ///   instance is recorded as soon as the provider reports it.
    /// - An `UP` cluster with enough nodes is returned as it is; a `STOPPED` one is started in
    ///   its own zone (it never moves).
    /// - Partial failures are terminated (and verified gone) before moving on; a teardown
    ///   that keeps failing stops the failover with [`BrokerError::TeardownFailed`].
    /// - Another process provisioning the same name gives [`BrokerError::State`] with
    ///   [`StateError::Busy`](crate::state::StateError::Busy).
    pub async fn provision(
        &self,
        task: &Task,
        name: &str,
        options: &ProvisionOptions,
    ) -> Result<ClusterRecord, BrokerError> {
        validate_cluster_name(name)?;
        let (record, created) = self
            .state
            .begin_provision(name, &self.holder, &self.owner)?;
        let result = self
            .provision_leased(task, name, record, created, options)
            .await;
        // The lease is released whatever happened; a dropped future leaves it to expire.
        let _ = self.state.end_provision(name, &self.holder);
        result
    }

    async fn provision_leased(
        &self,
        task: &Task,
        name: &str,
        record: ClusterRecord,
        created: bool,
        options: &ProvisionOptions,
    ) -> Result<ClusterRecord, BrokerError> {
        if !created {
            match record.status {
                ClusterStatus::Up => {
                    let nodes = record.launched.as_ref().map_or(0, |l| l.num_nodes);
                    if nodes >= task.num_nodes {
                        self.state.touch(name)?;
                        return Ok(record);
                    }
                    return Err(BrokerError::InvalidState {
                        name: name.into(),
                        status: record.status,
                        message: format!(
                            "it has {nodes} nodes and the task needs {}; `down` it first",
                            task.num_nodes
                        ),
                    });
                }
                ClusterStatus::Stopped => return self.start(name).await,
                ClusterStatus::Init => {
                    // A previous attempt died half way: clean up what it left, then start over.
                    self.cleanup_leftovers(&record).await?;
                }
            }
        }
        let mut progress = Progress {
            name,
            record,
            history: FailoverHistory::default(),
            attempts: 0,
            started: Instant::now(),
        };
        let mut policy = (self.policy)();
        let catalogs = self.catalogs();
        let dag = Dag::single(task.clone());
        let mut blocked = BlockList::new();
        let mut optimizer_options = options.optimizer.clone();
        if let Some(c) = &options.clouds {
            optimizer_options.clouds = Some(c.clone());
        }
        loop {
            let plan = match sky_optimizer::optimize(
                &dag,
                &catalogs,
                &blocked,
                options.objective,
                &optimizer_options,
            ) {
                Ok(plan) => plan,
                Err(e) => {
                    let exhausted =
                        matches!(e, sky_optimizer::OptimizeError::ResourcesUnavailable { .. });
                    if exhausted
                        && progress.attempts > 0
                        && options.retry_until_up
                        && self.budget_left(&progress, options)
                    {
                        tracing::info!(cluster = name, gap = ?options.retry_gap, "every candidate failed; retrying until up");
                        tokio::time::sleep(options.retry_gap).await;
                        blocked = BlockList::new();
                        continue;
                    }
                    let reason = if progress.attempts > 0 {
                        format!(
                            "no candidate left after {} attempts: {e}",
                            progress.attempts
                        )
                    } else {
                        e.to_string()
                    };
                    return Err(self.give_up(progress, reason, Some(e)));
                }
            };
            let Some(placement) = plan.placements.into_iter().next() else {
                return Err(self.give_up(
                    progress,
                    "the optimizer returned no placement".into(),
                    None,
                ));
            };
            let resources = task
                .resources
                .alternatives
                .get(placement.resources_index)
                .cloned()
                .unwrap_or_default();
            let zones: Vec<Option<String>> = match (&placement.zone, placement.zones.is_empty()) {
                (Some(z), _) => vec![Some(z.clone())],
                (None, false) => placement.zones.iter().cloned().map(Some).collect(),
                (None, true) => vec![None],
            };
            match self
                .try_region(
                    task,
                    &resources,
                    &placement,
                    &zones,
                    &mut progress,
                    policy.as_mut(),
                    &mut blocked,
                    options,
                )
                .await?
            {
                Some(up) => return Ok(up),
                None => {
                    if !self.budget_left(&progress, options) {
                        return Err(self.give_up(
                            progress,
                            "the retry budget ran out".into(),
                            None,
                        ));
                    }
                }
            }
        }
    }

    fn budget_left(&self, p: &Progress<'_>, options: &ProvisionOptions) -> bool {
        options.max_attempts.is_none_or(|m| p.attempts < m)
            && options.deadline.is_none_or(|d| p.started.elapsed() < d)
    }

    fn give_up(
        &self,
        p: Progress<'_>,
        reason: String,
        source: Option<sky_optimizer::OptimizeError>,
    ) -> BrokerError {
        // Nothing of this launch is alive (every failed attempt was torn down), so an INIT row
        // that never got a node is removed; one that has nodes stays for `status --refresh`.
        if p.record.nodes.is_empty() {
            let _ = self.state.remove(p.name, "provisioning failed");
        }
        BrokerError::Unavailable {
            cluster: p.name.to_string(),
            reason,
            history: p.history,
            source: source.map(Box::new),
        }
    }

    /// Tries the zones of one region in order. `Ok(Some)` = up; `Ok(None)` = blocked,
    /// re-optimize; `Err` = stop.
    #[allow(clippy::too_many_arguments)]
    async fn try_region(
        &self,
        task: &Task,
        resources: &Resources,
        placement: &TaskPlacement,
        zones: &[Option<String>],
        p: &mut Progress<'_>,
        policy: &mut dyn FailoverPolicy,
        blocked: &mut BlockList,
        options: &ProvisionOptions,
    ) -> Result<Option<ClusterRecord>, BrokerError> {
        let provisioner = self.provisioner(&placement.cloud)?.clone();
        for zone in zones {
            let mut retries_here = 0;
            loop {
                if !self.budget_left(p, options) {
                    return Ok(None);
                }
                p.attempts += 1;
                retries_here += 1;
                let cluster = ClusterRef {
                    name: p.record.cluster_hash.clone(),
                    region: placement.region.clone(),
                    zone: zone.clone(),
                };
                let launched = LaunchedResources {
                    cloud: placement.cloud.clone(),
                    region: placement.region.clone(),
                    zone: zone.clone(),
                    instance_type: placement.instance_type.clone(),
                    accelerator: placement.accelerators.clone(),
                    spot: placement.use_spot,
                    hourly_price: placement.hourly_price,
                    num_nodes: task.num_nodes,
                    disk_size_gb: resources.disk_size_gb.unwrap_or(DEFAULT_DISK_SIZE_GB),
                    ports: resources.ports.clone(),
                };
                self.state.set_launched(p.name, &launched)?;
                p.record.launched = Some(launched.clone());
                let mut req =
                    LaunchRequest::new(cluster.clone(), &placement.instance_type, task.num_nodes);
                req.accelerator = placement.accelerators.clone();
                req.spot = placement.use_spot;
                req.disk_size_gb = launched.disk_size_gb;
                req.ports = resources.ports.clone();
                req.labels = resources.labels.clone();
                req.image_id = resources
                    .image_id
                    .as_ref()
                    .and_then(|i| i.for_region(&placement.region))
                    .map(str::to_string);
                req.ssh_public_key = self.ssh_public_key(&placement.cloud);
                let at = Placement {
                    cloud: Some(placement.cloud.clone()),
                    region: Some(placement.region.clone()),
                    zone: zone.clone(),
                    instance_type: Some(placement.instance_type.clone()),
                };
                match self.bring_up(provisioner.as_ref(), &req, p, options).await {
                    Ok(nodes) => {
                        let zone_seen = nodes.iter().find_map(|n| n.zone.clone()).or(zone.clone());
                        if zone_seen != launched.zone {
                            let mut l = launched;
                            l.zone = zone_seen;
                            self.state.set_launched(p.name, &l)?;
                        }
                        self.state
                            .set_status(p.name, ClusterStatus::Up, "provisioned")?;
                        self.state.touch(p.name)?;
                        return self
                            .state
                            .get(p.name)?
                            .ok_or_else(|| BrokerError::NotFound {
                                name: p.name.to_string(),
                            })
                            .map(Some);
                    }
                    Err(err) => {
                        let err = if err.placement().cloud.is_none() {
                            err.with_placement(at.clone())
                        } else {
                            err
                        };
                        let decision = policy.on_error(
                            &Attempt {
                                placement: &at,
                                number: p.attempts,
                                retries_here,
                            },
                            &err,
                        );
                        tracing::warn!(cluster = p.name, %err, ?decision, "provisioning attempt failed");
                        p.history.push(&err, decision);
                        if !matches!(decision, Decision::Retry { .. }) || retries_here > 64 {
                            self.teardown(provisioner.as_ref(), &cluster, p).await?;
                        }
                        match decision {
                            Decision::Retry { after } => {
                                if retries_here > 64 {
                                    blocked.push(block_for(
                                        placement,
                                        zone.as_deref(),
                                        Scope::Zone,
                                        err.kind(),
                                    ));
                                    break;
                                }
                                tokio::time::sleep(after).await;
                            }
                            Decision::Abort => {
                                let _ = self.state.remove(p.name, "provisioning aborted");
                                return Err(BrokerError::Aborted {
                                    cluster: p.name.to_string(),
                                    error: err,
                                    history: std::mem::take(&mut p.history),
                                });
                            }
                            Decision::Block(scope) => {
                                blocked.push(block_for(
                                    placement,
                                    zone.as_deref(),
                                    scope,
                                    err.kind(),
                                ));
                                if scope == Scope::Zone {
                                    break; // next zone of this region
                                }
                                return Ok(None);
                            }
                        }
                    }
                }
            }
        }
        // Every zone of the region failed: rule the region out for this launchable.
        if placement.zone.is_none() {
            blocked.push(block_for(
                placement,
                None,
                Scope::Region,
                ErrorKind::Capacity,
            ));
        }
        Ok(None)
    }

    /// bootstrap → run → record → wait → record. Records every node as soon as it is known.
    async fn bring_up(
        &self,
        provisioner: &dyn Provisioner,
        req: &LaunchRequest,
        p: &mut Progress<'_>,
        options: &ProvisionOptions,
    ) -> Result<Vec<InstanceInfo>, Error> {
        provisioner.bootstrap(req).await?;
        let run = provisioner.run_instances(req).await;
        // Whatever run_instances says, record what exists now: a partial failure leaves nodes.
        let nodes = match &run {
            Ok(nodes) => nodes.clone(),
            Err(_) => provisioner
                .query_instances(&req.cluster)
                .await
                .unwrap_or_default(),
        };
        self.record_nodes(p, &nodes);
        run?;
        provisioner
            .wait_instances(&req.cluster, InstanceState::Running, options.wait_timeout)
            .await?;
        let nodes = provisioner.query_instances(&req.cluster).await?;
        self.record_nodes(p, &nodes);
        let running = nodes
            .iter()
            .filter(|n| n.state == InstanceState::Running)
            .count();
        if running < req.num_nodes as usize {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!(
                    "{running} of {} nodes are running after the wait",
                    req.num_nodes
                ),
            ));
        }
        Ok(nodes)
    }

    fn record_nodes(&self, p: &mut Progress<'_>, nodes: &[InstanceInfo]) {
        if let Err(e) = self.state.set_nodes(p.name, nodes) {
            tracing::error!(cluster = p.name, %e, "cannot record nodes");
        }
        p.record.nodes = nodes.to_vec();
    }

    /// Terminates what an attempt left and verifies it is gone, [`TEARDOWN_ATTEMPTS`] times.
    async fn teardown(
        &self,
        provisioner: &dyn Provisioner,
        cluster: &ClusterRef,
        p: &mut Progress<'_>,
    ) -> Result<(), BrokerError> {
        let mut last_error = None;
        for _ in 0..TEARDOWN_ATTEMPTS {
            match terminate_verified(provisioner, cluster).await {
                Ok(()) => {
                    self.record_nodes(p, &[]);
                    return Ok(());
                }
                Err(e) => last_error = Some(e),
            }
        }
        let instances = provisioner
            .query_instances(cluster)
            .await
            .map(|v| v.into_iter().map(|i| i.id).collect())
            .unwrap_or_default();
        Err(BrokerError::TeardownFailed {
            cluster: p.name.to_string(),
            instances,
            error: last_error
                .unwrap_or_else(|| Error::new(ErrorKind::Unexpected, "teardown failed")),
            history: std::mem::take(&mut p.history),
        })
    }

    /// A previous provisioning of this INIT row died: terminate whatever it recorded.
    async fn cleanup_leftovers(&self, record: &ClusterRecord) -> Result<(), BrokerError> {
        let Some(l) = &record.launched else {
            return Ok(());
        };
        let provisioner = self.provisioner(&l.cloud)?;
        let cluster = ClusterRef {
            name: record.cluster_hash.clone(),
            region: l.region.clone(),
            zone: l.zone.clone(),
        };
        for _ in 0..TEARDOWN_ATTEMPTS {
            if terminate_verified(provisioner.as_ref(), &cluster)
                .await
                .is_ok()
            {
                self.state.set_nodes(&record.name, &[])?;
                return Ok(());
            }
        }
        Err(BrokerError::TeardownFailed {
            cluster: record.name.clone(),
            instances: record.nodes.iter().map(|n| n.id.clone()).collect(),
            error: Error::new(
                ErrorKind::Unexpected,
                "could not terminate the leftovers of an earlier attempt",
            ),
            history: FailoverHistory::default(),
        })
    }
}

/// Terminates the cluster and checks that no instance of it is left.
pub(crate) async fn terminate_verified(
    provisioner: &dyn Provisioner,
    cluster: &ClusterRef,
) -> Result<(), Error> {
    provisioner.terminate_instances(cluster).await?;
    let left = provisioner.query_instances(cluster).await?;
    let alive: Vec<_> = left
        .iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .collect();
    if alive.is_empty() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Transient,
            format!("{} instances still alive after terminate", alive.len()),
        ))
    }
}

/// The block a decision adds. Auth blocks the whole cloud; everything else blocks this
/// launchable (instance type, accelerator, market) at the decided scope, as SkyPilot's
/// `should_be_blocked_by` does.
fn block_for(p: &TaskPlacement, zone: Option<&str>, scope: Scope, kind: ErrorKind) -> Block {
    let base = match (scope, zone) {
        (Scope::Cloud, _) => Block::cloud(p.cloud.clone()),
        (Scope::Region, _) | (Scope::Zone, None) => Block::region(p.cloud.clone(), &p.region),
        (Scope::Zone, Some(z)) => Block::zone(p.cloud.clone(), &p.region, z),
    };
    if kind == ErrorKind::Auth {
        return base;
    }
    let mut b = base
        .with_instance_type(&p.instance_type)
        .with_spot(p.use_spot);
    if let Some(a) = &p.accelerators {
        b = b.with_accelerators(a.clone());
    }
    b
}

/// Cluster names: 1-63 characters, lower-case letters, digits and `-`, starting with a letter
/// (the strictest of the clouds' naming rules, so one name works everywhere).
pub fn validate_cluster_name(name: &str) -> Result<(), BrokerError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(BrokerError::InvalidName {
            name: name.to_string(),
            message: "use 1-63 lower-case letters, digits and '-', starting with a letter and not ending with '-'".into(),
        })
    }
}
