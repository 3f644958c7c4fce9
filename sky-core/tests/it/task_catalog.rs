//! Catalog-aware validation of task YAML, against a tiny in-test `Catalog`.

use std::sync::Arc;

use sky_core::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Catalogs, Feasibility,
    Offering, Region,
};
use sky_core::resources::{AcceleratorSpec, Resources};
use sky_core::suggest;
use sky_core::task::{Task, TaskErrorKind, TaskLoader, TaskNoteKind};
use sky_core::{CloudId, Dag};

/// Just enough of a catalog: regions with zones and accelerator names.
#[derive(Debug)]
struct TinyCatalog {
    cloud: CloudId,
    regions: Vec<Region>,
    accelerators: Vec<String>,
}

impl Catalog for TinyCatalog {
    fn cloud(&self) -> CloudId {
        self.cloud.clone()
    }
    fn offerings(&self, _req: &Resources) -> Feasibility {
        Feasibility::default()
    }
    fn optimize_by_zone(&self) -> bool {
        false
    }
    fn zones_for(&self, _offering: &Offering) -> Vec<String> {
        Vec::new()
    }
    fn regions(&self) -> Vec<Region> {
        self.regions.clone()
    }
    fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        let cloud = self.cloud.to_string();
        if zone.is_some() && self.regions.iter().all(|r| r.zones.is_empty()) {
            return Err(CatalogError::ZonesUnsupported { cloud });
        }
        let regions: Vec<&Region> = match region {
            Some(r) => {
                let found: Vec<&Region> = self.regions.iter().filter(|x| x.name == r).collect();
                if found.is_empty() {
                    return Err(CatalogError::UnknownRegion {
                        cloud,
                        region: r.into(),
                        suggestion: suggest::did_you_mean(
                            r,
                            self.regions.iter().map(|x| x.name.as_str()),
                        ),
                    });
                }
                found
            }
            None => self.regions.iter().collect(),
        };
        if let Some(z) = zone
            && !regions.iter().any(|r| r.zones.iter().any(|y| y == z))
        {
            return Err(CatalogError::UnknownZone {
                cloud,
                zone: z.into(),
                suggestion: suggest::did_you_mean(
                    z,
                    regions
                        .iter()
                        .flat_map(|r| r.zones.iter().map(String::as_str)),
                ),
            });
        }
        Ok(())
    }
    fn hourly_cost(
        &self,
        _instance_type: &str,
        _accelerator: Option<&Accelerator>,
        _spot: bool,
        _region: Option<&str>,
        _zone: Option<&str>,
    ) -> Option<f64> {
        None
    }
    fn accelerators(&self, _filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        Vec::new()
    }
    fn accelerator_names(&self) -> Vec<String> {
        self.accelerators.clone()
    }
    fn egress_cost(&self, _gb: f64) -> f64 {
        0.0
    }
}

fn region(name: &str, zones: &[&str]) -> Region {
    Region {
        name: name.into(),
        zones: zones.iter().map(|z| (*z).to_string()).collect(),
    }
}

fn catalogs() -> Catalogs {
    Catalogs::new()
        .with(Arc::new(TinyCatalog {
            cloud: CloudId::Gcp,
            regions: vec![
                region("us-central1", &["us-central1-a", "us-central1-b"]),
                region("europe-west4", &["europe-west4-a"]),
            ],
            accelerators: vec!["A100".into(), "V100".into(), "tpu-v3-8".into(), "L4".into()],
        }))
        .with(Arc::new(TinyCatalog {
            cloud: CloudId::Azure,
            regions: vec![region("eastus", &[]), region("westeurope", &[])],
            accelerators: vec!["A100-80GB".into(), "V100".into()],
        }))
        .with(Arc::new(TinyCatalog {
            cloud: CloudId::Other("mycloud".into()),
            regions: vec![region("home", &[])],
            accelerators: vec!["MyTPU".into()],
        }))
}

fn load(yaml: &str) -> Result<Task, sky_core::task::TaskError> {
    let c = catalogs();
    TaskLoader::new().with_catalogs(&c).load_str(yaml)
}

#[test]
fn accelerator_names_are_canonicalised() {
    let t = load("resources:\n  accelerators: {v100: 2, a100-80gb: 1}\n").unwrap();
    let names: Vec<String> = t
        .resources
        .alternatives
        .iter()
        .map(|r| r.accelerators.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(names, ["V100:2", "A100-80GB:1"]);
    let t = load("resources:\n  accelerators: [TPU-V3-8]\n").unwrap();
    assert_eq!(
        t.resources.alternatives[0].accelerators,
        Some(AcceleratorSpec::named("tpu-v3-8", 1.0))
    );
    // Memory forms are not names.
    assert!(load("resources:\n  accelerators: 80GB+\n").is_ok());
}

#[test]
fn unknown_accelerators_load_and_are_noted_with_a_suggestion() {
    // As in SkyPilot, an alternative no enabled catalog offers is an infeasible candidate,
    // not a load error: the task loads with the name as written, and a note says why the
    // optimizer will skip it.
    let c = catalogs();
    let t = load("name: x\nresources:\n  any_of:\n    - cpus: 4\n    - accelerators: V1OO:4\n")
        .unwrap();
    assert_eq!(
        t.resources.alternatives[1].accelerators,
        Some(AcceleratorSpec::named("V1OO", 4.0))
    );
    let notes = t.notes(&c);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = &notes[0];
    assert_eq!(n.kind, TaskNoteKind::Infeasible);
    assert_eq!(n.path, "resources.any_of[1].accelerators");
    assert_eq!(n.suggestion.as_deref(), Some("V100"));
    assert_eq!(
        n.to_string(),
        "resources.any_of[1].accelerators: no enabled catalog (azure, gcp, mycloud) offers \
         accelerator `V1OO`; the optimizer skips this alternative; did you mean `V100`?"
    );
    let t = load("resources:\n  accelerators: {A100: 1, H100: 8}\n").unwrap();
    assert_eq!(t.resources.alternatives.len(), 2);
    let t = load("resources:\n  accelerators: [L4, Q9000]\n").unwrap();
    let notes = t.notes(&c);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].path, "resources.ordered[1].accelerators");
    assert_eq!(notes[0].suggestion, None);
    // Known names make no note.
    assert!(
        load("resources:\n  accelerators: v100\n")
            .unwrap()
            .notes(&c)
            .is_empty()
    );
}

#[test]
fn regions_and_zones_are_checked_with_suggestions() {
    assert!(load("resources:\n  infra: gcp/us-central1/us-central1-b\n").is_ok());
    let e = load("resources:\n  infra: gcp/us-centrl1\n").unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::UnknownRegion { .. }));
    assert_eq!(e.path(), "resources.infra");
    assert_eq!(e.suggestion(), Some("us-central1"));
    assert_eq!(e.line(), Some(2));
    let e = load("resources:\n  cloud: gcp\n  region: us-central1\n  zone: us-central1-z\n")
        .unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::UnknownZone { .. }));
    assert_eq!(e.path(), "resources.zone");
    assert_eq!(e.line(), Some(4));
    assert_eq!(e.suggestion(), Some("us-central1-a"));
    // Without a cloud, any enabled cloud's regions count.
    assert!(load("resources:\n  region: westeurope\n").is_ok());
    let e = load("resources:\n  infra: '*/westeurop'\n").unwrap_err();
    assert_eq!(e.suggestion(), Some("westeurope"));
    let e = load("resources:\n  infra: '*/*/europe-west4-q'\n").unwrap_err();
    assert!(matches!(
        e.kind(),
        TaskErrorKind::UnknownZone { cloud: None, .. }
    ));
    // Clouds without a catalog are not checked.
    assert!(load("resources:\n  infra: aws/mars-1\n").is_ok());
}

#[test]
fn registered_clouds_may_be_named() {
    let t = load("resources:\n  cloud: mycloud\n  accelerators: mytpu\n").unwrap();
    let r = &t.resources.alternatives[0];
    assert_eq!(r.cloud, Some(CloudId::Other("mycloud".into())));
    assert_eq!(r.accelerators, Some(AcceleratorSpec::named("MyTPU", 1.0)));
    let e = load("resources:\n  cloud: mycloud2\n").unwrap_err();
    assert!(matches!(e.kind(), TaskErrorKind::UnknownCloud { .. }));
    assert_eq!(e.suggestion(), Some("mycloud"));
    // Without the catalogs the custom cloud is unknown.
    assert!(Task::from_yaml_str("resources:\n  cloud: mycloud\n").is_err());
}

#[test]
fn validate_checks_built_tasks() {
    let c = catalogs();
    let ok = Task::new().with_resources(
        Resources::new()
            .with_cloud(CloudId::Gcp)
            .with_region("us-central1")
            .with_accelerators("v100:1")
            .unwrap(),
    );
    ok.validate(&c).unwrap();
    let bad = Task::new().with_resources(sky_core::ResourceSet::any_of([
        Resources::new().with_accelerators("A100").unwrap(),
        Resources::new().with_accelerators("A1000").unwrap(),
    ]));
    // An unknown accelerator is valid (the optimizer skips that alternative); it is noted.
    bad.validate(&c).unwrap();
    let notes = bad.notes(&c);
    assert_eq!(notes[0].path, "resources.any_of[1].accelerators");
    assert_eq!(notes[0].suggestion.as_deref(), Some("A100"));
    let bad_zone = Task::new().with_resources(
        Resources::new()
            .with_cloud(CloudId::Azure)
            .with_region("eastus")
            .with_zone("1"),
    );
    let e = bad_zone.validate(&c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "resources.zone: Azure does not support zones"
    );
    let bad_region = Task::new().with_name("train").with_resources(
        Resources::new()
            .with_cloud(CloudId::Gcp)
            .with_region("us-centrall1"),
    );
    let e = Dag::single(bad_region).validate(&c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "task `train`: resources.region: GCP has no region `us-centrall1`; did you mean `us-central1`?"
    );
    // No catalogs: nothing to check against.
    bad.validate(&Catalogs::new()).unwrap();
}

#[test]
fn dag_loading_checks_every_task() {
    let c = catalogs();
    let e = TaskLoader::new()
        .with_catalogs(&c)
        .load_dag_str("name: a\n---\nname: b\nresources: {infra: gcp/us-centrl1}\n")
        .unwrap_err();
    assert_eq!(e.line(), Some(4));
    assert_eq!(e.suggestion(), Some("us-central1"));
    let dag = TaskLoader::new()
        .with_catalogs(&c)
        .load_dag_str("name: a\n---\nname: b\n---\nname: c\nresources: {accelerators: V10}\n")
        .unwrap();
    let notes = dag.notes(&c);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].task.as_deref(), Some("task `c`"));
    assert_eq!(notes[0].suggestion.as_deref(), Some("V100"));
}
