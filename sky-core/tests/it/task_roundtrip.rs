//! parse → serialise → parse gives an equal value; the normalised form; redaction.

use std::time::Duration;

use sky_core::resources::{AcceleratorSpec, ResourceSet, Resources};
use sky_core::task::{FileMount, Task};
use sky_core::{CloudId, Dag};

const FULL: &str = r#"
name: full
workdir: {url: https://github.com/org/repo, ref: main}
num_nodes: 3
resources:
  use_spot: true
  labels: {team: ml}
  job_recovery:
    strategy: FAILOVER
    max_restarts_on_errors: 2
    recover_on_exit_codes: 3
    plugin: {x: 1}
  any_of:
    - infra: aws/us-east-1
      accelerators: {A100: 8}
      cpus: 32+
      memory: 256GB+
      disk_size: 1TB
      disk_tier: ultra
      network_tier: best
      ports: [8080, '9000-9010', 9011]
      image_id: {us-east-1: ami-123}
      autostop: {idle_minutes: 30, down: true, wait_for: jobs}
      priority: -5
      max_hourly_cost: 99.5
      local_disk: nvme
    - infra: gcp/*/us-central1-a
      accelerators: tpu-v4-8
      accelerator_args: {runtime_version: tpu-vm-base, tpu_vm: true}
      instance_type: ct4p
      labels: {x: y}
      autostop: false
envs:
  DATA: bucket
  EMPTY:
  NUM: 3
secrets:
  TOKEN: abc
file_mounts:
  /d: s3://${DATA}/x
  /l: ./local
  /s: {name: n, source: ~/src, store: gcs, persistent: false, mode: COPY, config: {a: 1}}
setup: |
  pip install -r requirements.txt
  echo "done: yes" # with quotes and colons
run: "python train.py --flag 'x: y'"
inputs: {s3://in: 10}
outputs: {s3://out: 0.5}
config: {docker: {run_options: [--shm-size=1g]}}
event_callback: echo cb
estimated_runtime: 1h30m
service: {replicas: 2}
"#;

fn reparse(t: &Task) -> Task {
    let y = t.to_yaml_string_with_secrets().unwrap();
    match Task::from_yaml_str(&y) {
        Ok(again) => again,
        Err(e) => panic!("{e}\n---\n{y}"),
    }
}

#[test]
fn full_task_round_trips() {
    let t = Task::from_yaml_str(FULL).unwrap();
    assert_eq!(reparse(&t), t);
    // And the normalised form is a fixed point.
    let y1 = t.to_yaml_string_with_secrets().unwrap();
    let y2 = reparse(&t).to_yaml_string_with_secrets().unwrap();
    assert_eq!(y1, y2);
}

#[test]
fn many_small_forms_round_trip() {
    let cases = [
        "",
        "name: x",
        "num_nodes: 2",
        "resources: {accelerators: V100}",
        "resources: {accelerators: 'A10G:0.5', cpus: 0.5}",
        "resources: {accelerators: [A100:8, H100:8, V100]}",
        "resources: {accelerators: {L4: 1, A10G: 2}, infra: aws}",
        "resources: {accelerators: nvidia:80GB+:8}",
        "resources: {accelerators: 48GB:2}",
        "resources: {accelerators: {80GB+: 1, 40GB: 2}}",
        "resources: {ordered: [{infra: gcp}, {infra: aws}]}",
        "resources: {ordered: [{cpus: 4}]}",
        "resources: {any_of: [{accelerators: V100:1}, {accelerators: V100:2}]}",
        "resources: {any_of: [{accelerators: V100}, {cpus: 4}]}",
        "resources: {infra: '*/us-east-1'}",
        "resources: {infra: '*/*/us-east-1a'}",
        "resources: {infra: 'aws/*/us-east-1a'}",
        "resources: {cloud: gcp, zone: us-central1-a}",
        "resources: {memory: 4x, cpus: '8'}",
        "resources: {memory: 1536MB}",
        "resources: {job_recovery: none}",
        "resources: {job_recovery: {strategy: null, max_restarts_on_errors: 1}}",
        "resources: {autostop: true}",
        "resources: {autostop: 2h}",
        "resources: {autostop: {hook: echo, hook_timeout: 5}}",
        "resources: {image_id: 'docker:nvcr.io/nvidia/pytorch:24.01-py3'}",
        "resources: {labels: {'true': 'yes', '1': '2'}}",
        "resources: {ports: 22}",
        "envs: {A: 'true', B: '0x10', C: '1e3', D: '', E: 'null', F: '~', G: 'a: b', H: '- x'}",
        "secrets: [a, b]",
        "secrets: {S: 'multi\nline'}",
        "run: \"echo 'a'\\n\\techo b\\n\"",
        "run: \"trailing spaces   \\n\\n\\n\"",
        "setup: \"  leading\"",
        "workdir: ./src",
        "file_mounts: {'/weird path/x': 'gs://b/with space'}",
        "file_mounts: {/s: {source: [~/a, ~/b], name: n}}",
        "inputs: {'s3://b/k': 0}",
        "estimated_runtime: 0.25",
        "estimated_runtime: 90",
        "config: {}",
        "pool: {workers: 1}",
        "volumes: {/mnt: v}",
        "event_callback: x",
    ];
    for c in cases {
        let t = Task::from_yaml_str(c).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_eq!(
            reparse(&t),
            t,
            "{c}\n---\n{}",
            t.to_yaml_string_with_secrets().unwrap()
        );
    }
}

#[test]
fn normalised_form_spells_things_one_way() {
    let t = Task::from_yaml_str(
        "resources:\n  cloud: AWS\n  region: us-east-1\n  accelerators: {v100: 4}\n  cpus: 8\n  ports: [3, '1-2', 5]\n  memory: 1TB+\n  disk_size: 2TB\n",
    )
    .unwrap();
    let y = t.to_yaml_string().unwrap();
    assert_eq!(
        y,
        "resources:\n  infra: aws/us-east-1\n  cpus: \"8\"\n  memory: 1024+\n  accelerators: v100:4\n  disk_size: 2048\n  ports:\n  - 1-3\n  - 5\n"
    );
    let t =
        Task::from_yaml_str("resources:\n  accelerators: {A100: 8, H100: 8}\n  use_spot: true\n")
            .unwrap();
    assert_eq!(
        t.to_yaml_string().unwrap(),
        "resources:\n  accelerators:\n    A100: 8\n    H100: 8\n  use_spot: true\n"
    );
    let t = Task::from_yaml_str("run: |\n  echo a\n  echo b\nname: job\nnum_nodes: 1\n").unwrap();
    assert_eq!(
        t.to_yaml_string().unwrap(),
        "name: job\nrun: |\n  echo a\n  echo b\n"
    );
}

#[test]
fn secrets_are_redacted_unless_asked_for() {
    let t = Task::from_yaml_str("secrets: {TOKEN: hunter2}\nrun: x\n").unwrap();
    let shown = t.to_yaml_string().unwrap();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("TOKEN: <redacted>"), "{shown}");
    assert_eq!(t.to_string(), shown);
    assert!(!format!("{t:?}").contains("hunter2"));
    let kept = t.to_yaml_string_with_secrets().unwrap();
    assert!(kept.contains("hunter2"));
    // The redacted form reads back with the placeholder as the value.
    let again = Task::from_yaml_str(&shown).unwrap();
    assert_eq!(
        again.secrets["TOKEN"].as_ref().unwrap().expose(),
        "<redacted>"
    );
}

#[test]
fn serde_form_is_the_yaml_mapping_and_round_trips() {
    let t = Task::from_yaml_str(FULL).unwrap();
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["name"], "full");
    assert_eq!(json["secrets"]["TOKEN"], "abc");
    assert_eq!(json["resources"]["any_of"][1]["accelerators"], "tpu-v4-8:1");
    let back: Task = serde_json::from_value(json).unwrap();
    assert_eq!(back, t);
    // Through serde-saphyr's own entry point (YAML 1.1 booleans: prefer Task::from_yaml_str).
    let small = "name: job\nresources: {accelerators: {A100: 8, H100: 8}}\nrun: x\n";
    let via_saphyr: Task = serde_saphyr::from_str(small).unwrap();
    assert_eq!(via_saphyr, Task::from_yaml_str(small).unwrap());
    let bad: Result<Task, _> = serde_json::from_str(r#"{"nmae": "x"}"#);
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("did you mean `name`?")
    );
}

#[test]
fn built_tasks_round_trip() {
    let t = Task::new()
        .with_name("b")
        .with_run("echo")
        .with_secret("K", "v")
        .with_estimated_runtime(Duration::from_millis(2500))
        .with_file_mount("/x", FileMount::Local("~/x".into()))
        .with_resources(ResourceSet::ordered([
            Resources::new()
                .with_cloud(CloudId::Gcp)
                .with_accelerator(AcceleratorSpec::Memory {
                    vendor: Some("nvidia".into()),
                    memory_gib: 0.5,
                    or_more: true,
                    count: 2.0,
                }),
            Resources::new()
                .with_cloud(CloudId::Aws)
                .with_use_spot(false),
        ]));
    assert_eq!(reparse(&t), t);
}

fn dag_round_trip(d: &Dag) {
    let y = d.to_yaml_string_with_secrets().unwrap();
    let again = Dag::from_yaml_str(&y).unwrap_or_else(|e| panic!("{e}\n---\n{y}"));
    assert_eq!(&again, d, "\n---\n{y}");
}

#[test]
fn dags_round_trip() {
    for yaml in [
        "name: solo\nrun: x\n",
        "run: x\n",
        "name: a\n---\nname: b\n---\nrun: c\n",
        "name: pipe\n---\nname: a\n---\nname: b\n",
        "name: pipe\n---\nname: a\n",
        "name: d\nedges: [[a, b], [a, c], [b, d], [c, d]]\n---\nname: a\n---\nname: b\n---\nname: c\n---\nname: d\n",
        "edges: [[b, a]]\n---\nname: a\n---\nname: b\n",
        "edges: []\n---\nrun: x\n---\nrun: y\n",
        "edges: []\n---\nname: only\n",
        "name: n\nedges: []\n---\nname: other\n",
        "edges: [[a, b]]\n---\nname: a\n---\nname: b\n",
        "",
    ] {
        let d = Dag::from_yaml_str(yaml).unwrap();
        dag_round_trip(&d);
    }
}

#[test]
fn built_dags_round_trip() {
    let named = |n: &str| Task::new().with_name(n);
    // A chain whose first task has only a name must not read back as a header.
    dag_round_trip(&Dag::chain([named("a"), named("b")]));
    let mut d = Dag::chain([named("a"), named("b")]);
    d.name = Some("x".into());
    dag_round_trip(&d);
    let mut d = Dag::single(named("a"));
    d.name = None;
    dag_round_trip(&d);
    let mut d = Dag::new();
    let a = d.add_task(named("a"));
    let b = d.add_task(named("b"));
    let c = d.add_task(named("c"));
    d.add_edge(a, c).unwrap();
    d.add_edge(b, c).unwrap();
    dag_round_trip(&d);
    // A general DAG needs task names to be written.
    let mut d = Dag::new();
    let a = d.add_task(Task::new());
    let b = d.add_task(Task::new());
    let c = d.add_task(Task::new());
    d.add_edge(a, c).unwrap();
    d.add_edge(b, c).unwrap();
    assert!(d.to_yaml_string().is_err());
}
