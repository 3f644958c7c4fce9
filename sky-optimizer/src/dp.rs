//! Dynamic programming: exact for the cost objective on forests (every connected component
//! is a tree once edge directions are ignored) and for the time objective on a chain.

use crate::problem::{Problem, Score, less};

/// Minimum total cost on a forest: each component is rooted at its first task in canonical
/// order; `best[v][j]` is the cheapest cost of `v`'s subtree with `v` on candidate `j`.
/// Strict `<` keeps the first of equal candidates.
pub(crate) fn forest_cost(p: &Problem) -> Vec<usize> {
    let n = p.runtime.len();
    let rank = ranks(&p.order);
    // Undirected adjacency: (neighbour, edge index), children visited in canonical order.
    let mut adj: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (i, e) in p.edges.iter().enumerate() {
        adj[e.from].push((e.to, i));
        adj[e.to].push((e.from, i));
    }
    for a in &mut adj {
        a.sort_by_key(|&(w, _)| rank[w]);
    }
    let mut parent: Vec<Option<(usize, usize)>> = vec![None; n];
    let mut visited = vec![false; n];
    let mut preorder = Vec::with_capacity(n);
    let mut roots = Vec::new();
    for &r in &p.order {
        if visited[r] {
            continue;
        }
        roots.push(r);
        visited[r] = true;
        let mut stack = vec![r];
        while let Some(v) = stack.pop() {
            preorder.push(v);
            for &(w, ei) in adj[v].iter().rev() {
                if !visited[w] {
                    visited[w] = true;
                    parent[w] = Some((v, ei));
                    stack.push(w);
                }
            }
        }
    }

    // best[v][j]; choice[w][j] = candidate of child w when its parent takes j.
    let mut best: Vec<Vec<f64>> = p
        .cands
        .iter()
        .map(|cs| cs.iter().map(|c| c.cost + c.in_cost).collect())
        .collect();
    let mut choice: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &w in preorder.iter().rev() {
        let Some((v, ei)) = parent[w] else { continue };
        let e = &p.edges[ei];
        let mut pick = Vec::with_capacity(p.cands[v].len());
        for (j, cv) in p.cands[v].iter().enumerate() {
            let mut arg = 0;
            let mut min = f64::INFINITY;
            for (k, cw) in p.cands[w].iter().enumerate() {
                let edge = if e.from == v {
                    p.pair(e, cv, cw).1
                } else {
                    p.pair(e, cw, cv).1
                };
                let total = best[w][k] + edge;
                if k == 0 || less(total, min) {
                    arg = k;
                    min = total;
                }
            }
            best[v][j] += min;
            pick.push(arg);
        }
        choice[w] = pick;
    }

    let mut assign = vec![0usize; n];
    for &r in &roots {
        let mut arg = 0;
        for j in 1..best[r].len() {
            if less(best[r][j], best[r][arg]) {
                arg = j;
            }
        }
        assign[r] = arg;
    }
    for &w in &preorder {
        if let Some((v, _)) = parent[w] {
            assign[w] = choice[w][assign[v]];
        }
    }
    assign
}

/// Lexicographic (time, cost) optimum on a chain `t0 -> t1 -> ...` (in topological order):
/// both the finish time and the cost are sums along the chain, so the DP is exact.
pub(crate) fn chain_time(p: &Problem) -> Vec<usize> {
    let chain = &p.topo;
    let objective = p.objective;
    let first = chain[0];
    let mut best: Vec<Score> = p.cands[first]
        .iter()
        .map(|c| Score {
            time: c.in_time + p.runtime[first],
            cost: c.cost + c.in_cost,
        })
        .collect();
    let mut back: Vec<Vec<usize>> = vec![Vec::new(); chain.len()];
    for (i, w) in chain.iter().enumerate().skip(1) {
        let v = chain[i - 1];
        let e = &p.edges[p.in_edges[*w][0]];
        let mut next = Vec::with_capacity(p.cands[*w].len());
        let mut pick = Vec::with_capacity(p.cands[*w].len());
        for cw in &p.cands[*w] {
            let mut arg = 0;
            let mut min = Score {
                time: f64::INFINITY,
                cost: f64::INFINITY,
            };
            for (k, cv) in p.cands[v].iter().enumerate() {
                let (dt, dc) = p.pair(e, cv, cw);
                let s = Score {
                    time: best[k].time + dt + p.runtime[*w],
                    cost: best[k].cost + dc + cw.cost + cw.in_cost,
                };
                if k == 0 || s.better(&min, objective) {
                    arg = k;
                    min = s;
                }
            }
            next.push(min);
            pick.push(arg);
        }
        best = next;
        back[i] = pick;
    }
    let mut arg = 0;
    for j in 1..best.len() {
        if best[j].better(&best[arg], objective) {
            arg = j;
        }
    }
    let mut assign = vec![0usize; p.runtime.len()];
    for i in (0..chain.len()).rev() {
        assign[chain[i]] = arg;
        if i > 0 {
            arg = back[i][arg];
        }
    }
    assign
}

fn ranks(order: &[usize]) -> Vec<usize> {
    let mut rank = vec![0; order.len()];
    for (i, &t) in order.iter().enumerate() {
        rank[t] = i;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Objective;
    use crate::problem::testing::*;

    fn same_value(p: &Problem, a: &[usize], b: &[usize]) -> bool {
        let (sa, sb) = (p.evaluate(a), p.evaluate(b));
        !sa.better(&sb, p.objective) && !sb.better(&sa, p.objective)
    }

    #[test]
    fn forest_dp_matches_brute_force() {
        for seed in 0..300 {
            let n = 2 + (seed % 6) as usize;
            let edges = random_tree(seed, n);
            let p = random(seed, n, &edges, Objective::Cost, seed % 3 == 0);
            let dp = forest_cost(&p);
            let (bf, _) = brute_force(&p);
            assert!(same_value(&p, &dp, &bf), "seed {seed}: {edges:?}");
        }
    }

    #[test]
    fn chain_dp_matches_brute_force_for_both_objectives() {
        for seed in 0..300 {
            let n = 1 + (seed % 6) as usize;
            let edges: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
            for objective in [Objective::Cost, Objective::Time] {
                let p = random(seed, n, &edges, objective, seed % 2 == 0);
                let dp = chain_time(&p);
                let (bf, _) = brute_force(&p);
                assert!(same_value(&p, &dp, &bf), "seed {seed} {objective}");
                if objective == Objective::Cost {
                    assert!(same_value(&p, &forest_cost(&p), &bf));
                }
            }
        }
    }
}
