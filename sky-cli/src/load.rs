//! Loading catalogs, tasks and the broker from the global flags.

use std::path::Path;
use std::sync::OnceLock;

use sky::catalog::{CatalogSource, Catalogs};
use sky::clouds::{Backends, Clouds, CloudsError};
use sky::runtime::state::StateStore;
use sky::task::{TaskError, TaskLoader};
use sky::{Broker, BrokerError, CloudId, Dag};

use crate::{Failure, Global};

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

/// The backends a planning or listing command sees ([`Clouds::backends`]): with no
/// `clouds`, exactly what `sky launch` places on (local, the SSH node pools, the clouds
/// `sky check` enabled); with `clouds`, those, where a cloud provider `sky check` has not
/// enabled is planned on from its catalog anyway, with a note on stderr.
pub fn backends(g: &Global, clouds: &[CloudId]) -> Result<Backends, Failure> {
    let rt = runtime().map_err(|m| Failure::new("runtime", m, 2))?;
    let backends = rt
        .block_on(self::clouds(g).with_fake(true).backends(clouds))
        .map_err(|e| match e {
            CloudsError::Catalog(e) => Failure::new("catalog", e.to_string(), 2),
            CloudsError::NoBackend(_) => Failure::new("invalid_argument", e.to_string(), 2),
            e => Failure::new("config", e.to_string(), 2),
        })?;
    for c in &backends.not_launchable {
        eprintln!("note: {c} is not enabled: launch would not place there; run `sky check {c}`");
    }
    Ok(backends)
}

/// Every catalog sky knows of, for checking a file rather than placing it (`sky validate`):
/// those of [`Clouds::catalogs`] (what launch places on) and every cloud provider's catalog
/// at hand, enabled or not (the others are named and skipped).
pub fn all_catalogs(g: &Global) -> Result<Catalogs, Failure> {
    let rt = runtime().map_err(|m| Failure::new("runtime", m, 2))?;
    let mut all = rt.block_on(clouds(g).catalogs()).unwrap_or_else(|e| {
        tracing::warn!("{e}");
        Catalogs::new()
    });
    let src = source(g);
    for c in sky::clouds::PROVIDER_CLOUDS {
        if all.get(&c).is_some() {
            continue;
        }
        match sky::catalog::load(&src, std::slice::from_ref(&c)) {
            Ok(one) => {
                for cat in one.iter() {
                    all.insert(cat.clone());
                }
            }
            Err(e) => tracing::warn!("no {c} catalog: {e}"),
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
    Ok(all)
}

/// Reads a task file as a DAG (one document = one task), validated against `catalogs`.
pub fn dag(path: &Path, catalogs: Option<&Catalogs>) -> Result<Dag, TaskError> {
    let mut loader = TaskLoader::new();
    if let Some(c) = catalogs {
        loader = loader.with_catalogs(c);
    }
    loader.load_dag_file(path)
}

/// The broker for cluster and job commands: [`Clouds::broker`] over the state dir and
/// catalogs the flags name (local, the SSH node pools, the clouds `sky check` enabled), plus
/// the `fake` cloud (whose instances live in this process only; launches use it only when
/// `--clouds fake` asks for it).
pub fn broker(g: &Global) -> Result<Broker, Failure> {
    let rt = runtime().map_err(|m| Failure::new("runtime", m, 2))?;
    rt.block_on(clouds(g).with_fake(true).broker())
        .map_err(|e| match e {
            CloudsError::Broker(e @ BrokerError::State(_)) => {
                Failure::new("state", e.to_string(), 2)
            }
            e => Failure::new("config", e.to_string(), 2),
        })
}

/// The clouds of the state dir and catalog source the flags name.
pub fn clouds(g: &Global) -> Clouds {
    Clouds::new(g.state_dir.clone().unwrap_or_else(StateStore::default_dir))
        .catalog_source(source(g))
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
