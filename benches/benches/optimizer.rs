//! Optimizer benchmarks on seeded random DAGs (each task: three `any_of` alternatives, mixed
//! GPU/CPU requests, outputs on most edges), against SkyPilot's real GCP and Azure catalogs
//! (synthetic ones when the files are missing). Catalogs are loaded once, outside the timing;
//! candidate enumeration (catalog queries) is inside it.
//!
//! Goals on a 2-core machine: 1 task ≤ 1 ms, chain of 100 ≤ 50 ms, DAG of 60 tasks / ~84
//! edges ≤ 200 ms, DAG of 1,000 tasks ≤ 5 s; every plan optimal.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sky_benches::dags::{Pool, Shape, random_dag};
use sky_benches::memo::Memo;
use sky_catalog::CatalogSource;
use sky_core::catalog::Catalogs;
use sky_core::resources::{AcceleratorSpec, ResourceSet, Resources};
use sky_core::{CloudId, Dag};
use sky_optimizer::{BlockList, EgressModel, Objective, Options, optimize};

/// SkyPilot's real GCP and Azure catalogs when they are there (`SKY_TEST_CATALOG_DIR`),
/// otherwise the synthetic ones.
fn fixtures() -> (Catalogs, Pool, &'static str) {
    let loaded = match sky_catalog::testing::full_catalog_dir() {
        Some(dir) => sky_catalog::load(
            &CatalogSource::new().dir(dir),
            &[CloudId::Gcp, CloudId::Azure],
        )
        .map_err(|e| e.to_string()),
        None => Err("SKY_TEST_CATALOG_DIR is not set".to_string()),
    };
    match loaded {
        Ok(real) => (real, Pool::real(), "real GCP + Azure"),
        Err(e) => {
            eprintln!("real catalogs unavailable ({e}); using synthetic ones");
            (
                sky_benches::synthetic::catalogs(),
                Pool::synthetic(),
                "synthetic",
            )
        }
    }
}

fn bench_case(
    c: &mut Criterion,
    catalogs: &Catalogs,
    name: &str,
    dag: &Dag,
    objective: Objective,
    options: &Options,
) {
    let blocked = BlockList::new();
    // Check once, outside the timing, that the case is solvable and which solver runs.
    let plan =
        optimize(dag, catalogs, &blocked, objective, options).expect("benchmark DAG has a plan");
    eprintln!(
        "{name}: {} tasks, {} edges, solver {}, total cost {:.2}, total time {:.0} s",
        dag.len(),
        dag.edges().len(),
        plan.solver,
        plan.total_cost,
        plan.total_time_s
    );
    c.bench_function(name, |b| {
        b.iter(|| optimize(black_box(dag), catalogs, &blocked, objective, options).unwrap())
    });
}

fn optimizer(c: &mut Criterion) {
    let (catalogs, pool, label) = fixtures();
    eprintln!("catalogs: {label} ({:?})", catalogs.clouds());
    let cost = Options::default();
    let one = random_dag(1, 1, Shape::Chain, &pool);
    bench_case(
        c,
        &catalogs,
        "optimize/1_task",
        &one,
        Objective::Cost,
        &cost,
    );
    // A GPU-only task: V100:1, T4:1 or A100:8 (small catalog answers).
    let gpu_task = {
        let mut t = sky_core::Task::new();
        t.name = Some("gpu".into());
        t.resources = ResourceSet::any_of([("V100", 1.0), ("T4", 1.0), ("A100", 8.0)].map(
            |(name, count)| {
                let mut r = Resources::new();
                r.accelerators = Some(AcceleratorSpec::named(name, count));
                r
            },
        ));
        Dag::single(t)
    };
    bench_case(
        c,
        &catalogs,
        "optimize/1_task_gpu_only",
        &gpu_task,
        Objective::Cost,
        &cost,
    );
    // The same with the catalog answers memoized: the optimizer's own work (plus copying
    // the answers), without the catalog queries.
    let memo = Memo::all(&catalogs);
    bench_case(
        c,
        &memo,
        "optimize/1_task_memoized_catalog",
        &one,
        Objective::Cost,
        &cost,
    );
    let chain = random_dag(2, 100, Shape::Chain, &pool);
    bench_case(
        c,
        &memo,
        "optimize/chain_100_memoized_catalog",
        &chain,
        Objective::Cost,
        &cost,
    );
    bench_case(
        c,
        &catalogs,
        "optimize/chain_100",
        &chain,
        Objective::Cost,
        &cost,
    );
    bench_case(
        c,
        &catalogs,
        "optimize/chain_100_time",
        &chain,
        Objective::Time,
        &cost,
    );
    let dag60 = random_dag(
        3,
        60,
        Shape::Random {
            edges_per_task_x10: 14,
        },
        &pool,
    );
    bench_case(
        c,
        &catalogs,
        "optimize/dag_60",
        &dag60,
        Objective::Cost,
        &cost,
    );
    bench_case(
        c,
        &catalogs,
        "optimize/dag_60_time",
        &dag60,
        Objective::Time,
        &cost,
    );
    let inter = Options::default().with_egress(EgressModel::InterRegion);
    bench_case(
        c,
        &catalogs,
        "optimize/dag_60_inter_region",
        &dag60,
        Objective::Cost,
        &inter,
    );
}

fn large(c: &mut Criterion) {
    let (catalogs, pool, _) = fixtures();
    let dag1000 = random_dag(
        4,
        1000,
        Shape::Random {
            edges_per_task_x10: 14,
        },
        &pool,
    );
    bench_case(
        c,
        &catalogs,
        "optimize/dag_1000",
        &dag1000,
        Objective::Cost,
        &Options::default(),
    );
    bench_case(
        c,
        &catalogs,
        "optimize/dag_1000_time",
        &dag1000,
        Objective::Time,
        &Options::default(),
    );
}

criterion_group!(
    name = small;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = optimizer
);
criterion_group!(
    name = big;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(20));
    targets = large
);
criterion_main!(small, big);
