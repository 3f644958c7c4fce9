//! Azure catalog queries against the real Azure catalog file.

use sky_core::catalog::{AcceleratorFilter, Catalog, CatalogError};
use sky_core::resources::{AcceleratorSpec, Resources};

use crate::catalog_support::{azure, close, num, raw_rows};

fn acc(name: &str, count: f64) -> Resources {
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::named(name, count));
    r
}

#[test]
fn azure_has_no_zones() {
    let c = azure();
    assert!(!c.optimize_by_zone());
    assert!(matches!(
        c.validate_region_zone(Some("eastus"), Some("eastus-1")),
        Err(CatalogError::ZonesUnsupported { .. })
    ));
    assert!(c.validate_region_zone(Some("eastus"), None).is_ok());
    match c.validate_region_zone(Some("eastuss"), None) {
        Err(CatalogError::UnknownRegion { suggestion, .. }) => {
            assert_eq!(suggestion.as_deref(), Some("eastus"))
        }
        other => panic!("{other:?}"),
    }
    let mut r = acc("V100", 1.0);
    r.zone = Some("1".into());
    let f = c.offerings(&r);
    assert!(f.offerings.is_empty());
    assert!(f.hint.unwrap().contains("does not support zones"));
    assert!(c.regions().iter().all(|r| r.zones.is_empty()));
    assert_eq!(c.regions().len(), 58);
    assert_eq!(
        c.hourly_cost("Standard_D8s_v5", None, false, Some("eastus"), Some("1")),
        None
    );
}

#[test]
fn gpus_are_bundled_and_offered_per_region() {
    let c = azure();
    let f = c.offerings(&acc("v100", 1.0));
    assert!(!f.offerings.is_empty(), "{:?}", f.hint);
    for o in &f.offerings {
        assert_eq!(o.instance_type, "Standard_NC6s_v3");
        assert_eq!(o.zone, None);
        assert_eq!(o.accelerator_hourly_price, 0.0);
        assert_eq!(o.accelerator.as_ref().unwrap().name, "V100");
    }
    let rows = raw_rows("azure");
    let naive_min = rows
        .iter()
        .filter(|r| r["InstanceType"] == "Standard_NC6s_v3")
        .filter_map(|r| num(r, "Price"))
        .fold(f64::INFINITY, f64::min);
    assert!(close(f.offerings[0].hourly_price, naive_min));
    assert!(c.zones_for(&f.offerings[0]).is_empty());
    assert_eq!(
        c.hourly_cost("Standard_NC6s_v3", None, false, None, None),
        Some(f.offerings[0].hourly_price)
    );

    // Fractional A10.
    let f = c.offerings(&acc("A10", 0.5));
    assert!(!f.offerings.is_empty());
    assert!(
        f.offerings
            .iter()
            .all(|o| o.instance_type == "Standard_NV18ads_A10_v5")
    );
    let f = c.offerings(&acc("A10", 0.4));
    assert!(f.offerings.is_empty());
    let hint = f.hint.unwrap();
    assert!(
        hint.contains("A10 comes in counts 0.17, 0.33, 0.50, 1, 2"),
        "{hint}"
    );
    assert!(
        f.suggestions.contains(&"A10:0.50".to_string()),
        "{:?}",
        f.suggestions
    );
}

#[test]
fn cpu_default_families_exclude_2_gib_per_vcpu_shapes() {
    let c = azure();
    let f = c.offerings(&Resources::new());
    assert!(!f.offerings.is_empty());
    let mut families = std::collections::BTreeSet::new();
    for o in &f.offerings {
        let t = &o.instance_type;
        assert!(
            (t.starts_with("Standard_D") && t.ends_with("s_v5"))
                || (t.starts_with("Standard_E") && t.ends_with("s_v5")),
            "{t}"
        );
        assert!(o.vcpus >= 8.0 && o.memory_gib >= 4.0 * o.vcpus);
        families.insert(&t[..10]);
    }
    assert!(families.len() >= 2, "{families:?}");
    let rows = raw_rows("azure");
    let is_default = |t: &str| {
        ["D", "E"].iter().any(|f| {
            t.strip_prefix("Standard_")
                .and_then(|r| r.strip_prefix(f))
                .and_then(|r| r.strip_suffix("s_v5"))
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
        })
    };
    let naive_min = rows
        .iter()
        .filter(|r| is_default(&r["InstanceType"]))
        .filter(|r| {
            let (v, m) = (num(r, "vCPUs").unwrap(), num(r, "MemoryGiB").unwrap());
            v >= 8.0 && m >= 4.0 * v
        })
        .filter_map(|r| num(r, "Price"))
        .fold(f64::INFINITY, f64::min);
    assert!(close(f.offerings[0].hourly_price, naive_min));
    assert_eq!(c.generation("Standard_D8s_v5"), Some("V1,V2"));
}

#[test]
fn spot_market_excludes_rows_without_spot_prices() {
    let c = azure();
    let mut r = Resources::new();
    r.instance_type = Some("Standard_A1_v2".into());
    r.region = Some("jioindiacentral".into());
    let on_demand = c.offerings(&r);
    assert_eq!(on_demand.offerings.len(), 1);
    r.use_spot = Some(true);
    let spot = c.offerings(&r);
    assert!(spot.offerings.is_empty());
    assert!(spot.hint.unwrap().contains("no spot price"));
    r.region = None;
    let spot = c.offerings(&r);
    assert!(!spot.offerings.is_empty());
    assert!(
        spot.offerings
            .iter()
            .all(|o| o.spot && o.region != "jioindiacentral")
    );
}

#[test]
fn show_gpus_and_egress() {
    let c = azure();
    let rows = c.accelerators(&AcceleratorFilter {
        name: Some("T4".into()),
        ..AcceleratorFilter::default()
    });
    let types: Vec<&str> = rows.iter().map(|r| r.instance_type.as_str()).collect();
    assert!(types.contains(&"Standard_NC4as_T4_v3"), "{types:?}");
    assert!(
        rows.iter()
            .all(|r| r.accelerator.name == "T4" && r.device_memory_gib == Some(16.0))
    );
    assert!((c.egress_cost(100.0) - 8.6625).abs() < 1e-9);
}
