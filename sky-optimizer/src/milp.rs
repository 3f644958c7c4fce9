//! The exact MILP for general DAGs, built with good_lp and solved by a named solver.
//!
//! Variables: a binary `x[t,j]` per task candidate (`Σ_j x[t,j] = 1`; a task with one
//! candidate gets the constant 1). Per edge that carries data, continuous cloud-to-cloud
//! flows `E[c,c'] ≥ 0` whose row sums are the parent's cloud shares `z[u,c] = Σ_{j∈c} x[u,j]`
//! and column sums the child's (the transportation form of `z[u]·z[v]ᵀ`, exact and with an
//! integral relaxation in practice). Under the inter-region model, also `S[r] ≥ 0` per region
//! both ends can use, with `S[r] ≤ zr[u,r]`, `S[r] ≤ zr[v,r]` and `Σ_{r∈c} S[r] ≤ E[c,c]`:
//! `S[r]` is 1 exactly when both ends are in `r`. Edge cost
//! `Σ_{c≠c'} cross[c]·E[c,c'] + intra·(Σ_c E[c,c] − Σ_r S[r])`; transfer time
//! `time·Σ_{c≠c'} E[c,c']` (cross-cloud) or `time·(1 − Σ_r S[r])` (inter-region).
//! The time objective adds finish times `f[v] ≥ f[u] + transfer(u,v) + runtime(v)`,
//! `f[v] ≥ input_time(v) + runtime(v)` and a makespan `M ≥ f[v]`; it is solved twice: minimize
//! `M`, then minimize cost subject to `M ≤ M*`.

use std::collections::BTreeMap;

use good_lp::{
    Constraint, Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable,
    constraint, variable,
};

use crate::error::OptimizeError;
use crate::options::Objective;
use crate::problem::{Problem, Score};

/// The MILP backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Microlp,
    #[cfg_attr(not(feature = "highs"), allow(dead_code))]
    Highs,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Microlp => "milp-microlp",
            Backend::Highs => "milp-highs",
        }
    }
}

/// What the model minimizes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Goal {
    Cost,
    Makespan,
    /// Cost, with the makespan capped.
    CostWithin(f64),
}

struct Model {
    vars: ProblemVariables,
    constraints: Vec<Constraint>,
    objective: Expression,
    /// Per task, per candidate: the variable (`None`: the task's only candidate).
    x: Vec<Vec<Option<Variable>>>,
}

/// Solves `p` exactly and returns one candidate index per task.
pub(crate) fn solve(p: &Problem, backend: Backend) -> Result<Vec<usize>, OptimizeError> {
    let mut assign = match p.objective {
        Objective::Cost => run(p, Goal::Cost, backend)?,
        Objective::Time => {
            let fastest = run(p, Goal::Makespan, backend)?;
            let s1 = p.evaluate(&fastest);
            let cap = s1.time + 1e-7 * (1.0 + s1.time);
            let cheapest = run(p, Goal::CostWithin(cap), backend)?;
            let s2 = p.evaluate(&cheapest);
            // Guard against solver tolerances: keep the second solution only if it is no
            // slower (beyond noise) and no dearer than the first.
            let ok = !Score {
                time: s1.time,
                cost: f64::INFINITY,
            }
            .better(&s2, Objective::Time)
                && !s1.better(&s2, Objective::Cost);
            if ok { cheapest } else { fastest }
        }
    };
    p.canonicalize(&mut assign);
    Ok(assign)
}

fn run(p: &Problem, goal: Goal, backend: Backend) -> Result<Vec<usize>, OptimizeError> {
    let model = build(p, goal);
    let Model {
        vars,
        constraints,
        objective,
        x,
    } = model;
    let failed = |e: ResolutionError| OptimizeError::SolverFailed {
        solver: backend.name().to_string(),
        message: e.to_string(),
    };
    let values: Vec<Vec<f64>> = match backend {
        Backend::Microlp => {
            let mut m = vars.minimise(objective).using(good_lp::microlp);
            for c in constraints {
                m.add_constraint(c);
            }
            let sol = m.solve().map_err(failed)?;
            read(&x, &sol)
        }
        Backend::Highs => {
            #[cfg(feature = "highs")]
            {
                let mut m = vars
                    .minimise(objective)
                    .using(good_lp::highs)
                    .set_threads(1)
                    .set_mip_rel_gap(0.0)
                    .map_err(|e| OptimizeError::SolverFailed {
                        solver: backend.name().to_string(),
                        message: e.to_string(),
                    })?;
                m.set_verbose(false);
                for c in constraints {
                    m.add_constraint(c);
                }
                let sol = m.solve().map_err(failed)?;
                read(&x, &sol)
            }
            #[cfg(not(feature = "highs"))]
            {
                let _ = (vars, constraints, objective, failed);
                return Err(crate::highs_unavailable());
            }
        }
    };
    Ok(values
        .iter()
        .map(|xs| {
            let mut arg = 0;
            for (j, &v) in xs.iter().enumerate() {
                if v > xs[arg] + 1e-6 {
                    arg = j;
                }
            }
            arg
        })
        .collect())
}

fn read(x: &[Vec<Option<Variable>>], sol: &impl Solution) -> Vec<Vec<f64>> {
    x.iter()
        .map(|xs| xs.iter().map(|v| v.map_or(1.0, |v| sol.value(v))).collect())
        .collect()
}

/// `x[t,j]` as an expression (a constant 1 for a task's only candidate).
fn xe(x: &[Vec<Option<Variable>>], t: usize, j: usize) -> Expression {
    match x[t][j] {
        Some(v) => v.into(),
        None => Expression::from(1.0),
    }
}

fn build(p: &Problem, goal: Goal) -> Model {
    let n = p.runtime.len();
    let mut vars = ProblemVariables::new();
    let mut constraints = Vec::new();
    let mut x: Vec<Vec<Option<Variable>>> = vec![Vec::new(); n];
    // Variables are created in canonical task order so the model does not depend on the
    // order of the DAG's tasks.
    for &t in &p.order {
        let k = p.cands[t].len();
        x[t] = (0..k)
            .map(|_| (k > 1).then(|| vars.add(variable().binary())))
            .collect();
        if k > 1 {
            let sum: Expression = x[t].iter().flatten().copied().sum();
            constraints.push(constraint!(sum == 1.0));
        }
    }

    let mut cost = Expression::default();
    for &t in &p.order {
        for (j, c) in p.cands[t].iter().enumerate() {
            cost.add_mul(c.cost + c.in_cost, xe(&x, t, j));
        }
    }

    let rank = {
        let mut r = vec![0; n];
        for (i, &t) in p.order.iter().enumerate() {
            r[t] = i;
        }
        r
    };
    let mut edge_order: Vec<usize> = (0..p.edges.len()).collect();
    edge_order.sort_by_key(|&i| (rank[p.edges[i].from], rank[p.edges[i].to]));

    let timed = goal != Goal::Cost;
    let mut transfer: Vec<Expression> = vec![Expression::default(); p.edges.len()];
    for &ei in &edge_order {
        let e = &p.edges[ei];
        if !e.carries_data() {
            continue;
        }
        let (u, v) = (e.from, e.to);
        let zu = shares(p, &x, u, |c| c.cloud);
        let zv = shares(p, &x, v, |c| c.cloud);
        // Cloud-level flows; constant when both ends have a single cloud.
        let mut flow: BTreeMap<(usize, usize), Expression> = BTreeMap::new();
        if zu.len() == 1 && zv.len() == 1 {
            let (cu, cv) = (
                *zu.keys().next().unwrap_or(&0),
                *zv.keys().next().unwrap_or(&0),
            );
            flow.insert((cu, cv), Expression::from(1.0));
        } else {
            let mut rows: BTreeMap<usize, Expression> = BTreeMap::new();
            let mut cols: BTreeMap<usize, Expression> = BTreeMap::new();
            for &cu in zu.keys() {
                for &cv in zv.keys() {
                    let f = vars.add(variable().min(0.0));
                    rows.entry(cu).or_default().add_mul(1.0, f);
                    cols.entry(cv).or_default().add_mul(1.0, f);
                    flow.insert((cu, cv), f.into());
                }
            }
            for (c, row) in rows {
                constraints.push(row.eq(zu[&c].clone()));
            }
            for (c, col) in cols {
                constraints.push(col.eq(zv[&c].clone()));
            }
        }
        let mut crossing = Expression::default();
        for ((cu, cv), f) in &flow {
            if cu != cv {
                cost.add_mul(e.cross[*cu], f.clone());
                crossing.add_mul(1.0, f.clone());
            }
        }
        if p.region_level {
            let ru = shares(p, &x, u, |c| c.region);
            let rv = shares(p, &x, v, |c| c.region);
            let cloud_of: BTreeMap<usize, usize> = p.cands[u]
                .iter()
                .chain(&p.cands[v])
                .map(|c| (c.region, c.cloud))
                .collect();
            let mut same = Expression::default();
            let mut same_by_cloud: BTreeMap<usize, Expression> = BTreeMap::new();
            for (r, zr) in &ru {
                let Some(zr_v) = rv.get(r) else { continue };
                let s = vars.add(variable().min(0.0));
                constraints.push(Expression::from(s).leq(zr.clone()));
                constraints.push(Expression::from(s).leq(zr_v.clone()));
                same.add_mul(1.0, s);
                same_by_cloud
                    .entry(cloud_of[r])
                    .or_default()
                    .add_mul(1.0, s);
            }
            for (c, s) in same_by_cloud {
                match flow.get(&(c, c)) {
                    Some(f) => constraints.push(s.leq(f.clone())),
                    None => constraints.push(s.leq(0.0)),
                }
            }
            // intra · (Σ_c E[c,c] − Σ_r S[r])
            for ((cu, cv), f) in &flow {
                if cu == cv {
                    cost.add_mul(e.intra, f.clone());
                }
            }
            cost.add_mul(-e.intra, same.clone());
            transfer[ei] = Expression::from(e.time) - same * e.time;
        } else {
            transfer[ei] = crossing * e.time;
        }
    }

    let objective = match goal {
        Goal::Cost => cost,
        Goal::Makespan | Goal::CostWithin(_) => {
            let finish: Vec<Variable> = {
                let mut f = vec![None; n];
                for &t in &p.order {
                    f[t] = Some(vars.add(variable().min(0.0)));
                }
                f.into_iter().flatten().collect()
            };
            let makespan = vars.add(variable().min(0.0));
            for &t in &p.order {
                let mut start = Expression::default();
                for (j, c) in p.cands[t].iter().enumerate() {
                    start.add_mul(c.in_time, xe(&x, t, j));
                }
                constraints.push(constraint!(finish[t] >= start + p.runtime[t]));
                constraints.push(constraint!(makespan >= finish[t]));
            }
            for &ei in &edge_order {
                let e = &p.edges[ei];
                let tr = std::mem::take(&mut transfer[ei]);
                constraints.push(constraint!(
                    finish[e.to] >= finish[e.from] + tr + p.runtime[e.to]
                ));
            }
            match goal {
                Goal::CostWithin(cap) => {
                    constraints.push(constraint!(makespan <= cap));
                    cost
                }
                _ => makespan.into(),
            }
        }
    };
    if timed {
        debug_assert!(matches!(goal, Goal::Makespan | Goal::CostWithin(_)));
    }
    Model {
        vars,
        constraints,
        objective,
        x,
    }
}

/// `Σ_{j: key(j)=k} x[t,j]` for every key `k` of task `t`'s candidates.
fn shares(
    p: &Problem,
    x: &[Vec<Option<Variable>>],
    t: usize,
    key: impl Fn(&crate::problem::Cand) -> usize,
) -> BTreeMap<usize, Expression> {
    let mut out: BTreeMap<usize, Expression> = BTreeMap::new();
    for (j, c) in p.cands[t].iter().enumerate() {
        out.entry(key(c)).or_default().add_mul(1.0, xe(x, t, j));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::testing::*;

    fn assert_optimal(p: &Problem, got: &[usize], what: &str) {
        let (_, best) = brute_force(p);
        let s = p.evaluate(got);
        assert!(
            !best.better(&s, p.objective) && !s.better(&best, p.objective),
            "{what}: got {s:?}, optimum {best:?}"
        );
    }

    #[test]
    fn milp_matches_brute_force_on_random_dags() {
        for seed in 0..120 {
            let n = 3 + (seed % 4) as usize;
            let edges = random_dag(seed, n, 3);
            for objective in [Objective::Cost, Objective::Time] {
                for region_level in [false, true] {
                    let p = random(seed, n, &edges, objective, region_level);
                    let got = solve(&p, Backend::Microlp).unwrap();
                    assert_optimal(
                        &p,
                        &got,
                        &format!("seed {seed} {objective} region={region_level} {edges:?}"),
                    );
                }
            }
        }
    }

    #[test]
    fn diamond_milp_sees_both_paths() {
        // 0 -> {1, 2} -> 3: the join must weigh both incoming transfers.
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3)];
        for seed in 0..60 {
            for objective in [Objective::Cost, Objective::Time] {
                let p = random(seed, 4, &edges, objective, false);
                let got = solve(&p, Backend::Microlp).unwrap();
                assert_optimal(&p, &got, &format!("diamond seed {seed} {objective}"));
            }
        }
    }

    #[cfg(feature = "highs")]
    #[test]
    fn highs_matches_brute_force() {
        for seed in 0..60 {
            let n = 3 + (seed % 4) as usize;
            let edges = random_dag(seed, n, 3);
            for objective in [Objective::Cost, Objective::Time] {
                let p = random(seed, n, &edges, objective, seed % 2 == 1);
                let got = solve(&p, Backend::Highs).unwrap();
                assert_optimal(&p, &got, &format!("highs seed {seed} {objective}"));
            }
        }
    }
}
