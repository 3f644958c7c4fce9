//! String forms of resource fields: `FromStr` and `Display` for the value types, as
//! SkyPilot writes them in task YAML.
//!
//! Every parser here is total: any input yields a value or a [`ParseValueError`], never a
//! panic.

use std::fmt;
use std::str::FromStr;

use super::{AcceleratorSpec, CpuSpec, DiskTier, MemorySpec, NetworkTier, PortRange};

/// A resource value string that could not be parsed (e.g. `"V100:x"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseValueError {
    /// What is wrong, and what was expected.
    pub message: String,
}

impl ParseValueError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ParseValueError {
            message: message.into(),
        }
    }
}

/// Formats a count or size the way SkyPilot prints it: `4`, `0.5`.
pub(crate) fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A finite, strictly positive decimal number (`4`, `0.5`, `1e3`).
fn positive_number(s: &str, what: &str) -> Result<f64, ParseValueError> {
    let t = s.trim();
    // Rust's float parser accepts "inf" and "nan"; SkyPilot's counts never are.
    let looks_numeric = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    match t.parse::<f64>() {
        Ok(v) if looks_numeric && v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) if looks_numeric => Err(ParseValueError::new(format!(
            "invalid {what} `{s}`: must be a positive number"
        ))),
        _ => Err(ParseValueError::new(format!(
            "invalid {what} `{s}`: expected a number"
        ))),
    }
}

/// Binary memory units, lower-case, with their size in GiB.
const MEMORY_UNITS: [(&str, f64); 15] = [
    ("kb", 1.0 / (1024.0 * 1024.0)),
    ("ki", 1.0 / (1024.0 * 1024.0)),
    ("k", 1.0 / (1024.0 * 1024.0)),
    ("mb", 1.0 / 1024.0),
    ("mi", 1.0 / 1024.0),
    ("m", 1.0 / 1024.0),
    ("gb", 1.0),
    ("gi", 1.0),
    ("g", 1.0),
    ("tb", 1024.0),
    ("ti", 1024.0),
    ("t", 1024.0),
    ("pb", 1024.0 * 1024.0),
    ("pi", 1024.0 * 1024.0),
    ("p", 1024.0 * 1024.0),
];

/// Splits `512MB` into (`512`, GiB per unit); a bare number is in GB.
fn split_memory_unit(s: &str) -> (&str, f64) {
    let lower = s.to_ascii_lowercase();
    for (unit, gib) in MEMORY_UNITS {
        if lower.ends_with(unit) && lower.len() > unit.len() {
            // The unit is ASCII, so this index is a char boundary.
            return (&s[..s.len() - unit.len()], gib);
        }
    }
    (s, 1.0)
}

/// The most vCPUs a node can ask for: more than any cloud's largest instance (896 vCPUs
/// today), so a larger request is a mistake, refused when the task is read.
pub const MAX_CPUS: f64 = 8_192.0;
/// The most memory a node can ask for, in GiB (64 TiB; the largest instances have 24-32 TiB).
pub const MAX_MEMORY_GIB: f64 = 65_536.0;
/// The most accelerators a node can ask for (TPU slices count in their names, not here).
pub const MAX_ACCELERATORS: f64 = 4_096.0;

fn at_most(what: &str, s: &str, v: f64, max: f64, unit: &str) -> Result<f64, ParseValueError> {
    if v > max {
        Err(ParseValueError::new(format!(
            "{what} `{s}` is more than any cloud offers: at most {max}{unit} per node"
        )))
    } else {
        Ok(v)
    }
}

/// `n` vCPUs, if no more than [`MAX_CPUS`].
pub(crate) fn cpus_at_most(s: &str, n: f64) -> Result<f64, ParseValueError> {
    at_most("cpus", s, n, MAX_CPUS, "")
}

/// `gib` of memory, if no more than [`MAX_MEMORY_GIB`].
pub(crate) fn memory_at_most(s: &str, gib: f64) -> Result<f64, ParseValueError> {
    at_most("memory", s, gib, MAX_MEMORY_GIB, " GiB")
}

/// Parses a memory amount with an optional binary unit (`KB`, `MB`, `GB`, `TB`, `PB`, also
/// `Ki`..`Pi`; default GB) into GiB.
pub fn parse_memory_gib(s: &str) -> Result<f64, ParseValueError> {
    memory_at_most(s, memory_gib_unbounded(s)?)
}

fn memory_gib_unbounded(s: &str) -> Result<f64, ParseValueError> {
    let t = s.trim();
    let (num, per_unit) = split_memory_unit(t);
    let v = positive_number(num, "memory size").map_err(|_| {
        ParseValueError::new(format!(
            "invalid memory size `{s}`: expected a number with an optional unit \
             (KB, MB, GB, TB, PB; default GB), e.g. `16`, `512MB`, `1TB`"
        ))
    })?;
    let gib = v * per_unit;
    if gib.is_finite() {
        Ok(gib)
    } else {
        Err(ParseValueError::new(format!(
            "invalid memory size `{s}`: too large"
        )))
    }
}

/// Parses a disk size: whole GB (`256`) or an integer with a unit (`1TB`, `512GB`), floored to
/// whole GB; at least 1 GB.
pub fn parse_disk_size_gb(s: &str) -> Result<u64, ParseValueError> {
    let t = s.trim();
    let (num, per_unit) = split_memory_unit(t);
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
        return Err(ParseValueError::new(format!(
            "invalid disk size `{s}`: expected whole GB or an integer with a unit, \
             e.g. `256`, `1TB`"
        )));
    }
    let v: f64 = num
        .parse::<f64>()
        .map_err(|_| ParseValueError::new(format!("invalid disk size `{s}`")))?;
    let gb = (v * per_unit).floor();
    if !(1.0..=1e15).contains(&gb) {
        return Err(ParseValueError::new(format!(
            "invalid disk size `{s}`: must be at least 1 GB"
        )));
    }
    Ok(gb as u64)
}

/// Whether `s` is an accelerator memory requirement (`80GB`, `80GB+`, `0.5TB`).
fn parse_accelerator_memory(s: &str) -> Option<(f64, bool)> {
    let (body, or_more) = match s.strip_suffix('+') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let lower = body.to_ascii_lowercase();
    let (num, per_unit) = if let Some(n) = lower.strip_suffix("gb") {
        (n, 1.0)
    } else if let Some(n) = lower.strip_suffix("mb") {
        (n, 1.0 / 1024.0)
    } else if let Some(n) = lower.strip_suffix("tb") {
        (n, 1024.0)
    } else {
        return None;
    };
    if num.is_empty()
        || !num.chars().all(|c| c.is_ascii_digit() || c == '.')
        || !num.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    let gib = v * per_unit;
    (gib.is_finite() && gib > 0.0).then_some((gib, or_more))
}

fn accelerator_count(s: &str, spec: &str) -> Result<f64, ParseValueError> {
    let n = positive_number(s, "accelerator count").map_err(|_| {
        ParseValueError::new(format!(
            "invalid accelerator count `{s}` in `{spec}`: expected a positive number, \
             e.g. `V100:4` or `A10G:0.5`"
        ))
    })?;
    at_most("the accelerator count", spec, n, MAX_ACCELERATORS, "")
}

fn accelerator_name(s: &str, spec: &str) -> Result<String, ParseValueError> {
    let t = s.trim();
    if t.is_empty()
        || t.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, ',' | '{' | '}' | '[' | ']')
        })
    {
        return Err(ParseValueError::new(format!(
            "invalid accelerator `{spec}`: expected `NAME`, `NAME:COUNT` or a memory \
             requirement such as `80GB+` or `nvidia:48GB:2`"
        )));
    }
    Ok(t.to_owned())
}

impl FromStr for AcceleratorSpec {
    type Err = ParseValueError;

    /// Parses `V100`, `V100:4`, `A10G:0.5`, `tpu-v3-8`, and the memory forms `80GB+`,
    /// `48GB:2`, `nvidia:80GB+`, `nvidia:80GB+:8`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let spec = s.trim();
        let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
        let bad = || {
            ParseValueError::new(format!(
                "invalid accelerator `{spec}`: expected `NAME`, `NAME:COUNT` or a memory \
                 requirement such as `80GB+`, `48GB:2` or `nvidia:80GB+:8`"
            ))
        };
        match parts.as_slice() {
            [one] => Ok(match parse_accelerator_memory(one) {
                Some((memory_gib, or_more)) => AcceleratorSpec::Memory {
                    vendor: None,
                    memory_gib,
                    or_more,
                    count: 1.0,
                },
                None => AcceleratorSpec::named(accelerator_name(one, spec)?, 1.0),
            }),
            [a, b] => {
                if let Some((memory_gib, or_more)) = parse_accelerator_memory(a) {
                    Ok(AcceleratorSpec::Memory {
                        vendor: None,
                        memory_gib,
                        or_more,
                        count: accelerator_count(b, spec)?,
                    })
                } else if let Some((memory_gib, or_more)) = parse_accelerator_memory(b) {
                    Ok(AcceleratorSpec::Memory {
                        vendor: Some(accelerator_name(a, spec)?.to_ascii_lowercase()),
                        memory_gib,
                        or_more,
                        count: 1.0,
                    })
                } else {
                    Ok(AcceleratorSpec::named(
                        accelerator_name(a, spec)?,
                        accelerator_count(b, spec)?,
                    ))
                }
            }
            [v, m, c] => {
                let (memory_gib, or_more) = parse_accelerator_memory(m).ok_or_else(bad)?;
                Ok(AcceleratorSpec::Memory {
                    vendor: Some(accelerator_name(v, spec)?.to_ascii_lowercase()),
                    memory_gib,
                    or_more,
                    count: accelerator_count(c, spec)?,
                })
            }
            _ => Err(bad()),
        }
    }
}

impl AcceleratorSpec {
    /// The spec without its count, as used for a key of an accelerator set:
    /// `V100`, `nvidia:80GB+`.
    pub fn name_part(&self) -> String {
        match self {
            AcceleratorSpec::Name { name, .. } => name.clone(),
            AcceleratorSpec::Memory {
                vendor,
                memory_gib,
                or_more,
                ..
            } => {
                let mut s = String::new();
                if let Some(v) = vendor {
                    s.push_str(v);
                    s.push(':');
                }
                s.push_str(&fmt_num(*memory_gib));
                s.push_str("GB");
                if *or_more {
                    s.push('+');
                }
                s
            }
        }
    }
}

impl fmt::Display for AcceleratorSpec {
    /// `V100:4`, `A10G:0.5`, `nvidia:80GB+:8` (the form [`FromStr`] reads back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name_part(), fmt_num(self.count()))
    }
}

fn split_plus(s: &str) -> (&str, bool) {
    match s.trim().strip_suffix('+') {
        Some(b) => (b.trim_end(), true),
        None => (s.trim(), false),
    }
}

impl FromStr for CpuSpec {
    type Err = ParseValueError;

    /// Parses `4` (exactly) or `4+` (at least); fractions are allowed (`0.5+`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (num, or_more) = split_plus(s);
        let count = positive_number(num, "cpus").map_err(|_| {
            ParseValueError::new(format!(
                "invalid cpus `{s}`: expected a positive number, optionally followed by `+` \
                 (e.g. `4` or `4+`)"
            ))
        })?;
        Ok(CpuSpec {
            count: cpus_at_most(s, count)?,
            or_more,
        })
    }
}

impl fmt::Display for CpuSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            fmt_num(self.count),
            if self.or_more { "+" } else { "" }
        )
    }
}

impl FromStr for MemorySpec {
    type Err = ParseValueError;

    /// Parses `16` (GB, exactly), `16+` (at least), `512MB`, `1TB+`, and `4x` (at least 4 GB
    /// per vCPU).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (body, or_more) = split_plus(s);
        if let Some(n) = body.strip_suffix(['x', 'X']) {
            let per = positive_number(n, "memory").map_err(|_| {
                ParseValueError::new(format!(
                    "invalid memory `{s}`: `<n>x` means at least n GB per vCPU, e.g. `4x`"
                ))
            })?;
            return Ok(MemorySpec::PerVcpu(per));
        }
        let gib = memory_gib_unbounded(body).map_err(|_| {
            ParseValueError::new(format!(
                "invalid memory `{s}`: expected a size with an optional unit and `+`, \
                 e.g. `16`, `32GB+`, `512MB`, or `4x` per vCPU"
            ))
        })?;
        Ok(MemorySpec::Gib {
            gib: memory_at_most(s, gib)?,
            or_more,
        })
    }
}

impl fmt::Display for MemorySpec {
    /// `16`, `16+` (GB), `4x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemorySpec::Gib { gib, or_more } => {
                write!(f, "{}{}", fmt_num(*gib), if *or_more { "+" } else { "" })
            }
            MemorySpec::PerVcpu(x) => write!(f, "{}x", fmt_num(*x)),
        }
    }
}

fn port(s: &str, spec: &str) -> Result<u16, ParseValueError> {
    let t = s.trim();
    match t.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) && t.chars().all(|c| c.is_ascii_digit()) => Ok(p as u16),
        _ => Err(ParseValueError::new(format!(
            "invalid port `{spec}`: use a port number between 1 and 65535 or a range \
             `from-to`, e.g. `8080` or `10052-10100`"
        ))),
    }
}

impl FromStr for PortRange {
    type Err = ParseValueError;

    /// Parses `8080` or `10052-10100` (inclusive; `from <= to`; ports 1..=65535).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        match t.split_once('-') {
            None => {
                let p = port(t, s)?;
                Ok(PortRange { start: p, end: p })
            }
            Some((a, b)) => {
                let (start, end) = (port(a, s)?, port(b, s)?);
                if start > end {
                    return Err(ParseValueError::new(format!(
                        "invalid port range `{s}`: use `from-to` with from <= to, e.g. `1-3`"
                    )));
                }
                Ok(PortRange { start, end })
            }
        }
    }
}

/// SkyPilot's `simplify_ports`: sorts the ranges and merges overlapping and adjacent ones,
/// e.g. `1-2, 3, 5-6, 7` → `1-3, 5-7`.
pub fn normalize_ports(mut ports: Vec<PortRange>) -> Vec<PortRange> {
    ports.sort();
    let mut out: Vec<PortRange> = Vec::with_capacity(ports.len());
    for p in ports {
        match out.last_mut() {
            Some(last) if u32::from(p.start) <= u32::from(last.end) + 1 => {
                last.end = last.end.max(p.end);
            }
            _ => out.push(p),
        }
    }
    out
}

impl FromStr for DiskTier {
    type Err = ParseValueError;

    /// `low`, `medium`, `high`, `ultra` or `best` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(DiskTier::Low),
            "medium" => Ok(DiskTier::Medium),
            "high" => Ok(DiskTier::High),
            "ultra" => Ok(DiskTier::Ultra),
            "best" => Ok(DiskTier::Best),
            _ => Err(ParseValueError::new(format!(
                "invalid disk tier `{s}`: expected one of low, medium, high, ultra, best"
            ))),
        }
    }
}

impl DiskTier {
    /// The YAML spelling (`medium`).
    pub fn as_str(self) -> &'static str {
        match self {
            DiskTier::Low => "low",
            DiskTier::Medium => "medium",
            DiskTier::High => "high",
            DiskTier::Ultra => "ultra",
            DiskTier::Best => "best",
        }
    }
}

impl fmt::Display for DiskTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NetworkTier {
    type Err = ParseValueError;

    /// `standard` or `best` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "standard" => Ok(NetworkTier::Standard),
            "best" => Ok(NetworkTier::Best),
            _ => Err(ParseValueError::new(format!(
                "invalid network tier `{s}`: expected `standard` or `best`"
            ))),
        }
    }
}

impl NetworkTier {
    /// The YAML spelling (`standard`).
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkTier::Standard => "standard",
            NetworkTier::Best => "best",
        }
    }
}

impl fmt::Display for NetworkTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Splits `<digits><unit>` into the number and the lower-cased unit.
fn number_and_unit(s: &str) -> Option<(u64, String)> {
    let t = s.trim();
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    let n = digits.parse::<u64>().ok()?;
    Some((n, t[digits.len()..].trim().to_ascii_lowercase()))
}

/// Parses an autostop idle time: minutes (`30`) or `<n><m|h|d|w>` (`2h`).
pub fn parse_idle_minutes(s: &str) -> Result<u32, ParseValueError> {
    let bad = || {
        ParseValueError::new(format!(
            "invalid idle time `{s}`: expected minutes or `<number><m|h|d|w>`, e.g. `30m`, `2h`"
        ))
    };
    let (n, unit) = number_and_unit(s).ok_or_else(bad)?;
    let per: u64 = match unit.as_str() {
        "" | "m" => 1,
        "h" => 60,
        "d" => 24 * 60,
        "w" => 7 * 24 * 60,
        _ => return Err(bad()),
    };
    n.checked_mul(per)
        .and_then(|m| u32::try_from(m).ok())
        .ok_or_else(|| ParseValueError::new(format!("invalid idle time `{s}`: too large")))
}

/// Parses a duration in seconds: a number (`3600`), or one or more `<number><unit>` parts
/// with units `s`, `m`, `h`, `d`, `w` (`90s`, `30m`, `2h`, `1d`, `1h30m`).
pub fn parse_duration_secs(s: &str) -> Result<f64, ParseValueError> {
    let bad = || {
        ParseValueError::new(format!(
            "invalid duration `{s}`: expected seconds or `<number><s|m|h|d|w>`, \
             e.g. `90s`, `30m`, `2h`, `1d`"
        ))
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(v) = t.parse::<f64>()
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return Ok(v);
    }
    let mut total = 0.0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
            .map_or(rest.len(), |(i, _)| i);
        let (num, after) = rest.split_at(num_len);
        let v: f64 = num.parse().map_err(|_| bad())?;
        let mut chars = after.chars();
        let unit = chars.next().ok_or_else(bad)?;
        let per = match unit.to_ascii_lowercase() {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            'w' => 604800.0,
            _ => return Err(bad()),
        };
        total += v * per;
        rest = chars.as_str().trim_start();
    }
    if total.is_finite() {
        Ok(total)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(s: &str) -> AcceleratorSpec {
        s.parse().unwrap()
    }

    #[test]
    fn accelerator_forms() {
        assert_eq!(acc("V100"), AcceleratorSpec::named("V100", 1.0));
        assert_eq!(acc("V100:4"), AcceleratorSpec::named("V100", 4.0));
        assert_eq!(acc("A10G:0.5"), AcceleratorSpec::named("A10G", 0.5));
        assert_eq!(acc("tpu-v3-8"), AcceleratorSpec::named("tpu-v3-8", 1.0));
        assert_eq!(
            acc("80GB+"),
            AcceleratorSpec::Memory {
                vendor: None,
                memory_gib: 80.0,
                or_more: true,
                count: 1.0
            }
        );
        assert_eq!(
            acc("48GB:2"),
            AcceleratorSpec::Memory {
                vendor: None,
                memory_gib: 48.0,
                or_more: false,
                count: 2.0
            }
        );
        assert_eq!(
            acc("nvidia:80GB+:8"),
            AcceleratorSpec::Memory {
                vendor: Some("nvidia".into()),
                memory_gib: 80.0,
                or_more: true,
                count: 8.0
            }
        );
        assert_eq!(
            acc("NVIDIA:80GB+"),
            AcceleratorSpec::Memory {
                vendor: Some("nvidia".into()),
                memory_gib: 80.0,
                or_more: true,
                count: 1.0
            }
        );
        for bad in [
            "", "V100:", "V100:x", "V100:0", "V100:-1", "a:b:c", "V 100", "V100:inf",
        ] {
            assert!(bad.parse::<AcceleratorSpec>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn accelerator_display_round_trips() {
        for s in [
            "V100:4",
            "A10G:0.5",
            "nvidia:80GB+:8",
            "48GB:2",
            "80GB+:1",
            "0.5GB:1",
        ] {
            let a = acc(s);
            assert_eq!(a.to_string(), s);
            assert_eq!(acc(&a.to_string()), a);
        }
        assert_eq!(acc("V100").to_string(), "V100:1");
    }

    #[test]
    fn cpus_and_memory() {
        assert_eq!(
            "4+".parse::<CpuSpec>().unwrap(),
            CpuSpec {
                count: 4.0,
                or_more: true
            }
        );
        assert_eq!("0.5".parse::<CpuSpec>().unwrap().to_string(), "0.5");
        assert!("0".parse::<CpuSpec>().is_err());
        assert!("four".parse::<CpuSpec>().is_err());
        assert!("nan".parse::<CpuSpec>().is_err());
        let m = |s: &str| s.parse::<MemorySpec>().unwrap();
        assert_eq!(
            m("16"),
            MemorySpec::Gib {
                gib: 16.0,
                or_more: false
            }
        );
        assert_eq!(
            m("32GB+"),
            MemorySpec::Gib {
                gib: 32.0,
                or_more: true
            }
        );
        assert_eq!(
            m("512MB"),
            MemorySpec::Gib {
                gib: 0.5,
                or_more: false
            }
        );
        assert_eq!(
            m("1tb+"),
            MemorySpec::Gib {
                gib: 1024.0,
                or_more: true
            }
        );
        assert_eq!(
            m("1048576KB"),
            MemorySpec::Gib {
                gib: 1.0,
                or_more: false
            }
        );
        assert_eq!(
            m("64TB"),
            MemorySpec::Gib {
                gib: 64.0 * 1024.0,
                or_more: false
            }
        );
        let too_much = "1PB".parse::<MemorySpec>().unwrap_err();
        assert!(
            too_much.message.contains("at most 65536 GiB"),
            "{too_much:?}"
        );
        assert_eq!(m("4x"), MemorySpec::PerVcpu(4.0));
        assert_eq!(m("4x+"), MemorySpec::PerVcpu(4.0));
        assert_eq!(m("16+").to_string(), "16+");
        assert_eq!(m("4x").to_string(), "4x");
        assert!("16QB".parse::<MemorySpec>().is_err());
        assert!("GB".parse::<MemorySpec>().is_err());
    }

    #[test]
    fn ports_normalise_like_skypilot() {
        let ps: Vec<PortRange> = ["1-2", "3", "5-6", "7"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let n = normalize_ports(ps);
        let shown: Vec<String> = n.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["1-3", "5-7"]);
        let ps: Vec<PortRange> = ["8080", "10-20", "15-30", "8080", "31"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let shown: Vec<String> = normalize_ports(ps)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10-31", "8080"]);
        for bad in ["0", "65536", "5-3", "a", "1-", "-1", "1-2-3", "+80"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
        assert_eq!(
            "65535".parse::<PortRange>().unwrap(),
            PortRange {
                start: 65535,
                end: 65535
            }
        );
    }

    #[test]
    fn disk_sizes_and_tiers() {
        assert_eq!(parse_disk_size_gb("256").unwrap(), 256);
        assert_eq!(parse_disk_size_gb("1TB").unwrap(), 1024);
        assert_eq!(parse_disk_size_gb("1536MB").unwrap(), 1);
        assert_eq!(parse_disk_size_gb("100Gi").unwrap(), 100);
        assert!(parse_disk_size_gb("512MB").is_err());
        assert!(parse_disk_size_gb("1.5TB").is_err());
        assert!(parse_disk_size_gb("big").is_err());
        assert_eq!("ULTRA".parse::<DiskTier>().unwrap(), DiskTier::Ultra);
        assert!("fast".parse::<DiskTier>().is_err());
        assert_eq!("Best".parse::<NetworkTier>().unwrap(), NetworkTier::Best);
    }

    #[test]
    fn times() {
        assert_eq!(parse_idle_minutes("30").unwrap(), 30);
        assert_eq!(parse_idle_minutes("30m").unwrap(), 30);
        assert_eq!(parse_idle_minutes("2h").unwrap(), 120);
        assert_eq!(parse_idle_minutes("1d").unwrap(), 1440);
        assert_eq!(parse_idle_minutes("1W").unwrap(), 10080);
        assert!(parse_idle_minutes("2s").is_err());
        assert!(parse_idle_minutes("99999999999999999999w").is_err());
        assert_eq!(parse_duration_secs("90s").unwrap(), 90.0);
        assert_eq!(parse_duration_secs("30m").unwrap(), 1800.0);
        assert_eq!(parse_duration_secs("2h").unwrap(), 7200.0);
        assert_eq!(parse_duration_secs("1d").unwrap(), 86400.0);
        assert_eq!(parse_duration_secs("1h30m").unwrap(), 5400.0);
        assert_eq!(parse_duration_secs("3600").unwrap(), 3600.0);
        assert_eq!(parse_duration_secs("1.5h").unwrap(), 5400.0);
        for bad in ["", "h", "2y", "1h 2x", "-5m", "..s"] {
            assert!(parse_duration_secs(bad).is_err(), "{bad}");
        }
    }
}
