//! Where catalog files come from: a fixed directory, or SkyPilot's hosted catalogs kept in a
//! local cache.
//!
//! # The cache (SkyPilot's rules)
//! The default cache is `~/.sky/catalogs/v8/`, the directory SkyPilot itself uses, so an
//! existing SkyPilot cache is reused. A file `<cloud>/vms.csv` is:
//! - **downloaded** from `<base_url>/<cloud>/vms.csv` when missing;
//! - **refreshed** when older than [`CatalogSource::REFRESH_AFTER`] (7 hours, the hosted
//!   catalogs' update period), but only if the file is unchanged since sky downloaded it: the
//!   SHA-256 of every download is recorded in `.meta/<cloud>/vms.csv.sha256`, and a file whose
//!   current hash differs (edited by the user) or that has no record (placed by hand, or
//!   downloaded by SkyPilot, which keeps its own `.md5` record and refreshes it itself) is never
//!   overwritten;
//! - written **atomically** (a temporary file in the same directory, then a rename), so readers
//!   never see a partial file.
//!
//! When a refresh fails but a cached file exists, sky warns (`tracing`) and uses the cached
//! file, touching its modification time so the next attempt waits another period (as SkyPilot
//! does). When there is no cached file and no way to download one, loading fails with
//! [`CatalogError::Offline`]. Concurrent refreshes by several processes are harmless (each
//! rename is atomic), so there is no lock file.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use sky_core::CloudId;
use sky_core::catalog::CatalogError;

/// The environment variable naming a directory of SkyPilot v8 catalogs to use as is.
pub const CATALOG_DIR_ENV: &str = "SKY_CATALOG_DIR";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Location {
    /// A fixed directory: files must exist; nothing is downloaded.
    Dir(PathBuf),
    /// A managed cache: downloaded and refreshed.
    Cache(PathBuf),
}

/// Where to read catalogs from, and whether and how to download them. A builder:
///
/// ```no_run
/// use sky_catalog::CatalogSource;
/// use sky_core::CloudId;
///
/// // SkyPilot's catalogs in ~/.sky/catalogs/v8, downloaded or refreshed as needed:
/// let catalogs = sky_catalog::load(&CatalogSource::new(), &[CloudId::Aws, CloudId::Gcp])?;
/// // A directory of catalog files, used as is:
/// let catalogs = sky_catalog::load(&CatalogSource::new().dir("/data/catalogs"), &[CloudId::Gcp])?;
/// # Ok::<(), sky_core::catalog::CatalogError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogSource {
    location: Location,
    base_url: String,
    refresh_after: Duration,
    offline: bool,
}

impl Default for CatalogSource {
    fn default() -> Self {
        Self::new()
    }
}

impl CatalogSource {
    /// SkyPilot's hosted v8 catalogs (`<base>/<cloud>/vms.csv`, `<base>/common/accelerators.csv`).
    pub const DEFAULT_BASE_URL: &'static str =
        "https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs/v8";

    /// How old a downloaded file may get before it is refreshed: 7 hours.
    pub const REFRESH_AFTER: Duration = Duration::from_secs(7 * 3600);

    /// The managed cache at [`CatalogSource::default_cache_dir`], refreshed from
    /// [`CatalogSource::DEFAULT_BASE_URL`].
    pub fn new() -> Self {
        CatalogSource {
            location: Location::Cache(Self::default_cache_dir()),
            base_url: Self::DEFAULT_BASE_URL.to_string(),
            refresh_after: Self::REFRESH_AFTER,
            offline: false,
        }
    }

    /// Like [`CatalogSource::new`], but if `SKY_CATALOG_DIR` is set (and not empty), that
    /// directory is used as is ([`CatalogSource::dir`]).
    pub fn from_env() -> Self {
        match std::env::var_os(CATALOG_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Self::new().dir(dir),
            _ => Self::new(),
        }
    }

    /// SkyPilot's catalog cache, `~/.sky/catalogs/v8` (relative to the working directory when
    /// there is no home directory).
    pub fn default_cache_dir() -> PathBuf {
        dirs::home_dir()
            .unwrap_or_default()
            .join(".sky")
            .join("catalogs")
            .join("v8")
    }

    /// Reads catalogs from this directory (laid out as `<dir>/<cloud>/vms.csv`), as they are:
    /// nothing is downloaded or refreshed.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.location = Location::Dir(dir.into());
        self
    }

    /// Uses this directory as the managed cache (download when missing, refresh when stale).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.location = Location::Cache(dir.into());
        self
    }

    /// Downloads from this base URL instead of SkyPilot's (files are `<url>/<cloud>/vms.csv`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// Refreshes cached files older than this (default 7 hours).
    pub fn refresh_after(mut self, age: Duration) -> Self {
        self.refresh_after = age;
        self
    }

    /// Never download: use cached files only (missing ones are [`CatalogError::Offline`]).
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// The directory catalogs are read from.
    pub fn root(&self) -> &Path {
        match &self.location {
            Location::Dir(d) | Location::Cache(d) => d,
        }
    }

    /// Whether this is a managed (downloading) cache rather than a fixed directory.
    pub fn is_managed_cache(&self) -> bool {
        matches!(self.location, Location::Cache(_))
    }

    /// The path of `<cloud>/vms.csv`, downloading or refreshing it first if this is a managed
    /// cache (see the module docs).
    pub fn vms_csv(&self, cloud: &CloudId) -> Result<PathBuf, CatalogError> {
        self.resolve(&format!("{}/vms.csv", cloud.as_str()))
    }

    /// The path of a catalog file given relative to the catalog root (`gcp/vms.csv`,
    /// `common/accelerators.csv`), downloading or refreshing it first if this is a managed
    /// cache.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, CatalogError> {
        let path = self.root().join(relative);
        let cloud = relative.split('/').next().unwrap_or(relative).to_string();
        match &self.location {
            Location::Dir(dir) => {
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(CatalogError::Offline {
                        cloud,
                        dir: dir.clone(),
                        reason: format!("{} does not exist", path.display()),
                    })
                }
            }
            Location::Cache(root) => self.ensure_cached(root, relative, &path, cloud),
        }
    }

    fn ensure_cached(
        &self,
        root: &Path,
        relative: &str,
        path: &Path,
        cloud: String,
    ) -> Result<PathBuf, CatalogError> {
        let meta = root.join(".meta").join(format!("{relative}.sha256"));
        if !path.is_file() {
            return match self.download(relative, path, &meta) {
                Ok(()) => Ok(path.to_path_buf()),
                Err(reason) => Err(CatalogError::Offline {
                    cloud,
                    dir: root.to_path_buf(),
                    reason,
                }),
            };
        }
        if !self.is_stale(path) || !unedited(path, &meta) {
            return Ok(path.to_path_buf());
        }
        if let Err(reason) = self.download(relative, path, &meta) {
            tracing::warn!(
                file = %path.display(),
                "could not refresh the {cloud} catalog ({reason}); using the cached file"
            );
            // Wait another period before retrying, as SkyPilot does.
            if let Ok(f) = std::fs::File::options().append(true).open(path) {
                let _ = f.set_modified(SystemTime::now());
            }
        }
        Ok(path.to_path_buf())
    }

    fn is_stale(&self, path: &Path) -> bool {
        let modified = std::fs::metadata(path).and_then(|m| m.modified());
        match modified {
            Ok(t) => SystemTime::now()
                .duration_since(t)
                .map(|age| age > self.refresh_after)
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Downloads `relative` into `path` atomically and records its hash in `meta`.
    fn download(&self, relative: &str, path: &Path, meta: &Path) -> Result<(), String> {
        if self.offline {
            return Err("offline mode".into());
        }
        let url = format!("{}/{relative}", self.base_url);
        let body = fetch(&url)?;
        if !looks_like_csv(&body) {
            return Err(format!("{url} did not return a CSV file"));
        }
        write_atomically(path, &body)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let digest = hex(&Sha256::digest(&body));
        write_atomically(meta, digest.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", meta.display()))?;
        tracing::debug!(%url, file = %path.display(), "downloaded catalog");
        Ok(())
    }
}

/// Whether `path`'s content still has the hash recorded at download time.
fn unedited(path: &Path, meta: &Path) -> bool {
    let Ok(recorded) = std::fs::read_to_string(meta) else {
        return false;
    };
    match std::fs::read(path) {
        Ok(content) => hex(&Sha256::digest(&content)) == recorded.trim(),
        Err(_) => false,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A download must at least start with a CSV header line naming columns.
fn looks_like_csv(body: &[u8]) -> bool {
    let first = body.split(|b| *b == b'\n').next().unwrap_or(&[]);
    !first.is_empty()
        && first.contains(&b',')
        && first.iter().all(|b| b.is_ascii() && *b != 0)
        && !first.starts_with(b"<")
}

/// Writes `content` to a temporary file next to `path`, then renames it over `path`.
fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(feature = "fetch")]
fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .header("User-Agent", concat!("sky/", env!("CARGO_PKG_VERSION")))
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| format!("GET {url}: {e}"))
}

#[cfg(not(feature = "fetch"))]
fn fetch(url: &str) -> Result<Vec<u8>, String> {
    Err(format!(
        "cannot download {url}: sky-core was built without the `fetch` feature"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_fixed_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let s = CatalogSource::new().dir(tmp.path());
        assert!(!s.is_managed_cache());
        assert_eq!(s.root(), tmp.path());
        let e = s.vms_csv(&CloudId::Gcp).unwrap_err();
        assert!(
            matches!(e, CatalogError::Offline { ref cloud, .. } if cloud == "gcp"),
            "{e}"
        );
        std::fs::create_dir_all(tmp.path().join("gcp")).unwrap();
        std::fs::write(tmp.path().join("gcp/vms.csv"), "a,b\n").unwrap();
        assert_eq!(
            s.vms_csv(&CloudId::Gcp).unwrap(),
            tmp.path().join("gcp/vms.csv")
        );
        let c = CatalogSource::new().base_url("http://x/y/");
        assert!(c.is_managed_cache());
        assert_eq!(c.base_url, "http://x/y");
        assert!(CatalogSource::default_cache_dir().ends_with(".sky/catalogs/v8"));
    }

    #[test]
    fn atomic_write_and_csv_check() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("a/b/c.csv");
        write_atomically(&p, b"x,y\n").unwrap();
        write_atomically(&p, b"x,z\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"x,z\n");
        let leftovers = std::fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
        assert!(looks_like_csv(b"InstanceType,Price\n"));
        assert!(!looks_like_csv(b"<html>,\n"));
        assert!(!looks_like_csv(b""));
    }
}
