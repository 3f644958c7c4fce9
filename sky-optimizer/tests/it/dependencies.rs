//! The optimizer stays pure: no HTTP client and no async runtime anywhere in its tree.

use std::process::Command;

fn tree(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "sky-optimizer",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(args)
        .current_dir(
            // The run-time value (cargo sets it for tests, benches and `cargo run`): the
            // compile-time one is stale in a binary reused from another checkout path.
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_http_client_or_async_runtime_of_its_own() {
    let all = tree(&[]);
    let crates: Vec<&str> = all
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for banned in ["reqwest", "ureq", "hyper", "tokio", "mio"] {
        assert!(
            !crates.contains(&banned),
            "{banned} in `cargo tree -p sky-optimizer`"
        );
    }
    let direct = tree(&["--depth", "1"]);
    assert!(
        !direct.lines().skip(1).any(|l| l.starts_with("tokio ")),
        "sky-optimizer depends on tokio directly:\n{direct}"
    );
}
