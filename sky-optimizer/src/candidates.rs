//! Candidate enumeration: every feasible, non-blocked launchable of every resource
//! alternative, at the granularity failover works at (zone or region), sorted into a total
//! order. Catalog answers are cached per (cloud, request) within one optimize call.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::rc::Rc;

use rustc_hash::FxHashMap;

use sky_core::CloudId;
use sky_core::catalog::{Accelerator, Catalog, Catalogs, Offering, OfferingRef};
use sky_core::resources::{AcceleratorSpec, MemorySpec, Resources, Selection};
use sky_core::task::Task;

use crate::block::BlockList;
use crate::error::OptimizeError;

/// One launchable at optimizer granularity.
#[derive(Clone, Debug)]
pub(crate) struct Launchable {
    /// The offering; `zone` is `None` for a region-level candidate, whose price is the
    /// cheapest zone's (its zones are listed by [`Enumerator::zones`], for chosen ones only).
    pub offering: Offering,
    /// Which of the task's resource alternatives produced it.
    pub resources_index: usize,
}

/// The total order: price, then (cloud, region, zone, instance type, accelerator, market),
/// then the alternative's index.
pub(crate) fn cmp_launchables(a: &Launchable, b: &Launchable) -> Ordering {
    let (x, y) = (&a.offering, &b.offering);
    x.hourly_price
        .total_cmp(&y.hourly_price)
        .then_with(|| x.key().cmp(&y.key()))
        .then_with(|| cmp_acc(x, y))
        .then_with(|| a.resources_index.cmp(&b.resources_index))
}

fn cmp_acc(x: &Offering, y: &Offering) -> Ordering {
    match (&x.accelerator, &y.accelerator) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => a.name.cmp(&b.name).then(a.count.total_cmp(&b.count)),
    }
}

/// The processed answer for one (cloud, request): feasible non-blocked launchables and
/// the indices of the representatives the optimizer and the report need.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    /// The representatives (cheapest per region and per accelerator), sorted by
    /// [`cmp_launchables`].
    pub all: Vec<Launchable>,
    /// Offerings the catalog returned before blocking and filtering.
    pub found: usize,
    /// Offerings removed by the block list.
    pub blocked: usize,
    /// Offerings above the request's `max_hourly_cost`.
    pub over_budget: usize,
    pub hint: Option<String>,
    pub suggestions: Vec<String>,
    /// Index of the cheapest launchable per region.
    pub by_region: Vec<usize>,
    /// Index of the cheapest launchable per accelerator (the market is the request's).
    pub by_group: Vec<usize>,
}

/// Cached answers whose requests hash alike.
type Bucket = Vec<(Resources, Rc<Entry>)>;

/// Caches catalog answers for one optimize call.
pub(crate) struct Enumerator<'a> {
    catalogs: Vec<&'a dyn Catalog>,
    all_clouds: Vec<CloudId>,
    blocked: &'a BlockList,
    /// Answers of this call by (cloud, request): a cheap hash of the fields that shape a
    /// catalog answer picks the bucket, equality decides (formatting every request into a
    /// key cost more than a small query).
    cache: FxHashMap<(CloudId, u64), Bucket>,
}

/// What a task may run on.
#[derive(Debug)]
pub(crate) struct TaskCandidates {
    /// Per cloud-request answer that contributed (all non-empty).
    pub entries: Vec<(usize, Rc<Entry>)>,
}

impl TaskCandidates {
    /// The candidates that can be optimal: the cheapest per cloud, or per (cloud, region)
    /// when regions matter; sorted.
    pub fn pruned(&self, region_level: bool) -> Vec<Launchable> {
        let mut best: BTreeMap<(CloudId, String), Launchable> = BTreeMap::new();
        for (i, e) in &self.entries {
            let reps: &[usize] = if region_level { &e.by_region } else { &[0] };
            for &k in reps {
                let l = e.tagged(*i, k);
                let class = (
                    l.offering.cloud.clone(),
                    if region_level {
                        l.offering.region.clone()
                    } else {
                        String::new()
                    },
                );
                keep_min(&mut best, class, l);
            }
        }
        sorted(best.into_values())
    }

    /// The cheapest launchable per (cloud, accelerator, market), sorted: SkyPilot's
    /// "Considered resources" rows.
    pub fn groups(&self) -> Vec<Launchable> {
        let mut best: BTreeMap<(CloudId, String, bool), Launchable> = BTreeMap::new();
        for (i, e) in &self.entries {
            for &k in &e.by_group {
                let l = e.tagged(*i, k);
                let class = (
                    l.offering.cloud.clone(),
                    acc_key(&l.offering),
                    l.offering.spot,
                );
                keep_min(&mut best, class, l);
            }
        }
        sorted(best.into_values())
    }
}

fn keep_min<K: Ord>(map: &mut BTreeMap<K, Launchable>, key: K, l: Launchable) {
    match map.get(&key) {
        Some(old) if cmp_launchables(old, &l) != Ordering::Greater => {}
        _ => {
            map.insert(key, l);
        }
    }
}

fn sorted(it: impl Iterator<Item = Launchable>) -> Vec<Launchable> {
    let mut v: Vec<Launchable> = it.collect();
    v.sort_by(cmp_launchables);
    v
}

/// The accelerator of an offering as a grouping key (`V100:1`, or empty).
pub(crate) fn acc_key(o: &Offering) -> String {
    o.accelerator
        .as_ref()
        .map(|a| format!("{}:{}", a.name, num(a.count)))
        .unwrap_or_default()
}

impl<'a> Enumerator<'a> {
    /// `clouds`: the enabled clouds (already restricted by the options).
    pub fn new(catalogs: &'a Catalogs, clouds: &[CloudId], blocked: &'a BlockList) -> Self {
        Enumerator {
            catalogs: catalogs
                .iter()
                .filter(|c| clouds.contains(&c.cloud()))
                .map(|c| c.as_ref())
                .collect(),
            all_clouds: catalogs.clouds(),
            blocked,
            cache: FxHashMap::default(),
        }
    }

    fn entry(&mut self, catalog: &dyn Catalog, req: &Resources) -> Rc<Entry> {
        // A request pinned to this catalog's cloud has the same answer as the unpinned one,
        // so both share one query.
        let unpinned;
        let req = if req.cloud.is_some() {
            let mut r = req.clone();
            r.cloud = None;
            unpinned = r;
            &unpinned
        } else {
            req
        };
        let bucket = self
            .cache
            .entry((catalog.cloud(), request_hash(req)))
            .or_default();
        if let Some((_, e)) = bucket.iter().find(|(r, _)| r == req) {
            return e.clone();
        }
        let e = Rc::new(process(catalog, req, self.blocked));
        bucket.push((req.clone(), e.clone()));
        e
    }

    /// The zones to try for launchable `l` of `task`, cheapest first: its own zone for a
    /// zone-level candidate; for a region-level one, every zone of its region where the same
    /// instance type and accelerator pass the request, the block list and the price cap.
    ///
    /// Only the chosen placements need this, so it is not part of the candidate scan: the
    /// request is narrowed to the launchable's instance type and region (pins only filter,
    /// so the rows that remain are the same rows), and the catalog answers from its index.
    pub fn zones(&self, task: &Task, l: &Launchable) -> Vec<String> {
        let o = &l.offering;
        if let Some(z) = &o.zone {
            return vec![z.clone()];
        }
        let Some(catalog) = self.catalogs.iter().find(|c| c.cloud() == o.cloud) else {
            return Vec::new();
        };
        let Some(req) = task.resources.alternatives.get(l.resources_index) else {
            return Vec::new();
        };
        let mut narrow = req.clone();
        narrow.cloud = None;
        narrow.instance_type = Some(o.instance_type.clone());
        narrow.region = Some(o.region.clone());
        let mut zones: Vec<(f64, String)> = Vec::new();
        let scan = |r: &Resources, zones: &mut Vec<(f64, String)>| {
            catalog.visit_offerings(r, &mut |v| {
                let Some(zone) = v.zone else { return };
                if v.region == o.region
                    && v.instance_type == o.instance_type
                    && same_acc(v.accelerator, o.accelerator.as_ref())
                    && matches!(admit(&v, &o.cloud, req, self.blocked), Admit::Yes)
                {
                    zones.push((v.hourly_price, zone.to_string()));
                }
            });
        };
        scan(&narrow, &mut zones);
        if zones.is_empty() {
            // A catalog whose pins do more than filter: the request as the scan saw it.
            let mut unpinned = req.clone();
            unpinned.cloud = None;
            scan(&unpinned, &mut zones);
        }
        zones.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut out: Vec<String> = Vec::new();
        for (_, zone) in zones {
            if !out.contains(&zone) {
                out.push(zone);
            }
        }
        out
    }

    /// The candidates of `task` (named `name` in messages), or why there are none.
    pub fn task(&mut self, task: &Task, name: &str) -> Result<TaskCandidates, OptimizeError> {
        let set = &task.resources;
        let mut reasons: Vec<String> = Vec::new();
        let mut suggestions: Vec<String> = Vec::new();
        let mut blocked_total = 0usize;
        let mut entries = Vec::new();
        for (i, req) in set.alternatives.iter().enumerate() {
            let catalogs: Vec<&'a dyn Catalog> = match &req.cloud {
                Some(c) => {
                    let found: Vec<_> = self
                        .catalogs
                        .iter()
                        .copied()
                        .filter(|k| k.cloud() == *c)
                        .collect();
                    if found.is_empty() {
                        let why = if self.all_clouds.contains(c) {
                            "is excluded by the optimizer options"
                        } else if c.is_skypilot_only() {
                            "is a SkyPilot cloud sky has no backend for"
                        } else {
                            "is not enabled"
                        };
                        let enabled: Vec<String> = self
                            .catalogs
                            .iter()
                            .map(|k| k.cloud().to_string())
                            .collect();
                        reasons.push(format!(
                            "{}: cloud {c} {why} (enabled: {})",
                            describe(req),
                            if enabled.is_empty() {
                                "none".to_string()
                            } else {
                                enabled.join(", ")
                            }
                        ));
                    }
                    found
                }
                None => self.catalogs.clone(),
            };
            let mut alt_entries = Vec::new();
            for catalog in catalogs {
                let e = self.entry(catalog, req);
                let cloud = catalog.cloud();
                if e.all.is_empty() {
                    let mut why = Vec::new();
                    if e.found == 0 {
                        why.push(
                            e.hint
                                .clone()
                                .unwrap_or_else(|| "no offering matches".into()),
                        );
                    }
                    if e.blocked > 0 {
                        why.push(format!("{} candidates blocked", e.blocked));
                    }
                    if e.over_budget > 0 {
                        why.push(format!("{} offerings above max_hourly_cost", e.over_budget));
                    }
                    if why.is_empty() {
                        why.push("no priced offering on this market".into());
                    }
                    reasons.push(format!("{cloud}: {}: {}", describe(req), why.join("; ")));
                    for s in &e.suggestions {
                        if !suggestions.contains(s) {
                            suggestions.push(s.clone());
                        }
                    }
                } else {
                    alt_entries.push((i, e.clone()));
                }
                blocked_total += e.blocked;
            }
            let found_any = !alt_entries.is_empty();
            entries.extend(alt_entries);
            if found_any && set.selection == Selection::Ordered {
                break;
            }
        }
        if entries.is_empty() {
            let request = set
                .alternatives
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join(" | ");
            let mut message = format!(
                "no launchable resources for task {name:?}: the catalogs have no offering \
                 satisfying {}x {request}",
                task.num_nodes
            );
            for r in &reasons {
                message.push_str("\n  - ");
                message.push_str(r);
            }
            if blocked_total > 0 {
                message.push_str(&format!(
                    "\n{blocked_total} candidates blocked by the block list (earlier failures)"
                ));
                reasons.push(format!("{blocked_total} candidates blocked"));
            }
            if !suggestions.is_empty() {
                message.push_str(&format!("\nDid you mean: {}?", suggestions.join(", ")));
            }
            message.push_str("\nTo fix: relax or change the resource requirements.");
            return Err(OptimizeError::ResourcesUnavailable {
                task: name.to_string(),
                message,
                reasons,
                suggestions,
            });
        }
        Ok(TaskCandidates { entries })
    }
}

/// A hash of the request fields that shape a catalog answer (equal requests hash equal).
fn request_hash(r: &Resources) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    r.instance_type.hash(&mut h);
    r.region.hash(&mut h);
    r.zone.hash(&mut h);
    r.spot().hash(&mut h);
    r.cpus.map(|c| c.count.to_bits()).hash(&mut h);
    match &r.accelerators {
        Some(AcceleratorSpec::Name { name, count }) => (name, count.to_bits()).hash(&mut h),
        Some(AcceleratorSpec::Memory {
            memory_gib, count, ..
        }) => (memory_gib.to_bits(), count.to_bits()).hash(&mut h),
        _ => {}
    }
    h.finish()
}

/// Why a catalog row is not a candidate.
enum Admit {
    Yes,
    /// Outside what the request pinned, or not priced on its market.
    No,
    Blocked,
    OverBudget,
}

/// Re-checks a row against the request (a sloppy catalog must not place a task outside what
/// it asked for), then the block list and the price cap.
fn admit(o: &OfferingRef<'_>, cloud: &CloudId, req: &Resources, blocked: &BlockList) -> Admit {
    let pinned = |want: &Option<String>, have: Option<&str>| {
        want.as_deref()
            .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
    };
    if o.cloud != cloud
        || o.spot != req.spot()
        || !o.hourly_price.is_finite()
        || o.hourly_price < 0.0
        || !pinned(&req.region, Some(o.region))
        || !pinned(&req.zone, o.zone)
        || !pinned(&req.instance_type, Some(o.instance_type))
    {
        return Admit::No;
    }
    if blocked.blocks_view(o) {
        return Admit::Blocked;
    }
    if req.max_hourly_cost.is_some_and(|m| o.hourly_price > m) {
        return Admit::OverBudget;
    }
    Admit::Yes
}

/// [`cmp_launchables`] between a borrowed row and a kept launchable of the same request.
fn cmp_view(x: &OfferingRef<'_>, y: &Offering) -> Ordering {
    x.hourly_price
        .total_cmp(&y.hourly_price)
        .then_with(|| x.key().cmp(&y.key()))
        .then_with(|| match (x.accelerator, &y.accelerator) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some((n, c)), Some(b)) => n.cmp(b.name.as_str()).then(c.total_cmp(&b.count)),
        })
}

/// Keeps `v` in `best` if it is better than what is there.
fn keep_best(best: &mut Offering, v: &OfferingRef<'_>) {
    if cmp_view(v, best) == Ordering::Less {
        v.write_into(best);
    }
}

fn same_acc(a: Option<(&str, f64)>, b: Option<&Accelerator>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some((n, c)), Some(b)) => n == b.name && c == b.count,
        _ => false,
    }
}

/// Queries one catalog for one request and brings the answer to optimizer granularity:
/// the cheapest launchable per region and per accelerator, the only ones the optimizer and
/// the report use.
///
/// Rows are scanned borrowed ([`Catalog::visit_offerings`]), once; only the few
/// representatives become owned. Clouds whose price is per region (zones are failover
/// detail) get region-level launchables whose price is the cheapest admitted zone's; their
/// zone lists are made for the chosen ones only ([`Enumerator::zones`]).
fn process(catalog: &dyn Catalog, req: &Resources, blocked: &BlockList) -> Entry {
    let cloud = catalog.cloud();
    let by_zone = catalog.optimize_by_zone() || req.spot() || req.zone.is_some();
    let mut entry = Entry::default();
    // The cheapest per region, found by name: rows come grouped by instance type and then
    // by place, so the last region hit is checked before hashing.
    let mut regions: Vec<Offering> = Vec::new();
    let mut region_index: FxHashMap<String, usize> = FxHashMap::default();
    let mut last_region = usize::MAX;
    let mut groups: Vec<Offering> = Vec::new();
    let feasibility = catalog.visit_offerings(req, &mut |mut o| {
        entry.found += 1;
        let region = if regions
            .get(last_region)
            .is_some_and(|r| r.region == o.region)
        {
            Some(last_region)
        } else {
            region_index.get(o.region).copied()
        };
        let group = groups
            .iter()
            .position(|g| same_acc(o.accelerator, g.accelerator.as_ref()));
        // Dearer than both running bests, it can replace neither (an equal price goes on to
        // the full order). Only admitted rows are bests, so a request that admits nothing
        // still has every row checked and counted for its message.
        if let (Some(r), Some(g)) = (region, group)
            && o.hourly_price > regions[r].hourly_price
            && o.hourly_price > groups[g].hourly_price
        {
            return;
        }
        match admit(&o, &cloud, req, blocked) {
            Admit::Yes => {}
            Admit::No => return,
            Admit::Blocked => {
                entry.blocked += 1;
                return;
            }
            Admit::OverBudget => {
                entry.over_budget += 1;
                return;
            }
        }
        if !by_zone {
            o.zone = None;
        }
        last_region = match region {
            Some(r) => {
                keep_best(&mut regions[r], &o);
                r
            }
            None => {
                region_index.insert(o.region.to_string(), regions.len());
                regions.push(o.to_offering());
                regions.len() - 1
            }
        };
        match group {
            Some(g) => keep_best(&mut groups[g], &o),
            None => groups.push(o.to_offering()),
        }
    });
    entry.hint = feasibility.hint;
    entry.suggestions = feasibility.suggestions;
    let mut reps: Vec<Offering> = Vec::new();
    // Any order: the representatives are sorted by their total order below.
    for o in regions.into_iter().chain(groups) {
        if !reps
            .iter()
            .any(|r| r.key() == o.key() && r.accelerator == o.accelerator)
        {
            reps.push(o);
        }
    }
    entry.all = reps
        .into_iter()
        .map(|offering| Launchable {
            offering,
            resources_index: 0,
        })
        .collect();
    entry.all.sort_by(cmp_launchables);
    let mut seen_regions: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut seen_groups: Vec<Option<(&str, f64)>> = Vec::new();
    for (k, l) in entry.all.iter().enumerate() {
        if seen_regions.insert(&l.offering.region) {
            entry.by_region.push(k);
        }
        let acc = l
            .offering
            .accelerator
            .as_ref()
            .map(|a| (a.name.as_str(), a.count));
        if !seen_groups.contains(&acc) {
            seen_groups.push(acc);
            entry.by_group.push(k);
        }
    }
    entry
}

impl Entry {
    /// Launchable `k`, tagged with the alternative index it came from.
    pub fn tagged(&self, index: usize, k: usize) -> Launchable {
        Launchable {
            resources_index: index,
            ..self.all[k].clone()
        }
    }
}

/// A short description of a request for messages: `gcp(V100:1, cpus=8+, spot)`.
pub(crate) fn describe(r: &Resources) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(acc) = &r.accelerators {
        parts.push(match acc {
            AcceleratorSpec::Name { name, count } => format!("{name}:{}", num(*count)),
            AcceleratorSpec::Memory {
                vendor,
                memory_gib,
                or_more,
                count,
            } => format!(
                "{}{}GB{}:{}",
                vendor
                    .as_deref()
                    .map(|v| format!("{v}:"))
                    .unwrap_or_default(),
                num(*memory_gib),
                if *or_more { "+" } else { "" },
                num(*count)
            ),
            _ => format!("{acc:?}"),
        });
    }
    if let Some(t) = &r.instance_type {
        parts.push(t.clone());
    }
    if let Some(c) = &r.cpus {
        parts.push(format!(
            "cpus={}{}",
            num(c.count),
            if c.or_more { "+" } else { "" }
        ));
    }
    match &r.memory {
        Some(MemorySpec::Gib { gib, or_more }) => parts.push(format!(
            "memory={}{}",
            num(*gib),
            if *or_more { "+" } else { "" }
        )),
        Some(MemorySpec::PerVcpu(x)) => parts.push(format!("memory={}x", num(*x))),
        None => {}
    }
    if r.spot() {
        parts.push("spot".into());
    }
    if let Some(m) = r.max_hourly_cost {
        parts.push(format!("max_hourly_cost={}", num(m)));
    }
    let place = [
        r.cloud.as_ref().map(|c| c.to_string()),
        r.region.clone(),
        r.zone.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("/");
    let inner = if parts.is_empty() {
        "any".to_string()
    } else {
        parts.join(", ")
    };
    if place.is_empty() {
        format!("({inner})")
    } else {
        format!("{place}({inner})")
    }
}

/// A number without a trailing `.0`.
pub(crate) fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
