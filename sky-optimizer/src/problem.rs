//! The solver-facing problem: per task a short list of candidates (already enumerated,
//! blocked, sorted and pruned), per edge the transfer prices. Catalog-free, so the solvers
//! can be tested on random instances.

use crate::options::Objective;

/// One placement a task may take, as the solvers see it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cand {
    /// Compute cost of the task on this candidate (all nodes, whole runtime).
    pub cost: f64,
    /// Interned cloud (index into the problem's cloud list).
    pub cloud: usize,
    /// Interned (cloud, region).
    pub region: usize,
    /// Cost of pulling the task's inputs here (source tasks only).
    pub in_cost: f64,
    /// Seconds to pull the task's inputs here.
    pub in_time: f64,
}

/// A DAG edge `from -> to` carrying `from`'s outputs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Edge {
    pub from: usize,
    pub to: usize,
    /// Seconds the transfer takes when it is charged (0 for an edge without data).
    pub time: f64,
    /// Cost when the data crosses clouds, by source cloud.
    pub cross: Vec<f64>,
    /// Cost when the data crosses regions inside one cloud (0 under the cross-cloud model).
    pub intra: f64,
}

impl Edge {
    /// Whether the edge can cost anything or take any time.
    pub fn carries_data(&self) -> bool {
        self.time > 0.0 || self.intra > 0.0 || self.cross.iter().any(|&c| c > 0.0)
    }
}

/// A placement problem. Candidates of each task are in preference order (cheapest first,
/// then the stable key), so "first" is the deterministic tie-break everywhere.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    pub objective: Objective,
    /// Whether regions matter to transfers (the inter-region egress model).
    pub region_level: bool,
    pub runtime: Vec<f64>,
    pub cands: Vec<Vec<Cand>>,
    pub edges: Vec<Edge>,
    /// Canonical task order (by name): the order in which models are built and ties broken,
    /// so that permuting the DAG's tasks does not change the plan.
    pub order: Vec<usize>,
    /// A topological order.
    pub topo: Vec<usize>,
    /// Edge indices into each task.
    pub in_edges: Vec<Vec<usize>>,
    /// Edge indices out of each task.
    pub out_edges: Vec<Vec<usize>>,
}

/// The value of a plan: makespan in seconds and total cost in dollars.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Score {
    pub time: f64,
    pub cost: f64,
}

/// `a < b` beyond rounding noise.
pub(crate) fn less(a: f64, b: f64) -> bool {
    a < b - 1e-9 * (1.0 + a.abs().max(b.abs()))
}

impl Score {
    /// Strictly better under `objective` (cost: cost only; time: time, then cost).
    pub fn better(&self, other: &Score, objective: Objective) -> bool {
        match objective {
            Objective::Cost => less(self.cost, other.cost),
            Objective::Time => {
                less(self.time, other.time)
                    || (!less(other.time, self.time) && less(self.cost, other.cost))
            }
        }
    }
}

impl Problem {
    /// Builds the index structures. `order` is the canonical task order.
    pub fn new(
        objective: Objective,
        region_level: bool,
        runtime: Vec<f64>,
        cands: Vec<Vec<Cand>>,
        edges: Vec<Edge>,
        order: Vec<usize>,
    ) -> Self {
        let n = runtime.len();
        let mut in_edges = vec![Vec::new(); n];
        let mut out_edges = vec![Vec::new(); n];
        let mut indeg = vec![0usize; n];
        for (i, e) in edges.iter().enumerate() {
            in_edges[e.to].push(i);
            out_edges[e.from].push(i);
            indeg[e.to] += 1;
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut topo = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            topo.push(i);
            for &ei in &out_edges[i] {
                let c = edges[ei].to;
                indeg[c] -= 1;
                if indeg[c] == 0 {
                    ready.insert(c);
                }
            }
        }
        Problem {
            objective,
            region_level,
            runtime,
            cands,
            edges,
            order,
            topo,
            in_edges,
            out_edges,
        }
    }

    /// (seconds, dollars) of moving edge `e`'s data from candidate `a` to candidate `b`.
    pub fn pair(&self, e: &Edge, a: &Cand, b: &Cand) -> (f64, f64) {
        if a.cloud != b.cloud {
            (e.time, e.cross[a.cloud])
        } else if self.region_level && a.region != b.region {
            (e.time, e.intra)
        } else {
            (0.0, 0.0)
        }
    }

    /// The finish time of every task under `assign`.
    pub fn finish_times(&self, assign: &[usize]) -> Vec<f64> {
        let mut finish = vec![0.0f64; self.runtime.len()];
        for &v in &self.topo {
            let cv = &self.cands[v][assign[v]];
            let mut start = cv.in_time;
            for &ei in &self.in_edges[v] {
                let e = &self.edges[ei];
                let cu = &self.cands[e.from][assign[e.from]];
                start = start.max(finish[e.from] + self.pair(e, cu, cv).0);
            }
            finish[v] = start + self.runtime[v];
        }
        finish
    }

    /// Makespan and total cost of `assign` (one candidate index per task).
    pub fn evaluate(&self, assign: &[usize]) -> Score {
        let mut cost = 0.0;
        for (t, &j) in assign.iter().enumerate() {
            cost += self.cands[t][j].cost + self.cands[t][j].in_cost;
        }
        for e in &self.edges {
            let (a, b) = (
                &self.cands[e.from][assign[e.from]],
                &self.cands[e.to][assign[e.to]],
            );
            cost += self.pair(e, a, b).1;
        }
        let time = self.finish_times(assign).into_iter().fold(0.0f64, f64::max);
        Score { time, cost }
    }

    /// Whether no placement choice can change any task's timing: then minimizing time is
    /// minimizing cost with a fixed makespan.
    pub fn time_is_fixed(&self) -> bool {
        self.edges.iter().all(|e| e.time == 0.0)
            && self
                .cands
                .iter()
                .all(|cs| cs.iter().all(|c| c.in_time == cs[0].in_time))
    }

    /// Moves tasks (in canonical order) to earlier candidates while that does not make the
    /// plan worse, until nothing moves: a deterministic tie-break on top of any optimal
    /// solution, so the MILP prefers the same candidates the DP does.
    pub fn canonicalize(&self, assign: &mut [usize]) {
        if self.objective == Objective::Cost {
            return self.canonicalize_cost(assign);
        }
        let mut best = self.evaluate(assign);
        loop {
            let mut moved = false;
            for &t in &self.order {
                let current = assign[t];
                for j in 0..current {
                    assign[t] = j;
                    let s = self.evaluate(assign);
                    if !best.better(&s, self.objective) {
                        best = s;
                        moved = true;
                        break;
                    }
                    assign[t] = current;
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// [`Problem::canonicalize`] for the cost objective, with incremental evaluation.
    fn canonicalize_cost(&self, assign: &mut [usize]) {
        let total = self.evaluate(assign).cost;
        loop {
            let mut moved = false;
            for &t in &self.order {
                let here = self.local_cost(assign, t, assign[t]);
                for j in 0..assign[t] {
                    let there = self.local_cost(assign, t, j);
                    if !less(total + here, total + there) {
                        assign[t] = j;
                        moved = true;
                        break;
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// The part of the total cost that depends on task `t` taking candidate `j`.
    fn local_cost(&self, assign: &[usize], t: usize, j: usize) -> f64 {
        let c = &self.cands[t][j];
        let mut cost = c.cost + c.in_cost;
        for &ei in &self.in_edges[t] {
            let e = &self.edges[ei];
            cost += self.pair(e, &self.cands[e.from][assign[e.from]], c).1;
        }
        for &ei in &self.out_edges[t] {
            let e = &self.edges[ei];
            cost += self.pair(e, c, &self.cands[e.to][assign[e.to]]).1;
        }
        cost
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Random problems and an exhaustive oracle for the solver tests.

    use super::*;

    /// Every assignment, in lexicographic order over the canonical task order; the first
    /// strictly best one wins.
    pub fn brute_force(p: &Problem) -> (Vec<usize>, Score) {
        let n = p.runtime.len();
        let mut assign = vec![0usize; n];
        let mut best = (assign.clone(), p.evaluate(&assign));
        loop {
            // Advance the odometer, last canonical task fastest.
            let mut k = n;
            loop {
                if k == 0 {
                    return best;
                }
                k -= 1;
                let t = p.order[k];
                assign[t] += 1;
                if assign[t] < p.cands[t].len() {
                    break;
                }
                assign[t] = 0;
            }
            let s = p.evaluate(&assign);
            if s.better(&best.1, p.objective) {
                best = (assign.clone(), s);
            }
        }
    }

    /// A small deterministic generator (SplitMix64) so tests need no RNG crate.
    pub struct Gen(pub u64);

    impl Gen {
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A random problem on the given edges. Prices are small integers so ties are common.
    pub fn random(
        seed: u64,
        n: usize,
        edges: &[(usize, usize)],
        objective: Objective,
        region_level: bool,
    ) -> Problem {
        let mut g = Gen(seed);
        let n_clouds = 3;
        let cands: Vec<Vec<Cand>> = (0..n)
            .map(|t| {
                let k = 1 + g.below(4) as usize;
                let mut cs: Vec<Cand> = (0..k)
                    .map(|_| {
                        let cloud = g.below(n_clouds as u64) as usize;
                        let region = cloud * 10 + g.below(3) as usize;
                        let source = !edges.iter().any(|e| e.1 == t);
                        let input = source && g.below(3) == 0;
                        Cand {
                            cost: (1 + g.below(9)) as f64,
                            cloud,
                            region,
                            in_cost: if input { g.below(4) as f64 } else { 0.0 },
                            in_time: if input { (g.below(3) * 40) as f64 } else { 0.0 },
                        }
                    })
                    .collect();
                cs.sort_by(|a, b| a.cost.total_cmp(&b.cost));
                cs
            })
            .collect();
        let edges: Vec<Edge> = edges
            .iter()
            .map(|&(from, to)| {
                let gb = g.below(4) as f64 * 25.0;
                Edge {
                    from,
                    to,
                    time: gb * 0.8,
                    cross: (0..n_clouds)
                        .map(|c| gb * [0.12, 0.09, 0.0875][c])
                        .collect(),
                    intra: if region_level { gb * 0.02 } else { 0.0 },
                }
            })
            .collect();
        let runtime = (0..n).map(|_| (1 + g.below(3)) as f64 * 600.0).collect();
        // A canonical order that differs from index order, as names would give.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&t| (t * 7 + 3) % n.max(1));
        Problem::new(objective, region_level, runtime, cands, edges, order)
    }

    /// Random forward edges over `n` tasks (no duplicates), so the DAG may have diamonds.
    pub fn random_dag(seed: u64, n: usize, extra: usize) -> Vec<(usize, usize)> {
        let mut g = Gen(seed ^ 0xD1B5_4A32_D192_ED03);
        let mut edges = Vec::new();
        for v in 1..n {
            if g.below(4) != 0 {
                edges.push((g.below(v as u64) as usize, v));
            }
        }
        for _ in 0..extra {
            let a = g.below(n as u64) as usize;
            let b = g.below(n as u64) as usize;
            let (a, b) = (a.min(b), a.max(b));
            if a != b && !edges.contains(&(a, b)) {
                edges.push((a, b));
            }
        }
        edges
    }

    /// A random forest (each task has at most one parent, or at most one child).
    pub fn random_tree(seed: u64, n: usize) -> Vec<(usize, usize)> {
        let mut g = Gen(seed ^ 0x94D0_49BB_1331_11EB);
        (1..n)
            .filter_map(|v| {
                if g.below(6) == 0 {
                    return None;
                }
                let u = g.below(v as u64) as usize;
                // Mix in-trees and out-trees: the edge goes either way.
                Some(if g.below(2) == 0 { (u, v) } else { (v, u) })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn evaluate_charges_cross_cloud_edges_and_inputs() {
        let c = |cost, cloud| Cand {
            cost,
            cloud,
            region: cloud * 10,
            in_cost: 0.0,
            in_time: 0.0,
        };
        let mut cands = vec![vec![c(1.0, 0), c(2.0, 1)], vec![c(1.0, 1), c(5.0, 0)]];
        cands[0][1].in_cost = 2.5;
        cands[0][1].in_time = 10.0;
        let edges = vec![Edge {
            from: 0,
            to: 1,
            time: 80.0,
            cross: vec![12.0, 8.91],
            intra: 0.0,
        }];
        let p = Problem::new(
            Objective::Cost,
            false,
            vec![3600.0, 60.0],
            cands,
            edges,
            vec![0, 1],
        );
        assert_eq!(
            p.evaluate(&[0, 0]),
            Score {
                time: 3740.0,
                cost: 14.0
            }
        );
        assert_eq!(
            p.evaluate(&[1, 0]),
            Score {
                time: 3670.0,
                cost: 5.5
            }
        );
        let (assign, best) = brute_force(&p);
        assert_eq!((assign, best.cost), (vec![1, 0], 5.5));
    }

    #[test]
    fn canonicalize_prefers_earlier_candidates_on_ties() {
        for seed in 0..50 {
            let edges = random_dag(seed, 5, 3);
            for objective in [Objective::Cost, Objective::Time] {
                let p = random(seed, 5, &edges, objective, seed % 2 == 0);
                let (opt, s) = brute_force(&p);
                let mut last: Vec<usize> = p.cands.iter().map(|c| c.len() - 1).collect();
                p.canonicalize(&mut last);
                let mut from_opt = opt.clone();
                p.canonicalize(&mut from_opt);
                // Starting from an optimum, canonicalization stays optimal.
                let s2 = p.evaluate(&from_opt);
                assert!(!s.better(&s2, objective) && !s2.better(&s, objective));
            }
        }
    }
}
