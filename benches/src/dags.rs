//! Seeded random DAGs for the optimizer benchmarks.
//!
//! Every task asks for three `any_of` alternatives drawn from a pool of mixed GPU and CPU
//! requests, and most tasks write outputs (1–200 GB) that their children read, so egress
//! matters on most edges.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sky_core::resources::{AcceleratorSpec, CpuSpec, MemorySpec, ResourceSet, Resources};
use sky_core::task::{DataSpec, Task};
use sky_core::{CloudId, Dag};

/// The request pool: accelerators by name and count, and CPU shapes (`None` for the
/// accelerator means a CPU request of at least `cpus` vCPUs and `memory` GiB).
#[derive(Clone, Debug)]
pub struct Pool {
    /// `(accelerator, count)` requests.
    pub gpus: Vec<(&'static str, f64)>,
    /// `(vCPUs at least, memory GiB at least)` requests.
    pub cpus: Vec<(f64, Option<f64>)>,
}

impl Pool {
    /// Requests that SkyPilot's real GCP and Azure catalogs can satisfy (each on at least
    /// one of the two clouds).
    pub fn real() -> Self {
        Pool {
            gpus: vec![
                ("V100", 1.0),
                ("T4", 1.0),
                ("T4", 4.0),
                ("A100", 8.0),
                ("V100", 4.0),
                ("A100-80GB", 1.0),
                ("H100", 8.0),
                ("L4", 1.0),
            ],
            cpus: vec![(8.0, None), (4.0, None), (16.0, Some(64.0)), (32.0, None)],
        }
    }

    /// Requests the [`crate::synthetic`] catalogs satisfy.
    pub fn synthetic() -> Self {
        Pool {
            gpus: vec![("V100", 1.0), ("T4", 1.0), ("T4", 4.0), ("A100", 8.0)],
            cpus: vec![(8.0, None), (4.0, None), (16.0, Some(64.0)), (32.0, None)],
        }
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> Resources {
        let mut r = Resources::new();
        if rng.random_bool(0.5) {
            let &(name, count) = self.gpus.choose(rng).unwrap_or(&("V100", 1.0));
            r.accelerators = Some(AcceleratorSpec::named(name, count));
        } else {
            let &(cpus, mem) = self.cpus.choose(rng).unwrap_or(&(8.0, None));
            r.cpus = Some(CpuSpec {
                count: cpus,
                or_more: true,
            });
            r.memory = mem.map(|gib| MemorySpec::Gib { gib, or_more: true });
        }
        // A few requests are pinned to one cloud.
        if rng.random_bool(0.1) {
            r.cloud = Some(if rng.random_bool(0.5) {
                CloudId::Gcp
            } else {
                CloudId::Azure
            });
        }
        r
    }
}

/// The shape of a benchmark DAG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `t0 -> t1 -> ...`.
    Chain,
    /// A random DAG with about this many edges per task (e.g. 1.4 → 60 tasks, ~84 edges).
    Random {
        /// Edges per task, in tenths (14 = 1.4).
        edges_per_task_x10: usize,
    },
}

/// A seeded random DAG of `n` tasks. The same seed always gives the same DAG.
pub fn random_dag(seed: u64, n: usize, shape: Shape, pool: &Pool) -> Dag {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut dag = Dag::new();
    for i in 0..n {
        let mut t = Task::new();
        t.name = Some(format!("t{i:04}"));
        t.resources = ResourceSet::any_of((0..3).map(|_| pool.pick(&mut rng)));
        if rng.random_bool(0.8) {
            t.outputs = Some(DataSpec {
                uri: format!("gs://bench/t{i}"),
                size_gb: rng.random_range(1.0..200.0f64).round(),
            });
        }
        dag.add_task(t);
    }
    match shape {
        Shape::Chain => {
            for i in 1..n {
                let _ = dag.add_edge(i - 1, i);
            }
        }
        Shape::Random { edges_per_task_x10 } => {
            let target = n * edges_per_task_x10 / 10;
            // A spanning backbone keeps the DAG connected; the rest are random forward edges
            // between nearby tasks (like pipeline stages), so diamonds are common.
            for v in 1..n {
                let u = rng.random_range(v.saturating_sub(8)..v);
                let _ = dag.add_edge(u, v);
            }
            let mut tries = 0;
            while dag.edges().len() < target && tries < 100 * n {
                tries += 1;
                let v = rng.random_range(1..n);
                let u = rng.random_range(v.saturating_sub(12)..v);
                let _ = dag.add_edge(u, v);
            }
        }
    }
    dag
}
