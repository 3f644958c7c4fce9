//! Golden plans on SkyPilot's real GCP and Azure catalogs (the directory in
//! `SKY_TEST_CATALOG_DIR`, else the trimmed fixtures of `sky-catalog`, which keep the rows these
//! plans need). Every expected number was computed by hand from the CSV files (python's csv
//! module over `gcp/vms.csv` and `azure/vms.csv`); the derivation is in the comment above each
//! assertion.

use std::sync::OnceLock;

use sky_core::catalog::Catalogs;
use sky_core::{CloudId, Dag};
use sky_optimizer::{BlockList, Objective, OptimizeError, Options, Plan, Solver, optimize};

use crate::support::*;

pub fn real() -> &'static Catalogs {
    static CATALOGS: OnceLock<Catalogs> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        sky_catalog::load(
            &sky_catalog::testing::test_catalog_source(),
            &[CloudId::Gcp, CloudId::Azure],
        )
        .expect("the real GCP and Azure catalogs load")
    })
}

fn solve(d: &Dag, objective: Objective) -> Plan {
    optimize(d, real(), &BlockList::new(), objective, &Options::default()).unwrap()
}

fn one(r: sky_core::Resources) -> Plan {
    solve(&Dag::single(task("t", r)), Objective::Cost)
}

fn placed(p: &Plan, t: &str) -> (String, String, Option<String>, String, f64) {
    let x = p.placement(t).unwrap();
    (
        x.cloud.to_string(),
        x.region.clone(),
        x.zone.clone(),
        x.instance_type.clone(),
        x.hourly_price,
    )
}

fn at(
    cloud: &str,
    region: &str,
    zone: Option<&str>,
    it: &str,
    price: f64,
) -> (String, String, Option<String>, String, f64) {
    (
        cloud.into(),
        region.into(),
        zone.map(str::to_string),
        it.into(),
        price,
    )
}

#[test]
fn v100_on_demand_is_gcp_us_central1_a() {
    // GCP: host n1-highmem-8 0.47321 (us-central1-a/b/c/f, us-east1-b/c ...) + V100 2.48
    // = 2.95321; the zone tie goes to us-central1-a. Azure: Standard_NC6s_v3 3.06 (eastus).
    let p = one(gpu("V100", 1.0));
    assert_eq!(
        placed(&p, "t"),
        at(
            "gcp",
            "us-central1",
            Some("us-central1-a"),
            "n1-highmem-8",
            2.95321
        )
    );
    assert_eq!(p.placements[0].accelerator_hourly_price, 2.48);
    assert_eq!(
        p.to_json(),
        r#"{"objective":"cost","solver":"dp","total_cost":2.95321,"total_time_s":3600.0,"placements":[{"task":"t","cloud":"gcp","region":"us-central1","zone":"us-central1-a","instance_type":"n1-highmem-8","accelerators":{"V100":1},"use_spot":false,"num_nodes":1,"hourly_price":2.95321,"cost":2.95321}],"egress":[]}"#
    );
    let azure = p.considered[0]
        .rows
        .iter()
        .find(|r| r.cloud == CloudId::Azure)
        .unwrap();
    assert_eq!(
        (
            azure.instance_type.as_str(),
            azure.region.as_str(),
            azure.cost
        ),
        ("Standard_NC6s_v3", "eastus", 3.06)
    );
}

#[test]
fn v100_spot_is_azure_eastus() {
    // Spot: Azure NC6s_v3 0.565488 in eastus, eastus2, westus2, westus3 (tie → eastus);
    // GCP's cheapest is asia-east1-c: n1-highmem-8 spot 0.08854 + V100 spot 0.5434 = 0.63194.
    let p = one(spot(gpu("V100", 1.0)));
    assert_eq!(
        placed(&p, "t"),
        at("azure", "eastus", None, "Standard_NC6s_v3", 0.565488)
    );
    let gcp = p.considered[0]
        .rows
        .iter()
        .find(|r| r.cloud == CloudId::Gcp)
        .unwrap();
    assert_eq!(
        (gcp.zone.as_deref(), gcp.hourly_price),
        (Some("asia-east1-c"), 0.63194)
    );
}

#[test]
fn a100x8_is_gcp_europe_west4() {
    // GCP: a2-highgpu-8g host 6.51251 + A100:8 12.90919 = 19.4217 in europe-west4-a/b;
    // Azure: Standard_ND96asr_v4 27.197 (eastus).
    let p = one(gpu("A100", 8.0));
    assert_eq!(
        placed(&p, "t"),
        at(
            "gcp",
            "europe-west4",
            Some("europe-west4-a"),
            "a2-highgpu-8g",
            19.4217
        )
    );
}

#[test]
fn t4x4_is_azure() {
    // Azure: Standard_NC64as_T4_v3 4.352 (eastus). GCP T4:4 wants 48+ vCPUs on N1 and
    // 4 GiB per vCPU: n1-standard-64 (240 GiB) 3.03998 + T4:4 1.4 = 4.43998 in us-central1.
    let p = one(gpu("T4", 4.0));
    assert_eq!(
        placed(&p, "t"),
        at("azure", "eastus", None, "Standard_NC64as_T4_v3", 4.352)
    );
}

#[test]
fn cpus_8_plus_is_gcp_n4() {
    // Default families, memory 4 GiB per vCPU: GCP n4-standard-8 0.3628 (us-central1-a);
    // Azure Standard_D8s_v5 0.384 (eastus).
    let p = one(cpus(8.0));
    assert_eq!(
        placed(&p, "t"),
        at(
            "gcp",
            "us-central1",
            Some("us-central1-a"),
            "n4-standard-8",
            0.3628
        )
    );
}

#[test]
fn region_and_zone_pins() {
    // europe-west4-a/b/c: n1-highmem-8 0.52094 + V100 2.604 = 3.12494 (Azure has no such region).
    let p = one(in_region(gpu("V100", 1.0), "europe-west4"));
    assert_eq!(
        placed(&p, "t"),
        at(
            "gcp",
            "europe-west4",
            Some("europe-west4-a"),
            "n1-highmem-8",
            3.12494
        )
    );
    let mut r = gpu("V100", 1.0);
    r.cloud = Some(CloudId::Gcp);
    r.region = Some("us-central1".into());
    r.zone = Some("us-central1-f".into());
    assert_eq!(
        placed(&one(r), "t"),
        at(
            "gcp",
            "us-central1",
            Some("us-central1-f"),
            "n1-highmem-8",
            2.95321
        )
    );
}

#[test]
fn egress_pulls_the_gpu_task_to_azure() {
    // a: 8+ vCPUs on Azure (D8s_v5 0.384, eastus) writing 100 GB. b: V100:1.
    // b on GCP: 2.95321 + Azure egress of 100 GB (99 × 0.0875 = 8.6625) = 11.61571;
    // b on Azure: 3.06 (eastus, free inside Azure). Total 0.384 + 3.06 = 3.444.
    let a = with_outputs(task("a", on(cpus(8.0), CloudId::Azure)), 100.0);
    let d = dag(vec![a, task("b", gpu("V100", 1.0))], &[(0, 1)]);
    for solver in [Solver::Auto, Solver::Microlp] {
        let p = optimize(
            &d,
            real(),
            &BlockList::new(),
            Objective::Cost,
            &Options::default().with_solver(solver),
        )
        .unwrap();
        assert_eq!(
            placed(&p, "b"),
            at("azure", "eastus", None, "Standard_NC6s_v3", 3.06)
        );
        assert!(close(p.total_cost, 3.444), "{}", p.total_cost);
    }
}

#[test]
fn time_objective_avoids_the_transfer() {
    // a on Azure writing 1 GB (Azure's first GB is free). b: 8+ vCPUs.
    // Cost: GCP n4-standard-8 0.3628 < Azure D8s_v5 0.384, egress $0 → b on GCP,
    // finishing at 3600 + 0.8 + 3600 s. Time: b on Azure, 7200 s, 0.768 $.
    let a = with_outputs(task("a", on(cpus(8.0), CloudId::Azure)), 1.0);
    let d = dag(vec![a, task("b", cpus(8.0))], &[(0, 1)]);
    let cost = solve(&d, Objective::Cost);
    assert_eq!(cost.placement("b").unwrap().cloud, CloudId::Gcp);
    assert!(close(cost.total_time_s, 7200.8));
    assert!(close(cost.total_cost, 0.384 + 0.3628));
    let time = solve(&d, Objective::Time);
    assert_eq!(time.placement("b").unwrap().cloud, CloudId::Azure);
    assert_eq!(time.total_time_s, 7200.0);
    assert!(close(time.total_cost, 0.768));
}

#[test]
fn diamond_on_real_catalogs() {
    // s: 8+ vCPUs pinned to Azure writing 50 GB; l, r: V100:1 writing 5 GB; j: 8+ vCPUs.
    // l or r on GCP saves 0.10679 but pays 49 × 0.0875 = 4.2875 from Azure: both stay on
    // Azure (3.06 each, eastus); j then stays too (GCP would save 0.0212 but pay 2 × 4 × 0.0875).
    let s = with_outputs(task("s", on(cpus(8.0), CloudId::Azure)), 50.0);
    let l = with_outputs(task("l", gpu("V100", 1.0)), 5.0);
    let r = with_outputs(task("r", gpu("V100", 1.0)), 5.0);
    let d = dag(
        vec![s, l, r, task("j", cpus(8.0))],
        &[(0, 1), (0, 2), (1, 3), (2, 3)],
    );
    let p = solve(&d, Objective::Cost);
    assert_eq!(p.solver, "milp-microlp");
    for t in ["l", "r", "j"] {
        assert_eq!(p.placement(t).unwrap().cloud, CloudId::Azure, "{t}");
    }
    assert!(
        close(p.total_cost, 0.384 + 3.06 + 3.06 + 0.384),
        "{}",
        p.total_cost
    );
}

#[test]
fn unknown_accelerator_suggests_names() {
    let err = optimize(
        &Dag::single(task("t", gpu("V100", 3.0))),
        real(),
        &BlockList::new(),
        Objective::Cost,
        &Options::default(),
    )
    .unwrap_err();
    let OptimizeError::ResourcesUnavailable {
        suggestions,
        message,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        suggestions.iter().any(|s| s.starts_with("V100")),
        "{suggestions:?}"
    );
    assert!(message.contains("V100:3"), "{message}");
}

fn load(yaml: &str) -> Dag {
    sky_core::task::TaskLoader::new()
        .with_catalogs(real())
        .load_dag_str(yaml)
        .unwrap_or_else(|e| panic!("{e}\n---\n{yaml}"))
}

/// SkyPilot loads a task whose alternatives name an accelerator no enabled catalog offers
/// (A10G is AWS's, A100-40GB is no catalog's name) or a cloud sky has no backend for, and
/// its optimizer skips those alternatives. So does sky.
#[test]
fn infeasible_alternatives_are_skipped_not_refused() {
    // An ordered list: the first feasible alternative wins.
    let dag = load("name: t\nresources:\n  accelerators: [A100-40GB:1, A10G:1, V100:1]\n");
    let p = solve(&dag, Objective::Cost);
    let x = &p.placements[0];
    assert_eq!(
        x.accelerators.as_ref().map(|a| a.name.as_str()),
        Some("V100")
    );
    // any_of over clouds: OCI has no sky backend, GCP wins.
    let dag =
        load("resources:\n  accelerators: V100:1\n  any_of:\n    - infra: oci\n    - infra: gcp\n");
    let p = solve(&dag, Objective::Cost);
    let x = &p.placements[0];
    assert_eq!(x.cloud, CloudId::Gcp);
}

/// Only a task none of whose alternatives is feasible fails, and the error says why each
/// was excluded.
#[test]
fn all_infeasible_lists_each_reason() {
    let dag = load(
        "resources:\n  any_of:\n    - accelerators: A10G:1\n    - infra: oci\n      accelerators: H100:8\n    - accelerators: V1000:1\n",
    );
    let err = optimize(
        &dag,
        real(),
        &BlockList::new(),
        Objective::Cost,
        &Options::default(),
    )
    .unwrap_err();
    let OptimizeError::ResourcesUnavailable {
        reasons,
        suggestions,
        message,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    let has = |s: &str| reasons.iter().any(|r| r.contains(s));
    assert!(has("A10G:1"), "{reasons:?}");
    assert!(has("oci") && has("no backend"), "{reasons:?}");
    assert!(has("V1000:1"), "{reasons:?}");
    assert!(
        suggestions.iter().any(|s| s.starts_with("V100")),
        "{suggestions:?}"
    );
    assert!(message.contains("Did you mean"), "{message}");
}
