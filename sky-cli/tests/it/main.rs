//! The `sky` binary, run as a user would: exit codes, JSON shapes, tables.

use std::path::PathBuf;
use std::process::{Command, Output};

mod backends;
mod kill;
mod pools;
mod progress;

fn catalog_dir() -> PathBuf {
    sky_catalog::testing::test_catalog_dir()
}

fn sky(args: &[&str], state: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sky"))
        .args(args)
        .env("SKY_CATALOG_DIR", catalog_dir())
        .env("SKY_STATE_DIR", state)
        .env_remove("SKY_LOG")
        .output()
        .expect("run sky")
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn optimize_json_has_exactly_the_documented_shape() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "t.yaml",
        "name: train\nresources:\n  accelerators: V100:1\nrun: python train.py\n",
    );
    let out = sky(
        &["optimize", &f, "--json", "--clouds", "gcp,azure"],
        d.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    // The documented order (`Plan::to_json`).
    assert_eq!(
        keys,
        [
            "objective",
            "solver",
            "total_cost",
            "total_time_s",
            "placements",
            "egress"
        ]
    );
    assert_eq!(v["objective"], "cost");
    assert_eq!(v["solver"], "dp");
    assert_eq!(v["total_cost"], 2.95321);
    assert_eq!(v["total_time_s"], 3600.0);
    let p = &v["placements"][0];
    assert_eq!(p["task"], "train");
    assert_eq!(p["cloud"], "gcp");
    assert_eq!(p["region"], "us-central1");
    assert_eq!(p["zone"], "us-central1-a");
    assert_eq!(p["instance_type"], "n1-highmem-8");
    assert_eq!(p["accelerators"], serde_json::json!({"V100": 1}));
    assert_eq!(p["use_spot"], false);
    assert_eq!(p["num_nodes"], 1);
    assert_eq!(p["hourly_price"], 2.95321);
    assert_eq!(p["cost"], 2.95321);
    assert_eq!(v["egress"], serde_json::json!([]));
}

#[test]
fn optimize_table_marks_the_chosen_row() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "t.yaml", "resources:\n  accelerators: V100:1\n");
    let out = sky(&["optimize", &f, "--clouds", "gcp,azure"], d.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Considered resources (1 node)"), "{text}");
    let chosen: Vec<&str> = text.lines().filter(|l| l.contains('✔')).collect();
    assert_eq!(chosen.len(), 1, "{text}");
    assert!(
        chosen[0].contains("n1-highmem-8") && chosen[0].contains("us-central1-a"),
        "{text}"
    );
}

#[test]
fn optimize_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    // Nothing fits: exit 1, typed JSON error with suggestions.
    let f = write(d.path(), "a.yaml", "resources:\n  accelerators: V100:3\n");
    let out = sky(
        &["optimize", &f, "--json", "--clouds", "gcp,azure"],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "resources_unavailable");
    assert!(v["error"]["message"].as_str().unwrap().contains("V100:4"));
    // An accelerator no catalog has: the file is valid (as in SkyPilot) and the optimizer
    // finds no feasible plan, with a suggestion.
    let f = write(d.path(), "b.yaml", "resources:\n  accelerators: V1000:1\n");
    let out = sky(
        &["optimize", &f, "--json", "--clouds", "gcp,azure"],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "resources_unavailable");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("Did you mean: V100"), "{message}");
    // A malformed file: exit 2.
    let f = write(d.path(), "c.yaml", "resources: [\n");
    let out = sky(&["optimize", &f, "--json"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["error"]["kind"], "invalid_task");
    // An unknown cloud: usage error with a suggestion.
    let f = write(d.path(), "d.yaml", "run: echo\n");
    let out = sky(&["optimize", &f, "--clouds", "gpc"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"gcp\""));
}

#[test]
fn validate_prints_the_normalised_task_or_the_error_with_its_line() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "ok.yaml",
        "run: echo hi\nresources: {accelerators: 'v100:1', cloud: GCP}\n",
    );
    let out = sky(&["validate", &f], d.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("accelerators: V100:1"),
        "canonical name: {text}"
    );
    assert!(
        text.contains("cloud: gcp") || text.contains("infra: gcp"),
        "{text}"
    );

    let f = write(
        d.path(),
        "bad.yaml",
        "name: x\nresources:\n  acelerators: V100\n",
    );
    let out = sky(&["validate", &f], d.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":3:"), "names the line: {err}");
    assert!(err.contains("did you mean `accelerators`"), "{err}");
}

#[test]
fn validate_accepts_skypilot_files_sky_cannot_launch_and_notes_why() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "k8s.yaml",
        "resources:\n  accelerators: [A100-40GB:1, V100:1]\n  image_id: docker:ubuntu:22.04\n\
         config: {kubernetes: {provision_timeout: 600}}\nrun: echo\n",
    );
    let out = sky(&["validate", &f, "--json"], d.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let notes: Vec<(String, String)> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let has = |kind: &str, path: &str| notes.iter().any(|(k, p)| k == kind && p == path);
    assert!(
        has("infeasible", "resources.ordered[0].accelerators"),
        "{notes:?}"
    );
    assert!(
        has("refused_at_launch", "resources.ordered[1].image_id"),
        "{notes:?}"
    );
    assert!(has("kept", "config.kubernetes"), "{notes:?}");
}

#[test]
fn show_gpus_lists_offers_as_json() {
    let d = tempfile::tempdir().unwrap();
    let out = sky(
        &["show-gpus", "A100:8", "--cloud", "gcp", "--json"],
        d.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json(&out);
    let rows = rows["accelerators"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r["cloud"] == "gcp" && r["accelerator"]["count"] == 8.0)
    );
    assert!(rows.iter().any(|r| r["instance_type"] == "a2-highgpu-8g"));
    let out = sky(&["show-gpus", "Z9000"], d.path());
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn launch_status_down_on_the_fake_cloud() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "t.yaml", "num_nodes: 2\nrun: echo hi\n");
    let out = sky(
        &["launch", &f, "-c", "demo", "-y", "--clouds", "fake"],
        d.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = json(&sky(&["status", "--json"], d.path()));
    assert_eq!(st[0]["name"], "demo");
    assert_eq!(st[0]["status"], "UP");
    assert_eq!(st[0]["nodes"].as_array().unwrap().len(), 2);
    // Without a terminal and without -y, destructive commands refuse.
    let out = sky(&["down", "demo"], d.path());
    assert_eq!(out.status.code(), Some(1));
    let out = sky(&["down", "demo", "-y"], d.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json(&sky(&["status", "--json"], d.path())),
        serde_json::json!([])
    );
    let report = json(&sky(&["cost-report", "--json"], d.path()));
    assert_eq!(report[0]["name"], "demo");
    assert_eq!(report[0]["live"], false);
}

#[test]
fn launch_refuses_what_sky_cannot_honour_before_creating_anything() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "docker.yaml",
        "resources:\n  image_id: docker:ubuntu:22.04\nrun: cat /etc/os-release\n",
    );
    let out = sky(&["launch", &f, "-c", "dock", "-y", "--json"], d.path());
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "refused", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("resources.image_id:"), "{message}");
    let f = write(
        d.path(),
        "s3.yaml",
        "file_mounts:\n  /data: s3://bucket/data\nrun: ls /data\n",
    );
    let out = sky(&["launch", &f, "-c", "mnt", "-y"], d.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("s3://bucket/data"), "{err}");
    // Nothing was created.
    let status = json(&sky(&["status", "--json"], d.path()));
    assert_eq!(status, serde_json::json!([]), "{status}");
}

#[test]
fn launch_exec_queue_logs_down_on_the_local_backend() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "t.yaml",
        "num_nodes: 2\nsetup: echo setup-$SKYPILOT_SETUP_NODE_RANK\nrun: echo hello-$SKYPILOT_NODE_RANK-of-$SKYPILOT_NUM_NODES\n",
    );
    let out = sky(&["launch", &f, "-c", "loc", "-y"], d.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("local/local"),
        "placed on the local backend: {stdout}"
    );
    for rank in 0..2 {
        assert!(stdout.contains(&format!("hello-{rank}-of-2")), "{stdout}");
    }
    let f2 = write(d.path(), "e.yaml", "run: exit 3\n");
    let out = sky(&["exec", "loc", &f2], d.path());
    assert_eq!(out.status.code(), Some(1), "a failed job fails the command");
    let q = json(&sky(&["queue", "loc", "--json"], d.path()));
    let statuses: Vec<&str> = q
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"SUCCEEDED") && statuses.contains(&"FAILED"),
        "{q}"
    );
    let out = sky(&["logs", "loc", "1"], d.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello-1-of-2"));
    // The status table says when each cluster was launched.
    let out = sky(&["status"], d.path());
    let table = String::from_utf8_lossy(&out.stdout);
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.contains("NAME") && header.contains("LAUNCHED"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with("loc "))
        .unwrap();
    assert!(row.contains(" ago"), "{table}");
    // Starting a cluster that is UP says so and changes nothing.
    let out = sky(&["start", "loc"], d.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("loc is already UP"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sky(&["down", "loc", "-y"], d.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json(&sky(&["status", "--json"], d.path())),
        serde_json::json!([])
    );
}

/// `sky` in an empty environment: no cloud credentials anywhere, HOME a fresh directory.
fn bare(args: &[&str], home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sky"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("SKY_CATALOG_DIR", catalog_dir())
        .env("SKY_STATE_DIR", home.join("state"))
        // No instance-metadata probing off EC2.
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

fn sky_bare(args: &[&str], home: &std::path::Path) -> Output {
    bare(args, home).output().expect("run sky")
}

#[test]
fn check_names_every_source_and_enables_nothing_without_credentials() {
    let d = tempfile::tempdir().unwrap();
    let out = sky_bare(&["check", "--json"], d.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let reports = v["reports"].as_array().unwrap();
    let clouds: Vec<&str> = reports
        .iter()
        .map(|r| r["cloud"].as_str().unwrap())
        .collect();
    assert_eq!(clouds, ["aws", "gcp", "azure"]);
    // The SSH node pools are checked too: there is no pool file, which is no failure.
    assert_eq!(v["pools"]["exists"], false, "{v}");
    assert_eq!(v["pools"]["pools"], serde_json::json!([]), "{v}");
    for r in reports {
        assert!(
            r["sources"].as_array().is_some_and(|s| s.len() >= 2),
            "every source tried is named: {r}"
        );
        assert!(r["verification"].get("Ok").is_none(), "{r}");
    }
    assert_eq!(v["enabled"], serde_json::json!([]));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("state/enabled_clouds.json")).unwrap())
            .unwrap();
    assert_eq!(saved["clouds"], serde_json::json!([]));

    // A cloud enabled earlier whose credentials are gone is skipped, not fatal.
    std::fs::write(
        d.path().join("state/enabled_clouds.json"),
        r#"{"clouds": ["gcp"], "checked_at": 0}"#,
    )
    .unwrap();
    let out = sky_bare(&["status", "--json"], d.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("gcp is enabled but unusable now"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = sky_bare(&["check", "locl"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"local\""));
}

/// moto's endpoint: required under CI (where `.ci/run` starts it), else the test is skipped.
fn moto() -> Option<String> {
    match std::env::var("SKY_TEST_MOTO_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto is required in CI: SKY_TEST_MOTO_ENDPOINT is not set"
            );
            eprintln!("skipped: SKY_TEST_MOTO_ENDPOINT is not set");
            None
        }
    }
}

/// `sky` with AWS pointed at moto in `region`, an AWS catalog (sky-catalog's fixture) in
/// `home/catalogs`, and the zone-name log lines on stderr.
fn moto_command(args: &[&str], home: &std::path::Path, moto: &str, region: &str) -> Command {
    let catalogs = home.join("catalogs");
    std::fs::create_dir_all(catalogs.join("aws")).unwrap();
    let fixture = sky_catalog::testing::fixture_dir().join("aws/vms.csv");
    std::fs::copy(fixture, catalogs.join("aws/vms.csv")).unwrap();
    let mut c = bare(args, home);
    c.env("SKY_CATALOG_DIR", &catalogs)
        .env("SKY_LOG", "warn,sky::aws_zone_names=debug")
        .env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", region);
    c
}

fn sky_moto(args: &[&str], home: &std::path::Path, moto: &str, region: &str) -> Output {
    moto_command(args, home, moto, region)
        .output()
        .expect("run sky")
}

/// Asserts that `out` exited 0 and returns its stderr.
fn succeeded(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn down_of_an_aws_cluster_needs_no_catalog() {
    let Some(moto) = moto() else { return };
    let region = "us-east-1";
    let d = tempfile::tempdir().unwrap();
    let ok = succeeded;
    ok(&sky_moto(
        &["check", "aws", "--json"],
        d.path(),
        &moto,
        region,
    ));
    let task = write(
        d.path(),
        "t.yaml",
        "resources:\n  infra: aws/us-east-1\n  cpus: 2+\n",
    );
    let name = format!("nocat{}", std::process::id());
    ok(&sky_moto(
        &["provision", &task, "-c", &name, "--clouds", "aws", "-y"],
        d.path(),
        &moto,
        region,
    ));
    let status = json(&sky_moto(&["status", "--json"], d.path(), &moto, region));
    let record = status
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(record["launched"]["cloud"], "aws", "{record}");
    let ids: Vec<String> = record["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!ids.is_empty(), "{record}");

    // No catalog anywhere: an empty catalog directory, and no kept zone names.
    let empty = d.path().join("no-catalogs");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::remove_file(d.path().join("state/aws_zone_names.json")).unwrap();
    let down = |args: &[&str]| {
        moto_command(args, d.path(), &moto, region)
            .env("SKY_CATALOG_DIR", &empty)
            .output()
            .expect("run sky")
    };
    let err = ok(&down(&["down", &name, "-y"]));
    assert!(err.contains("no aws catalog"), "{err}");
    assert!(!err.contains("unusable"), "{err}");
    let status = json(&down(&["status", "--json"]));
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != name.as_str()),
        "{status}"
    );

    // EC2 agrees: every instance of the cluster is terminated (or on its way).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let states = rt.block_on(async {
        let p = sky::aws::AwsBuilder::from_env()
            .endpoint(moto.as_str())
            .regions([region])
            .credentials("testing", "testing")
            .build()
            .await
            .unwrap();
        let out = p
            .client(region)
            .describe_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .unwrap();
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(states.len(), ids.len(), "{states:?}");
    for s in &states {
        assert!(
            matches!(s.as_deref(), Some("terminated" | "shutting-down")),
            "{states:?}"
        );
    }
}

#[test]
fn aws_zone_names_are_kept_by_check_and_reused_until_the_configuration_changes() {
    let Some(moto) = moto() else { return };
    let d = tempfile::tempdir().unwrap();
    let ok = succeeded;
    let kept = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.path().join("state/aws_zone_names.json")).unwrap())
            .unwrap()
    };

    let out = sky_moto(&["check", "aws", "--json"], d.path(), &moto, "us-east-1");
    ok(&out);
    assert_eq!(json(&out)["enabled"], serde_json::json!(["aws"]));
    let names = kept();
    assert_eq!(names["endpoint"], serde_json::json!(moto));
    // AWS_REGION is the SDK's default region, not a restriction: every region is kept.
    assert_eq!(names["regions"], serde_json::json!([]));
    let zones = names["zones"].as_object().unwrap();
    let east: Vec<_> = zones
        .iter()
        .filter(|(id, _)| id.starts_with("use1-az"))
        .collect();
    assert!(!east.is_empty(), "{names}");
    for (_, name) in east {
        assert!(name.as_str().unwrap().starts_with("us-east-1"), "{name}");
    }
    assert!(
        zones.keys().any(|id| !id.starts_with("use1-az")),
        "other regions too: {names}"
    );

    // Commands that build the broker use the kept names: no DescribeAvailabilityZones.
    let err = ok(&sky_moto(
        &["status", "--json"],
        d.path(),
        &moto,
        "us-east-1",
    ));
    assert!(err.contains("using the kept zone names"), "{err}");
    assert!(!err.contains("asked AWS"), "{err}");
    assert!(!err.contains("unusable"), "{err}");

    // Another default region is the same configuration: the kept names still serve.
    let err = ok(&sky_moto(
        &["status", "--json"],
        d.path(),
        &moto,
        "us-west-2",
    ));
    assert!(err.contains("using the kept zone names"), "{err}");
    // Another endpoint is another configuration: asked again, and kept for it.
    let other = format!("{}/", moto.trim_end_matches('/'));
    let err = ok(&sky_moto(
        &["status", "--json"],
        d.path(),
        &other,
        "us-west-2",
    ));
    assert!(err.contains("asked AWS for its zone names"), "{err}");
    assert_eq!(kept()["endpoint"], serde_json::json!(other));
    let err = ok(&sky_moto(
        &["status", "--json"],
        d.path(),
        &other,
        "us-west-2",
    ));
    assert!(err.contains("using the kept zone names"), "{err}");
}

/// `AWS_REGION` does not narrow AWS to one region: `optimize` and `provision` see the same
/// regions and agree on the choice.
#[test]
fn aws_region_is_a_default_not_a_restriction() {
    let Some(moto) = moto() else { return };
    let d = tempfile::tempdir().unwrap();
    succeeded(&sky_moto(&["check", "aws"], d.path(), &moto, "us-east-1"));
    let task = write(d.path(), "t.yaml", "resources:\n  cpus: 2+\n");
    let plan = json(&sky_moto(
        &["optimize", &task, "--clouds", "aws", "--json"],
        d.path(),
        &moto,
        "us-east-1",
    ));
    let region = plan["placements"][0]["region"].as_str().unwrap().to_owned();
    // Another default region plans the same.
    let other = if region == "us-east-1" {
        "us-west-2"
    } else {
        "us-east-1"
    };
    let again = json(&sky_moto(
        &["optimize", &task, "--clouds", "aws", "--json"],
        d.path(),
        &moto,
        other,
    ));
    assert_eq!(again["placements"][0]["region"], region.as_str(), "{again}");
    // And provisioning from there lands where the plan said.
    let name = format!("reg{}", std::process::id());
    succeeded(&sky_moto(
        &["provision", &task, "-c", &name, "--clouds", "aws", "-y"],
        d.path(),
        &moto,
        other,
    ));
    let status = json(&sky_moto(
        &["status", "--json"],
        d.path(),
        &moto,
        "us-east-1",
    ));
    let record = status
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(record["launched"]["region"], region.as_str(), "{plan}");
    succeeded(&sky_moto(
        &["down", &name, "-y"],
        d.path(),
        &moto,
        "us-east-1",
    ));
}

/// `sky launch` without `-c` makes a name, as SkyPilot does, and says it.
#[test]
fn launch_without_a_name_generates_one() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "t.yaml", "run: echo hi\n");
    let out = Command::new(env!("CARGO_BIN_EXE_sky"))
        .args(["launch", &f, "-y"])
        .env("SKY_CATALOG_DIR", catalog_dir())
        .env("SKY_STATE_DIR", d.path())
        .env("USER", "Ada")
        .env_remove("SKY_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let name = err
        .lines()
        .find_map(|l| l.strip_prefix("Cluster name: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{err}"))
        .to_owned();
    assert!(name.starts_with("sky-") && name.ends_with("-ada"), "{name}");
    assert_eq!(name.len(), "sky-0000-ada".len(), "{name}");
    let st = json(&sky(&["status", "--json"], d.path()));
    assert_eq!(st[0]["name"], name.as_str(), "{st}");
    assert_eq!(sky(&["down", &name, "-y"], d.path()).status.code(), Some(0));
}

/// With AWS credentials set and `sky check` never run, a launch that names AWS checks it on
/// the spot, keeps it enabled, and succeeds.
#[test]
fn a_named_cloud_is_checked_on_the_spot() {
    let Some(moto) = moto() else { return };
    let d = tempfile::tempdir().unwrap();
    let task = write(
        d.path(),
        "t.yaml",
        "resources:\n  infra: aws/us-east-1\n  cpus: 2+\n",
    );
    let name = format!("spot{}", std::process::id());
    let err = succeeded(&sky_moto(
        &["launch", &task, "--clouds", "aws", "-c", &name, "-y"],
        d.path(),
        &moto,
        "us-east-1",
    ));
    assert!(
        err.contains("aws was not enabled: checked now, and enabled"),
        "{err}"
    );
    let enabled: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("state/enabled_clouds.json")).unwrap())
            .unwrap();
    assert_eq!(enabled["clouds"], serde_json::json!(["aws"]));
    // The next launch does not check again.
    let err = succeeded(&sky_moto(
        &["down", &name, "-y"],
        d.path(),
        &moto,
        "us-east-1",
    ));
    assert!(!err.contains("checked now"), "{err}");
}
