//! AWS catalog queries against the small fixture in SkyPilot's AWS layout, plus loading.

use std::collections::BTreeMap;

use sky_catalog::{AwsCatalog, CatalogSource};
use sky_core::CloudId;
use sky_core::catalog::{AcceleratorFilter, Catalog, CatalogError};
use sky_core::resources::{AcceleratorSpec, CpuSpec, Resources};

use crate::catalog_support::{aws, fixture_dir, shared_dir};

fn acc(name: &str, count: f64) -> Resources {
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::named(name, count));
    r
}

#[test]
fn v100_on_aws_is_p3_2xlarge_in_every_zone() {
    let c = aws();
    assert!(!c.optimize_by_zone());
    let f = c.offerings(&acc("V100", 1.0));
    assert_eq!(f.offerings.len(), 4);
    for o in &f.offerings {
        assert_eq!(o.instance_type, "p3.2xlarge");
        assert_eq!(o.hourly_price, 3.06);
        assert_eq!((o.vcpus, o.memory_gib), (8.0, 61.0));
    }
    let zones: Vec<_> = f
        .offerings
        .iter()
        .map(|o| o.zone.clone().unwrap())
        .collect();
    assert_eq!(
        zones,
        ["use1-az1", "use1-az2", "usw2-az1", "usw2-az2"],
        "ties by region, zone"
    );
    assert_eq!(c.zones_for(&f.offerings[0]), ["use1-az1", "use1-az2"]);
    assert_eq!(c.arch("p3.2xlarge"), Some("x86_64"));

    // Spot: zones in spot-price order.
    let mut r = acc("V100", 1.0);
    r.use_spot = Some(true);
    let f = c.offerings(&r);
    assert_eq!(f.offerings[0].zone.as_deref(), Some("usw2-az1"));
    assert_eq!(f.offerings[0].hourly_price, 0.9021);
    assert_eq!(c.zones_for(&f.offerings[0]), ["usw2-az1", "usw2-az2"]);
    assert_eq!(
        c.hourly_cost("p3.2xlarge", None, true, Some("us-east-1"), None),
        Some(0.918)
    );
    assert_eq!(
        c.hourly_cost("p3.2xlarge", None, false, None, None),
        Some(3.06)
    );
}

#[test]
fn zone_ids_map_to_account_zone_names() {
    let map: BTreeMap<String, String> = [
        ("use1-az1", "us-east-1c"),
        ("use1-az2", "us-east-1a"),
        ("usw2-az1", "us-west-2b"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let c = aws().with_zone_names(&map);
    let f = c.offerings(&acc("V100", 1.0));
    let zones: Vec<_> = f
        .offerings
        .iter()
        .map(|o| o.zone.clone().unwrap())
        .collect();
    assert_eq!(
        zones,
        ["us-east-1a", "us-east-1c", "us-west-2b"],
        "usw2-az2 is dropped"
    );
    let regions = c.regions();
    assert_eq!(regions[0].zones, ["us-east-1a", "us-east-1c"]);
    assert!(
        c.validate_region_zone(Some("us-east-1"), Some("us-east-1c"))
            .is_ok()
    );
}

#[test]
fn cpu_defaults_and_filters() {
    let c = aws();
    let f = c.offerings(&Resources::new());
    let types: std::collections::BTreeSet<&str> = f
        .offerings
        .iter()
        .map(|o| o.instance_type.as_str())
        .collect();
    assert_eq!(
        types,
        ["m6i.2xlarge", "m6i.4xlarge", "r6i.2xlarge"].into(),
        "8+ vCPUs, 4x memory, default families only (not m5, not c6i's 2 GiB/vCPU)"
    );
    assert_eq!(f.offerings[0].instance_type, "m6i.2xlarge");
    assert_eq!(f.offerings[0].hourly_price, 0.384);

    let mut r = Resources::new();
    r.cpus = Some(CpuSpec {
        count: 4.0,
        or_more: false,
    });
    let f = c.offerings(&r);
    assert!(f.offerings.iter().all(|o| o.instance_type == "m6i.xlarge"));
    r.cpus = Some(CpuSpec {
        count: 3.0,
        or_more: false,
    });
    let hint = c.offerings(&r).hint.unwrap();
    assert!(
        hint.contains("3 vCPUs") && hint.contains("4, 8, 16"),
        "{hint}"
    );

    let mut r = Resources::new();
    r.instance_type = Some("m5.2xlarge".into());
    assert_eq!(
        c.offerings(&r).offerings.len(),
        4,
        "explicit types need not be default"
    );
    r.instance_type = Some("m6i.2xlarg".into());
    let f = c.offerings(&r);
    assert!(f.hint.unwrap().contains("did you mean m6i.2xlarge"));
}

#[test]
fn spot_nan_rows_and_price_caps() {
    let c = aws();
    let mut r = acc("A100", 8.0);
    r.use_spot = Some(true);
    let f = c.offerings(&r);
    assert_eq!(f.offerings.len(), 3, "use1-az2 has no p4d spot price");
    assert!(
        f.offerings
            .iter()
            .all(|o| o.zone.as_deref() != Some("use1-az2"))
    );
    r.zone = Some("use1-az2".into());
    let f = c.offerings(&r);
    assert!(f.offerings.is_empty() && f.hint.unwrap().contains("spot"));

    let mut r = acc("A10G", 1.0);
    r.max_hourly_cost = Some(1.0);
    let f = c.offerings(&r);
    assert!(f.offerings.is_empty());
    assert!(
        f.hint
            .unwrap()
            .contains("$1.006/h, above max_hourly_cost $1/h")
    );
    r.max_hourly_cost = Some(1.01);
    assert_eq!(c.offerings(&r).offerings.len(), 4);
}

#[test]
fn hints_memory_requests_and_region_typos() {
    let c = aws();
    let f = c.offerings(&acc("V100", 3.0));
    assert_eq!(
        f.hint.as_deref(),
        Some("V100:3 is not offered on aws; V100 comes in counts 1")
    );
    let mut r = acc("V100", 1.0);
    r.region = Some("us-est-1".into());
    let hint = c.offerings(&r).hint.unwrap();
    assert!(hint.contains("did you mean us-east-1"), "{hint}");
    let mut r = acc("V100", 1.0);
    r.zone = Some("us-east-1a".into());
    let hint = c.offerings(&r).hint.unwrap();
    assert!(hint.contains("names zones by zone id"), "{hint}");
    match c.validate_region_zone(None, Some("use1-az9")) {
        Err(CatalogError::UnknownZone { suggestion, .. }) => assert!(suggestion.is_some()),
        other => panic!("{other:?}"),
    }
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::Memory {
        vendor: Some("NVIDIA".into()),
        memory_gib: 24.0,
        or_more: false,
        count: 1.0,
    });
    let f = c.offerings(&r);
    assert!(!f.offerings.is_empty());
    assert!(f.offerings.iter().all(|o| o.instance_type == "g5.xlarge"));
    r.accelerators = Some(AcceleratorSpec::Memory {
        vendor: Some("amd".into()),
        memory_gib: 16.0,
        or_more: true,
        count: 1.0,
    });
    assert!(
        c.offerings(&r)
            .hint
            .unwrap()
            .contains("no accelerator on aws matches amd:16GB+")
    );
}

#[test]
fn show_gpus_and_egress() {
    let c = aws();
    let rows = c.accelerators(&AcceleratorFilter::default());
    let names: Vec<&str> = rows.iter().map(|r| r.accelerator.name.as_str()).collect();
    assert_eq!(names, ["A100", "A10G", "V100"]);
    assert_eq!(rows[0].device_memory_gib, Some(40.0));
    assert_eq!(
        rows[0].hourly_spot_price,
        Some(11.9877),
        "the cheapest spot region's row"
    );
    let all = c.accelerators(&AcceleratorFilter {
        name: Some("a10g".into()),
        all_regions: true,
        ..AcceleratorFilter::default()
    });
    let regions: Vec<&str> = all.iter().map(|r| r.region.as_str()).collect();
    assert_eq!(regions, ["us-west-2", "us-east-1"], "ordered by price");
    assert!((c.egress_cost(100.0) - 8.91).abs() < 1e-9);
    let sixty_tb = c.egress_cost(60.0 * 1024.0);
    assert!((sixty_tb - (10239.0 * 0.09 + 40960.0 * 0.085 + 10240.0 * 0.07)).abs() < 1e-6);
}

proptest::proptest! {
    /// Whatever names a user types, queries answer (possibly with nothing) and never panic,
    /// and what they return honours the request.
    #[test]
    fn odd_requests_never_panic(
        name in "(?s).{0,12}",
        count in 0.0f64..20.0,
        region in proptest::option::of("(?s).{0,12}|us-east-1|us-west-2"),
        zone in proptest::option::of("(?s).{0,10}|use1-az1|usw2-az2"),
        spot in proptest::bool::ANY,
    ) {
        let c = aws();
        let mut r = acc(&name, count);
        r.region = region.clone();
        r.zone = zone.clone();
        r.use_spot = Some(spot);
        let f = c.offerings(&r);
        for o in &f.offerings {
            proptest::prop_assert!(region.as_deref().is_none_or(|x| o.region.eq_ignore_ascii_case(x.trim())));
            proptest::prop_assert!(zone.as_deref().is_none_or(|z| o.zone.as_deref().is_some_and(|oz| oz.eq_ignore_ascii_case(z.trim()))));
            proptest::prop_assert_eq!(o.spot, spot);
            proptest::prop_assert!(o.hourly_price.is_finite());
        }
        proptest::prop_assert!(!f.offerings.is_empty() || f.hint.is_some());
        let _ = c.validate_region_zone(region.as_deref(), zone.as_deref());
        let _ = c.hourly_cost(&name, None, spot, region.as_deref(), zone.as_deref());
    }
}

#[test]
fn malformed_files_are_errors_with_line_numbers() {
    let header = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch\n";
    let good = "m6i.large,,,2.0,8.0,,0.096,0.03,us-east-1,use1-az1,x86_64\n";
    let cases = [
        (format!("{header}{good}{good}m6i.large,,,2.0\n"), 4),
        (
            format!("{header}{good}m6i.large,,,two,8.0,,0.096,0.03,us-east-1,use1-az1,x86_64\n"),
            3,
        ),
        (
            format!("{header}m6i.large,,,2.0,8.0,,0.096,0.03,,use1-az1,x86_64\n"),
            2,
        ),
        ("InstanceType,Price\nx,1\n".to_string(), 1),
    ];
    for (text, line) in cases {
        match AwsCatalog::from_reader(text.as_bytes(), "bad.csv") {
            Err(CatalogError::Malformed { line: l, path, .. }) => {
                assert_eq!(l, line, "{text}");
                assert_eq!(path.to_str(), Some("bad.csv"));
            }
            other => panic!("{other:?}"),
        }
    }
    // Odd GpuInfo and NaN prices are data, not errors.
    let odd = format!(
        "{header}x.large,Foo,1.0,2.0,8.0,\"{{'Gpus': [{{'MemoryInfo': None}}]}}\",nan,,us-east-1,use1-az1,x86_64\n"
    );
    let c = AwsCatalog::from_reader(odd.as_bytes(), "odd.csv").unwrap();
    assert!(c.offerings(&acc("Foo", 1.0)).offerings.is_empty());
    assert_eq!(
        c.accelerators(&AcceleratorFilter::default())[0].device_memory_gib,
        None
    );
}

#[test]
fn catalogs_load_from_directories() {
    let cs = sky_catalog::load(
        &CatalogSource::new().dir(fixture_dir()),
        &[CloudId::Aws, CloudId::Fake],
    )
    .unwrap();
    assert_eq!(cs.clouds(), [CloudId::Aws]);

    let cs = sky_catalog::load(
        &CatalogSource::new().dir(shared_dir()),
        &[CloudId::Azure, CloudId::Gcp],
    )
    .unwrap();
    assert_eq!(cs.clouds(), [CloudId::Gcp, CloudId::Azure]);

    let e =
        sky_catalog::load(&CatalogSource::new().dir(fixture_dir()), &[CloudId::Gcp]).unwrap_err();
    assert!(
        matches!(e, CatalogError::Offline { ref cloud, .. } if cloud == "gcp"),
        "{e}"
    );
    assert!(e.to_string().contains("SKY_CATALOG_DIR"));
}
