//! Criterion benchmarks of sky (`cargo bench -p sky-benches`). The library part holds the
//! shared fixtures: where the catalogs are, and seeded random DAGs.

use std::path::PathBuf;

pub mod dags;
pub mod memo;
pub mod synthetic;

/// The directory with SkyPilot's v8 catalogs used by the benches: `SKY_TEST_CATALOG_DIR` if set,
/// else `shared/catalogs` next to the repository.
pub fn catalog_dir() -> PathBuf {
    std::env::var_os("SKY_TEST_CATALOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(
                // The run-time value (cargo sets it for tests, benches and `cargo run`): the
                // compile-time one is stale in a binary reused from another checkout path.
                std::env::var_os("CARGO_MANIFEST_DIR")
                    .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
            )
            .join("../../shared/catalogs")
        })
}
