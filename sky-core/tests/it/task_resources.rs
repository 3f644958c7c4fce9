//! Task YAML: the `resources:` section, every syntax.

use std::collections::BTreeMap;

use serde_json::json;
use sky_core::CloudId;
use sky_core::resources::{
    AcceleratorSpec, Autostop, CpuSpec, DiskTier, ImageId, JobRecovery, MemorySpec, NetworkTier,
    PortRange, ResourceSet, Resources, Selection,
};
use sky_core::task::{Task, TaskError, TaskErrorKind, TaskLoader};

fn set(resources_yaml: &str) -> ResourceSet {
    let yaml = format!("resources:\n{}", indent(resources_yaml));
    match Task::from_yaml_str(&yaml) {
        Ok(t) => t.resources,
        Err(e) => panic!("{e}\n---\n{yaml}"),
    }
}

fn one(resources_yaml: &str) -> Resources {
    let s = set(resources_yaml);
    assert_eq!(s.alternatives.len(), 1, "{s:?}");
    assert_eq!(s.selection, Selection::AnyOf);
    s.alternatives.into_iter().next().unwrap()
}

fn err(resources_yaml: &str) -> TaskError {
    let yaml = format!("resources:\n{}", indent(resources_yaml));
    match Task::from_yaml_str(&yaml) {
        Ok(t) => panic!("expected an error, got {:?}\n---\n{yaml}", t.resources),
        Err(e) => e,
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

fn accs(s: &ResourceSet) -> Vec<String> {
    s.alternatives
        .iter()
        .map(|r| {
            r.accelerators
                .as_ref()
                .map_or("-".into(), ToString::to_string)
        })
        .collect()
}

#[test]
fn accelerator_string_and_single_map_forms() {
    let v100 = AcceleratorSpec::named("V100", 1.0);
    assert_eq!(one("accelerators: V100").accelerators, Some(v100.clone()));
    assert_eq!(one("accelerators: V100:1").accelerators, Some(v100.clone()));
    assert_eq!(one("accelerators: {V100: 1}").accelerators, Some(v100));
    assert_eq!(
        one("accelerators: {V100: 4}").accelerators,
        Some(AcceleratorSpec::named("V100", 4.0))
    );
    assert_eq!(
        one("accelerators: {V100: null}").accelerators,
        Some(AcceleratorSpec::named("V100", 1.0))
    );
    assert_eq!(
        one("accelerators: A10G:0.5").accelerators,
        Some(AcceleratorSpec::named("A10G", 0.5))
    );
    assert_eq!(
        one("accelerators: {A10G: 0.5}").accelerators,
        Some(AcceleratorSpec::named("A10G", 0.5))
    );
    assert_eq!(
        one("accelerators: tpu-v3-8").accelerators,
        Some(AcceleratorSpec::named("tpu-v3-8", 1.0))
    );
    assert_eq!(one("accelerators:").accelerators, None);
}

#[test]
fn accelerator_memory_forms() {
    let mem = |v: Option<&str>, g: f64, plus: bool, n: f64| AcceleratorSpec::Memory {
        vendor: v.map(Into::into),
        memory_gib: g,
        or_more: plus,
        count: n,
    };
    assert_eq!(
        one("accelerators: 80GB+").accelerators,
        Some(mem(None, 80.0, true, 1.0))
    );
    assert_eq!(
        one("accelerators: 48GB:2").accelerators,
        Some(mem(None, 48.0, false, 2.0))
    );
    assert_eq!(
        one("accelerators: nvidia:80GB+:8").accelerators,
        Some(mem(Some("nvidia"), 80.0, true, 8.0))
    );
    assert_eq!(
        one("accelerators: {nvidia:24GB+: 2}").accelerators,
        Some(mem(Some("nvidia"), 24.0, true, 2.0))
    );
}

#[test]
fn accelerator_sets_are_any_of_and_lists_are_ordered() {
    let s = set("accelerators: {L4: 1, A100: 1}\ncpus: 8+");
    assert_eq!(s.selection, Selection::AnyOf);
    assert_eq!(accs(&s), ["L4:1", "A100:1"]);
    assert!(s.alternatives.iter().all(|r| r.cpus.is_some()));
    let s = set("accelerators: !!set {L4, A100}");
    assert_eq!(s.selection, Selection::AnyOf);
    assert_eq!(accs(&s), ["L4:1", "A100:1"]);
    let s = set("accelerators: [A100:8, 'H100:8', V100]");
    assert_eq!(s.selection, Selection::Ordered);
    assert_eq!(accs(&s), ["A100:8", "H100:8", "V100:1"]);
    let s = set("accelerators:\n  - L4\n");
    assert_eq!(s.selection, Selection::Ordered);
    assert_eq!(s.alternatives.len(), 1);
    // Duplicates in a set collapse.
    assert_eq!(
        accs(&set("accelerators: {V100: 1, V100:1: null}")),
        ["V100:1"]
    );
}

#[test]
fn accelerator_errors_point_at_the_item() {
    let e = err("accelerators: V100:x");
    assert_eq!(e.path(), "resources.accelerators");
    assert_eq!(e.line(), Some(2));
    assert_eq!(e.column(), Some(17));
    let e = err("accelerators: [V100, 'A100:0']");
    assert_eq!(e.path(), "resources.accelerators[1]");
    assert_eq!(e.column(), Some(24));
    let e = err("accelerators: {V100: 1, A100: -2}");
    assert_eq!(e.path(), "resources.accelerators.A100");
    let e = err("accelerators: {V100: two}");
    assert!(matches!(e.kind(), TaskErrorKind::InvalidType { .. }));
    assert!(err("accelerators: []").to_string().contains("empty"));
    assert!(err("accelerators: {}").to_string().contains("empty"));
    assert!(matches!(
        err("accelerators: 4").kind(),
        TaskErrorKind::InvalidType { .. }
    ));
}

#[test]
fn cpus_and_memory() {
    let r = one("cpus: 4\nmemory: 16");
    assert_eq!(
        r.cpus,
        Some(CpuSpec {
            count: 4.0,
            or_more: false
        })
    );
    assert_eq!(
        r.memory,
        Some(MemorySpec::Gib {
            gib: 16.0,
            or_more: false
        })
    );
    let r = one("cpus: 4+\nmemory: 32GB+");
    assert_eq!(
        r.cpus,
        Some(CpuSpec {
            count: 4.0,
            or_more: true
        })
    );
    assert_eq!(
        r.memory,
        Some(MemorySpec::Gib {
            gib: 32.0,
            or_more: true
        })
    );
    let r = one("cpus: 0.5\nmemory: 512MB");
    assert_eq!(
        r.cpus,
        Some(CpuSpec {
            count: 0.5,
            or_more: false
        })
    );
    assert_eq!(
        r.memory,
        Some(MemorySpec::Gib {
            gib: 0.5,
            or_more: false
        })
    );
    assert_eq!(
        one("memory: 1TB").memory,
        Some(MemorySpec::Gib {
            gib: 1024.0,
            or_more: false
        })
    );
    assert_eq!(
        one("memory: 2TB").memory,
        Some(MemorySpec::Gib {
            gib: 2.0 * 1024.0,
            or_more: false
        })
    );
    assert_eq!(
        one("memory: 1048576KB+").memory,
        Some(MemorySpec::Gib {
            gib: 1.0,
            or_more: true
        })
    );
    assert_eq!(one("memory: 4x").memory, Some(MemorySpec::PerVcpu(4.0)));
    assert_eq!(
        one("cpus: '8'").cpus,
        Some(CpuSpec {
            count: 8.0,
            or_more: false
        })
    );
    for bad in [
        "cpus: 0",
        "cpus: -1",
        "cpus: lots",
        "cpus: [4]",
        "memory: 0",
        "memory: 16QB",
    ] {
        let e = err(bad);
        assert!(e.path().starts_with("resources."), "{bad}: {e}");
    }
}

#[test]
fn infra_strings() {
    let r = one("infra: aws");
    assert_eq!(
        (r.cloud, r.region, r.zone),
        (Some(CloudId::Aws), None, None)
    );
    let r = one("infra: GCP/us-central1");
    assert_eq!(r.cloud, Some(CloudId::Gcp));
    assert_eq!(r.region.as_deref(), Some("us-central1"));
    let r = one("infra: aws/us-east-1/us-east-1a");
    assert_eq!(r.zone.as_deref(), Some("us-east-1a"));
    assert_eq!(one("infra: '*'"), Resources::default());
    let r = one("infra: '*/us-east-1'");
    assert_eq!((r.cloud, r.region.as_deref()), (None, Some("us-east-1")));
    let r = one("infra: '*/*/us-east-1a'");
    assert_eq!(
        (r.cloud, r.region, r.zone.as_deref()),
        (None, None, Some("us-east-1a"))
    );
    let r = one("infra: aws/*/us-east-1a");
    assert_eq!(
        (r.cloud, r.region, r.zone.as_deref()),
        (Some(CloudId::Aws), None, Some("us-east-1a"))
    );
}

#[test]
fn infra_errors() {
    let e = err("infra: aws\ncloud: aws");
    assert!(matches!(e.kind(), TaskErrorKind::Conflict { .. }));
    assert_eq!(e.path(), "resources.cloud");
    assert_eq!(e.line(), Some(3));
    let e = err("region: us-east-1\ninfra: aws");
    assert!(matches!(e.kind(), TaskErrorKind::Conflict { .. }), "{e}");
    let e = err("infra: awz/us-east-1");
    assert!(matches!(e.kind(), TaskErrorKind::UnknownCloud { .. }));
    assert_eq!(e.suggestion(), Some("aws"));
    // SkyPilot clouds sky has no backend for are valid names, as in SkyPilot.
    assert_eq!(
        one("infra: k8s/my-context").cloud,
        Some(CloudId::Other("kubernetes".into()))
    );
    assert_eq!(
        one("infra: lambda").cloud,
        Some(CloudId::Other("lambda".into()))
    );
    assert_eq!(one("cloud: OCI").cloud, Some(CloudId::Other("oci".into())));
    let e = err("infra: lambada");
    assert!(
        matches!(e.kind(), TaskErrorKind::UnknownCloud { .. }),
        "{e}"
    );
    assert_eq!(e.suggestion(), Some("lambda"));
    assert!(matches!(
        err("infra: a/b/c/d").kind(),
        TaskErrorKind::InvalidValue { .. }
    ));
    let e = err("infra: azure/eastus/1");
    assert!(matches!(e.kind(), TaskErrorKind::ZonesUnsupported { .. }));
    assert_eq!(e.path(), "resources.infra");
}

#[test]
fn kubernetes_maps_to_other_when_registered() {
    let t = TaskLoader::new()
        .with_cloud(CloudId::Other("kubernetes".into()))
        .load_str("resources:\n  infra: k8s/arn:aws:eks:us-east-1:1:cluster/c\n")
        .unwrap();
    let r = &t.resources.alternatives[0];
    assert_eq!(r.cloud, Some(CloudId::Other("kubernetes".into())));
    assert_eq!(
        r.region.as_deref(),
        Some("arn:aws:eks:us-east-1:1:cluster/c")
    );
    let t = TaskLoader::new()
        .with_cloud(CloudId::Other("mycloud".into()))
        .load_str("resources:\n  cloud: MyCloud\n")
        .unwrap();
    assert_eq!(
        t.resources.alternatives[0].cloud,
        Some(CloudId::Other("mycloud".into()))
    );
}

#[test]
fn cloud_region_zone_fields() {
    let r = one("cloud: AWS\nregion: us-east-1\nzone: us-east-1b");
    assert_eq!(r.cloud, Some(CloudId::Aws));
    assert_eq!(r.region.as_deref(), Some("us-east-1"));
    assert_eq!(r.zone.as_deref(), Some("us-east-1b"));
    assert_eq!(one("cloud: fake").cloud, Some(CloudId::Fake));
    let e = err("cloud: gpc");
    assert_eq!(e.suggestion(), Some("gcp"));
    assert_eq!(
        e.to_string(),
        "line 2, column 10: resources.cloud: unknown cloud `gpc`; did you mean `gcp`?"
    );
    let e = err("cloud: azure\nregion: eastus\nzone: eastus-1");
    assert_eq!(
        e.to_string(),
        "line 4, column 9: resources.zone: Azure does not support zones"
    );
    assert!(matches!(
        err("region: ''").kind(),
        TaskErrorKind::InvalidValue { .. }
    ));
    assert!(
        err("region: gcp/us-central1")
            .to_string()
            .contains("cannot contain")
    );
    assert!(err("zone: '*'").to_string().contains("cannot contain"));
    assert_eq!(
        one("region: ' us-east-1 '").region.as_deref(),
        Some("us-east-1")
    );
    assert!(matches!(
        err("cloud: 1").kind(),
        TaskErrorKind::InvalidType { .. }
    ));
}

#[test]
fn instance_type_with_accelerators_is_allowed() {
    let r = one("instance_type: p3.2xlarge\naccelerators: V100:1");
    assert_eq!(r.instance_type.as_deref(), Some("p3.2xlarge"));
    assert!(r.accelerators.is_some());
}

#[test]
fn spot_and_job_recovery() {
    assert_eq!(one("use_spot: true").use_spot, Some(true));
    assert_eq!(one("use_spot: no").use_spot, Some(false));
    assert!(matches!(
        err("use_spot: maybe").kind(),
        TaskErrorKind::InvalidType { .. }
    ));
    assert_eq!(
        one("job_recovery: failover").job_recovery,
        Some(JobRecovery::strategy("FAILOVER"))
    );
    assert_eq!(
        one("job_recovery: EAGER_NEXT_REGION").job_recovery,
        Some(JobRecovery::strategy("EAGER_NEXT_REGION"))
    );
    assert_eq!(
        one("job_recovery: none").job_recovery,
        Some(JobRecovery::strategy("NONE"))
    );
    assert_eq!(
        one("spot_recovery: FAILOVER").job_recovery,
        Some(JobRecovery::strategy("FAILOVER"))
    );
    let jr = one(
        "job_recovery:\n  strategy: EAGER_NEXT_REGION\n  max_restarts_on_errors: 3\n  recover_on_exit_codes: [33, 34]\n  my_plugin_key: {a: 1}",
    )
    .job_recovery
    .unwrap();
    assert_eq!(jr.strategy.as_deref(), Some("EAGER_NEXT_REGION"));
    assert_eq!(jr.max_restarts_on_errors, 3);
    assert_eq!(jr.recover_on_exit_codes, vec![33, 34]);
    assert_eq!(jr.extra["my_plugin_key"], json!({"a": 1}));
    let jr = one("job_recovery: {strategy: null, recover_on_exit_codes: 7}")
        .job_recovery
        .unwrap();
    assert_eq!((jr.strategy, jr.recover_on_exit_codes), (None, vec![7]));
    let e = err("job_recovery: FAILOVR");
    assert_eq!(e.suggestion(), Some("FAILOVER"));
    assert!(
        err("job_recovery: {recover_on_exit_codes: [1, 1]}")
            .to_string()
            .contains("twice")
    );
    assert_eq!(
        err("job_recovery: {recover_on_exit_codes: [1, 256]}").path(),
        "resources.job_recovery.recover_on_exit_codes[1]"
    );
    assert!(matches!(
        err("job_recovery: {max_restarts_on_errors: -1}").kind(),
        TaskErrorKind::InvalidValue { .. }
    ));
    assert!(matches!(
        err("job_recovery: none\nspot_recovery: none").kind(),
        TaskErrorKind::Conflict { .. }
    ));
}

#[test]
fn disk_network_ports_labels() {
    assert_eq!(one("disk_size: 512").disk_size_gb, Some(512));
    assert_eq!(one("disk_size: 1TB").disk_size_gb, Some(1024));
    assert_eq!(one("disk_size: 1536MB").disk_size_gb, Some(1));
    assert!(err("disk_size: 10.5").to_string().contains("whole"));
    assert!(matches!(
        err("disk_size: 0").kind(),
        TaskErrorKind::InvalidValue { .. }
    ));
    for (s, t) in [
        ("low", DiskTier::Low),
        ("medium", DiskTier::Medium),
        ("high", DiskTier::High),
        ("ultra", DiskTier::Ultra),
        ("best", DiskTier::Best),
    ] {
        assert_eq!(one(&format!("disk_tier: {s}")).disk_tier, Some(t));
    }
    assert!(matches!(
        err("disk_tier: fastest").kind(),
        TaskErrorKind::InvalidValue { .. }
    ));
    assert_eq!(
        one("network_tier: best").network_tier,
        Some(NetworkTier::Best)
    );
    assert_eq!(
        one("network_tier: standard").network_tier,
        Some(NetworkTier::Standard)
    );
    assert_eq!(
        one("ports: 8080").ports,
        vec![PortRange {
            start: 8080,
            end: 8080
        }]
    );
    assert_eq!(
        one("ports: 10052-10100").ports,
        vec![PortRange {
            start: 10052,
            end: 10100
        }]
    );
    assert_eq!(
        one("ports: ['1-2', '3', '5-6', 7]").ports,
        vec![
            PortRange { start: 1, end: 3 },
            PortRange { start: 5, end: 7 }
        ]
    );
    assert_eq!(
        one("ports: [9000, 80, 81, 8000-9000]").ports,
        vec![
            PortRange { start: 80, end: 81 },
            PortRange {
                start: 8000,
                end: 9000
            }
        ]
    );
    assert_eq!(err("ports: [80, 70000]").path(), "resources.ports[1]");
    assert!(err("ports: 100-10").to_string().contains("from <= to"));
    assert!(err("ports: 0").to_string().contains("between 1 and 65535"));
    let r = one("labels: {team: ml, version: 2}");
    assert_eq!(r.labels["team"], "ml");
    assert_eq!(r.labels["version"], "2");
}

#[test]
fn image_autostop_priority_cost_local_disk_args() {
    assert_eq!(
        one("image_id: ami-123").image_id,
        Some(ImageId::Any("ami-123".into()))
    );
    assert_eq!(
        one("image_id: docker:ubuntu:22.04").image_id,
        Some(ImageId::Any("docker:ubuntu:22.04".into()))
    );
    let per: BTreeMap<String, String> = [
        ("us-east-1".into(), "ami-1".into()),
        ("us-west-2".into(), "ami-2".into()),
    ]
    .into();
    assert_eq!(
        one("image_id:\n  us-east-1: ami-1\n  us-west-2: ami-2").image_id,
        Some(ImageId::PerRegion(per))
    );
    assert_eq!(
        one("autostop: true").autostop,
        Some(Autostop::after_minutes(5))
    );
    assert_eq!(one("autostop: false").autostop, Some(Autostop::disabled()));
    assert_eq!(
        one("autostop: 30").autostop,
        Some(Autostop::after_minutes(30))
    );
    assert_eq!(
        one("autostop: 2h").autostop,
        Some(Autostop::after_minutes(120))
    );
    assert_eq!(
        one("autostop: 1d").autostop,
        Some(Autostop::after_minutes(1440))
    );
    assert_eq!(
        one("autostop: 1w").autostop,
        Some(Autostop::after_minutes(10080))
    );
    let a = one("autostop:\n  idle_minutes: 10\n  down: true\n  wait_for: JOBS_AND_SSH\n  hook: echo bye\n  hook_timeout: 60").autostop.unwrap();
    assert_eq!(
        a,
        Autostop {
            enabled: true,
            idle_minutes: 10,
            down: true,
            wait_for: Some("jobs_and_ssh".into()),
            hook: Some("echo bye".into()),
            hook_timeout: Some(60)
        }
    );
    assert_eq!(
        one("autostop: {down: true}").autostop,
        Some(Autostop::after_minutes(5).with_down(true))
    );
    assert_eq!(
        err("autostop: {idle: 5}").suggestion(),
        Some("idle_minutes")
    );
    assert!(matches!(
        err("autostop: -5").kind(),
        TaskErrorKind::InvalidValue { .. }
    ));
    assert!(matches!(
        err("autostop: 5s").kind(),
        TaskErrorKind::InvalidValue { .. }
    ));
    assert_eq!(err("autostop: {wait_for: job}").suggestion(), Some("jobs"));
    assert_eq!(one("priority: -1000").priority, Some(-1000));
    assert!(
        err("priority: 1001")
            .to_string()
            .contains("between -1000 and 1000")
    );
    assert_eq!(one("max_hourly_cost: 3").max_hourly_cost, Some(3.0));
    assert_eq!(one("max_hourly_cost: 2.5").max_hourly_cost, Some(2.5));
    assert!(matches!(
        err("max_hourly_cost: 0").kind(),
        TaskErrorKind::InvalidValue { .. }
    ));
    assert_eq!(err("max_hourly_cost: .nan").line(), Some(2));
    assert_eq!(one("local_disk: nvme").local_disk.as_deref(), Some("nvme"));
    let args = one("accelerators: tpu-v4-8\naccelerator_args: {runtime_version: tpu-vm-base, tpu_vm: true, tpu_name: t1, gcp_queued_resource: false}")
        .accelerator_args
        .unwrap();
    assert_eq!(args["tpu_vm"], json!(true));
    assert_eq!(args["runtime_version"], json!("tpu-vm-base"));
    assert_eq!(
        err("accelerator_args: {runtime: x}").suggestion(),
        Some("runtime_version")
    );
}

#[test]
fn any_of_uses_outer_fields_as_defaults() {
    let s = set("use_spot: true
labels: {team: ml}
cpus: 8
any_of:
  - infra: aws
    accelerators: A100:8
    labels: {cloud: aws}
  - infra: gcp
    cpus: 16
    accelerators: {A100: 8}
  - infra: gcp
    cpus: 16
    accelerators: H100:8");
    assert_eq!(s.selection, Selection::AnyOf);
    assert_eq!(accs(&s), ["A100:8", "A100:8", "H100:8"]);
    let a = &s.alternatives;
    assert!(a.iter().all(|r| r.use_spot == Some(true)));
    assert_eq!(a[0].cloud, Some(CloudId::Aws));
    assert_eq!(a[0].labels.len(), 2, "labels merged");
    assert_eq!(a[0].cpus.map(|c| c.count), Some(8.0));
    assert_eq!(a[1].cloud, Some(CloudId::Gcp));
    assert_eq!(a[1].cpus.map(|c| c.count), Some(16.0), "entries override");
    assert_eq!(a[1].labels.len(), 1);
    assert_eq!(a[2].cloud, Some(CloudId::Gcp));
}

#[test]
fn outer_accelerator_set_with_any_of_expands_in_each_entry() {
    let s = set("accelerators: {L4: 1, A10G: 1}\nany_of:\n  - infra: aws\n  - infra: gcp");
    assert_eq!(s.alternatives.len(), 4);
    assert_eq!(accs(&s), ["L4:1", "A10G:1", "L4:1", "A10G:1"]);
}

#[test]
fn ordered_keeps_preference_order() {
    let s = set("accelerators: A100:8
ordered:
  - infra: gcp/us-central1
  - infra: aws/us-east-1
  - infra: aws
    accelerators: H100:8");
    assert_eq!(s.selection, Selection::Ordered);
    let places: Vec<String> = s
        .alternatives
        .iter()
        .map(|r| r.infra().to_string())
        .collect();
    assert_eq!(places, ["gcp/us-central1", "aws/us-east-1", "aws"]);
    assert_eq!(accs(&s), ["A100:8", "A100:8", "H100:8"]);
}

#[test]
fn any_of_and_ordered_rules() {
    let e = err("any_of: [{cpus: 4}]\nordered: [{cpus: 8}]");
    assert!(e.to_string().contains("both `any_of` and `ordered`"), "{e}");
    assert_eq!(e.line(), Some(3));
    let e = err("accelerators: {A100: 1, L4: 1}\nordered: [{infra: aws}]");
    assert!(
        e.to_string()
            .contains("multiple `accelerators` with `ordered`"),
        "{e}"
    );
    let e = err("accelerators: [A100, L4]\nany_of: [{infra: aws}]");
    assert!(
        e.to_string()
            .contains("list of `accelerators` with `any_of`"),
        "{e}"
    );
    let e = err("any_of:\n  - ordered: [{cpus: 2}]");
    assert!(e.to_string().contains("cannot be nested"), "{e}");
    assert_eq!(e.path(), "resources.any_of[0].ordered");
    let e = err("any_of: []");
    assert!(e.to_string().contains("at least one"), "{e}");
    let e = err("any_of:\n  - cpus: 4\n  - acelerators: V100");
    assert_eq!(e.path(), "resources.any_of[1].acelerators");
    assert_eq!(e.suggestion(), Some("accelerators"));
    assert_eq!(e.line(), Some(4));
    let e = err("any_of:\n  - cpus: 4\n  - accelerators: V100:0");
    assert_eq!(e.path(), "resources.any_of[1].accelerators");
    let e = err("any_of:\n  - job_recovery: FAILOVER\n  - job_recovery: none");
    assert!(e.to_string().contains("must be the same"), "{e}");
    let e = err("any_of: [3]");
    assert_eq!(e.path(), "resources.any_of[0]");
}

#[test]
fn any_of_duplicates_collapse_but_ordered_keeps_them() {
    assert_eq!(set("any_of: [{cpus: 4}, {cpus: 4}]").alternatives.len(), 1);
    assert_eq!(set("ordered: [{cpus: 4}, {cpus: 4}]").alternatives.len(), 2);
}

#[test]
fn unknown_resource_field_suggests() {
    let e = err("cpus: 4\nacelerators: V100");
    assert_eq!(
        e.to_string(),
        "line 3, column 3: resources.acelerators: unknown field `acelerators`; did you mean `accelerators`?"
    );
    assert!(
        matches!(err("cpu: 4").kind(), TaskErrorKind::UnknownField { field } if field == "cpu")
    );
    assert_eq!(err("cpu: 4").suggestion(), Some("cpus"));
}

#[test]
fn builder_matches_yaml() {
    let built = Resources::new()
        .with_infra("aws/us-east-1")
        .unwrap()
        .with_accelerators("V100:4")
        .unwrap()
        .with_cpus_str("8+")
        .unwrap()
        .with_memory_str("32+")
        .unwrap()
        .with_use_spot(true)
        .with_disk_size_gb(100)
        .with_disk_tier(DiskTier::High)
        .with_ports_str(["8080", "8081"])
        .unwrap()
        .with_label("a", "b")
        .with_autostop(Autostop::after_minutes(10))
        .with_job_recovery(JobRecovery::strategy("failover"))
        .with_priority(5)
        .with_max_hourly_cost(9.5)
        .with_image_id(ImageId::Any("docker:x".into()))
        .with_local_disk("ssd")
        .with_network_tier(NetworkTier::Best)
        .with_instance_type("p3.8xlarge");
    let parsed = one(
        "infra: aws/us-east-1\naccelerators: V100:4\ncpus: 8+\nmemory: 32+\nuse_spot: true\ndisk_size: 100\n\
         disk_tier: high\nports: [8080-8081]\nlabels: {a: b}\nautostop: 10m\njob_recovery: FAILOVER\npriority: 5\n\
         max_hourly_cost: 9.5\nimage_id: docker:x\nlocal_disk: ssd\nnetwork_tier: best\ninstance_type: p3.8xlarge",
    );
    assert_eq!(built, parsed);
    let t = Task::new().with_resources(built.clone());
    assert_eq!(t.resources, ResourceSet::one(built));
}
