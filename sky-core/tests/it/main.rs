//! sky-core integration tests: one binary, one submodule per topic.

mod task_catalog;
mod task_dag;
mod task_errors;
mod task_fields;
mod task_proptest;
mod task_resources;
mod task_roundtrip;
