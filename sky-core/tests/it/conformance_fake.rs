//! The conformance suite against FakeCloud: every mode and capability set passes, and a
//! misbehaving backend fails with descriptive messages.

use sky_core::catalog::Catalog;
use sky_core::conformance::{self, ConformanceConfig, ConformanceError};
use sky_core::error::ErrorKind;
use sky_core::fake::{FakeCatalog, FakeCloud, Fault, Faulty, Op, SimMode};
use sky_core::provision::Capabilities;

fn config() -> ConformanceConfig {
    ConformanceConfig::new("fake.cpu2", "fake-east-1").with_zone("fake-east-1b")
}

#[tokio::test]
async fn fake_passes_in_auto_mode() {
    let fake = FakeCloud::default();
    let cfg = config();
    conformance::run_all(&fake, &fake, &cfg).await.unwrap();
    assert!(
        fake.live_instances().is_empty(),
        "suite leaked {:?}",
        fake.live_instances()
    );
    let ops: std::collections::BTreeSet<Op> = fake.calls().iter().map(|c| c.op).collect();
    assert_eq!(ops.len(), Op::ALL.len(), "every operation is exercised");
    assert!(
        fake.all_instances()
            .iter()
            .all(|i| i.cluster.starts_with(&cfg.cluster_prefix))
    );
}

#[tokio::test(start_paused = true)]
async fn fake_passes_in_explicit_mode_with_a_background_advancer() {
    let fake = FakeCloud::builder().mode(SimMode::Explicit).build();
    let driver = {
        let fake = fake.clone();
        tokio::spawn(async move {
            loop {
                fake.next_transition().await;
                fake.advance();
            }
        })
    };
    conformance::run_all(&fake, &fake, &config()).await.unwrap();
    driver.abort();
    assert!(fake.live_instances().is_empty());
}

#[tokio::test]
async fn fake_passes_with_fewer_capabilities() {
    let mut bare = Capabilities::all();
    bare.stop = false;
    bare.open_ports = false;
    bare.multi_node = false;
    let mut small = Capabilities::all();
    small.max_nodes = Some(2);
    for caps in [bare, small] {
        let fake = FakeCloud::builder().capabilities(caps).build();
        conformance::run_all(&fake, &fake, &config())
            .await
            .unwrap_or_else(|e| panic!("{caps:?}: {e}"));
        assert!(fake.live_instances().is_empty());
    }
}

#[tokio::test]
async fn config_from_catalog_and_faulty_is_transparent() {
    let cfg = ConformanceConfig::from_catalog(&FakeCatalog::embedded()).unwrap();
    assert_eq!(
        (
            cfg.instance_type.as_str(),
            cfg.region.as_str(),
            cfg.zone.as_deref()
        ),
        ("fake.cpu8", "fake-east-1", Some("fake-east-1a"))
    );
    assert_ne!(
        ConformanceConfig::unique_prefix(),
        ConformanceConfig::unique_prefix()
    );
    let fake = FakeCloud::default();
    let p = Faulty::new(fake.clone());
    conformance::run_all(&p, &fake, &cfg).await.unwrap();
    assert!(fake.live_instances().is_empty());
}

#[tokio::test]
async fn a_misbehaving_backend_fails_with_descriptive_messages() {
    let fake = FakeCloud::default();
    let cfg = config();
    // A backend that errors on unknown clusters, instead of the contract's empty/Ok answers.
    let p = Faulty::new(fake.clone())
        .fault(
            Fault::on(Op::TerminateInstances)
                .cluster(cfg.cluster("never").name)
                .kind(ErrorKind::NotFound),
        )
        .fault(
            Fault::on(Op::QueryInstances)
                .cluster(cfg.cluster("none").name)
                .kind(ErrorKind::NotFound),
        );
    let err = conformance::run_all(&p, &fake, &cfg).await.unwrap_err();
    let ConformanceError::Suite { failures } = &err else {
        panic!("expected two failures, got {err}")
    };
    assert_eq!(failures.len(), 2);
    let text = err.to_string();
    assert!(
        text.contains(
            "`terminate_is_idempotent` failed: terminate_instances of an unknown cluster failed"
        ),
        "{text}"
    );
    assert!(text.contains("`query_unknown_is_empty` failed"), "{text}");
    assert!(
        fake.live_instances().is_empty(),
        "failed checks still clean up"
    );

    // A catalog of another cloud is caught by the first check alone.
    let other = FakeCatalog::embedded().with_cloud(sky_core::CloudId::Other("elsewhere".into()));
    let err = conformance::launch_query_terminate(&fake, &other, &cfg)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("catalog is for elsewhere but the provisioner for fake"),
        "{err}"
    );
    assert_eq!(other.cloud(), sky_core::CloudId::Other("elsewhere".into()));

    // A backend claiming stop support it lacks: the capability-gated check notices.
    let mut no_stop = Capabilities::all();
    no_stop.stop = false;
    let lying = Faulty::new(FakeCloud::builder().capabilities(no_stop).build());
    let err = conformance::stop_start_roundtrip(&LyingCaps(lying), &cfg)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stop_instances failed"), "{err}");
}

/// Claims every capability, whatever the wrapped provisioner supports.
#[derive(Debug)]
struct LyingCaps<P>(P);

#[async_trait::async_trait]
impl<P: sky_core::provision::Provisioner> sky_core::provision::Provisioner for LyingCaps<P> {
    fn cloud(&self) -> sky_core::CloudId {
        self.0.cloud()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }
    async fn bootstrap(
        &self,
        r: &sky_core::provision::LaunchRequest,
    ) -> sky_core::error::Result<()> {
        self.0.bootstrap(r).await
    }
    async fn run_instances(
        &self,
        r: &sky_core::provision::LaunchRequest,
    ) -> sky_core::error::Result<Vec<sky_core::provision::InstanceInfo>> {
        self.0.run_instances(r).await
    }
    async fn wait_instances(
        &self,
        c: &sky_core::provision::ClusterRef,
        s: sky_core::provision::InstanceState,
        t: std::time::Duration,
    ) -> sky_core::error::Result<()> {
        self.0.wait_instances(c, s, t).await
    }
    async fn query_instances(
        &self,
        c: &sky_core::provision::ClusterRef,
    ) -> sky_core::error::Result<Vec<sky_core::provision::InstanceInfo>> {
        self.0.query_instances(c).await
    }
    async fn cluster_info(
        &self,
        c: &sky_core::provision::ClusterRef,
    ) -> sky_core::error::Result<sky_core::provision::ClusterInfo> {
        self.0.cluster_info(c).await
    }
    async fn stop_instances(
        &self,
        c: &sky_core::provision::ClusterRef,
    ) -> sky_core::error::Result<()> {
        self.0.stop_instances(c).await
    }
    async fn start_instances(
        &self,
        c: &sky_core::provision::ClusterRef,
    ) -> sky_core::error::Result<Vec<sky_core::provision::InstanceInfo>> {
        self.0.start_instances(c).await
    }
    async fn terminate_instances(
        &self,
        c: &sky_core::provision::ClusterRef,
    ) -> sky_core::error::Result<()> {
        self.0.terminate_instances(c).await
    }
    async fn open_ports(
        &self,
        c: &sky_core::provision::ClusterRef,
        p: &[sky_core::resources::PortRange],
    ) -> sky_core::error::Result<()> {
        self.0.open_ports(c, p).await
    }
}

#[test]
fn the_suite_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let fake = FakeCloud::default();
    let cfg = config();
    let fut = conformance::run_all(&fake, &fake, &cfg);
    assert_send(&fut);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(fut).unwrap();
}
