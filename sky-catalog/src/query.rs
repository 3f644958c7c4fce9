//! The queries of [`sky_core::catalog::Catalog`] over a loaded [`Table`], with SkyPilot's per-cloud rules.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::gpu::{known_memory_gib, vendor_from_name};
use crate::rules::{self, GCP_TPU_HOST};
use crate::table::{Layout, NONE, Row, Sym, Table};
use sky_core::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, CatalogError, Feasibility, Offering,
    OfferingRef, Region,
};
use sky_core::CloudId;
use sky_core::resources::{AcceleratorSpec, CpuSpec, ImageId, MemorySpec, Resources};
use sky_core::suggest;

/// A loaded catalog with its cloud's rules.
#[derive(Debug)]
pub(crate) struct Core {
    pub layout: Layout,
    pub cloud: CloudId,
    pub t: Table,
    /// The rows of the default CPU families' instance types (by name, then row order): the
    /// candidates of every default-CPU query.
    default_rows: Vec<u32>,
    /// GCP: the N1 host rows (where GPUs attach) per zone, in row order; made once, since
    /// every attachable-GPU query pairs accelerator rows with them.
    n1_by_zone: FxHashMap<Sym, Vec<u32>>,
}

/// A launchable in the making: a host row and, on GCP, the separately priced accelerator row
/// in the same zone. TPU VMs have no host row.
#[derive(Clone, Copy, Debug)]
struct Cand {
    host: u32,
    acc: u32,
}

/// A query's answer before it is materialised: priced candidates in row order.
#[derive(Debug, Default)]
struct Answer {
    picks: Vec<(f64, Cand)>,
    /// Picks handed to the caller's sink instead of `picks` (see [`Sink`]).
    streamed: usize,
    /// The candidates are distinct rows (host-only requests), so they need no
    /// de-duplication.
    unique: bool,
    spot: bool,
    suggestions: Vec<String>,
    hint: Option<String>,
}

/// Where the one-pass host queries hand their picks when the caller only visits them
/// (no vector of thousands of picks is built); `None` collects them into
/// [`Answer::picks`]. Other paths always collect.
type Sink<'s> = Option<&'s mut dyn FnMut(f64, Cand)>;

/// The request, resolved against this catalog.
struct Req<'a> {
    region: Option<Sym>,
    zone: Option<Sym>,
    image_regions: Option<Vec<String>>,
    instance_type: Option<&'a str>,
    cpus: Option<CpuSpec>,
    memory: Option<MemorySpec>,
    spot: bool,
    max_cost: Option<f64>,
}

/// The sum of a host and an accelerator price, without binary floating-point noise
/// (catalog prices have at most 5 decimals; `0.47321 + 2.48` is `2.95321`, not `2.9532100000000003`).
fn add_prices(a: f64, b: f64) -> f64 {
    // A lone price is already the nearest double to its decimal.
    if b == 0.0 {
        return a;
    }
    if a == 0.0 {
        return b;
    }
    ((a + b) * 1e9).round() / 1e9
}

fn cmp_nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// `1`, `8`, `0.50`: SkyPilot's rendering of accelerator counts.
pub(crate) fn fmt_count(c: f64) -> String {
    if (c - c.round()).abs() < 1e-9 {
        format!("{}", c.round() as i64)
    } else {
        format!("{c:.2}")
    }
}

fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v}")
    }
}

fn fmt_cpus(c: &CpuSpec) -> String {
    format!("{}{}", fmt_num(c.count), if c.or_more { "+" } else { "" })
}

fn fmt_mem(m: &MemorySpec) -> String {
    match m {
        MemorySpec::Gib { gib, or_more } => {
            format!("{}{} GiB", fmt_num(*gib), if *or_more { "+" } else { "" })
        }
        MemorySpec::PerVcpu(x) => format!("at least {} GiB per vCPU", fmt_num(*x)),
    }
}

fn cpus_ok(spec: &CpuSpec, vcpus: f64) -> bool {
    if spec.or_more {
        vcpus >= spec.count - 1e-9
    } else {
        (vcpus - spec.count).abs() < 1e-9
    }
}

fn mem_ok(spec: &MemorySpec, vcpus: f64, mem: f64) -> bool {
    match spec {
        MemorySpec::Gib { gib, or_more: true } => mem >= gib - 1e-9,
        MemorySpec::Gib {
            gib,
            or_more: false,
        } => (mem - gib).abs() < 1e-9,
        MemorySpec::PerVcpu(x) => mem >= vcpus * x - 1e-9,
    }
}

/// "a, b, c and 4 more".
fn list_some(items: &[String], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..max].join(", "), items.len() - max)
    }
}

/// Keeps the candidates satisfying `pred`; if none does, clears them, sets `hint` from the
/// candidates as they were, and returns false.
fn keep<F, W>(cands: &mut Vec<Cand>, hint: &mut Option<String>, pred: F, why: W) -> bool
where
    F: Fn(&Cand) -> bool,
    W: FnOnce(&[Cand]) -> String,
{
    if cands.is_empty() {
        return false;
    }
    if !cands.iter().any(&pred) {
        *hint = Some(why(cands));
        cands.clear();
        return false;
    }
    cands.retain(pred);
    true
}

impl Core {
    pub(crate) fn new(layout: Layout, t: Table) -> Core {
        let cloud = match layout {
            Layout::Aws => CloudId::Aws,
            Layout::Gcp => CloudId::Gcp,
            Layout::Azure => CloudId::Azure,
        };
        let is_default: fn(&str) -> bool = match layout {
            Layout::Aws => rules::aws_is_default,
            Layout::Gcp => rules::gcp_is_default,
            Layout::Azure => rules::azure_is_default,
        };
        let defaults: Vec<Sym> = t
            .instance_types
            .iter()
            .copied()
            .filter(|s| is_default(t.s(*s)))
            .collect();
        let default_rows = defaults
            .iter()
            .flat_map(|s| t.by_instance.get(s).into_iter().flatten())
            .copied()
            .collect();
        let mut n1_by_zone: FxHashMap<Sym, Vec<u32>> = FxHashMap::default();
        if layout == Layout::Gcp {
            for (i, row) in t.rows.iter().enumerate() {
                if row.instance != NONE && rules::gcp_is_n1_host(t.s(row.instance)) {
                    n1_by_zone.entry(row.zone).or_default().push(i as u32);
                }
            }
        }
        Core {
            layout,
            cloud,
            t,
            default_rows,
            n1_by_zone,
        }
    }

    fn row(&self, i: u32) -> &Row {
        &self.t.rows[i as usize]
    }

    /// The row that carries the location of a candidate.
    fn loc(&self, c: &Cand) -> &Row {
        if c.host != NONE {
            self.row(c.host)
        } else {
            self.row(c.acc)
        }
    }

    fn price(&self, c: &Cand, spot: bool) -> f64 {
        let host = if c.host != NONE {
            self.row(c.host).price_on(spot)
        } else {
            0.0
        };
        let acc = if c.acc != NONE {
            self.row(c.acc).price_on(spot)
        } else {
            0.0
        };
        add_prices(host, acc)
    }

    fn acc_of(&self, c: &Cand) -> Option<(Sym, f64)> {
        let r = if c.acc != NONE {
            self.row(c.acc)
        } else {
            self.row(c.host)
        };
        (r.acc != NONE).then_some((r.acc, r.acc_count))
    }

    fn instance_of(&self, c: &Cand) -> &str {
        if c.host != NONE {
            self.t.s(self.row(c.host).instance)
        } else {
            GCP_TPU_HOST
        }
    }

    fn host_shape(&self, c: &Cand) -> (f64, f64) {
        if c.host == NONE {
            (f64::NAN, f64::NAN)
        } else {
            let r = self.row(c.host);
            (r.vcpus, r.memory)
        }
    }

    fn what_acc(&self, acc: Sym, count: f64) -> String {
        format!("{}:{}", self.t.s(acc), fmt_count(count))
    }

    fn regions_of(&self, cands: &[Cand]) -> Vec<String> {
        let set: BTreeSet<&str> = cands.iter().map(|c| self.t.s(self.loc(c).region)).collect();
        set.into_iter().map(String::from).collect()
    }

    fn zones_of(&self, cands: &[Cand]) -> Vec<String> {
        let set: BTreeSet<&str> = cands.iter().map(|c| self.t.s(self.loc(c).zone)).collect();
        set.into_iter().map(String::from).collect()
    }

    /// Resolves region and zone; `Err(hint)` when the catalog has no such place.
    fn resolve<'a>(&self, req: &'a Resources) -> Result<Req<'a>, String> {
        let cloud = &self.cloud;
        let region = match req.region.as_deref() {
            None => None,
            Some(r) => Some(self.t.find_region(r).ok_or_else(|| {
                let near = suggest::did_you_mean(r, self.t.regions.iter().map(|s| self.t.s(*s)));
                let mut h = format!("no region matches {r} on {cloud}");
                if let Some(n) = near {
                    h.push_str(&format!("; did you mean {n}?"));
                }
                h
            })?),
        };
        let zone = match req.zone.as_deref() {
            None => None,
            Some(z) => {
                if self.layout == Layout::Azure {
                    return Err(format!(
                        "{cloud} does not support zones (asked for zone {z}); give a region instead"
                    ));
                }
                let pool: Vec<Sym> = match region {
                    Some(r) => self.t.zones_of(r).to_vec(),
                    None => self.t.all_zones(),
                };
                let found = pool
                    .iter()
                    .copied()
                    .find(|s| self.t.s(*s).eq_ignore_ascii_case(z.trim()));
                Some(found.ok_or_else(|| {
                    let near = suggest::did_you_mean(z, pool.iter().map(|s| self.t.s(*s)));
                    let mut h = match region {
                        Some(r) => {
                            format!("no zone matches {z} in region {} on {cloud}", self.t.s(r))
                        }
                        None => format!("no zone matches {z} on {cloud}"),
                    };
                    if let Some(n) = near {
                        h.push_str(&format!("; did you mean {n}?"));
                    }
                    if self.layout == Layout::Aws
                        && pool.iter().any(|s| self.t.s(*s).contains("-az"))
                    {
                        h.push_str(
                            " (this AWS catalog names zones by zone id, e.g. use1-az1, until the \
                             account's zone names are known)",
                        );
                    }
                    h
                })?)
            }
        };
        let image_regions = match &req.image_id {
            Some(ImageId::PerRegion(map)) => Some(map.keys().cloned().collect()),
            _ => None,
        };
        Ok(Req {
            region,
            zone,
            image_regions,
            instance_type: req.instance_type.as_deref().map(str::trim),
            cpus: req.cpus,
            memory: req.memory,
            spot: req.spot(),
            max_cost: req.max_hourly_cost,
        })
    }

    // ---------------------------------------------------------------- offerings

    fn answer(&self, req: &Resources, sink: Sink<'_>) -> Answer {
        if let Some(c) = &req.cloud
            && *c != self.cloud
        {
            return Answer {
                hint: Some(format!("the request is for {c}, not {}", self.cloud)),
                ..Answer::default()
            };
        }
        let r = match self.resolve(req) {
            Ok(r) => r,
            Err(hint) => {
                return Answer {
                    hint: Some(hint),
                    ..Answer::default()
                };
            }
        };
        let mut out = match &req.accelerators {
            None => self.cpu_offerings(&r, sink),
            Some(AcceleratorSpec::Name { name, count }) => self.acc_offerings(&r, name, *count),
            Some(AcceleratorSpec::Memory {
                vendor,
                memory_gib,
                or_more,
                count,
            }) => self.memory_offerings(&r, vendor.as_deref(), *memory_gib, *or_more, *count),
            Some(other) => Answer {
                hint: Some(format!(
                    "this catalog does not understand the accelerator request {other:?}"
                )),
                ..Answer::default()
            },
        };
        if !out.picks.is_empty() || out.streamed > 0 {
            out.hint = None;
            out.suggestions.clear();
        }
        out
    }

    /// The stages every request ends with: image regions, market, price cap.
    /// `unique`: the candidates are distinct rows (host-only requests), so they need no
    /// de-duplication.
    fn finish(&self, mut cands: Vec<Cand>, r: &Req<'_>, what: &str, unique: bool) -> Answer {
        let mut hint = None;
        let cloud = &self.cloud;
        if let Some(allowed) = &r.image_regions {
            keep(
                &mut cands,
                &mut hint,
                |c| {
                    let region = self.t.s(self.loc(c).region);
                    allowed.iter().any(|a| a.eq_ignore_ascii_case(region))
                },
                |_| {
                    format!(
                        "{what} is not offered in the regions of the per-region image_id ({})",
                        allowed.join(", ")
                    )
                },
            );
        }
        let market = if r.spot { "spot" } else { "on-demand" };
        keep(
            &mut cands,
            &mut hint,
            |c| !self.price(c, r.spot).is_nan(),
            |_| {
                format!(
                    "{what} has no {market} price on {cloud} where asked (not offered on that market)"
                )
            },
        );
        if let Some(max) = r.max_cost {
            keep(
                &mut cands,
                &mut hint,
                |c| self.price(c, r.spot) <= max,
                |cs| {
                    let cheapest = cs
                        .iter()
                        .map(|c| self.price(c, r.spot))
                        .fold(f64::INFINITY, f64::min);
                    format!(
                        "the cheapest {market} {what} on {cloud} costs ${cheapest}/h, above max_hourly_cost ${max}/h"
                    )
                },
            );
        }
        Answer {
            picks: cands.iter().map(|c| (self.price(c, r.spot), *c)).collect(),
            unique,
            spot: r.spot,
            suggestions: Vec::new(),
            hint,
            streamed: 0,
        }
    }

    /// The order after the price: region, zone (none first), instance type, by name.
    fn cmp_place(&self, a: &Cand, b: &Cand) -> Ordering {
        let (la, lb) = (self.loc(a), self.loc(b));
        let t = &self.t;
        t.rank(la.region)
            .cmp(&t.rank(lb.region))
            .then_with(|| t.rank(la.zone).cmp(&t.rank(lb.zone)))
            .then_with(|| {
                if a.host != NONE && b.host != NONE {
                    t.rank(self.row(a.host).instance)
                        .cmp(&t.rank(self.row(b.host).instance))
                } else {
                    self.instance_of(a).cmp(self.instance_of(b))
                }
            })
    }

    fn sort_picks(&self, picks: &mut [(f64, Cand)]) {
        picks.sort_by(|(pa, a), (pb, b)| pa.total_cmp(pb).then_with(|| self.cmp_place(a, b)));
    }

    /// Sorts (cheapest first; ties by region, zone, instance type) and de-duplicates
    /// `(instance type, region, zone, accelerator)` on interned symbols, so that a
    /// default-CPU query over thousands of rows allocates no string.
    fn sorted_unique(&self, mut picks: Vec<(f64, Cand)>) -> Vec<(f64, Cand)> {
        self.sort_picks(&mut picks);
        let mut seen: FxHashSet<(Sym, Sym, Sym, Sym)> = FxHashSet::default();
        picks.retain(|(_, c)| {
            let loc = self.loc(c);
            let acc = self.acc_of(c).map_or(NONE, |(a, _)| a);
            let instance = if c.host != NONE {
                self.row(c.host).instance
            } else {
                NONE
            };
            seen.insert((instance, loc.region, loc.zone, acc))
        });
        picks
    }

    /// A borrowed view of one priced candidate.
    fn view(&self, hourly_price: f64, c: &Cand, spot: bool) -> OfferingRef<'_> {
        let loc = self.loc(c);
        let (vcpus, mem) = self.host_shape(c);
        OfferingRef {
            cloud: &self.cloud,
            instance_type: self.instance_of(c),
            accelerator: self.acc_of(c).map(|(a, n)| (self.t.s(a), n)),
            vcpus: if vcpus.is_nan() { 0.0 } else { vcpus },
            memory_gib: if mem.is_nan() { 0.0 } else { mem },
            region: self.t.s(loc.region),
            zone: (loc.zone != NONE).then(|| self.t.s(loc.zone)),
            spot,
            hourly_price,
            accelerator_hourly_price: if c.acc != NONE {
                self.row(c.acc).price_on(spot)
            } else {
                0.0
            },
        }
    }

    /// [`sky_core::catalog::Catalog::offerings`].
    pub(crate) fn offerings(&self, req: &Resources) -> Feasibility {
        let mut a = self.answer(req, None);
        if a.unique {
            self.sort_picks(&mut a.picks);
        } else {
            a.picks = self.sorted_unique(std::mem::take(&mut a.picks));
        }
        Feasibility {
            offerings: a
                .picks
                .iter()
                .map(|(p, c)| self.view(*p, c, a.spot).to_offering())
                .collect(),
            suggestions: a.suggestions,
            hint: a.hint,
        }
    }

    /// [`sky_core::catalog::Catalog::visit_offerings`]: the same answer, without allocating an
    /// offering per row, in row order (neither sorted nor de-duplicated: the catalog's rows
    /// give no duplicate launchables, which a test checks on all three catalogs, and a
    /// duplicate would only repeat a candidate to the optimizer).
    pub(crate) fn visit_offerings(
        &self,
        req: &Resources,
        visit: &mut dyn FnMut(OfferingRef<'_>),
    ) -> Feasibility {
        let spot = req.spot();
        let a = self.answer(req, Some(&mut |p, c| visit(self.view(p, &c, spot))));
        for (p, c) in &a.picks {
            visit(self.view(*p, c, a.spot));
        }
        Feasibility {
            offerings: Vec::new(),
            suggestions: a.suggestions,
            hint: a.hint,
        }
    }

    /// Region and zone stages (on the rows that carry the location).
    fn place(
        &self,
        cands: &mut Vec<Cand>,
        hint: &mut Option<String>,
        r: &Req<'_>,
        what: &str,
    ) -> bool {
        let cloud = &self.cloud;
        if let Some(region) = r.region
            && !keep(
                cands,
                hint,
                |c| self.loc(c).region == region,
                |cs| {
                    format!(
                        "{what} is not offered in region {} on {cloud}; it is offered in {}",
                        self.t.s(region),
                        list_some(&self.regions_of(cs), 8)
                    )
                },
            )
        {
            return false;
        }
        if let Some(zone) = r.zone
            && !keep(
                cands,
                hint,
                |c| self.loc(c).zone == zone,
                |cs| {
                    format!(
                        "{what} is not offered in zone {} on {cloud}; it is offered in zones {}",
                        self.t.s(zone),
                        list_some(&self.zones_of(cs), 8)
                    )
                },
            )
        {
            return false;
        }
        true
    }

    /// cpus and memory stages on host shapes.
    fn shape(
        &self,
        cands: &mut Vec<Cand>,
        hint: &mut Option<String>,
        cpus: Option<CpuSpec>,
        memory: Option<MemorySpec>,
        what: &str,
    ) -> bool {
        if let Some(spec) = cpus
            && !keep(
                cands,
                hint,
                |c| cpus_ok(&spec, self.host_shape(c).0),
                |cs| {
                    let have: BTreeSet<u64> = cs
                        .iter()
                        .map(|c| self.host_shape(c).0)
                        .filter(|v| !v.is_nan())
                        .map(f64::to_bits)
                        .collect();
                    let mut have: Vec<f64> = have.into_iter().map(f64::from_bits).collect();
                    have.sort_by(f64::total_cmp);
                    let have: Vec<String> = have.into_iter().map(fmt_num).collect();
                    format!(
                        "no {what} has {} vCPUs on {}; they have {}",
                        fmt_cpus(&spec),
                        self.cloud,
                        list_some(&have, 12)
                    )
                },
            )
        {
            return false;
        }
        if let Some(spec) = memory
            && !keep(
                cands,
                hint,
                |c| {
                    let (v, m) = self.host_shape(c);
                    mem_ok(&spec, v, m)
                },
                |cs| {
                    let max = cs
                        .iter()
                        .map(|c| self.host_shape(c).1)
                        .filter(|v| !v.is_nan())
                        .fold(0.0, f64::max);
                    format!(
                        "no {what} has memory {} on {} (the largest has {} GiB)",
                        fmt_mem(&spec),
                        self.cloud,
                        fmt_num(max)
                    )
                },
            )
        {
            return false;
        }
        true
    }

    fn cpu_offerings(&self, r: &Req<'_>, mut sink: Sink<'_>) -> Answer {
        let mut hint = None;
        let cloud = &self.cloud;
        let (mut cands, what, cpus, memory): (Vec<Cand>, String, _, _) = match r.instance_type {
            Some(it) => {
                let rows = self.t.rows_of(it);
                if rows.is_empty() {
                    let mut h = if it == GCP_TPU_HOST && self.layout == Layout::Gcp {
                        format!("{GCP_TPU_HOST} needs a TPU accelerator (e.g. tpu-v3-8)")
                    } else {
                        format!("{cloud} has no instance type {it}")
                    };
                    if let Some(n) = suggest::did_you_mean(
                        it,
                        self.t.instance_types.iter().map(|s| self.t.s(*s)),
                    ) {
                        h.push_str(&format!("; did you mean {n}?"));
                    }
                    return Answer {
                        hint: Some(h),
                        ..Answer::default()
                    };
                }
                if self.layout == Layout::Gcp
                    && let Some((acc, count)) = rules::gcp_accelerator_of_host(it)
                {
                    // A2/A3/A4/G2 hosts come with their GPUs, priced separately.
                    return self.acc_offerings(r, acc, count);
                }
                if let Some(a) = self.host_fast_path(rows, r, r.cpus, r.memory, sink.take()) {
                    return a;
                }
                let cands = rows.iter().map(|&i| Cand { host: i, acc: NONE }).collect();
                (cands, it.to_string(), r.cpus, r.memory)
            }
            None => {
                let cpus = match (r.cpus, r.memory) {
                    (None, None) => Some(CpuSpec {
                        count: rules::DEFAULT_VCPUS,
                        or_more: true,
                    }),
                    (c, _) => c,
                };
                let memory = r
                    .memory
                    .or(Some(MemorySpec::PerVcpu(rules::DEFAULT_MEMORY_PER_VCPU)));
                if let Some(a) = self.host_fast_path(&self.default_rows, r, cpus, memory, sink) {
                    return a;
                }
                let cands = self
                    .default_rows
                    .iter()
                    .map(|&i| Cand { host: i, acc: NONE })
                    .collect();
                (cands, "default CPU instance".to_string(), cpus, memory)
            }
        };
        if !self.place(&mut cands, &mut hint, r, &what)
            || !self.shape(&mut cands, &mut hint, cpus, memory, &what)
        {
            return Answer {
                hint,
                ..Answer::default()
            };
        }
        self.finish(cands, r, &what, true)
    }

    /// Host-only rows through every stage of [`Self::cpu_offerings`] in one pass (place,
    /// shape, image regions, market, price cap). `None` when no row passes: the staged path
    /// then finds which stage excluded them all, for the hint. Either way the rows kept are
    /// the same, in the same order.
    fn host_fast_path(
        &self,
        rows: &[u32],
        r: &Req<'_>,
        cpus: Option<CpuSpec>,
        memory: Option<MemorySpec>,
        sink: Sink<'_>,
    ) -> Option<Answer> {
        let pass = |i: u32| {
            let row = self.row(i);
            let ok = r.region.is_none_or(|x| x == row.region)
                && r.zone.is_none_or(|x| x == row.zone)
                && cpus.is_none_or(|c| cpus_ok(&c, row.vcpus))
                && memory.is_none_or(|m| mem_ok(&m, row.vcpus, row.memory));
            if !ok {
                return None;
            }
            if let Some(allowed) = &r.image_regions {
                let region = self.t.s(row.region);
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(region)) {
                    return None;
                }
            }
            let c = Cand { host: i, acc: NONE };
            let price = self.price(&c, r.spot);
            (!price.is_nan() && r.max_cost.is_none_or(|m| price <= m)).then_some((price, c))
        };
        let mut answer = Answer {
            spot: r.spot,
            unique: true,
            ..Answer::default()
        };
        match sink {
            Some(sink) => {
                for &i in rows {
                    if let Some((price, c)) = pass(i) {
                        sink(price, c);
                        answer.streamed += 1;
                    }
                }
            }
            None => answer.picks = rows.iter().filter_map(|&i| pass(i)).collect(),
        }
        (answer.streamed > 0 || !answer.picks.is_empty()).then_some(answer)
    }

    /// SkyPilot's fuzzy candidates (names containing `name` with at least `count` devices, in
    /// the asked region/zone, cheapest first) plus near spellings of `name`.
    fn suggestions(&self, r: &Req<'_>, name: &str, count: f64) -> Vec<String> {
        let needle = name.trim().to_ascii_lowercase();
        let consider = |row: &Row, best: &mut HashMap<(Sym, u64), f64>| {
            if row.acc_count + 1e-9 < count
                || r.region.is_some_and(|s| s != row.region)
                || r.zone.is_some_and(|s| s != row.zone)
            {
                return;
            }
            let e = best
                .entry((row.acc, row.acc_count.to_bits()))
                .or_insert(f64::NAN);
            if cmp_nan_last(row.price, *e) == Ordering::Less {
                *e = row.price;
            }
        };
        let mut names: Vec<Sym> = self
            .t
            .acc_names
            .iter()
            .copied()
            .filter(|a| self.t.s(*a).to_ascii_lowercase().contains(&needle))
            .collect();
        let near = suggest::closest(name, self.t.acc_names.iter().map(|s| self.t.s(*s)), 3);
        let mut near_syms: Vec<Sym> = Vec::new();
        for n in &near {
            if let Some(s) = self.t.strings.get(n)
                && !names.contains(&s)
            {
                near_syms.push(s);
            }
        }
        let render = |syms: &[Sym], out: &mut Vec<String>| {
            let mut local = HashMap::new();
            for s in syms {
                for &i in self.t.by_acc.get(s).into_iter().flatten() {
                    consider(self.row(i), &mut local);
                }
            }
            let mut items: Vec<((Sym, u64), f64)> = local.into_iter().collect();
            items.sort_by(|a, b| {
                cmp_nan_last(a.1, b.1)
                    .then_with(|| self.t.s(a.0.0).cmp(self.t.s(b.0.0)))
                    .then_with(|| f64::from_bits(a.0.1).total_cmp(&f64::from_bits(b.0.1)))
            });
            for ((a, c), _) in items {
                let s = self.what_acc(a, f64::from_bits(c));
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        };
        let mut out = Vec::new();
        names.sort();
        render(&names, &mut out);
        render(&near_syms, &mut out);
        out
    }

    /// Accelerator rows of `name` (case-insensitive full match).
    fn acc_rows(&self, name: &str) -> Vec<u32> {
        self.t
            .find_acc(name)
            .iter()
            .flat_map(|s| self.t.by_acc.get(s).into_iter().flatten().copied())
            .collect()
    }

    fn acc_offerings(&self, r: &Req<'_>, name: &str, count: f64) -> Answer {
        let cloud = &self.cloud;
        let rows = self.acc_rows(name);
        let fail = |hint: Option<String>, with_suggestions: bool| Answer {
            picks: Vec::new(),
            unique: true,
            spot: r.spot,
            suggestions: if with_suggestions {
                self.suggestions(r, name, count)
            } else {
                Vec::new()
            },
            hint,
            streamed: 0,
        };
        if rows.is_empty() {
            return fail(
                Some(format!(
                    "{cloud} does not offer an accelerator named {name}"
                )),
                true,
            );
        }
        let canonical = self.row(rows[0]).acc;
        let what = self.what_acc(canonical, count);
        let gcp_priced_separately = self.layout == Layout::Gcp;
        let mut hint = None;
        let mut cands: Vec<Cand> = rows
            .iter()
            .map(|&i| {
                if gcp_priced_separately {
                    Cand { host: NONE, acc: i }
                } else {
                    Cand { host: i, acc: NONE }
                }
            })
            .collect();
        if !keep(
            &mut cands,
            &mut hint,
            |c| (self.loc(c).acc_count - count).abs() <= 0.01,
            |cs| {
                let counts: BTreeSet<u64> =
                    cs.iter().map(|c| self.loc(c).acc_count.to_bits()).collect();
                let mut counts: Vec<f64> = counts.into_iter().map(f64::from_bits).collect();
                counts.sort_by(f64::total_cmp);
                let counts: Vec<String> = counts.into_iter().map(fmt_count).collect();
                format!(
                    "{what} is not offered on {cloud}; {} comes in counts {}",
                    self.t.s(canonical),
                    counts.join(", ")
                )
            },
        ) || !self.place(&mut cands, &mut hint, r, &what)
        {
            return fail(hint, true);
        }
        if gcp_priced_separately {
            match self.gcp_attach_hosts(cands, r, canonical, count, &what) {
                Ok(c) => cands = c,
                Err(h) => return fail(Some(h), false),
            }
        } else {
            if let Some(it) = r.instance_type
                && !keep(
                    &mut cands,
                    &mut hint,
                    |c| self.instance_of(c) == it,
                    |cs| {
                        let types: BTreeSet<&str> =
                            cs.iter().map(|c| self.instance_of(c)).collect();
                        format!(
                            "{it} does not come with {what} on {cloud}; these do: {}",
                            list_some(&types.into_iter().map(String::from).collect::<Vec<_>>(), 8)
                        )
                    },
                )
            {
                return fail(hint, false);
            }
            if !self.shape(
                &mut cands,
                &mut hint,
                r.cpus,
                r.memory,
                &format!("{what} instance"),
            ) {
                return fail(hint, false);
            }
        }
        self.finish(cands, r, &what, false)
    }

    /// GCP: pairs accelerator rows with the host VM rows of the same zone (fixed hosts, TPU VMs
    /// or N1 hosts) and applies the host shape rules.
    fn gcp_attach_hosts(
        &self,
        accs: Vec<Cand>,
        r: &Req<'_>,
        acc: Sym,
        count: f64,
        what: &str,
    ) -> Result<Vec<Cand>, String> {
        let acc_name = self.t.s(acc);
        let mut hint = None;
        if rules::gcp_is_tpu(acc_name) {
            if let Some(it) = r.instance_type
                && it != GCP_TPU_HOST
            {
                return Err(format!(
                    "TPUs run on {GCP_TPU_HOST} hosts on gcp, not {it}; drop instance_type"
                ));
            }
            return Ok(accs);
        }
        let fixed = rules::gcp_fixed_hosts(acc_name);
        let (host_types, cpus, memory): (Vec<Sym>, Option<CpuSpec>, Option<MemorySpec>) =
            match fixed {
                Some(_) => {
                    let hosts = rules::gcp_fixed_hosts_for(acc_name, count);
                    if hosts.is_empty() {
                        return Err(format!("{what} has no host VM type on gcp"));
                    }
                    let syms = hosts.iter().filter_map(|h| self.t.strings.get(h)).collect();
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
                                let Some(c) = rules::gcp_n1_default_cpus(acc_name, count) else {
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
                                gib: c.count * rules::DEFAULT_MEMORY_PER_VCPU,
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
                for &i in self.t.by_instance.get(h).into_iter().flatten() {
                    m.entry(self.row(i).zone).or_default().push(i);
                }
            }
            fixed_by_zone = m;
            &fixed_by_zone
        } else {
            &self.n1_by_zone
        };
        // Every host stage below (instance pin, shape, N1 limits) in one pass; the staged
        // filters run only to explain an empty result. Same pairs, same order.
        let mut kept: Vec<Cand> = Vec::new();
        for a in &accs {
            let zone = self.row(a.acc).zone;
            let n1_max = if fixed.is_none() {
                rules::gcp_n1_max(acc_name, count, self.t.s(zone))
            } else {
                None
            };
            for &h in by_zone.get(&zone).into_iter().flatten() {
                let host = self.row(h);
                let ok = r
                    .instance_type
                    .is_none_or(|it| self.t.s(host.instance) == it)
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
            for &h in by_zone.get(&self.row(a.acc).zone).into_iter().flatten() {
                cands.push(Cand {
                    host: h,
                    acc: a.acc,
                });
            }
        }
        let host_names = || {
            let mut names: Vec<String> = host_types
                .iter()
                .map(|s| self.t.s(*s).to_string())
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
                |c| self.instance_of(c) == it,
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
        if !self.shape(&mut cands, &mut hint, cpus, memory, &host_what) {
            return Err(hint.unwrap_or_default());
        }
        if fixed.is_none()
            && !keep(
                &mut cands,
                &mut hint,
                |c| {
                    let zone = self.t.s(self.row(c.acc).zone);
                    match rules::gcp_n1_max(acc_name, count, zone) {
                        None => true,
                        Some((max_cpus, max_mem)) => {
                            let (v, m) = self.host_shape(c);
                            v <= max_cpus + 1e-9 && m <= max_mem + 1e-9
                        }
                    }
                },
                |_| {
                    let (c, m) = rules::gcp_n1_max(acc_name, count, "").unwrap_or((0.0, 0.0));
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

    /// Device memory (GiB) and vendor of an accelerator name.
    fn device(&self, acc: Sym) -> (Option<f64>, String) {
        let mut mem = None;
        let mut vendor = None;
        for &i in self.t.by_acc.get(&acc).into_iter().flatten() {
            if let Some(g) = self.t.gpu(self.row(i)) {
                mem = mem.or(g.memory_gib);
                vendor = vendor.or_else(|| g.vendor.clone());
            }
            if mem.is_some() && vendor.is_some() {
                break;
            }
        }
        let name = self.t.s(acc);
        (
            mem.or_else(|| known_memory_gib(name)),
            vendor.unwrap_or_else(|| vendor_from_name(name).to_string()),
        )
    }

    fn memory_offerings(
        &self,
        r: &Req<'_>,
        vendor: Option<&str>,
        memory_gib: f64,
        or_more: bool,
        count: f64,
    ) -> Answer {
        let want = format!(
            "{}{}GB{}",
            vendor.map(|v| format!("{v}:")).unwrap_or_default(),
            fmt_num(memory_gib),
            if or_more { "+" } else { "" }
        );
        let mut names = Vec::new();
        let mut known = Vec::new();
        for &a in &self.t.acc_names {
            let (mem, v) = self.device(a);
            let Some(mem) = mem else { continue };
            known.push(format!("{} ({} GiB)", self.t.s(a), fmt_num(mem)));
            let mem_ok = if or_more {
                mem >= memory_gib - 0.5
            } else {
                (mem - memory_gib).abs() <= 0.5
            };
            if mem_ok && vendor.is_none_or(|w| w.eq_ignore_ascii_case(&v)) {
                names.push(a);
            }
        }
        if names.is_empty() {
            return Answer {
                hint: Some(format!(
                    "no accelerator on {} matches {want}; known: {}",
                    self.cloud,
                    list_some(&known, 12)
                )),
                ..Answer::default()
            };
        }
        let mut all = Answer::default();
        let mut hints = Vec::new();
        for a in names {
            let f = self.acc_offerings(r, self.t.s(a), count);
            all.picks.extend(f.picks);
            all.spot = f.spot;
            hints.extend(f.hint);
            for s in f.suggestions {
                if !all.suggestions.contains(&s) {
                    all.suggestions.push(s);
                }
            }
        }
        if all.picks.is_empty() {
            all.hint = Some(format!(
                "{want} x{}: {}",
                fmt_count(count),
                hints.join("; ")
            ));
        }
        all
    }

    // ---------------------------------------------------------------- prices by place

    /// (price, region, zone) of `instance_type` (+ `accelerator`) on one market, NaN dropped.
    fn priced_places(
        &self,
        instance_type: &str,
        accelerator: Option<&Accelerator>,
        spot: bool,
    ) -> Vec<(f64, Sym, Sym)> {
        let acc: Option<(&str, f64)> = match accelerator {
            Some(a) => Some((a.name.as_str(), a.count)),
            None if self.layout == Layout::Gcp => rules::gcp_accelerator_of_host(instance_type),
            None => None,
        };
        let count_ok = |row: &Row, c: f64| (row.acc_count - c).abs() <= 0.01;
        let mut out = Vec::new();
        if self.layout == Layout::Gcp
            && let Some((name, count)) = acc
        {
            let acc_rows: Vec<u32> = self
                .acc_rows(name)
                .into_iter()
                .filter(|&i| self.row(i).instance == NONE && count_ok(self.row(i), count))
                .collect();
            if instance_type == GCP_TPU_HOST {
                for i in acc_rows {
                    let a = self.row(i);
                    out.push((a.price_on(spot), a.region, a.zone));
                }
            } else {
                let hosts: HashMap<Sym, &Row> = self
                    .t
                    .rows_of(instance_type)
                    .iter()
                    .map(|&i| (self.row(i).zone, self.row(i)))
                    .collect();
                for i in acc_rows {
                    let a = self.row(i);
                    if let Some(h) = hosts.get(&a.zone) {
                        out.push((
                            add_prices(h.price_on(spot), a.price_on(spot)),
                            a.region,
                            a.zone,
                        ));
                    }
                }
            }
        } else if self.layout == Layout::Gcp && instance_type == GCP_TPU_HOST {
            for r in &self.t.regions {
                for z in self.t.zones_of(*r) {
                    out.push((0.0, *r, *z));
                }
            }
        } else {
            for &i in self.t.rows_of(instance_type) {
                let row = self.row(i);
                let matches = match acc {
                    None => true,
                    Some((name, c)) => {
                        row.acc != NONE
                            && self.t.s(row.acc).eq_ignore_ascii_case(name)
                            && count_ok(row, c)
                    }
                };
                if matches {
                    out.push((row.price_on(spot), row.region, row.zone));
                }
            }
        }
        out.retain(|p| !p.0.is_nan());
        out
    }

    pub(crate) fn zones_for(&self, o: &Offering) -> Vec<String> {
        if self.layout == Layout::Azure {
            return Vec::new();
        }
        let Some(region) = self.t.find_region(&o.region) else {
            return Vec::new();
        };
        let mut places: Vec<(f64, &str)> = self
            .priced_places(&o.instance_type, o.accelerator.as_ref(), o.spot)
            .into_iter()
            .filter(|p| p.1 == region && p.2 != NONE)
            .map(|p| (p.0, self.t.s(p.2)))
            .collect();
        places.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let mut out: Vec<String> = Vec::new();
        for (_, z) in places {
            if !out.iter().any(|o| o == z) {
                out.push(z.to_string());
            }
        }
        out
    }

    pub(crate) fn hourly_cost(
        &self,
        instance_type: &str,
        accelerator: Option<&Accelerator>,
        spot: bool,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Option<f64> {
        if self.layout == Layout::Azure && zone.is_some() {
            return None;
        }
        let region = match region {
            Some(r) => Some(self.t.find_region(r)?),
            None => None,
        };
        self.priced_places(instance_type, accelerator, spot)
            .into_iter()
            .filter(|p| region.is_none_or(|r| p.1 == r))
            .filter(|p| zone.is_none_or(|z| self.t.s(p.2).eq_ignore_ascii_case(z.trim())))
            .map(|p| p.0)
            .min_by(f64::total_cmp)
    }

    // ---------------------------------------------------------------- places

    pub(crate) fn regions(&self) -> Vec<Region> {
        self.t
            .regions
            .iter()
            .zip(&self.t.zones)
            .map(|(r, zs)| Region {
                name: self.t.s(*r).to_string(),
                zones: zs.iter().map(|z| self.t.s(*z).to_string()).collect(),
            })
            .collect()
    }

    pub(crate) fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        let cloud = self.cloud.to_string();
        if zone.is_some() && self.layout == Layout::Azure {
            return Err(CatalogError::ZonesUnsupported { cloud });
        }
        let region_sym = match region {
            None => None,
            Some(r) => Some(
                self.t
                    .find_region(r)
                    .ok_or_else(|| CatalogError::UnknownRegion {
                        cloud: cloud.clone(),
                        region: r.to_string(),
                        suggestion: suggest::did_you_mean(
                            r,
                            self.t.regions.iter().map(|s| self.t.s(*s)),
                        ),
                    })?,
            ),
        };
        if let Some(z) = zone {
            let pool: Vec<Sym> = match region_sym {
                Some(r) => self.t.zones_of(r).to_vec(),
                None => self.t.all_zones(),
            };
            if !pool
                .iter()
                .any(|s| self.t.s(*s).eq_ignore_ascii_case(z.trim()))
            {
                return Err(CatalogError::UnknownZone {
                    cloud,
                    zone: z.to_string(),
                    suggestion: suggest::did_you_mean(z, pool.iter().map(|s| self.t.s(*s))),
                });
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- show-gpus

    pub(crate) fn accelerator_names(&self) -> Vec<String> {
        self.t
            .acc_names
            .iter()
            .map(|s| self.t.s(*s).to_string())
            .collect()
    }

    /// GCP: the cheapest (on-demand) default host of `acc:count` in `zone`, as show-gpus
    /// lists it.
    fn gcp_default_host(
        &self,
        hosts_by_zone: &HashMap<Sym, Vec<u32>>,
        acc: &str,
        count: f64,
        zone: Sym,
    ) -> Option<u32> {
        let fixed = rules::gcp_fixed_hosts(acc).map(|_| rules::gcp_fixed_hosts_for(acc, count));
        let min_cpus = if fixed.is_none() {
            rules::gcp_n1_default_cpus(acc, count)?
        } else {
            0.0
        };
        hosts_by_zone
            .get(&zone)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| {
                let h = self.row(i);
                let name = self.t.s(h.instance);
                match fixed {
                    Some(types) => types.contains(&name),
                    None => {
                        rules::gcp_is_n1_host(name)
                            && h.vcpus >= min_cpus
                            && h.memory >= min_cpus * rules::DEFAULT_MEMORY_PER_VCPU
                    }
                }
            })
            .filter(|&i| !self.row(i).price.is_nan())
            .min_by(|&a, &b| {
                self.row(a)
                    .price
                    .total_cmp(&self.row(b).price)
                    .then_with(|| {
                        self.t
                            .s(self.row(a).instance)
                            .cmp(self.t.s(self.row(b).instance))
                    })
            })
    }

    pub(crate) fn accelerators(&self, f: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        let name_filter = f.name.as_deref().map(|n| n.trim().to_ascii_lowercase());
        let region_filter = f.region.as_deref().map(|n| n.trim().to_ascii_lowercase());
        let names: Vec<Sym> = self
            .t
            .acc_names
            .iter()
            .copied()
            .filter(|a| {
                name_filter
                    .as_deref()
                    .is_none_or(|n| self.t.s(*a).to_ascii_lowercase().contains(n))
            })
            .collect();
        let hosts_by_zone: HashMap<Sym, Vec<u32>> = if self.layout == Layout::Gcp {
            let mut m: HashMap<Sym, Vec<u32>> = HashMap::new();
            for s in &self.t.instance_types {
                let n = self.t.s(*s);
                if rules::gcp_is_n1_host(n) || rules::gcp_accelerator_of_host(n).is_some() {
                    for &i in self.t.by_instance.get(s).into_iter().flatten() {
                        m.entry(self.row(i).zone).or_default().push(i);
                    }
                }
            }
            m
        } else {
            HashMap::new()
        };
        let opt = |v: f64| (!v.is_nan()).then_some(v);
        let mut rows: Vec<AcceleratorOffer> = Vec::new();
        for a in names {
            let acc_name = self.t.s(a);
            let (device_mem, _) = self.device(a);
            for &i in self.t.by_acc.get(&a).into_iter().flatten() {
                let row = self.row(i);
                if f.count.is_some_and(|c| (row.acc_count - c).abs() > 0.01) {
                    continue;
                }
                let region = self.t.s(row.region);
                if region_filter
                    .as_deref()
                    .is_some_and(|rf| !region.to_ascii_lowercase().contains(rf))
                {
                    continue;
                }
                let mut offer = AcceleratorOffer {
                    cloud: self.cloud.clone(),
                    accelerator: Accelerator {
                        name: acc_name.to_string(),
                        count: row.acc_count,
                    },
                    instance_type: self.t.s(row.instance).to_string(),
                    device_memory_gib: device_mem,
                    vcpus: opt(row.vcpus),
                    host_memory_gib: opt(row.memory),
                    hourly_price: opt(row.price),
                    hourly_spot_price: opt(row.spot),
                    region: region.to_string(),
                };
                if self.layout == Layout::Gcp
                    && row.instance == NONE
                    && !rules::gcp_is_tpu(acc_name)
                {
                    let Some(h) =
                        self.gcp_default_host(&hosts_by_zone, acc_name, row.acc_count, row.zone)
                    else {
                        continue;
                    };
                    let h = self.row(h);
                    offer.instance_type = self.t.s(h.instance).to_string();
                    offer.vcpus = opt(h.vcpus);
                    offer.host_memory_gib = opt(h.memory);
                    offer.hourly_price = opt(add_prices(row.price, h.price));
                    offer.hourly_spot_price = opt(add_prices(row.spot, h.spot));
                }
                rows.push(offer);
            }
        }
        // One row per (name, count, instance type, shape) — and region with `all_regions` —
        // keeping the cheapest (on-demand, then spot, then region name).
        let price_order = |a: &AcceleratorOffer, b: &AcceleratorOffer| {
            cmp_nan_last(
                a.hourly_price.unwrap_or(f64::NAN),
                b.hourly_price.unwrap_or(f64::NAN),
            )
            .then_with(|| {
                cmp_nan_last(
                    a.hourly_spot_price.unwrap_or(f64::NAN),
                    b.hourly_spot_price.unwrap_or(f64::NAN),
                )
            })
            .then_with(|| a.region.cmp(&b.region))
        };
        type Key = (String, u64, String, u64, u64, Option<String>);
        let mut best: BTreeMap<Key, AcceleratorOffer> = BTreeMap::new();
        for o in rows {
            let key = (
                o.accelerator.name.clone(),
                o.accelerator.count.to_bits(),
                o.instance_type.clone(),
                o.vcpus.unwrap_or(f64::NAN).to_bits(),
                o.host_memory_gib.unwrap_or(f64::NAN).to_bits(),
                f.all_regions.then(|| o.region.clone()),
            );
            match best.get_mut(&key) {
                Some(cur) if price_order(&o, cur) == Ordering::Less => *cur = o,
                Some(_) => {}
                None => {
                    best.insert(key, o);
                }
            }
        }
        let mut out: Vec<AcceleratorOffer> = best.into_values().collect();
        out.sort_by(|a, b| {
            a.accelerator
                .name
                .cmp(&b.accelerator.name)
                .then_with(|| a.accelerator.count.total_cmp(&b.accelerator.count))
                .then_with(|| a.instance_type.cmp(&b.instance_type))
                .then_with(|| price_order(a, b))
        });
        out
    }
}
