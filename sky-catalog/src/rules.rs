//! Per-cloud selection rules that SkyPilot hard-codes next to its catalogs
//! (`sky/catalog/{aws,gcp,azure}_catalog.py`).

/// AWS default CPU families (`m6i.2xlarge` is in `m6i`); `d` = local NVMe.
pub(crate) const AWS_DEFAULT_FAMILIES: &[&str] = &[
    "m6i", "m6id", "m7i", "r6i", "r6id", "r7i", "c6i", "c6id", "c7i",
];

/// GCP default CPU families (`n2-standard-8` is in `n2-standard`).
pub(crate) const GCP_DEFAULT_FAMILIES: &[&str] = &[
    "n2-standard",
    "n2-highmem",
    "n2-highcpu",
    "n4-standard",
    "n4-highcpu",
    "n4-highmem",
];

/// Azure default CPU families, in SkyPilot's family notation (`Standard_D8s_v5` is `Ds_v5`).
pub(crate) const AZURE_DEFAULT_FAMILIES: &[&str] = &["Ds_v5", "Es_v5", "Fs_v2"];

/// Default vCPUs per node for CPU-only requests that give neither cpus nor memory (`8+`).
pub(crate) const DEFAULT_VCPUS: f64 = 8.0;

/// Default GiB of memory per vCPU for CPU-only requests without a memory spec (`4x`), and the
/// minimum memory per vCPU of GCP's N1 GPU hosts.
pub(crate) const DEFAULT_MEMORY_PER_VCPU: f64 = 4.0;

/// Whether `instance` belongs to one of the AWS default families.
pub(crate) fn aws_is_default(instance: &str) -> bool {
    instance
        .split_once('.')
        .is_some_and(|(family, _)| AWS_DEFAULT_FAMILIES.contains(&family))
}

/// Whether `instance` belongs to one of the GCP default families.
pub(crate) fn gcp_is_default(instance: &str) -> bool {
    GCP_DEFAULT_FAMILIES.iter().any(|f| {
        instance
            .strip_prefix(f)
            .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// SkyPilot's Azure family of an instance type: `Standard_D8s_v5` → `Ds_v5`,
/// `Standard_E4-2s_v5` → `E_s_v5`, `Basic_A1` → `basic_a`.
pub(crate) fn azure_family(instance: &str) -> Option<String> {
    if instance.starts_with("Basic_A") {
        return Some("basic_a".into());
    }
    let rest = instance.strip_prefix("Standard_")?;
    let rest = rest.strip_suffix("_Promo").unwrap_or(rest);
    let letters_end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if letters_end == 0 {
        return None;
    }
    let (letters, after) = rest.split_at(letters_end);
    let digits_end = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    if digits_end == 0 {
        return None;
    }
    let after = &after[digits_end..];
    if let Some(constrained) = after.strip_prefix('-') {
        // `E4-2s_v5`: letters, vCPUs, '-', constrained vCPUs, suffix.
        let d = constrained
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(constrained.len());
        if d == 0 {
            return None;
        }
        return Some(format!("{letters}_{}", &constrained[d..]));
    }
    Some(format!("{letters}{after}"))
}

/// Whether `instance` belongs to one of the Azure default families.
pub(crate) fn azure_is_default(instance: &str) -> bool {
    azure_family(instance).is_some_and(|f| AZURE_DEFAULT_FAMILIES.contains(&f.as_str()))
}

/// GCP accelerators that come only with fixed host types: name → (count → host types).
/// A2 hosts take only A100s, G2 only L4s, A3 only H100/H200, A4 only B200.
/// Accelerator count → host types.
type HostTable = &'static [(u32, &'static [&'static str])];

const GCP_FIXED_HOSTS: &[(&str, HostTable)] = &[
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
pub(crate) fn gcp_fixed_hosts(acc: &str) -> Option<HostTable> {
    GCP_FIXED_HOSTS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(acc))
        .map(|(_, t)| *t)
}

/// The fixed host types of `acc:count` (empty if that count has none).
pub(crate) fn gcp_fixed_hosts_for(acc: &str, count: f64) -> &'static [&'static str] {
    gcp_fixed_hosts(acc)
        .and_then(|t| t.iter().find(|(n, _)| count_is(count, *n)))
        .map(|(_, hosts)| *hosts)
        .unwrap_or(&[])
}

/// The accelerator built into a GCP fixed host type (`a2-highgpu-8g` → `A100`, 8).
pub(crate) fn gcp_accelerator_of_host(instance: &str) -> Option<(&'static str, f64)> {
    GCP_FIXED_HOSTS.iter().find_map(|(name, table)| {
        table
            .iter()
            .find(|(_, hosts)| hosts.contains(&instance))
            .map(|(n, _)| (*name, f64::from(*n)))
    })
}

/// Whether `instance` is an N1 host GCP GPUs other than the fixed ones attach to.
pub(crate) fn gcp_is_n1_host(instance: &str) -> bool {
    ["n1-standard", "n1-highmem", "n1-highcpu"]
        .iter()
        .any(|p| instance.starts_with(p))
}

/// The GCP host type of TPU VMs; it costs nothing beyond the TPU.
pub(crate) const GCP_TPU_HOST: &str = "TPU-VM";

/// Whether a GCP accelerator is a TPU.
pub(crate) fn gcp_is_tpu(acc: &str) -> bool {
    acc.len() > 4 && acc.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tpu-"))
}

/// Default N1 host vCPUs per accelerator count (SkyPilot's `_NUM_ACC_TO_NUM_CPU`, modelled on
/// AWS's p2/p3/g4dn shapes).
const GCP_N1_CPUS: &[(&str, &[(u32, u32)])] = &[
    ("K80", &[(1, 4), (2, 8), (4, 16), (8, 32), (16, 64)]),
    ("V100", &[(1, 8), (2, 16), (4, 32), (8, 64)]),
    ("T4", &[(1, 4), (2, 8), (4, 48)]),
    ("P100", &[(1, 8), (2, 16), (4, 32), (8, 64)]),
    ("DEFAULT", &[(1, 8), (2, 16), (4, 32), (8, 64), (16, 128)]),
];

/// The default N1 host vCPUs for `acc:count`.
pub(crate) fn gcp_n1_default_cpus(acc: &str, count: f64) -> Option<f64> {
    let table = GCP_N1_CPUS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(acc))
        .or_else(|| GCP_N1_CPUS.iter().find(|(n, _)| *n == "DEFAULT"))
        .map(|(_, t)| *t)?;
    table
        .iter()
        .find(|(n, _)| count_is(count, *n))
        .map(|(_, c)| f64::from(*c))
}

/// The largest N1 host (vCPUs, GiB) an `acc:count` can attach to (Compute Engine's GPU
/// platform limits, as SkyPilot's `_NUM_ACC_TO_MAX_CPU_AND_MEMORY`), with its zone exceptions.
pub(crate) fn gcp_n1_max(acc: &str, count: f64, zone: &str) -> Option<(f64, f64)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert!(aws_is_default("m6i.2xlarge"));
        assert!(aws_is_default("c6id.large"));
        assert!(!aws_is_default("m6a.2xlarge"));
        assert!(!aws_is_default("p3.2xlarge"));
        assert!(gcp_is_default("n2-standard-8"));
        assert!(gcp_is_default("n4-highcpu-16"));
        assert!(!gcp_is_default("n2d-standard-8"));
        assert_eq!(azure_family("Standard_D8s_v5").as_deref(), Some("Ds_v5"));
        assert_eq!(azure_family("Standard_E4-2s_v5").as_deref(), Some("E_s_v5"));
        assert_eq!(azure_family("Standard_F8s_v2").as_deref(), Some("Fs_v2"));
        assert_eq!(azure_family("Standard_D8ds_v5").as_deref(), Some("Dds_v5"));
        assert_eq!(
            azure_family("Standard_A1_v2_Promo").as_deref(),
            Some("A_v2")
        );
        assert_eq!(azure_family("Standard_"), None);
        assert_eq!(azure_family("weird"), None);
        assert!(azure_is_default("Standard_E8s_v5"));
        assert!(!azure_is_default("Standard_D8as_v5"));
    }

    #[test]
    fn gcp_hosts() {
        assert_eq!(gcp_fixed_hosts_for("a100", 8.0), ["a2-highgpu-8g"]);
        assert_eq!(gcp_fixed_hosts_for("L4", 1.0).len(), 5);
        assert!(gcp_fixed_hosts_for("A100", 3.0).is_empty());
        assert_eq!(
            gcp_accelerator_of_host("a3-megagpu-8g"),
            Some(("H100-MEGA", 8.0))
        );
        assert_eq!(gcp_n1_default_cpus("V100", 1.0), Some(8.0));
        assert_eq!(gcp_n1_default_cpus("T4", 4.0), Some(48.0));
        assert_eq!(gcp_n1_default_cpus("P4", 16.0), Some(128.0));
        assert_eq!(gcp_n1_default_cpus("T4", 8.0), None);
        assert_eq!(gcp_n1_max("V100", 1.0, "us-central1-a"), Some((12.0, 78.0)));
        assert_eq!(gcp_n1_max("P100", 4.0, "us-east1-c"), Some((64.0, 208.0)));
        assert_eq!(gcp_n1_max("L4", 1.0, "x"), None);
        assert!(gcp_is_tpu("tpu-v3-8"));
        assert!(!gcp_is_tpu("T4"));
        assert!(!gcp_is_tpu("tp\u{e9}-v3"), "no panic on non-ASCII");
    }
}
