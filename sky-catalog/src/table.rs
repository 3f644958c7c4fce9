//! Loading one SkyPilot `vms.csv` into an interned, indexed row table.
//!
//! Strings that repeat (instance types, regions, zones, accelerator names, `GpuInfo`) are
//! interned once; a row is a handful of `u32` symbols and `f64`s. Files are sorted by instance
//! type, so most lookups hit a per-column "same as the previous row" cache before the hash map.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap as HashMap;

use crate::gpu::GpuInfo;
use crate::rules::CloudRules;
use sky_core::catalog::CatalogError;

/// An interned string id; [`NONE`] stands for an empty field.
pub(crate) type Sym = u32;

/// The symbol of an empty field.
pub(crate) const NONE: Sym = u32::MAX;

/// String interner: each distinct string is stored once.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    map: HashMap<Box<str>, Sym>,
    strs: Vec<Box<str>>,
}

impl Interner {
    /// The symbol of `s`, adding it if new; empty strings are [`NONE`].
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if s.is_empty() {
            return NONE;
        }
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = Sym::try_from(self.strs.len()).unwrap_or(NONE - 1);
        self.strs.push(s.into());
        self.map.insert(s.into(), id);
        id
    }

    /// Number of distinct strings.
    pub(crate) fn len(&self) -> usize {
        self.strs.len()
    }

    /// The symbol of `s`, if interned.
    pub(crate) fn get(&self, s: &str) -> Option<Sym> {
        self.map.get(s).copied()
    }

    /// The string of a symbol (`""` for [`NONE`]).
    pub(crate) fn str(&self, id: Sym) -> &str {
        if id == NONE {
            ""
        } else {
            self.strs.get(id as usize).map(|s| &**s).unwrap_or("")
        }
    }
}

/// One catalog row. Missing numbers are NaN; a NaN price means "not offered on that market".
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    /// Instance type ([`NONE`] for GCP accelerator rows).
    pub instance: Sym,
    /// Accelerator name ([`NONE`] for CPU-only rows).
    pub acc: Sym,
    /// Accelerator count (0 when none).
    pub acc_count: f64,
    /// vCPUs.
    pub vcpus: f64,
    /// Host memory in GiB.
    pub memory: f64,
    /// Index into [`Table::gpus`], or [`NONE`].
    pub gpu: u32,
    /// On-demand price per hour.
    pub price: f64,
    /// Spot price per hour.
    pub spot: f64,
    /// Region.
    pub region: Sym,
    /// Zone ([`NONE`] on Azure).
    pub zone: Sym,
    /// The cloud-specific extra column: AWS `Arch`, Azure `Generation`.
    pub extra: Sym,
}

impl Row {
    /// The price on one market.
    pub(crate) fn price_on(&self, spot: bool) -> f64 {
        if spot { self.spot } else { self.price }
    }
}

/// A parsed catalog file.
#[derive(Debug)]
pub(crate) struct Table {
    /// Where it came from (for messages).
    pub path: PathBuf,
    /// All strings.
    pub strings: Interner,
    /// The rows, in file order, duplicates (same type, accelerator, region and zone) removed.
    pub rows: Vec<Row>,
    /// Distinct parsed `GpuInfo` values.
    pub gpus: Vec<GpuInfo>,
    /// Rows per instance type.
    pub by_instance: HashMap<Sym, Vec<u32>>,
    /// Rows per accelerator name.
    pub by_acc: HashMap<Sym, Vec<u32>>,
    /// Distinct instance types, sorted by name.
    pub instance_types: Vec<Sym>,
    /// Distinct accelerator names, sorted by name.
    pub acc_names: Vec<Sym>,
    /// Distinct regions, sorted by name.
    pub regions: Vec<Sym>,
    /// Zones per region (index parallel to `regions`), sorted by name.
    pub zones: Vec<Vec<Sym>>,
    /// Per symbol, 1 + its rank among all strings in byte order ([`Table::rank`]).
    order: Vec<u32>,
}

/// A string column, optionally remembering its last raw value and symbol: files are sorted by
/// instance type, so in some columns most fields repeat the previous row's and need neither
/// UTF-8 checks nor hashing. Columns that change on almost every row (zone, region) skip the
/// comparison.
struct StrColumn {
    raw: Vec<u8>,
    sym: Sym,
    valid: bool,
    cache: bool,
}

impl StrColumn {
    fn new(cache: bool) -> Self {
        StrColumn {
            raw: Vec::new(),
            sym: NONE,
            valid: false,
            cache,
        }
    }

    fn get(&mut self, raw: &str, interner: &mut Interner) -> Sym {
        if raw.is_empty() {
            return NONE;
        }
        if self.cache && self.valid && self.raw == raw.as_bytes() {
            return self.sym;
        }
        let sym = interner.intern(raw.trim_ascii());
        if self.cache {
            self.sym = sym;
            self.raw.clear();
            self.raw.extend_from_slice(raw.as_bytes());
            self.valid = true;
        }
        sym
    }
}

/// A number column, optionally remembering its last raw value (see [`StrColumn`]).
struct NumColumn {
    raw: Vec<u8>,
    value: f64,
    valid: bool,
    cache: bool,
}

impl NumColumn {
    fn new(cache: bool) -> Self {
        NumColumn {
            raw: Vec::new(),
            value: f64::NAN,
            valid: false,
            cache,
        }
    }

    fn get(&mut self, raw: &str) -> Result<f64, ()> {
        if raw.is_empty() {
            return Ok(f64::NAN);
        }
        if self.cache && self.valid && self.raw == raw.as_bytes() {
            return Ok(self.value);
        }
        let value = number(raw)?;
        if self.cache {
            self.value = value;
            self.raw.clear();
            self.raw.extend_from_slice(raw.as_bytes());
            self.valid = true;
        }
        Ok(value)
    }
}

struct Columns {
    instance: usize,
    acc: usize,
    acc_count: usize,
    vcpus: usize,
    memory: usize,
    gpu: usize,
    price: usize,
    spot: usize,
    region: usize,
    zone: Option<usize>,
    extra: Option<usize>,
}

impl Columns {
    fn from_header(
        header: &csv::ByteRecord,
        rules: &CloudRules,
        path: &Path,
    ) -> Result<Self, CatalogError> {
        let names: Vec<&str> = header
            .iter()
            .map(|f| std::str::from_utf8(f).unwrap_or("").trim())
            .collect();
        let find = |name: &str| names.iter().position(|n| *n == name);
        let need = |name: &str| {
            find(name).ok_or_else(|| CatalogError::Malformed {
                path: path.to_path_buf(),
                line: 1,
                message: format!(
                    "missing column {name:?} (header is {:?}; expected SkyPilot's v8 layout)",
                    names.join(",")
                ),
            })
        };
        let zone = if rules.zones {
            Some(need("AvailabilityZone")?)
        } else {
            None
        };
        let extra = rules.extra_column.and_then(find);
        Ok(Columns {
            instance: need("InstanceType")?,
            acc: need("AcceleratorName")?,
            acc_count: need("AcceleratorCount")?,
            vcpus: need("vCPUs")?,
            memory: need("MemoryGiB")?,
            gpu: need("GpuInfo")?,
            price: need("Price")?,
            spot: need("SpotPrice")?,
            region: need("Region")?,
            zone,
            extra,
        })
    }
}

/// Parses a number field: empty and `nan` are NaN; anything else unparsable is an error.
fn number(s: &str) -> Result<f64, ()> {
    let s = s.trim_ascii();
    if s.is_empty() || s.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_infinite() => Err(()),
        Ok(v) => Ok(v),
        Err(_) => Err(()),
    }
}

impl Table {
    /// Reads a whole `vms.csv` file.
    pub(crate) fn from_path(path: &Path, rules: &CloudRules) -> Result<Table, CatalogError> {
        let file = std::fs::File::open(path).map_err(|source| CatalogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Table::from_reader(file, path, rules)
    }

    /// Reads `vms.csv` content; `path` is only used in messages.
    pub(crate) fn from_reader<R: Read>(
        reader: R,
        path: &Path,
        rules: &CloudRules,
    ) -> Result<Table, CatalogError> {
        let malformed = |line: u64, message: String| CatalogError::Malformed {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .buffer_capacity(256 * 1024)
            .from_reader(reader);
        let header = rdr.byte_headers().map_err(|e| csv_error(path, &e))?.clone();
        if header.is_empty() || header.iter().all(|f| f.is_empty()) {
            return Err(malformed(1, "empty file: no header line".into()));
        }
        let cols = Columns::from_header(&header, rules, path)?;

        let mut strings = Interner::default();
        let mut gpu_ids: HashMap<Box<str>, u32> = HashMap::default();
        let mut gpus: Vec<GpuInfo> = Vec::new();
        let mut rows: Vec<Row> = Vec::with_capacity(16 * 1024);
        let mut dedup = Dedup::default();
        let (mut c_inst, mut c_acc, mut c_region, mut c_zone, mut c_extra) = (
            StrColumn::new(true),
            StrColumn::new(true),
            StrColumn::new(false),
            StrColumn::new(false),
            StrColumn::new(true),
        );
        let (mut n_count, mut n_vcpus, mut n_mem, mut n_price, mut n_spot) = (
            NumColumn::new(true),
            NumColumn::new(true),
            NumColumn::new(true),
            NumColumn::new(false),
            NumColumn::new(false),
        );
        let mut c_gpu = NumColumn::new(true);
        // One UTF-8 check per record (csv's StringRecord), not one per field.
        let mut rec = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(path, &e)),
            }
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let raw = |i: usize| rec.get(i).unwrap_or("");
            let num = |col: &mut NumColumn, i: usize, name: &str| -> Result<f64, CatalogError> {
                col.get(raw(i)).map_err(|()| {
                    malformed(line, format!("column {name}: {:?} is not a number", raw(i)))
                })
            };
            let instance = c_inst.get(raw(cols.instance), &mut strings);
            let acc = c_acc.get(raw(cols.acc), &mut strings);
            let mut acc_count = num(&mut n_count, cols.acc_count, "AcceleratorCount")?;
            if acc == NONE || acc_count.is_nan() {
                acc_count = 0.0;
            }
            let gpu_raw = raw(cols.gpu);
            let gpu = if gpu_raw.is_empty() {
                NONE
            } else if c_gpu.valid && c_gpu.raw == gpu_raw.as_bytes() {
                c_gpu.value as u32
            } else {
                let text = gpu_raw.trim_ascii();
                let id = match gpu_ids.get(text) {
                    Some(&id) => id,
                    None => {
                        let id = u32::try_from(gpus.len()).unwrap_or(NONE - 1);
                        gpus.push(GpuInfo::parse(text));
                        gpu_ids.insert(text.into(), id);
                        id
                    }
                };
                c_gpu.raw.clear();
                c_gpu.raw.extend_from_slice(gpu_raw.as_bytes());
                c_gpu.value = f64::from(id);
                c_gpu.valid = true;
                id
            };
            let region = c_region.get(raw(cols.region), &mut strings);
            if region == NONE {
                return Err(malformed(line, "empty Region".into()));
            }
            let row = Row {
                instance,
                acc,
                acc_count,
                vcpus: num(&mut n_vcpus, cols.vcpus, "vCPUs")?,
                memory: num(&mut n_mem, cols.memory, "MemoryGiB")?,
                gpu,
                price: num(&mut n_price, cols.price, "Price")?,
                spot: num(&mut n_spot, cols.spot, "SpotPrice")?,
                region,
                zone: match cols.zone {
                    Some(i) => c_zone.get(raw(i), &mut strings),
                    None => NONE,
                },
                extra: match cols.extra {
                    Some(i) => c_extra.get(raw(i), &mut strings),
                    None => NONE,
                },
            };
            if row.instance == NONE && row.acc == NONE {
                return Err(malformed(
                    line,
                    "row has neither an InstanceType nor an AcceleratorName".into(),
                ));
            }
            dedup.push(&mut rows, row);
        }
        Ok(Table::index(path.to_path_buf(), strings, rows, gpus))
    }

    fn index(path: PathBuf, strings: Interner, rows: Vec<Row>, gpus: Vec<GpuInfo>) -> Table {
        let mut by_instance: HashMap<Sym, Vec<u32>> = HashMap::default();
        let mut by_acc: HashMap<Sym, Vec<u32>> = HashMap::default();
        let mut region_zones: HashMap<Sym, Vec<Sym>> = HashMap::default();
        let mut last_inst = (NONE, NONE);
        for (i, r) in rows.iter().enumerate() {
            let i = i as u32;
            if r.instance != NONE {
                by_instance.entry(r.instance).or_default().push(i);
            }
            if r.acc != NONE {
                by_acc.entry(r.acc).or_default().push(i);
            }
            if (r.region, r.zone) != last_inst {
                last_inst = (r.region, r.zone);
                let zones = region_zones.entry(r.region).or_default();
                if r.zone != NONE && !zones.contains(&r.zone) {
                    zones.push(r.zone);
                }
            }
        }
        let sorted = |mut v: Vec<Sym>| {
            v.sort_by(|a, b| strings.str(*a).cmp(strings.str(*b)));
            v
        };
        let instance_types = sorted(by_instance.keys().copied().collect());
        let acc_names = sorted(by_acc.keys().copied().collect());
        let regions = sorted(region_zones.keys().copied().collect());
        let zones = regions
            .iter()
            .map(|r| sorted(region_zones.remove(r).unwrap_or_default()))
            .collect();
        let all = sorted((0..strings.len() as Sym).collect());
        let mut order = vec![0; all.len()];
        for (rank, sym) in all.into_iter().enumerate() {
            order[sym as usize] = rank as u32 + 1;
        }
        Table {
            order,
            path,
            strings,
            rows,
            gpus,
            by_instance,
            by_acc,
            instance_types,
            acc_names,
            regions,
            zones,
        }
    }

    /// Renames zones through `map` (zone id → zone name); rows whose zone `map` does not know
    /// are dropped, like SkyPilot's inner join with the account's AZ mapping.
    pub(crate) fn map_zones(self, map: impl Fn(&str) -> Option<String>) -> Table {
        let Table {
            path,
            mut strings,
            rows,
            gpus,
            ..
        } = self;
        let mut memo: HashMap<Sym, Sym> = HashMap::default();
        let mut out = Vec::with_capacity(rows.len());
        for mut r in rows {
            let new = match memo.get(&r.zone) {
                Some(&z) => z,
                None => {
                    let name = map(strings.str(r.zone));
                    let z = match name {
                        Some(n) if !n.is_empty() => strings.intern(&n),
                        _ => NONE,
                    };
                    memo.insert(r.zone, z);
                    z
                }
            };
            if new != NONE {
                r.zone = new;
                out.push(r);
            }
        }
        Table::index(path, strings, out, gpus)
    }

    /// A number that orders symbols as their strings order: `rank(a) < rank(b)` iff
    /// `s(a) < s(b)`, with [`NONE`] (the empty string) first. Sorting by ranks avoids string
    /// comparisons in large answers.
    pub(crate) fn rank(&self, sym: Sym) -> u32 {
        if sym == NONE {
            0
        } else {
            self.order.get(sym as usize).copied().unwrap_or(u32::MAX)
        }
    }

    /// The string of a symbol.
    pub(crate) fn s(&self, sym: Sym) -> &str {
        self.strings.str(sym)
    }

    /// The parsed `GpuInfo` of a row.
    pub(crate) fn gpu(&self, row: &Row) -> Option<&GpuInfo> {
        if row.gpu == NONE {
            None
        } else {
            self.gpus.get(row.gpu as usize)
        }
    }

    /// The rows of an instance type (exact name).
    pub(crate) fn rows_of(&self, instance: &str) -> &[u32] {
        self.strings
            .get(instance)
            .and_then(|s| self.by_instance.get(&s))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The region symbol matching `name` case-insensitively.
    pub(crate) fn find_region(&self, name: &str) -> Option<Sym> {
        self.regions
            .iter()
            .copied()
            .find(|r| self.s(*r).eq_ignore_ascii_case(name.trim()))
    }

    /// All zone symbols, sorted by name.
    pub(crate) fn all_zones(&self) -> Vec<Sym> {
        let mut z: Vec<Sym> = self.zones.iter().flatten().copied().collect();
        z.sort_by(|a, b| self.s(*a).cmp(self.s(*b)));
        z
    }

    /// The zones of a region symbol.
    pub(crate) fn zones_of(&self, region: Sym) -> &[Sym] {
        self.regions
            .iter()
            .position(|r| *r == region)
            .and_then(|i| self.zones.get(i))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The accelerator-name symbols matching `name` case-insensitively (a full match).
    pub(crate) fn find_acc(&self, name: &str) -> Vec<Sym> {
        self.acc_names
            .iter()
            .copied()
            .filter(|a| self.s(*a).eq_ignore_ascii_case(name.trim()))
            .collect()
    }
}

/// Drops rows with the same (instance type, accelerator, count, region, zone), keeping the
/// first one that has a spot price (SkyPilot's AWS rule, applied to every cloud: the GCP file
/// repeats some TPU rows verbatim).
///
/// SkyPilot's files list each (instance type, accelerator, count) in one contiguous run, so
/// duplicates are found per run with an array indexed by the location's symbol instead of a
/// hash of every row; a key that comes back after another run is checked against its earlier
/// runs too.
#[derive(Default)]
struct Dedup {
    /// Per location symbol: (run id, index of the kept row).
    stamp: Vec<(u32, u32)>,
    run: Option<(Sym, Sym, u64)>,
    run_id: u32,
    run_start: usize,
    /// Earlier runs (ranges of kept rows) per key.
    runs: HashMap<(Sym, Sym, u64), Vec<(usize, usize)>>,
    /// Earlier runs of the current run's key.
    earlier: Vec<(usize, usize)>,
}

impl Dedup {
    fn push(&mut self, out: &mut Vec<Row>, r: Row) {
        let key = (r.instance, r.acc, r.acc_count.to_bits());
        if self.run != Some(key) {
            if let Some(k) = self.run {
                self.runs
                    .entry(k)
                    .or_default()
                    .push((self.run_start, out.len()));
            }
            self.run = Some(key);
            self.run_id += 1;
            self.run_start = out.len();
            self.earlier = self.runs.get(&key).cloned().unwrap_or_default();
        }
        let same_place = |o: &Row| o.region == r.region && o.zone == r.zone;
        let loc = if r.zone != NONE { r.zone } else { r.region } as usize;
        if loc >= self.stamp.len() {
            self.stamp.resize(loc + 1, (0, 0));
        }
        let (run, at) = self.stamp[loc];
        let mut dup = None;
        if run == self.run_id {
            if same_place(&out[at as usize]) {
                dup = Some(at as usize);
            } else {
                dup = (self.run_start..out.len()).find(|&j| same_place(&out[j]));
            }
        }
        if dup.is_none() {
            dup = self
                .earlier
                .iter()
                .flat_map(|&(a, b)| a..b)
                .find(|&j| same_place(&out[j]));
        }
        match dup {
            Some(j) => {
                if out[j].spot.is_nan() && !r.spot.is_nan() {
                    out[j] = r;
                }
            }
            None => {
                self.stamp[loc] = (self.run_id, u32::try_from(out.len()).unwrap_or(u32::MAX));
                out.push(r);
            }
        }
    }
}

fn csv_error(path: &Path, e: &csv::Error) -> CatalogError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8", err.field() + 1)
        }
        _ => e.to_string(),
    };
    CatalogError::Malformed {
        path: path.to_path_buf(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCP_HEADER: &str = "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n";

    fn parse(text: &str) -> Result<Table, CatalogError> {
        Table::from_reader(text.as_bytes(), Path::new("t.csv"), &crate::gcp::RULES)
    }

    #[test]
    fn ranks_order_symbols_like_their_strings() {
        let t = parse(&format!(
            "{GCP_HEADER}n2-standard-8,8.0,32.0,,,,us-west1,us-west1-b,0.38,0.08\n\
             a2-highgpu-1g,12.0,85.0,,,,europe-west4,europe-west4-a,3.6,1.1\n\
             n1-standard-8,8.0,30.0,,,,asia-east1,asia-east1-c,0.38,0.08\n"
        ))
        .unwrap();
        let mut by_rank: Vec<Sym> = (0..t.strings.len() as Sym).collect();
        by_rank.sort_by_key(|s| t.rank(*s));
        let mut by_name = by_rank.clone();
        by_name.sort_by(|a, b| t.s(*a).cmp(t.s(*b)));
        assert_eq!(by_rank, by_name);
        assert_eq!(t.rank(NONE), 0, "no zone sorts first, like None");
        assert!(by_rank.iter().all(|s| t.rank(*s) > 0));
    }

    #[test]
    fn parses_rows_interns_and_dedups() {
        let t = parse(&format!(
            "{GCP_HEADER}n1-standard-8,8.0,30.0,,,,us-central1,us-central1-a,0.38,0.08\n\
             n1-standard-8,8.0,30.0,,,,us-central1,us-central1-b,0.38,\n\
             ,,,V100,1,{{'Gpus': [{{'MemoryInfo': {{'SizeInMiB': 16384}}}}]}},us-central1,us-central1-a,2.48,nan\n\
             ,,,V100,1,{{'Gpus': [{{'MemoryInfo': {{'SizeInMiB': 16384}}}}]}},us-central1,us-central1-a,2.48,1.0\n"
        ))
        .unwrap();
        assert_eq!(t.rows.len(), 3, "the duplicate V100 row is dropped");
        assert_eq!(t.rows[2].spot, 1.0, "the duplicate with a spot price wins");
        assert!(t.rows[1].spot.is_nan());
        assert_eq!(t.rows[0].instance, t.rows[1].instance);
        assert_eq!(t.rows_of("n1-standard-8").len(), 2);
        assert_eq!(t.gpus.len(), 1);
        assert_eq!(t.gpu(&t.rows[2]).and_then(|g| g.memory_gib), Some(16.0));
        assert_eq!(t.regions.len(), 1);
        assert_eq!(t.zones_of(t.regions[0]).len(), 2);
        assert_eq!(t.find_acc("v100").len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_rows_never_panic(body in "(?s).{0,400}") {
            let text = format!("{GCP_HEADER}{body}");
            match parse(&text) {
                Ok(t) => proptest::prop_assert!(t.rows.iter().all(|r| r.region != NONE)),
                Err(CatalogError::Malformed { line, .. }) => proptest::prop_assert!(line >= 1),
                Err(other) => proptest::prop_assert!(false, "unexpected {other:?}"),
            }
        }

        #[test]
        fn gpu_info_never_panics(text in "(?s).{0,200}") {
            let g = GpuInfo::parse(&text);
            proptest::prop_assert!(g.memory_gib.is_none_or(|m| m.is_finite() && m > 0.0));
        }
    }

    #[test]
    fn malformed_input_reports_the_line() {
        let e = parse(&format!(
            "{GCP_HEADER}n1-standard-8,8.0,30.0,,,,us-central1,us-central1-a,0.38,0.08\nn1-standard-8,eight,30.0,,,,us-central1,us-central1-a,0.38,0.08\n"
        ))
        .unwrap_err();
        match e {
            CatalogError::Malformed { line, message, .. } => {
                assert_eq!(line, 3);
                assert!(message.contains("vCPUs"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let e = parse(&format!("{GCP_HEADER}n1-standard-8,8.0,30.0\n")).unwrap_err();
        assert!(matches!(e, CatalogError::Malformed { line: 2, .. }), "{e}");
        let e = parse("Foo,Bar\n1,2\n").unwrap_err();
        assert!(matches!(e, CatalogError::Malformed { line: 1, .. }), "{e}");
        let e = parse("").unwrap_err();
        assert!(matches!(e, CatalogError::Malformed { line: 1, .. }), "{e}");
    }
}
