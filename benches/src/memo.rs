//! A memoizing catalog wrapper, to measure the optimizer's own work apart from the catalog
//! queries (which the real benchmarks include).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sky_core::CloudId;
use sky_core::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Catalogs, Feasibility,
    Offering, OfferingRef, Region,
};
use sky_core::resources::Resources;

/// Answers repeated [`Catalog::offerings`] queries from memory (a clone of the first answer).
#[derive(Debug)]
pub struct Memo {
    inner: Arc<dyn Catalog>,
    answers: Mutex<BTreeMap<String, Arc<Feasibility>>>,
}

impl Memo {
    /// Wraps every catalog of `catalogs`.
    pub fn all(catalogs: &Catalogs) -> Catalogs {
        let mut out = Catalogs::new();
        for c in catalogs.iter() {
            out.insert(Arc::new(Memo {
                inner: c.clone(),
                answers: Mutex::new(BTreeMap::new()),
            }));
        }
        out
    }
}

impl Memo {
    fn answer(&self, req: &Resources) -> Arc<Feasibility> {
        let key = format!("{req:?}");
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers
            .entry(key)
            .or_insert_with(|| Arc::new(self.inner.offerings(req)))
            .clone()
    }
}

impl Catalog for Memo {
    fn cloud(&self) -> CloudId {
        self.inner.cloud()
    }

    fn offerings(&self, req: &Resources) -> Feasibility {
        (*self.answer(req)).clone()
    }

    fn visit_offerings(
        &self,
        req: &Resources,
        visit: &mut dyn FnMut(OfferingRef<'_>),
    ) -> Feasibility {
        let answer = self.answer(req);
        for o in &answer.offerings {
            visit(o.as_view());
        }
        Feasibility {
            offerings: Vec::new(),
            suggestions: answer.suggestions.clone(),
            hint: answer.hint.clone(),
        }
    }

    fn optimize_by_zone(&self) -> bool {
        self.inner.optimize_by_zone()
    }

    fn zones_for(&self, offering: &Offering) -> Vec<String> {
        self.inner.zones_for(offering)
    }

    fn regions(&self) -> Vec<Region> {
        self.inner.regions()
    }

    fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        self.inner.validate_region_zone(region, zone)
    }

    fn hourly_cost(
        &self,
        instance_type: &str,
        accelerator: Option<&Accelerator>,
        spot: bool,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Option<f64> {
        self.inner
            .hourly_cost(instance_type, accelerator, spot, region, zone)
    }

    fn accelerators(&self, filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        self.inner.accelerators(filter)
    }

    fn accelerator_names(&self) -> Vec<String> {
        self.inner.accelerator_names()
    }

    fn egress_cost(&self, gb: f64) -> f64 {
        self.inner.egress_cost(gb)
    }
}
