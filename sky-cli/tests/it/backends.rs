//! Every command sees the backends `sky launch` uses: `optimize`, `show-gpus` and `check`
//! against `local`, the SSH node pools and the clouds `sky check` enabled (#21 defect 6).

use std::path::Path;

use super::{json, sky_bare, write};

/// Writes `~/.sky/ssh_node_pools.yaml` under `home`.
fn pool_file(home: &Path, text: &str) {
    std::fs::create_dir_all(home.join(".sky")).unwrap();
    std::fs::write(home.join(".sky/ssh_node_pools.yaml"), text).unwrap();
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn optimize_plans_where_launch_places() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let f = write(home, "t.yaml", "run: echo hi\n");
    // No cloud enabled: the plan is local at $0, as launch's.
    let out = sky_bare(&["optimize", &f, "--json"], home);
    ok(&out);
    let plan = json(&out);
    assert_eq!(plan["placements"][0]["cloud"], "local", "{plan}");
    assert_eq!(plan["total_cost"], 0.0, "{plan}");
    let out = sky_bare(&["launch", &f, "-c", "agree", "-y", "--json"], home);
    ok(&out);
    let launched = json(&out);
    assert_eq!(launched[0]["launched"]["cloud"], "local", "{launched}");
    ok(&sky_bare(&["down", "agree", "-y"], home));

    // A provider named but not enabled: a "what if" plan on its catalog, with a note.
    let out = sky_bare(&["optimize", &f, "--json", "--clouds", "gcp"], home);
    ok(&out);
    assert_eq!(json(&out)["placements"][0]["cloud"], "gcp");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gcp is not enabled: launch would not place there; run `sky check gcp`"),
        "{err}"
    );

    // A task for a pool plans on the pool, as launch places it.
    pool_file(
        home,
        &format!(
            "lab:\n  user: nobody\n  hosts:\n    - ip: 127.0.0.1\n      port: {}\n",
            closed_port()
        ),
    );
    let f = write(
        home,
        "s.yaml",
        "resources:\n  infra: ssh/lab\nrun: echo hi\n",
    );
    let out = sky_bare(&["optimize", &f, "--json"], home);
    ok(&out);
    let p = &json(&out)["placements"][0];
    assert_eq!(p["cloud"], "ssh", "{p}");
    assert_eq!(p["region"], "lab", "{p}");
    assert_eq!(p["instance_type"], "ssh-lab", "{p}");
}

#[test]
fn check_ssh_reports_each_pool_host_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let port = closed_port();
    pool_file(
        home,
        &format!("lab:\n  user: nobody\n  hosts:\n    - ip: 127.0.0.1\n      port: {port}\n"),
    );
    let out = sky_bare(&["check", "ssh", "--ssh-timeout", "5", "--json"], home);
    ok(&out);
    let v = json(&out);
    // Only the pools were asked for: no provider checked, nothing enabled or recorded.
    assert_eq!(v["reports"], serde_json::json!([]), "{v}");
    assert!(!home.join("state/enabled_clouds.json").exists());
    let pools = &v["pools"];
    assert_eq!(pools["exists"], true, "{v}");
    assert_eq!(pools["error"], serde_json::Value::Null, "{v}");
    assert_eq!(pools["pools"][0]["name"], "lab", "{v}");
    let host = &pools["pools"][0]["hosts"][0];
    assert_eq!(host["node"], format!("nobody@127.0.0.1:{port}"), "{v}");
    assert_eq!(host["failure"]["kind"], "refused", "{v}");
    let reason = host["failure"]["reason"].as_str().unwrap();
    assert!(reason.contains("Connection refused"), "{reason}");
    let fix = host["failure"]["fix"].as_str().unwrap();
    assert!(fix.contains("start sshd on 127.0.0.1"), "{fix}");

    let out = sky_bare(&["check", "ssh", "--ssh-timeout", "5"], home);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("lab: 0 of 1 host answered"), "{text}");
    assert!(
        text.contains(&format!("nobody@127.0.0.1:{port}: connection refused")),
        "{text}"
    );
    assert!(text.contains("`sky check` does not enable them"), "{text}");

    // A pool file that does not parse is reported, not fatal.
    pool_file(home, "- not a pool\n");
    let out = sky_bare(&["check", "ssh", "--json"], home);
    ok(&out);
    let v = json(&out);
    assert!(v["pools"]["error"].as_str().is_some(), "{v}");
    // ... and does not stand in the way of a plan that names other clouds.
    let f = write(home, "t.yaml", "run: echo hi\n");
    let out = sky_bare(&["optimize", &f, "--clouds", "gcp", "--json"], home);
    ok(&out);
    assert_eq!(json(&out)["placements"][0]["cloud"], "gcp");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SSH node pools unavailable"), "{err}");
}

#[test]
fn show_gpus_lists_the_pools() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    pool_file(
        home,
        "lab:\n  user: nobody\n  hosts: [10.0.0.1, 10.0.0.2]\nbox:\n  hosts: [10.0.0.9]\n",
    );
    let out = sky_bare(&["show-gpus"], home);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let lab = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some("lab"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(lab.split_whitespace().nth(2), Some("2"), "{lab}");
    assert!(lab.contains("none declared"), "{lab}");

    let out = sky_bare(&["show-gpus", "--cloud", "ssh", "--json"], home);
    ok(&out);
    let v = json(&out);
    assert_eq!(v["accelerators"], serde_json::json!([]), "{v}");
    let names: Vec<&str> = v["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["box", "lab"], "{v}");
    assert_eq!(
        v["pools"][1]["hosts"],
        serde_json::json!(["nobody@10.0.0.1:22", "nobody@10.0.0.2:22"]),
        "{v}"
    );
}
