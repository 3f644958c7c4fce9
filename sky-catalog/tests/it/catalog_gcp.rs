//! GCP catalog queries against SkyPilot's real GCP catalog.

use sky_core::CloudId;
use sky_core::catalog::{Accelerator, AcceleratorFilter, Catalog, CatalogError};
use sky_core::resources::{AcceleratorSpec, CpuSpec, MemorySpec, Resources};

use crate::catalog_support::{close, gcp, num, raw_rows};

fn acc(name: &str, count: f64) -> Resources {
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::named(name, count));
    r
}

/// Independent: the (on-demand or spot) price of `instance` + `acc:count` in every zone where
/// both exist, from a naive reading of the CSV.
fn naive_pairs(instance: &str, accel: &str, count: f64, spot: bool) -> Vec<(f64, String)> {
    let rows = raw_rows("gcp");
    let col = if spot { "SpotPrice" } else { "Price" };
    let hosts: std::collections::HashMap<&str, f64> = rows
        .iter()
        .filter(|r| r["InstanceType"] == instance)
        .filter_map(|r| Some((r["AvailabilityZone"].as_str(), num(r, col)?)))
        .collect();
    let mut out: Vec<(f64, String)> = rows
        .iter()
        .filter(|r| r["InstanceType"].is_empty() && r["AcceleratorName"] == accel)
        .filter(|r| num(r, "AcceleratorCount") == Some(count))
        .filter_map(|r| {
            let z = r["AvailabilityZone"].as_str();
            Some((hosts.get(z)? + num(r, col)?, z.to_string()))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    out
}

#[test]
fn golden_cheapest_v100_is_n1_highmem_8_in_us_central1_a() {
    let c = gcp();
    let f = c.offerings(&acc("V100", 1.0));
    assert!(f.hint.is_none(), "{:?}", f.hint);
    let best = &f.offerings[0];
    assert_eq!(best.instance_type, "n1-highmem-8");
    assert_eq!(best.region, "us-central1");
    assert_eq!(best.zone.as_deref(), Some("us-central1-a"));
    assert_eq!(best.hourly_price, 2.95321, "0.47321 (host) + 2.48 (GPU)");
    assert!(close(best.accelerator_hourly_price, 2.48));
    assert_eq!(
        best.accelerator,
        Some(Accelerator {
            name: "V100".into(),
            count: 1.0
        })
    );
    assert!(!best.spot);
    assert_eq!((best.vcpus, best.memory_gib), (8.0, 52.0));
    // Every feasible host: 8+ vCPUs, >= 32 GiB, within V100:1's N1 limits (12 vCPUs, 78 GiB).
    for o in &f.offerings {
        assert!(o.instance_type.starts_with("n1-"));
        assert!(o.vcpus >= 8.0 && o.vcpus <= 12.0 && o.memory_gib >= 32.0 && o.memory_gib <= 78.0);
    }
    // One offering per zone that has both the host and the GPU, cheapest first.
    let expected = naive_pairs("n1-highmem-8", "V100", 1.0, false);
    assert_eq!(f.offerings.len(), expected.len());
    for (o, (price, zone)) in f.offerings.iter().zip(&expected) {
        assert!(close(o.hourly_price, *price));
        assert_eq!(o.zone.as_deref(), Some(zone.as_str()));
    }
    assert!(c.optimize_by_zone());
}

#[test]
fn spot_prices_sum_host_and_gpu_spot_prices() {
    let c = gcp();
    let mut r = acc("v100", 1.0);
    r.use_spot = Some(true);
    let f = c.offerings(&r);
    let expected = naive_pairs("n1-highmem-8", "V100", 1.0, true);
    assert!(!expected.is_empty());
    assert!(f.offerings.iter().all(|o| o.spot));
    assert!(close(f.offerings[0].hourly_price, expected[0].0));
    assert_eq!(f.offerings[0].zone.as_deref(), Some(expected[0].1.as_str()));
    let on_demand = c.offerings(&acc("V100", 1.0));
    assert!(f.offerings[0].hourly_price < on_demand.offerings[0].hourly_price);
}

#[test]
fn t4_4_uses_48_vcpu_hosts_and_a100_8_its_a2_host() {
    let c = gcp();
    let f = c.offerings(&acc("T4", 4.0));
    assert!(!f.offerings.is_empty(), "{:?}", f.hint);
    for o in &f.offerings {
        assert!(
            o.vcpus >= 48.0 && o.memory_gib >= 192.0 && o.vcpus <= 96.0,
            "{o:?}"
        );
    }
    let cheapest_types: Vec<&str> = [
        "n1-standard-64",
        "n1-highmem-64",
        "n1-standard-96",
        "n1-highmem-96",
    ]
    .into_iter()
    .filter(|t| f.offerings.iter().any(|o| o.instance_type == *t))
    .collect();
    assert!(
        cheapest_types.len() >= 2,
        "all feasible hosts, not only the cheapest"
    );
    let best = &f.offerings[0];
    let naive = naive_pairs(&best.instance_type, "T4", 4.0, false);
    assert!(close(best.hourly_price, naive[0].0));

    let f = c.offerings(&acc("A100", 8.0));
    assert!(
        f.offerings
            .iter()
            .all(|o| o.instance_type == "a2-highgpu-8g")
    );
    let expected = naive_pairs("a2-highgpu-8g", "A100", 8.0, false);
    assert_eq!(f.offerings.len(), expected.len());
    assert!(close(f.offerings[0].hourly_price, expected[0].0));
    let central = f
        .offerings
        .iter()
        .find(|o| o.zone.as_deref() == Some("us-central1-a"))
        .unwrap();
    assert!(close(central.hourly_price, 5.91582 + 23.47126));
    assert!(close(central.accelerator_hourly_price, 23.47126));

    // L4:1 fits five G2 shapes; all are returned.
    let f = c.offerings(&acc("L4", 1.0));
    let types: std::collections::BTreeSet<&str> = f
        .offerings
        .iter()
        .map(|o| o.instance_type.as_str())
        .collect();
    assert!(
        types.len() >= 2 && types.iter().all(|t| t.starts_with("g2-standard-")),
        "{types:?}"
    );
    // A fixed host named as the instance type brings its GPUs along.
    let mut r = Resources::new();
    r.instance_type = Some("a2-highgpu-8g".into());
    let f = c.offerings(&r);
    assert!(close(f.offerings[0].hourly_price, expected[0].0));
    assert_eq!(f.offerings[0].accelerator.as_ref().unwrap().count, 8.0);
}

#[test]
fn tpus_run_on_free_tpu_vm_hosts() {
    let c = gcp();
    let f = c.offerings(&acc("tpu-v3-8", 1.0));
    assert!(!f.offerings.is_empty(), "{:?}", f.hint);
    let rows = raw_rows("gcp");
    let min = rows
        .iter()
        .filter(|r| r["AcceleratorName"] == "tpu-v3-8")
        .filter_map(|r| num(r, "Price"))
        .fold(f64::INFINITY, f64::min);
    let best = &f.offerings[0];
    assert_eq!(best.instance_type, "TPU-VM");
    assert!(close(best.hourly_price, min));
    assert!(close(best.accelerator_hourly_price, min));
    assert_eq!(
        c.hourly_cost(
            "TPU-VM",
            best.accelerator.as_ref(),
            false,
            Some(&best.region),
            best.zone.as_deref()
        ),
        Some(best.hourly_price)
    );
}

#[test]
fn cpu_only_defaults_to_8_plus_vcpus_and_4x_memory_in_default_families() {
    let c = gcp();
    let f = c.offerings(&Resources::new());
    assert!(!f.offerings.is_empty());
    let families = [
        "n2-standard-",
        "n2-highmem-",
        "n2-highcpu-",
        "n4-standard-",
        "n4-highcpu-",
        "n4-highmem-",
    ];
    for o in &f.offerings {
        assert!(
            families.iter().any(|p| o.instance_type.starts_with(p)),
            "{}",
            o.instance_type
        );
        assert!(o.vcpus >= 8.0 && o.memory_gib >= 4.0 * o.vcpus, "{o:?}");
        assert!(o.accelerator.is_none());
    }
    let types: std::collections::BTreeSet<&str> = f
        .offerings
        .iter()
        .map(|o| o.instance_type.as_str())
        .collect();
    assert!(
        types.len() > 5,
        "every feasible default type: {}",
        types.len()
    );
    // Independent cheapest.
    let rows = raw_rows("gcp");
    let naive_min = rows
        .iter()
        .filter(|r| families.iter().any(|p| r["InstanceType"].starts_with(p)))
        .filter(|r| {
            let (v, m) = (num(r, "vCPUs").unwrap(), num(r, "MemoryGiB").unwrap());
            v >= 8.0 && m >= 4.0 * v
        })
        .filter_map(|r| num(r, "Price"))
        .fold(f64::INFINITY, f64::min);
    assert!(close(f.offerings[0].hourly_price, naive_min));
    // Sorted by price, ties by region, zone, instance type.
    for w in f.offerings.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            (a.hourly_price, &a.region, &a.zone, &a.instance_type)
                <= (b.hourly_price, &b.region, &b.zone, &b.instance_type)
        );
    }

    // cpus given, memory defaults to 4x; exact cpus.
    let mut r = Resources::new();
    r.cpus = Some(CpuSpec {
        count: 4.0,
        or_more: false,
    });
    let f = c.offerings(&r);
    assert!(
        f.offerings
            .iter()
            .all(|o| o.vcpus == 4.0 && o.memory_gib >= 16.0)
    );
    // memory given alone: no vCPU default.
    let mut r = Resources::new();
    r.memory = Some(MemorySpec::Gib {
        gib: 512.0,
        or_more: true,
    });
    let f = c.offerings(&r);
    assert!(!f.offerings.is_empty());
    assert!(f.offerings.iter().all(|o| o.memory_gib >= 512.0));
}

#[test]
fn region_and_zone_pins_and_did_you_mean() {
    let c = gcp();
    let mut r = acc("V100", 1.0);
    r.region = Some("europe-west4".into());
    let f = c.offerings(&r);
    assert!(!f.offerings.is_empty());
    assert!(f.offerings.iter().all(|o| o.region == "europe-west4"));
    r.region = None;
    r.zone = Some("us-central1-b".into());
    let f = c.offerings(&r);
    assert!(!f.offerings.is_empty());
    assert!(
        f.offerings
            .iter()
            .all(|o| o.zone.as_deref() == Some("us-central1-b"))
    );

    let mut r = acc("V100", 1.0);
    r.region = Some("us-centrl1".into());
    let f = c.offerings(&r);
    assert!(f.offerings.is_empty());
    let hint = f.hint.unwrap();
    assert!(
        hint.contains("no region matches us-centrl1") && hint.contains("us-central1"),
        "{hint}"
    );

    // A region that exists but lacks the GPU.
    let mut r = acc("V100", 1.0);
    r.region = Some("us-east5".into());
    let f = c.offerings(&r);
    assert!(f.offerings.is_empty());
    let hint = f.hint.unwrap();
    assert!(hint.contains("not offered in region us-east5"), "{hint}");

    match c.validate_region_zone(Some("us-centrl1"), None) {
        Err(CatalogError::UnknownRegion { suggestion, .. }) => {
            assert_eq!(suggestion.as_deref(), Some("us-central1"))
        }
        other => panic!("{other:?}"),
    }
    match c.validate_region_zone(Some("us-central1"), Some("us-central1-q")) {
        Err(CatalogError::UnknownZone { suggestion, .. }) => assert!(suggestion.is_some()),
        other => panic!("{other:?}"),
    }
    assert!(
        c.validate_region_zone(Some("US-CENTRAL1"), Some("us-central1-a"))
            .is_ok()
    );
    assert!(
        c.validate_region_zone(Some("us-east1"), Some("us-central1-a"))
            .is_err()
    );
    let regions = c.regions();
    assert_eq!(regions.len(), 44);
    assert!(regions.windows(2).all(|w| w[0].name < w[1].name));
    assert!(regions.iter().all(|r| !r.zones.is_empty()));
}

#[test]
fn unavailable_counts_and_names_get_hints_and_suggestions() {
    let c = gcp();
    let f = c.offerings(&acc("V100", 3.0));
    assert!(f.offerings.is_empty());
    assert_eq!(
        f.hint.as_deref(),
        Some("V100:3 is not offered on gcp; V100 comes in counts 1, 2, 4, 8")
    );
    assert!(f.suggestions.contains(&"V100:4".to_string()));
    assert!(f.suggestions.contains(&"V100:8".to_string()));
    assert!(
        !f.suggestions.contains(&"V100:2".to_string()),
        "counts below the request"
    );

    // A near spelling that is not a substring.
    let f = c.offerings(&acc("L44", 1.0));
    assert!(f.offerings.is_empty());
    assert!(
        f.hint
            .unwrap()
            .contains("does not offer an accelerator named L44")
    );
    assert!(
        f.suggestions.contains(&"L4:1".to_string()),
        "{:?}",
        f.suggestions
    );
    // A substring: SkyPilot's fuzzy list, cheapest first.
    let f = c.offerings(&acc("H100", 3.0));
    assert!(f.suggestions.iter().any(|s| s.starts_with("H100:")));
    assert!(f.suggestions.iter().any(|s| s.starts_with("H100-MEGA:8")));

    // Wrong host for a GPU.
    let mut r = acc("A100", 1.0);
    r.instance_type = Some("n1-standard-8".into());
    let f = c.offerings(&r);
    assert!(f.hint.unwrap().contains("attaches only to a2-highgpu-1g"));
    // Price cap.
    let mut r = acc("V100", 1.0);
    r.max_hourly_cost = Some(2.9);
    let f = c.offerings(&r);
    assert!(f.offerings.is_empty());
    assert!(f.hint.unwrap().contains("max_hourly_cost"));
    r.max_hourly_cost = Some(3.0);
    let f = c.offerings(&r);
    assert!(!f.offerings.is_empty() && f.offerings.iter().all(|o| o.hourly_price <= 3.0));
    // Another cloud's request.
    let mut r = acc("V100", 1.0);
    r.cloud = Some(CloudId::Aws);
    assert!(c.offerings(&r).offerings.is_empty());
}

#[test]
fn memory_based_requests_match_device_memory() {
    let c = gcp();
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::Memory {
        vendor: Some("nvidia".into()),
        memory_gib: 80.0,
        or_more: true,
        count: 8.0,
    });
    let f = c.offerings(&r);
    let names: std::collections::BTreeSet<String> = f
        .offerings
        .iter()
        .map(|o| o.accelerator.as_ref().unwrap().name.clone())
        .collect();
    assert!(
        names.contains("A100-80GB") && names.contains("H100") && names.contains("B200"),
        "{names:?}"
    );
    assert!(!names.contains("A100") && !names.contains("V100"));
    assert!(
        f.offerings
            .windows(2)
            .all(|w| w[0].hourly_price <= w[1].hourly_price)
    );
    // Exactly 16 GB, one device.
    r.accelerators = Some(AcceleratorSpec::Memory {
        vendor: None,
        memory_gib: 16.0,
        or_more: false,
        count: 1.0,
    });
    let names: std::collections::BTreeSet<String> = c
        .offerings(&r)
        .offerings
        .iter()
        .map(|o| o.accelerator.as_ref().unwrap().name.clone())
        .collect();
    assert_eq!(names, ["P100", "T4", "V100"].map(String::from).into());
}

#[test]
fn zones_for_and_hourly_cost_agree_with_offerings() {
    let c = gcp();
    let f = c.offerings(&acc("V100", 1.0));
    let best = &f.offerings[0];
    let zones = c.zones_for(best);
    assert_eq!(
        zones,
        [
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-central1-f"
        ]
    );
    assert_eq!(
        c.hourly_cost(
            "n1-highmem-8",
            best.accelerator.as_ref(),
            false,
            Some("us-central1"),
            Some("us-central1-a")
        ),
        Some(best.hourly_price)
    );
    assert_eq!(
        c.hourly_cost(
            "n1-highmem-8",
            None,
            false,
            Some("us-central1"),
            Some("us-central1-a")
        ),
        Some(0.47321)
    );
    // a2 hosts carry their A100s in the price.
    let a100 = c
        .hourly_cost("a2-highgpu-8g", None, false, Some("us-central1"), None)
        .unwrap();
    assert!(close(a100, 5.91582 + 23.47126));
    assert_eq!(
        c.hourly_cost("n1-highmem-8", None, false, Some("mars-1"), None),
        None
    );
    assert_eq!(c.hourly_cost("no-such-type", None, false, None, None), None);
    assert_eq!(c.egress_cost(100.0), 12.0);
}

#[test]
fn show_gpus_lists_default_hosts_and_cheapest_regions() {
    let c = gcp();
    let filter = AcceleratorFilter {
        name: Some("v100".into()),
        ..AcceleratorFilter::default()
    };
    let rows = c.accelerators(&filter);
    let counts: Vec<f64> = rows.iter().map(|r| r.accelerator.count).collect();
    assert_eq!(
        counts,
        [1.0, 2.0, 4.0, 8.0],
        "one row per count: the cheapest region"
    );
    let one = &rows[0];
    assert_eq!(one.instance_type, "n1-highmem-8");
    assert_eq!(one.device_memory_gib, Some(16.0));
    assert_eq!((one.vcpus, one.host_memory_gib), (Some(8.0), Some(52.0)));
    assert!(close(one.hourly_price.unwrap(), 0.47321 + 2.48));
    assert_eq!(one.region, "us-central1");

    let all = c.accelerators(&AcceleratorFilter {
        all_regions: true,
        count: Some(1.0),
        ..filter.clone()
    });
    assert!(all.len() > 1 && all.iter().all(|r| r.accelerator.count == 1.0));
    let regions: std::collections::BTreeSet<&str> = all.iter().map(|r| r.region.as_str()).collect();
    assert_eq!(regions.len(), all.len(), "one row per region");

    let everything = c.accelerators(&AcceleratorFilter::default());
    for w in everything.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            (&a.accelerator.name, a.accelerator.count, &a.instance_type)
                <= (&b.accelerator.name, b.accelerator.count, &b.instance_type)
        );
    }
    assert!(
        everything
            .iter()
            .any(|r| r.accelerator.name == "tpu-v2-8" && r.instance_type.is_empty())
    );
    let names = c.accelerator_names();
    assert!(names.contains(&"A100-80GB".to_string()) && names.windows(2).all(|w| w[0] < w[1]));
}

/// `visit_offerings` hands out exactly the offerings of `offerings` (in any order), with the
/// same hint and suggestions, on every kind of request and on all three clouds' catalogs.
#[test]
fn visit_offerings_agrees_with_offerings() {
    use sky_core::catalog::Offering;
    let with = |f: &dyn Fn(&mut Resources)| {
        let mut r = Resources::new();
        f(&mut r);
        r
    };
    let mut requests = vec![
        Resources::new(),
        acc("V100", 1.0),
        acc("T4", 4.0),
        acc("A100", 8.0),
        acc("tpu-v3-8", 1.0),
        acc("V10O", 1.0),
        with(&|r| {
            r.cpus = Some(CpuSpec {
                count: 4.0,
                or_more: true,
            })
        }),
        with(&|r| {
            r.memory = Some(MemorySpec::Gib {
                gib: 64.0,
                or_more: true,
            });
            r.region = Some("us-central1".into());
        }),
        with(&|r| {
            r.accelerators = Some(AcceleratorSpec::Memory {
                vendor: None,
                memory_gib: 80.0,
                or_more: true,
                count: 1.0,
            })
        }),
        with(&|r| r.instance_type = Some("n1-standard-8".into())),
    ];
    for r in requests.clone() {
        let mut spot = r;
        spot.use_spot = Some(true);
        requests.push(spot);
    }
    let key = |o: &Offering| {
        format!(
            "{} {} {:?} {} {:?} {}",
            o.hourly_price, o.region, o.zone, o.instance_type, o.accelerator, o.spot
        )
    };
    let catalogs: Vec<std::sync::Arc<dyn Catalog>> = vec![
        gcp(),
        crate::catalog_support::azure(),
        std::sync::Arc::new(crate::catalog_support::aws()),
    ];
    for catalog in &catalogs {
        for req in &requests {
            let listed = catalog.offerings(req);
            let mut seen = Vec::new();
            let rest = catalog.visit_offerings(req, &mut |o| seen.push(o.to_offering()));
            assert!(rest.offerings.is_empty());
            assert_eq!(rest.hint, listed.hint, "{req:?}");
            assert_eq!(rest.suggestions, listed.suggestions, "{req:?}");
            let mut a: Vec<String> = listed.offerings.iter().map(key).collect();
            let mut b: Vec<String> = seen.iter().map(key).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{} {req:?}", catalog.cloud());
        }
    }
}
