//! Where tests find SkyPilot catalogs (feature `testing`).
//!
//! Every test in the workspace that reads SkyPilot's GCP and Azure catalogs asks
//! [`test_catalog_dir`]: the directory named by [`TEST_CATALOG_DIR_ENV`] when it is set (CI
//! points it at the full catalogs), otherwise the small trimmed copies committed in this crate
//! (`sky-catalog/tests/fixtures/trimmed/{gcp,azure}/vms.csv`, made by
//! `sky-catalog/tests/fixtures/trim.py`), so that `cargo test` passes in a clone that has only
//! the repository. The hand-made AWS fixture is in [`fixture_dir`].
//!
//! Paths are found at run time from the running test's `CARGO_MANIFEST_DIR` (cargo sets it when
//! it runs a test, bench or binary) by walking up to the workspace root; only when that leads
//! nowhere is this crate's compile-time path used. A compile-time path alone goes stale when
//! two checkouts at different paths share one target directory (cargo reuses the binaries).

use std::path::{Path, PathBuf};

use crate::CatalogSource;

/// The environment variable naming a directory of full SkyPilot v8 catalogs for tests.
pub const TEST_CATALOG_DIR_ENV: &str = "SKY_TEST_CATALOG_DIR";

/// The directory of GCP and Azure catalogs tests read: [`TEST_CATALOG_DIR_ENV`] when set,
/// else the trimmed copies committed in the repository ([`trimmed_catalog_dir`]).
pub fn test_catalog_dir() -> PathBuf {
    full_catalog_dir().unwrap_or_else(trimmed_catalog_dir)
}

/// A [`CatalogSource`] of [`test_catalog_dir`].
pub fn test_catalog_source() -> CatalogSource {
    CatalogSource::new().dir(test_catalog_dir())
}

/// The directory named by [`TEST_CATALOG_DIR_ENV`], when it is set (and not empty).
pub fn full_catalog_dir() -> Option<PathBuf> {
    std::env::var_os(TEST_CATALOG_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The trimmed GCP and Azure catalogs committed in the repository
/// (`sky-catalog/tests/fixtures/trimmed`): only the rows the workspace's tests need.
pub fn trimmed_catalog_dir() -> PathBuf {
    fixtures().join("trimmed")
}

/// The directory of the hand-made AWS fixture (`sky-catalog/tests/fixtures/catalogs`, which
/// holds `aws/vms.csv` only).
pub fn fixture_dir() -> PathBuf {
    fixtures().join("catalogs")
}

/// `sky-catalog/tests/fixtures` of the checkout the test runs in.
fn fixtures() -> PathBuf {
    const REL: &str = "sky-catalog/tests/fixtures";
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| {
            Path::new(&dir)
                .ancestors()
                .map(|a| a.join(REL))
                .find(|p| p.is_dir())
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}
