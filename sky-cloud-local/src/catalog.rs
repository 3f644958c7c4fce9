//! The local catalog: one region, one instance type (this machine), price 0.

use sky_core::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Feasibility, Offering,
    Region,
};
use sky_core::resources::{CpuSpec, MemorySpec, Resources};
use sky_core::{CloudId, suggest};

use crate::{CLOUD, INSTANCE_TYPE, LocalCloud, REGION};

fn none(hint: String) -> Feasibility {
    Feasibility {
        offerings: Vec::new(),
        suggestions: Vec::new(),
        hint: Some(hint),
    }
}

fn cpus_ok(spec: &CpuSpec, have: f64) -> bool {
    // This machine hosts a task that asks for at most what it has (`4` or `4+` alike).
    have + 1e-9 >= spec.count
}

impl LocalCloud {
    fn offering(&self) -> Offering {
        Offering {
            cloud: CLOUD,
            instance_type: INSTANCE_TYPE.to_string(),
            accelerator: None,
            vcpus: self.machine().vcpus,
            memory_gib: self.machine().memory_gib,
            region: REGION.to_string(),
            zone: None,
            spot: false,
            hourly_price: 0.0,
            accelerator_hourly_price: 0.0,
        }
    }
}

impl Catalog for LocalCloud {
    fn cloud(&self) -> CloudId {
        CLOUD
    }

    fn offerings(&self, req: &Resources) -> Feasibility {
        if req.cloud.as_ref().is_some_and(|c| *c != CLOUD) {
            return Feasibility::default();
        }
        if let Err(e) = self.validate_region_zone(req.region.as_deref(), req.zone.as_deref()) {
            return none(e.to_string());
        }
        let m = self.machine();
        if let Some(t) = &req.instance_type
            && t != INSTANCE_TYPE
        {
            return none(format!(
                "local offers one instance type, {INSTANCE_TYPE:?} (this machine), not {t:?}"
            ));
        }
        if req.accelerators.is_some() {
            return none("the local backend has no accelerators".into());
        }
        if req.spot() {
            return none("the local backend has no spot market".into());
        }
        if let Some(c) = &req.cpus
            && !cpus_ok(c, m.vcpus)
        {
            return none(format!(
                "this machine has {} vCPUs; the task asks for {}{}",
                m.vcpus,
                c.count,
                if c.or_more { "+" } else { "" }
            ));
        }
        match req.memory {
            Some(MemorySpec::Gib { gib, or_more }) if m.memory_gib + 1e-9 < gib => {
                return none(format!(
                    "this machine has {} GiB of memory; the task asks for {gib}{}",
                    m.memory_gib,
                    if or_more { "+" } else { "" }
                ));
            }
            Some(MemorySpec::PerVcpu(ratio)) => {
                let vcpus = req.cpus.map_or(m.vcpus, |c| c.count.min(m.vcpus));
                if m.memory_gib + 1e-9 < ratio * vcpus {
                    return none(format!(
                        "this machine has {} GiB of memory, less than {ratio} GiB per vCPU",
                        m.memory_gib
                    ));
                }
            }
            _ => {}
        }
        if let Some(max) = req.max_hourly_cost
            && max < 0.0
        {
            return none(format!("max_hourly_cost {max} is below the local price, 0"));
        }
        Feasibility {
            offerings: vec![self.offering()],
            suggestions: Vec::new(),
            hint: None,
        }
    }

    fn optimize_by_zone(&self) -> bool {
        false
    }

    fn zones_for(&self, _offering: &Offering) -> Vec<String> {
        Vec::new()
    }

    fn regions(&self) -> Vec<Region> {
        vec![Region {
            name: REGION.to_string(),
            zones: Vec::new(),
        }]
    }

    fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        if let Some(r) = region
            && r != REGION
        {
            return Err(CatalogError::UnknownRegion {
                cloud: CLOUD.to_string(),
                region: r.to_string(),
                suggestion: suggest::did_you_mean(r, [REGION]),
            });
        }
        if zone.is_some() {
            return Err(CatalogError::ZonesUnsupported {
                cloud: CLOUD.to_string(),
            });
        }
        Ok(())
    }

    fn hourly_cost(
        &self,
        instance_type: &str,
        accelerator: Option<&Accelerator>,
        spot: bool,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Option<f64> {
        let here = region.is_none_or(|r| r == REGION) && zone.is_none();
        (instance_type == INSTANCE_TYPE && accelerator.is_none() && !spot && here).then_some(0.0)
    }

    fn accelerators(&self, _filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        Vec::new()
    }

    fn accelerator_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn egress_cost(&self, _gb: f64) -> f64 {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Machine;
    use sky_core::resources::AcceleratorSpec;

    fn cloud() -> LocalCloud {
        LocalCloud::with_machine(
            std::path::Path::new("/nonexistent"),
            Machine {
                vcpus: 8.0,
                memory_gib: 32.0,
            },
        )
    }

    #[test]
    fn offers_this_machine_for_free() {
        let c = cloud();
        let f = c.offerings(&Resources::new());
        assert_eq!(f.offerings.len(), 1);
        let o = &f.offerings[0];
        assert_eq!(
            (
                o.instance_type.as_str(),
                o.vcpus,
                o.memory_gib,
                o.hourly_price
            ),
            ("local", 8.0, 32.0, 0.0)
        );
        assert_eq!(o.region, "local");
        assert_eq!(o.zone, None);
        assert_eq!(
            c.hourly_cost("local", None, false, Some("local"), None),
            Some(0.0)
        );
        assert_eq!(c.hourly_cost("m5.large", None, false, None, None), None);
        assert_eq!(c.egress_cost(100.0), 0.0);
        assert_eq!(c.regions().len(), 1);
    }

    #[test]
    fn requests_it_cannot_satisfy_say_why() {
        let c = cloud();
        let ask = |f: &dyn Fn(&mut Resources)| {
            let mut r = Resources::new();
            f(&mut r);
            c.offerings(&r)
        };
        let f = ask(&|r| {
            r.cpus = Some(CpuSpec {
                count: 16.0,
                or_more: true,
            })
        });
        assert!(f.offerings.is_empty());
        assert!(f.hint.unwrap().contains("8 vCPUs"));
        let f = ask(&|r| {
            r.memory = Some(MemorySpec::Gib {
                gib: 64.0,
                or_more: false,
            })
        });
        assert!(f.hint.unwrap().contains("32 GiB"));
        let f = ask(&|r| r.accelerators = Some(AcceleratorSpec::named("V100", 1.0)));
        assert!(f.hint.unwrap().contains("no accelerators"));
        let f = ask(&|r| r.use_spot = Some(true));
        assert!(f.offerings.is_empty());
        let f = ask(&|r| r.region = Some("locl".into()));
        assert!(f.hint.unwrap().contains("did you mean \"local\""));
        let f = ask(&|r| r.zone = Some("a".into()));
        assert!(f.offerings.is_empty());
        let f = ask(&|r| r.cloud = Some(CloudId::Aws));
        assert_eq!(f, Feasibility::default());
        let f = ask(&|r| {
            r.cpus = Some(CpuSpec {
                count: 4.0,
                or_more: false,
            });
            r.memory = Some(MemorySpec::PerVcpu(4.0));
        });
        assert_eq!(f.offerings.len(), 1);
    }
}
