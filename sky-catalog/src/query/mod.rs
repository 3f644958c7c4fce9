//! The queries of [`sky_core::catalog::Catalog`] over a loaded [`Table`]: one engine for every
//! cloud, reading the per-cloud differences from the catalog's [`CloudRules`].
//!
//! - this module: the candidate and answer types, request resolution, the stages every
//!   answer ends with, sorting and the borrowed views handed to the caller;
//! - `hosts`: host-only requests (default CPU, `cpus`/`memory`, `instance_type`);
//! - `accel`: accelerator requests, by name or by device memory, and their suggestions;
//! - `places`: prices per place (`zones_for`, `hourly_cost`) and region/zone checks;
//! - `listing`: the show-gpus listing.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use rustc_hash::{FxHashMap, FxHashSet};
use sky_core::CloudId;
use sky_core::catalog::{Feasibility, OfferingRef};
use sky_core::resources::{AcceleratorSpec, CpuSpec, ImageId, MemorySpec, Resources};
use sky_core::suggest;

use crate::rules::CloudRules;
use crate::table::{NONE, Row, Sym, Table};

mod accel;
mod hosts;
mod listing;
mod places;

/// A loaded catalog with its cloud's rules.
#[derive(Debug)]
pub(crate) struct Core {
    /// The cloud's rules.
    pub rules: &'static CloudRules,
    /// The cloud (a copy of `rules.cloud`, lent out by every offering view).
    pub cloud: CloudId,
    /// The loaded file.
    pub t: Table,
    /// The rows of the default CPU families' instance types (by name, then row order): the
    /// candidates of every default-CPU query.
    default_rows: Vec<u32>,
    /// Clouds with separately priced accelerators: the rows of hosts they attach to (GCP's N1)
    /// per zone, in row order; made once, since every attachable-GPU query pairs accelerator
    /// rows with them.
    pub attach_by_zone: FxHashMap<Sym, Vec<u32>>,
}

/// A launchable in the making: a host row and, on GCP, the separately priced accelerator row
/// in the same zone. TPU VMs have no host row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub(crate) host: u32,
    pub(crate) acc: u32,
}

/// A query's answer before it is materialised: priced candidates in row order.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub(crate) picks: Vec<(f64, Cand)>,
    /// Picks handed to the caller's sink instead of `picks` (see [`Sink`]).
    pub(crate) streamed: usize,
    /// The candidates are distinct rows (host-only requests), so they need no
    /// de-duplication.
    pub(crate) unique: bool,
    pub(crate) spot: bool,
    pub(crate) suggestions: Vec<String>,
    pub(crate) hint: Option<String>,
}

/// Where the one-pass host queries hand their picks when the caller only visits them
/// (no vector of thousands of picks is built); `None` collects them into
/// [`Answer::picks`]. Other paths always collect.
pub(crate) type Sink<'s> = Option<&'s mut dyn FnMut(f64, Cand)>;

/// The request, resolved against this catalog.
pub(crate) struct Req<'a> {
    pub(crate) region: Option<Sym>,
    pub(crate) zone: Option<Sym>,
    pub(crate) image_regions: Option<Vec<String>>,
    pub(crate) instance_type: Option<&'a str>,
    pub(crate) cpus: Option<CpuSpec>,
    pub(crate) memory: Option<MemorySpec>,
    pub(crate) spot: bool,
    pub(crate) max_cost: Option<f64>,
}

/// The sum of a host and an accelerator price, without binary floating-point noise
/// (catalog prices have at most 5 decimals; `0.47321 + 2.48` is `2.95321`, not `2.9532100000000003`).
pub(crate) fn add_prices(a: f64, b: f64) -> f64 {
    // A lone price is already the nearest double to its decimal.
    if b == 0.0 {
        return a;
    }
    if a == 0.0 {
        return b;
    }
    ((a + b) * 1e9).round() / 1e9
}

pub(crate) fn cmp_nan_last(a: f64, b: f64) -> Ordering {
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

pub(crate) fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v}")
    }
}

pub(crate) fn fmt_cpus(c: &CpuSpec) -> String {
    format!("{}{}", fmt_num(c.count), if c.or_more { "+" } else { "" })
}

pub(crate) fn fmt_mem(m: &MemorySpec) -> String {
    match m {
        MemorySpec::Gib { gib, or_more } => {
            format!("{}{} GiB", fmt_num(*gib), if *or_more { "+" } else { "" })
        }
        MemorySpec::PerVcpu(x) => format!("at least {} GiB per vCPU", fmt_num(*x)),
    }
}

pub(crate) fn cpus_ok(spec: &CpuSpec, vcpus: f64) -> bool {
    if spec.or_more {
        vcpus >= spec.count - 1e-9
    } else {
        (vcpus - spec.count).abs() < 1e-9
    }
}

pub(crate) fn mem_ok(spec: &MemorySpec, vcpus: f64, mem: f64) -> bool {
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
pub(crate) fn list_some(items: &[String], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..max].join(", "), items.len() - max)
    }
}

/// Keeps the candidates satisfying `pred`; if none does, clears them, sets `hint` from the
/// candidates as they were, and returns false.
pub(crate) fn keep<F, W>(cands: &mut Vec<Cand>, hint: &mut Option<String>, pred: F, why: W) -> bool
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
    pub(crate) fn new(rules: &'static CloudRules, t: Table) -> Core {
        let is_default = rules.is_default;
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
        let mut attach_by_zone: FxHashMap<Sym, Vec<u32>> = FxHashMap::default();
        if let Some(split) = &rules.split {
            for (i, row) in t.rows.iter().enumerate() {
                if row.instance != NONE && (split.is_attach_host)(t.s(row.instance)) {
                    attach_by_zone.entry(row.zone).or_default().push(i as u32);
                }
            }
        }
        Core {
            rules,
            cloud: rules.cloud.clone(),
            t,
            default_rows,
            attach_by_zone,
        }
    }

    pub(crate) fn row(&self, i: u32) -> &Row {
        &self.t.rows[i as usize]
    }

    /// The row that carries the location of a candidate.
    pub(crate) fn loc(&self, c: &Cand) -> &Row {
        if c.host != NONE {
            self.row(c.host)
        } else {
            self.row(c.acc)
        }
    }

    pub(crate) fn price(&self, c: &Cand, spot: bool) -> f64 {
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

    pub(crate) fn acc_of(&self, c: &Cand) -> Option<(Sym, f64)> {
        let r = if c.acc != NONE {
            self.row(c.acc)
        } else {
            self.row(c.host)
        };
        (r.acc != NONE).then_some((r.acc, r.acc_count))
    }

    pub(crate) fn instance_of(&self, c: &Cand) -> &str {
        if c.host != NONE {
            self.t.s(self.row(c.host).instance)
        } else {
            self.rules
                .split
                .as_ref()
                .map_or("", |s| s.hostless_instance)
        }
    }

    pub(crate) fn host_shape(&self, c: &Cand) -> (f64, f64) {
        if c.host == NONE {
            (f64::NAN, f64::NAN)
        } else {
            let r = self.row(c.host);
            (r.vcpus, r.memory)
        }
    }

    pub(crate) fn what_acc(&self, acc: Sym, count: f64) -> String {
        format!("{}:{}", self.t.s(acc), fmt_count(count))
    }

    pub(crate) fn regions_of(&self, cands: &[Cand]) -> Vec<String> {
        let set: BTreeSet<&str> = cands.iter().map(|c| self.t.s(self.loc(c).region)).collect();
        set.into_iter().map(String::from).collect()
    }

    pub(crate) fn zones_of(&self, cands: &[Cand]) -> Vec<String> {
        let set: BTreeSet<&str> = cands.iter().map(|c| self.t.s(self.loc(c).zone)).collect();
        set.into_iter().map(String::from).collect()
    }

    /// Resolves region and zone; `Err(hint)` when the catalog has no such place.
    pub(crate) fn resolve<'a>(&self, req: &'a Resources) -> Result<Req<'a>, String> {
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
                if !self.rules.zones {
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
                    if let Some(note) = self.rules.zone_id_note
                        && pool.iter().any(|s| self.t.s(*s).contains("-az"))
                    {
                        h.push_str(note);
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

    pub(crate) fn answer(&self, req: &Resources, sink: Sink<'_>) -> Answer {
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
    pub(crate) fn finish(
        &self,
        mut cands: Vec<Cand>,
        r: &Req<'_>,
        what: &str,
        unique: bool,
    ) -> Answer {
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
    pub(crate) fn cmp_place(&self, a: &Cand, b: &Cand) -> Ordering {
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

    pub(crate) fn sort_picks(&self, picks: &mut [(f64, Cand)]) {
        picks.sort_by(|(pa, a), (pb, b)| pa.total_cmp(pb).then_with(|| self.cmp_place(a, b)));
    }

    /// Sorts (cheapest first; ties by region, zone, instance type) and de-duplicates
    /// `(instance type, region, zone, accelerator)` on interned symbols, so that a
    /// default-CPU query over thousands of rows allocates no string.
    pub(crate) fn sorted_unique(&self, mut picks: Vec<(f64, Cand)>) -> Vec<(f64, Cand)> {
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
    pub(crate) fn view(&self, hourly_price: f64, c: &Cand, spot: bool) -> OfferingRef<'_> {
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
}
