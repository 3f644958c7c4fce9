//! Catalog loading and query benchmarks: loading and indexing SkyPilot's real GCP and Azure
//! catalogs (goal: at most 50 ms for both), and the queries the optimizer makes.

use criterion::{Criterion, criterion_group, criterion_main};
use sky_catalog::{AzureCatalog, CatalogSource, GcpCatalog};
use sky_core::CloudId;
use sky_core::catalog::AcceleratorFilter;
use sky_core::resources::{AcceleratorSpec, Resources};

fn load(c: &mut Criterion) {
    let source = CatalogSource::new().dir(sky_benches::catalog_dir());
    let mut g = c.benchmark_group("catalog_load");
    g.sample_size(20);
    g.bench_function("gcp_and_azure", |b| {
        b.iter(|| sky_catalog::load(&source, &[CloudId::Gcp, CloudId::Azure]).unwrap())
    });
    g.bench_function("gcp", |b| b.iter(|| GcpCatalog::load(&source).unwrap()));
    g.bench_function("azure", |b| b.iter(|| AzureCatalog::load(&source).unwrap()));
    g.finish();
}

fn query(c: &mut Criterion) {
    let source = CatalogSource::new().dir(sky_benches::catalog_dir());
    let catalogs = sky_catalog::load(&source, &[CloudId::Gcp, CloudId::Azure]).unwrap();
    let gcp = catalogs.get(&CloudId::Gcp).unwrap().clone();
    let mut v100 = Resources::new();
    v100.accelerators = Some(AcceleratorSpec::named("V100", 1.0));
    let mut g = c.benchmark_group("catalog_query");
    g.bench_function("gcp_offerings_v100", |b| b.iter(|| gcp.offerings(&v100)));
    g.bench_function("gcp_offerings_cpu_default", |b| {
        b.iter(|| gcp.offerings(&Resources::new()))
    });
    g.bench_function("gcp_show_gpus", |b| {
        b.iter(|| gcp.accelerators(&AcceleratorFilter::default()))
    });
    g.finish();
}

criterion_group!(benches, load, query);
criterion_main!(benches);
