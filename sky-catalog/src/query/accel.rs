//! Accelerator requests, by name (`V100:4`) or by device memory (`80GB+`), and the
//! suggestions when nothing matches.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use sky_core::suggest;

use super::{Answer, Cand, Core, Req, cmp_nan_last, fmt_count, fmt_num, keep, list_some};
use crate::gpu::{known_memory_gib, vendor_from_name};
use crate::table::{NONE, Row, Sym};

impl Core {
    /// SkyPilot's fuzzy candidates (names containing `name` with at least `count` devices, in
    /// the asked region/zone, cheapest first) plus near spellings of `name`.
    pub(crate) fn suggestions(&self, r: &Req<'_>, name: &str, count: f64) -> Vec<String> {
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
    pub(crate) fn acc_rows(&self, name: &str) -> Vec<u32> {
        self.t
            .find_acc(name)
            .iter()
            .flat_map(|s| self.t.by_acc.get(s).into_iter().flatten().copied())
            .collect()
    }

    pub(crate) fn acc_offerings(&self, r: &Req<'_>, name: &str, count: f64) -> Answer {
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
        let split = self.rules.split.as_ref();
        let mut hint = None;
        let mut cands: Vec<Cand> = rows
            .iter()
            .map(|&i| {
                if split.is_some() {
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
        if let Some(split) = split {
            match (split.attach_hosts)(self, cands, r, canonical, count, &what) {
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

    /// Device memory (GiB) and vendor of an accelerator name.
    pub(crate) fn device(&self, acc: Sym) -> (Option<f64>, String) {
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

    pub(crate) fn memory_offerings(
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
}
