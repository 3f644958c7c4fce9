//! Where tests find SkyPilot catalogs (feature `testing`).
//!
//! Every test in the workspace that reads SkyPilot's CSV catalogs asks [`test_catalog_dir`]:
//! the directory named by [`TEST_CATALOG_DIR_ENV`] when it is set (CI points it at the full
//! catalogs), otherwise the small trimmed fixtures committed in this crate
//! (`sky-catalog/tests/fixtures/catalogs/{aws,gcp,azure}/vms.csv`, made by
//! `sky-catalog/tests/fixtures/trim.py`), so that `cargo test` passes in a clone that has
//! only the repository.

use std::path::{Path, PathBuf};

use sky_core::CloudId;

use crate::CatalogSource;

/// The environment variable naming a directory of full SkyPilot v8 catalogs for tests.
pub const TEST_CATALOG_DIR_ENV: &str = "SKY_TEST_CATALOG_DIR";

/// The directory of catalogs tests read: [`TEST_CATALOG_DIR_ENV`] when set, else the fixtures
/// committed in the repository ([`fixture_dir`]).
pub fn test_catalog_dir() -> PathBuf {
    full_catalog_dir().unwrap_or_else(fixture_dir)
}

/// The directory named by [`TEST_CATALOG_DIR_ENV`], when it is set (and not empty).
pub fn full_catalog_dir() -> Option<PathBuf> {
    std::env::var_os(TEST_CATALOG_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A [`CatalogSource`] of [`test_catalog_dir`].
pub fn test_catalog_source() -> CatalogSource {
    CatalogSource::new().dir(test_catalog_dir())
}

/// The committed fixtures: `sky-catalog/tests/fixtures/catalogs`.
///
/// Found at run time from the running test's `CARGO_MANIFEST_DIR` (cargo sets it when it runs
/// a test, bench or binary), by walking up to the workspace root (the first ancestor with a
/// `sky-catalog/tests/fixtures` directory); only when that variable is unset or leads nowhere
/// does it use this crate's compile-time path. A compile-time path alone goes stale when two
/// checkouts at different paths share one target directory (cargo reuses the binaries).
pub fn fixture_dir() -> PathBuf {
    const REL: &str = "sky-catalog/tests/fixtures/catalogs";
    let from_run = std::env::var_os("CARGO_MANIFEST_DIR").and_then(|dir| {
        Path::new(&dir)
            .ancestors()
            .map(|a| a.join(REL))
            .find(|p| p.is_dir())
    });
    from_run
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalogs"))
}

/// Whether [`test_catalog_dir`] has `cloud`'s `vms.csv`.
pub fn has_catalog(cloud: &CloudId) -> bool {
    test_catalog_dir()
        .join(cloud.as_str())
        .join("vms.csv")
        .is_file()
}

/// For tests whose expected values need the full catalogs: `true` (run) when
/// [`TEST_CATALOG_DIR_ENV`] is set; otherwise prints a note naming `test` and returns `false`
/// (skip), except under CI (the `CI` environment variable set), where a missing full catalog
/// is a failure.
///
/// # Panics
/// When `CI` is set and [`TEST_CATALOG_DIR_ENV`] is not: CI must test the full catalogs.
pub fn full_catalogs_or_skip(test: &str) -> bool {
    if full_catalog_dir().is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CI is set but {TEST_CATALOG_DIR_ENV} is not; CI must run this test on the full \
         SkyPilot catalogs"
    );
    eprintln!(
        "note: {test} skipped: it needs the full SkyPilot catalogs; set {TEST_CATALOG_DIR_ENV} \
         to a directory of them"
    );
    false
}
