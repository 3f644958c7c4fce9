//! The pools as a catalog: one region and one free instance type per pool.

use sky_core::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Feasibility, Offering,
    Region,
};
use sky_core::resources::Resources;
use sky_core::{CloudId, suggest};

use crate::{CLOUD, PoolError, SshPoolCloud, instance_type};

fn none(hint: String) -> Feasibility {
    Feasibility {
        offerings: Vec::new(),
        suggestions: Vec::new(),
        hint: Some(hint),
    }
}

/// A pool file that cannot be used, as a catalog error.
fn file_error(e: &PoolError) -> CatalogError {
    match e {
        PoolError::Invalid {
            origin,
            line,
            message,
            ..
        } => CatalogError::Malformed {
            path: origin.into(),
            line: line.unwrap_or(0),
            message: message.clone(),
        },
        PoolError::Io { path, source } => CatalogError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        PoolError::Db { path, .. } => CatalogError::Malformed {
            path: path.clone(),
            line: 0,
            message: e.to_string(),
        },
    }
}

impl SshPoolCloud {
    fn offering(pool: &str) -> Offering {
        Offering {
            cloud: CLOUD,
            instance_type: instance_type(pool),
            accelerator: None,
            // Not probed: unknown (see the crate docs).
            vcpus: 0.0,
            memory_gib: 0.0,
            region: pool.to_string(),
            zone: None,
            spot: false,
            hourly_price: 0.0,
            accelerator_hourly_price: 0.0,
        }
    }
}

impl Catalog for SshPoolCloud {
    fn cloud(&self) -> CloudId {
        CLOUD
    }

    fn offerings(&self, req: &Resources) -> Feasibility {
        if req.cloud.as_ref().is_some_and(|c| *c != CLOUD) {
            return Feasibility::default();
        }
        if let Some(e) = &self.file_error {
            return none(format!("SSH node pools are unavailable: {e}"));
        }
        if self.pools.is_empty() {
            return none(format!(
                "no SSH node pool is defined (write {})",
                crate::NodePools::default_path().display()
            ));
        }
        if let Err(e) = self.validate_region_zone(req.region.as_deref(), req.zone.as_deref()) {
            return none(e.to_string());
        }
        if req.accelerators.is_some() {
            return none("SSH node pools declare no accelerators".into());
        }
        if req.spot() {
            return none("SSH node pools have no spot market".into());
        }
        let mut offerings: Vec<Offering> = self
            .pools
            .names()
            .into_iter()
            .filter(|p| req.region.as_ref().is_none_or(|r| r == p))
            .map(|p| Self::offering(&p))
            .collect();
        if let Some(t) = &req.instance_type {
            offerings.retain(|o| o.instance_type == *t);
            if offerings.is_empty() {
                let types: Vec<String> = self
                    .pools
                    .names()
                    .iter()
                    .map(|p| instance_type(p))
                    .collect();
                let near = suggest::did_you_mean(t, types.iter().map(String::as_str));
                return none(format!(
                    "ssh has no instance type {t:?}{}",
                    near.map(|n| format!("; did you mean {n:?}?"))
                        .unwrap_or_default()
                ));
            }
        }
        Feasibility {
            offerings,
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
        self.pools
            .names()
            .into_iter()
            .map(|name| Region {
                name,
                zones: Vec::new(),
            })
            .collect()
    }

    fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        if let Some(r) = region
            && self.pools.get(r).is_none()
        {
            if let Some(e) = &self.file_error {
                return Err(file_error(e));
            }
            let names = self.pools.names();
            return Err(CatalogError::UnknownRegion {
                cloud: CLOUD.to_string(),
                region: r.to_string(),
                suggestion: suggest::did_you_mean(r, names.iter().map(String::as_str)),
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
        let pool = instance_type.strip_prefix("ssh-")?;
        let ok = self.pools.get(pool).is_some()
            && region.is_none_or(|r| r == pool)
            && zone.is_none()
            && accelerator.is_none()
            && !spot;
        ok.then_some(0.0)
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
