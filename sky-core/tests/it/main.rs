//! sky-core's integration tests: one binary, one submodule per topic.

mod conformance_fake;
mod fake_catalog;
mod fake_cloud;
mod fake_faults;
mod fake_saga;
