//! Property tests: the plan does not depend on input order, and every solver finds the same
//! optimum.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use sky_core::catalog::Catalogs;
use sky_core::resources::ResourceSet;
use sky_core::{CloudId, Dag};
use sky_optimizer::{BlockList, EgressModel, Objective, Options, Plan, Solver, optimize};

use crate::support::*;

fn request(kind: u8) -> ResourceSet {
    match kind {
        0 => ResourceSet::one(gpu("V100", 1.0)),
        1 => ResourceSet::one(cpus(8.0)),
        2 => ResourceSet::one(gpu("T4", 1.0)),
        3 => ResourceSet::any_of([
            gpu("V100", 1.0),
            cpus(8.0),
            on(gpu("T4", 1.0), CloudId::Gcp),
        ]),
        4 => ResourceSet::one(on(cpus(8.0), CloudId::Azure)),
        5 => ResourceSet::one(spot(gpu("V100", 1.0))),
        6 => ResourceSet::one(in_region(cpus(8.0), "europe-west4")),
        _ => ResourceSet::ordered([on(gpu("V100", 1.0), CloudId::Aws), gpu("V100", 1.0)]),
    }
}

#[derive(Clone, Debug)]
struct Case {
    kinds: Vec<u8>,
    outputs: Vec<u8>,
    edges: Vec<(usize, usize)>,
    input: Option<u8>,
    objective: Objective,
    egress: EgressModel,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=6).prop_flat_map(|n| {
        (
            prop::collection::vec(0u8..8, n),
            prop::collection::vec(0u8..4, n),
            prop::collection::vec(any::<bool>(), n * (n - 1) / 2),
            prop::option::of(0u8..3),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(move |(kinds, outputs, mask, input, time, region)| {
                let mut edges = Vec::new();
                let mut k = 0;
                for a in 0..n {
                    for b in a + 1..n {
                        if mask[k] {
                            edges.push((a, b));
                        }
                        k += 1;
                    }
                }
                Case {
                    kinds,
                    outputs,
                    edges,
                    input,
                    objective: if time {
                        Objective::Time
                    } else {
                        Objective::Cost
                    },
                    egress: if region {
                        EgressModel::InterRegion
                    } else {
                        EgressModel::CrossCloud
                    },
                }
            })
    })
}

fn build(c: &Case, perm: &[usize], edge_order: &[usize]) -> Dag {
    // Task i of the case becomes task position[i] of the DAG.
    let n = c.kinds.len();
    let mut position = vec![0; n];
    for (new, &old) in perm.iter().enumerate() {
        position[old] = new;
    }
    let tasks = perm
        .iter()
        .map(|&i| {
            let mut t = task_set(&format!("t{i}"), request(c.kinds[i]));
            let gb = [0.0, 1.0, 10.0, 100.0][c.outputs[i] as usize];
            if gb > 0.0 {
                t = with_outputs(t, gb);
            }
            if i == 0
                && let Some(k) = c.input
            {
                t = with_inputs(t, ["s3://d/x", "gs://d/x", "az://d/x"][k as usize], 50.0);
            }
            t
        })
        .collect();
    let edges: Vec<(usize, usize)> = edge_order
        .iter()
        .map(|&e| (position[c.edges[e].0], position[c.edges[e].1]))
        .collect();
    dag(tasks, &edges)
}

type Where = (CloudId, String, Option<String>, String, bool, usize);

fn by_name(p: &Plan) -> BTreeMap<String, Where> {
    p.placements
        .iter()
        .map(|t| {
            (
                t.task.clone(),
                (
                    t.cloud.clone(),
                    t.region.clone(),
                    t.zone.clone(),
                    t.instance_type.clone(),
                    t.use_spot,
                    t.resources_index,
                ),
            )
        })
        .collect()
}

fn run(d: &Dag, cats: &Catalogs, c: &Case, solver: Solver) -> Option<Plan> {
    let opts = Options::default().with_egress(c.egress).with_solver(solver);
    optimize(d, cats, &BlockList::new(), c.objective, &opts).ok()
}

fn shuffled(mut k: VecCatalog, seed: usize) -> VecCatalog {
    // A deterministic permutation of the rows (rotation plus reversal).
    let len = k.rows.len();
    k.rows.rotate_left(seed % len);
    if seed % 2 == 1 {
        k.rows.reverse();
    }
    k
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn input_order_never_changes_the_plan(
        c in case(),
        perm_seed in any::<u64>(),
        row_seed in 0usize..64,
    ) {
        let n = c.kinds.len();
        let identity: Vec<usize> = (0..n).collect();
        let edges_in_order: Vec<usize> = (0..c.edges.len()).collect();
        let base_dag = build(&c, &identity, &edges_in_order);
        let base = run(&base_dag, &all_three(), &c, Solver::Auto);
        prop_assume!(base.is_some());
        let base = base.unwrap();

        // Catalog rows in another order, catalogs inserted in another order.
        let mut cats = Catalogs::new();
        cats.insert(Arc::new(shuffled(azure(), row_seed)));
        cats.insert(Arc::new(shuffled(aws(), row_seed + 1)));
        cats.insert(Arc::new(shuffled(gcp(), row_seed + 2)));
        let other = run(&base_dag, &cats, &c, Solver::Auto).unwrap();
        prop_assert_eq!(other.to_json(), base.to_json());
        prop_assert_eq!(&other, &base);

        // Tasks and edges in another order: the same placement per task name.
        let mut perm = identity.clone();
        let mut s = perm_seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            perm.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut edge_order = edges_in_order.clone();
        edge_order.reverse();
        let permuted = run(&build(&c, &perm, &edge_order), &all_three(), &c, Solver::Auto).unwrap();
        prop_assert_eq!(by_name(&permuted), by_name(&base));
        prop_assert_eq!(permuted.total_cost, base.total_cost);
        prop_assert_eq!(permuted.total_time_s, base.total_time_s);
        prop_assert_eq!(&permuted.solver, &base.solver);
    }

    #[test]
    fn milp_and_auto_agree(c in case()) {
        let n = c.kinds.len();
        let d = build(&c, &(0..n).collect::<Vec<_>>(), &(0..c.edges.len()).collect::<Vec<_>>());
        let auto = run(&d, &all_three(), &c, Solver::Auto);
        let milp = run(&d, &all_three(), &c, Solver::Microlp);
        match (auto, milp) {
            (Some(a), Some(m)) => {
                // The optimum's value is unique even when the plan is not.
                prop_assert!(close(a.total_cost, m.total_cost),
                    "cost {} ({}) vs {} (milp)", a.total_cost, a.solver, m.total_cost);
                if c.objective == Objective::Time {
                    prop_assert!(close(a.total_time_s, m.total_time_s),
                        "time {} vs {}", a.total_time_s, m.total_time_s);
                }
            }
            (a, m) => prop_assert_eq!(a.is_some(), m.is_some()),
        }
    }
}

#[test]
fn every_candidate_order_gives_the_same_single_task_plan() {
    // Exhaustive over all rotations of the gcp rows (the zone tie of us-central1-a/b).
    let reference = optimize(
        &Dag::single(task("t", gpu("V100", 1.0))),
        &all_three(),
        &BlockList::new(),
        Objective::Cost,
        &Options::default(),
    )
    .unwrap();
    for seed in 0..12 {
        let cats = catalogs([shuffled(gcp(), seed), shuffled(aws(), seed), azure()]);
        let p = optimize(
            &Dag::single(task("t", gpu("V100", 1.0))),
            &cats,
            &BlockList::new(),
            Objective::Cost,
            &Options::default(),
        )
        .unwrap();
        assert_eq!(p, reference);
    }
}
