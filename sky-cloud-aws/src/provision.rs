//! [`AwsProvisioner`]: sky's [`Provisioner`] on EC2.
//!
//! Zone names and the catalog it carries are in [`crate::catalog`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::Region;
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, Instance, InstanceInterruptionBehavior,
    InstanceMarketOptionsRequest, InstanceStateName, InstanceType, IpPermission, IpRange,
    MarketType, Placement as Ec2Placement, ResourceType, SpotInstanceType, SpotMarketOptions, Tag,
    TagSpecification, VolumeType,
};
use sha2::{Digest, Sha256};
use sky_catalog::AwsCatalog;
use sky_core::CloudId;
use sky_core::catalog::Catalog;
use sky_core::error::{Error, ErrorKind, Placement, Result, Scope};
use sky_core::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
    all_in_state, wait_timeout,
};
use sky_core::resources::PortRange;

use crate::CLOUD;
use crate::error::from_sdk;
use crate::image::Image;

/// Tag holding the cluster's name on every instance, volume and security group sky creates.
pub const TAG_CLUSTER: &str = "sky-cluster";
/// Tag holding a node's rank (0 is the head).
pub const TAG_RANK: &str = "sky-node-rank";
/// Tag saying whether a node is the head (`true` / `false`).
pub const TAG_HEAD: &str = "sky-head";
/// Canonical's AWS account, owner of the official Ubuntu images.
pub const CANONICAL_OWNER: &str = "099720109477";

/// The states `query_instances` reports (everything but `terminated`).
/// How long teardown waits for a cluster's instances to be gone before its security group
/// can be deleted (EC2 instances take a minute or two to leave `shutting-down`).
pub const GROUP_DELETE_WAIT: Duration = Duration::from_secs(600);

const LIVE_STATES: [&str; 5] = ["pending", "running", "stopping", "stopped", "shutting-down"];

/// The per-region resources `bootstrap` makes sure exist.
#[derive(Clone, Debug)]
struct Setup {
    security_group: String,
    /// Default subnet of the default VPC, by zone name.
    subnets: BTreeMap<String, String>,
    key_name: Option<String>,
}

/// One instance of a cluster as EC2 describes it.
#[derive(Clone, Debug)]
struct Node {
    id: String,
    rank: Option<u32>,
    state: InstanceState,
    private_ip: Option<String>,
    public_ip: Option<String>,
    zone: Option<String>,
    instance_type: String,
    spot: bool,
    security_groups: Vec<(String, String)>,
}

impl Node {
    fn from_ec2(i: &Instance) -> Option<Node> {
        let tag = |k: &str| {
            i.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
        };
        Some(Node {
            id: i.instance_id()?.to_owned(),
            rank: tag(TAG_RANK).and_then(|r| r.parse().ok()),
            state: state_of(i.state().and_then(|s| s.name())),
            private_ip: i.private_ip_address().map(str::to_owned),
            public_ip: i.public_ip_address().map(str::to_owned),
            zone: i
                .placement()
                .and_then(|p| p.availability_zone())
                .map(str::to_owned),
            instance_type: i
                .instance_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            spot: i
                .instance_lifecycle()
                .is_some_and(|l| l.as_str().eq_ignore_ascii_case("spot")),
            security_groups: i
                .security_groups()
                .iter()
                .filter_map(|g| Some((g.group_id()?.to_owned(), g.group_name()?.to_owned())))
                .collect(),
        })
    }

    fn info(&self) -> Option<InstanceInfo> {
        Some(InstanceInfo {
            id: self.id.clone(),
            rank: self.rank?,
            state: self.state,
            private_ip: self.private_ip.clone(),
            public_ip: self.public_ip.clone(),
            zone: self.zone.clone(),
            instance_type: self.instance_type.clone(),
            spot: self.spot,
        })
    }
}

fn state_of(s: Option<&InstanceStateName>) -> InstanceState {
    match s {
        Some(InstanceStateName::Running) => InstanceState::Running,
        Some(InstanceStateName::Stopping) => InstanceState::Stopping,
        Some(InstanceStateName::Stopped) => InstanceState::Stopped,
        Some(InstanceStateName::ShuttingDown) => InstanceState::ShuttingDown,
        Some(InstanceStateName::Terminated) => InstanceState::Terminated,
        _ => InstanceState::Pending,
    }
}

/// The CPU architecture of an EC2 instance type, from its family name: Graviton families
/// carry a `g` after the generation digit (`m6g`, `c7gn`, `r8gd`, `t4g`, `hpc7g`), and `a1`.
pub fn arch_of(instance_type: &str) -> &'static str {
    let family = instance_type.split('.').next().unwrap_or("");
    if family == "a1" {
        return "arm64";
    }
    let after_digit = family
        .find(|c: char| c.is_ascii_digit())
        .map(|i| family[i..].trim_start_matches(|c: char| c.is_ascii_digit()))
        .unwrap_or("");
    if after_digit.contains('g') {
        "arm64"
    } else {
        "x86_64"
    }
}

/// The name of the key pair sky imports for a public key: stable for the same key, so
/// bootstrap is idempotent, and different for different keys.
pub fn key_pair_name(public_key: &str) -> String {
    let digest = Sha256::digest(public_key.trim().as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("sky-key-{hex}")
}

/// The name of a cluster's security group.
pub fn security_group_name(cluster: &str) -> String {
    format!("sky-sg-{cluster}")
}

pub(crate) fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut f = Filter::builder().name(name);
    for v in values {
        f = f.values(v);
    }
    f.build()
}

/// The filters of the security group `name` in the VPC `vpc`.
fn by_name_in_vpc(name: &str, vpc: &str) -> Vec<Filter> {
    vec![filter("group-name", [name]), filter("vpc-id", [vpc])]
}

fn tag(k: impl Into<String>, v: impl Into<String>) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// sky's [`Provisioner`] on EC2 (build one with [`crate::AwsBuilder`]).
///
/// Instances carry the tags [`TAG_CLUSTER`], [`TAG_RANK`] and [`TAG_HEAD`] from the moment
/// RunInstances creates them (TagSpecifications), so a crash at any point leaves nothing
/// [`Provisioner::query_instances`] cannot find. Each node is its own RunInstances call of
/// one instance, in the zone of the cluster's first node. Clones share their clients and
/// caches.
#[derive(Clone)]
pub struct AwsProvisioner {
    conf: aws_config::SdkConfig,
    regions: Vec<String>,
    poll_interval: Duration,
    ssh_user: String,
    clients: Arc<Mutex<BTreeMap<String, Client>>>,
    pub(crate) images: Arc<Mutex<BTreeMap<(String, &'static str), Image>>>,
    /// The catalog given to the builder, its zone ids renamed to this account's zone names.
    pub(crate) catalog: Option<Arc<AwsCatalog>>,
}

impl std::fmt::Debug for AwsProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProvisioner")
            .field("regions", &self.regions)
            .field("ssh_user", &self.ssh_user)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl AwsProvisioner {
    pub(crate) fn new(
        conf: aws_config::SdkConfig,
        regions: Vec<String>,
        poll_interval: Duration,
        ssh_user: String,
    ) -> Self {
        AwsProvisioner {
            conf,
            regions,
            poll_interval,
            ssh_user,
            clients: Arc::default(),
            images: Arc::default(),
            catalog: None,
        }
    }

    /// The regions this provisioner was configured with (empty: any).
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    /// The EC2 client of `region` (one per region, made on first use).
    pub fn client(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let conf = aws_sdk_ec2::config::Builder::from(&self.conf)
                    .region(Region::new(region.to_owned()))
                    .build();
                Client::from_conf(conf)
            })
            .clone()
    }

    pub(crate) fn at(region: &str, zone: Option<&str>, instance_type: Option<&str>) -> Placement {
        Placement {
            cloud: Some(CLOUD),
            region: Some(region.to_owned()),
            zone: zone.map(str::to_owned),
            instance_type: instance_type.map(str::to_owned),
        }
    }

    async fn default_vpc(&self, client: &Client, region: &str) -> Result<String> {
        let out = client
            .describe_vpcs()
            .filters(filter("isDefault", ["true"]))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeVpcs", e, Self::at(region, None, None)))?;
        out.vpcs()
            .iter()
            .find_map(|v| v.vpc_id().map(str::to_owned))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidRequest,
                    format!("region {region} has no default VPC; sky launches into the default VPC (create one with `aws ec2 create-default-vpc`)"),
                )
                .with_scope(Scope::Region)
                .with_placement(Self::at(region, None, None))
            })
    }

    /// The id of the first security group matching `filters` in `region`, if any.
    async fn find_group(
        &self,
        client: &Client,
        region: &str,
        filters: Vec<Filter>,
    ) -> Result<Option<String>> {
        let out = client
            .describe_security_groups()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeSecurityGroups", e, Self::at(region, None, None)))?;
        Ok(out
            .security_groups()
            .iter()
            .find_map(|g| g.group_id().map(str::to_owned)))
    }

    /// Opens TCP `ports` (and nothing else) to the world on `group`; rules already there
    /// are left as they are.
    async fn authorize(
        &self,
        client: &Client,
        region: &str,
        group: &str,
        ports: &[PortRange],
    ) -> Result<()> {
        for p in ports {
            let perm = IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(i32::from(p.start))
                .to_port(i32::from(p.end))
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description("sky")
                        .build(),
                )
                .build();
            let r = client
                .authorize_security_group_ingress()
                .group_id(group)
                .ip_permissions(perm)
                .send()
                .await
                .map_err(|e| {
                    from_sdk(
                        "AuthorizeSecurityGroupIngress",
                        e,
                        Self::at(region, None, None),
                    )
                });
            match r {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn ensure_key(&self, client: &Client, region: &str, public_key: &str) -> Result<String> {
        let name = key_pair_name(public_key);
        let at = Self::at(region, None, None);
        let existing = client.describe_key_pairs().key_names(&name).send().await;
        match existing {
            Ok(out) if !out.key_pairs().is_empty() => return Ok(name),
            Ok(_) => {}
            Err(e) => {
                let e = from_sdk("DescribeKeyPairs", e, at.clone());
                if e.kind() != ErrorKind::NotFound {
                    return Err(e);
                }
            }
        }
        let imported = client
            .import_key_pair()
            .key_name(&name)
            .public_key_material(Blob::new(public_key.trim().as_bytes().to_vec()))
            .send()
            .await;
        match imported {
            Ok(_) => Ok(name),
            Err(e) => {
                let e = from_sdk("ImportKeyPair", e, at);
                if e.kind() == ErrorKind::AlreadyExists {
                    Ok(name)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The idempotent per-region (and per-cluster) setup: key pair, security group with SSH
    /// and the task's ports, default subnets by zone.
    async fn setup(&self, req: &LaunchRequest) -> Result<Setup> {
        let region = req.cluster.region.as_str();
        let client = self.client(region);
        let key_name = match &req.ssh_public_key {
            Some(k) if !k.trim().is_empty() => Some(self.ensure_key(&client, region, k).await?),
            _ => None,
        };
        let vpc = self.default_vpc(&client, region).await?;
        let name = security_group_name(&req.cluster.name);
        let group = match self
            .find_group(&client, region, by_name_in_vpc(&name, &vpc))
            .await?
        {
            Some(g) => g,
            None => {
                let created = client
                    .create_security_group()
                    .group_name(&name)
                    .description(format!("sky cluster {}", req.cluster.name))
                    .vpc_id(&vpc)
                    .tag_specifications(
                        TagSpecification::builder()
                            .resource_type(ResourceType::SecurityGroup)
                            .tags(tag(TAG_CLUSTER, &req.cluster.name))
                            .build(),
                    )
                    .send()
                    .await;
                match created {
                    Ok(out) => out.group_id().unwrap_or_default().to_owned(),
                    Err(e) => {
                        let e = from_sdk("CreateSecurityGroup", e, Self::at(region, None, None));
                        if e.kind() != ErrorKind::AlreadyExists {
                            return Err(e);
                        }
                        // Created concurrently: use that one.
                        self.find_group(&client, region, by_name_in_vpc(&name, &vpc))
                            .await?
                            .ok_or(e)?
                    }
                }
            }
        };
        let mut ports = vec![PortRange { start: 22, end: 22 }];
        ports.extend(req.ports.iter().copied());
        self.authorize(&client, region, &group, &ports).await?;
        let out = client
            .describe_subnets()
            .filters(filter("vpc-id", [vpc.as_str()]))
            .filters(filter("default-for-az", ["true"]))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeSubnets", e, Self::at(region, None, None)))?;
        let subnets = out
            .subnets()
            .iter()
            .filter_map(|s| Some((s.availability_zone()?.to_owned(), s.subnet_id()?.to_owned())))
            .collect();
        Ok(Setup {
            security_group: group,
            subnets,
            key_name,
        })
    }

    /// Every instance tagged with the cluster's name in `states`.
    async fn describe(&self, cluster: &ClusterRef, states: &[&str]) -> Result<Vec<Node>> {
        let client = self.client(&cluster.region);
        let mut nodes = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .describe_instances()
                .filters(filter(
                    &format!("tag:{TAG_CLUSTER}"),
                    [cluster.name.as_str()],
                ))
                .filters(filter("instance-state-name", states.iter().copied()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    from_sdk(
                        "DescribeInstances",
                        e,
                        Self::at(&cluster.region, cluster.zone.as_deref(), None),
                    )
                })?;
            for r in out.reservations() {
                nodes.extend(r.instances().iter().filter_map(Node::from_ec2));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        nodes.sort_by(|a, b| (a.rank, &a.id).cmp(&(b.rank, &b.id)));
        Ok(nodes)
    }

    async fn live(&self, cluster: &ClusterRef) -> Result<Vec<Node>> {
        self.describe(cluster, &LIVE_STATES).await
    }

    fn infos(nodes: &[Node]) -> Vec<InstanceInfo> {
        nodes.iter().filter_map(Node::info).collect()
    }

    async fn run_one(
        &self,
        req: &LaunchRequest,
        setup: &Setup,
        image: &Image,
        rank: u32,
        zone: Option<&str>,
    ) -> Result<Node> {
        let region = req.cluster.region.as_str();
        let client = self.client(region);
        let at = Self::at(region, zone, Some(&req.instance_type));
        let role = if rank == 0 { "head" } else { "worker" };
        let mut tags: BTreeMap<String, String> = req
            .labels
            .iter()
            .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("aws:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        tags.insert("Name".into(), format!("{}-{role}-{rank}", req.cluster.name));
        tags.insert(TAG_CLUSTER.into(), req.cluster.name.clone());
        tags.insert(TAG_RANK.into(), rank.to_string());
        tags.insert(TAG_HEAD.into(), (rank == 0).to_string());
        let tags: Vec<Tag> = tags.into_iter().map(|(k, v)| tag(k, v)).collect();
        let disk = i32::try_from(req.disk_size_gb).map_err(|_| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("disk size {} GB is too large", req.disk_size_gb),
            )
            .with_placement(at.clone())
        })?;
        let mut call = client
            .run_instances()
            .image_id(&image.id)
            .instance_type(InstanceType::from(req.instance_type.as_str()))
            .min_count(1)
            .max_count(1)
            .set_key_name(setup.key_name.clone())
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(&image.root_device)
                    .ebs(
                        EbsBlockDevice::builder()
                            .volume_size(disk)
                            .volume_type(VolumeType::Gp3)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            )
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(tags.clone()))
                    .build(),
            )
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .set_tags(Some(tags))
                    .build(),
            );
        match zone.and_then(|z| setup.subnets.get(z)) {
            Some(subnet) => {
                call = call
                    .subnet_id(subnet)
                    .security_group_ids(&setup.security_group);
            }
            None => {
                call = call.security_group_ids(&setup.security_group);
                if let Some(z) = zone {
                    call = call.placement(Ec2Placement::builder().availability_zone(z).build());
                }
            }
        }
        if req.spot {
            call = call.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::OneTime)
                            .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
                            .build(),
                    )
                    .build(),
            );
        }
        let out = call
            .send()
            .await
            .map_err(|e| from_sdk("RunInstances", e, at.clone()))?;
        out.instances()
            .iter()
            .find_map(Node::from_ec2)
            .ok_or_else(|| {
                Error::new(ErrorKind::Unexpected, "RunInstances returned no instance")
                    .with_placement(at)
            })
    }

    /// Deletes the cluster's security group `group`: AWS refuses (`DependencyViolation`)
    /// while an instance still uses it, shutting-down ones included, so this waits, polling
    /// every `poll_interval`, until the cluster's instances are gone, for at most
    /// [`GROUP_DELETE_WAIT`]. A group still in use then is an error (transient: the broker's
    /// teardown tries again, and `sky down` can be run again); one already gone is success.
    async fn delete_group(&self, client: &Client, cluster: &ClusterRef, group: &str) -> Result<()> {
        let at = Self::at(&cluster.region, cluster.zone.as_deref(), None);
        let start = Instant::now();
        loop {
            let still = self.describe(cluster, &LIVE_STATES).await?;
            let last = if still.is_empty() {
                match client.delete_security_group().group_id(group).send().await {
                    Ok(_) => {
                        tracing::debug!(cluster = %cluster.name, group, "security group deleted");
                        return Ok(());
                    }
                    Err(e) => {
                        let e = from_sdk("DeleteSecurityGroup", e, at.clone());
                        if e.kind() == ErrorKind::NotFound {
                            return Ok(());
                        }
                        if e.code() != Some("DependencyViolation") {
                            return Err(e);
                        }
                        e.to_string()
                    }
                }
            } else {
                format!("{} instance(s) still shutting down", still.len())
            };
            if start.elapsed() >= GROUP_DELETE_WAIT {
                return Err(Error::new(
                    ErrorKind::Transient,
                    format!(
                        "security group {group} of cluster {} is still in use after {:?} ({last}); \
                         it is deleted by the next teardown",
                        cluster.name, GROUP_DELETE_WAIT
                    ),
                )
                .with_placement(at));
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    async fn group_of(&self, cluster: &ClusterRef) -> Result<Option<String>> {
        Ok(cluster_group(&self.live(cluster).await?, cluster))
    }
}

/// The id of the cluster's security group, as its nodes carry it.
fn cluster_group(nodes: &[Node], cluster: &ClusterRef) -> Option<String> {
    let name = security_group_name(&cluster.name);
    nodes
        .iter()
        .flat_map(|n| n.security_groups.iter())
        .find(|(_, n)| *n == name)
        .map(|(id, _)| id.clone())
}

#[async_trait]
impl Provisioner for AwsProvisioner {
    fn cloud(&self) -> CloudId {
        CLOUD
    }

    fn catalog(&self) -> Option<Arc<dyn Catalog>> {
        self.catalog.clone().map(|c| c as Arc<dyn Catalog>)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
        self.setup(req).await.map(|_| ())
    }

    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        let existing = self.live(&req.cluster).await?;
        let have: BTreeSet<u32> = existing.iter().filter_map(|n| n.rank).collect();
        let missing: Vec<u32> = (0..req.num_nodes).filter(|r| !have.contains(r)).collect();
        if missing.is_empty() {
            return Ok(Self::infos(&existing));
        }
        let setup = self.setup(req).await?;
        let image = self.image(req).await?;
        let mut zone = req
            .cluster
            .zone
            .clone()
            .or_else(|| existing.iter().find_map(|n| n.zone.clone()));
        for rank in missing {
            let node = self
                .run_one(req, &setup, &image, rank, zone.as_deref())
                .await?;
            tracing::debug!(cluster = %req.cluster.name, rank, id = %node.id, "launched");
            if zone.is_none() {
                zone = node.zone.clone();
            }
        }
        Ok(Self::infos(&self.live(&req.cluster).await?))
    }

    async fn wait_instances(
        &self,
        cluster: &ClusterRef,
        state: InstanceState,
        timeout: Duration,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            let nodes = Self::infos(&self.live(cluster).await?);
            if all_in_state(&nodes, state) {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(wait_timeout(cluster, state, timeout, &nodes)
                    .with_placement(Self::at(&cluster.region, cluster.zone.as_deref(), None)));
            }
            tokio::time::sleep(
                self.poll_interval
                    .min(timeout.saturating_sub(start.elapsed())),
            )
            .await;
        }
    }

    async fn query_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        Ok(Self::infos(&self.live(cluster).await?))
    }

    async fn cluster_info(&self, cluster: &ClusterRef) -> Result<ClusterInfo> {
        let instances = self.query_instances(cluster).await?;
        Ok(ClusterInfo {
            cluster: cluster.clone(),
            instances,
            ssh_user: self.ssh_user.clone(),
            ssh_port: 22,
        })
    }

    async fn stop_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let ids: Vec<String> = self
            .live(cluster)
            .await?
            .into_iter()
            .filter(|n| matches!(n.state, InstanceState::Pending | InstanceState::Running))
            .map(|n| n.id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.client(&cluster.region)
            .stop_instances()
            .set_instance_ids(Some(ids))
            .send()
            .await
            .map_err(|e| {
                from_sdk(
                    "StopInstances",
                    e,
                    Self::at(&cluster.region, cluster.zone.as_deref(), None),
                )
            })?;
        Ok(())
    }

    async fn start_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        let nodes = self.live(cluster).await?;
        let ids: Vec<String> = nodes
            .iter()
            .filter(|n| matches!(n.state, InstanceState::Stopped | InstanceState::Stopping))
            .map(|n| n.id.clone())
            .collect();
        if !ids.is_empty() {
            self.client(&cluster.region)
                .start_instances()
                .set_instance_ids(Some(ids))
                .send()
                .await
                .map_err(|e| {
                    from_sdk(
                        "StartInstances",
                        e,
                        Self::at(&cluster.region, cluster.zone.as_deref(), None),
                    )
                })?;
        }
        Ok(Self::infos(&self.live(cluster).await?))
    }

    async fn terminate_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let at = Self::at(&cluster.region, cluster.zone.as_deref(), None);
        let nodes = self.live(cluster).await?;
        let group = cluster_group(&nodes, cluster);
        let ids: Vec<String> = nodes
            .iter()
            .filter(|n| n.state != InstanceState::ShuttingDown)
            .map(|n| n.id.clone())
            .collect();
        let client = self.client(&cluster.region);
        if !ids.is_empty() {
            let out = client
                .terminate_instances()
                .set_instance_ids(Some(ids.clone()))
                .send()
                .await
                .map_err(|e| from_sdk("TerminateInstances", e, at.clone()))?;
            // Verify: every instance asked for must be on its way out.
            let going: BTreeSet<&str> = out
                .terminating_instances()
                .iter()
                .filter(|c| {
                    matches!(
                        c.current_state().and_then(|s| s.name()),
                        Some(InstanceStateName::ShuttingDown | InstanceStateName::Terminated)
                    )
                })
                .filter_map(|c| c.instance_id())
                .collect();
            let left: Vec<&String> = ids.iter().filter(|i| !going.contains(i.as_str())).collect();
            if !left.is_empty() {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    format!(
                        "TerminateInstances left {left:?} of cluster {} running",
                        cluster.name
                    ),
                )
                .with_placement(at));
            }
        }
        // The cluster's security group exists from `bootstrap` on, before any instance, so it
        // is found by its name (not through instances, which a failed or killed launch may
        // never have made), and deleted once no instance uses it.
        let group = match group {
            Some(g) => Some(g),
            None => {
                let name = security_group_name(&cluster.name);
                let filters = vec![
                    filter("group-name", [name]),
                    filter(&format!("tag:{TAG_CLUSTER}"), [cluster.name.as_str()]),
                ];
                self.find_group(&client, &cluster.region, filters).await?
            }
        };
        if let Some(g) = group {
            self.delete_group(&client, cluster, &g).await?;
        }
        Ok(())
    }

    /// Deletes the key pair imported for `ssh_public_key` in `region` (the broker calls this
    /// once no cluster of its state store is left there). The rule: a key pair lives while a
    /// cluster of its state directory lives in its region.
    async fn release_region(&self, region: &str, ssh_public_key: Option<&str>) -> Result<()> {
        let Some(key) = ssh_public_key.filter(|k| !k.trim().is_empty()) else {
            return Ok(());
        };
        let name = key_pair_name(key);
        match self
            .client(region)
            .delete_key_pair()
            .key_name(&name)
            .send()
            .await
        {
            Ok(_) => {
                tracing::debug!(region, key_pair = %name, "key pair deleted");
                Ok(())
            }
            Err(e) => {
                let e = from_sdk("DeleteKeyPair", e, Self::at(region, None, None));
                if e.kind() == ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn open_ports(&self, cluster: &ClusterRef, ports: &[PortRange]) -> Result<()> {
        let at = Self::at(&cluster.region, cluster.zone.as_deref(), None);
        let group = self.group_of(cluster).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "cluster {} has no instance with sky's security group",
                    cluster.name
                ),
            )
            .with_placement(at)
        })?;
        let client = self.client(&cluster.region);
        self.authorize(&client, &cluster.region, &group, ports)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_families_are_arm64() {
        for t in [
            "m6g.large",
            "c7gn.xlarge",
            "r6gd.2xlarge",
            "t4g.nano",
            "a1.medium",
            "hpc7g.4xlarge",
            "g5g.xlarge",
        ] {
            assert_eq!(arch_of(t), "arm64", "{t}");
        }
        for t in [
            "m6i.2xlarge",
            "g5.xlarge",
            "g4dn.xlarge",
            "p4d.24xlarge",
            "c6in.large",
            "inf2.xlarge",
        ] {
            assert_eq!(arch_of(t), "x86_64", "{t}");
        }
    }

    #[test]
    fn names_are_stable_and_distinct() {
        let a = key_pair_name("ssh-ed25519 AAAA a@b");
        assert_eq!(a, key_pair_name("ssh-ed25519 AAAA a@b\n"));
        assert_ne!(a, key_pair_name("ssh-ed25519 BBBB a@b"));
        assert!(a.starts_with("sky-key-") && a.len() == "sky-key-".len() + 12);
        assert_eq!(security_group_name("c1"), "sky-sg-c1");
    }

    #[test]
    fn ec2_states_map_to_sky_states() {
        assert_eq!(
            state_of(Some(&InstanceStateName::Running)),
            InstanceState::Running
        );
        assert_eq!(
            state_of(Some(&InstanceStateName::ShuttingDown)),
            InstanceState::ShuttingDown
        );
        assert_eq!(
            state_of(Some(&InstanceStateName::Stopped)),
            InstanceState::Stopped
        );
        assert_eq!(state_of(None), InstanceState::Pending);
    }
}
