//! Putting the clouds together: what `sky launch` registers, as a library.
//!
//! [`Clouds`] turns a state directory and a catalog source into a ready [`Broker`]:
//!
//! - the `local` backend (feature `local`), always;
//! - the SSH node pools of `~/.sky/ssh_node_pools.yaml` (feature `ssh`), when the file exists;
//! - every cloud provider the last [`Clouds::check`] enabled (features `aws`, `gcp`,
//!   `azure`), each built from its environment (`XBuilder::from_env()`) and carrying its price
//!   catalog; AWS's zone names are kept in the state directory between processes
//!   ([`sky_cloud_aws::ZoneNames`]);
//! - the simulated `fake` cloud, when asked for ([`Clouds::with_fake`]).
//!
//! A provider whose catalog cannot be loaded (offline, no cached catalog) still joins the
//! broker through [`BrokerBuilder::provisioner`](crate::runtime::BrokerBuilder::provisioner):
//! the clusters it already has can be listed, stopped, started and torn down, and nothing new
//! is placed there. A provider that cannot be built at all (its credentials are gone) is
//! skipped with a warning, so that it never stands in the way of the others.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sky::clouds::Clouds;
//!
//! let clouds = Clouds::from_env(); // ~/.sky (or SKY_STATE_DIR), SKY_CATALOG_DIR
//! for report in clouds.check(&[]).await?.reports {
//!     print!("{report}");
//! }
//! let broker = clouds.broker().await?; // local, SSH pools, and what check enabled
//! println!("{:?}", broker.clouds());
//! # Ok(()) }
//! ```
//!
//! The file `<state dir>/enabled_clouds.json` ([`EnabledClouds`]) is SkyPilot's
//! `sky check` state: the clouds whose credentials passed.
//!
//! # One set of backends for every command
//! [`Clouds::catalogs`] returns the catalogs [`Clouds::broker`] registers, so that a plan
//! (`sky optimize`) or a listing (`sky show-gpus`) shows what `sky launch` would do.
//! [`Clouds::backends`] is that set limited to the clouds a command names, with the
//! provider catalogs of clouds `sky check` has not enabled added for a "what if" plan
//! ([`Backends::not_launchable`] names them). [`Clouds::check`] checks the SSH node pools
//! too ([`PoolsReport`]): the pool file parses and each host answers over SSH. Pools are not
//! enabled by a check: they are used whenever the pool file defines them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::{CatalogError, CatalogSource, Catalogs};
use serde::{Deserialize, Serialize};
use sky_core::check::CredentialReport;
use sky_core::provision::Provisioner;
use sky_runtime::state::StateStore;

use crate::{Broker, BrokerError, CloudId};

mod pools;
pub use pools::{HostFailure, HostReport, PoolReport, PoolSummary, PoolsReport};

/// The cloud providers with SkyPilot price catalogs and credential checks.
pub const PROVIDER_CLOUDS: [CloudId; 3] = [CloudId::Aws, CloudId::Gcp, CloudId::Azure];

/// What went wrong putting the clouds together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudsError {
    /// A file of the state directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A cloud that `check` does not know how to check (it needs no credentials).
    #[error(
        "{0} needs no credentials; `sky check` checks aws, gcp, azure and the SSH node pools (ssh)"
    )]
    NotAProvider(CloudId),
    /// A cloud asked for by name that this build of sky has no backend for.
    #[error("{0} has no backend in this build of sky")]
    NoBackend(CloudId),
    /// The price catalog of a cloud asked for by name cannot be loaded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The SSH node-pool configuration is invalid.
    #[cfg(feature = "ssh")]
    #[error(transparent)]
    Pools(#[from] sky_cloud_ssh::PoolError),
    /// The broker could not be built (its state store, say).
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// The clouds the last [`Clouds::check`] enabled, as kept in
/// `<state dir>/enabled_clouds.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnabledClouds {
    /// Cloud-provider backends whose credentials worked, by name.
    pub clouds: Vec<CloudId>,
    /// When the last check ran (Unix seconds).
    pub checked_at: i64,
}

impl EnabledClouds {
    /// The file that keeps them in the state directory `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join("enabled_clouds.json")
    }

    /// The clouds enabled in `dir` (none before the first check, or if the file is
    /// unreadable, which is logged).
    pub fn read(dir: &Path) -> EnabledClouds {
        let path = Self::path_in(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("ignoring {}: {e}; run `sky check`", path.display());
                EnabledClouds::default()
            }),
            Err(_) => EnabledClouds::default(),
        }
    }

    /// Writes them to `dir` (through a temporary file, so readers never see half of it).
    pub fn write(&self, dir: &Path) -> Result<(), CloudsError> {
        let path = Self::path_in(dir);
        let io = |source| CloudsError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&tmp, body).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }
}

/// What [`Clouds::check`] found.
#[derive(Clone, Debug, Serialize)]
pub struct CheckOutcome {
    /// One report per cloud provider checked, in the order asked.
    pub reports: Vec<CredentialReport>,
    /// The clouds enabled now (those that passed, and those enabled before and not checked
    /// this time), sorted.
    pub enabled: Vec<CloudId>,
    /// The check of the SSH node pools, when `ssh` was checked (asked for, or nothing named)
    /// and this build has the `ssh` backend. Pools are not enabled or disabled by it.
    pub pools: Option<PoolsReport>,
}

/// The backends a command sees ([`Clouds::backends`]): what `sky optimize` plans on and
/// `sky show-gpus` lists.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Backends {
    /// Their catalogs.
    pub catalogs: Catalogs,
    /// The SSH node pools among them (none when `ssh` is not among them), by name.
    pub pools: Vec<PoolSummary>,
    /// Clouds named by the command whose catalogs are included though `sky launch` would
    /// not place there: cloud providers the last `sky check` did not enable, or enabled
    /// ones that cannot be built now (their credentials are gone). A plan on them is a
    /// "what if".
    pub not_launchable: Vec<CloudId>,
}

/// What [`Clouds::broker`] registers, before it is registered.
struct Registered {
    #[cfg(feature = "local")]
    local: Arc<sky_cloud_local::LocalCloud>,
    /// `None` only when the pools were not needed and the pool file is invalid.
    #[cfg(feature = "ssh")]
    ssh: Option<Arc<sky_cloud_ssh::SshPoolCloud>>,
    providers: Vec<Arc<dyn Provisioner>>,
    fake: Option<crate::fake::FakeCloud>,
}

impl Registered {
    fn catalogs(&self) -> Catalogs {
        let mut c = Catalogs::new();
        #[cfg(feature = "local")]
        c.insert(self.local.clone());
        #[cfg(feature = "ssh")]
        if let Some(ssh) = &self.ssh {
            c.insert(ssh.clone());
        }
        for p in &self.providers {
            if let Some(catalog) = p.catalog() {
                c.insert(catalog);
            }
        }
        if let Some(f) = &self.fake {
            c.insert(Arc::new(f.clone()));
        }
        c
    }

    fn pools(&self) -> Vec<PoolSummary> {
        #[cfg(feature = "ssh")]
        {
            self.ssh
                .iter()
                .flat_map(|s| s.pools().iter())
                .map(PoolSummary::of)
                .collect()
        }
        #[cfg(not(feature = "ssh"))]
        Vec::new()
    }
}

/// A state directory and a catalog source, from which the broker of `sky launch` is built.
/// See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Clouds {
    state_dir: PathBuf,
    source: CatalogSource,
    fake: bool,
    #[cfg_attr(not(feature = "ssh"), allow(dead_code))]
    ssh_timeout: std::time::Duration,
}

impl Clouds {
    /// The clouds of state directory `state_dir`, with catalogs from
    /// [`CatalogSource::from_env`].
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Clouds {
            state_dir: state_dir.into(),
            source: CatalogSource::from_env(),
            fake: false,
            ssh_timeout: pools::DEFAULT_CHECK_TIMEOUT,
        }
    }

    /// The default state directory ([`StateStore::default_dir`]: `SKY_STATE_DIR`, else
    /// `~/.sky`) and catalogs from [`CatalogSource::from_env`].
    pub fn from_env() -> Self {
        Clouds::new(StateStore::default_dir())
    }

    /// Reads the price catalogs from `source`.
    pub fn catalog_source(mut self, source: CatalogSource) -> Self {
        self.source = source;
        self
    }

    /// Also registers the simulated `fake` cloud (its instances live in this process only;
    /// tasks land there only when they or the options name it).
    pub fn with_fake(mut self, fake: bool) -> Self {
        self.fake = fake;
        self
    }

    /// How long [`Clouds::check`] waits for each SSH pool host to answer (default 10 s).
    pub fn ssh_check_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.ssh_timeout = timeout;
        self
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The catalog source.
    pub fn source(&self) -> &CatalogSource {
        &self.source
    }

    /// The clouds the last [`Clouds::check`] enabled.
    pub fn enabled(&self) -> EnabledClouds {
        EnabledClouds::read(&self.state_dir)
    }

    /// Checks the credentials of the cloud providers among `clouds` one after the other, and
    /// records which are enabled; checks the SSH node pools ([`Clouds::check_pools`]) when
    /// `clouds` names `ssh`. With `clouds` empty, checks every one of [`PROVIDER_CLOUDS`]
    /// and the pools. Clouds not checked keep their previous state. When AWS passes, the
    /// account's zone names are asked for and kept.
    ///
    /// # Errors
    /// [`CloudsError::NotAProvider`] for a cloud that has nothing to check (before anything
    /// is checked), and [`CloudsError::Io`] when the record cannot be written.
    pub async fn check(&self, clouds: &[CloudId]) -> Result<CheckOutcome, CloudsError> {
        let (providers, pools): (Vec<CloudId>, bool) = if clouds.is_empty() {
            (PROVIDER_CLOUDS.to_vec(), true)
        } else {
            let checkable = |c: &CloudId| PROVIDER_CLOUDS.contains(c) || *c == CloudId::Ssh;
            if let Some(c) = clouds.iter().find(|c| !checkable(c)) {
                return Err(CloudsError::NotAProvider(c.clone()));
            }
            let providers = clouds
                .iter()
                .filter(|c| PROVIDER_CLOUDS.contains(c))
                .cloned()
                .collect();
            (providers, clouds.contains(&CloudId::Ssh))
        };
        let mut reports = Vec::with_capacity(providers.len());
        for c in &providers {
            reports.push(check_one(c).await);
        }
        let mut enabled: Vec<CloudId> = self
            .enabled()
            .clouds
            .into_iter()
            .filter(|c| !providers.contains(c))
            .collect();
        enabled.extend(reports.iter().filter(|r| r.ok()).map(|r| r.cloud.clone()));
        enabled.sort();
        enabled.dedup();
        if !providers.is_empty() {
            EnabledClouds {
                clouds: enabled.clone(),
                checked_at: sky_runtime::state::now_s(),
            }
            .write(&self.state_dir)?;
        }
        #[cfg(feature = "aws")]
        if reports.iter().any(|r| r.cloud == CloudId::Aws && r.ok()) {
            self.refresh_aws_zone_names().await;
        }
        let pools = if pools {
            self.check_pools().await
        } else {
            None
        };
        Ok(CheckOutcome {
            reports,
            enabled,
            pools,
        })
    }

    /// Checks the SSH node pools of `~/.sky/ssh_node_pools.yaml`: the file parses, and each
    /// host answers over SSH (a real login with the host's user, key and port, every host at
    /// once, each within [`Clouds::ssh_check_timeout`]). `None` when this build has no `ssh`
    /// backend.
    pub async fn check_pools(&self) -> Option<PoolsReport> {
        #[cfg(feature = "ssh")]
        {
            Some(pools::check(&sky_cloud_ssh::NodePools::default_path(), self.ssh_timeout).await)
        }
        #[cfg(not(feature = "ssh"))]
        None
    }

    /// Checks, on the spot, every cloud provider of `clouds` that the last check did not
    /// enable (a launch that names `--clouds aws`, `infra: gcp/...` or `cloud: azure` before
    /// `sky check` ever ran), and keeps those that pass enabled, as SkyPilot does. Returns
    /// the report of each cloud checked; nothing is checked when all are enabled.
    ///
    /// # Errors
    /// [`CloudsError::Io`] when the record cannot be written.
    pub async fn enable_named(
        &self,
        clouds: &[CloudId],
    ) -> Result<Vec<CredentialReport>, CloudsError> {
        let enabled = self.enabled().clouds;
        let mut missing: Vec<CloudId> = clouds
            .iter()
            .filter(|c| PROVIDER_CLOUDS.contains(c) && !enabled.contains(c))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.check(&missing).await?.reports)
    }

    /// The provisioner of `cloud` from its environment, carrying its catalog when the
    /// catalog loads (see the [module docs](self)).
    ///
    /// # Errors
    /// Why the backend cannot be built (credentials, configuration), or that this build of
    /// sky has no backend for `cloud` (its feature is off).
    pub async fn provisioner(&self, cloud: &CloudId) -> Result<Arc<dyn Provisioner>, String> {
        match cloud {
            #[cfg(feature = "aws")]
            CloudId::Aws => self.aws().await,
            #[cfg(feature = "gcp")]
            CloudId::Gcp => {
                let build = |b: sky_cloud_gcp::GcpBuilder| async move {
                    b.build().await.map_err(|e| e.to_string())
                };
                let builder = sky_cloud_gcp::GcpBuilder::from_env();
                let p = match crate::catalog::GcpCatalog::load(&self.source) {
                    Ok(c) => build(builder.catalog(Arc::new(c))).await?,
                    Err(e) => {
                        no_catalog(cloud, &e);
                        build(builder).await?
                    }
                };
                Ok(Arc::new(p))
            }
            #[cfg(feature = "azure")]
            CloudId::Azure => {
                let builder = sky_cloud_azure::AzureBuilder::from_env();
                let builder = match crate::catalog::AzureCatalog::load(&self.source) {
                    Ok(c) => builder.catalog(Arc::new(c)),
                    Err(e) => {
                        no_catalog(cloud, &e);
                        builder
                    }
                };
                Ok(Arc::new(builder.build().await.map_err(|e| e.to_string())?))
            }
            other => Err(format!("{other} has no provisioner in this build")),
        }
    }

    /// What [`Clouds::broker`] registers: the one place that says which backends a command
    /// sees. A malformed pool file gives pools that place nothing and say why (see
    /// [`sky_cloud_ssh::SshPoolCloud::from_file`]); a pools' allocation store that cannot be
    /// opened fails it when `need_pools`, and leaves the pools out (with a warning) otherwise.
    #[cfg_attr(not(feature = "ssh"), allow(unused_variables))]
    async fn registered(&self, need_pools: bool) -> Result<Registered, CloudsError> {
        #[cfg(any(feature = "local", feature = "ssh"))]
        let dir = &self.state_dir;
        let mut providers = Vec::new();
        for cloud in self.enabled().clouds {
            match self.provisioner(&cloud).await {
                Ok(p) => providers.push(p),
                Err(e) => {
                    tracing::warn!("{cloud} is enabled but unusable now ({e}); run `sky check`")
                }
            }
        }
        Ok(Registered {
            #[cfg(feature = "local")]
            local: Arc::new(sky_cloud_local::LocalCloud::new(dir)),
            #[cfg(feature = "ssh")]
            ssh: match sky_cloud_ssh::SshPoolCloud::from_default_file(dir) {
                Ok(pools) => Some(Arc::new(pools)),
                Err(e) if !need_pools => {
                    tracing::warn!("SSH node pools left out: {e}");
                    None
                }
                Err(e) => return Err(e.into()),
            },
            providers,
            fake: self.fake.then(crate::fake::FakeCloud::default),
        })
    }

    /// The broker over every backend (see the [module docs](self)).
    ///
    /// # Errors
    /// The state store, or the SSH node pools' allocation store, cannot be opened. A
    /// malformed pool file is not an error here: the clusters already on pools stay
    /// manageable, and launches on a pool fail with the file's error.
    pub async fn broker(&self) -> Result<Broker, CloudsError> {
        let mut builder = Broker::builder().state_dir(&self.state_dir)?;
        let r = self.registered(true).await?;
        #[cfg(feature = "local")]
        {
            builder = builder.backend(r.local);
        }
        #[cfg(feature = "ssh")]
        if let Some(ssh) = r.ssh {
            builder = builder.backend(ssh);
        }
        for p in r.providers {
            builder = builder.provisioner(p);
        }
        if let Some(fake) = r.fake {
            builder = builder.cloud(Arc::new(fake.clone()), Arc::new(fake));
        }
        Ok(builder.build()?)
    }

    /// The catalogs [`Clouds::broker`] registers: `local`, the SSH node pools, the enabled
    /// cloud providers whose catalogs load, and `fake` when asked for
    /// ([`Clouds::with_fake`]). What `sky launch` can place on, without opening the
    /// broker's state store (the pools' allocation file in the state directory is opened).
    ///
    /// # Errors
    /// The SSH node pools' allocation store cannot be opened.
    pub async fn catalogs(&self) -> Result<Catalogs, CloudsError> {
        Ok(self.registered(true).await?.catalogs())
    }

    /// The backends a command limited to `clouds` sees. With `clouds` empty: those of
    /// [`Clouds::catalogs`] except `fake` (placed on only when named), exactly what
    /// `sky launch` without `--clouds` places on. With clouds named: those of them that
    /// [`Clouds::catalogs`] has, and for each cloud provider it has not, its catalog from
    /// the catalog source, listed in [`Backends::not_launchable`] (a "what if").
    ///
    /// # Errors
    /// The SSH node pools' allocation store cannot be opened (when `clouds` is empty or names `ssh`; otherwise
    /// the pools are left out with a warning), the catalog of a named provider cannot be loaded
    /// ([`CloudsError::Catalog`]), or a named cloud has no backend in this build
    /// ([`CloudsError::NoBackend`]).
    pub async fn backends(&self, clouds: &[CloudId]) -> Result<Backends, CloudsError> {
        let need_pools = clouds.is_empty() || clouds.contains(&CloudId::Ssh);
        let registered = self.registered(need_pools).await?;
        let all = registered.catalogs();
        let mut out = Backends {
            catalogs: Catalogs::new(),
            pools: Vec::new(),
            not_launchable: Vec::new(),
        };
        if clouds.is_empty() {
            for c in all.iter().filter(|c| c.cloud() != CloudId::Fake) {
                out.catalogs.insert(c.clone());
            }
        } else {
            for cloud in clouds {
                if let Some(c) = all.get(cloud) {
                    out.catalogs.insert(c.clone());
                } else if PROVIDER_CLOUDS.contains(cloud) {
                    for c in crate::catalog::load(&self.source, std::slice::from_ref(cloud))?.iter()
                    {
                        out.catalogs.insert(c.clone());
                    }
                    out.not_launchable.push(cloud.clone());
                } else if *cloud == CloudId::Fake {
                    out.catalogs
                        .insert(Arc::new(crate::fake::FakeCloud::default()));
                } else {
                    return Err(CloudsError::NoBackend(cloud.clone()));
                }
            }
        }
        if out.catalogs.get(&CloudId::Ssh).is_some() {
            out.pools = registered.pools();
        }
        Ok(out)
    }

    #[cfg(feature = "aws")]
    async fn aws(&self) -> Result<Arc<dyn Provisioner>, String> {
        use sky_cloud_aws::{AwsBuilder, ZoneNames};
        let file = ZoneNames::path_in(&self.state_dir);
        let catalog = match crate::catalog::AwsCatalog::load(&self.source) {
            Ok(c) => Some(c),
            Err(e) => {
                no_catalog(&CloudId::Aws, &e);
                None
            }
        };
        let builder = || AwsBuilder::from_env().zone_names_file(&file);
        let Some(catalog) = catalog else {
            return Ok(Arc::new(
                builder().build().await.map_err(|e| e.to_string())?,
            ));
        };
        match builder().catalog(catalog).build().await {
            Ok(p) => Ok(Arc::new(p)),
            Err(e) => {
                // The zone names could not be asked for (offline, say): the clusters AWS
                // already has are still managed.
                tracing::warn!(
                    "AWS zone names unavailable ({e}): existing AWS clusters are managed, \
                     nothing new is placed on AWS"
                );
                Ok(Arc::new(
                    builder().build().await.map_err(|e| e.to_string())?,
                ))
            }
        }
    }

    /// Asks AWS for the account's zone names and keeps them; a failed refresh forgets the
    /// kept ones (stale names must not outlive it), and the next broker asks again.
    #[cfg(feature = "aws")]
    async fn refresh_aws_zone_names(&self) {
        use sky_cloud_aws::{AwsBuilder, ZoneNames, catalog::forget_zone_names};
        let base = match crate::catalog::AwsCatalog::load(&self.source) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!("no AWS catalog, so no zone names to map: {e}");
                return;
            }
        };
        let file = ZoneNames::path_in(&self.state_dir);
        if let Err(e) = forget_zone_names(&file) {
            tracing::warn!("cannot remove {}: {e}", file.display());
        }
        let built = AwsBuilder::from_env()
            .zone_names_file(&file)
            .catalog(base)
            .build()
            .await;
        if let Err(e) = built {
            let _ = forget_zone_names(&file);
            tracing::warn!("AWS zone names not kept ({e}); commands will ask AWS for them");
        }
    }
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
fn no_catalog(cloud: &CloudId, e: &dyn std::fmt::Display) {
    tracing::warn!(
        "no {cloud} catalog ({e}): existing {cloud} clusters are managed, nothing new is placed \
         on {cloud}"
    );
}

/// The credential check of one cloud provider: every source looked at, by name, then an
/// authenticated call.
pub async fn check_one(cloud: &CloudId) -> CredentialReport {
    match cloud {
        #[cfg(feature = "aws")]
        CloudId::Aws => sky_cloud_aws::AwsBuilder::from_env().check().await,
        #[cfg(feature = "gcp")]
        CloudId::Gcp => sky_cloud_gcp::GcpBuilder::from_env().check().await,
        #[cfg(feature = "azure")]
        CloudId::Azure => sky_cloud_azure::AzureBuilder::from_env().check().await,
        other => {
            let mut r = CredentialReport::new(other.clone());
            r.failed(format!("{other} has no credential check in this build"));
            r
        }
    }
}
