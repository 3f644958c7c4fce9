//! Fuzz target `task_yaml`: the task loader on arbitrary bytes.
//!
//! Each input goes to [`Task::from_yaml_slice`] and [`Dag::from_yaml_slice`] (the plain
//! loader, without catalogs). Neither may panic, overflow the stack or run away: any input
//! yields a value or a `TaskError`, whose `Display` is rendered too.
//!
//! A value that loads must also round-trip, as the docs of `to_yaml_string*` promise:
//! - `to_yaml_string_with_secrets` succeeds, and loading its output gives an equal value;
//! - `to_yaml_string` (secrets redacted) succeeds, and its output loads.
//!
//! A failure of any of these is a finding (the target panics, libFuzzer records the input).

#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use sky_core::{Dag, Task};

fuzz_target!(|data: &[u8]| {
    let mut sink = String::new();

    match Task::from_yaml_slice(data) {
        Ok(task) => {
            let yaml = task
                .to_yaml_string_with_secrets()
                .unwrap_or_else(|e| panic!("a loaded task must serialise: {e}"));
            let again = Task::from_yaml_str(&yaml)
                .unwrap_or_else(|e| panic!("a written task must load: {e}\n--- yaml:\n{yaml}"));
            assert!(
                again == task,
                "task round trip changed the value\n--- yaml:\n{yaml}\n--- before: {task:?}\n--- after: {again:?}"
            );
            let redacted = task
                .to_yaml_string()
                .unwrap_or_else(|e| panic!("a loaded task must serialise redacted: {e}"));
            if let Err(e) = Task::from_yaml_str(&redacted) {
                panic!("a redacted task must load: {e}\n--- yaml:\n{redacted}");
            }
        }
        Err(e) => {
            let _ = write!(sink, "{e}");
        }
    }

    match Dag::from_yaml_slice(data) {
        Ok(dag) => {
            let yaml = dag
                .to_yaml_string_with_secrets()
                .unwrap_or_else(|e| panic!("a loaded DAG must serialise: {e}"));
            let again = Dag::from_yaml_str(&yaml)
                .unwrap_or_else(|e| panic!("a written DAG must load: {e}\n--- yaml:\n{yaml}"));
            assert!(
                again == dag,
                "DAG round trip changed the value\n--- yaml:\n{yaml}\n--- before: {dag:?}\n--- after: {again:?}"
            );
            let redacted = dag
                .to_yaml_string()
                .unwrap_or_else(|e| panic!("a loaded DAG must serialise redacted: {e}"));
            if let Err(e) = Dag::from_yaml_str(&redacted) {
                panic!("a redacted DAG must load: {e}\n--- yaml:\n{redacted}");
            }
        }
        Err(e) => {
            let _ = write!(sink, "{e}");
        }
    }

    std::hint::black_box(sink);
});
