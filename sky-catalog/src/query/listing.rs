//! The show-gpus listing: accelerator names, and one row per accelerator, count and host.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use sky_core::catalog::{Accelerator, AcceleratorFilter, AcceleratorOffer};

use super::{Core, add_prices, cmp_nan_last};
use crate::table::{NONE, Sym};

impl Core {
    pub(crate) fn accelerator_names(&self) -> Vec<String> {
        self.t
            .acc_names
            .iter()
            .map(|s| self.t.s(*s).to_string())
            .collect()
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
        let split = self.rules.split.as_ref();
        let hosts_by_zone: HashMap<Sym, Vec<u32>> = if let Some(split) = split {
            let mut m: HashMap<Sym, Vec<u32>> = HashMap::new();
            for s in &self.t.instance_types {
                let n = self.t.s(*s);
                if (split.is_attach_host)(n) || (split.accelerator_of_host)(n).is_some() {
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
            // Separately priced accelerators (other than hostless ones) are listed with the
            // default host they attach to.
            let attached = split.filter(|s| !(s.is_hostless)(acc_name));
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
                if let Some(split) = attached
                    && row.instance == NONE
                {
                    let Some(h) = (split.default_host)(
                        self,
                        &hosts_by_zone,
                        acc_name,
                        row.acc_count,
                        row.zone,
                    ) else {
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
