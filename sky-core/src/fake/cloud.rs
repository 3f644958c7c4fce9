//! The fake's simulated instances and its `Provisioner` implementation.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::Catalog;
use crate::cloud::CloudId;
use crate::error::{Error, ErrorKind, Result};
use crate::fake::fault::{Call, Op};
use crate::fake::{FakeCloud, FakeInstance, SimMode};
use crate::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
};
use crate::resources::PortRange;
use crate::suggest;

const SSH_USER: &str = "sky";
const SSH_PORT: u16 = 22;

#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) cluster: String,
    pub(crate) region: String,
    /// `info.public_ip` is the address the instance holds; it is reported only while running.
    pub(crate) info: InstanceInfo,
    ports: BTreeSet<PortRange>,
    labels: BTreeMap<String, String>,
}

impl Instance {
    fn of(&self, c: &ClusterRef) -> bool {
        self.cluster == c.name && self.region == c.region && self.is_live()
    }

    fn is_live(&self) -> bool {
        self.info.state != InstanceState::Terminated
    }

    fn reported(&self) -> InstanceInfo {
        let mut info = self.info.clone();
        if info.state != InstanceState::Running {
            info.public_ip = None;
        }
        info
    }
}

#[derive(Debug)]
pub(crate) struct State {
    /// Every instance ever created, by id (ids start with a serial, so this is creation order).
    pub(crate) instances: BTreeMap<String, Instance>,
    /// The per-cluster network resources `bootstrap` made and `terminate_instances` has not
    /// removed yet, by (cluster, region): the analogue of an AWS security group, a GCP
    /// firewall rule or an Azure resource group, which outlive a failed launch unless the
    /// broker tears them down.
    pub(crate) groups: BTreeSet<(String, String)>,
    serial: u64,
    rng: ChaCha8Rng,
}

impl State {
    pub(crate) fn new(seed: u64) -> Self {
        State {
            instances: BTreeMap::new(),
            groups: BTreeSet::new(),
            serial: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub(crate) fn snapshot(&self, pick: impl Fn(&Instance) -> bool) -> Vec<FakeInstance> {
        let mut v: Vec<FakeInstance> = self
            .instances
            .values()
            .filter(|i| pick(i))
            .map(|i| FakeInstance {
                cluster: i.cluster.clone(),
                region: i.region.clone(),
                info: i.reported(),
                ports: i.ports.iter().copied().collect(),
                labels: i.labels.clone(),
            })
            .collect();
        v.sort_by(|a, b| {
            (&a.cluster, &a.region, a.info.rank, &a.info.id).cmp(&(
                &b.cluster,
                &b.region,
                b.info.rank,
                &b.info.id,
            ))
        });
        v
    }

    fn cluster(&self, c: &ClusterRef) -> Vec<InstanceInfo> {
        let mut v: Vec<InstanceInfo> = self
            .instances
            .values()
            .filter(|i| i.of(c))
            .map(Instance::reported)
            .collect();
        v.sort_by_key(|i| (i.rank, i.id.clone()));
        v
    }

    pub(crate) fn has_transitional(&self) -> bool {
        self.instances.values().any(|i| {
            matches!(
                i.info.state,
                InstanceState::Pending | InstanceState::Stopping
            )
        })
    }

    pub(crate) fn advance(&mut self, pick: impl Fn(&Instance) -> bool) -> usize {
        let mut n = 0;
        for i in self.instances.values_mut().filter(|i| pick(i)) {
            let next = match i.info.state {
                InstanceState::Pending => InstanceState::Running,
                InstanceState::Stopping => InstanceState::Stopped,
                _ => continue,
            };
            i.info.state = next;
            n += 1;
        }
        n
    }

    pub(crate) fn terminate_where(&mut self, pick: impl Fn(&Instance) -> bool) -> usize {
        let mut n = 0;
        for i in self
            .instances
            .values_mut()
            .filter(|i| i.is_live() && pick(i))
        {
            i.info.state = InstanceState::Terminated;
            n += 1;
        }
        n
    }

    fn create(&mut self, req: &LaunchRequest, rank: u32, zone: Option<&str>, state: InstanceState) {
        self.serial += 1;
        let n = self.serial;
        // The serial keeps ids unique and sorted by creation; the seeded suffix makes them
        // look like provider ids and differ between differently seeded fakes.
        let suffix: u64 = self.rng.random::<u64>() & 0xff_ffff_ffff;
        let id = format!("i-{n:06x}{suffix:010x}");
        let info = InstanceInfo {
            id: id.clone(),
            rank,
            state,
            private_ip: Some(format!(
                "10.{}.{}.{}",
                (n >> 16) & 0xff,
                (n >> 8) & 0xff,
                n & 0xff
            )),
            public_ip: Some(format!(
                "198.{}.{}.{}",
                18 + ((n >> 16) & 1),
                (n >> 8) & 0xff,
                n & 0xff
            )),
            zone: zone.map(str::to_string),
            instance_type: req.instance_type.clone(),
            spot: req.spot,
        };
        self.instances.insert(
            id,
            Instance {
                cluster: req.cluster.name.clone(),
                region: req.cluster.region.clone(),
                info,
                ports: req.ports.iter().copied().collect(),
                labels: req.labels.clone(),
            },
        );
    }
}

impl FakeCloud {
    /// The state a transition lands in: at once in Auto mode, after `advance` in Explicit.
    fn landing(&self, settled: InstanceState, transitional: InstanceState) -> InstanceState {
        match self.inner.mode {
            SimMode::Auto => settled,
            SimMode::Explicit => transitional,
        }
    }

    fn cloud_id(&self) -> CloudId {
        self.inner.catalog.cloud()
    }

    fn call(&self, op: Op, c: &ClusterRef) -> Call {
        let mut call = Call::new(op, self.cloud_id(), &c.name, &c.region, c.zone.as_deref());
        // Let instance-type and market filters of faults match cluster operations too.
        if let Some(head) = self.state().cluster(c).into_iter().next() {
            call.placement.instance_type = Some(head.instance_type);
            call.spot = Some(head.spot);
        }
        call
    }

    fn error(&self, kind: ErrorKind, call: &Call, message: String) -> Error {
        Error::new(kind, message).with_placement(call.placement.clone())
    }

    fn unsupported(&self, call: &Call, what: &str) -> Error {
        Error::unsupported(self.cloud_id(), what).with_placement(call.placement.clone())
    }

    /// Runs the scripted faults and chaos for `call`.
    fn inject(&self, call: &mut Call) -> Result<()> {
        match self.inner.faults.check(call) {
            Some(f) => {
                call.injected = true;
                Err(f.to_error(call))
            }
            None => Ok(()),
        }
    }

    /// Logs `call` with the result's outcome and passes the result on.
    fn finish<T>(&self, mut call: Call, res: Result<T>) -> Result<T> {
        call.error = res.as_ref().err().map(Error::kind);
        call.injected &= res.is_err();
        self.inner.faults.record(call);
        res
    }

    fn check_launch(&self, req: &LaunchRequest, call: &Call) -> Result<Option<String>> {
        let caps: Capabilities = self.inner.capabilities;
        let c = &req.cluster;
        let err = |kind, msg: String| Err(self.error(kind, call, msg));
        if req.num_nodes == 0 {
            return err(
                ErrorKind::InvalidRequest,
                "num_nodes must be at least 1".into(),
            );
        }
        if req.num_nodes > 1 && !caps.multi_node {
            return Err(self.unsupported(call, "launching more than one node"));
        }
        if let Some(max) = caps.max_nodes.filter(|m| req.num_nodes > *m) {
            return err(
                ErrorKind::InvalidRequest,
                format!("{} nodes requested; at most {max} allowed", req.num_nodes),
            );
        }
        if req.spot && !caps.spot {
            return Err(self.unsupported(call, "spot instances"));
        }
        if req.image_id.is_some() && !caps.custom_image {
            return Err(self.unsupported(call, "custom images"));
        }
        if !req.ports.is_empty() && !caps.open_ports {
            return Err(self.unsupported(call, "opening ports"));
        }
        if c.zone.is_some() && !caps.zones {
            return err(
                ErrorKind::InvalidRequest,
                format!("{} has no zones; drop the zone", self.cloud_id()),
            );
        }
        let cat = &self.inner.catalog;
        if let Err(e) = cat.validate_region_zone(Some(&c.region), c.zone.as_deref()) {
            return err(ErrorKind::InvalidRequest, e.to_string());
        }
        let types = cat.instance_types();
        if !types.contains(&req.instance_type.as_str()) {
            let near = suggest::did_you_mean(&req.instance_type, types)
                .map(|n| format!("; did you mean {n:?}?"))
                .unwrap_or_default();
            return err(
                ErrorKind::InvalidRequest,
                format!("unknown instance type {:?}{near}", req.instance_type),
            );
        }
        // Nodes added to an existing cluster go where its head is, unless a zone is pinned.
        let head_zone = self
            .state()
            .cluster(c)
            .into_iter()
            .next()
            .and_then(|h| h.zone);
        let zone = c.zone.clone().or(head_zone);
        let places = cat.placements(&req.instance_type, req.spot, &c.region, zone.as_deref());
        let Some(best) = places.first() else {
            let market = if req.spot { "spot" } else { "on-demand" };
            let at = zone.as_deref().unwrap_or(&c.region);
            return err(
                ErrorKind::InvalidRequest,
                format!("{} is not offered {market} in {at}", req.instance_type),
            );
        };
        Ok(if caps.zones { best.zone.clone() } else { None })
    }

    fn do_run(&self, req: &LaunchRequest, call: &mut Call) -> Result<Vec<InstanceInfo>> {
        let zone = self.check_launch(req, call)?;
        call.placement.zone = zone.clone();
        // A partial failure (`after_nodes`) creates some nodes first, then fails.
        let (limit, injected) = match self.inner.faults.check(call) {
            None => (u32::MAX, Ok(())),
            Some(f) => {
                call.injected = true;
                match f.after_nodes {
                    Some(k) => (k, Err(f.to_error(call))),
                    None => return Err(f.to_error(call)),
                }
            }
        };
        let c = &req.cluster;
        let mut st = self.state();
        let existing: BTreeMap<u32, InstanceState> = st
            .instances
            .values()
            .filter(|i| i.of(c))
            .map(|i| (i.info.rank, i.info.state))
            .collect();
        if let Some((rank, _)) = existing
            .iter()
            .find(|(r, s)| **r < req.num_nodes && **s == InstanceState::Stopping)
        {
            drop(st);
            call.injected = false;
            return Err(self.error(
                ErrorKind::Transient,
                call,
                format!(
                    "node {rank} of {:?} is still stopping; retry when stopped",
                    c.name
                ),
            ));
        }
        let started = self.landing(InstanceState::Running, InstanceState::Pending);
        let missing = (0..req.num_nodes).filter(|r| !existing.contains_key(r));
        for rank in missing.take(usize::try_from(limit).unwrap_or(usize::MAX)) {
            st.create(req, rank, zone.as_deref(), started);
        }
        if injected.is_ok() {
            // Like SkyPilot's run_instances, resume stopped nodes of an existing cluster.
            for i in st.instances.values_mut().filter(|i| i.of(c)) {
                if i.info.state == InstanceState::Stopped && i.info.rank < req.num_nodes {
                    i.info.state = started;
                }
            }
        }
        let nodes = st.cluster(c);
        drop(st);
        self.notify();
        injected.map(|()| nodes)
    }

    async fn do_wait(
        &self,
        cluster: &ClusterRef,
        want: InstanceState,
        timeout: Duration,
        call: &Call,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        let mut rx = self.inner.changed.subscribe();
        loop {
            let states: Vec<InstanceState> = self
                .state()
                .cluster(cluster)
                .iter()
                .map(|i| i.state)
                .collect();
            if states.is_empty() {
                return match want {
                    InstanceState::Terminated => Ok(()),
                    _ => Err(self.error(
                        ErrorKind::NotFound,
                        call,
                        format!("cluster {:?} has no instances", cluster.name),
                    )),
                };
            }
            if states.iter().all(|s| *s == want) {
                return Ok(());
            }
            let changed = rx.changed();
            let woke = match deadline {
                Some(d) => tokio::time::timeout_at(d, changed).await.ok(),
                None => Some(changed.await),
            };
            if woke.is_none() {
                return Err(self
                    .error(
                        ErrorKind::Transient,
                        call,
                        format!(
                            "timed out after {timeout:?} waiting for cluster {:?} to be {want:?} \
                             (states now: {states:?})",
                            cluster.name
                        ),
                    )
                    .with_code("Timeout"));
            }
        }
    }

    fn set_states(&self, cluster: &ClusterRef, from: &[InstanceState], to: InstanceState) -> usize {
        let mut n = 0;
        for i in self
            .state()
            .instances
            .values_mut()
            .filter(|i| i.of(cluster))
        {
            if from.contains(&i.info.state) {
                i.info.state = to;
                n += 1;
            }
        }
        if n > 0 {
            self.notify();
        }
        n
    }

    fn require(&self, call: &Call, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        let nodes = self.state().cluster(cluster);
        if nodes.is_empty() {
            return Err(self.error(
                ErrorKind::NotFound,
                call,
                format!("cluster {:?} not found in {}", cluster.name, cluster.region),
            ));
        }
        Ok(nodes)
    }
}

#[async_trait]
impl Provisioner for FakeCloud {
    fn cloud(&self) -> CloudId {
        self.cloud_id()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities
    }

    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
        let c = &req.cluster;
        let mut call = Call::new(
            Op::Bootstrap,
            self.cloud_id(),
            &c.name,
            &c.region,
            c.zone.as_deref(),
        );
        call.placement.instance_type = Some(req.instance_type.clone());
        call.spot = Some(req.spot);
        let res = match self
            .inner
            .catalog
            .validate_region_zone(Some(&c.region), c.zone.as_deref())
        {
            Err(e) => Err(self.error(ErrorKind::InvalidRequest, &call, e.to_string())),
            Ok(()) => self.inject(&mut call).map(|()| {
                self.state()
                    .groups
                    .insert((c.name.clone(), c.region.clone()));
            }),
        };
        self.finish(call, res)
    }

    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        let c = &req.cluster;
        let mut call = Call::new(
            Op::RunInstances,
            self.cloud_id(),
            &c.name,
            &c.region,
            c.zone.as_deref(),
        );
        call.placement.instance_type = Some(req.instance_type.clone());
        call.spot = Some(req.spot);
        call.num_nodes = Some(req.num_nodes);
        let res = self.do_run(req, &mut call);
        self.finish(call, res)
    }

    async fn wait_instances(
        &self,
        cluster: &ClusterRef,
        state: InstanceState,
        timeout: Duration,
    ) -> Result<()> {
        let mut call = self.call(Op::WaitInstances, cluster);
        let res = match self.inject(&mut call) {
            Ok(()) => self.do_wait(cluster, state, timeout, &call).await,
            Err(e) => Err(e),
        };
        self.finish(call, res)
    }

    async fn query_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        let mut call = self.call(Op::QueryInstances, cluster);
        let res = self
            .inject(&mut call)
            .map(|()| self.state().cluster(cluster));
        self.finish(call, res)
    }

    async fn cluster_info(&self, cluster: &ClusterRef) -> Result<ClusterInfo> {
        let mut call = self.call(Op::ClusterInfo, cluster);
        let res = self.inject(&mut call).and_then(|()| {
            let instances = self.require(&call, cluster)?;
            let mut cluster = cluster.clone();
            if cluster.zone.is_none() {
                cluster.zone = instances.first().and_then(|h| h.zone.clone());
            }
            Ok(ClusterInfo {
                cluster,
                instances,
                ssh_user: SSH_USER.to_string(),
                ssh_port: SSH_PORT,
            })
        });
        self.finish(call, res)
    }

    async fn stop_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let mut call = self.call(Op::StopInstances, cluster);
        let res = if !self.inner.capabilities.stop {
            Err(self.unsupported(&call, "stop_instances"))
        } else {
            self.inject(&mut call).map(|()| {
                let to = self.landing(InstanceState::Stopped, InstanceState::Stopping);
                self.set_states(
                    cluster,
                    &[InstanceState::Pending, InstanceState::Running],
                    to,
                );
            })
        };
        self.finish(call, res)
    }

    async fn start_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        let mut call = self.call(Op::StartInstances, cluster);
        let res = if !self.inner.capabilities.stop {
            Err(self.unsupported(&call, "start_instances"))
        } else {
            self.inject(&mut call).and_then(|()| {
                let nodes = self.require(&call, cluster)?;
                if let Some(n) = nodes.iter().find(|n| n.state == InstanceState::Stopping) {
                    return Err(self.error(
                        ErrorKind::Transient,
                        &call,
                        format!("node {} is still stopping; retry when stopped", n.rank),
                    ));
                }
                let to = self.landing(InstanceState::Running, InstanceState::Pending);
                self.set_states(cluster, &[InstanceState::Stopped], to);
                Ok(self.state().cluster(cluster))
            })
        };
        self.finish(call, res)
    }

    async fn terminate_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let mut call = self.call(Op::TerminateInstances, cluster);
        let res = self.inject(&mut call).map(|()| {
            let mut state = self.state();
            let gone = state.terminate_where(|i| i.of(cluster));
            state
                .groups
                .remove(&(cluster.name.clone(), cluster.region.clone()));
            drop(state);
            if gone > 0 {
                self.notify();
            }
        });
        self.finish(call, res)
    }

    async fn open_ports(&self, cluster: &ClusterRef, ports: &[PortRange]) -> Result<()> {
        let mut call = self.call(Op::OpenPorts, cluster);
        let res = if !self.inner.capabilities.open_ports {
            Err(self.unsupported(&call, "open_ports"))
        } else {
            self.inject(&mut call).and_then(|()| {
                self.require(&call, cluster)?;
                for i in self
                    .state()
                    .instances
                    .values_mut()
                    .filter(|i| i.of(cluster))
                {
                    i.ports.extend(ports.iter().copied());
                }
                Ok(())
            })
        };
        self.finish(call, res)
    }
}
