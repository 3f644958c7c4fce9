//! Criterion benchmarks of sky (`cargo bench -p sky-benches`). The library part holds the
//! shared fixtures: where the catalogs are, and seeded random DAGs.

use std::path::PathBuf;

pub mod dags;
pub mod memo;
pub mod synthetic;

/// The directory with SkyPilot's v8 catalogs used by the benches: `SKY_TEST_CATALOG_DIR` if set
/// (the full catalogs, for measurements that mean something), else the small trimmed fixtures
/// committed in `sky-catalog` ([`sky_catalog::testing::test_catalog_dir`]).
pub fn catalog_dir() -> PathBuf {
    sky_catalog::testing::test_catalog_dir()
}
