//! Hand-computed plans on the small catalogs of `support` (prices in the comments).

use sky_core::catalog::Accelerator;
use sky_core::resources::ResourceSet;
use sky_core::task::Task;
use sky_core::{CloudId, Dag};
use sky_optimizer::{
    Block, BlockList, EgressModel, Objective, OptimizeError, Options, Plan, Solver, optimize,
};

use crate::support::*;

fn plan(d: &Dag, objective: Objective) -> Plan {
    optimize(
        d,
        &all_three(),
        &BlockList::new(),
        objective,
        &Options::default(),
    )
    .unwrap()
}

fn plan_blocked(d: &Dag, blocked: &BlockList) -> Plan {
    optimize(
        d,
        &all_three(),
        blocked,
        Objective::Cost,
        &Options::default(),
    )
    .unwrap()
}

fn where_(p: &Plan, task: &str) -> (String, String, Option<String>, String) {
    let t = p.placement(task).unwrap();
    (
        t.cloud.to_string(),
        t.region.clone(),
        t.zone.clone(),
        t.instance_type.clone(),
    )
}

fn at(
    cloud: &str,
    region: &str,
    zone: Option<&str>,
    it: &str,
) -> (String, String, Option<String>, String) {
    (
        cloud.into(),
        region.into(),
        zone.map(str::to_string),
        it.into(),
    )
}

#[test]
fn cheapest_v100_is_gcp_and_json_has_the_cli_shape() {
    // gcp n1-highmem-8 2.95321 in us-central1-a and -b (tie: zone order), aws/azure 3.06.
    let d = Dag::single(task("train", gpu("V100", 1.0)));
    let p = plan(&d, Objective::Cost);
    assert_eq!(
        p.to_json(),
        r#"{"objective":"cost","solver":"dp","total_cost":2.95321,"total_time_s":3600.0,"placements":[{"task":"train","cloud":"gcp","region":"us-central1","zone":"us-central1-a","instance_type":"n1-highmem-8","accelerators":{"V100":1},"use_spot":false,"num_nodes":1,"hourly_price":2.95321,"cost":2.95321}],"egress":[]}"#
    );
    // Considered resources: one row per (cloud, accelerator, market), cheapest first.
    let rows = &p.considered[0].rows;
    let summary: Vec<(String, String, f64, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.cloud.to_string(),
                r.instance_type.clone(),
                r.cost,
                r.chosen,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("gcp".into(), "n1-highmem-8".into(), 2.95321, true),
            ("aws".into(), "p3.2xlarge".into(), 3.06, false),
            ("azure".into(), "Standard_NC6s_v3".into(), 3.06, false),
        ]
    );
    let text = p.render_table();
    assert!(text.contains("Target: minimizing cost"), "{text}");
    assert!(text.contains("Estimated cost: $2.95 / hour"), "{text}");
    assert!(text.contains("Considered resources (1 node):"), "{text}");
    for col in [
        "CLOUD",
        "INSTANCE",
        "vCPUs",
        "Mem(GB)",
        "ACCELERATORS",
        "REGION/ZONE",
        "COST ($)",
        "CHOSEN",
    ] {
        assert!(text.contains(col), "{col} missing:\n{text}");
    }
    let chosen_line = text.lines().find(|l| l.contains('\u{2714}')).unwrap();
    assert!(chosen_line.contains("GCP") && chosen_line.contains("us-central1-a"));
    assert!(!text.contains("Best plan"), "one task has no plan table");
}

#[test]
fn region_level_candidates_keep_their_zones() {
    // AWS prices on-demand by region: one candidate per region, its zones kept in order.
    let d = Dag::single(task("t", on(gpu("V100", 1.0), CloudId::Aws)));
    let p = plan(&d, Objective::Cost);
    let t = &p.placements[0];
    assert_eq!(where_(&p, "t"), at("aws", "us-east-1", None, "p3.2xlarge"));
    assert_eq!(
        t.zones,
        vec!["us-east-1a".to_string(), "us-east-1b".to_string()]
    );
    // GCP optimizes by zone: zone-level candidates.
    let d = Dag::single(task("t", on(gpu("V100", 1.0), CloudId::Gcp)));
    let p = plan(&d, Objective::Cost);
    assert_eq!(p.placements[0].zones, vec!["us-central1-a".to_string()]);
}

#[test]
fn spot_is_per_zone_and_uses_spot_prices() {
    let d = Dag::single(task("t", on(spot(gpu("V100", 1.0)), CloudId::Aws)));
    let p = plan(&d, Objective::Cost);
    // us-east-1a 0.92 < us-west-2a 0.95 < us-east-1b 1.1.
    assert_eq!(
        where_(&p, "t"),
        at("aws", "us-east-1", Some("us-east-1a"), "p3.2xlarge")
    );
    assert!(p.placements[0].use_spot);
    assert_eq!(p.total_cost, 0.92);
    // Across clouds: azure eastus 0.6 spot.
    let d = Dag::single(task("t", spot(gpu("V100", 1.0))));
    let p = plan(&d, Objective::Cost);
    assert_eq!(
        where_(&p, "t"),
        at("azure", "eastus", None, "Standard_NC6s_v3")
    );
    assert_eq!(p.total_cost, 0.6);
}

#[test]
fn region_and_zone_pins() {
    let d = Dag::single(task("t", in_region(gpu("V100", 1.0), "europe-west4")));
    let p = plan(&d, Objective::Cost);
    assert_eq!(
        where_(&p, "t"),
        at(
            "gcp",
            "europe-west4",
            Some("europe-west4-a"),
            "n1-highmem-8"
        )
    );
    let mut r = on(gpu("V100", 1.0), CloudId::Aws);
    r.zone = Some("us-east-1b".into());
    let p = plan(&Dag::single(task("t", r)), Objective::Cost);
    assert_eq!(
        where_(&p, "t"),
        at("aws", "us-east-1", Some("us-east-1b"), "p3.2xlarge")
    );
}

#[test]
fn blocks_remove_zones_regions_and_clouds() {
    let d = Dag::single(task("t", gpu("V100", 1.0)));
    let zone = BlockList::new().with(Block::zone(CloudId::Gcp, "us-central1", "us-central1-a"));
    assert_eq!(
        where_(&plan_blocked(&d, &zone), "t"),
        at("gcp", "us-central1", Some("us-central1-b"), "n1-highmem-8")
    );
    // Without us-central1: aws us-east-1, us-west-2 and azure eastus all cost 3.06; the
    // tie goes to the cloud order (aws < azure) and the region name.
    let region = BlockList::new().with(Block::region(CloudId::Gcp, "us-central1"));
    assert_eq!(
        where_(&plan_blocked(&d, &region), "t"),
        at("aws", "us-east-1", None, "p3.2xlarge")
    );
    let more = region
        .clone()
        .with(Block::region(CloudId::Aws, "us-east-1"));
    assert_eq!(
        where_(&plan_blocked(&d, &more), "t"),
        at("aws", "us-west-2", None, "p3.2xlarge")
    );
    // A blocked zone of a region-level candidate leaves the region with its other zones.
    let aws_zone = BlockList::new()
        .with(Block::cloud(CloudId::Gcp))
        .with(Block::zone(CloudId::Aws, "us-east-1", "us-east-1a"));
    let p = plan_blocked(&d, &aws_zone);
    assert_eq!(where_(&p, "t"), at("aws", "us-east-1", None, "p3.2xlarge"));
    assert_eq!(p.placements[0].zones, vec!["us-east-1b".to_string()]);
    // Market-specific blocks.
    let od = BlockList::new().with(Block::default().with_spot(false));
    let err = optimize(&d, &all_three(), &od, Objective::Cost, &Options::default()).unwrap_err();
    assert_eq!(err.kind().as_str(), "resources_unavailable");
}

#[test]
fn ordered_alternatives_take_the_first_that_fits() {
    let d = Dag::single(task_set(
        "t",
        ResourceSet::ordered([gpu("A100", 1.0), gpu("V100", 1.0)]),
    ));
    let p = plan(&d, Objective::Cost);
    assert_eq!(p.placements[0].resources_index, 1);
    assert_eq!(p.placements[0].cloud, CloudId::Gcp);
    // Azure first, although GCP is cheaper.
    let d = Dag::single(task_set(
        "t",
        ResourceSet::ordered([on(gpu("V100", 1.0), CloudId::Azure), gpu("V100", 1.0)]),
    ));
    let p = plan(&d, Objective::Cost);
    assert_eq!(
        where_(&p, "t"),
        at("azure", "eastus", None, "Standard_NC6s_v3")
    );
    assert_eq!(p.placements[0].resources_index, 0);
    assert!(
        p.considered[0]
            .rows
            .iter()
            .all(|r| r.cloud == CloudId::Azure)
    );
    // Once azure is blocked, the second entry is used.
    let p = plan_blocked(&d, &BlockList::new().with(Block::cloud(CloudId::Azure)));
    assert_eq!(
        where_(&p, "t"),
        at("gcp", "us-central1", Some("us-central1-a"), "n1-highmem-8")
    );
    assert_eq!(p.placements[0].resources_index, 1);
    // any_of: the cheapest alternative wins (aws m6i 0.384 < gcp n2 0.39 < azure 0.40).
    let d = Dag::single(task_set(
        "t",
        ResourceSet::any_of([on(gpu("V100", 1.0), CloudId::Azure), cpus(8.0)]),
    ));
    let p = plan(&d, Objective::Cost);
    assert_eq!(where_(&p, "t"), at("aws", "us-east-1", None, "m6i.2xlarge"));
    assert_eq!(p.placements[0].resources_index, 1);
    assert_eq!(p.considered[0].rows.len(), 4, "{:?}", p.considered[0].rows);
}

#[test]
fn infeasible_requests_say_why() {
    let d = Dag::single(task("train", gpu("V100", 3.0)));
    let err = optimize(
        &d,
        &all_three(),
        &BlockList::new(),
        Objective::Cost,
        &Options::default(),
    )
    .unwrap_err();
    let OptimizeError::ResourcesUnavailable {
        task: name,
        message,
        suggestions,
        reasons,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(err.kind().as_str(), "resources_unavailable");
    assert_eq!(name, "train");
    assert!(message.contains("V100:3"), "{message}");
    assert!(message.contains("gcp has no V100:3"), "{message}");
    assert_eq!(suggestions, &vec!["V100:1".to_string()]);
    assert_eq!(reasons.len(), 3, "one per cloud: {reasons:?}");
    assert!(message.contains("Did you mean: V100:1?"), "{message}");

    // Everything blocked: 3 gcp rows, 3 aws rows, 2 azure rows.
    let blocked = BlockList::new().with(Block::default().with_accelerators(Accelerator {
        name: "V100".into(),
        count: 1.0,
    }));
    let d = Dag::single(task("train", gpu("V100", 1.0)));
    let err = optimize(
        &d,
        &all_three(),
        &blocked,
        Objective::Cost,
        &Options::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("8 candidates blocked"), "{err}");

    // A cloud that is not enabled.
    let only_gcp = catalogs([gcp()]);
    let d = Dag::single(task("t", on(gpu("V100", 1.0), CloudId::Aws)));
    let err = optimize(
        &d,
        &only_gcp,
        &BlockList::new(),
        Objective::Cost,
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cloud aws is not enabled (enabled: gcp)"),
        "{err}"
    );

    // A budget below every price.
    let mut r = gpu("V100", 1.0);
    r.max_hourly_cost = Some(1.0);
    let err = optimize(
        &Dag::single(task("t", r)),
        &all_three(),
        &BlockList::new(),
        Objective::Cost,
        &Options::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("above max_hourly_cost"), "{err}");
}

#[test]
fn other_errors_have_kinds() {
    let opts = Options::default();
    let none = BlockList::new();
    let err = optimize(&Dag::new(), &all_three(), &none, Objective::Cost, &opts).unwrap_err();
    assert_eq!(err.kind().as_str(), "empty_dag");
    let mut t = task("t", gpu("V100", 1.0));
    t.num_nodes = 0;
    let err = optimize(&Dag::single(t), &all_three(), &none, Objective::Cost, &opts).unwrap_err();
    assert_eq!(err.kind().as_str(), "invalid_task");
    let d = Dag::single(task("t", gpu("V100", 1.0)));
    let fake_only = Options::default().with_clouds([CloudId::Fake]);
    let err = optimize(&d, &all_three(), &none, Objective::Cost, &fake_only).unwrap_err();
    assert_eq!(err.kind().as_str(), "no_cloud_enabled");
    let err = optimize(
        &d,
        &all_three(),
        &none,
        Objective::Cost,
        &Options::default().with_bandwidth_gbps(0.0),
    )
    .unwrap_err();
    assert_eq!(err.kind().as_str(), "invalid_options");
    // A cloud that is loaded but excluded by the options.
    let d2 = Dag::single(task("t", on(gpu("V100", 1.0), CloudId::Gcp)));
    let err = optimize(
        &d2,
        &all_three(),
        &none,
        Objective::Cost,
        &Options::default().with_clouds([CloudId::Aws]),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cloud gcp is excluded by the optimizer options"),
        "{err}"
    );
    #[cfg(not(feature = "highs"))]
    {
        let err = optimize(
            &d,
            &all_three(),
            &none,
            Objective::Cost,
            &Options::default().with_solver(Solver::Highs),
        )
        .unwrap_err();
        assert_eq!(err.kind().as_str(), "solver_unavailable");
    }
}

#[test]
fn options_restrict_clouds() {
    let d = Dag::single(task("t", gpu("V100", 1.0)));
    let opts = Options::default().with_clouds([CloudId::Azure]);
    let p = optimize(&d, &all_three(), &BlockList::new(), Objective::Cost, &opts).unwrap();
    assert_eq!(
        where_(&p, "t"),
        at("azure", "eastus", None, "Standard_NC6s_v3")
    );
}

#[test]
fn nodes_and_runtime_scale_the_cost() {
    let mut t = task("t", gpu("V100", 1.0));
    t.num_nodes = 2;
    t.estimated_runtime = Some(std::time::Duration::from_secs(1800));
    let p = plan(&Dag::single(t), Objective::Cost);
    // 2.95321 $/h × 0.5 h × 2 nodes.
    assert_eq!(p.placements[0].cost, 2.95321);
    assert_eq!(p.total_time_s, 1800.0);
    assert!(p.render_table().contains("Considered resources (2 nodes):"));
}

#[test]
fn egress_on_a_chain_pulls_the_consumer_to_the_producer() {
    // a: CPU on aws with 100 GB of outputs. b: V100. gcp 2.95321 + 8.91 (aws egress of
    // 100 GB: 99 × 0.09) loses to aws 3.06.
    let a = with_outputs(task("a", on(cpus(8.0), CloudId::Aws)), 100.0);
    let b = task("b", gpu("V100", 1.0));
    let d = dag(vec![a.clone(), b.clone()], &[(0, 1)]);
    let p = plan(&d, Objective::Cost);
    assert_eq!(p.solver, "dp");
    assert_eq!(where_(&p, "b"), at("aws", "us-east-1", None, "p3.2xlarge"));
    assert!(close(p.total_cost, 0.384 + 3.06));
    assert_eq!(p.egress.len(), 1);
    assert_eq!(
        (p.egress[0].gb, p.egress[0].cost, p.egress[0].time_s),
        (100.0, 0.0, 0.0)
    );
    // Without the data, b goes to the cheapest V100.
    let d = dag(vec![task("a", on(cpus(8.0), CloudId::Aws)), b], &[(0, 1)]);
    assert_eq!(
        plan(&d, Objective::Cost).placement("b").unwrap().cloud,
        CloudId::Gcp
    );
    // The MILP agrees with the DP.
    let d = dag(vec![a, task("b", gpu("V100", 1.0))], &[(0, 1)]);
    let milp = optimize(
        &d,
        &all_three(),
        &BlockList::new(),
        Objective::Cost,
        &Options::default().with_solver(Solver::Microlp),
    )
    .unwrap();
    assert_eq!(milp.solver, "milp-microlp");
    assert_eq!(milp.placements, plan(&d, Objective::Cost).placements);
}

#[test]
fn forced_cross_cloud_edge_json() {
    // The JSON example of the CLI: 100 GB from gcp to aws cost 100 × 0.12 and 80 s.
    let a = with_outputs(task("a", on(cpus(8.0), CloudId::Gcp)), 100.0);
    let b = task("b", on(cpus(8.0), CloudId::Aws));
    let p = plan(&dag(vec![a, b], &[(0, 1)]), Objective::Cost);
    let json = p.to_json();
    assert!(
        json.ends_with(r#""egress":[{"from":"a","to":"b","gb":100.0,"cost":12.0,"time_s":80.0}]}"#),
        "{json}"
    );
    assert!(close(p.total_cost, 0.39 + 0.384 + 12.0));
    assert_eq!(p.total_time_s, 7280.0);
    assert_eq!(p.placements[1].start_s, 3680.0);
    let text = p.render_table();
    assert!(text.contains("Best plan (2 tasks):"), "{text}");
    assert!(text.contains("Egress plan:"), "{text}");
    assert!(
        text.contains("Considered resources (1 node) for task \"b\":"),
        "{text}"
    );
}

#[test]
fn inter_region_model_charges_regions_inside_a_cloud() {
    // a: CPU pinned to gcp europe-west4 (0.42) with 100 GB out. b: any 8+ vCPU.
    let a = with_outputs(
        task("a", in_region(on(cpus(8.0), CloudId::Gcp), "europe-west4")),
        100.0,
    );
    let d = dag(vec![a, task("b", cpus(8.0))], &[(0, 1)]);
    // Cross-cloud model: gcp us-central1 0.39, free inside gcp (aws 0.384 + 12 loses).
    let p = plan(&d, Objective::Cost);
    assert_eq!(
        where_(&p, "b"),
        at("gcp", "us-central1", Some("us-central1-a"), "n2-standard-8")
    );
    assert!(close(p.total_cost, 0.81));
    // Inter-region model: moving 100 GB costs 2.00, more than the 0.03 saved.
    let opts = Options::default().with_egress(EgressModel::InterRegion);
    for solver in [Solver::Auto, Solver::Microlp] {
        let p = optimize(
            &d,
            &all_three(),
            &BlockList::new(),
            Objective::Cost,
            &opts.clone().with_solver(solver),
        )
        .unwrap();
        assert_eq!(
            where_(&p, "b"),
            at(
                "gcp",
                "europe-west4",
                Some("europe-west4-a"),
                "n2-standard-8"
            )
        );
        assert!(close(p.total_cost, 0.84));
    }
    // A lower inter-region price flips it back: 100 × 0.0002 = 0.02 < 0.03.
    let cheap = opts.with_inter_region_usd_per_gb(0.0002);
    let p = optimize(&d, &all_three(), &BlockList::new(), Objective::Cost, &cheap).unwrap();
    assert_eq!(p.placement("b").unwrap().region, "us-central1");
    assert!(close(p.total_cost, 0.39 + 0.42 + 0.02));
    assert!(close(p.egress[0].cost, 0.02) && close(p.egress[0].time_s, 80.0));
}

#[test]
fn time_and_cost_objectives_differ() {
    // a on azure with 1 GB out: azure's first GB is free, but the transfer takes 0.8 s.
    let a = with_outputs(task("a", on(cpus(8.0), CloudId::Azure)), 1.0);
    let d = dag(vec![a, task("b", cpus(8.0))], &[(0, 1)]);
    let cost = plan(&d, Objective::Cost);
    assert_eq!(cost.placement("b").unwrap().cloud, CloudId::Aws);
    assert!(close(cost.total_cost, 0.784));
    assert!(close(cost.total_time_s, 7200.8));
    for solver in [Solver::Auto, Solver::Microlp] {
        let opts = Options::default().with_solver(solver);
        let time = optimize(&d, &all_three(), &BlockList::new(), Objective::Time, &opts).unwrap();
        assert_eq!(
            time.placement("b").unwrap().cloud,
            CloudId::Azure,
            "{solver:?}"
        );
        assert_eq!(time.total_time_s, 7200.0);
        assert!(close(time.total_cost, 0.80));
        assert!(time.to_json().starts_with(r#"{"objective":"time","#));
    }
}

#[test]
fn time_ties_are_broken_by_cost() {
    // No data moves, so every plan takes 3600 s; the cheapest of them wins.
    let p = plan(&Dag::single(task("t", gpu("V100", 1.0))), Objective::Time);
    assert_eq!(p.placements[0].cloud, CloudId::Gcp);
    assert_eq!(p.total_time_s, 3600.0);
    assert_eq!(p.solver, "dp");
}

#[test]
fn diamond_needs_the_milp_and_follows_the_data() {
    // s (aws, 50 GB out) -> l, r (V100, 5 GB out each) -> j (CPU).
    // l or r on gcp saves 0.10679 but pays 49 × 0.09 = 4.41 of egress.
    let s = with_outputs(task("s", on(cpus(8.0), CloudId::Aws)), 50.0);
    let l = with_outputs(task("l", gpu("V100", 1.0)), 5.0);
    let r = with_outputs(task("r", gpu("V100", 1.0)), 5.0);
    let j = task("j", cpus(8.0));
    let d = dag(vec![s, l, r, j], &[(0, 1), (0, 2), (1, 3), (2, 3)]);
    for objective in [Objective::Cost, Objective::Time] {
        let p = plan(&d, objective);
        assert_eq!(p.solver, "milp-microlp");
        for t in ["l", "r", "j"] {
            assert_eq!(
                p.placement(t).unwrap().cloud,
                CloudId::Aws,
                "{t} {objective}"
            );
        }
        assert!(
            close(p.total_cost, 0.384 + 3.06 + 3.06 + 0.384),
            "{}",
            p.total_cost
        );
        assert_eq!(p.total_time_s, 3.0 * 3600.0);
        assert_eq!(p.egress.len(), 4);
    }
    // Without data on the edges the GPUs go to gcp and the join to aws (0.384).
    let plain = dag(
        vec![
            task("s", on(cpus(8.0), CloudId::Aws)),
            task("l", gpu("V100", 1.0)),
            task("r", gpu("V100", 1.0)),
            task("j", cpus(8.0)),
        ],
        &[(0, 1), (0, 2), (1, 3), (2, 3)],
    );
    let p = plan(&plain, Objective::Cost);
    assert_eq!(p.placement("l").unwrap().cloud, CloudId::Gcp);
    assert_eq!(p.placement("r").unwrap().cloud, CloudId::Gcp);
    assert!(close(p.total_cost, 0.384 + 2.0 * 2.95321 + 0.384));
}

#[test]
fn inputs_pull_source_tasks_to_their_data() {
    // s3:// 50 GB: gcp 2.95321 + 4.41 loses to aws 3.06.
    let t = with_inputs(task("t", gpu("V100", 1.0)), "s3://bucket/data", 50.0);
    let p = plan(&Dag::single(t.clone()), Objective::Cost);
    assert_eq!(p.placements[0].cloud, CloudId::Aws);
    assert_eq!(p.egress[0].from, "s3://bucket/data");
    assert_eq!(p.egress[0].from_cloud, Some(CloudId::Aws));
    assert_eq!(p.egress[0].cost, 0.0);
    // az:// → azure eastus (3.06 < 2.95321 + 49 × 0.0875).
    let az = with_inputs(task("t", gpu("V100", 1.0)), "az://container/data", 50.0);
    assert_eq!(
        plan(&Dag::single(az), Objective::Cost).placements[0].cloud,
        CloudId::Azure
    );
    // AWS not loaded: its list price (4.41) is charged wherever the task goes; gcp wins.
    let gcp_azure = catalogs([gcp(), azure()]);
    let p = optimize(
        &Dag::single(t),
        &gcp_azure,
        &BlockList::new(),
        Objective::Cost,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.placements[0].cloud, CloudId::Gcp);
    assert!(close(p.total_cost, 2.95321 + 4.41));
    assert_eq!((p.egress[0].cost, p.egress[0].time_s), (4.41, 40.0));
    assert_eq!(p.total_time_s, 3640.0);
}

#[test]
fn unnamed_tasks_are_numbered_and_plans_are_reproducible() {
    let mut a = Task::new();
    a.resources = ResourceSet::one(gpu("V100", 1.0));
    let d = Dag::chain([a.clone(), a]);
    let p1 = plan(&d, Objective::Cost);
    assert_eq!(p1.placements[0].task, "task-0");
    assert_eq!(p1.placements[1].task, "task-1");
    let p2 = plan(&d, Objective::Cost);
    assert_eq!(p1.to_json(), p2.to_json());
    assert_eq!(
        serde_json::to_string(&p1).unwrap(),
        serde_json::to_string(&p2).unwrap()
    );
    let back: Plan = serde_json::from_str(&serde_json::to_string(&p1).unwrap()).unwrap();
    assert_eq!(back, p1);
}

#[cfg(feature = "highs")]
#[test]
fn highs_solves_the_diamond_like_microlp() {
    let s = with_outputs(task("s", on(cpus(8.0), CloudId::Aws)), 50.0);
    let l = with_outputs(task("l", gpu("V100", 1.0)), 5.0);
    let r = with_outputs(task("r", gpu("V100", 1.0)), 5.0);
    let d = dag(
        vec![s, l, r, task("j", cpus(8.0))],
        &[(0, 1), (0, 2), (1, 3), (2, 3)],
    );
    for objective in [Objective::Cost, Objective::Time] {
        let micro = plan(&d, objective);
        let highs = optimize(
            &d,
            &all_three(),
            &BlockList::new(),
            objective,
            &Options::default().with_solver(Solver::Highs),
        )
        .unwrap();
        assert_eq!(highs.solver, "milp-highs");
        assert_eq!(highs.placements, micro.placements);
        assert_eq!(
            (highs.total_cost, highs.total_time_s),
            (micro.total_cost, micro.total_time_s)
        );
    }
}
