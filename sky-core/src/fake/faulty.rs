//! `Faulty<P>`: the fake's fault rules and chaos, injected into any provisioner.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::cloud::CloudId;
use crate::error::{Error, Result};
use crate::fake::chaos::ChaosConfig;
use crate::fake::fault::{Call, Fault, FaultInjector, Op};
use crate::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
};
use crate::resources::PortRange;

/// Wraps a provisioner and makes matching calls fail, as [`Fault`] rules and
/// [`ChaosConfig`] say, before they reach it; every call is logged.
///
/// Use it to run failover and leak tests against real backends and their emulators (moto,
/// local HTTP fakes). The wrapper knows only what each call carries: launches
/// (`bootstrap`, `run_instances`) have an instance type and market, cluster operations only
/// the [`ClusterRef`], so rules filtering on instance type or market never match those.
///
/// A [`Fault::after_nodes`] partial failure is made by asking the inner provisioner for
/// `k` more nodes than the cluster has (via `query_instances` and a smaller
/// `run_instances`), then failing.
///
/// ```
/// use sky_core::error::ErrorKind;
/// use sky_core::fake::{FakeCloud, Fault, Faulty, Op};
/// use sky_core::provision::{ClusterRef, LaunchRequest, Provisioner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let p = Faulty::new(FakeCloud::default())
///     .fault(Fault::on(Op::Bootstrap).region("fake-eu-1").kind(ErrorKind::Quota).times(1));
/// let c = ClusterRef { name: "w".into(), region: "fake-eu-1".into(), zone: None };
/// let err = p.bootstrap(&LaunchRequest::new(c.clone(), "fake.cpu2", 1)).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Quota);
/// assert!(p.bootstrap(&LaunchRequest::new(c, "fake.cpu2", 1)).await.is_ok());
/// assert_eq!(p.calls().len(), 2);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Faulty<P> {
    inner: P,
    faults: Arc<FaultInjector>,
}

impl<P: Provisioner> Faulty<P> {
    /// Wraps `inner`, with no faults yet.
    pub fn new(inner: P) -> Self {
        Faulty {
            inner,
            faults: Arc::new(FaultInjector::default()),
        }
    }

    /// Adds a scripted fault (rules are tried in the order added).
    pub fn fault(self, fault: Fault) -> Self {
        self.faults.add(fault);
        self
    }

    /// Adds seeded random failures.
    pub fn chaos(self, chaos: ChaosConfig) -> Self {
        self.faults.set_chaos(Some(chaos));
        self
    }

    /// Adds a scripted fault to a wrapper already in use (clones share the rules).
    pub fn add_fault(&self, fault: Fault) {
        self.faults.add(fault);
    }

    /// Removes every scripted fault and the chaos.
    pub fn clear_faults(&self) {
        self.faults.clear();
    }

    /// The wrapped provisioner.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Unwraps the provisioner.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// Every call so far, in order, with injected failures marked.
    pub fn calls(&self) -> Vec<Call> {
        self.faults.calls()
    }

    fn call(&self, op: Op, c: &ClusterRef) -> Call {
        Call::new(
            op,
            self.inner.cloud(),
            &c.name,
            &c.region,
            c.zone.as_deref(),
        )
    }

    fn launch_call(&self, op: Op, req: &LaunchRequest) -> Call {
        let mut call = self.call(op, &req.cluster);
        call.placement.instance_type = Some(req.instance_type.clone());
        call.spot = Some(req.spot);
        call.num_nodes = Some(req.num_nodes);
        call
    }

    fn finish<T>(&self, mut call: Call, res: Result<T>) -> Result<T> {
        call.error = res.as_ref().err().map(Error::kind);
        call.injected &= res.is_err();
        self.faults.record(call);
        res
    }

    /// Runs `op` unless a rule or chaos fails it; logs the call either way.
    async fn guarded<T, F>(&self, mut call: Call, op: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send,
    {
        let res = match self.faults.check(&call) {
            Some(f) => {
                call.injected = true;
                Err(f.to_error(&call))
            }
            None => op.await,
        };
        self.finish(call, res)
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<P: Provisioner> Provisioner for Faulty<P> {
    fn cloud(&self) -> CloudId {
        self.inner.cloud()
    }

    fn catalog(&self) -> Option<std::sync::Arc<dyn crate::catalog::Catalog>> {
        self.inner.catalog()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
        let call = self.launch_call(Op::Bootstrap, req);
        self.guarded(call, self.inner.bootstrap(req)).await
    }

    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        let mut call = self.launch_call(Op::RunInstances, req);
        let Some(failure) = self.faults.check(&call) else {
            let res = self.inner.run_instances(req).await;
            return self.finish(call, res);
        };
        call.injected = true;
        let injected = failure.to_error(&call);
        let res = match failure.after_nodes {
            None | Some(0) => Err(injected),
            Some(k) => match self.inner.query_instances(&req.cluster).await {
                Err(e) => Err(e),
                Ok(existing) => {
                    let have = u32::try_from(existing.len()).unwrap_or(u32::MAX);
                    let mut partial = req.clone();
                    partial.num_nodes = req.num_nodes.min(have.saturating_add(k));
                    match self.inner.run_instances(&partial).await {
                        Ok(_) => Err(injected),
                        Err(e) => Err(e),
                    }
                }
            },
        };
        self.finish(call, res)
    }

    async fn wait_instances(
        &self,
        cluster: &ClusterRef,
        state: InstanceState,
        timeout: Duration,
    ) -> Result<()> {
        let call = self.call(Op::WaitInstances, cluster);
        self.guarded(call, self.inner.wait_instances(cluster, state, timeout))
            .await
    }

    async fn query_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        let call = self.call(Op::QueryInstances, cluster);
        self.guarded(call, self.inner.query_instances(cluster))
            .await
    }

    async fn cluster_info(&self, cluster: &ClusterRef) -> Result<ClusterInfo> {
        let call = self.call(Op::ClusterInfo, cluster);
        self.guarded(call, self.inner.cluster_info(cluster)).await
    }

    async fn stop_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let call = self.call(Op::StopInstances, cluster);
        self.guarded(call, self.inner.stop_instances(cluster)).await
    }

    async fn start_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        let call = self.call(Op::StartInstances, cluster);
        self.guarded(call, self.inner.start_instances(cluster))
            .await
    }

    async fn terminate_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let call = self.call(Op::TerminateInstances, cluster);
        self.guarded(call, self.inner.terminate_instances(cluster))
            .await
    }

    async fn open_ports(&self, cluster: &ClusterRef, ports: &[PortRange]) -> Result<()> {
        let call = self.call(Op::OpenPorts, cluster);
        self.guarded(call, self.inner.open_ports(cluster, ports))
            .await
    }

    async fn release_region(&self, region: &str, ssh_public_key: Option<&str>) -> Result<()> {
        self.inner.release_region(region, ssh_public_key).await
    }
}
