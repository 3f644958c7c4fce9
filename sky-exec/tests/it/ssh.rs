//! The scenarios on three network-namespace hosts reached over SSH (root only; skipped with
//! a note elsewhere, failing under `CI`).

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
