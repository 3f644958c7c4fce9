//! The provisioner conformance suite (feature `conformance`): the contract of
//! [`Provisioner`], checked against a live backend.
//!
//! Every backend runs it: `FakeCloud` in every test run, AWS against moto, GCP
//! and Azure against local HTTP fakes, and real clouds when their `SKY_TEST_<CLOUD>` flag is
//! set. Embedders that bring their own cloud run it too.
//!
//! Each check is a plain `async fn` over `&dyn Provisioner` that launches its own cluster
//! (named `<prefix>-<check>`), asserts, and terminates it whatever happened. Checks that need a
//! capability the backend lacks assert instead that the operation fails with
//! [`ErrorKind::Unsupported`], as the contract requires. [`run_all`] runs every check, then a
//! best-effort cleanup pass, and reports every failure.
//!
//! ```
//! use sky_core::conformance::{run_all, ConformanceConfig};
//! use sky_core::fake::FakeCloud;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let fake = FakeCloud::default();
//! let cfg = ConformanceConfig::new("fake.cpu2", "fake-east-1").with_zone("fake-east-1b");
//! run_all(&fake, &fake, &cfg).await.unwrap();
//! assert!(fake.live_instances().is_empty(), "the suite cleans up after itself");
//! # }
//! ```

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::catalog::Catalog;
use crate::error::{Error, ErrorKind, Result};
use crate::provision::{ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner};
use crate::resources::{PortRange, Resources};

/// What the suite launches, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConformanceConfig {
    /// Prefix of every cluster name; unique per run so parallel runs do not collide.
    pub cluster_prefix: String,
    /// A small, cheap instance type.
    pub instance_type: String,
    /// The region to launch in.
    pub region: String,
    /// The zone to pin, if any.
    pub zone: Option<String>,
    /// Nodes for the multi-node check (at least 2; capped by `Capabilities::max_nodes`).
    pub nodes: u32,
    /// How long each `wait_instances` may take.
    pub timeout: Duration,
}

impl ConformanceConfig {
    /// Launch `instance_type` in `region`, no zone, 3 nodes for the multi-node check, a
    /// 5-minute wait timeout and a fresh [`ConformanceConfig::unique_prefix`].
    pub fn new(instance_type: impl Into<String>, region: impl Into<String>) -> Self {
        ConformanceConfig {
            cluster_prefix: Self::unique_prefix(),
            instance_type: instance_type.into(),
            region: region.into(),
            zone: None,
            nodes: 3,
            timeout: Duration::from_secs(300),
        }
    }

    /// The cheapest on-demand CPU offering of `catalog` for SkyPilot's default CPU request
    /// (8+ vCPUs), or `None` if it has none.
    pub fn from_catalog(catalog: &dyn Catalog) -> Option<Self> {
        let best = catalog
            .offerings(&Resources::new())
            .offerings
            .into_iter()
            .next()?;
        let cfg = ConformanceConfig::new(best.instance_type, best.region);
        Some(match best.zone {
            Some(z) => cfg.with_zone(z),
            None => cfg,
        })
    }

    /// Pins the zone.
    pub fn with_zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// Sets the cluster-name prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.cluster_prefix = prefix.into();
        self
    }

    /// Sets the wait timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A prefix unlikely to repeat across processes and runs: `skyconf-` and 8 hex digits
    /// mixed from the clock, the process id and a counter (short and lower-case, as cloud
    /// name rules require).
    pub fn unique_prefix() -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut x = nanos ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9e37_79b9);
        // splitmix64 finaliser, so nearby inputs give unrelated prefixes.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        format!("skyconf-{:08x}", (x ^ (x >> 31)) as u32)
    }

    /// The cluster a check named `suffix` uses.
    pub fn cluster(&self, suffix: &str) -> ClusterRef {
        ClusterRef {
            name: format!("{}-{suffix}", self.cluster_prefix),
            region: self.region.clone(),
            zone: self.zone.clone(),
        }
    }

    fn request(&self, cluster: &ClusterRef, nodes: u32) -> LaunchRequest {
        LaunchRequest::new(cluster.clone(), self.instance_type.clone(), nodes)
    }
}

/// A conformance failure: which check, and what it saw.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// One check failed.
    #[error("conformance check `{check}` failed: {message}")]
    Check {
        /// The check's function name.
        check: &'static str,
        /// What was expected and what happened.
        message: String,
    },
    /// Several checks of [`run_all`] failed.
    #[error("{} conformance checks failed:\n{}", failures.len(), failures.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
    Suite {
        /// Each failure, in the order the checks ran.
        failures: Vec<ConformanceError>,
    },
}

impl ConformanceError {
    fn check(check: &'static str, message: impl Into<String>) -> Self {
        ConformanceError::Check {
            check,
            message: message.into(),
        }
    }
}

type Outcome = std::result::Result<(), ConformanceError>;

macro_rules! ensure {
    ($check:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(ConformanceError::check($check, format!($($fmt)+)));
        }
    };
}

/// Unwraps a provider result, or fails `check` saying which step failed.
fn step<T>(
    check: &'static str,
    what: &str,
    r: Result<T>,
) -> std::result::Result<T, ConformanceError> {
    r.map_err(|e| ConformanceError::check(check, format!("{what} failed: {e}")))
}

/// Passes if `r` is an `Unsupported` error.
fn expect_unsupported<T: std::fmt::Debug>(
    check: &'static str,
    what: &str,
    r: Result<T>,
) -> Outcome {
    match r {
        Err(e) if e.kind() == ErrorKind::Unsupported => Ok(()),
        Err(e) => Err(ConformanceError::check(
            check,
            format!(
                "{what} without the capability must fail with kind unsupported, got {}: {e}",
                e.kind()
            ),
        )),
        Ok(v) => Err(ConformanceError::check(
            check,
            format!(
                "{what} without the capability must fail with kind unsupported, but succeeded: {v:?}"
            ),
        )),
    }
}

/// Runs `body`, then terminates `cluster` whatever happened; a failed teardown fails the
/// check too.
async fn with_cleanup(
    p: &dyn Provisioner,
    check: &'static str,
    cluster: &ClusterRef,
    body: impl Future<Output = Outcome>,
) -> Outcome {
    let res = body.await;
    let teardown: Result<()> = p.terminate_instances(cluster).await;
    match (res, teardown) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(ConformanceError::check(
            check,
            format!("cleanup terminate failed: {e}"),
        )),
        (Ok(()), Ok(())) => Ok(()),
    }
}

fn ranks(nodes: &[InstanceInfo]) -> Vec<u32> {
    nodes.iter().map(|n| n.rank).collect()
}

fn ids(nodes: &[InstanceInfo]) -> BTreeSet<String> {
    nodes.iter().map(|n| n.id.clone()).collect()
}

async fn launch(
    p: &dyn Provisioner,
    check: &'static str,
    cfg: &ConformanceConfig,
    cluster: &ClusterRef,
    nodes: u32,
) -> std::result::Result<Vec<InstanceInfo>, ConformanceError> {
    let req = cfg.request(cluster, nodes);
    step(check, "bootstrap", p.bootstrap(&req).await)?;
    let launched = step(check, "run_instances", p.run_instances(&req).await)?;
    step(
        check,
        "wait_instances(Running)",
        p.wait_instances(cluster, InstanceState::Running, cfg.timeout)
            .await,
    )?;
    Ok(launched)
}

/// The nodes a multi-node check launches: `cfg.nodes`, at least 2, at most `max_nodes`.
fn multi_nodes(p: &dyn Provisioner, cfg: &ConformanceConfig) -> u32 {
    let n = cfg.nodes.max(2);
    p.capabilities().max_nodes.map_or(n, |m| n.min(m))
}

/// Bootstrap, launch one node, see it running in `query_instances`, terminate it, and see
/// the cluster gone. Also checks that `cat` describes the same cloud and prices the
/// configured instance type where it is launched.
pub async fn launch_query_terminate(
    p: &dyn Provisioner,
    cat: &dyn Catalog,
    cfg: &ConformanceConfig,
) -> Outcome {
    const C: &str = "launch_query_terminate";
    ensure!(
        C,
        cat.cloud() == p.cloud(),
        "catalog is for {} but the provisioner for {}",
        cat.cloud(),
        p.cloud()
    );
    if let Err(e) = cat.validate_region_zone(Some(&cfg.region), cfg.zone.as_deref()) {
        return Err(ConformanceError::check(
            C,
            format!("configured placement is not in the catalog: {e}"),
        ));
    }
    let price = cat.hourly_cost(
        &cfg.instance_type,
        None,
        false,
        Some(&cfg.region),
        cfg.zone.as_deref(),
    );
    ensure!(
        C,
        price.is_some(),
        "catalog has no on-demand price for {} in {}",
        cfg.instance_type,
        cfg.region
    );
    let cluster = cfg.cluster("lqt");
    with_cleanup(p, C, &cluster, async {
        let req = cfg.request(&cluster, 1);
        step(C, "bootstrap", p.bootstrap(&req).await)?;
        step(
            C,
            "second bootstrap (must be idempotent)",
            p.bootstrap(&req).await,
        )?;
        let nodes = step(C, "run_instances", p.run_instances(&req).await)?;
        ensure!(
            C,
            ranks(&nodes) == [0],
            "run_instances of 1 node returned ranks {:?}",
            ranks(&nodes)
        );
        let head = &nodes[0];
        ensure!(
            C,
            head.instance_type == cfg.instance_type,
            "launched {} instead of {}",
            head.instance_type,
            cfg.instance_type
        );
        ensure!(
            C,
            !head.spot,
            "an on-demand request launched a spot instance"
        );
        if let Some(z) = &cfg.zone {
            ensure!(
                C,
                head.zone.as_ref() == Some(z),
                "pinned zone {z} but the node is in {:?}",
                head.zone
            );
        }
        step(
            C,
            "wait_instances(Running)",
            p.wait_instances(&cluster, InstanceState::Running, cfg.timeout)
                .await,
        )?;
        let seen = step(C, "query_instances", p.query_instances(&cluster).await)?;
        ensure!(
            C,
            ids(&seen) == ids(&nodes),
            "query_instances returned {:?}, launched {:?}",
            ids(&seen),
            ids(&nodes)
        );
        ensure!(
            C,
            seen.iter().all(|n| n.state == InstanceState::Running),
            "after waiting, states are {:?}",
            seen.iter().map(|n| n.state).collect::<Vec<_>>()
        );
        step(
            C,
            "terminate_instances",
            p.terminate_instances(&cluster).await,
        )?;
        step(
            C,
            "wait_instances(Terminated)",
            p.wait_instances(&cluster, InstanceState::Terminated, cfg.timeout)
                .await,
        )?;
        let after = step(
            C,
            "query_instances after terminate",
            p.query_instances(&cluster).await,
        )?;
        ensure!(
            C,
            after.is_empty(),
            "terminated cluster still lists {after:?}"
        );
        Ok(())
    })
    .await
}

/// A second `run_instances` of the same request creates nothing: same ids, same ranks.
pub async fn run_instances_is_idempotent(p: &dyn Provisioner, cfg: &ConformanceConfig) -> Outcome {
    const C: &str = "run_instances_is_idempotent";
    let n = if p.capabilities().multi_node {
        multi_nodes(p, cfg).min(2)
    } else {
        1
    };
    let cluster = cfg.cluster("idem");
    with_cleanup(p, C, &cluster, async {
        let first = launch(p, C, cfg, &cluster, n).await?;
        let again = step(
            C,
            "second run_instances",
            p.run_instances(&cfg.request(&cluster, n)).await,
        )?;
        ensure!(
            C,
            ids(&again) == ids(&first),
            "second run_instances returned {:?}, first {:?}: it must create nothing new",
            ids(&again),
            ids(&first)
        );
        ensure!(
            C,
            ranks(&again) == (0..n).collect::<Vec<_>>(),
            "second run_instances returned ranks {:?}",
            ranks(&again)
        );
        let seen = step(C, "query_instances", p.query_instances(&cluster).await)?;
        ensure!(
            C,
            seen.len() == n as usize,
            "query_instances lists {} nodes after two launches of {n}",
            seen.len()
        );
        Ok(())
    })
    .await
}

/// Terminating twice succeeds, and so does terminating a cluster that never existed.
pub async fn terminate_is_idempotent(p: &dyn Provisioner, cfg: &ConformanceConfig) -> Outcome {
    const C: &str = "terminate_is_idempotent";
    let cluster = cfg.cluster("term");
    with_cleanup(p, C, &cluster, async {
        launch(p, C, cfg, &cluster, 1).await?;
        step(
            C,
            "terminate_instances",
            p.terminate_instances(&cluster).await,
        )?;
        step(
            C,
            "second terminate_instances",
            p.terminate_instances(&cluster).await,
        )?;
        step(
            C,
            "wait_instances(Terminated)",
            p.wait_instances(&cluster, InstanceState::Terminated, cfg.timeout)
                .await,
        )?;
        let after = step(C, "query_instances", p.query_instances(&cluster).await)?;
        ensure!(
            C,
            after.is_empty(),
            "terminated cluster still lists {after:?}"
        );
        let never = cfg.cluster("never");
        step(
            C,
            "terminate_instances of an unknown cluster",
            p.terminate_instances(&never).await,
        )?;
        Ok(())
    })
    .await
}

/// `query_instances` of a cluster that does not exist is an empty list, not an error.
pub async fn query_unknown_is_empty(p: &dyn Provisioner, cfg: &ConformanceConfig) -> Outcome {
    const C: &str = "query_unknown_is_empty";
    let nodes = step(
        C,
        "query_instances of an unknown cluster",
        p.query_instances(&cfg.cluster("none")).await,
    )?;
    ensure!(C, nodes.is_empty(), "unknown cluster lists {nodes:?}");
    Ok(())
}

/// Stop, see every node stopped, start, see the same nodes running. Without
/// `Capabilities::stop`, both operations must fail with `Unsupported`.
pub async fn stop_start_roundtrip(p: &dyn Provisioner, cfg: &ConformanceConfig) -> Outcome {
    const C: &str = "stop_start_roundtrip";
    let cluster = cfg.cluster("stop");
    if !p.capabilities().stop {
        expect_unsupported(C, "stop_instances", p.stop_instances(&cluster).await)?;
        return expect_unsupported(C, "start_instances", p.start_instances(&cluster).await);
    }
    with_cleanup(p, C, &cluster, async {
        let nodes = launch(p, C, cfg, &cluster, 1).await?;
        step(C, "stop_instances", p.stop_instances(&cluster).await)?;
        step(
            C,
            "wait_instances(Stopped)",
            p.wait_instances(&cluster, InstanceState::Stopped, cfg.timeout)
                .await,
        )?;
        let stopped = step(C, "query_instances", p.query_instances(&cluster).await)?;
        ensure!(
            C,
            ids(&stopped) == ids(&nodes),
            "stopped cluster lists {:?}, launched {:?}",
            ids(&stopped),
            ids(&nodes)
        );
        ensure!(
            C,
            stopped.iter().all(|n| n.state == InstanceState::Stopped),
            "after stop, states are {:?}",
            stopped.iter().map(|n| n.state).collect::<Vec<_>>()
        );
        let started = step(C, "start_instances", p.start_instances(&cluster).await)?;
        ensure!(
            C,
            ids(&started) == ids(&nodes),
            "start_instances returned {:?}, launched {:?}: it must restart the same nodes",
            ids(&started),
            ids(&nodes)
        );
        step(
            C,
            "wait_instances(Running) after start",
            p.wait_instances(&cluster, InstanceState::Running, cfg.timeout)
                .await,
        )?;
        Ok(())
    })
    .await
}

/// Opening ports succeeds, twice. Without `Capabilities::open_ports` it must fail with
/// `Unsupported`.
pub async fn open_ports(p: &dyn Provisioner, cfg: &ConformanceConfig) -> Outcome {
    const C: &str = "open_ports";
    let cluster = cfg.cluster("ports");
    let ports = [
        PortRange {
            start: 8080,
            end: 8080,
        },
        PortRange {
            start: 9000,
            end: 9010,
        },
    ];
    if !p.capabilities().open_ports {
        return expect_unsupported(C, "open_ports", p.open_ports(&cluster, &ports).await);
    }
    with_cleanup(p, C, &cluster, async {
        launch(p, C, cfg, &cluster, 1).await?;
        step(C, "open_ports", p.open_ports(&cluster, &ports).await)?;
        step(
            C,
            "second open_ports (must be idempotent)",
            p.open_ports(&cluster, &ports).await,
        )?;
        Ok(())
    })
    .await
}

/// `cluster_info` names the cluster, has a head of rank 0, and every node has a private IP.
pub async fn cluster_info_has_head(p: &dyn Provisioner, cfg: &ConformanceConfig) -> Outcome {
    const C: &str = "cluster_info_has_head";
    let cluster = cfg.cluster("info");
    with_cleanup(p, C, &cluster, async {
        let nodes = launch(p, C, cfg, &cluster, 1).await?;
        let info = step(C, "cluster_info", p.cluster_info(&cluster).await)?;
        ensure!(
            C,
            info.cluster.name == cluster.name,
            "cluster_info names {:?}, asked for {:?}",
            info.cluster.name,
            cluster.name
        );
        ensure!(
            C,
            ids(&info.instances) == ids(&nodes),
            "cluster_info lists {:?}, launched {:?}",
            ids(&info.instances),
            ids(&nodes)
        );
        let Some(head) = info.head() else {
            return Err(ConformanceError::check(
                C,
                format!("no node of rank 0 in {:?}", info.instances),
            ));
        };
        ensure!(C, head.rank == 0, "head has rank {}", head.rank);
        for n in &info.instances {
            let ip = n
                .private_ip
                .as_deref()
                .and_then(|s| s.parse::<IpAddr>().ok());
            ensure!(
                C,
                ip.is_some(),
                "node {} has no valid private IP: {:?}",
                n.rank,
                n.private_ip
            );
        }
        ensure!(
            C,
            !info.ssh_user.is_empty() && info.ssh_port != 0,
            "bad SSH settings {}:{}",
            info.ssh_user,
            info.ssh_port
        );
        Ok(())
    })
    .await
}

/// A cluster of N nodes has ranks 0..N, distinct ids and distinct private IPs. Without
/// `Capabilities::multi_node`, launching 2 nodes must fail with `Unsupported`.
pub async fn multi_node_ranks(p: &dyn Provisioner, cfg: &ConformanceConfig) -> Outcome {
    const C: &str = "multi_node_ranks";
    let cluster = cfg.cluster("multi");
    if !p.capabilities().multi_node {
        let r = p.run_instances(&cfg.request(&cluster, 2)).await;
        let checked = expect_unsupported(C, "run_instances of 2 nodes", r);
        // Whatever a misbehaving backend created goes.
        let _ = p.terminate_instances(&cluster).await;
        return checked;
    }
    let n = multi_nodes(p, cfg);
    with_cleanup(p, C, &cluster, async {
        let nodes = launch(p, C, cfg, &cluster, n).await?;
        ensure!(
            C,
            ranks(&nodes) == (0..n).collect::<Vec<_>>(),
            "run_instances of {n} nodes returned ranks {:?}",
            ranks(&nodes)
        );
        ensure!(
            C,
            ids(&nodes).len() == n as usize,
            "ids are not distinct: {:?}",
            nodes.iter().map(|x| &x.id).collect::<Vec<_>>()
        );
        let info = step(C, "cluster_info", p.cluster_info(&cluster).await)?;
        let ips: BTreeSet<Option<&str>> = info
            .instances
            .iter()
            .map(|x| x.private_ip.as_deref())
            .collect();
        ensure!(
            C,
            ips.len() == n as usize && !ips.contains(&None),
            "private IPs are missing or shared: {ips:?}"
        );
        Ok(())
    })
    .await
}

/// Runs every check in order, then terminates every cluster the checks may have left.
///
/// Returns the single failure, or [`ConformanceError::Suite`] listing all of them.
pub async fn run_all(p: &dyn Provisioner, cat: &dyn Catalog, cfg: &ConformanceConfig) -> Outcome {
    let results = [
        launch_query_terminate(p, cat, cfg).await,
        run_instances_is_idempotent(p, cfg).await,
        terminate_is_idempotent(p, cfg).await,
        query_unknown_is_empty(p, cfg).await,
        stop_start_roundtrip(p, cfg).await,
        open_ports(p, cfg).await,
        cluster_info_has_head(p, cfg).await,
        multi_node_ranks(p, cfg).await,
    ];
    for suffix in ["lqt", "idem", "term", "stop", "ports", "info", "multi"] {
        let cleanup: std::result::Result<(), Error> =
            p.terminate_instances(&cfg.cluster(suffix)).await;
        if let Err(e) = cleanup {
            tracing::warn!(cluster = %cfg.cluster(suffix).name, error = %e, "conformance cleanup failed");
        }
    }
    let mut failures: Vec<ConformanceError> = results.into_iter().filter_map(|r| r.err()).collect();
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0)),
        _ => Err(ConformanceError::Suite { failures }),
    }
}
