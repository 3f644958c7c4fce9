//! sky-core's integration tests (one binary; each topic is a submodule).

mod catalog_aws;
mod catalog_azure;
mod catalog_fetch;
mod catalog_gcp;
mod catalog_support;
