//! Criterion benchmarks of sky (`cargo bench -p sky-benches`). The library part holds the
//! shared fixtures: where the catalogs are, and seeded random DAGs.

pub mod dags;
pub mod synthetic;
