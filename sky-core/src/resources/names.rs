//! Name checks against what the loader knows: clouds (always), and accelerators, regions and
//! zones against the enabled catalogs (when the loader has them, or through
//! [`crate::task::Task::validate`]).

use crate::catalog::{CatalogError, Catalogs};
use crate::cloud::CloudId;
use crate::yaml::access::near;
use crate::yaml::error::TaskErrorKind;

/// The name used in messages: `AWS`, `GCP`, `Azure`, else the cloud's id.
pub(crate) fn cloud_display(c: &CloudId) -> String {
    match c {
        CloudId::Aws => "AWS".into(),
        CloudId::Gcp => "GCP".into(),
        CloudId::Azure => "Azure".into(),
        other => other.as_str().to_owned(),
    }
}

/// A name check failure: what is wrong and a near name.
pub(crate) struct NameError {
    pub(crate) kind: TaskErrorKind,
    pub(crate) suggestion: Option<String>,
}

/// Which field a region/zone failure is about.
pub(crate) enum RegionOrZone {
    Region,
    Zone,
}

/// What the loader checks names against.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadCtx<'a> {
    pub(crate) catalogs: Option<&'a Catalogs>,
    /// Clouds outside [`CloudId::KNOWN`] that may be named (registered catalogs, or
    /// [`crate::task::TaskLoader::with_cloud`]).
    pub(crate) extra_clouds: Vec<CloudId>,
}

impl LoadCtx<'_> {
    fn catalogs(&self) -> Option<&Catalogs> {
        self.catalogs.filter(|c| !c.is_empty())
    }

    fn allowed_clouds(&self) -> Vec<CloudId> {
        let mut v: Vec<CloudId> = CloudId::KNOWN.to_vec();
        for c in self
            .extra_clouds
            .iter()
            .cloned()
            .chain(self.catalogs.map(Catalogs::clouds).unwrap_or_default())
        {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v
    }

    /// Resolves a cloud name as written in YAML.
    pub(crate) fn resolve_cloud(&self, raw: &str) -> Result<CloudId, NameError> {
        let lower = raw.trim().to_ascii_lowercase();
        let lower = if lower == "k8s" {
            "kubernetes".to_owned()
        } else {
            lower
        };
        let allowed = self.allowed_clouds();
        if let Some(c) = allowed.iter().find(|c| c.as_str() == lower) {
            return Ok(c.clone());
        }
        // A SkyPilot cloud sky has no backend for is a valid name, as in SkyPilot: its
        // alternatives load, and the optimizer excludes them with that reason.
        if CloudId::SKYPILOT_ONLY.contains(&lower.as_str()) {
            return Ok(CloudId::Other(lower));
        }
        let names: Vec<&str> = allowed
            .iter()
            .map(CloudId::as_str)
            .chain(CloudId::SKYPILOT_ONLY)
            .collect();
        Err(NameError {
            kind: TaskErrorKind::UnknownCloud {
                name: raw.to_owned(),
            },
            suggestion: near(raw, names),
        })
    }

    /// The catalog spelling of an accelerator name (`v100` → `V100`).
    ///
    /// A name no catalog at hand offers is kept as written: as in SkyPilot, such an
    /// alternative is not a load error but an infeasible candidate, which the optimizer
    /// excludes with its reason (see [`crate::task::Task::notes`] for the warning).
    pub(crate) fn canonical_accelerator(&self, name: &str) -> String {
        self.catalogs()
            .and_then(|catalogs| {
                catalogs
                    .iter()
                    .flat_map(|c| c.accelerator_names())
                    .find(|n| n.eq_ignore_ascii_case(name))
            })
            .unwrap_or_else(|| name.to_owned())
    }

    /// Why no catalog at hand offers accelerator `name`, with a near name; `None` when one
    /// does (or there are no catalogs to ask).
    pub(crate) fn unknown_accelerator(&self, name: &str) -> Option<NameError> {
        let catalogs = self.catalogs()?;
        let mut names: Vec<String> = catalogs
            .iter()
            .flat_map(|c| c.accelerator_names())
            .collect();
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return None;
        }
        names.sort();
        names.dedup();
        Some(NameError {
            kind: TaskErrorKind::UnknownAccelerator {
                name: name.to_owned(),
            },
            suggestion: near(name, names.iter().map(String::as_str)),
        })
    }

    /// Checks a region and zone against the catalogs: the cloud's when it is set, else any
    /// enabled cloud's.
    pub(crate) fn check_region_zone(
        &self,
        cloud: Option<&CloudId>,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), (RegionOrZone, NameError)> {
        if region.is_none() && zone.is_none() {
            return Ok(());
        }
        let Some(catalogs) = self.catalogs() else {
            return Ok(());
        };
        if let Some(cloud) = cloud {
            let Some(catalog) = catalogs.get(cloud) else {
                return Ok(());
            };
            return catalog
                .validate_region_zone(region, zone)
                .map_err(|e| catalog_error(cloud, region, zone, e));
        }
        let all: Vec<_> = catalogs.iter().flat_map(|c| c.regions()).collect();
        let mut scope: Vec<_> = all.iter().collect();
        if let Some(r) = region {
            scope.retain(|x| x.name == r);
            if scope.is_empty() {
                return Err((
                    RegionOrZone::Region,
                    NameError {
                        kind: TaskErrorKind::UnknownRegion {
                            cloud: None,
                            region: r.to_owned(),
                        },
                        suggestion: near(r, all.iter().map(|x| x.name.as_str())),
                    },
                ));
            }
        }
        if let Some(z) = zone
            && !scope.iter().any(|x| x.zones.iter().any(|y| y == z))
        {
            return Err((
                RegionOrZone::Zone,
                NameError {
                    kind: TaskErrorKind::UnknownZone {
                        cloud: None,
                        zone: z.to_owned(),
                    },
                    suggestion: near(
                        z,
                        scope
                            .iter()
                            .flat_map(|x| x.zones.iter().map(String::as_str)),
                    ),
                },
            ));
        }
        Ok(())
    }
}

fn catalog_error(
    cloud: &CloudId,
    region: Option<&str>,
    zone: Option<&str>,
    e: CatalogError,
) -> (RegionOrZone, NameError) {
    let shown = Some(cloud_display(cloud));
    match e {
        CatalogError::UnknownRegion { suggestion, .. } => (
            RegionOrZone::Region,
            NameError {
                kind: TaskErrorKind::UnknownRegion {
                    cloud: shown,
                    region: region.unwrap_or_default().to_owned(),
                },
                suggestion,
            },
        ),
        CatalogError::UnknownZone { suggestion, .. } => (
            RegionOrZone::Zone,
            NameError {
                kind: TaskErrorKind::UnknownZone {
                    cloud: shown,
                    zone: zone.unwrap_or_default().to_owned(),
                },
                suggestion,
            },
        ),
        CatalogError::ZonesUnsupported { .. } => (
            RegionOrZone::Zone,
            NameError {
                kind: TaskErrorKind::ZonesUnsupported {
                    cloud: cloud_display(cloud),
                },
                suggestion: None,
            },
        ),
        other => (
            if region.is_some() {
                RegionOrZone::Region
            } else {
                RegionOrZone::Zone
            },
            NameError {
                kind: TaskErrorKind::InvalidValue {
                    message: other.to_string(),
                },
                suggestion: None,
            },
        ),
    }
}
