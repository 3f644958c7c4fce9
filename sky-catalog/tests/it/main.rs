//! sky-catalog's integration tests: one binary, one submodule per cloud and topic.
//!
//! GCP and Azure tests read `SKY_TEST_CATALOG_DIR` (the full SkyPilot catalogs) when it is
//! set, otherwise the trimmed fixtures in `tests/fixtures/catalogs`; AWS tests always read the
//! small committed AWS fixture.

mod catalog_aws;
mod catalog_azure;
mod catalog_fetch;
mod catalog_gcp;
mod catalog_support;
