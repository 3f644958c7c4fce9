//! Multi-document YAML: chains, the `edges` extension, and their errors.

use sky_core::Dag;
use sky_core::task::{Task, TaskErrorKind};

fn dag(yaml: &str) -> Dag {
    match Dag::from_yaml_str(yaml) {
        Ok(d) => d,
        Err(e) => panic!("{e}\n---\n{yaml}"),
    }
}

fn names(d: &Dag) -> Vec<&str> {
    d.tasks()
        .iter()
        .map(|t| t.name.as_deref().unwrap_or("-"))
        .collect()
}

#[test]
fn single_document_is_a_one_task_dag_named_after_the_task() {
    let d = dag("name: solo\nrun: echo\n");
    assert_eq!(d.len(), 1);
    assert_eq!(d.name.as_deref(), Some("solo"));
    assert!(d.edges().is_empty());
    assert!(d.is_chain());
    let d = dag("");
    assert_eq!(d.len(), 1);
    assert_eq!(d.tasks()[0], Task::default());
}

#[test]
fn documents_form_a_chain() {
    let d = dag("name: a\nrun: x\n---\nname: b\n---\nname: c\n");
    assert_eq!(names(&d), ["a", "b", "c"]);
    assert_eq!(d.edges(), &[(0, 1), (1, 2)]);
    assert!(d.is_chain());
    assert_eq!(d.name, None);
    // Empty documents are skipped.
    let d = dag("name: a\nrun: x\n---\n---\nname: b\n");
    assert_eq!(names(&d), ["a", "b"]);
}

#[test]
fn a_name_only_first_document_names_the_chain() {
    let d = dag("name: pipeline\n---\nname: a\n---\nname: b\n");
    assert_eq!(d.name.as_deref(), Some("pipeline"));
    assert_eq!(names(&d), ["a", "b"]);
    assert_eq!(d.edges(), &[(0, 1)]);
    // A YAML with only `name` is still one task of that name (SkyPilot).
    let d = dag("name: only\n");
    assert_eq!(d.len(), 1);
    assert_eq!(d.tasks()[0].name.as_deref(), Some("only"));
}

#[test]
fn edges_make_a_diamond() {
    let d = dag("\
name: diamond
edges:
  - [prep, left]
  - [prep, right]
  - [left, join]
  - [right, join]
---
name: prep
outputs: {s3://b/prep: 50}
---
name: left
---
name: right
---
name: join
");
    assert_eq!(d.name.as_deref(), Some("diamond"));
    assert_eq!(names(&d), ["prep", "left", "right", "join"]);
    assert_eq!(d.edges(), &[(0, 1), (0, 2), (1, 3), (2, 3)]);
    assert!(!d.is_chain());
    assert_eq!(d.topological_order(), vec![0, 1, 2, 3]);
    assert_eq!(d.parents(3), vec![1, 2]);
}

#[test]
fn edges_may_be_in_any_document_order_and_may_be_empty() {
    let d = dag("edges: [[b, a]]\n---\nname: a\n---\nname: b\n");
    assert_eq!(d.name, None);
    assert_eq!(d.edges(), &[(1, 0)]);
    assert_eq!(d.topological_order(), vec![1, 0]);
    let d = dag("name: parallel\nedges: []\n---\nrun: x\n---\nrun: y\n");
    assert_eq!(d.len(), 2);
    assert!(d.edges().is_empty());
}

#[test]
fn misspelt_task_names_get_a_suggestion() {
    let e = Dag::from_yaml_str("edges: [[prep, trian]]\n---\nname: prep\n---\nname: train\n")
        .unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::UnknownTask { name } if name == "trian"));
    assert_eq!(e.suggestion(), Some("train"));
    assert_eq!(e.path(), "edges[0][1]");
    assert_eq!((e.line(), e.column()), (Some(1), Some(16)));
    assert_eq!(
        e.to_string(),
        "line 1, column 16: edges[0][1]: no task named `trian`; did you mean `train`?"
    );
}

#[test]
fn bad_edges_are_rejected() {
    let cycle =
        "edges:\n  - [a, b]\n  - [b, c]\n  - [c, a]\n---\nname: a\n---\nname: b\n---\nname: c\n";
    let e = Dag::from_yaml_str(cycle).unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::Cycle { from, to } if from == "c" && to == "a"));
    assert_eq!(e.line(), Some(4));
    assert_eq!(e.path(), "edges[2]");
    let e = Dag::from_yaml_str("edges: [[a, a]]\n---\nname: a\n").unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::SelfLoop { .. }));
    let e = Dag::from_yaml_str("edges: [[a, b]]\n---\nname: a\n---\nname: a\n").unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::DuplicateTaskName { .. }));
    assert_eq!(e.line(), Some(5));
    let e = Dag::from_yaml_str("edges: [[a, b]]\n---\nname: a\n---\nrun: x\n").unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::UnnamedTask { index: 1 }));
    assert_eq!(e.line(), Some(5));
    let e = Dag::from_yaml_str("edges: [[a, b, c]]\n---\nname: a\n").unwrap_err();
    assert!(e.to_string().contains("pair"), "{e}");
    let e = Dag::from_yaml_str("edges: [a, b]\n---\nname: a\n").unwrap_err();
    assert_eq!(e.path(), "edges[0]");
    let e = Dag::from_yaml_str("edges: [[a, b]]\nrun: x\n---\nname: a\n").unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::UnknownField { field } if field == "run"));
}

#[test]
fn task_errors_in_later_documents_have_global_lines() {
    let e = Dag::from_yaml_str("name: a\n---\nname: b\nresources:\n  cpus: none\n").unwrap_err();
    assert_eq!(e.path(), "resources.cpus");
    assert_eq!(e.line(), Some(5));
}

#[test]
fn dag_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dag.yaml");
    std::fs::write(&p, "name: a\nrun: x\n---\nname: b\n").unwrap();
    assert_eq!(Dag::from_yaml_file(&p).unwrap().len(), 2);
    std::fs::write(&p, "edges: [[a, c]]\n---\nname: a\n").unwrap();
    let e = Dag::from_yaml_file(&p).unwrap_err();
    assert_eq!(e.file(), Some(p.as_path()));
    assert!(Dag::from_yaml_slice(&[0xc3, 0x28]).is_err());
}
