//! The EC2 adapter's own behaviour on moto: bootstrap, tags, spot, images, zones, errors.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use sky_cloud_aws::provision::{CANONICAL_OWNER, key_pair_name, security_group_name};
use sky_cloud_aws::{TAG_CLUSTER, TAG_HEAD, TAG_RANK};
use sky_core::catalog::Catalog;
use sky_core::error::{ErrorKind, Scope};
use sky_core::provision::{ClusterRef, InstanceState, LaunchRequest, Provisioner};
use sky_core::resources::PortRange;

use crate::common::*;

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHECuRllO6h6HN/IGFlSGEp0IxGXlpEnczKt4cJfmEEn sky-test";

fn request(name: &str, region: &str, nodes: u32) -> LaunchRequest {
    let cluster = ClusterRef {
        name: name.to_owned(),
        region: region.to_owned(),
        zone: None,
    };
    LaunchRequest::new(cluster, "m6i.xlarge", nodes)
}

#[tokio::test]
async fn bootstrap_imports_the_key_and_opens_only_ssh_and_the_task_ports() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let name = unique("boot");
    let mut req = request(&name, "us-east-1", 1);
    req.ssh_public_key = Some(PUBLIC_KEY.to_owned());
    req.ports = vec![PortRange {
        start: 8888,
        end: 8890,
    }];
    p.bootstrap(&req).await.unwrap();
    p.bootstrap(&req).await.expect("bootstrap is idempotent");

    let client = p.client("us-east-1");
    let keys = client
        .describe_key_pairs()
        .key_names(key_pair_name(PUBLIC_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(keys.key_pairs().len(), 1);
    let groups = client
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values(security_group_name(&name))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(groups.security_groups().len(), 1, "one group, made once");
    let g = &groups.security_groups()[0];
    let rules: BTreeSet<(i32, i32, String)> = g
        .ip_permissions()
        .iter()
        .flat_map(|perm| {
            perm.ip_ranges().iter().map(move |r| {
                (
                    perm.from_port().unwrap_or(-1),
                    perm.to_port().unwrap_or(-1),
                    r.cidr_ip().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    assert_eq!(
        rules,
        BTreeSet::from([
            (22, 22, "0.0.0.0/0".to_owned()),
            (8888, 8890, "0.0.0.0/0".to_owned())
        ])
    );
    assert!(
        g.tags()
            .iter()
            .any(|t| t.key() == Some(TAG_CLUSTER) && t.value() == Some(name.as_str()))
    );
}

#[tokio::test]
async fn a_spot_cluster_is_tagged_at_launch_with_the_default_ubuntu_image_and_disk() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let name = unique("spot");
    let mut req = request(&name, "us-east-1", 2);
    req.spot = true;
    req.disk_size_gb = 64;
    req.labels.insert("team".into(), "ml".into());
    req.ssh_public_key = Some(PUBLIC_KEY.to_owned());
    p.bootstrap(&req).await.unwrap();
    let nodes = p.run_instances(&req).await.unwrap();
    assert_eq!(nodes.iter().map(|n| n.rank).collect::<Vec<_>>(), [0, 1]);
    assert!(nodes.iter().all(|n| n.spot), "{nodes:?}");
    let zones: BTreeSet<_> = nodes.iter().map(|n| n.zone.clone()).collect();
    assert_eq!(zones.len(), 1, "one zone for the whole cluster: {zones:?}");
    p.wait_instances(
        &req.cluster,
        InstanceState::Running,
        Duration::from_secs(30),
    )
    .await
    .unwrap();

    let client = p.client("us-east-1");
    let out = client
        .describe_instances()
        .set_instance_ids(Some(nodes.iter().map(|n| n.id.clone()).collect()))
        .send()
        .await
        .unwrap();
    let canonical = client
        .describe_images()
        .owners(CANONICAL_OWNER)
        .send()
        .await
        .unwrap();
    let canonical: BTreeSet<&str> = canonical
        .images()
        .iter()
        .filter_map(|i| i.image_id())
        .collect();
    for i in out.reservations().iter().flat_map(|r| r.instances()) {
        let tag = |k: &str| {
            i.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
                .map(str::to_owned)
        };
        let rank: u32 = tag(TAG_RANK).unwrap().parse().unwrap();
        assert_eq!(tag(TAG_CLUSTER).as_deref(), Some(name.as_str()));
        assert_eq!(
            tag(TAG_HEAD).as_deref(),
            Some(if rank == 0 { "true" } else { "false" })
        );
        assert_eq!(tag("team").as_deref(), Some("ml"), "labels become tags");
        assert_eq!(i.key_name(), Some(key_pair_name(PUBLIC_KEY).as_str()));
        assert!(
            canonical.contains(i.image_id().unwrap_or_default()),
            "default image is Canonical's Ubuntu, got {:?}",
            i.image_id()
        );
        let vols = client
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("attachment.instance-id")
                    .values(i.instance_id().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            vols.volumes().iter().map(|v| v.size()).collect::<Vec<_>>(),
            [Some(64)]
        );
    }
    p.terminate_instances(&req.cluster).await.unwrap();
    assert!(p.query_instances(&req.cluster).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_task_image_is_used_when_given() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let client = p.client("us-west-2");
    let images = client
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .unwrap();
    let image = images
        .images()
        .iter()
        .filter_map(|i| i.image_id())
        .min()
        .expect("moto ships Amazon images")
        .to_owned();
    let name = unique("img");
    let mut req = request(&name, "us-west-2", 1);
    req.image_id = Some(image.clone());
    p.bootstrap(&req).await.unwrap();
    let nodes = p.run_instances(&req).await.unwrap();
    let out = client
        .describe_instances()
        .instance_ids(&nodes[0].id)
        .send()
        .await
        .unwrap();
    let got = out.reservations()[0].instances()[0]
        .image_id()
        .map(str::to_owned);
    p.terminate_instances(&req.cluster).await.unwrap();
    assert_eq!(got, Some(image));
}

#[tokio::test]
async fn zone_ids_become_this_accounts_zone_names() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let names = p.zone_names("us-east-1").await.unwrap();
    let use1_az1 = names.get("use1-az1").expect("moto knows use1-az1").clone();
    assert!(use1_az1.starts_with("us-east-1"), "{names:?}");

    let base = fixture_catalog();
    let offered_ids = base
        .regions()
        .into_iter()
        .find(|r| r.name == "us-east-1")
        .unwrap()
        .zones;
    assert!(offered_ids.contains(&"use1-az1".to_owned()));
    let mapped = p.catalog_with_zone_names(base).await.unwrap();
    let zones = mapped
        .regions()
        .into_iter()
        .find(|r| r.name == "us-east-1")
        .unwrap()
        .zones;
    assert!(zones.contains(&use1_az1), "{zones:?}");
    assert!(zones.iter().all(|z| !z.contains("-az")), "{zones:?}");

    // Only the configured regions stay.
    let one = builder(&ep).regions(["us-west-2"]).build().await.unwrap();
    let only_west = one
        .catalog_with_zone_names(fixture_catalog())
        .await
        .unwrap();
    let regions: Vec<String> = only_west.regions().into_iter().map(|r| r.name).collect();
    assert_eq!(regions, ["us-west-2"]);
}

#[tokio::test]
async fn a_bad_zone_is_an_invalid_request_that_leaves_nothing() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let name = unique("badz");
    let mut req = request(&name, "us-east-1", 1);
    req.cluster.zone = Some("us-east-1z".into());
    p.bootstrap(&req).await.unwrap();
    let err = p.run_instances(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert_eq!(err.scope(), Scope::Zone);
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err}");
    assert_eq!(err.placement().zone.as_deref(), Some("us-east-1z"));
    assert_eq!(err.placement().instance_type.as_deref(), Some("m6i.xlarge"));
    assert!(p.query_instances(&req.cluster).await.unwrap().is_empty());
    p.terminate_instances(&req.cluster).await.unwrap();
}

#[tokio::test]
async fn operations_on_an_unknown_cluster_are_harmless() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let c = ClusterRef {
        name: unique("ghost"),
        region: "us-east-1".into(),
        zone: None,
    };
    assert!(p.query_instances(&c).await.unwrap().is_empty());
    p.stop_instances(&c).await.unwrap();
    assert!(p.start_instances(&c).await.unwrap().is_empty());
    p.terminate_instances(&c).await.unwrap();
    p.wait_instances(&c, InstanceState::Terminated, Duration::from_secs(1))
        .await
        .unwrap();
    let err = p
        .open_ports(&c, &[PortRange { start: 80, end: 80 }])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// The security groups named for `cluster` in `region`.
async fn groups_named(p: &sky_cloud_aws::AwsProvisioner, region: &str, cluster: &str) -> usize {
    p.client(region)
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values(security_group_name(cluster))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_groups()
        .len()
}

/// A launch that got as far as `bootstrap` (killed, or its instances refused) has a security
/// group and no instance: teardown finds the group by its name and deletes it, and a second
/// teardown is a no-op.
#[tokio::test]
async fn teardown_deletes_the_group_of_a_cluster_that_never_got_an_instance() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let name = unique("sgonly");
    let req = request(&name, "us-east-1", 1);
    p.bootstrap(&req).await.unwrap();
    assert_eq!(groups_named(&p, "us-east-1", &name).await, 1);
    p.terminate_instances(&req.cluster).await.unwrap();
    assert_eq!(
        groups_named(&p, "us-east-1", &name).await,
        0,
        "the group of a cluster without instances is deleted"
    );
    p.terminate_instances(&req.cluster)
        .await
        .expect("a second teardown finds nothing to do");
}

/// With instances, the group goes once they are terminated (AWS refuses to delete a group
/// in use; teardown waits for the instances rather than leaving it).
#[tokio::test]
async fn teardown_deletes_the_group_once_the_instances_are_gone() {
    let ep = moto_or_skip!();
    let p = provisioner(&ep).await;
    let name = unique("sgnodes");
    let req = request(&name, "us-east-1", 2);
    p.bootstrap(&req).await.unwrap();
    p.run_instances(&req).await.unwrap();
    p.terminate_instances(&req.cluster).await.unwrap();
    assert!(p.query_instances(&req.cluster).await.unwrap().is_empty());
    assert_eq!(groups_named(&p, "us-east-1", &name).await, 0);
}
