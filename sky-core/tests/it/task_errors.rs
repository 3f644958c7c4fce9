//! Task YAML errors: kinds, paths, lines and columns, suggestions, rendering.

use sky_core::Dag;
use sky_core::task::{Task, TaskErrorKind};

fn err(yaml: &str) -> sky_core::task::TaskError {
    Task::from_yaml_str(yaml).expect_err(yaml)
}

#[test]
fn unknown_top_level_field_with_suggestion_and_line() {
    let e = err("name: x\nresource:\n  cpus: 4\n");
    assert!(matches!(e.kind(), TaskErrorKind::UnknownField { field } if field == "resource"));
    assert_eq!(e.path(), "resource");
    assert_eq!((e.line(), e.column()), (Some(2), Some(1)));
    assert_eq!(e.suggestion(), Some("resources"));
    assert_eq!(
        e.to_string(),
        "line 2, column 1: resource: unknown field `resource`; did you mean `resources`?"
    );
    let e = err("num_node: 2");
    assert_eq!(e.suggestion(), Some("num_nodes"));
    let e = err("completely_unrelated: 1");
    assert_eq!(e.suggestion(), None);
    assert_eq!(
        e.to_string(),
        "line 1, column 1: completely_unrelated: unknown field `completely_unrelated`"
    );
}

#[test]
fn duplicate_keys_are_rejected_with_their_path() {
    let e = err("name: a\nrun: x\nname: b\n");
    assert!(matches!(e.kind(), TaskErrorKind::DuplicateKey { key } if key == "name"));
    assert_eq!(e.line(), Some(3));
    let e = err("resources:\n  cpus: 4\n  cpus: 8\n");
    assert_eq!(e.path(), "resources.cpus");
    assert_eq!(e.line(), Some(3));
    let e = err("envs:\n  A: 1\n  A: 2\n");
    assert_eq!(e.path(), "envs.A");
    let e = err("config:\n  docker:\n    run_options: [a]\n    run_options: [b]\n");
    assert_eq!(e.path(), "config.docker.run_options");
    assert_eq!(e.line(), Some(4));
}

#[test]
fn wrong_types_say_what_was_expected() {
    let e = err("name: [a, b]");
    assert_eq!(
        e.to_string(),
        "line 1, column 7: name: expected a string, found a list"
    );
    let e = err("resources: 4");
    assert!(matches!(e.kind(), TaskErrorKind::InvalidType { .. }));
    assert_eq!(e.path(), "resources");
    let e = err("run: {a: 1}");
    assert_eq!(
        e.to_string(),
        "line 1, column 6: run: expected a string, found a mapping"
    );
    let e = err("- name: x");
    assert!(matches!(e.kind(), TaskErrorKind::InvalidType { .. }));
    assert_eq!(e.path(), "");
    let e = err("just a string");
    assert!(matches!(e.kind(), TaskErrorKind::InvalidType { .. }));
}

#[test]
fn yaml_syntax_errors_carry_the_position() {
    let e = err("name: x\nresources: {cpus: 4\nrun: y\n");
    assert!(matches!(e.kind(), TaskErrorKind::Syntax { .. }), "{e:?}");
    assert!(e.line().is_some());
    assert!(e.to_string().starts_with("line "), "{e}");
    let e = err("a: 'unterminated\n");
    assert!(matches!(e.kind(), TaskErrorKind::Syntax { .. }));
    let e = err("name: x\n  bad indent: y\n");
    assert!(matches!(e.kind(), TaskErrorKind::Syntax { .. }));
    assert_eq!(e.line(), Some(2), "{e}");
}

#[test]
fn deep_resources_errors_name_the_full_path() {
    let yaml = "\
name: t
resources:
  any_of:
    - infra: aws
    - infra: gcp
      accelerators: {H100: x}
";
    let e = err(yaml);
    assert_eq!(e.path(), "resources.any_of[1].accelerators.H100");
    assert_eq!(e.line(), Some(6));
    assert_eq!(e.column(), Some(28));
}

#[test]
fn edges_outside_the_first_document_is_explained() {
    let e = Dag::from_yaml_str("name: a\n---\nname: b\nedges: [[a, b]]\n").expect_err("edges");
    assert!(e.to_string().contains("first document"), "{e}");
    assert_eq!(e.line(), Some(4));
    let e = err("edges: [[a, b]]\nrun: x\n");
    assert!(e.to_string().contains("first document"), "{e}");
}

#[test]
fn error_values_are_usable_as_std_errors() {
    let e: Box<dyn std::error::Error + Send + Sync> = Box::new(err("nmae: x"));
    assert!(e.to_string().contains("did you mean `name`?"));
    let io = Task::from_yaml_file("/definitely/not/here.yaml").unwrap_err();
    let as_std: &dyn std::error::Error = &io;
    assert!(as_std.to_string().contains("/definitely/not/here.yaml"));
}

#[test]
fn hostile_inputs_are_errors_not_crashes() {
    // Deep nesting hits the parser's depth budget.
    let deep = format!("config: {}{}", "[".repeat(5000), "]".repeat(5000));
    assert!(Task::from_yaml_str(&deep).is_err());
    // Up to 32 levels of nesting (the top-level mapping counts) are fine, on this test's
    // 2 MB thread, in a debug build.
    let nested = |n: usize| format!("config: {{a: {}1{}}}", "[".repeat(n), "]".repeat(n));
    assert!(Task::from_yaml_str(&nested(30)).is_ok());
    let e = Task::from_yaml_str(&nested(31)).unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::Syntax { .. }), "{e}");
    // Alias expansion bombs are cut off.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = if i == 1 {
            "a".to_string()
        } else {
            format!("a{}", i - 1)
        };
        bomb.push_str(&format!("b{i}: &a{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    bomb = format!(
        "config:\n{}",
        bomb.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    assert!(Task::from_yaml_str(&bomb).is_err());
    // Huge numbers.
    for y in [
        "num_nodes: 99999999999999999999999999999",
        "resources: {cpus: 1e400}",
        "resources: {disk_size: 99999999999999999999}",
        "resources: {autostop: 99999999999w}",
        "resources: {ports: 99999999999999999999}",
        "estimated_runtime: 99999999999999999999999w",
        "resources: {priority: -99999999999999999999999}",
    ] {
        assert!(Task::from_yaml_str(y).is_err(), "{y}");
    }
}

/// Values no cloud can satisfy are refused when the task is read, with the limit.
#[test]
fn values_no_cloud_can_satisfy_are_refused_with_the_limit() {
    for (yaml, says) in [
        (
            "num_nodes: 100000000\n",
            "num_nodes must be an integer from 1 to 10000",
        ),
        (
            "resources:\n  memory: 1e308\n",
            "at most 65536 GiB per node",
        ),
        ("resources:\n  memory: 1PB+\n", "at most 65536 GiB per node"),
        ("resources:\n  cpus: 100000+\n", "at most 8192 per node"),
        ("resources:\n  cpus: 1e9\n", "at most 8192 per node"),
        (
            "resources:\n  accelerators: {V100: 1e308}\n",
            "at most 4096 per node",
        ),
        (
            "resources:\n  accelerators: V100:5000\n",
            "at most 4096 per node",
        ),
    ] {
        let e = err(yaml);
        assert!(e.to_string().contains(says), "{yaml}: {e}");
        assert!(
            e.to_string().starts_with("line "),
            "the position is given: {e}"
        );
    }
    // The largest real requests still load.
    Task::from_yaml_str(
        "num_nodes: 10000\nresources:\n  cpus: 896\n  memory: 24TB\n  accelerators: H100:8\n",
    )
    .unwrap();
}

/// A huge value gets no did-you-mean (comparing it to every candidate is quadratic: a
/// 100 KB `zone:` took 6.65 s to reject), while a typo still does.
#[test]
fn a_huge_input_gets_no_suggestion() {
    let cands: Vec<String> = (0..500).map(|i| format!("us-east-{i}a")).collect();
    let names = || cands.iter().map(String::as_str);
    assert_eq!(
        sky_core::suggest::did_you_mean("z".repeat(100_000).as_str(), names()),
        None
    );
    assert_eq!(
        sky_core::suggest::did_you_mean(&"us-east-1a".repeat(30), names()),
        None,
        "over MAX_INPUT even when it contains a candidate"
    );
    assert_eq!(
        sky_core::suggest::did_you_mean("us-east-7b", names()).as_deref(),
        Some("us-east-7a")
    );
}
