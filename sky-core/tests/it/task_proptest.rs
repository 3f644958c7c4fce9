//! Property tests: the loader never panics, and whatever it accepts round-trips.

use proptest::prelude::*;
use sky_core::Dag;
use sky_core::task::{Task, TaskLoader};

/// Fragments of task YAML, valid and not, to assemble documents that get past the parser
/// and exercise the converter.
fn field() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "name",
        "workdir",
        "num_nodes",
        "resources",
        "envs",
        "secrets",
        "file_mounts",
        "setup",
        "run",
        "inputs",
        "outputs",
        "config",
        "event_callback",
        "estimated_runtime",
        "service",
        "edges",
        "nmae",
    ]);
    let values = prop::sample::select(vec![
        "x",
        "3",
        "0",
        "-1",
        "1.5",
        "true",
        "null",
        "''",
        "[]",
        "{}",
        "[a, b]",
        "{a: 1}",
        "{url: u, ref: r}",
        "2h",
        "1h30m",
        "[[a, b]]",
        "{s3://b: 10}",
        "{A: 1, B: null}",
        "{/d: s3://b, /e: {name: n, mode: copy}}",
        "{X: '$Y${Z}'}",
        ".nan",
        "1e400",
        "\"\\u0000\"",
        "!!set {a, b}",
        "&a [1]",
        "*a",
    ]);
    (keys, values).prop_map(|(k, v)| format!("{k}: {v}"))
}

fn resource_field() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "infra",
        "cloud",
        "region",
        "zone",
        "instance_type",
        "cpus",
        "memory",
        "accelerators",
        "accelerator_args",
        "use_spot",
        "job_recovery",
        "spot_recovery",
        "disk_size",
        "disk_tier",
        "network_tier",
        "ports",
        "labels",
        "image_id",
        "autostop",
        "priority",
        "max_hourly_cost",
        "local_disk",
        "any_of",
        "ordered",
        "acelerators",
    ]);
    let values = prop::sample::select(vec![
        "aws",
        "gcp/us-central1",
        "azure/eastus/1",
        "'*/*/z'",
        "k8s/c",
        "V100:4",
        "A10G:0.5",
        "{A100: 8, L4: 1}",
        "[A100, L4]",
        "80GB+",
        "nvidia:48GB:2",
        "4+",
        "0",
        "32GB+",
        "4x",
        "1TB",
        "true",
        "false",
        "30m",
        "7",
        "-1000",
        "1001",
        "[1-2, 3, 5-6, 7]",
        "70000",
        "{team: ml}",
        "{us-east-1: ami}",
        "FAILOVER",
        "{strategy: none, recover_on_exit_codes: [1, 2]}",
        "[{infra: aws}, {accelerators: V100}]",
        "[{any_of: []}]",
        "[{infra: aws, cpus: 4}, {infra: aws, cpus: 8, labels: {a: b}}]",
        "[{labels: {x: y}}, {}]",
        "[{accelerators: {A100: 1, L4: 1}}, {use_spot: true}]",
        "[{}, {}]",
        "[]",
        "{}",
        "null",
        "[[1]]",
        "{idle_minutes: 5, down: true}",
        "{runtime_version: v, tpu_vm: true}",
        "1.5",
        "high",
    ]);
    (keys, values).prop_map(|(k, v)| format!("  {k}: {v}"))
}

fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(field(), 0..6),
        prop::collection::vec(resource_field(), 0..6),
    )
        .prop_map(|(fields, resources)| {
            let mut s = fields.join("\n");
            if !resources.is_empty() {
                s.push_str("\nresources:\n");
                s.push_str(&resources.join("\n"));
            }
            s.push('\n');
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = Task::from_yaml_str(&s);
        let _ = Dag::from_yaml_str(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Task::from_yaml_slice(&b);
        let _ = Dag::from_yaml_slice(&b);
    }

    #[test]
    fn yaml_like_text_never_panics(s in "[a-z_:\\-\\[\\]{},'\"!&*#|>%@` \n0-9.+/$]{0,200}") {
        let _ = Task::from_yaml_str(&s);
        let _ = Dag::from_yaml_str(&s);
    }

    #[test]
    fn accepted_documents_round_trip(doc in document()) {
        if let Ok(t) = Task::from_yaml_str(&doc) {
            let y = t.to_yaml_string_with_secrets().expect("serialises");
            let again = Task::from_yaml_str(&y)
                .unwrap_or_else(|e| panic!("{e}\n--- input\n{doc}\n--- output\n{y}"));
            prop_assert_eq!(again, t, "\n--- input\n{}\n--- output\n{}", doc, y);
        }
    }

    #[test]
    fn multi_document_dags_never_panic_and_round_trip(
        docs in prop::collection::vec(document(), 1..4),
        header in prop::sample::select(vec!["", "name: d\n", "edges: [[x, y]]\n", "name: d\nedges: []\n"]),
    ) {
        let mut text = header.to_string();
        for d in &docs {
            if !text.is_empty() {
                text.push_str("---\n");
            }
            text.push_str(d);
        }
        if let Ok(d) = TaskLoader::new().load_dag_str(&text) {
            let y = d.to_yaml_string_with_secrets().expect("serialises");
            let again = Dag::from_yaml_str(&y)
                .unwrap_or_else(|e| panic!("{e}\n--- input\n{text}\n--- output\n{y}"));
            prop_assert_eq!(again, d);
        }
    }
}
