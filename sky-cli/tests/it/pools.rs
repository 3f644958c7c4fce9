//! What a person sees when machines of an SSH node pool fail, through the `sky` command
//! line, on network-namespace hosts running sshd (root only; skipped with a note elsewhere,
//! failing under `CI`).

use std::path::Path;
use std::process::Output;

use sky_exec::SshKeyPair;
use sky_exec::testing::{HarnessError, NetnsHosts};

use super::{bare, write};

fn run(args: &[&str], home: &Path, known_hosts: &Path) -> Output {
    bare(args, home)
        .env("SKY_SSH_KNOWN_HOSTS", known_hosts)
        .output()
        .expect("run sky")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn pool_yaml(hosts: &NetnsHosts, key: &SshKeyPair) -> String {
    let mut yaml = format!(
        "lab:\n  user: root\n  identity_file: {}\n  hosts:\n",
        key.private_key_path().display()
    );
    for h in hosts.hosts() {
        yaml.push_str(&format!("    - {}\n", h.ip));
    }
    yaml
}

#[test]
fn a_pool_host_that_fails_is_explained() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let key = SshKeyPair::ensure(&home.join("key")).unwrap();
    let mut hosts = match NetnsHosts::create(3, key.public_key_openssh()) {
        Ok(h) => h,
        Err(HarnessError::Unavailable(why)) if std::env::var_os("CI").is_none() => {
            eprintln!("note: skipping the SSH pool CLI test: {why}");
            return;
        }
        Err(e) => panic!("{e}\nCI must run the SSH tests"),
    };
    let known = home.join("known_hosts");
    std::fs::copy(hosts.known_hosts_file(), &known).unwrap();
    std::fs::create_dir_all(home.join(".sky")).unwrap();
    let pool_file = home.join(".sky/ssh_node_pools.yaml");
    std::fs::write(&pool_file, pool_yaml(&hosts, &key)).unwrap();
    let ip = |i: usize| hosts.hosts()[i].ip.clone();
    let (ip1, ip2, ip3) = (ip(0), ip(1), ip(2));
    let job = write(
        home,
        "job.yaml",
        "num_nodes: 2\nresources:\n  infra: ssh/lab\nrun: exec sleep 3004\n",
    );
    let three = write(
        home,
        "three.yaml",
        "num_nodes: 3\nresources:\n  infra: ssh/lab\nrun: echo hi\n",
    );

    // A 2-node job on the first two hosts.
    let out = run(&["launch", "-y", "-d", "-c", "c", &job], home, &known);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The second host's sshd stops; the third is reinstalled (a new host key).
    hosts.stop_sshd(1);
    hosts.change_host_key(2).unwrap();

    // `sky check ssh` says what is wrong with each host, and how to fix it.
    let out = run(&["check", "ssh", "--ssh-timeout", "5"], home, &known);
    let t = text(&out);
    eprintln!("user sees:\n{t}");
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("lab: 1 of 3 hosts answered"), "{t}");
    assert!(t.contains(&format!("root@{ip1}:22: ok")), "{t}");
    assert!(
        t.contains(&format!("root@{ip2}:22: connection refused")),
        "{t}"
    );
    assert!(t.contains(&format!("start sshd on {ip2}")), "{t}");
    assert!(
        t.contains(&format!("root@{ip3}:22: host key changed")),
        "{t}"
    );
    assert!(t.contains(&format!("ssh-keygen -R {ip3}")), "{t}");

    // The queue answers, and warns about the node that does not.
    let out = run(&["queue", "c"], home, &known);
    let t = text(&out);
    eprintln!("user sees:\n{t}");
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("RUNNING"), "{t}");
    assert!(
        t.contains(&format!("node 1 ({ip2}) of c did not answer")),
        "{t}"
    );

    // Cancel stops what it can reach and says the job is not cancelled yet (exit 1).
    let out = run(&["cancel", "c", "1"], home, &known);
    let t = text(&out);
    eprintln!("user sees:\n{t}");
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("Job 1: CANCELLING"), "{t}");
    assert!(t.contains("connection refused"), "{t}");

    // The cluster is not UP while a node is gone.
    let out = run(&["status", "--refresh"], home, &known);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let line = t
        .lines()
        .find(|l| l.trim_start().starts_with("c "))
        .unwrap();
    assert!(line.contains("INIT"), "{t}");

    // A launch that needs the other hosts says why each one cannot be used.
    let out = run(&["launch", "-y", "-c", "d", &three], home, &known);
    let t = text(&out);
    eprintln!("user sees:\n{t}");
    assert_ne!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("has 0 hosts of 3 free and answering"), "{t}");
    assert!(t.contains(&format!("({ip3}: host key changed)")), "{t}");

    // A typo in the pool file: pool commands fail with the line and a suggestion; the
    // clusters already there are still listed.
    std::fs::write(
        &pool_file,
        pool_yaml(&hosts, &key).replace("  user: root", "  usr: root"),
    )
    .unwrap();
    let out = run(&["launch", "-y", "-c", "e", &three], home, &known);
    let t = text(&out);
    eprintln!("user sees:\n{t}");
    assert_ne!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("ssh_node_pools.yaml:2:3: unknown field `usr`"),
        "{t}"
    );
    assert!(t.contains("did you mean `user`?"), "{t}");
    let out = run(&["status"], home, &known);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.lines().any(|l| l.trim_start().starts_with("c ")), "{t}");

    // `down` still ends the job and releases the hosts.
    std::fs::write(&pool_file, pool_yaml(&hosts, &key)).unwrap();
    let out = run(&["down", "-y", "c"], home, &known);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
