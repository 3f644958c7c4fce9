//! Name checks of a built [`Task`] (see [`Task::validate`]): each alternative's cloud,
//! accelerator, region and zone, through the loader's [`LoadCtx`].

use crate::catalog::Catalogs;
use crate::cloud::CloudId;
use crate::resources::names::{LoadCtx, NameError, RegionOrZone};
use crate::resources::{Resources, Selection};
use crate::yaml::error::{FieldPath, TaskError, TaskErrorKind};

use super::Task;

/// The path of alternative `i` of a task's resources, as the YAML would have it.
pub(crate) fn alternative_path(task: &Task, i: usize) -> FieldPath {
    let root = FieldPath::root().key("resources");
    let set = &task.resources;
    match (set.alternatives.len(), set.selection) {
        (1, Selection::AnyOf) => root,
        (_, Selection::AnyOf) => root.key("any_of").index(i),
        (_, Selection::Ordered) => root.key("ordered").index(i),
    }
}

fn named(path: &FieldPath, e: NameError) -> TaskError {
    TaskError::new(e.kind)
        .with_path(path)
        .with_suggestion(e.suggestion)
}

/// Checks one alternative's names (see [`Task::validate`]).
pub(crate) fn check_resources(
    ctx: &LoadCtx<'_>,
    r: &Resources,
    path: &FieldPath,
) -> Result<(), TaskError> {
    if let Some(CloudId::Other(name)) = &r.cloud {
        ctx.resolve_cloud(name)
            .map_err(|e| named(&path.key("cloud"), e))?;
    }
    if r.cloud == Some(CloudId::Azure) && r.zone.is_some() {
        return Err(TaskError::new(TaskErrorKind::ZonesUnsupported {
            cloud: "Azure".into(),
        })
        .with_path(&path.key("zone")));
    }
    ctx.check_region_zone(r.cloud.as_ref(), r.region.as_deref(), r.zone.as_deref())
        .map_err(|(which, e)| {
            let field = match which {
                RegionOrZone::Region => "region",
                RegionOrZone::Zone => "zone",
            };
            named(&path.key(field), e)
        })
}

/// [`Task::validate`].
pub(crate) fn validate_task(task: &Task, catalogs: &Catalogs) -> Result<(), TaskError> {
    let ctx = LoadCtx {
        catalogs: Some(catalogs),
        extra_clouds: Vec::new(),
    };
    for (i, r) in task.resources.alternatives.iter().enumerate() {
        check_resources(&ctx, r, &alternative_path(task, i))?;
    }
    Ok(())
}
