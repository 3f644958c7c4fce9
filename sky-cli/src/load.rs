//! Loading catalogs, tasks and the broker from the global flags.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use sky::catalog::{AwsCatalog, AzureCatalog, Catalog, CatalogSource, Catalogs, GcpCatalog};
use sky::fake::FakeCloud;
use sky::provision::Provisioner;
use sky::runtime::state::StateStore;
use sky::task::{TaskError, TaskLoader};
use sky::{Broker, CloudId, Dag};

use crate::{Failure, Global};

/// The clouds with SkyPilot price catalogs.
pub const CATALOG_CLOUDS: [CloudId; 3] = [CloudId::Aws, CloudId::Gcp, CloudId::Azure];

/// Parses `--clouds a,b` into cloud ids, with a suggestion for unknown names.
pub fn parse_clouds(list: &[String]) -> Result<Vec<CloudId>, Failure> {
    let mut out = Vec::new();
    for name in list
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match CloudId::known(name) {
            Some(c) => out.push(c),
            None => {
                let known: Vec<&str> = CloudId::KNOWN.iter().map(|c| c.as_str()).collect();
                let hint = sky::suggest::did_you_mean(name, known.iter().copied())
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                return Err(Failure::new(
                    "invalid_argument",
                    format!("unknown cloud {name:?}{hint} (known: {})", known.join(", ")),
                    2,
                ));
            }
        }
    }
    Ok(out)
}

/// The catalog source the flags name.
pub fn source(g: &Global) -> CatalogSource {
    match &g.catalog_dir {
        Some(d) => CatalogSource::new().dir(d),
        None => CatalogSource::from_env(),
    }
}

/// Loads the catalogs of `clouds` (or, when `None`, of every cloud whose catalog is
/// available, warning about the others). The fake cloud's catalog is added when asked for.
pub fn catalogs(g: &Global, clouds: Option<&[CloudId]>) -> Result<Catalogs, Failure> {
    let src = source(g);
    let fail = |e: sky::catalog::CatalogError| Failure::new("catalog", e.to_string(), 2);
    let mut catalogs = match clouds {
        Some(cs) => sky::catalog::load(&src, cs).map_err(fail)?,
        None => {
            // Every cloud whose catalog is at hand; the others are named and skipped.
            let mut all = Catalogs::new();
            for c in CATALOG_CLOUDS {
                match sky::catalog::load(&src, std::slice::from_ref(&c)) {
                    Ok(one) => {
                        for cat in one.iter() {
                            all.insert(cat.clone());
                        }
                    }
                    Err(e) => tracing::warn!("{c} disabled: {e}"),
                }
            }
            if all.is_empty() {
                return Err(Failure::new(
                    "catalog",
                    format!(
                        "no catalog could be loaded from {}; set --catalog-dir or SKY_CATALOG_DIR",
                        src.root().display()
                    ),
                    2,
                ));
            }
            all
        }
    };
    if clouds.is_some_and(|cs| cs.contains(&CloudId::Fake)) {
        catalogs.insert(Arc::new(FakeCloud::default()));
    }
    Ok(catalogs)
}

/// Reads a task file as a DAG (one document = one task), validated against `catalogs`.
pub fn dag(path: &Path, catalogs: Option<&Catalogs>) -> Result<Dag, TaskError> {
    let mut loader = TaskLoader::new();
    if let Some(c) = catalogs {
        loader = loader.with_catalogs(c);
    }
    loader.load_dag_file(path)
}

/// The broker for cluster and job commands: the `local` backend (this machine), the SSH
/// node pools of `~/.sky/ssh_node_pools.yaml`, the cloud providers the last `sky check`
/// enabled, and the `fake` cloud (whose instances live in this process only; launches use it
/// only when `--clouds fake` asks for it).
///
/// A provider that was enabled but cannot be built now (credentials gone, catalog missing) is
/// skipped with a warning, so that it never stands in the way of the others.
pub fn broker(g: &Global) -> Result<Broker, Failure> {
    let dir = g.state_dir.clone().unwrap_or_else(StateStore::default_dir);
    let mut builder = Broker::builder()
        .state_dir(&dir)
        .map_err(|e| Failure::new("state", e.to_string(), 2))?;
    builder = sky::local::LocalCloud::register(builder, &dir);
    builder = sky::ssh::SshPoolCloud::from_default_file(&dir)
        .map_err(|e| Failure::new("config", e.to_string(), 2))?
        .register(builder);
    for cloud in crate::check::enabled(&dir).clouds {
        match provider(g, &cloud) {
            Ok((catalog, provisioner)) => builder = builder.cloud(catalog, provisioner),
            Err(e) => tracing::warn!("{cloud} is enabled but unusable now ({e}); run `sky check`"),
        }
    }
    let fake = FakeCloud::default();
    builder = builder.cloud(Arc::new(fake.clone()), Arc::new(fake));
    builder
        .build()
        .map_err(|e| Failure::new("config", e.to_string(), 2))
}

/// A cloud's catalog and provisioner, as [`BrokerBuilder::cloud`](sky::runtime::BrokerBuilder::cloud) takes them.
type Backend = (Arc<dyn Catalog>, Arc<dyn Provisioner>);

/// The catalog and provisioner of a cloud-provider backend, from the environment.
fn provider(g: &Global, cloud: &CloudId) -> Result<Backend, String> {
    let src = source(g);
    let rt = runtime()?;
    match cloud {
        CloudId::Aws => {
            let base = AwsCatalog::load(&src).map_err(|e| e.to_string())?;
            let builder = sky::aws::AwsBuilder::from_env();
            // SkyPilot's AWS catalog names zones by id; the account maps them to names. The
            // map `sky check` kept is used when it was made with this configuration.
            let dir = g.state_dir.clone().unwrap_or_else(StateStore::default_dir);
            let kept = crate::check::aws_zone_names(&dir, &builder);
            let names = crate::check::AwsZoneNames::for_builder(&builder);
            let p = rt.block_on(builder.build()).map_err(|e| e.to_string())?;
            let zones = match kept {
                Some(k) => {
                    tracing::debug!(target: "sky::aws_zone_names", "using the kept zone names");
                    k.zones
                }
                None => rt.block_on(crate::check::ask_and_keep_aws_zone_names(
                    &dir, names, &p, &base,
                ))?,
            };
            Ok((Arc::new(base.with_zone_names(&zones)), Arc::new(p)))
        }
        CloudId::Gcp => {
            let catalog = GcpCatalog::load(&src).map_err(|e| e.to_string())?;
            let p = rt
                .block_on(sky::gcp::GcpBuilder::from_env().build())
                .map_err(|e| e.to_string())?;
            Ok((Arc::new(catalog), Arc::new(p)))
        }
        CloudId::Azure => {
            let catalog = Arc::new(AzureCatalog::load(&src).map_err(|e| e.to_string())?);
            let p = rt
                .block_on(
                    sky::azure::AzureBuilder::from_env()
                        .catalog(catalog.clone())
                        .build(),
                )
                .map_err(|e| e.to_string())?;
            Ok((catalog, Arc::new(p)))
        }
        other => Err(format!("{other} has no provisioner in this build")),
    }
}

/// The process's async runtime (current-thread), made on first use. One runtime for the
/// whole command, because provider clients built on it keep tasks and connections there.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}
