//! End-to-end brute force: pinning every task to each (cloud, region) in turn and keeping the
//! best plan must give the unpinned optimum. This checks candidate enumeration, dominance
//! pruning and the solvers together, for both objectives and both egress models.

use sky_core::resources::Resources;
use sky_core::{CloudId, Dag};
use sky_optimizer::{BlockList, EgressModel, Objective, Options, Plan, Solver, optimize};

use crate::support::*;

const REGIONS: [(CloudId, &str); 6] = [
    (CloudId::Aws, "us-east-1"),
    (CloudId::Aws, "us-west-2"),
    (CloudId::Gcp, "europe-west4"),
    (CloudId::Gcp, "us-central1"),
    (CloudId::Azure, "eastus"),
    (CloudId::Azure, "westeurope"),
];

fn request(k: u64) -> Resources {
    match k % 3 {
        0 => gpu("V100", 1.0),
        1 => cpus(8.0),
        _ => cpus(4.0),
    }
}

struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn build(reqs: &[Resources], gbs: &[f64], edges: &[(usize, usize)]) -> Dag {
    let tasks = reqs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let t = task(&format!("t{i}"), r.clone());
            if gbs[i] > 0.0 {
                with_outputs(t, gbs[i])
            } else {
                t
            }
        })
        .collect();
    dag(tasks, edges)
}

fn better(a: &Plan, b: &Plan, objective: Objective) -> bool {
    let less = |x: f64, y: f64| x < y - 1e-9 * (1.0 + x.abs().max(y.abs()));
    match objective {
        Objective::Cost => less(a.total_cost, b.total_cost),
        Objective::Time => {
            less(a.total_time_s, b.total_time_s)
                || (!less(b.total_time_s, a.total_time_s) && less(a.total_cost, b.total_cost))
        }
    }
}

#[test]
fn pinning_every_region_never_beats_the_optimizer() {
    let cats = all_three();
    let none = BlockList::new();
    for seed in 0..10u64 {
        let mut g = Lcg(seed * 7919 + 1);
        let n = 3;
        let reqs: Vec<Resources> = (0..n).map(|_| request(g.below(3))).collect();
        let gbs: Vec<f64> = (0..n)
            .map(|_| [0.0, 1.0, 20.0, 150.0][g.below(4) as usize])
            .collect();
        let mut edges = vec![(0, 1)];
        if g.below(2) == 0 {
            edges.push((0, 2));
        }
        if g.below(2) == 0 {
            edges.push((1, 2));
        }
        let d = build(&reqs, &gbs, &edges);
        for egress in [EgressModel::CrossCloud, EgressModel::InterRegion] {
            for objective in [Objective::Cost, Objective::Time] {
                for solver in [Solver::Auto, Solver::Microlp] {
                    let opts = Options::default().with_egress(egress).with_solver(solver);
                    let best = optimize(&d, &cats, &none, objective, &opts).unwrap();
                    let mut brute: Option<Plan> = None;
                    for combo in 0..REGIONS.len().pow(n as u32) {
                        let mut c = combo;
                        let pinned: Vec<Resources> = reqs
                            .iter()
                            .map(|r| {
                                let (cloud, region) = &REGIONS[c % REGIONS.len()];
                                c /= REGIONS.len();
                                in_region(on(r.clone(), cloud.clone()), region)
                            })
                            .collect();
                        let Ok(p) = optimize(
                            &build(&pinned, &gbs, &edges),
                            &cats,
                            &none,
                            objective,
                            &opts,
                        ) else {
                            continue;
                        };
                        if brute.as_ref().is_none_or(|b| better(&p, b, objective)) {
                            brute = Some(p);
                        }
                    }
                    let brute = brute.unwrap();
                    assert!(
                        !better(&brute, &best, objective) && !better(&best, &brute, objective),
                        "seed {seed} {egress:?} {objective} {solver:?}: optimizer {} $ / {} s, brute force {} $ / {} s",
                        best.total_cost,
                        best.total_time_s,
                        brute.total_cost,
                        brute.total_time_s
                    );
                }
            }
        }
    }
}
