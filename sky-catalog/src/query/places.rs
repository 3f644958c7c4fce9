//! Prices per place (the zones of an offering, the hourly cost of an instance type) and the
//! catalog's regions and zones.

use std::collections::HashMap;

use sky_core::catalog::{Accelerator, CatalogError, Offering, Region};
use sky_core::suggest;

use super::{Core, add_prices};
use crate::table::{NONE, Row, Sym};

impl Core {
    /// (price, region, zone) of `instance_type` (+ `accelerator`) on one market, NaN dropped.
    pub(crate) fn priced_places(
        &self,
        instance_type: &str,
        accelerator: Option<&Accelerator>,
        spot: bool,
    ) -> Vec<(f64, Sym, Sym)> {
        let acc: Option<(&str, f64)> = match accelerator {
            Some(a) => Some((a.name.as_str(), a.count)),
            None => self
                .rules
                .split
                .as_ref()
                .and_then(|s| (s.accelerator_of_host)(instance_type)),
        };
        let count_ok = |row: &Row, c: f64| (row.acc_count - c).abs() <= 0.01;
        let mut out = Vec::new();
        if let Some(split) = self.rules.split.as_ref()
            && let Some((name, count)) = acc
        {
            let acc_rows: Vec<u32> = self
                .acc_rows(name)
                .into_iter()
                .filter(|&i| self.row(i).instance == NONE && count_ok(self.row(i), count))
                .collect();
            if instance_type == split.hostless_instance {
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
        } else if self
            .rules
            .split
            .as_ref()
            .is_some_and(|s| instance_type == s.hostless_instance)
        {
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
        if !self.rules.zones {
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
        if !self.rules.zones && zone.is_some() {
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
        if zone.is_some() && !self.rules.zones {
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
}
