//! The fake cloud's embedded catalog: real choices for the optimizer and failover tests.

use sky_core::CloudId;
use sky_core::catalog::{AcceleratorFilter, Catalog, CatalogError, Offering};
use sky_core::fake::{FakeCatalog, FakeCloud};
use sky_core::resources::{AcceleratorSpec, CpuSpec, MemorySpec, Resources};

fn acc(name: &str, count: f64) -> Resources {
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::named(name, count));
    r
}

fn places(offers: &[Offering]) -> Vec<(String, String)> {
    offers
        .iter()
        .map(|o| (o.instance_type.clone(), o.zone.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn regions_zones_and_validation_suggest_near_names() {
    let cat = FakeCatalog::embedded();
    let regions: Vec<(String, Vec<String>)> = cat
        .regions()
        .into_iter()
        .map(|r| (r.name, r.zones))
        .collect();
    assert_eq!(
        regions,
        vec![
            (
                "fake-east-1".to_string(),
                vec![
                    "fake-east-1a".to_string(),
                    "fake-east-1b".into(),
                    "fake-east-1c".into()
                ]
            ),
            ("fake-eu-1".to_string(), vec!["fake-eu-1a".to_string()]),
            (
                "fake-west-1".to_string(),
                vec!["fake-west-1a".to_string(), "fake-west-1b".into()]
            ),
        ]
    );
    assert!(
        cat.validate_region_zone(Some("fake-west-1"), Some("fake-west-1b"))
            .is_ok()
    );
    match cat.validate_region_zone(Some("fake-est-1"), None) {
        Err(CatalogError::UnknownRegion { suggestion, .. }) => {
            assert_eq!(suggestion.as_deref(), Some("fake-east-1"))
        }
        other => panic!("expected UnknownRegion, got {other:?}"),
    }
    // A zone of another region is unknown in this one, and the suggestion stays in-region.
    match cat.validate_region_zone(Some("fake-west-1"), Some("fake-west-1c")) {
        Err(CatalogError::UnknownZone { suggestion, .. }) => {
            assert!(suggestion.is_some_and(|s| s.starts_with("fake-west-1")))
        }
        other => panic!("expected UnknownZone, got {other:?}"),
    }
}

#[test]
fn default_cpu_request_uses_8_plus_vcpus_and_4x_memory_cheapest_first() {
    let cat = FakeCatalog::embedded();
    let f = cat.offerings(&Resources::new());
    assert!(f.hint.is_none());
    let types: std::collections::BTreeSet<&str> = f
        .offerings
        .iter()
        .map(|o| o.instance_type.as_str())
        .collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        ["fake.cpu16", "fake.cpu8", "fake.mem8"]
    );
    assert!(
        f.offerings
            .iter()
            .all(|o| o.vcpus >= 8.0 && o.memory_gib >= 4.0 * o.vcpus && !o.spot)
    );
    assert!(
        f.offerings
            .windows(2)
            .all(|w| w[0].hourly_price <= w[1].hourly_price)
    );
    assert_eq!(
        places(&f.offerings[..3]),
        [
            ("fake.cpu8".to_string(), "fake-east-1a".to_string()),
            ("fake.cpu8".into(), "fake-east-1b".into()),
            ("fake.cpu8".into(), "fake-east-1c".into()),
        ]
    );
    // Explicit CPU and memory requirements replace the defaults.
    let mut r = Resources::new();
    r.cpus = Some(CpuSpec {
        count: 2.0,
        or_more: false,
    });
    r.memory = Some(MemorySpec::Gib {
        gib: 8.0,
        or_more: true,
    });
    let f = cat.offerings(&r);
    assert!(f.offerings.iter().all(|o| o.instance_type == "fake.cpu2"));
    assert_eq!(f.offerings.len(), 6, "one per zone");
}

#[test]
fn prices_differ_by_region_zone_and_market() {
    let cat = FakeCatalog::embedded();
    let od = |r: &str, z: &str| {
        cat.hourly_cost("fake.cpu8", None, false, Some(r), Some(z))
            .unwrap()
    };
    let spot = |r: &str, z: &str| {
        cat.hourly_cost("fake.cpu8", None, true, Some(r), Some(z))
            .unwrap()
    };
    assert!(od("fake-east-1", "fake-east-1a") < od("fake-east-1", "fake-east-1b"));
    assert!(od("fake-east-1", "fake-east-1b") < od("fake-east-1", "fake-east-1c"));
    assert!(od("fake-east-1", "fake-east-1a") < od("fake-west-1", "fake-west-1a"));
    assert!(spot("fake-east-1", "fake-east-1b") < spot("fake-east-1", "fake-east-1a"));
    assert!(spot("fake-east-1", "fake-east-1a") < od("fake-east-1", "fake-east-1a"));
    assert_eq!(
        cat.hourly_cost("fake.cpu8", None, false, None, None),
        Some(0.4)
    );
    // GPUs are cheapest in the west, CPUs in the east.
    let v100 = cat.offerings(&acc("V100", 1.0));
    assert_eq!(v100.offerings[0].region, "fake-west-1");
    let offer = &cat
        .offerings(&{
            let mut r = Resources::new();
            r.instance_type = Some("fake.cpu8".into());
            r.use_spot = Some(true);
            r.region = Some("fake-east-1".into());
            r
        })
        .offerings[0];
    assert_eq!(
        cat.zones_for(offer),
        ["fake-east-1b", "fake-east-1c", "fake-east-1a"]
    );
    assert!(cat.optimize_by_zone());
    assert!((cat.egress_cost(100.0) - 2.0).abs() < 1e-9);
    assert_eq!(cat.egress_cost(-1.0), 0.0);
}

#[test]
fn accelerator_requests_suggest_and_explain_when_nothing_matches() {
    let cat = FakeCatalog::embedded();
    let f = cat.offerings(&acc("v100", 4.0));
    assert!(
        f.offerings
            .iter()
            .all(|o| o.instance_type == "fake.gpu.v100x4")
    );
    assert_eq!(places(&f.offerings).len(), 3);

    let f = cat.offerings(&acc("V100", 2.0));
    assert!(f.offerings.is_empty());
    assert_eq!(f.suggestions, ["V100:4"]);
    assert!(
        f.hint.as_deref().is_some_and(|h| h.contains("V100:2")),
        "{:?}",
        f.hint
    );

    let f = cat.offerings(&acc("V101", 1.0));
    assert_eq!(f.suggestions, ["V100:1", "V100:4"]);

    // A100:8 spot exists only in fake-west-1b; asking elsewhere says where it is.
    let mut r = acc("A100", 8.0);
    r.use_spot = Some(true);
    assert_eq!(
        places(&cat.offerings(&r).offerings),
        [("fake.gpu.a100x8".to_string(), "fake-west-1b".to_string())]
    );
    r.region = Some("fake-east-1".into());
    let f = cat.offerings(&r);
    assert!(f.offerings.is_empty());
    let hint = f.hint.unwrap();
    assert!(
        hint.contains("not offered in fake-east-1") && hint.contains("fake-west-1"),
        "{hint}"
    );

    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::Memory {
        vendor: Some("nvidia".into()),
        memory_gib: 40.0,
        or_more: true,
        count: 8.0,
    });
    assert!(
        cat.offerings(&r)
            .offerings
            .iter()
            .all(|o| o.instance_type == "fake.gpu.a100x8")
    );
    assert!(!cat.offerings(&r).offerings.is_empty());
}

#[test]
fn unknown_type_other_cloud_and_price_cap() {
    let cat = FakeCatalog::embedded();
    let mut r = Resources::new();
    r.instance_type = Some("fake.cpu9".into());
    let f = cat.offerings(&r);
    assert!(f.offerings.is_empty());
    assert!(
        f.hint
            .as_deref()
            .is_some_and(|h| h.contains("did you mean")),
        "{:?}",
        f.hint
    );

    let mut r = Resources::new();
    r.cloud = Some(CloudId::Aws);
    assert_eq!(cat.offerings(&r).offerings, vec![]);

    let mut r = acc("A100", 8.0);
    r.max_hourly_cost = Some(10.0);
    let f = cat.offerings(&r);
    assert!(f.offerings.is_empty());
    assert!(f.hint.unwrap().contains("max_hourly_cost"));
}

#[test]
fn listings_names_and_custom_catalogs() {
    let cat = FakeCatalog::embedded();
    assert_eq!(cat.accelerator_names(), ["A100", "T4", "V100"]);
    let rows = cat.accelerators(&AcceleratorFilter {
        name: Some("v100".into()),
        ..Default::default()
    });
    let got: Vec<(&str, f64, &str)> = rows
        .iter()
        .map(|r| {
            (
                r.instance_type.as_str(),
                r.accelerator.count,
                r.region.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("fake.gpu.v100x1", 1.0, "fake-west-1"),
            ("fake.gpu.v100x4", 4.0, "fake-west-1")
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.device_memory_gib == Some(16.0) && r.hourly_spot_price < r.hourly_price)
    );
    let all = cat.accelerators(&AcceleratorFilter {
        name: Some("v100".into()),
        all_regions: true,
        ..Default::default()
    });
    assert_eq!(all.len(), 4, "v100x1 in 2 regions, v100x4 in 2");

    // Custom rows, presented as another cloud; input order does not matter.
    let mut rows: Vec<Offering> = cat
        .rows()
        .iter()
        .filter(|o| o.instance_type == "fake.cpu2")
        .cloned()
        .collect();
    rows.reverse();
    let custom = FakeCatalog::from_offerings(rows.clone())
        .with_cloud(CloudId::Other("fake2".into()))
        .with_egress_per_gb(0.05);
    let fake = FakeCloud::builder().catalog(custom).build();
    assert_eq!(fake.cloud(), CloudId::Other("fake2".into()));
    let f = fake.offerings(&Resources::new());
    assert!(
        f.offerings.is_empty(),
        "cpu2 has 2 vCPUs; the default wants 8+"
    );
    let mut r = Resources::new();
    r.cpus = Some(CpuSpec {
        count: 2.0,
        or_more: true,
    });
    let offers = fake.offerings(&r).offerings;
    assert_eq!(offers.len(), 6);
    assert!(
        offers
            .iter()
            .all(|o| o.cloud == CloudId::Other("fake2".into()))
    );
    rows.reverse();
    let again = FakeCatalog::from_offerings(rows).with_cloud(CloudId::Other("fake2".into()));
    assert_eq!(again.offerings(&r).offerings, offers);
    assert!((fake.egress_cost(10.0) - 0.5).abs() < 1e-9);
}
