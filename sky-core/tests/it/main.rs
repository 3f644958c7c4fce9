//! sky-core's integration tests: one binary, one submodule per topic.

mod conformance_fake;
mod fake_catalog;
mod fake_cloud;
mod fake_faults;
mod fake_saga;
mod skypilot_compat;
mod task_catalog;
mod task_dag;
mod task_errors;
mod task_fields;
mod task_proptest;
mod task_resources;
mod task_roundtrip;
