//! The job queue through the broker, the same scenarios on every backend: FakeCloud (nodes
//! played by directories), the local backend, and an SSH node pool of 3 network-namespace
//! hosts running sshd.

mod fixture;
mod scenarios;

use fixture::Backend;

/// One test per backend for a scenario `scenarios::$name(&Backend)`.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fake() {
                scenarios::$name(&Backend::fake()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                scenarios::$name(&Backend::local()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ssh_pool() {
                if let Some(b) = Backend::ssh(3) {
                    scenarios::$name(&b).await;
                }
            }
        }
    )*};
}

on_every_backend!(
    three_node_job_sees_ranks_ips_workdir_env_and_secrets,
    cancel_kills_every_node,
    a_new_broker_reattaches_to_status_and_logs,
    fifo_with_gang_scheduling,
    exit_codes_and_failed_setup,
);
