//! Host-only requests: the default CPU families, `cpus`/`memory` and `instance_type`, and
//! the place and shape stages that accelerator requests share.

use std::collections::BTreeSet;

use sky_core::resources::{CpuSpec, MemorySpec};
use sky_core::suggest;

use super::{
    Answer, Cand, Core, Req, Sink, cpus_ok, fmt_cpus, fmt_mem, fmt_num, keep, list_some, mem_ok,
};
use crate::rules;
use crate::table::NONE;

impl Core {
    /// Region and zone stages (on the rows that carry the location).
    pub(crate) fn place(
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
    pub(crate) fn shape(
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

    pub(crate) fn cpu_offerings(&self, r: &Req<'_>, mut sink: Sink<'_>) -> Answer {
        let mut hint = None;
        let cloud = &self.cloud;
        let (mut cands, what, cpus, memory): (Vec<Cand>, String, _, _) = match r.instance_type {
            Some(it) => {
                let rows = self.t.rows_of(it);
                if rows.is_empty() {
                    let hostless = self
                        .rules
                        .split
                        .as_ref()
                        .filter(|s| it == s.hostless_instance);
                    let mut h = match hostless {
                        Some(split) => split.hostless_hint.to_string(),
                        None => format!("{cloud} has no instance type {it}"),
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
                if let Some((acc, count)) = self
                    .rules
                    .split
                    .as_ref()
                    .and_then(|s| (s.accelerator_of_host)(it))
                {
                    // Hosts sold with their accelerators, priced separately (GCP's A2/A3/A4/G2).
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
    pub(crate) fn host_fast_path(
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
}
