//! The job queue through the broker, the same scenarios on every backend: FakeCloud (nodes
//! played by directories), the local backend, and an SSH node pool of 3 network-namespace
//! hosts running sshd.

mod fixture;
mod scenarios;
mod unreachable;

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
    a_followed_job_reports_its_phases,
);

/// Autostop counts running jobs as activity: a cluster with a running job is not stopped
/// however long ago it was used, and is once the job has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autostop_waits_for_running_jobs() {
    use sky_runtime::JobStatus;
    use sky_runtime::state::{AutostopSetting, ClusterStatus, now_s};

    let backend = Backend::fake();
    let b = backend.broker();
    let t = fixture::task("run: |\n  while [ ! -f ~/release ]; do sleep 0.1; done\n");
    let job = fixture::launch(&b, &t, "idle").await;
    b.set_autostop(
        "idle",
        Some(AutostopSetting {
            idle_minutes: 1,
            down: false,
        }),
    )
    .unwrap();
    let later = now_s() + 3600;
    assert!(b.enforce_autostop_at(later).await.unwrap().is_empty());
    assert_eq!(b.cluster("idle").unwrap().status, ClusterStatus::Up);
    for n in b.nodes("idle").await.unwrap() {
        n.runner.exec("touch ~/release").await.unwrap();
    }
    let rec = b.wait_job("idle", job, fixture::WAIT).await.unwrap();
    assert_eq!(rec.status, JobStatus::Succeeded);
    let acted = b.enforce_autostop_at(later).await.unwrap();
    assert_eq!(acted.len(), 1);
    assert_eq!(b.cluster("idle").unwrap().status, ClusterStatus::Stopped);
}

/// Launch requests to clouds reached over SSH carry sky's public key (made on first use in
/// `<state dir>/keys`); the fake, whose nodes are directories, gets none.
#[tokio::test]
async fn launch_requests_carry_skys_public_key_where_ssh_is_used() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use sky_core::CloudId;
    use sky_core::error::Result;
    use sky_core::fake::{FakeCatalog, FakeCloud};
    use sky_core::provision::{
        Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest,
        Provisioner,
    };
    use sky_core::resources::PortRange;
    use sky_runtime::{Broker, ProvisionOptions};

    /// The fake under another name, remembering the keys it was asked to install.
    #[derive(Debug)]
    struct Byoc(FakeCloud, Mutex<Vec<Option<String>>>);

    #[async_trait::async_trait]
    impl Provisioner for Byoc {
        fn cloud(&self) -> CloudId {
            CloudId::Other("byoc".into())
        }
        fn capabilities(&self) -> Capabilities {
            self.0.capabilities()
        }
        async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
            self.0.bootstrap(req).await
        }
        async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
            self.1.lock().unwrap().push(req.ssh_public_key.clone());
            self.0.run_instances(req).await
        }
        async fn wait_instances(
            &self,
            c: &ClusterRef,
            s: InstanceState,
            t: Duration,
        ) -> Result<()> {
            self.0.wait_instances(c, s, t).await
        }
        async fn query_instances(&self, c: &ClusterRef) -> Result<Vec<InstanceInfo>> {
            self.0.query_instances(c).await
        }
        async fn cluster_info(&self, c: &ClusterRef) -> Result<ClusterInfo> {
            self.0.cluster_info(c).await
        }
        async fn stop_instances(&self, c: &ClusterRef) -> Result<()> {
            self.0.stop_instances(c).await
        }
        async fn start_instances(&self, c: &ClusterRef) -> Result<Vec<InstanceInfo>> {
            self.0.start_instances(c).await
        }
        async fn terminate_instances(&self, c: &ClusterRef) -> Result<()> {
            self.0.terminate_instances(c).await
        }
        async fn open_ports(&self, c: &ClusterRef, p: &[PortRange]) -> Result<()> {
            self.0.open_ports(c, p).await
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let byoc = Arc::new(Byoc(FakeCloud::default(), Mutex::new(Vec::new())));
    let catalog = Arc::new(FakeCatalog::embedded().with_cloud(CloudId::Other("byoc".into())));
    let b = Broker::builder()
        .state_dir(dir.path())
        .unwrap()
        .cloud(catalog, byoc.clone())
        .build()
        .unwrap();
    b.provision(&sky_core::Task::new(), "k", &ProvisionOptions::new())
        .await
        .unwrap();
    let key = sky_exec::SshKeyPair::ensure(&dir.path().join("keys")).unwrap();
    assert_eq!(
        *byoc.1.lock().unwrap(),
        [Some(key.public_key_openssh().to_string())]
    );
    // The fake's nodes are directories: no key is made for it.
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCloud::default();
    let b = Broker::builder()
        .state_dir(dir.path())
        .unwrap()
        .cloud(Arc::new(fake.clone()), Arc::new(fake))
        .build()
        .unwrap();
    b.provision(&sky_core::Task::new(), "k", &ProvisionOptions::new())
        .await
        .unwrap();
    assert!(!dir.path().join("keys").exists());
}
