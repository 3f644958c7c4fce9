//! Bring your own cloud: a [`Provisioner`] and a [`Catalog`] of your own, registered on a
//! [`Broker`] like sky's own backends.
//!
//! "acme" is a tiny in-memory cloud named `CloudId::Other("acme")`: two instance types in two
//! regions, its instances kept in a map. Its nodes are played by directories on this machine
//! (a [`DirConnector`]), so the job launched there really runs. The example loads a task
//! whose `infra:` is `acme`, launches it, prints where the optimizer put it and what the job
//! printed, tears the cluster down and checks that acme has no instance left (it exits
//! non-zero otherwise).
//!
//! Needs no cloud account and no network; it finishes in seconds.
//!
//! ```sh
//! cargo run -p sky-examples --example byo_cloud
//! ```
//!
//! A real backend does the same with API calls. What matters is its errors: give each one an
//! [`ErrorKind`] (capacity, quota, auth, transient, ...) and the broker's failover knows
//! whether to retry, try another zone, region or cloud, or give up.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use sky::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Feasibility, Offering,
    Region,
};
use sky::exec::DirConnector;
use sky::provider::{self, ErrorKind};
use sky::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
    all_in_state, wait_timeout,
};
use sky::resources::{MemorySpec, PortRange};
use sky::task::TaskLoader;
use sky::{Broker, CloudId, JobStatus, LogsOptions, ProvisionOptions, Resources};

const TASK: &str = r#"
name: byo
num_nodes: 2
resources:
  infra: acme
  cpus: 2+
run: |
  echo "hello from rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES on acme"
"#;

/// What acme sells, on demand only: (instance type, vCPUs, memory in GiB, region, USD/hour).
const OFFERS: [(&str, f64, f64, &str, f64); 4] = [
    ("acme.small", 2.0, 4.0, "acme-north", 0.05),
    ("acme.small", 2.0, 4.0, "acme-south", 0.06),
    ("acme.large", 8.0, 32.0, "acme-north", 0.32),
    ("acme.large", 8.0, 32.0, "acme-south", 0.30),
];

fn acme() -> CloudId {
    CloudId::Other("acme".into())
}

/// acme's price catalog: pure and synchronous, as the optimizer wants it.
#[derive(Debug)]
struct AcmeCatalog;

impl AcmeCatalog {
    fn rows() -> impl Iterator<Item = Offering> {
        OFFERS.iter().map(
            |&(instance_type, vcpus, memory_gib, region, price)| Offering {
                cloud: acme(),
                instance_type: instance_type.into(),
                accelerator: None,
                vcpus,
                memory_gib,
                region: region.into(),
                zone: None,
                spot: false,
                hourly_price: price,
                accelerator_hourly_price: 0.0,
            },
        )
    }
}

/// `have` satisfies a request for `want` (exactly, or at least with `or_more`).
fn enough(have: f64, want: f64, or_more: bool) -> bool {
    if or_more {
        have + 1e-9 >= want
    } else {
        (have - want).abs() < 1e-9
    }
}

fn fits(req: &Resources, o: &Offering) -> bool {
    let memory_ok = match req.memory {
        None => true,
        Some(MemorySpec::Gib { gib, or_more }) => enough(o.memory_gib, gib, or_more),
        Some(MemorySpec::PerVcpu(ratio)) => enough(o.memory_gib, ratio * o.vcpus, true),
    };
    req.cloud.as_ref().is_none_or(|c| *c == o.cloud)
        && req.region.as_ref().is_none_or(|r| *r == o.region)
        && req.zone.is_none()
        && req
            .instance_type
            .as_ref()
            .is_none_or(|t| *t == o.instance_type)
        && req.cpus.is_none_or(|c| enough(o.vcpus, c.count, c.or_more))
        && memory_ok
        && req.accelerators.is_none()
        && !req.spot()
}

impl Catalog for AcmeCatalog {
    fn cloud(&self) -> CloudId {
        acme()
    }

    fn offerings(&self, req: &Resources) -> Feasibility {
        let mut offerings: Vec<Offering> = Self::rows().filter(|o| fits(req, o)).collect();
        offerings.sort_by(|a, b| {
            (a.hourly_price.total_cmp(&b.hourly_price))
                .then_with(|| a.region.cmp(&b.region))
                .then_with(|| a.instance_type.cmp(&b.instance_type))
        });
        let hint = offerings.is_empty().then(|| {
            "acme sells acme.small (2 vCPUs, 4 GiB) and acme.large (8 vCPUs, 32 GiB), \
             on demand, without accelerators or zones"
                .to_string()
        });
        Feasibility {
            offerings,
            suggestions: Vec::new(),
            hint,
        }
    }

    fn optimize_by_zone(&self) -> bool {
        false
    }

    fn zones_for(&self, _offering: &Offering) -> Vec<String> {
        Vec::new() // acme has no zones
    }

    fn regions(&self) -> Vec<Region> {
        ["acme-north", "acme-south"]
            .map(|name| Region {
                name: name.into(),
                zones: Vec::new(),
            })
            .into()
    }

    fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        if zone.is_some() {
            return Err(CatalogError::ZonesUnsupported {
                cloud: "acme".into(),
            });
        }
        match region {
            Some(r) if !self.regions().iter().any(|x| x.name == r) => {
                Err(CatalogError::UnknownRegion {
                    cloud: "acme".into(),
                    region: r.into(),
                    suggestion: None,
                })
            }
            _ => Ok(()),
        }
    }

    fn hourly_cost(
        &self,
        instance_type: &str,
        accelerator: Option<&Accelerator>,
        spot: bool,
        region: Option<&str>,
        _zone: Option<&str>,
    ) -> Option<f64> {
        if accelerator.is_some() || spot {
            return None;
        }
        Self::rows()
            .filter(|o| o.instance_type == instance_type)
            .filter(|o| region.is_none_or(|r| r == o.region))
            .map(|o| o.hourly_price)
            .min_by(f64::total_cmp)
    }

    fn accelerators(&self, _filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        Vec::new()
    }

    fn accelerator_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn egress_cost(&self, gb: f64) -> f64 {
        0.01 * gb
    }
}

/// acme's provisioner: instances live in a map, by on-cloud cluster name, in rank order.
#[derive(Debug, Default)]
struct AcmeCloud {
    state: Mutex<AcmeState>,
}

#[derive(Debug, Default)]
struct AcmeState {
    next_id: u32,
    clusters: BTreeMap<String, Vec<InstanceInfo>>,
}

impl AcmeCloud {
    fn state(&self) -> MutexGuard<'_, AcmeState> {
        // Nothing is left half-changed while the lock is held, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many instances acme has, over every cluster.
    fn instance_count(&self) -> usize {
        self.state().clusters.values().map(Vec::len).sum()
    }

    fn nodes(&self, cluster: &ClusterRef) -> Vec<InstanceInfo> {
        let state = self.state();
        state
            .clusters
            .get(&cluster.name)
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl Provisioner for AcmeCloud {
    fn cloud(&self) -> CloudId {
        acme()
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.multi_node = true;
        c
    }

    async fn bootstrap(&self, _req: &LaunchRequest) -> provider::Result<()> {
        Ok(()) // no networks or keys to prepare
    }

    async fn run_instances(&self, req: &LaunchRequest) -> provider::Result<Vec<InstanceInfo>> {
        let region = &req.cluster.region;
        if !OFFERS
            .iter()
            .any(|o| o.0 == req.instance_type && o.3 == region)
        {
            return Err(provider::Error::new(
                ErrorKind::InvalidRequest,
                format!("acme has no {} in {region}", req.instance_type),
            ));
        }
        let mut state = self.state();
        let AcmeState { next_id, clusters } = &mut *state;
        let nodes = clusters.entry(req.cluster.name.clone()).or_default();
        // Idempotent: only the missing ranks are created.
        for rank in 0..req.num_nodes {
            if nodes.iter().all(|n| n.rank != rank) {
                *next_id += 1;
                nodes.push(InstanceInfo {
                    id: format!("acme-{next_id}"),
                    rank,
                    state: InstanceState::Running,
                    private_ip: Some(format!("10.9.0.{next_id}")),
                    public_ip: None,
                    zone: None,
                    instance_type: req.instance_type.clone(),
                    spot: false,
                });
            }
        }
        nodes.sort_by_key(|n| n.rank);
        Ok(nodes.clone())
    }

    async fn wait_instances(
        &self,
        cluster: &ClusterRef,
        state: InstanceState,
        timeout: Duration,
    ) -> provider::Result<()> {
        // acme's instances are running as soon as they exist.
        let nodes = self.nodes(cluster);
        if all_in_state(&nodes, state) {
            Ok(())
        } else {
            Err(wait_timeout(cluster, state, timeout, &nodes))
        }
    }

    async fn query_instances(&self, cluster: &ClusterRef) -> provider::Result<Vec<InstanceInfo>> {
        Ok(self.nodes(cluster))
    }

    async fn cluster_info(&self, cluster: &ClusterRef) -> provider::Result<ClusterInfo> {
        Ok(ClusterInfo {
            cluster: cluster.clone(),
            instances: self.nodes(cluster),
            ssh_user: "acme".into(),
            ssh_port: 22,
        })
    }

    async fn stop_instances(&self, _cluster: &ClusterRef) -> provider::Result<()> {
        Err(provider::Error::unsupported(acme(), "stop"))
    }

    async fn start_instances(&self, _cluster: &ClusterRef) -> provider::Result<Vec<InstanceInfo>> {
        Err(provider::Error::unsupported(acme(), "start"))
    }

    async fn terminate_instances(&self, cluster: &ClusterRef) -> provider::Result<()> {
        self.state().clusters.remove(&cluster.name);
        Ok(())
    }

    async fn open_ports(
        &self,
        _cluster: &ClusterRef,
        _ports: &[PortRange],
    ) -> provider::Result<()> {
        Err(provider::Error::unsupported(acme(), "open_ports"))
    }
}

async fn run(state: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let acme_cloud = Arc::new(AcmeCloud::default());
    let broker = Broker::builder()
        .state_dir(state)?
        .cloud_with(
            Arc::new(AcmeCatalog),
            acme_cloud.clone(),
            Arc::new(DirConnector::new(state.join("acme-nodes"))),
        )
        .build()?;
    // Task YAML may name the clouds that have a catalog in the broker.
    let task = TaskLoader::new()
        .with_catalogs(&broker.catalogs())
        .load_str(TASK)?;
    let launched = broker
        .launch(&task, "byo", &ProvisionOptions::new())
        .await?;
    let placed = launched
        .cluster
        .launched
        .as_ref()
        .ok_or("no placement recorded")?;
    println!(
        "cluster byo: {} x {} on {}/{} at ${:.2}/h per node",
        placed.num_nodes, placed.instance_type, placed.cloud, placed.region, placed.hourly_price
    );
    let job = launched.job_id.ok_or("the task has no run command")?;
    let record = broker
        .logs(
            "byo",
            &LogsOptions::new().job(job).follow(true),
            &mut |line| println!("{line}"),
        )
        .await?;
    println!("job {job}: {}", record.status);
    broker.down("byo").await?;
    let left = acme_cloud.instance_count();
    println!("cluster byo torn down; acme instances left: {left}");
    if left != 0 {
        return Err(format!("{left} acme instances are left after down").into());
    }
    if record.status != JobStatus::Succeeded {
        return Err(format!("the job ended {}", record.status).into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = std::env::temp_dir().join(format!("sky-byo-cloud-{}", std::process::id()));
    let result = run(&state).await;
    let _ = std::fs::remove_dir_all(&state);
    result
}
