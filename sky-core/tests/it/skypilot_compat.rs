//! Task files load as SkyPilot loads them: order kept, every SkyPilot cloud parses, round
//! trips keep meaning, SkyPilot's rejections are rejected, large DAG files load.

use sky_core::CloudId;
use sky_core::Dag;
use sky_core::catalog::Catalogs;
use sky_core::resources::JobRecovery;
use sky_core::task::{Task, TaskErrorKind, TaskNoteKind};

fn task(yaml: &str) -> Task {
    Task::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}\n---\n{yaml}"))
}

#[test]
fn envs_secrets_file_mounts_and_service_keep_file_order() {
    let yaml = "\
envs:
  ZETA: '1'
  ALPHA: '2'
  MID: '3'
secrets:
  WB_KEY: w
  HF_TOKEN: h
file_mounts:
  /z: ./z
  /a: s3://bucket/a
  /m: ./m
service:
  replicas: 2
  readiness_probe: /health
run: echo
";
    let t = task(yaml);
    assert_eq!(t.envs.keys().collect::<Vec<_>>(), ["ZETA", "ALPHA", "MID"]);
    assert_eq!(t.secrets.keys().collect::<Vec<_>>(), ["WB_KEY", "HF_TOKEN"]);
    assert_eq!(t.file_mounts.keys().collect::<Vec<_>>(), ["/z", "/a", "/m"]);
    let service: Vec<&String> = t.extra["service"].as_object().unwrap().keys().collect();
    assert_eq!(service, ["replicas", "readiness_probe"]);
    // The normalised form (what `sky validate` prints) keeps the order too.
    let out = t.to_yaml_string().unwrap();
    let pos = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} not in\n{out}"));
    assert!(
        pos("ZETA") < pos("ALPHA") && pos("ALPHA") < pos("MID"),
        "{out}"
    );
    assert!(pos("WB_KEY") < pos("HF_TOKEN"), "{out}");
    assert!(pos("/z:") < pos("/a:") && pos("/a:") < pos("/m:"), "{out}");
    assert!(pos("replicas") < pos("readiness_probe"), "{out}");
    let again = task(&t.to_yaml_string_with_secrets().unwrap());
    assert_eq!(
        again.envs.keys().collect::<Vec<_>>(),
        ["ZETA", "ALPHA", "MID"]
    );
}

#[test]
fn a_missing_recovery_strategy_is_not_none() {
    let t = task("resources:\n  job_recovery:\n    max_restarts_on_errors: 1\n");
    let jr = t.resources.alternatives[0].job_recovery.clone().unwrap();
    assert_eq!(jr.strategy, None);
    assert_eq!(jr.max_restarts_on_errors, 1);
    assert!(!jr.is_disabled());
    let out = t.to_yaml_string().unwrap();
    assert!(!out.contains("strategy"), "{out}");
    assert!(out.contains("max_restarts_on_errors: 1"), "{out}");
    assert_eq!(task(&out), t);
    // `none` is recovery off, and stays that.
    let off = task("resources:\n  job_recovery: none\n");
    let jr = off.resources.alternatives[0].job_recovery.clone().unwrap();
    assert!(jr.is_disabled());
    assert_eq!(jr, JobRecovery::strategy("none"));
    let out = off.to_yaml_string().unwrap();
    assert!(out.contains("job_recovery: none"), "{out}");
    assert_eq!(task(&out), off);
}

#[test]
fn every_skypilot_cloud_parses_and_is_noted_as_skipped() {
    for (infra, cloud) in [
        ("oci/us-ashburn-1", "oci"),
        ("k8s/my-ctx", "kubernetes"),
        ("kubernetes", "kubernetes"),
        ("nebius", "nebius"),
        ("lambda/us-east-1", "lambda"),
        ("runpod", "runpod"),
    ] {
        let t = task(&format!(
            "resources:\n  infra: {infra}\n  accelerators: H100:8\n"
        ));
        let r = &t.resources.alternatives[0];
        assert_eq!(r.cloud, Some(CloudId::Other(cloud.into())), "{infra}");
        let notes = t.notes(&Catalogs::new());
        assert_eq!(notes.len(), 1, "{infra}: {notes:?}");
        assert_eq!(notes[0].kind, TaskNoteKind::Infeasible);
        assert!(notes[0].message.contains("no backend"), "{}", notes[0]);
        // Written back as read.
        assert_eq!(task(&t.to_yaml_string().unwrap()), t, "{infra}");
    }
    let t = task("resources:\n  cloud: lambda\n");
    assert_eq!(
        t.resources.alternatives[0].cloud,
        Some(CloudId::Other("lambda".into()))
    );
}

#[test]
fn skypilot_rejections_are_rejected() {
    // One entry of `any_of`/`ordered` names one accelerator (SkyPilot's schema).
    let e = Task::from_yaml_str(
        "resources:\n  any_of:\n    - infra: aws\n      accelerators: [A100, H100]\n",
    )
    .unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::Conflict { .. }), "{e}");
    assert_eq!(e.path(), "resources.any_of[0].accelerators");
    assert_eq!(e.line(), Some(4));
    let e = Task::from_yaml_str("resources:\n  ordered:\n    - accelerators: {A100: 1, H100: 1}\n")
        .unwrap_err();
    assert_eq!(e.path(), "resources.ordered[0].accelerators");
    // `service:` follows SkyServe's schema.
    let e = Task::from_yaml_str("service:\n  init_replicas: 2\n").unwrap_err();
    assert!(
        matches!(e.kind(), TaskErrorKind::UnknownField { .. }),
        "{e}"
    );
    assert_eq!(e.path(), "service.init_replicas");
    assert!(e.suggestion().is_some(), "{e}");
    let e = Task::from_yaml_str("service:\n  readiness_probe: {timeout_seconds: 3}\n").unwrap_err();
    assert!(
        matches!(e.kind(), TaskErrorKind::MissingField { .. }),
        "{e}"
    );
    let e = Task::from_yaml_str("service:\n  replica_policy: {min_replicas: 1, max_replica: 3}\n")
        .unwrap_err();
    assert_eq!(e.path(), "service.replica_policy.max_replica");
    assert_eq!(e.suggestion(), Some("max_replicas"));
    let e = Task::from_yaml_str("service:\n  load_balancing_policy: round_robbin\n").unwrap_err();
    assert_eq!(e.suggestion(), Some("round_robin"));
    // A full SkyServe section loads.
    task(
        "\
service:
  readiness_probe:
    path: /v1/models
    post_data: {model: m}
    initial_delay_seconds: 1200
    headers: {Authorization: Bearer x}
  replica_policy:
    min_replicas: 1
    max_replicas: 4
    target_qps_per_replica: {H100:1: 5, A100: 2.5}
    dynamic_ondemand_fallback: true
  load_balancing_policy: least_load
  ports: 8080
  tls: {keyfile: k.pem, certfile: c.pem}
",
    );
}

#[test]
fn secrets_and_envs_without_values_load_and_are_noted() {
    let t = task("envs:\n  MODEL: null\nsecrets:\n  HF_TOKEN: null\n");
    assert_eq!(t.envs["MODEL"], None);
    assert!(t.secrets["HF_TOKEN"].is_none());
    let notes = t.notes(&Catalogs::new());
    let paths: Vec<&str> = notes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(paths, ["envs.MODEL", "secrets.HF_TOKEN"]);
    assert!(
        notes
            .iter()
            .all(|n| n.kind == TaskNoteKind::RefusedAtLaunch)
    );
}

#[test]
fn what_a_launch_refuses_or_keeps_is_noted() {
    let t = task(
        "\
resources:
  image_id: docker:ubuntu:22.04
file_mounts:
  /data: s3://bucket/data
config:
  docker: {run_options: [--shm-size=1g]}
  kubernetes: {pod_config: {spec: {}}}
service: {replicas: 1}
",
    );
    let notes = t.notes(&Catalogs::new());
    let got: Vec<(TaskNoteKind, &str)> = notes.iter().map(|n| (n.kind, n.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (TaskNoteKind::RefusedAtLaunch, "resources.image_id"),
            (TaskNoteKind::RefusedAtLaunch, "file_mounts[\"/data\"]"),
            (TaskNoteKind::Kept, "config.kubernetes"),
            (TaskNoteKind::RefusedAtLaunch, "config.docker.run_options"),
            (TaskNoteKind::Kept, "service"),
        ]
    );
    assert_eq!(
        sky_core::task::refused_config_keys(&t),
        ["config.docker.run_options"]
    );
}

#[test]
fn dag_files_of_100_000_documents_load() {
    let n = 100_000;
    let mut yaml = String::with_capacity(n * 24);
    for i in 0..n {
        if i > 0 {
            yaml.push_str("---\n");
        }
        yaml.push_str(&format!("name: t{i}\nrun: echo {i}\n"));
    }
    let dag = Dag::from_yaml_str(&yaml).unwrap();
    assert_eq!(dag.len(), n);
    assert_eq!(dag.tasks()[n - 1].name.as_deref(), Some("t99999"));
    assert_eq!(dag.edges().len(), n - 1);
    // The YAML-bomb budgets still hold: aliases expand a bounded amount.
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
    assert!(Task::from_yaml_str(bomb).is_err());
}
