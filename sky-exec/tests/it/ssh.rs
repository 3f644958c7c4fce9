//! The scenarios on three network-namespace hosts reached over SSH (root only; skipped with
//! a note elsewhere, failing under `CI`).

use std::time::Duration;

use sky_exec::{ExecError, KnownHostsPolicy, SshRunner};

use crate::common::Fixture;
use crate::scenarios;

macro_rules! on_ssh_hosts {
    ($($name:ident: $n:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let Some(f) = Fixture::ssh($n) else { return };
            scenarios::$name(&f).await;
        }
    )*};
}

on_ssh_hosts! {
    ranks_ips_and_env: 3;
    workdir_and_mounts: 3;
    secrets_are_redacted: 3;
    cancel_kills_every_process: 3;
    reattach_after_restart: 3;
    exit_codes_are_kept: 3;
    runner_basics: 1;
}

#[tokio::test]
async fn strict_host_keys_refuse_unknown_hosts() {
    let Some(f) = Fixture::ssh(1) else { return };
    let Fixture::Ssh { hosts, key, .. } = &f else {
        unreachable!()
    };
    let empty = tempfile::NamedTempFile::new().unwrap();
    let cfg = hosts
        .ssh_config(0, key.private_key_path())
        .known_hosts(KnownHostsPolicy::Strict)
        .known_hosts_file(empty.path());
    let err = SshRunner::connect(cfg).await.unwrap_err();
    assert!(matches!(err, ExecError::Connect { .. }), "{err}");
    // The same host with its key known connects.
    let ok = SshRunner::connect(hosts.ssh_config(0, key.private_key_path()))
        .await
        .unwrap();
    assert_eq!(sky_exec::CommandRunner::node_ip(&ok), hosts.hosts()[0].ip);
}

/// What a user sees for each way an SSH connection fails: the kind, ssh's own reason and the
/// fix, instead of one fixed "failed to connect to the remote host".
#[tokio::test]
async fn each_connect_failure_says_why_and_what_to_do() {
    use sky_exec::ConnectFailure;
    let Some(mut f) = Fixture::ssh(3) else { return };
    let Fixture::Ssh { hosts, key, .. } = &mut f else {
        unreachable!()
    };
    let key_path = key.private_key_path().to_path_buf();
    async fn fails(cfg: sky_exec::SshConfig, want: ConnectFailure, says: &str) {
        let err = SshRunner::connect(cfg).await.unwrap_err();
        eprintln!("user sees: {err}");
        let ExecError::Connect { failure, .. } = &err else {
            panic!("not a connect error: {err}");
        };
        assert_eq!(*failure, want, "{err}");
        assert!(err.to_string().contains(says), "{err}");
    }
    // A key the host does not accept.
    let keys = tempfile::tempdir().unwrap();
    let other = sky_exec::SshKeyPair::ensure(keys.path()).unwrap();
    fails(
        hosts.ssh_config(0, other.private_key_path()),
        ConnectFailure::Auth,
        "Permission denied (publickey)",
    )
    .await;
    // A key file that is not there.
    fails(
        hosts.ssh_config(0, &keys.path().join("missing")),
        ConnectFailure::KeyFile,
        "No such file or directory",
    )
    .await;
    // A host whose key is not known, under the strict policy.
    let empty = tempfile::NamedTempFile::new().unwrap();
    fails(
        hosts
            .ssh_config(0, &key_path)
            .known_hosts_file(empty.path()),
        ConnectFailure::HostKeyUnknown,
        "ssh-keyscan",
    )
    .await;
    // A reinstalled host: its key changed, under the default policy too.
    hosts.change_host_key(1).unwrap();
    fails(
        hosts
            .ssh_config(1, &key_path)
            .known_hosts(KnownHostsPolicy::AcceptNew),
        ConnectFailure::HostKeyChanged,
        "ssh-keygen -R",
    )
    .await;
    // sshd stopped.
    hosts.stop_sshd(2);
    fails(
        hosts.ssh_config(2, &key_path),
        ConnectFailure::Refused,
        "Connection refused",
    )
    .await;
    // The host is gone: nothing answers within the timeout.
    hosts.kill_host(0);
    fails(
        hosts
            .ssh_config(0, &key_path)
            .connect_timeout(Duration::from_secs(2)),
        ConnectFailure::Timeout,
        "timed out",
    )
    .await;
}
