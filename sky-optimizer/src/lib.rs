//! # sky-optimizer
//!
//! Chooses where each task of a [`sky_core::Dag`] runs: the cheapest (or fastest) placement
//! the catalogs allow, exactly. Pure and deterministic: no async, no I/O, no clock, no
//! randomness; the same inputs give the same [`Plan`], byte for byte.
//!
//! ```text
//! optimize(&Dag, &Catalogs, &BlockList, Objective, &Options) -> Result<Plan, OptimizeError>
//! ```
//!
//! # Algorithm
//!
//! This follows SkyPilot's optimizer (NSDI'23, `sky/optimizer.py`) and departs from it
//! where it is inexact.
//!
//! 1. **Candidates.** For every task and every resource alternative
//!    ([`ResourceSet::alternatives`](sky_core::ResourceSet)), every enabled catalog (only
//!    `Resources::cloud` when set; [`Options::clouds`] may restrict them) is asked for its
//!    feasible offerings ([`Catalog::offerings`](sky_core::catalog::Catalog::offerings)).
//!    Offerings matched by the [`BlockList`] are dropped. Granularity follows failover: one
//!    candidate per **zone** where the cloud optimizes by zone
//!    ([`Catalog::optimize_by_zone`](sky_core::catalog::Catalog::optimize_by_zone)), for
//!    spot, or when a zone is pinned; otherwise one per **region** (the region's zones
//!    collapse into one candidate priced at the cheapest zone, and the zones are kept in
//!    [`TaskPlacement::zones`] for failover). With `ordered` alternatives the first one that
//!    has any non-blocked candidate is the only one optimized. SkyPilot keeps only the
//!    cheapest instance type per cloud; sky keeps every feasible one, so its plans are never
//!    costlier. Catalog answers are cached per distinct request within one call.
//! 2. **Costs.** A task on a candidate costs `hourly_price × runtime / 3600 s × num_nodes`
//!    (runtime: `Task::estimated_runtime`, default 3600 s; the price already includes a
//!    separately priced GPU). Data on a DAG edge is the parent's `outputs` size; a source
//!    task (no parents) with `inputs` whose URI names a cloud ([`cloud_of_uri`]) pulls them
//!    from that cloud. See [egress models](#egress-models).
//! 3. **Objectives.** [`Objective::Cost`]: total compute plus egress dollars.
//!    [`Objective::Time`]: the finish time of the last task, `finish[v] = max(input transfer,
//!    max over parents (finish[u] + transfer(u, v))) + runtime(v)`; runtimes do not depend
//!    on the candidate (there is no per-resource estimator yet), so transfers make the
//!    difference. Ties in time are broken by cost: the order is lexicographic (time, cost).
//! 4. **Pruning.** Transfers depend only on a candidate's *location class*: its cloud under
//!    [`EgressModel::CrossCloud`], its (cloud, region) under [`EgressModel::InterRegion`]. So
//!    only the cheapest candidate per (task, class) can be optimal, and only those go to the
//!    solver: at most a handful per task under the default model, at any DAG size. Under the
//!    inter-region model with the cost objective, a region whose price exceeds the cloud's
//!    cheapest by more than the inter-region charge of all the task's edges is dropped too.
//! 5. **Solve.**
//!    - *Dynamic programming* where it is exact: the cost objective on any forest (every
//!      weakly connected component is a tree, [`Dag::is_forest`](sky_core::Dag::is_forest);
//!      each component is rooted at its first task and solved bottom-up,
//!      `best[v][j] = cost(v, j) + Σ_children min_k (best[w][k] + egress(v, j, w, k))`), and
//!      the time objective on a chain (time and cost both add up along a chain). A makespan
//!      over a branching tree is a maximum, not a sum, and its cost tie-break does not
//!      decompose, so other time problems go to the MILP.
//!    - *MILP* otherwise, through good_lp with the solver named explicitly: microlp by
//!      default, HiGHS with the `highs` feature and [`Solver::Highs`]. The formulation (binary
//!      choice per candidate, cloud-to-cloud transportation flows per edge, same-region
//!      indicators for the inter-region model, finish-time variables for time; the time
//!      objective solves twice: fastest, then cheapest among the fastest) is in the `milp`
//!      module's docs. The measurements in sky's `ECOSYSTEM.md` showed that this aggregated
//!      transportation form has an integral LP relaxation in practice, while SkyPilot's
//!      per-candidate-pair form is one to two orders of magnitude slower.
//!
//! [`Plan::solver`] says which ran: `"dp"`, `"milp-microlp"` or `"milp-highs"`.
//!
//! # Egress models
//!
//! - [`EgressModel::CrossCloud`] (default, SkyPilot's): moving `gb` between clouds costs the
//!   *source* cloud's [`Catalog::egress_cost`](sky_core::catalog::Catalog::egress_cost)`(gb)`
//!   and takes `gb × 8 / 10` s (10 Gbps, [`Options::bandwidth_gbps`]); within a cloud it is
//!   free and instant, whatever the regions. Inputs from a cloud whose catalog is not loaded
//!   use [`sky_core::catalog::egress_cost`] (SkyPilot's list prices with monotone tiers).
//! - [`EgressModel::InterRegion`]: the same across clouds, plus
//!   [`Options::inter_region_usd_per_gb`] (0.02 $/GB by default) and the same transfer time
//!   between two regions of one cloud; free within a region. An input URI names only a cloud,
//!   so inputs are charged across clouds only.
//!
//! `num_nodes` does not multiply egress (as in SkyPilot).
//!
//! # Determinism
//!
//! - Candidates are sorted into a total order — (price, cloud, region, zone, instance type,
//!   accelerator, market, alternative index) — before anything else, so catalog row order
//!   does not matter; catalogs are kept in a `BTreeMap`; no `HashMap` order reaches a result.
//! - Tasks are processed in a canonical order (by name, then index), so permuting the DAG's
//!   tasks gives the same placements per task name.
//! - DP keeps the first of equal candidates (strict `<` with a relative tolerance of 1e-9 for
//!   float noise). After the MILP, a canonicalization pass moves each task (in canonical
//!   order) to the earliest candidate that does not make the plan worse, so the MILP prefers
//!   the same candidates the DP does.
//! - [`Solver::Auto`] never picks HiGHS, even when the `highs` feature is on, so a plan does
//!   not depend on which features other crates in the build enabled.
//!
//! # Dependencies
//!
//! The optimizer depends on `sky-core` (types and the catalog trait), `good_lp` with
//! `microlp`, `serde`/`serde_json` and `thiserror`: no HTTP client and no async runtime of
//! its own (the `dependencies` integration test checks `cargo tree`).

mod block;
mod candidates;
mod dp;
mod egress;
mod error;
mod milp;
mod options;
mod plan;
mod problem;
mod render;

use std::collections::{BTreeMap, BTreeSet};

use sky_core::catalog::Catalogs;
use sky_core::{CloudId, Dag};

pub use block::{Block, BlockList};
pub use egress::cloud_of_uri;
pub use error::{OptimizeError, OptimizeErrorKind};
pub use options::{EgressModel, Objective, Options, Solver};
pub use plan::{Considered, ConsideredRow, EgressLeg, Plan, TaskPlacement};

use candidates::{Enumerator, Launchable, acc_key, cmp_launchables};
use egress::Pricer;
use milp::Backend;
use plan::tidy;
use problem::{Cand, Edge, Problem};

/// The default estimated runtime of a task: one hour (SkyPilot's).
pub const DEFAULT_RUNTIME_S: f64 = 3600.0;

pub(crate) fn highs_unavailable() -> OptimizeError {
    OptimizeError::SolverUnavailable {
        solver: "highs".into(),
        message: "sky-optimizer was built without the `highs` feature (it needs cmake, \
                  libclang-dev and a C++ compiler); use Solver::Auto or Solver::Microlp"
            .into(),
    }
}

/// The name a task goes by in plans and messages: its own, or `task-<index>`.
pub fn task_name(dag: &Dag, index: usize) -> String {
    dag.tasks()
        .get(index)
        .and_then(|t| t.name.clone())
        .unwrap_or_else(|| format!("task-{index}"))
}

/// Places every task of `dag` on the cheapest ([`Objective::Cost`]) or fastest
/// ([`Objective::Time`]) launchable the `catalogs` offer, excluding what `blocked` names.
///
/// See the [crate docs](crate) for the algorithm, the egress models and the determinism
/// guarantees.
///
/// # Errors
/// - [`OptimizeError::ResourcesUnavailable`] when a task fits nowhere, with the reasons per
///   cloud (catalog hints, blocked candidates) and did-you-mean accelerator suggestions;
/// - [`OptimizeError::NoCloudEnabled`], [`OptimizeError::EmptyDag`],
///   [`OptimizeError::InvalidTask`], [`OptimizeError::InvalidOptions`] for unusable input;
/// - [`OptimizeError::SolverUnavailable`] for [`Solver::Highs`] without the `highs` feature.
pub fn optimize(
    dag: &Dag,
    catalogs: &Catalogs,
    blocked: &BlockList,
    objective: Objective,
    options: &Options,
) -> Result<Plan, OptimizeError> {
    if dag.is_empty() {
        return Err(OptimizeError::EmptyDag);
    }
    check_options(options)?;
    let clouds: Vec<CloudId> = catalogs
        .clouds()
        .into_iter()
        .filter(|c| {
            options
                .clouds
                .as_ref()
                .is_none_or(|allowed| allowed.contains(c))
        })
        .collect();
    if clouds.is_empty() {
        let have = catalogs.clouds();
        return Err(OptimizeError::NoCloudEnabled {
            message: format!(
                "catalogs loaded for [{}], options allow [{}]",
                join(&have),
                options
                    .clouds
                    .as_ref()
                    .map_or("any".to_string(), |c| join(c))
            ),
        });
    }
    if options.solver == Solver::Highs && !cfg!(feature = "highs") {
        return Err(highs_unavailable());
    }

    let names: Vec<String> = (0..dag.len()).map(|i| task_name(dag, i)).collect();
    for (i, task) in dag.tasks().iter().enumerate() {
        check_task(task, &names[i])?;
    }

    let mut enumerator = Enumerator::new(catalogs, &clouds, blocked);
    let mut per_task = Vec::with_capacity(dag.len());
    for (i, task) in dag.tasks().iter().enumerate() {
        per_task.push(enumerator.task(task, &names[i])?);
    }

    let pricer = Pricer::new(catalogs, options);
    let region_level = pricer.model() == EgressModel::InterRegion;
    let runtime: Vec<f64> = dag
        .tasks()
        .iter()
        .map(|t| {
            t.estimated_runtime
                .map_or(DEFAULT_RUNTIME_S, |d| d.as_secs_f64())
        })
        .collect();
    let out_gb: Vec<f64> = dag
        .tasks()
        .iter()
        .map(|t| t.outputs.as_ref().map_or(0.0, |o| o.size_gb))
        .collect();

    // The solver's candidates: cheapest per location class.
    let mut launchables: Vec<Vec<Launchable>> =
        per_task.iter().map(|c| c.pruned(region_level)).collect();
    if region_level {
        let scale: Vec<f64> = dag
            .tasks()
            .iter()
            .enumerate()
            .map(|(t, task)| runtime[t] / 3600.0 * f64::from(task.num_nodes))
            .collect();
        prune_regions(&mut launchables, dag, &out_gb, &pricer, objective, &scale);
    }

    let cloud_index: BTreeMap<&CloudId, usize> =
        clouds.iter().enumerate().map(|(i, c)| (c, i)).collect();
    let region_index: BTreeMap<(usize, &str), usize> = {
        let mut keys: Vec<(usize, &str)> = launchables
            .iter()
            .flatten()
            .map(|l| (cloud_index[&l.offering.cloud], l.offering.region.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter().enumerate().map(|(i, k)| (k, i)).collect()
    };

    let mut parents = vec![0usize; dag.len()];
    for &(_, b) in dag.edges() {
        parents[b] += 1;
    }
    let cands: Vec<Vec<Cand>> = launchables
        .iter()
        .enumerate()
        .map(|(t, ls)| {
            let task = &dag.tasks()[t];
            let input = task
                .inputs
                .as_ref()
                .filter(|_| parents[t] == 0)
                .and_then(|i| cloud_of_uri(&i.uri).map(|c| (c, i.size_gb)))
                .filter(|(_, gb)| *gb > 0.0);
            ls.iter()
                .map(|l| {
                    let cloud = cloud_index[&l.offering.cloud];
                    let (in_cost, in_time) = match &input {
                        Some((src, gb)) if *src != l.offering.cloud => {
                            (pricer.cross_cloud(src, *gb), pricer.transfer_time(*gb))
                        }
                        _ => (0.0, 0.0),
                    };
                    Cand {
                        cost: l.offering.hourly_price * runtime[t] / 3600.0
                            * f64::from(task.num_nodes),
                        cloud,
                        region: region_index[&(cloud, l.offering.region.as_str())],
                        in_cost,
                        in_time,
                    }
                })
                .collect()
        })
        .collect();

    let edges: Vec<Edge> = dag
        .edges()
        .iter()
        .map(|&(from, to)| {
            let gb = out_gb[from];
            Edge {
                from,
                to,
                time: if gb > 0.0 {
                    pricer.transfer_time(gb)
                } else {
                    0.0
                },
                cross: clouds.iter().map(|c| pricer.cross_cloud(c, gb)).collect(),
                intra: pricer.inter_region(gb),
            }
        })
        .collect();

    let mut order: Vec<usize> = (0..dag.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]).then(a.cmp(&b)));

    let problem = Problem::new(
        objective,
        region_level,
        runtime.clone(),
        cands,
        edges,
        order,
    );

    let (assign, solver) = match options.solver {
        Solver::Auto => {
            let forest = dag.is_forest();
            if forest && (objective == Objective::Cost || problem.time_is_fixed()) {
                (dp::forest_cost(&problem), "dp")
            } else if objective == Objective::Time && dag.is_chain() {
                (dp::chain_time(&problem), "dp")
            } else {
                (
                    milp::solve(&problem, Backend::Microlp)?,
                    Backend::Microlp.name(),
                )
            }
        }
        Solver::Microlp => (
            milp::solve(&problem, Backend::Microlp)?,
            Backend::Microlp.name(),
        ),
        Solver::Highs => (
            milp::solve(&problem, Backend::Highs)?,
            Backend::Highs.name(),
        ),
    };

    let model = Model {
        dag,
        names: &names,
        objective,
        problem: &problem,
        launchables: &launchables,
        per_task: &per_task,
        enumerator: &enumerator,
        out_gb: &out_gb,
    };
    Ok(model.plan(solver, &assign))
}

/// Dominance pruning for the inter-region model. Moving task `t` from region `r` of a cloud
/// to the cloud's cheapest region saves its price difference and can only lose on edges whose
/// other end may also be in `r` (at most their inter-region charge). So for the cost objective
/// a region dearer than the cheapest by more than that slack is never optimal; for the time
/// objective, a dearer region that no data partner can share is never optimal either.
/// Repeated until nothing changes, since each removal can shrink other tasks' slack.
fn prune_regions(
    ls: &mut [Vec<Launchable>],
    dag: &Dag,
    out_gb: &[f64],
    pricer: &Pricer<'_>,
    objective: Objective,
    scale: &[f64],
) {
    let mut partners: Vec<Vec<(usize, f64)>> = vec![Vec::new(); ls.len()];
    for &(a, b) in dag.edges() {
        if out_gb[a] > 0.0 {
            let charge = pricer.inter_region(out_gb[a]);
            partners[a].push((b, charge));
            partners[b].push((a, charge));
        }
    }
    loop {
        let regions: Vec<BTreeSet<(CloudId, String)>> = ls
            .iter()
            .map(|v| {
                v.iter()
                    .map(|l| (l.offering.cloud.clone(), l.offering.region.clone()))
                    .collect()
            })
            .collect();
        let mut changed = false;
        for (t, cands) in ls.iter_mut().enumerate() {
            let mut cheapest: BTreeMap<CloudId, f64> = BTreeMap::new();
            for l in cands.iter() {
                cheapest
                    .entry(l.offering.cloud.clone())
                    .or_insert(l.offering.hourly_price);
            }
            let before = cands.len();
            cands.retain(|l| {
                let key = (l.offering.cloud.clone(), l.offering.region.clone());
                let (mut slack, mut shared) = (0.0, false);
                for &(w, charge) in &partners[t] {
                    if regions[w].contains(&key) {
                        slack += charge;
                        shared = true;
                    }
                }
                let extra = (l.offering.hourly_price - cheapest[&l.offering.cloud]) * scale[t];
                match objective {
                    Objective::Cost => extra <= slack * (1.0 + 1e-9) + 1e-12,
                    Objective::Time => shared || extra <= 1e-12,
                }
            });
            changed |= cands.len() != before;
        }
        if !changed {
            return;
        }
    }
}

/// What [`optimize`] built for the solver: the DAG, each task's candidates (all of them, and
/// the pruned ones the solver chose among) and the problem over them. A [`Plan`] is read
/// from it once the solver has picked one candidate per task.
struct Model<'a> {
    dag: &'a Dag,
    names: &'a [String],
    objective: Objective,
    problem: &'a Problem,
    launchables: &'a [Vec<Launchable>],
    per_task: &'a [candidates::TaskCandidates],
    enumerator: &'a Enumerator<'a>,
    out_gb: &'a [f64],
}

impl Model<'_> {
    /// The plan for `assign` (task `t` runs on `launchables[t][assign[t]]`), found by `solver`.
    fn plan(&self, solver: &str, assign: &[usize]) -> Plan {
        let Model {
            dag,
            names,
            objective,
            problem,
            launchables,
            per_task,
            enumerator,
            out_gb,
        } = *self;
        let score = problem.evaluate(assign);
        let finish = problem.finish_times(assign);
        let chosen: Vec<&Launchable> = assign
            .iter()
            .enumerate()
            .map(|(t, &j)| &launchables[t][j])
            .collect();

        let placements = chosen
            .iter()
            .enumerate()
            .map(|(t, l)| {
                let task = &dag.tasks()[t];
                let o = &l.offering;
                TaskPlacement {
                    task: names[t].clone(),
                    task_index: t,
                    resources_index: l.resources_index,
                    cloud: o.cloud.clone(),
                    region: o.region.clone(),
                    zone: o.zone.clone(),
                    zones: enumerator.zones(task, l),
                    instance_type: o.instance_type.clone(),
                    accelerators: o.accelerator.clone(),
                    vcpus: o.vcpus,
                    memory_gib: o.memory_gib,
                    use_spot: o.spot,
                    num_nodes: task.num_nodes,
                    hourly_price: tidy(o.hourly_price),
                    accelerator_hourly_price: tidy(o.accelerator_hourly_price),
                    cost: tidy(problem.cands[t][assign[t]].cost),
                    runtime_s: tidy(problem.runtime[t]),
                    start_s: tidy(finish[t] - problem.runtime[t]),
                    finish_s: tidy(finish[t]),
                }
            })
            .collect();

        let mut egress = Vec::new();
        for e in &problem.edges {
            let gb = out_gb[e.from];
            if gb <= 0.0 {
                continue;
            }
            let (a, b) = (
                &problem.cands[e.from][assign[e.from]],
                &problem.cands[e.to][assign[e.to]],
            );
            let (time_s, cost) = problem.pair(e, a, b);
            egress.push(EgressLeg {
                from: names[e.from].clone(),
                to: names[e.to].clone(),
                from_cloud: Some(chosen[e.from].offering.cloud.clone()),
                to_cloud: chosen[e.to].offering.cloud.clone(),
                gb: tidy(gb),
                cost: tidy(cost),
                time_s: tidy(time_s),
            });
        }
        for (t, task) in dag.tasks().iter().enumerate() {
            let Some(input) = &task.inputs else { continue };
            if !problem.in_edges[t].is_empty() || input.size_gb <= 0.0 {
                continue;
            }
            let c = &problem.cands[t][assign[t]];
            egress.push(EgressLeg {
                from: input.uri.clone(),
                to: names[t].clone(),
                from_cloud: cloud_of_uri(&input.uri),
                to_cloud: chosen[t].offering.cloud.clone(),
                gb: tidy(input.size_gb),
                cost: tidy(c.in_cost),
                time_s: tidy(c.in_time),
            });
        }

        let considered = per_task
            .iter()
            .enumerate()
            .map(|(t, c)| {
                let task = &dag.tasks()[t];
                let scale = problem.runtime[t] / 3600.0 * f64::from(task.num_nodes);
                let pick = chosen[t];
                let group = |l: &Launchable| {
                    (
                        l.offering.cloud.clone(),
                        acc_key(&l.offering),
                        l.offering.spot,
                    )
                };
                let mut rows: Vec<(Launchable, bool)> = c
                    .groups()
                    .into_iter()
                    .filter(|l| group(l) != group(pick))
                    .map(|l| (l, false))
                    .collect();
                rows.push((pick.clone(), true));
                rows.sort_by(|a, b| cmp_launchables(&a.0, &b.0));
                Considered {
                    task: names[t].clone(),
                    num_nodes: task.num_nodes,
                    rows: rows
                        .into_iter()
                        .map(|(l, chosen)| {
                            let o = l.offering;
                            ConsideredRow {
                                cost: tidy(o.hourly_price * scale),
                                hourly_price: tidy(o.hourly_price),
                                cloud: o.cloud,
                                instance_type: o.instance_type,
                                vcpus: o.vcpus,
                                memory_gib: o.memory_gib,
                                accelerators: o.accelerator,
                                region: o.region,
                                zone: o.zone,
                                use_spot: o.spot,
                                chosen,
                            }
                        })
                        .collect(),
                }
            })
            .collect();

        Plan {
            objective,
            solver: solver.to_string(),
            total_cost: tidy(score.cost),
            total_time_s: tidy(score.time),
            placements,
            egress,
            considered,
        }
    }
}

fn join(clouds: &[CloudId]) -> String {
    clouds
        .iter()
        .map(CloudId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_options(o: &Options) -> Result<(), OptimizeError> {
    let bad = |message: String| Err(OptimizeError::InvalidOptions { message });
    if !(o.bandwidth_gbps.is_finite() && o.bandwidth_gbps > 0.0) {
        return bad(format!(
            "bandwidth_gbps must be a positive number, not {}",
            o.bandwidth_gbps
        ));
    }
    if !(o.inter_region_usd_per_gb.is_finite() && o.inter_region_usd_per_gb >= 0.0) {
        return bad(format!(
            "inter_region_usd_per_gb must be a non-negative number, not {}",
            o.inter_region_usd_per_gb
        ));
    }
    Ok(())
}

fn check_task(task: &sky_core::Task, name: &str) -> Result<(), OptimizeError> {
    let bad = |message: String| {
        Err(OptimizeError::InvalidTask {
            task: name.to_string(),
            message,
        })
    };
    if task.num_nodes == 0 {
        return bad("num_nodes must be at least 1".into());
    }
    if task.resources.alternatives.is_empty() {
        return bad("the task has no resource alternatives".into());
    }
    for (what, data) in [("inputs", &task.inputs), ("outputs", &task.outputs)] {
        if let Some(d) = data
            && !(d.size_gb.is_finite() && d.size_gb >= 0.0)
        {
            return bad(format!(
                "{what} size must be a non-negative number of GB, not {}",
                d.size_gb
            ));
        }
    }
    Ok(())
}
