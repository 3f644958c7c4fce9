//! The zones a placement lists (made for the chosen candidate only, from a query narrowed to
//! its instance type and region) are exactly those the full catalog answer gives for the
//! same instance type, accelerator and region, minus blocked ones, cheapest first. Checked
//! on sky-catalog's AWS fixture, AWS being the cloud whose on-demand candidates are per region.

use std::sync::Arc;

use sky_catalog::AwsCatalog;
use sky_core::catalog::{Catalog, Catalogs};
use sky_core::resources::{CpuSpec, MemorySpec};
use sky_core::{CloudId, Dag, Resources};
use sky_optimizer::{Block, BlockList, Objective, Options, optimize};

use crate::support::*;

fn aws() -> Arc<AwsCatalog> {
    let dir = sky_catalog::testing::fixture_dir().join("aws/vms.csv");
    Arc::new(AwsCatalog::from_path(dir).expect("the AWS fixture loads"))
}

/// The zones of the full answer for the placement's (instance type, accelerator, region),
/// not blocked, ordered by price then name.
fn expected(
    catalog: &AwsCatalog,
    req: &Resources,
    blocked: &BlockList,
    p: &sky_optimizer::TaskPlacement,
) -> Vec<String> {
    let mut rows: Vec<(f64, String)> = catalog
        .offerings(req)
        .offerings
        .into_iter()
        .filter(|o| {
            o.region == p.region
                && o.instance_type == p.instance_type
                && o.accelerator == p.accelerators
                && !blocked.blocks(o)
        })
        .filter_map(|o| o.zone.map(|z| (o.hourly_price, z)))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut zones: Vec<String> = Vec::new();
    for (_, z) in rows {
        if !zones.contains(&z) {
            zones.push(z);
        }
    }
    zones
}

#[test]
fn placement_zones_match_the_full_answer() {
    let catalog = aws();
    let catalogs = Catalogs::new().with(catalog.clone());
    let cpus = |n: f64| {
        let mut r = Resources::new();
        r.cpus = Some(CpuSpec {
            count: n,
            or_more: true,
        });
        r
    };
    let mut memory = Resources::new();
    memory.memory = Some(MemorySpec::Gib {
        gib: 32.0,
        or_more: true,
    });
    let requests = [
        Resources::new(),
        cpus(4.0),
        cpus(16.0),
        memory,
        gpu("V100", 1.0),
        gpu("A10G", 1.0),
        gpu("A100", 8.0),
    ];
    let mut checked = 0;
    for req in requests {
        let plain = BlockList::new();
        let d = Dag::single(task("t", req.clone()));
        let p = optimize(&d, &catalogs, &plain, Objective::Cost, &Options::default()).unwrap();
        let t = &p.placements[0];
        assert_eq!(
            t.zone, None,
            "{req:?}: on-demand AWS candidates are per region"
        );
        let want = expected(&catalog, &req, &plain, t);
        assert!(!want.is_empty(), "{req:?}");
        assert_eq!(t.zones, want, "{req:?}");
        checked += 1;
        // Blocking the first zone leaves the others, in order (or moves the placement).
        let blocked =
            BlockList::new().with(Block::zone(CloudId::Aws, t.region.clone(), want[0].clone()));
        let p = optimize(
            &d,
            &catalogs,
            &blocked,
            Objective::Cost,
            &Options::default(),
        )
        .unwrap();
        let t = &p.placements[0];
        let want = expected(&catalog, &req, &blocked, t);
        assert!(!want.is_empty(), "{req:?}");
        assert_eq!(t.zones, want, "{req:?} with a blocked zone");
    }
    assert_eq!(checked, 7);
}
