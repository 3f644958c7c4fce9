//! Fuzz target `resource_strings`: every resource-string parser of sky-core on arbitrary text.
//!
//! The input, if UTF-8 (other inputs are skipped: every parser takes `&str`), goes whole to
//! each `FromStr` and parse function of `sky_core::resources` and `sky_core::cloud`:
//! [`AcceleratorSpec`], [`CpuSpec`], [`MemorySpec`], [`PortRange`] (and, split on `,`,
//! [`normalize_ports`]), [`DiskTier`], [`NetworkTier`], [`Infra`], [`CloudId`] (and
//! [`CloudId::known`]), [`parse_memory_gib`], [`parse_disk_size_gb`], [`parse_idle_minutes`]
//! and [`parse_duration_secs`]; then to the did-you-mean functions
//! ([`suggest::did_you_mean`], [`suggest::closest`]) against the known cloud names, and with
//! its first line as the input and its other lines as the candidates.
//!
//! Nothing may panic; errors are rendered with `Display`. Values must keep the promises of
//! their docs: the `Display` of a parsed value parses back to an equal value, a number is
//! finite and within its documented bounds, and `normalize_ports` returns sorted, disjoint,
//! non-adjacent ranges.

#![no_main]

use std::fmt::{Debug, Display, Write as _};
use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use sky_core::CloudId;
use sky_core::resources::{
    AcceleratorSpec, CpuSpec, DiskTier, Infra, MAX_CPUS, MAX_MEMORY_GIB, MemorySpec, NetworkTier,
    ParseValueError, PortRange, normalize_ports, parse_disk_size_gb, parse_duration_secs,
    parse_idle_minutes, parse_memory_gib,
};
use sky_core::suggest;

/// Parses `s` as `T`; on success, checks that its `Display` parses back to an equal value.
fn round_trip<T>(s: &str, sink: &mut String) -> Option<T>
where
    T: FromStr<Err = ParseValueError> + Display + Debug + PartialEq,
{
    match s.parse::<T>() {
        Ok(v) => {
            let shown = v.to_string();
            match shown.parse::<T>() {
                Ok(again) => assert!(
                    again == v,
                    "{} `{s}` -> {v:?} -> `{shown}` -> {again:?}",
                    std::any::type_name::<T>()
                ),
                Err(e) => panic!(
                    "{} `{s}` -> {v:?} -> `{shown}` does not parse back: {e}",
                    std::any::type_name::<T>()
                ),
            }
            Some(v)
        }
        Err(e) => {
            let _ = write!(sink, "{e}");
            None
        }
    }
}

fn render<T: Debug>(r: Result<T, ParseValueError>, sink: &mut String) -> Option<T> {
    match r {
        Ok(v) => {
            let _ = write!(sink, "{v:?}");
            Some(v)
        }
        Err(e) => {
            let _ = write!(sink, "{e}");
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut sink = String::new();

    if let Some(a) = round_trip::<AcceleratorSpec>(s, &mut sink) {
        assert!(a.count().is_finite() && a.count() > 0.0, "{s:?} -> {a:?}");
        sink.push_str(&a.name_part());
    }
    if let Some(c) = round_trip::<CpuSpec>(s, &mut sink) {
        assert!(
            c.count.is_finite() && c.count > 0.0 && c.count <= MAX_CPUS,
            "{s:?} -> {c:?}"
        );
    }
    if let Some(MemorySpec::Gib { gib, .. }) = round_trip::<MemorySpec>(s, &mut sink) {
        assert!(
            gib.is_finite() && gib > 0.0 && gib <= MAX_MEMORY_GIB,
            "{s:?} -> {gib}"
        );
    }
    round_trip::<PortRange>(s, &mut sink);
    round_trip::<DiskTier>(s, &mut sink);
    round_trip::<NetworkTier>(s, &mut sink);
    round_trip::<Infra>(s, &mut sink);

    let cloud: CloudId = s.parse().unwrap_or_else(|never| match never {});
    let again: CloudId = cloud
        .to_string()
        .parse()
        .unwrap_or_else(|never| match never {});
    assert_eq!(again, cloud, "CloudId `{s}`");
    let _ = write!(
        sink,
        "{cloud} {:?} {}",
        CloudId::known(s),
        cloud.is_skypilot_only()
    );

    if let Some(gib) = render(parse_memory_gib(s), &mut sink) {
        assert!(
            gib.is_finite() && gib > 0.0 && gib <= MAX_MEMORY_GIB,
            "{s:?} -> {gib}"
        );
    }
    if let Some(gb) = render(parse_disk_size_gb(s), &mut sink) {
        assert!(gb >= 1, "{s:?} -> {gb}");
    }
    render(parse_idle_minutes(s), &mut sink);
    if let Some(secs) = render(parse_duration_secs(s), &mut sink) {
        assert!(secs.is_finite() && secs >= 0.0, "{s:?} -> {secs}");
    }

    // A port list, as `ports: [...]` gives it.
    let ports: Vec<PortRange> = s.split(',').filter_map(|p| p.parse().ok()).collect();
    let merged = normalize_ports(ports.clone());
    for w in merged.windows(2) {
        assert!(
            u32::from(w[0].end) + 1 < u32::from(w[1].start),
            "normalize_ports({ports:?}) = {merged:?}"
        );
    }
    for p in &ports {
        assert!(
            merged.iter().any(|m| m.start <= p.start && p.end <= m.end),
            "normalize_ports({ports:?}) = {merged:?} lost {p:?}"
        );
    }

    // Did-you-mean: against the cloud names, and among the input's own lines.
    let clouds: Vec<&str> = CloudId::KNOWN
        .iter()
        .map(CloudId::as_str)
        .chain(CloudId::SKYPILOT_ONLY)
        .collect();
    if let Some(m) = suggest::did_you_mean(s, clouds.iter().copied()) {
        assert!(clouds.contains(&m.as_str()), "{s:?} -> {m:?}");
    }
    let mut lines = s.lines();
    if let Some(first) = lines.next() {
        let candidates: Vec<&str> = lines.collect();
        let n = usize::from(data[0] % 4);
        let close = suggest::closest(first, candidates.iter().copied(), n);
        assert!(close.len() <= n, "closest(n = {n}) gave {close:?}");
        for c in &close {
            assert!(candidates.contains(&c.as_str()), "{first:?} -> {c:?}");
        }
        let _ = suggest::did_you_mean(first, candidates.iter().copied());
    }

    std::hint::black_box(sink);
});
