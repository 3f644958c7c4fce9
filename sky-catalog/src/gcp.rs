//! GCP: SkyPilot's `gcp/vms.csv`, where accelerators are rows of their own priced apart from
//! the host VM they attach to; GCP's host rules (fixed A2/A3/A4/G2 hosts, N1 hosts within
//! Compute Engine's per-GPU limits, `TPU-VM` hosts); and [`GcpCatalog`].

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use sky_core::CloudId;
use sky_core::resources::{CpuSpec, MemorySpec};

use crate::csv_catalog::csv_catalog;
use crate::query::{Cand, Core, Req, cpus_ok, fmt_num, keep, list_some, mem_ok};
use crate::rules::{CloudRules, DEFAULT_MEMORY_PER_VCPU, SplitPricing};
use crate::table::Sym;

/// GCP's rules: zones, per-zone prices and failover, and separately priced accelerators.
pub(crate) static RULES: CloudRules = CloudRules {
    cloud: CloudId::Gcp,
    zones: true,
    extra_column: None,
    is_default,
    optimize_by_zone: true,
    zone_id_note: None,
    split: Some(SplitPricing {
        hostless_instance: TPU_HOST,
        hostless_hint: "TPU-VM needs a TPU accelerator (e.g. tpu-v3-8)",
        is_hostless: is_tpu,
        accelerator_of_host,
        is_attach_host: is_n1_host,
        attach_hosts,
        default_host,
    }),
};

csv_catalog!(
    /// GCP's catalog (`gcp/vms.csv`).
    ///
    /// Host VMs and accelerators are priced separately: GPU and TPU rows have an empty
    /// `InstanceType`, and an offering's price is the host's plus the accelerator's in the same
    /// zone. A100/A100-80GB/L4/H100/H100-MEGA/H200/B200 come with fixed host types
    /// (`a2-highgpu-8g` for `A100:8`); other GPUs attach to N1 hosts (by default with
    /// SkyPilot's vCPUs per GPU and at least 4 GiB per vCPU, within Compute Engine's per-GPU
    /// host limits); TPUs run on `TPU-VM` hosts that cost nothing extra (their offerings show 0
    /// vCPUs and 0 GiB, which the catalog does not give, and ignore `cpus`/`memory`). Prices
    /// and failover are per zone
    /// ([`Catalog::optimize_by_zone`](sky_core::catalog::Catalog::optimize_by_zone) is true).
    GcpCatalog,
    &RULES
);

/// GCP default CPU families (`n2-standard-8` is in `n2-standard`).
const DEFAULT_FAMILIES: &[&str] = &[
    "n2-standard",
    "n2-highmem",
    "n2-highcpu",
    "n4-standard",
    "n4-highcpu",
    "n4-highmem",
];

/// Whether `instance` belongs to one of the GCP default families.
fn is_default(instance: &str) -> bool {
    DEFAULT_FAMILIES.iter().any(|f| {
        instance
            .strip_prefix(f)
            .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// GCP accelerators that come only with fixed host types: name → (count → host types).
/// A2 hosts take only A100s, G2 only L4s, A3 only H100/H200, A4 only B200.
/// Accelerator count → host types.
type HostTable = &'static [(u32, &'static [&'static str])];

const FIXED_HOSTS: &[(&str, HostTable)] = &[
    (
        "A100",
        &[
            (1, &["a2-highgpu-1g"]),
            (2, &["a2-highgpu-2g"]),
            (4, &["a2-highgpu-4g"]),
            (8, &["a2-highgpu-8g"]),
            (16, &["a2-megagpu-16g"]),
        ],
    ),
    (
        "A100-80GB",
        &[
            (1, &["a2-ultragpu-1g"]),
            (2, &["a2-ultragpu-2g"]),
            (4, &["a2-ultragpu-4g"]),
            (8, &["a2-ultragpu-8g"]),
        ],
    ),
    (
        "L4",
        &[
            (
                1,
                &[
                    "g2-standard-4",
                    "g2-standard-8",
                    "g2-standard-12",
                    "g2-standard-16",
                    "g2-standard-32",
                ],
            ),
            (2, &["g2-standard-24"]),
            (4, &["g2-standard-48"]),
            (8, &["g2-standard-96"]),
        ],
    ),
    (
        "H100",
        &[
            (1, &["a3-highgpu-1g"]),
            (2, &["a3-highgpu-2g"]),
            (4, &["a3-highgpu-4g"]),
            (8, &["a3-highgpu-8g"]),
        ],
    ),
    ("H100-MEGA", &[(8, &["a3-megagpu-8g"])]),
    ("H200", &[(8, &["a3-ultragpu-8g"])]),
    ("B200", &[(8, &["a4-highgpu-8g"])]),
];

fn count_is(count: f64, n: u32) -> bool {
    (count - f64::from(n)).abs() <= 0.01
}

/// The fixed host table of a GCP accelerator, if it has one.
fn fixed_hosts(acc: &str) -> Option<HostTable> {
    FIXED_HOSTS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(acc))
        .map(|(_, t)| *t)
}

/// The fixed host types of `acc:count` (empty if that count has none).
fn fixed_hosts_for(acc: &str, count: f64) -> &'static [&'static str] {
    fixed_hosts(acc)
        .and_then(|t| t.iter().find(|(n, _)| count_is(count, *n)))
        .map(|(_, hosts)| *hosts)
        .unwrap_or(&[])
}

/// The accelerator built into a GCP fixed host type (`a2-highgpu-8g` → `A100`, 8).
fn accelerator_of_host(instance: &str) -> Option<(&'static str, f64)> {
    FIXED_HOSTS.iter().find_map(|(name, table)| {
        table
            .iter()
            .find(|(_, hosts)| hosts.contains(&instance))
            .map(|(n, _)| (*name, f64::from(*n)))
    })
}

/// Whether `instance` is an N1 host GCP GPUs other than the fixed ones attach to.
fn is_n1_host(instance: &str) -> bool {
    ["n1-standard", "n1-highmem", "n1-highcpu"]
        .iter()
        .any(|p| instance.starts_with(p))
}

/// The GCP host type of TPU VMs; it costs nothing beyond the TPU.
const TPU_HOST: &str = "TPU-VM";

/// Whether a GCP accelerator is a TPU.
fn is_tpu(acc: &str) -> bool {
    acc.len() > 4 && acc.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tpu-"))
}

/// Default N1 host vCPUs per accelerator count (SkyPilot's `_NUM_ACC_TO_NUM_CPU`, modelled on
/// AWS's p2/p3/g4dn shapes).
const N1_CPUS: &[(&str, &[(u32, u32)])] = &[
    ("K80", &[(1, 4), (2, 8), (4, 16), (8, 32), (16, 64)]),
    ("V100", &[(1, 8), (2, 16), (4, 32), (8, 64)]),
    ("T4", &[(1, 4), (2, 8), (4, 48)]),
    ("P100", &[(1, 8), (2, 16), (4, 32), (8, 64)]),
    ("DEFAULT", &[(1, 8), (2, 16), (4, 32), (8, 64), (16, 128)]),
];

/// The default N1 host vCPUs for `acc:count`.
fn n1_default_cpus(acc: &str, count: f64) -> Option<f64> {
    let table = N1_CPUS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(acc))
        .or_else(|| N1_CPUS.iter().find(|(n, _)| *n == "DEFAULT"))
        .map(|(_, t)| *t)?;
    table
        .iter()
        .find(|(n, _)| count_is(count, *n))
        .map(|(_, c)| f64::from(*c))
}

/// The largest N1 host (vCPUs, GiB) an `acc:count` can attach to (Compute Engine's GPU
/// platform limits, as SkyPilot's `_NUM_ACC_TO_MAX_CPU_AND_MEMORY`), with its zone exceptions.
fn n1_max(acc: &str, count: f64, zone: &str) -> Option<(f64, f64)> {
    /// Accelerator count → (max vCPUs, max GiB).
    type Limits = &'static [(u32, u32, u32)];
    const MAX: &[(&str, Limits)] = &[
        (
            "K80",
            &[(1, 8, 52), (2, 16, 104), (4, 32, 208), (8, 64, 208)],
        ),
        (
            "V100",
            &[(1, 12, 78), (2, 24, 156), (4, 48, 312), (8, 96, 624)],
        ),
        ("T4", &[(1, 48, 312), (2, 48, 312), (4, 96, 624)]),
        ("P4", &[(1, 24, 156), (2, 48, 312), (4, 96, 624)]),
        ("P100", &[(1, 16, 104), (2, 32, 208), (4, 96, 624)]),
    ];
    let (name, table) = MAX.iter().find(|(n, _)| n.eq_ignore_ascii_case(acc))?;
    let &(_, cpus, mem) = table.iter().find(|(n, _, _)| count_is(count, *n))?;
    let (mut cpus, mut mem) = (f64::from(cpus), f64::from(mem));
    if *name == "K80" && count_is(count, 8) && ["asia-east1-a", "us-east1-d"].contains(&zone) {
        mem = 416.0;
    }
    if *name == "P100"
        && count_is(count, 4)
        && ["us-east1-c", "europe-west1-d", "europe-west1-b"].contains(&zone)
    {
        cpus = 64.0;
        mem = 208.0;
    }
    Some((cpus, mem))
}

/// Pairs accelerator rows with the host VM rows of the same zone (fixed hosts, TPU VMs or N1
/// hosts) and applies the host shape rules ([`SplitPricing::attach_hosts`]).
fn attach_hosts(
    core: &Core,
    accs: Vec<Cand>,
    r: &Req<'_>,
    acc: Sym,
    count: f64,
    what: &str,
) -> Result<Vec<Cand>, String> {
    let acc_name = core.t.s(acc);
    let mut hint = None;
    if is_tpu(acc_name) {
        if let Some(it) = r.instance_type
            && it != TPU_HOST
        {
            return Err(format!(
                "TPUs run on {TPU_HOST} hosts on gcp, not {it}; drop instance_type"
            ));
        }
        return Ok(accs);
    }
    let fixed = fixed_hosts(acc_name);
    let (host_types, cpus, memory): (Vec<Sym>, Option<CpuSpec>, Option<MemorySpec>) = match fixed {
        Some(_) => {
            let hosts = fixed_hosts_for(acc_name, count);
            if hosts.is_empty() {
                return Err(format!("{what} has no host VM type on gcp"));
            }
            let syms = hosts.iter().filter_map(|h| core.t.strings.get(h)).collect();
            (syms, r.cpus, r.memory)
        }
        None => {
            // N1 hosts come from the per-zone index below.
            let syms = Vec::new();
            let (cpus, memory) = if r.instance_type.is_some() {
                (r.cpus, r.memory)
            } else {
                let cpus = match (r.cpus, r.memory) {
                    (None, None) => {
                        let Some(c) = n1_default_cpus(acc_name, count) else {
                            return Err(format!(
                                "{what} has no default N1 host on gcp; give cpus, memory or instance_type"
                            ));
                        };
                        Some(CpuSpec {
                            count: c,
                            or_more: true,
                        })
                    }
                    (c, _) => c,
                };
                let memory = r.memory.or_else(|| {
                    cpus.map(|c| MemorySpec::Gib {
                        gib: c.count * DEFAULT_MEMORY_PER_VCPU,
                        or_more: true,
                    })
                });
                (cpus, memory)
            };
            (syms, cpus, memory)
        }
    };
    // Host rows by zone, for the candidate host types.
    let fixed_by_zone;
    let by_zone = if fixed.is_some() {
        let mut m: FxHashMap<Sym, Vec<u32>> = FxHashMap::default();
        for h in &host_types {
            for &i in core.t.by_instance.get(h).into_iter().flatten() {
                m.entry(core.row(i).zone).or_default().push(i);
            }
        }
        fixed_by_zone = m;
        &fixed_by_zone
    } else {
        &core.attach_by_zone
    };
    // Every host stage below (instance pin, shape, N1 limits) in one pass; the staged
    // filters run only to explain an empty result. Same pairs, same order.
    let mut kept: Vec<Cand> = Vec::new();
    for a in &accs {
        let zone = core.row(a.acc).zone;
        let n1_max = if fixed.is_none() {
            n1_max(acc_name, count, core.t.s(zone))
        } else {
            None
        };
        for &h in by_zone.get(&zone).into_iter().flatten() {
            let host = core.row(h);
            let ok = r
                .instance_type
                .is_none_or(|it| core.t.s(host.instance) == it)
                && cpus.is_none_or(|c| cpus_ok(&c, host.vcpus))
                && memory.is_none_or(|m| mem_ok(&m, host.vcpus, host.memory))
                && n1_max.is_none_or(|(max_cpus, max_mem)| {
                    host.vcpus <= max_cpus + 1e-9 && host.memory <= max_mem + 1e-9
                });
            if ok {
                kept.push(Cand {
                    host: h,
                    acc: a.acc,
                });
            }
        }
    }
    if !kept.is_empty() {
        return Ok(kept);
    }
    let mut cands: Vec<Cand> = Vec::new();
    for a in &accs {
        for &h in by_zone.get(&core.row(a.acc).zone).into_iter().flatten() {
            cands.push(Cand {
                host: h,
                acc: a.acc,
            });
        }
    }
    let host_names = || {
        let mut names: Vec<String> = host_types
            .iter()
            .map(|s| core.t.s(*s).to_string())
            .collect();
        names.sort();
        list_some(&names, 6)
    };
    if cands.is_empty() {
        return Err(format!(
            "no host VM for {what} ({}) is offered in the zones where {what} is",
            if fixed.is_some() {
                host_names()
            } else {
                "N1".to_string()
            }
        ));
    }
    if let Some(it) = r.instance_type
        && !keep(
            &mut cands,
            &mut hint,
            |c| core.instance_of(c) == it,
            |_| {
                if fixed.is_some() {
                    format!("{what} attaches only to {} on gcp, not {it}", host_names())
                } else {
                    format!(
                        "{what} attaches only to N1 hosts (n1-standard/highmem/highcpu) on gcp, not {it}"
                    )
                }
            },
        )
    {
        return Err(hint.unwrap_or_default());
    }
    let host_what = format!("host VM for {what}");
    if !core.shape(&mut cands, &mut hint, cpus, memory, &host_what) {
        return Err(hint.unwrap_or_default());
    }
    if fixed.is_none()
        && !keep(
            &mut cands,
            &mut hint,
            |c| {
                let zone = core.t.s(core.row(c.acc).zone);
                match n1_max(acc_name, count, zone) {
                    None => true,
                    Some((max_cpus, max_mem)) => {
                        let (v, m) = core.host_shape(c);
                        v <= max_cpus + 1e-9 && m <= max_mem + 1e-9
                    }
                }
            },
            |_| {
                let (c, m) = n1_max(acc_name, count, "").unwrap_or((0.0, 0.0));
                format!(
                    "{what} attaches to N1 hosts of at most {} vCPUs and {} GiB on gcp",
                    fmt_num(c),
                    fmt_num(m)
                )
            },
        )
    {
        return Err(hint.unwrap_or_default());
    }
    Ok(cands)
}

/// The cheapest (on-demand) default host of `acc:count` in `zone`, as show-gpus lists it
/// ([`SplitPricing::default_host`]).
fn default_host(
    core: &Core,
    hosts_by_zone: &HashMap<Sym, Vec<u32>>,
    acc: &str,
    count: f64,
    zone: Sym,
) -> Option<u32> {
    let fixed = fixed_hosts(acc).map(|_| fixed_hosts_for(acc, count));
    let min_cpus = if fixed.is_none() {
        n1_default_cpus(acc, count)?
    } else {
        0.0
    };
    hosts_by_zone
        .get(&zone)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&i| {
            let h = core.row(i);
            let name = core.t.s(h.instance);
            match fixed {
                Some(types) => types.contains(&name),
                None => {
                    is_n1_host(name)
                        && h.vcpus >= min_cpus
                        && h.memory >= min_cpus * DEFAULT_MEMORY_PER_VCPU
                }
            }
        })
        .filter(|&i| !core.row(i).price.is_nan())
        .min_by(|&a, &b| {
            core.row(a)
                .price
                .total_cmp(&core.row(b).price)
                .then_with(|| {
                    core.t
                        .s(core.row(a).instance)
                        .cmp(core.t.s(core.row(b).instance))
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_families() {
        assert!(is_default("n2-standard-8"));
        assert!(is_default("n4-highcpu-16"));
        assert!(!is_default("n2d-standard-8"));
    }

    #[test]
    fn hosts() {
        assert_eq!(fixed_hosts_for("a100", 8.0), ["a2-highgpu-8g"]);
        assert_eq!(fixed_hosts_for("L4", 1.0).len(), 5);
        assert!(fixed_hosts_for("A100", 3.0).is_empty());
        assert_eq!(
            accelerator_of_host("a3-megagpu-8g"),
            Some(("H100-MEGA", 8.0))
        );
        assert_eq!(n1_default_cpus("V100", 1.0), Some(8.0));
        assert_eq!(n1_default_cpus("T4", 4.0), Some(48.0));
        assert_eq!(n1_default_cpus("P4", 16.0), Some(128.0));
        assert_eq!(n1_default_cpus("T4", 8.0), None);
        assert_eq!(n1_max("V100", 1.0, "us-central1-a"), Some((12.0, 78.0)));
        assert_eq!(n1_max("P100", 4.0, "us-east1-c"), Some((64.0, 208.0)));
        assert_eq!(n1_max("L4", 1.0, "x"), None);
        assert!(is_tpu("tpu-v3-8"));
        assert!(!is_tpu("T4"));
        assert!(!is_tpu("tp\u{e9}-v3"), "no panic on non-ASCII");
    }
}
