//! The broker: optimize, provision with failover, and record everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sky_core::catalog::{Catalog, Catalogs};
use sky_core::error::{Error, ErrorKind};
use sky_core::provision::{ClusterRef, Provisioner};
use sky_core::{CloudId, Task};
use sky_optimizer::{Objective, Options};

use crate::connector::{DirConnector, NodeConnector, SshConnector};
use crate::error::BrokerError;
use crate::failover::{
    DefaultPolicy, Failover, FailoverHistory, FailoverPolicy, terminate_with_retries,
};
use crate::state::{ClusterRecord, ClusterStatus, StateStore};

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
    /// The first pause between tries to terminate what a failed attempt left (doubling,
    /// jittered, at most 30 s; [`TEARDOWN_ATTEMPTS`] tries). Zero retries at once.
    pub teardown_backoff: Duration,
    /// The optimizer's options (egress model, solver).
    pub optimizer: Options,
    /// Where the launch's events go ([`crate::events`]).
    pub events: Option<crate::events::EventSink>,
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
            teardown_backoff: Duration::from_secs(1),
            optimizer: Options::default(),
            events: None,
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

    /// Sends each step of the launch to `f` as a [`LaunchEvent`](crate::events::LaunchEvent)
    /// (see [`crate::events`]).
    pub fn with_events(
        mut self,
        f: impl Fn(&crate::events::LaunchEvent) + Send + Sync + 'static,
    ) -> Self {
        self.events = Some(crate::events::EventSink::new(f));
        self
    }

    /// The optimizer's options for this launch: [`ProvisionOptions::optimizer`] narrowed to
    /// [`ProvisionOptions::clouds`].
    pub(crate) fn optimizer_options(&self) -> Options {
        let mut o = self.optimizer.clone();
        if let Some(c) = &self.clouds {
            o.clouds = Some(c.clone());
        }
        o
    }

    /// Sets the first pause between teardown tries ([`ProvisionOptions::teardown_backoff`]).
    pub fn with_teardown_backoff(mut self, first: Duration) -> Self {
        self.teardown_backoff = first;
        self
    }
}

/// One enabled cloud: its catalog, its provisioner and how to reach its nodes.
#[derive(Clone, Debug)]
pub(crate) struct CloudEntry {
    /// `None` for a cloud registered for the lifecycle of its existing clusters only
    /// ([`BrokerBuilder::provisioner`]): nothing new is placed there.
    pub(crate) catalog: Option<Arc<dyn Catalog>>,
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
    /// (catalog's cloud, provisioner's cloud) of registrations whose two disagree.
    mismatch: Vec<(CloudId, CloudId)>,
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
    pub fn cloud(self, catalog: Arc<dyn Catalog>, provisioner: Arc<dyn Provisioner>) -> Self {
        self.entry(provisioner.cloud(), Some(catalog), provisioner, None)
    }

    /// Enables a cloud through its provisioner, with the catalog the provisioner carries
    /// ([`Provisioner::catalog`]: the AWS, GCP and Azure builders take one). A provisioner
    /// without a catalog still manages the clusters it already has (`status`, `refresh`,
    /// `stop`, `start`, `down`, jobs and logs), and nothing new is placed there: this is what
    /// lets a cluster be torn down when its cloud's catalog cannot be loaded (offline, say).
    ///
    /// Its nodes are reached with the default connector, as for [`BrokerBuilder::cloud`].
    pub fn provisioner(self, provisioner: Arc<dyn Provisioner>) -> Self {
        let catalog = provisioner.catalog();
        self.entry(provisioner.cloud(), catalog, provisioner, None)
    }

    /// Enables a backend that is its own catalog, provisioner and node connector (the
    /// `local` and `ssh` backends, or one of an embedder's own).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sky_core::catalog::Catalog;
    /// use sky_core::provision::Provisioner;
    /// use sky_runtime::{BrokerBuilder, NodeConnector};
    ///
    /// fn with_my_backend<B>(builder: BrokerBuilder, backend: B) -> BrokerBuilder
    /// where
    ///     B: Catalog + Provisioner + NodeConnector + 'static,
    /// {
    ///     builder.backend(Arc::new(backend))
    /// }
    /// ```
    pub fn backend<B>(self, backend: Arc<B>) -> Self
    where
        B: Catalog + Provisioner + NodeConnector + 'static,
    {
        let cloud = Provisioner::cloud(backend.as_ref());
        self.entry(cloud, Some(backend.clone()), backend.clone(), Some(backend))
    }

    /// Enables a cloud whose nodes are reached through `connector`.
    pub fn cloud_with(
        self,
        catalog: Arc<dyn Catalog>,
        provisioner: Arc<dyn Provisioner>,
        connector: Arc<dyn NodeConnector>,
    ) -> Self {
        self.entry(
            provisioner.cloud(),
            Some(catalog),
            provisioner,
            Some(connector),
        )
    }

    fn entry(
        mut self,
        cloud: CloudId,
        catalog: Option<Arc<dyn Catalog>>,
        provisioner: Arc<dyn Provisioner>,
        connector: Option<Arc<dyn NodeConnector>>,
    ) -> Self {
        if let Some(c) = &catalog
            && c.cloud() != cloud
        {
            self.mismatch.push((c.cloud(), cloud.clone()));
        }
        self.clouds.insert(
            cloud,
            CloudEntry {
                catalog,
                provisioner,
                connector,
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
        if let Some((catalog, provisioner)) = self.mismatch.first() {
            return Err(BrokerError::Config(format!(
                "the catalog is for {catalog} but the provisioner is for {provisioner}"
            )));
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
            unreachable: Mutex::new(BTreeMap::new()),
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
    /// Per cluster name, the nodes that did not answer the last time they were connected to.
    pub(crate) unreachable: Mutex<BTreeMap<String, Vec<crate::jobs::UnreachableNode>>>,
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

impl Broker {
    /// A builder.
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder::default()
    }

    /// A fresh failover policy for one launch.
    pub(crate) fn new_policy(&self) -> Box<dyn FailoverPolicy> {
        (self.policy)()
    }

    /// The state store.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// The state directory (the database's directory; keys and fake nodes live there).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The catalogs of the enabled clouds (those registered with one: a cloud registered
    /// with [`BrokerBuilder::provisioner`] alone has none, and is not placed on).
    pub fn catalogs(&self) -> Catalogs {
        let mut c = Catalogs::new();
        for e in self.clouds.values() {
            if let Some(catalog) = &e.catalog {
                c.insert(catalog.clone());
            }
        }
        c
    }

    /// The clouds this broker manages (with or without a catalog), in order.
    pub fn clouds(&self) -> Vec<CloudId> {
        self.clouds.keys().cloned().collect()
    }

    /// sky's public key for clouds reached with the default [`SshConnector`] (created on
    /// first use); `None` for clouds with their own connector, or if the key cannot be made
    /// (connecting reports that later).
    pub(crate) fn ssh_public_key(&self, cloud: &CloudId) -> Option<String> {
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

    /// The plan [`Broker::provision`] would start from for `task` with `options`: the same
    /// catalogs, clouds, objective and optimizer options, and nothing blocked yet. A CLI or UI
    /// shows it before asking to proceed; failover may then land elsewhere (the events say
    /// where).
    ///
    /// Fails with the optimizer's error when nothing fits (each alternative's reason, with
    /// suggestions), so that a launch that could try nothing says why before it starts.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use sky_core::fake::FakeCloud;
    /// # use sky_runtime::{Broker, ProvisionOptions, state::StateStore};
    /// let fake = FakeCloud::builder().build();
    /// let broker = Broker::builder()
    ///     .cloud(Arc::new(fake.clone()), Arc::new(fake))
    ///     .state(Arc::new(StateStore::open_in_memory().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let task = sky_core::Task::from_yaml_str("resources: {accelerators: V100}").unwrap();
    /// let plan = broker.plan(&task, &ProvisionOptions::new()).unwrap();
    /// assert_eq!(plan.placements[0].accelerators.as_ref().unwrap().name, "V100");
    /// println!("{}", plan.render_table());
    /// ```
    pub fn plan(
        &self,
        task: &Task,
        options: &ProvisionOptions,
    ) -> Result<sky_optimizer::Plan, sky_optimizer::OptimizeError> {
        sky_optimizer::optimize(
            &sky_core::Dag::single(task.clone()),
            &self.catalogs(),
            &sky_optimizer::BlockList::new(),
            options.objective,
            &options.optimizer_options(),
        )
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
    /// - What the task asks for and sky cannot honour is refused first, with nothing created
    ///   ([`Broker::precheck_resources`]); the task's `resources.autostop` is applied to the
    ///   cluster once it is up.
    pub async fn provision(
        &self,
        task: &Task,
        name: &str,
        options: &ProvisionOptions,
    ) -> Result<ClusterRecord, BrokerError> {
        validate_cluster_name(name)?;
        self.precheck_resources(task)?;
        let (record, created) = self
            .state
            .begin_provision(name, &self.holder, &self.owner)?;
        // Renewed while the launch works, released when it ends (or its future is dropped).
        let lease = Lease::hold(self.state.clone(), name, &self.holder);
        let result = self
            .provision_leased(task, name, record, created, options)
            .await;
        drop(lease);
        let record = result?;
        // The task's `resources.autostop` takes effect on the cluster it launched.
        match crate::precheck::task_autostop(task)? {
            Some(setting) => {
                self.state.set_autostop(name, setting)?;
                self.cluster(name)
            }
            None => Ok(record),
        }
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
                    self.cleanup_leftovers(&record, options.teardown_backoff)
                        .await?;
                }
            }
        }
        Failover::new(self, task, name, record, options).run().await
    }

    /// A previous provisioning of this INIT row died: terminate whatever it recorded.
    async fn cleanup_leftovers(
        &self,
        record: &ClusterRecord,
        backoff: Duration,
    ) -> Result<(), BrokerError> {
        let Some(l) = &record.launched else {
            return Ok(());
        };
        let provisioner = self.provisioner(&l.cloud)?;
        let cluster = ClusterRef {
            name: record.cluster_hash.clone(),
            region: l.region.clone(),
            zone: l.zone.clone(),
        };
        let error = match terminate_with_retries(provisioner.as_ref(), &cluster, backoff).await {
            Ok(()) => {
                self.state.set_nodes(&record.name, &[])?;
                return Ok(());
            }
            Err(e) => e,
        };
        Err(BrokerError::TeardownFailed {
            cluster: record.name.clone(),
            instances: record.nodes.iter().map(|n| n.id.clone()).collect(),
            error: Error::new(
                ErrorKind::Unexpected,
                format!("could not terminate the leftovers of an earlier attempt: {error}"),
            ),
            history: FailoverHistory::default(),
        })
    }
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

/// A new cluster name in SkyPilot's form, `sky-<4 hex digits>-<user>`, for a launch that
/// names none: `user` is lower-cased and kept to letters, digits and `-` (at most 20).
/// The result always passes [`validate_cluster_name`].
///
/// ```
/// let name = sky_runtime::broker::generate_cluster_name("Ada.Lovelace");
/// assert!(name.starts_with("sky-") && name.ends_with("-adalovelace"), "{name}");
/// assert!(sky_runtime::broker::validate_cluster_name(&name).is_ok());
/// ```
pub fn generate_cluster_name(user: &str) -> String {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    std::time::SystemTime::now().hash(&mut h);
    std::process::id().hash(&mut h);
    let tag = h.finish() & 0xffff;
    let user: String = user
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .take(20)
        .collect();
    let user = user.trim_matches('-');
    if user.is_empty() {
        format!("sky-{tag:04x}")
    } else {
        format!("sky-{tag:04x}-{user}")
    }
}

/// A provisioning lease held by this broker: renewed every quarter of
/// [`LEASE_SECONDS`](crate::state::LEASE_SECONDS) while it lives, released on drop.
struct Lease {
    state: Arc<StateStore>,
    name: String,
    holder: String,
    renewal: tokio::task::JoinHandle<()>,
}

impl Lease {
    fn hold(state: Arc<StateStore>, name: &str, holder: &str) -> Self {
        let every = Duration::from_secs((crate::state::LEASE_SECONDS as u64 / 4).max(1));
        let renewal = {
            let (state, name, holder) = (state.clone(), name.to_string(), holder.to_string());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match state.renew_lease(&name, &holder) {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(cluster = %name, "the provisioning lease was lost");
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(cluster = %name, error = %e, "renewing the provisioning lease")
                        }
                    }
                }
            })
        };
        Lease {
            state,
            name: name.to_string(),
            holder: holder.to_string(),
            renewal,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
        if let Err(e) = self.state.end_provision(&self.name, &self.holder) {
            tracing::warn!(cluster = %self.name, error = %e, "releasing the provisioning lease");
        }
    }
}
