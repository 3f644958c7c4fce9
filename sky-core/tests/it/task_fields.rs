//! Task YAML: every top-level field and its forms.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use sky_core::resources::ResourceSet;
use sky_core::task::{DataSpec, FileMount, StorageMount, Task, TaskErrorKind, Workdir};

fn task(yaml: &str) -> Task {
    match Task::from_yaml_str(yaml) {
        Ok(t) => t,
        Err(e) => panic!("{e}\n---\n{yaml}"),
    }
}

fn err(yaml: &str) -> sky_core::task::TaskError {
    match Task::from_yaml_str(yaml) {
        Ok(t) => panic!("expected an error, got {t:?}\n---\n{yaml}"),
        Err(e) => e,
    }
}

#[test]
fn empty_document_is_the_default_task() {
    assert_eq!(task(""), Task::default());
    assert_eq!(task("# just a comment\n"), Task::default());
    assert_eq!(task("{}"), Task::default());
    let t = task("");
    assert_eq!(t.num_nodes, 1);
    assert_eq!(t.resources, ResourceSet::default());
}

#[test]
fn scalar_fields() {
    let t = task(
        "name: train\nnum_nodes: 4\nsetup: pip install x\nrun: |\n  echo a\n  echo b\nevent_callback: echo done\n",
    );
    assert_eq!(t.name.as_deref(), Some("train"));
    assert_eq!(t.num_nodes, 4);
    assert_eq!(t.setup.as_deref(), Some("pip install x"));
    assert_eq!(t.run.as_deref(), Some("echo a\necho b\n"));
    assert_eq!(t.event_callback.as_deref(), Some("echo done"));
    // Nulls mean "not set".
    let t = task("name:\nrun: ~\nnum_nodes: null\n");
    assert_eq!(t, Task::default());
}

#[test]
fn num_nodes_must_be_a_positive_integer() {
    for bad in [
        "num_nodes: 0",
        "num_nodes: -2",
        "num_nodes: 1.5",
        "num_nodes: two",
    ] {
        let e = err(bad);
        assert_eq!(e.path(), "num_nodes", "{bad}");
        assert_eq!(e.line(), Some(1));
    }
}

#[test]
fn workdir_path_and_git_forms() {
    assert_eq!(
        task("workdir: ~/src/proj").workdir,
        Some(Workdir::Path(PathBuf::from("~/src/proj")))
    );
    assert_eq!(
        task("workdir:\n  url: https://github.com/org/repo\n  ref: v1.2\n").workdir,
        Some(Workdir::Git {
            url: "https://github.com/org/repo".into(),
            git_ref: Some("v1.2".into())
        })
    );
    assert_eq!(
        task("workdir: {url: https://x/y.git}").workdir,
        Some(Workdir::Git {
            url: "https://x/y.git".into(),
            git_ref: None
        })
    );
    let e = err("workdir: {ref: main}");
    assert!(matches!(e.kind(), TaskErrorKind::MissingField { field } if field == "url"));
    let e = err("workdir: {url: x, branch: main}");
    assert_eq!(e.path(), "workdir.branch");
    assert_eq!(e.suggestion(), None);
    assert!(matches!(e.kind(), TaskErrorKind::UnknownField { .. }));
}

#[test]
fn envs_are_strings_or_null() {
    let t = task("envs:\n  A: x\n  N: 3\n  F: 1.0\n  B: true\n  U:\n");
    assert_eq!(t.envs["A"].as_deref(), Some("x"));
    // SkyPilot stringifies with Python's str(): 3 -> "3", 1.0 -> "1.0", true -> "True".
    assert_eq!(t.envs["N"].as_deref(), Some("3"));
    assert_eq!(t.envs["F"].as_deref(), Some("1.0"));
    assert_eq!(t.envs["B"].as_deref(), Some("True"));
    assert_eq!(t.envs["U"], None);
    let e = err("envs:\n  1BAD: x\n");
    assert_eq!(e.path(), "envs.1BAD");
    assert_eq!(e.line(), Some(2));
    let e = err("envs:\n  A: [1, 2]\n");
    assert!(matches!(e.kind(), TaskErrorKind::InvalidType { .. }));
    let e = err("envs: [A, B]");
    assert!(matches!(e.kind(), TaskErrorKind::InvalidType { .. }));
}

#[test]
fn secrets_map_and_list_forms() {
    let t = task("secrets:\n  HF_TOKEN: hf_123\n  PORT: 80\n");
    assert_eq!(t.secrets["HF_TOKEN"].as_ref().unwrap().expose(), "hf_123");
    assert_eq!(t.secrets["PORT"].as_ref().unwrap().expose(), "80");
    assert_eq!(
        format!("{:?}", t.secrets["HF_TOKEN"].as_ref().unwrap()),
        "<redacted>"
    );
    // The list form names managed secrets; it is kept in `extra`.
    let t = task("secrets: [db-password, api-key]");
    assert!(t.secrets.is_empty());
    assert_eq!(t.extra["secrets"], json!(["db-password", "api-key"]));
    // A secret without a value loads, as in SkyPilot; the caller fills it in before launch,
    // and the file's order is kept.
    let t = task("secrets:\n  ZED: z\n  TOKEN:\n  ALPHA: a\n");
    assert_eq!(
        t.secrets.keys().collect::<Vec<_>>(),
        ["ZED", "TOKEN", "ALPHA"]
    );
    assert!(t.secrets["TOKEN"].is_none());
    assert!(t.to_yaml_string().unwrap().contains("TOKEN: null"));
    let e = err("secrets: [1]");
    assert_eq!(e.path(), "secrets[0]");
}

#[test]
fn file_mounts_all_forms() {
    let t = task(
        "file_mounts:
  /local: ~/data
  /s3: s3://bucket/path
  /gs: gs://bucket
  /az: https://acct.blob.core.windows.net/container
  /store:
    name: my-bucket
    source: ~/dataset
    store: S3
    persistent: false
    mode: copy
  /cached:
    source: gs://b/x
    mode: MOUNT_CACHED
    config:
      mount_cached: {transfers: 8}
  /multi:
    name: b2
    source: [~/a, ~/b]
  /vol:
    name: my-volume
    store: volume
    config: {disk_size: 100, attach_mode: read_write}
",
    );
    let fm = &t.file_mounts;
    assert_eq!(fm["/local"], FileMount::Local("~/data".into()));
    assert_eq!(fm["/s3"], FileMount::CloudUri("s3://bucket/path".into()));
    assert_eq!(fm["/gs"], FileMount::CloudUri("gs://bucket".into()));
    assert!(matches!(&fm["/az"], FileMount::CloudUri(_)));
    assert_eq!(
        fm["/store"],
        FileMount::Storage(StorageMount {
            name: Some("my-bucket".into()),
            source: Some("~/dataset".into()),
            store: Some("s3".into()),
            persistent: Some(false),
            mode: Some("COPY".into()),
            extra: Default::default(),
        })
    );
    let FileMount::Storage(cached) = &fm["/cached"] else {
        panic!()
    };
    assert_eq!(cached.mode.as_deref(), Some("MOUNT_CACHED"));
    assert_eq!(
        cached.extra["config"],
        json!({"mount_cached": {"transfers": 8}})
    );
    let FileMount::Storage(multi) = &fm["/multi"] else {
        panic!()
    };
    assert_eq!(multi.extra["source"], json!(["~/a", "~/b"]));
    let FileMount::Storage(vol) = &fm["/vol"] else {
        panic!()
    };
    assert_eq!(vol.store.as_deref(), Some("volume"));
    assert_eq!(vol.extra["config"]["disk_size"], json!(100));
}

#[test]
fn file_mounts_errors() {
    let e = err("file_mounts:\n  /x:\n    name: b\n    mode: MOUNTED\n");
    assert_eq!(e.path(), "file_mounts[\"/x\"].mode");
    assert_eq!(e.line(), Some(4));
    assert_eq!(e.suggestion(), Some("MOUNT"));
    let e = err("file_mounts:\n  /x: {name: b, store: s4}\n");
    assert_eq!(e.suggestion(), Some("s3"));
    let e = err("file_mounts:\n  /x: {name: b, sorce: ~/d}\n");
    assert!(matches!(e.kind(), TaskErrorKind::UnknownField { field } if field == "sorce"));
    assert_eq!(e.suggestion(), Some("source"));
    let e = err("file_mounts:\n  /x: {mode: COPY}\n");
    assert!(matches!(e.kind(), TaskErrorKind::MissingField { .. }));
    let e = err("file_mounts:\n  /x: ftp://host/file\n");
    assert!(e.to_string().contains("unsupported URI"), "{e}");
    let e = err("file_mounts:\n  /x: 3\n");
    assert!(matches!(e.kind(), TaskErrorKind::InvalidType { .. }));
}

#[test]
fn envs_are_substituted_into_file_mounts_and_workdir() {
    let t = task(
        "envs:
  BUCKET: my-data
  DIR: /mnt
  LATER:
workdir: ~/src/$BUCKET
file_mounts:
  ${DIR}/in: s3://${BUCKET}/in
  /out:
    name: ${BUCKET}-out
    source: ~/$BUCKET/$UNKNOWN/${LATER}
run: echo ${BUCKET}
",
    );
    assert_eq!(
        t.file_mounts["/mnt/in"],
        FileMount::CloudUri("s3://my-data/in".into())
    );
    let FileMount::Storage(s) = &t.file_mounts["/out"] else {
        panic!()
    };
    assert_eq!(s.name.as_deref(), Some("my-data-out"));
    // Unknown and value-less variables are left as written.
    assert_eq!(s.source.as_deref(), Some("~/my-data/$UNKNOWN/${LATER}"));
    assert_eq!(t.workdir, Some(Workdir::Path("~/src/my-data".into())));
    // `run` is not substituted at parse time: the shell does it on the node.
    assert_eq!(t.run.as_deref(), Some("echo ${BUCKET}"));
}

#[test]
fn inputs_outputs_take_one_entry() {
    let t = task("inputs: {s3://bucket/in: 100}\noutputs:\n  gs://b/out: 2.5\n");
    assert_eq!(
        t.inputs,
        Some(DataSpec {
            uri: "s3://bucket/in".into(),
            size_gb: 100.0
        })
    );
    assert_eq!(t.outputs.as_ref().map(|d| d.size_gb), Some(2.5));
    let e = err("inputs: {s3://a: 1, s3://b: 2}");
    assert_eq!(e.path(), "inputs");
    assert!(e.to_string().contains("exactly one"), "{e}");
    assert!(Task::from_yaml_str("outputs: {s3://a: big}").is_err());
    assert!(Task::from_yaml_str("outputs: {s3://a: -1}").is_err());
    assert!(Task::from_yaml_str("outputs: {}").is_err());
}

#[test]
fn config_service_pool_are_kept() {
    let t = task(
        "config:
  docker:
    run_options: [--shm-size=1g]
  kubernetes: {provision_timeout: 600}
service:
  readiness_probe: /health
  replicas: 2
pool:
  workers: 3
volumes:
  /mnt/vol: my-vol
managed_secrets: [a]
",
    );
    assert_eq!(
        t.config,
        Some(
            json!({"docker": {"run_options": ["--shm-size=1g"]}, "kubernetes": {"provision_timeout": 600}})
        )
    );
    assert_eq!(
        t.extra["service"],
        json!({"readiness_probe": "/health", "replicas": 2})
    );
    assert_eq!(t.extra["pool"], json!({"workers": 3}));
    assert_eq!(t.extra["volumes"], json!({"/mnt/vol": "my-vol"}));
    assert_eq!(t.extra["managed_secrets"], json!(["a"]));
    let e = err("config: [1]");
    assert!(matches!(e.kind(), TaskErrorKind::InvalidType { .. }));
}

#[test]
fn estimated_runtime_forms() {
    let rt = |y: &str| task(y).estimated_runtime;
    assert_eq!(
        rt("estimated_runtime: 3600"),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        rt("estimated_runtime: 1.5"),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        rt("estimated_runtime: 30m"),
        Some(Duration::from_secs(1800))
    );
    assert_eq!(rt("estimated_runtime: 2h"), Some(Duration::from_secs(7200)));
    assert_eq!(rt("estimated_runtime: 90s"), Some(Duration::from_secs(90)));
    assert_eq!(
        rt("estimated_runtime: 1d"),
        Some(Duration::from_secs(86400))
    );
    assert_eq!(
        rt("estimated_runtime: 1h30m"),
        Some(Duration::from_secs(5400))
    );
    for bad in [
        "estimated_runtime: -1",
        "estimated_runtime: 2 years",
        "estimated_runtime: [1]",
        "estimated_runtime: 1e300",
    ] {
        let e = err(bad);
        assert_eq!(e.path(), "estimated_runtime", "{bad}");
    }
}

#[test]
fn builder_matches_yaml() {
    let built = Task::new()
        .with_name("t")
        .with_num_nodes(2)
        .with_run("echo hi")
        .with_setup("true")
        .with_env("A", "1")
        .with_env_unset("B")
        .with_secret("S", "s3cr3t")
        .with_workdir("~/w")
        .with_file_mount("/d", FileMount::CloudUri("s3://b".into()))
        .with_inputs("s3://b", 10.0)
        .with_outputs("s3://c", 1.0)
        .with_event_callback("cb")
        .with_estimated_runtime(Duration::from_secs(60));
    let parsed = task(
        "name: t\nnum_nodes: 2\nrun: echo hi\nsetup: 'true'\nenvs: {A: '1', B: null}\nsecrets: {S: s3cr3t}\n\
         workdir: ~/w\nfile_mounts: {/d: s3://b}\ninputs: {s3://b: 10}\noutputs: {s3://c: 1}\n\
         event_callback: cb\nestimated_runtime: 1m\n",
    );
    assert_eq!(built, parsed);
}

#[test]
fn files_are_read_and_errors_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("task.yaml");
    std::fs::write(&path, "name: x\nrun: echo\n").unwrap();
    assert_eq!(
        Task::from_yaml_file(&path).unwrap().name.as_deref(),
        Some("x")
    );
    std::fs::write(&path, "name: x\nrnu: echo\n").unwrap();
    let e = Task::from_yaml_file(&path).unwrap_err();
    assert_eq!(e.file(), Some(path.as_path()));
    assert!(
        e.to_string()
            .starts_with(&format!("{}:2:1: rnu: unknown field `rnu`", path.display())),
        "{e}"
    );
    let missing = dir.path().join("nope.yaml");
    let e = Task::from_yaml_file(&missing).unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::Io { .. }));
    std::fs::write(&path, [0xff, 0xfe, b'a']).unwrap();
    let e = Task::from_yaml_file(&path).unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::NotUtf8 { .. }));
}

#[test]
fn several_documents_are_not_one_task() {
    let e = err("name: a\n---\nname: b\n");
    assert!(matches!(
        e.kind(),
        TaskErrorKind::MultipleDocuments { count: 2 }
    ));
    assert_eq!(e.line(), Some(3));
}
