//! DAGs of tasks.
//!
//! A multi-document task YAML is a chain, as in SkyPilot; sky's `edges:` extension in the
//! first document makes a general DAG (see the README).

use serde::{Deserialize, Serialize};

use crate::task::Task;

/// Why a DAG could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DagError {
    /// An edge names a task index that does not exist.
    #[error("edge {from} -> {to} names a task that does not exist (the DAG has {len} tasks)")]
    NoSuchTask {
        /// Source index.
        from: usize,
        /// Target index.
        to: usize,
        /// Number of tasks.
        len: usize,
    },
    /// An edge would close a cycle.
    #[error("edge {from} -> {to} would make a cycle")]
    Cycle {
        /// Source index.
        from: usize,
        /// Target index.
        to: usize,
    },
    /// A self-loop.
    #[error("a task cannot depend on itself (task {0})")]
    SelfLoop(usize),
}

/// A directed acyclic graph of tasks. Tasks are addressed by their index in [`Dag::tasks`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dag {
    /// The DAG's name (from the first YAML document's `name` when it carries `edges`).
    pub name: Option<String>,
    tasks: Vec<Task>,
    edges: Vec<(usize, usize)>,
}

impl Dag {
    /// An empty DAG.
    pub fn new() -> Self {
        Self::default()
    }

    /// A DAG of one task.
    pub fn single(task: Task) -> Self {
        Dag {
            name: None,
            tasks: vec![task],
            edges: Vec::new(),
        }
    }

    /// A chain `t0 -> t1 -> ...`.
    pub fn chain(tasks: impl IntoIterator<Item = Task>) -> Self {
        let tasks: Vec<Task> = tasks.into_iter().collect();
        let edges = (1..tasks.len()).map(|i| (i - 1, i)).collect();
        Dag {
            name: None,
            tasks,
            edges,
        }
    }

    /// Adds a task and returns its index.
    pub fn add_task(&mut self, task: Task) -> usize {
        self.tasks.push(task);
        self.tasks.len() - 1
    }

    /// Adds the edge `from -> to` (`to` runs after `from` and reads its outputs).
    /// Duplicate edges are ignored.
    pub fn add_edge(&mut self, from: usize, to: usize) -> Result<(), DagError> {
        let len = self.tasks.len();
        if from >= len || to >= len {
            return Err(DagError::NoSuchTask { from, to, len });
        }
        if from == to {
            return Err(DagError::SelfLoop(from));
        }
        if self.edges.contains(&(from, to)) {
            return Ok(());
        }
        if self.reaches(to, from) {
            return Err(DagError::Cycle { from, to });
        }
        self.edges.push((from, to));
        Ok(())
    }

    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut seen = vec![false; self.tasks.len()];
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            stack.extend(self.children(n));
        }
        false
    }

    /// The tasks, by index.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Mutable access to the tasks (the graph's shape cannot change through it).
    pub fn tasks_mut(&mut self) -> &mut [Task] {
        &mut self.tasks
    }

    /// The edges `(from, to)`, in insertion order.
    pub fn edges(&self) -> &[(usize, usize)] {
        &self.edges
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the DAG has no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Indices of the tasks that `task` depends on, ascending.
    pub fn parents(&self, task: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .edges
            .iter()
            .filter(|e| e.1 == task)
            .map(|e| e.0)
            .collect();
        v.sort_unstable();
        v
    }

    /// Indices of the tasks that depend on `task`, ascending.
    pub fn children(&self, task: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .edges
            .iter()
            .filter(|e| e.0 == task)
            .map(|e| e.1)
            .collect();
        v.sort_unstable();
        v
    }

    /// A topological order; ties are broken by the smaller index, so it is deterministic.
    pub fn topological_order(&self) -> Vec<usize> {
        let n = self.tasks.len();
        let mut indeg = vec![0usize; n];
        for &(_, t) in &self.edges {
            indeg[t] += 1;
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for c in self.children(i) {
                indeg[c] -= 1;
                if indeg[c] == 0 {
                    ready.insert(c);
                }
            }
        }
        order
    }

    /// SkyPilot's `is_chain`: every task has at most one parent and one child, and there is
    /// exactly one source and one sink (a single task is a chain).
    pub fn is_chain(&self) -> bool {
        let n = self.tasks.len();
        if n == 0 {
            return false;
        }
        let mut indeg = vec![0usize; n];
        let mut outdeg = vec![0usize; n];
        for &(f, t) in &self.edges {
            outdeg[f] += 1;
            indeg[t] += 1;
        }
        indeg.iter().all(|&d| d <= 1)
            && outdeg.iter().all(|&d| d <= 1)
            && indeg.iter().filter(|&&d| d == 0).count() == 1
            && outdeg.iter().filter(|&&d| d == 0).count() == 1
    }

    /// Whether the DAG is a forest of in-trees or out-trees: its underlying undirected graph
    /// has no cycle, so dynamic programming over it is exact.
    pub fn is_forest(&self) -> bool {
        // Union-find over the undirected edges: a cycle exists iff an edge joins two nodes
        // already connected.
        let mut parent: Vec<usize> = (0..self.tasks.len()).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        for &(a, b) in &self.edges {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra == rb {
                return false;
            }
            parent[ra] = rb;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(n: usize, edges: &[(usize, usize)]) -> Dag {
        let mut d = Dag::new();
        for _ in 0..n {
            d.add_task(Task::new());
        }
        for &(a, b) in edges {
            d.add_edge(a, b).unwrap();
        }
        d
    }

    #[test]
    fn shapes() {
        assert!(Dag::chain([Task::new(), Task::new(), Task::new()]).is_chain());
        assert!(Dag::single(Task::new()).is_chain());
        let diamond = dag(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        assert!(!diamond.is_chain());
        assert!(!diamond.is_forest());
        assert_eq!(diamond.topological_order(), vec![0, 1, 2, 3]);
        let tree = dag(4, &[(0, 1), (0, 2), (2, 3)]);
        assert!(tree.is_forest() && !tree.is_chain());
        assert_eq!(diamond.parents(3), vec![1, 2]);
    }

    #[test]
    fn rejects_cycles_and_bad_indices() {
        let mut d = dag(3, &[(0, 1), (1, 2)]);
        assert_eq!(d.add_edge(2, 0), Err(DagError::Cycle { from: 2, to: 0 }));
        assert_eq!(d.add_edge(1, 1), Err(DagError::SelfLoop(1)));
        assert!(matches!(d.add_edge(0, 9), Err(DagError::NoSuchTask { .. })));
        d.add_edge(0, 1).unwrap();
        assert_eq!(d.edges().len(), 2);
    }
}
