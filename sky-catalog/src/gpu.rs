//! The `GpuInfo` column and what sky knows about accelerator devices.
//!
//! SkyPilot writes `GpuInfo` as a Python dict literal, e.g.
//! `{'Gpus': [{'Name': 'V100', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo':
//! {'SizeInMiB': 16384}}], 'TotalGpuMemoryInMiB': 16384}` (AWS), `{'Gpus': [{'MemoryInfo':
//! {'SizeInMiB': 16384}}]}` (GCP), or just the device name (Azure, GCP TPUs). sky does not
//! evaluate it: it looks for the first `SizeInMiB` and `Manufacturer` keys and ignores anything
//! it does not understand, so odd values never fail a load.

/// What a `GpuInfo` value says about one device.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct GpuInfo {
    /// Device memory in GiB (`SizeInMiB` / 1024), when present and sane.
    pub memory_gib: Option<f64>,
    /// Lower-cased manufacturer (`nvidia`, `amd`, ...), when present.
    pub vendor: Option<String>,
}

impl GpuInfo {
    /// Extracts what it can; never fails.
    pub(crate) fn parse(text: &str) -> GpuInfo {
        let memory_gib = value_after(text, "SizeInMiB")
            .and_then(|v| {
                let digits: String = v
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                digits.parse::<f64>().ok()
            })
            .filter(|mib| mib.is_finite() && *mib > 0.0)
            .map(|mib| mib / 1024.0);
        let vendor = value_after(text, "Manufacturer")
            .map(|v| {
                v.trim_start_matches(['\'', '"'])
                    .chars()
                    .take_while(|c| !matches!(c, '\'' | '"' | ',' | '}'))
                    .collect::<String>()
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|v| !v.is_empty());
        GpuInfo { memory_gib, vendor }
    }
}

/// The text after `key`'s closing quote and colon, trimmed at the start.
fn value_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(key)?;
    let rest = &text[at + key.len()..];
    let rest = rest.trim_start_matches(['\'', '"']).trim_start();
    let rest = rest.strip_prefix(':')?;
    Some(rest.trim_start())
}

/// Device memory (GiB) of well-known accelerators, for catalogs whose `GpuInfo` does not
/// carry it (SkyPilot's Azure file writes only the name). Used by memory-based accelerator
/// requests (`80GB+`) and show-gpus listings.
const KNOWN_MEMORY_GIB: &[(&str, f64)] = &[
    ("A10", 24.0),
    ("A100", 40.0),
    ("A100-80GB", 80.0),
    ("A10G", 24.0),
    ("B200", 180.0),
    ("H100", 80.0),
    ("H100-MEGA", 80.0),
    ("H200", 141.0),
    ("K80", 12.0),
    ("L4", 24.0),
    ("L40S", 48.0),
    ("M60", 8.0),
    ("MI25", 16.0),
    ("MI300X", 192.0),
    ("P100", 16.0),
    ("P4", 8.0),
    ("T4", 16.0),
    ("T4g", 16.0),
    ("V100", 16.0),
    ("V100-32GB", 32.0),
];

/// The device memory of a well-known accelerator, by name (case-insensitive).
pub(crate) fn known_memory_gib(name: &str) -> Option<f64> {
    KNOWN_MEMORY_GIB
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, m)| *m)
}

/// The vendor of an accelerator, from its name when the catalog does not say.
pub(crate) fn vendor_from_name(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("tpu-") {
        "google"
    } else if lower.starts_with("mi") || lower.starts_with("radeon") {
        "amd"
    } else if lower.starts_with("gaudi") {
        "intel"
    } else if lower.starts_with("inferentia") || lower.starts_with("trainium") {
        "aws"
    } else {
        "nvidia"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_memory_and_vendor_robustly() {
        let aws = GpuInfo::parse(
            "{'Gpus': [{'Name': 'V100', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo': {'SizeInMiB': 16384}}], 'TotalGpuMemoryInMiB': 16384}",
        );
        assert_eq!(aws.memory_gib, Some(16.0));
        assert_eq!(aws.vendor.as_deref(), Some("nvidia"));
        let gcp = GpuInfo::parse("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}");
        assert_eq!(gcp.memory_gib, Some(40.0));
        assert_eq!(gcp.vendor, None);
        for odd in [
            "V100",
            "tpu-v2-8",
            "",
            "{'Gpus': [{'MemoryInfo': {'SizeInMiB': None}}]}",
            "{'Gpus': [{'MemoryInfo': {'SizeInMiB': -5}}]}",
            "{'Gpus': [{'MemoryInfo': {'SizeInMiB'",
            "SizeInMiB': 'abc'",
            "SizeInMiB': ...",
            "{'Manufacturer': }",
        ] {
            let g = GpuInfo::parse(odd);
            assert_eq!(g.memory_gib, None, "{odd}");
        }
        assert_eq!(GpuInfo::parse("{'Manufacturer': }").vendor, None);
    }

    #[test]
    fn fallbacks() {
        assert_eq!(known_memory_gib("v100-32gb"), Some(32.0));
        assert_eq!(known_memory_gib("nope"), None);
        assert_eq!(vendor_from_name("MI300X"), "amd");
        assert_eq!(vendor_from_name("tpu-v3-8"), "google");
        assert_eq!(vendor_from_name("A100"), "nvidia");
    }
}
