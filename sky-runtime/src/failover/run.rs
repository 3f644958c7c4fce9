//! The failover loop of one launch: optimize, try the zones of the chosen region, ask the
//! policy on every provider error, block, and re-optimize, until the cluster is up or no
//! candidate is left.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sky_core::error::{Error, ErrorKind, Placement, QuotaCover, Scope};
use sky_core::provision::{ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner};
use sky_core::{Dag, Resources, Task};
use sky_optimizer::{Block, BlockList, OptimizeError, TaskPlacement};

use super::{Attempt, Decision, FailoverHistory, FailoverPolicy};
use crate::broker::{Broker, DEFAULT_DISK_SIZE_GB, ProvisionOptions, TEARDOWN_ATTEMPTS};
use crate::error::BrokerError;
use crate::events::{LaunchEvent, Target as EventTarget};
use crate::state::{ClusterRecord, ClusterStatus, LaunchedResources};

/// Retries the policy may ask for in one zone before the zone is blocked anyway.
pub const MAX_RETRIES_PER_ZONE: u32 = 64;

/// One launch's failover: what it has tried, what it has blocked, and the cluster's row as it
/// stands. Made by [`Broker::provision`] once it holds the cluster's provisioning lease.
pub(crate) struct Failover<'a> {
    broker: &'a Broker,
    task: &'a Task,
    name: &'a str,
    options: &'a ProvisionOptions,
    record: ClusterRecord,
    history: FailoverHistory,
    attempts: u32,
    started: Instant,
    policy: Box<dyn FailoverPolicy>,
    blocked: BlockList,
}

/// Where one attempt launches: the optimizer's placement and one of its zones.
struct Target<'p> {
    placement: &'p TaskPlacement,
    resources: &'p Resources,
    zone: Option<String>,
}

impl<'a> Failover<'a> {
    pub(crate) fn new(
        broker: &'a Broker,
        task: &'a Task,
        name: &'a str,
        record: ClusterRecord,
        options: &'a ProvisionOptions,
    ) -> Self {
        Failover {
            broker,
            task,
            name,
            options,
            record,
            history: FailoverHistory::default(),
            attempts: 0,
            started: Instant::now(),
            policy: broker.new_policy(),
            blocked: BlockList::new(),
        }
    }

    /// Runs the loop to the end: the cluster's row once it is `UP`, or why not.
    pub(crate) async fn run(mut self) -> Result<ClusterRecord, BrokerError> {
        let catalogs = self.broker.catalogs();
        let dag = Dag::single(self.task.clone());
        let optimizer_options = self.options.optimizer_options();
        loop {
            let plan = match sky_optimizer::optimize(
                &dag,
                &catalogs,
                &self.blocked,
                self.options.objective,
                &optimizer_options,
            ) {
                Ok(plan) => plan,
                Err(e) => {
                    let exhausted = matches!(e, OptimizeError::ResourcesUnavailable { .. });
                    if exhausted
                        && self.attempts > 0
                        && self.options.retry_until_up
                        && self.budget_left()
                    {
                        tracing::info!(cluster = self.name, gap = ?self.options.retry_gap, "every candidate failed; retrying until up");
                        tokio::time::sleep(self.options.retry_gap).await;
                        self.blocked = BlockList::new();
                        continue;
                    }
                    let reason = if self.attempts > 0 {
                        format!(
                            "no candidate left after {} attempts in {:.1} s: {e}",
                            self.attempts,
                            self.started.elapsed().as_secs_f64()
                        )
                    } else {
                        e.to_string()
                    };
                    return Err(self.give_up(reason, Some(e)));
                }
            };
            let Some(placement) = plan.placements.into_iter().next() else {
                return Err(self.give_up("the optimizer returned no placement".into(), None));
            };
            self.emit(LaunchEvent::Optimized {
                cluster: self.name.to_string(),
                target: target_of(&placement, placement.zone.clone()),
                hourly_price: placement.hourly_price,
                num_nodes: self.task.num_nodes,
            });
            let resources = self
                .task
                .resources
                .alternatives
                .get(placement.resources_index)
                .cloned()
                .unwrap_or_default();
            let zones: Vec<Option<String>> = match (&placement.zone, placement.zones.is_empty()) {
                (Some(z), _) => vec![Some(z.clone())],
                (None, false) => placement.zones.iter().cloned().map(Some).collect(),
                (None, true) => vec![None],
            };
            if let Some(up) = self.try_region(&resources, &placement, &zones).await? {
                return Ok(up);
            }
            if !self.budget_left() {
                let reason = format!(
                    "the retry budget ran out after {} attempts in {:.1} s",
                    self.attempts,
                    self.started.elapsed().as_secs_f64()
                );
                return Err(self.give_up(reason, None));
            }
        }
    }

    fn emit(&self, event: LaunchEvent) {
        crate::events::emit(self.options.events.as_ref(), event);
    }

    fn budget_left(&self) -> bool {
        self.options.max_attempts.is_none_or(|m| self.attempts < m)
            && self
                .options
                .deadline
                .is_none_or(|d| self.started.elapsed() < d)
    }

    fn give_up(self, reason: String, source: Option<OptimizeError>) -> BrokerError {
        // Nothing of this launch is alive (every failed attempt was torn down), so an INIT row
        // that never got a node is removed; one that has nodes stays for `status --refresh`.
        if self.record.nodes.is_empty() {
            let _ = self.broker.state.remove(self.name, "provisioning failed");
        }
        BrokerError::Unavailable {
            cluster: self.name.to_string(),
            reason,
            elapsed: self.started.elapsed(),
            history: self.history,
            source: source.map(Box::new),
        }
    }

    /// Tries the zones of one region in order. `Ok(Some)` = up; `Ok(None)` = blocked,
    /// re-optimize; `Err` = stop.
    async fn try_region(
        &mut self,
        resources: &Resources,
        placement: &TaskPlacement,
        zones: &[Option<String>],
    ) -> Result<Option<ClusterRecord>, BrokerError> {
        let provisioner = self.broker.provisioner(&placement.cloud)?.clone();
        for zone in zones {
            let target = Target {
                placement,
                resources,
                zone: zone.clone(),
            };
            match self.try_zone(&provisioner, &target).await? {
                ZoneOutcome::Up(record) => return Ok(Some(*record)),
                ZoneOutcome::NextZone => {}
                ZoneOutcome::Reoptimize => return Ok(None),
            }
        }
        // Every zone of the region failed: rule the region out for this launchable.
        if placement.zone.is_none() {
            self.blocked.push(block_for(
                placement,
                None,
                Scope::Region,
                ErrorKind::Capacity,
            ));
        }
        Ok(None)
    }

    /// Attempts in one zone until it is up, the policy moves on, or the budget runs out.
    async fn try_zone(
        &mut self,
        provisioner: &Arc<dyn Provisioner>,
        t: &Target<'_>,
    ) -> Result<ZoneOutcome, BrokerError> {
        let placement = t.placement;
        let mut retries_here = 0;
        loop {
            if !self.budget_left() {
                return Ok(ZoneOutcome::Reoptimize);
            }
            self.attempts += 1;
            retries_here += 1;
            let (req, launched) = self.request(t)?;
            let target = target_of(placement, t.zone.clone());
            self.emit(LaunchEvent::AttemptStarted {
                cluster: self.name.to_string(),
                number: self.attempts,
                target: target.clone(),
            });
            let at = Placement {
                cloud: Some(placement.cloud.clone()),
                region: Some(placement.region.clone()),
                zone: t.zone.clone(),
                instance_type: Some(placement.instance_type.clone()),
            };
            let err = match self.bring_up(provisioner.as_ref(), &req).await {
                Ok(nodes) => {
                    let mut landed = target.clone();
                    landed.zone = nodes.iter().find_map(|n| n.zone.clone()).or(landed.zone);
                    self.emit(LaunchEvent::NodesUp {
                        cluster: self.name.to_string(),
                        target: landed,
                        nodes: nodes.len() as u32,
                    });
                    return self
                        .up(&nodes, launched)
                        .map(|r| ZoneOutcome::Up(Box::new(r)));
                }
                Err(err) if err.placement().cloud.is_none() => err.with_placement(at.clone()),
                Err(err) => err,
            };
            let decision = self.policy.on_error(
                &Attempt {
                    placement: &at,
                    number: self.attempts,
                    retries_here,
                    spot: placement.use_spot,
                },
                &err,
            );
            tracing::debug!(cluster = self.name, %err, ?decision, "provisioning attempt failed");
            self.emit(LaunchEvent::AttemptFailed {
                cluster: self.name.to_string(),
                number: self.attempts,
                target,
                kind: err.kind(),
                scope: err.scope(),
                code: err.code().map(str::to_string),
                message: err.message().to_string(),
                decision,
            });
            let attempt = self.history.push(&err, decision, placement.use_spot);
            if let Err(e) =
                self.broker
                    .state
                    .record_attempt(&self.record.cluster_hash, self.name, attempt)
            {
                tracing::warn!(cluster = self.name, error = %e, "recording a failed attempt");
            }
            let exhausted_here = retries_here > MAX_RETRIES_PER_ZONE;
            if !matches!(decision, Decision::Retry { .. }) || exhausted_here {
                self.teardown(provisioner.as_ref(), &req.cluster).await?;
            }
            match decision {
                Decision::Retry { .. } if exhausted_here => {
                    self.blocked.push(block_for(
                        placement,
                        t.zone.as_deref(),
                        Scope::Zone,
                        err.kind(),
                    ));
                    return Ok(ZoneOutcome::NextZone);
                }
                Decision::Retry { after } => tokio::time::sleep(after).await,
                Decision::Abort => {
                    let _ = self.broker.state.remove(self.name, "provisioning aborted");
                    return Err(BrokerError::Aborted {
                        cluster: self.name.to_string(),
                        error: err,
                        history: std::mem::take(&mut self.history),
                    });
                }
                Decision::Block(scope) => {
                    let narrow = block_for(placement, t.zone.as_deref(), scope, err.kind());
                    match err.quota() {
                        Some(q) => {
                            let blocks = blocks_for_quota(placement, q);
                            // A cover that misses what failed (a backend's mistake) must not
                            // let the same attempt come back: the loop ends.
                            if !blocks
                                .iter()
                                .any(|b| covers(b, placement, t.zone.as_deref()))
                            {
                                self.blocked.push(narrow);
                            }
                            for b in blocks {
                                self.blocked.push(b);
                            }
                        }
                        None => self.blocked.push(narrow),
                    }
                    return Ok(if scope == Scope::Zone {
                        ZoneOutcome::NextZone
                    } else {
                        ZoneOutcome::Reoptimize
                    });
                }
            }
        }
    }

    /// Records what this attempt launches (before any provider call) and the request for it.
    fn request(
        &mut self,
        t: &Target<'_>,
    ) -> Result<(LaunchRequest, LaunchedResources), BrokerError> {
        let (placement, resources) = (t.placement, t.resources);
        let cluster = ClusterRef {
            name: self.record.cluster_hash.clone(),
            region: placement.region.clone(),
            zone: t.zone.clone(),
        };
        let launched = LaunchedResources {
            cloud: placement.cloud.clone(),
            region: placement.region.clone(),
            zone: t.zone.clone(),
            instance_type: placement.instance_type.clone(),
            accelerator: placement.accelerators.clone(),
            spot: placement.use_spot,
            hourly_price: placement.hourly_price,
            num_nodes: self.task.num_nodes,
            disk_size_gb: resources.disk_size_gb.unwrap_or(DEFAULT_DISK_SIZE_GB),
            ports: resources.ports.clone(),
        };
        self.broker.state.set_launched(self.name, &launched)?;
        self.record.launched = Some(launched.clone());
        let mut req = LaunchRequest::new(cluster, &placement.instance_type, self.task.num_nodes);
        req.accelerator = placement.accelerators.clone();
        req.spot = placement.use_spot;
        req.disk_size_gb = launched.disk_size_gb;
        req.ports = resources.ports.clone();
        req.labels = resources.labels.clone();
        req.image_id = resources
            .image_id
            .as_ref()
            .and_then(|i| i.for_region(&placement.region))
            .map(str::to_string);
        req.ssh_public_key = self.broker.ssh_public_key(&placement.cloud);
        Ok((req, launched))
    }

    /// The cluster is up on `nodes`: record where it landed and mark it `UP`.
    fn up(
        &self,
        nodes: &[InstanceInfo],
        launched: LaunchedResources,
    ) -> Result<ClusterRecord, BrokerError> {
        let state = &self.broker.state;
        let zone_seen = nodes
            .iter()
            .find_map(|n| n.zone.clone())
            .or(launched.zone.clone());
        if zone_seen != launched.zone {
            let mut l = launched;
            l.zone = zone_seen;
            state.set_launched(self.name, &l)?;
        }
        state.set_status(self.name, ClusterStatus::Up, "provisioned")?;
        state.touch(self.name)?;
        state.get(self.name)?.ok_or_else(|| BrokerError::NotFound {
            name: self.name.to_string(),
        })
    }

    /// bootstrap → run → record → wait → record. Records every node as soon as it is known.
    async fn bring_up(
        &mut self,
        provisioner: &dyn Provisioner,
        req: &LaunchRequest,
    ) -> Result<Vec<InstanceInfo>, Error> {
        provisioner.bootstrap(req).await?;
        let run = provisioner.run_instances(req).await;
        // Whatever run_instances says, record what exists now: a partial failure leaves nodes.
        let nodes = match &run {
            Ok(nodes) => nodes.clone(),
            Err(_) => provisioner
                .query_instances(&req.cluster)
                .await
                .unwrap_or_default(),
        };
        self.record_nodes(&nodes);
        run?;
        provisioner
            .wait_instances(
                &req.cluster,
                InstanceState::Running,
                self.options.wait_timeout,
            )
            .await?;
        let nodes = provisioner.query_instances(&req.cluster).await?;
        self.record_nodes(&nodes);
        let running = nodes
            .iter()
            .filter(|n| n.state == InstanceState::Running)
            .count();
        if running < req.num_nodes as usize {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!(
                    "{running} of {} nodes are running after the wait",
                    req.num_nodes
                ),
            ));
        }
        Ok(nodes)
    }

    fn record_nodes(&mut self, nodes: &[InstanceInfo]) {
        if let Err(e) = self.broker.state.set_nodes(self.name, nodes) {
            tracing::error!(cluster = self.name, %e, "cannot record nodes");
        }
        self.record.nodes = nodes.to_vec();
    }

    /// Terminates what an attempt left and verifies it is gone, [`TEARDOWN_ATTEMPTS`] times.
    async fn teardown(
        &mut self,
        provisioner: &dyn Provisioner,
        cluster: &ClusterRef,
    ) -> Result<(), BrokerError> {
        let last_error =
            match terminate_with_retries(provisioner, cluster, self.options.teardown_backoff).await
            {
                Ok(()) => {
                    self.record_nodes(&[]);
                    return Ok(());
                }
                Err(e) => Some(e),
            };
        let instances = provisioner
            .query_instances(cluster)
            .await
            .map(|v| v.into_iter().map(|i| i.id).collect())
            .unwrap_or_default();
        Err(BrokerError::TeardownFailed {
            cluster: self.name.to_string(),
            instances,
            error: last_error
                .unwrap_or_else(|| Error::new(ErrorKind::Unexpected, "teardown failed")),
            history: std::mem::take(&mut self.history),
        })
    }
}

/// How the attempts in one zone ended.
enum ZoneOutcome {
    Up(Box<ClusterRecord>),
    /// This zone is blocked: try the region's next zone.
    NextZone,
    /// The region (or more) is blocked, or the budget ran out: ask the optimizer again.
    Reoptimize,
}

/// Terminates the cluster and checks that no instance of it is left.
/// Terminates the cluster and verifies it is gone, up to [`TEARDOWN_ATTEMPTS`] times, with a
/// jittered pause doubling from `first` (at most 30 s) between tries; the last error when
/// every try failed.
pub(crate) async fn terminate_with_retries(
    provisioner: &dyn Provisioner,
    cluster: &ClusterRef,
    first: Duration,
) -> Result<(), Error> {
    use backon::{ExponentialBuilder, Retryable};
    let backoff = ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(Duration::from_secs(30))
        .with_max_times(TEARDOWN_ATTEMPTS.saturating_sub(1) as usize)
        .with_jitter();
    (|| terminate_verified(provisioner, cluster))
        .retry(backoff)
        .notify(|e, after| {
            tracing::warn!(cluster = %cluster.name, error = %e, ?after, "teardown failed; trying again");
        })
        .await
}

pub(crate) async fn terminate_verified(
    provisioner: &dyn Provisioner,
    cluster: &ClusterRef,
) -> Result<(), Error> {
    provisioner.terminate_instances(cluster).await?;
    let left = provisioner.query_instances(cluster).await?;
    let alive: Vec<_> = left
        .iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .collect();
    if alive.is_empty() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Transient,
            format!("{} instances still alive after terminate", alive.len()),
        ))
    }
}

/// Where an attempt of `p` in `zone` goes, for events.
fn target_of(p: &TaskPlacement, zone: Option<String>) -> EventTarget {
    EventTarget {
        cloud: p.cloud.clone(),
        region: p.region.clone(),
        zone,
        instance_type: p.instance_type.clone(),
        spot: p.use_spot,
    }
}

/// Whether `b` excludes the attempt of `p` in `zone`.
fn covers(b: &Block, p: &TaskPlacement, zone: Option<&str>) -> bool {
    b.matches_view(&sky_core::catalog::OfferingRef {
        cloud: &p.cloud,
        instance_type: &p.instance_type,
        accelerator: p.accelerators.as_ref().map(|a| (a.name.as_str(), a.count)),
        vcpus: p.vcpus,
        memory_gib: p.memory_gib,
        region: &p.region,
        zone,
        spot: p.use_spot,
        hourly_price: p.hourly_price,
        accelerator_hourly_price: p.accelerator_hourly_price,
    })
}

/// What an exceeded quota rules out: what it covers, in the region (or the cloud) of the
/// attempt, one block per listed instance type.
fn blocks_for_quota(p: &TaskPlacement, q: &QuotaCover) -> Vec<Block> {
    let mut base = if q.scope == Scope::Cloud {
        Block::cloud(p.cloud.clone())
    } else {
        Block::region(p.cloud.clone(), &p.region)
    };
    if let Some(spot) = q.spot {
        base = base.with_spot(spot);
    }
    if let Some(prefix) = &q.instance_type_prefix {
        base = base.with_instance_type_prefix(prefix);
    }
    if let Some(a) = &q.accelerator {
        base = base.with_accelerator_name(a);
    }
    if q.instance_types.is_empty() {
        // The type that failed is covered, whatever the provider listed.
        return vec![base];
    }
    let mut types: Vec<&str> = q.instance_types.iter().map(String::as_str).collect();
    types.push(&p.instance_type);
    types.sort_unstable();
    types.dedup();
    types
        .into_iter()
        .map(|t| base.clone().with_instance_type(t))
        .collect()
}

/// The block a decision adds. Auth blocks the whole cloud; everything else blocks this
/// launchable (instance type, accelerator, market) at the decided scope, as SkyPilot's
/// `should_be_blocked_by` does.
fn block_for(p: &TaskPlacement, zone: Option<&str>, scope: Scope, kind: ErrorKind) -> Block {
    let base = match (scope, zone) {
        (Scope::Cloud, _) => Block::cloud(p.cloud.clone()),
        (Scope::Region, _) | (Scope::Zone, None) => Block::region(p.cloud.clone(), &p.region),
        (Scope::Zone, Some(z)) => Block::zone(p.cloud.clone(), &p.region, z),
    };
    if kind == ErrorKind::Auth {
        return base;
    }
    let mut b = base
        .with_instance_type(&p.instance_type)
        .with_spot(p.use_spot);
    if let Some(a) = &p.accelerators {
        b = b.with_accelerators(a.clone());
    }
    b
}
