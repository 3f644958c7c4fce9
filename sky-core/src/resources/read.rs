//! Reading the `resources:` section of task YAML into a [`ResourceSet`], expanding `any_of`,
//! `ordered` and accelerator sets/lists as SkyPilot's `Resources.from_yaml_config` does.

use super::fields::{
    accelerator_args, autostop, cpus, disk_size, image_id, job_recovery, location_name, memory,
    ports,
};
use super::infra::{Infra, KUBERNETES};
use super::names::{LoadCtx, NameError, RegionOrZone, cloud_display};
use super::parse::fmt_num;
use super::{AcceleratorSpec, ResourceSet, Resources, Selection};
use crate::cloud::CloudId;
use crate::yaml::access::{
    Entry, boolean, entries, int_in, invalid, number, opt_name, opt_string, scalar_text, seq,
    string, type_error,
};
use crate::yaml::error::{FieldPath, TaskError, TaskErrorKind};
use crate::yaml::node::{Node, Value};

/// SkyPilot's `MIN_PRIORITY` / `MAX_PRIORITY`.
const PRIORITY_RANGE: (i128, i128) = (-1000, 1000);

/// The fields of one resources mapping (an `any_of`/`ordered` entry has the same fields
/// except `any_of` and `ordered`).
pub(crate) const RESOURCE_FIELDS: [&str; 24] = [
    "infra",
    "cloud",
    "region",
    "zone",
    "instance_type",
    "cpus",
    "memory",
    "accelerators",
    "accelerator_args",
    "use_spot",
    "job_recovery",
    "spot_recovery",
    "disk_size",
    "disk_tier",
    "network_tier",
    "ports",
    "labels",
    "image_id",
    "autostop",
    "priority",
    "max_hourly_cost",
    "local_disk",
    "any_of",
    "ordered",
];

fn name_error(e: NameError, node: &Node, path: &FieldPath) -> TaskError {
    TaskError::at(e.kind, path, node).with_suggestion(e.suggestion)
}

fn conflict(message: impl Into<String>, node: &Node, path: &FieldPath) -> TaskError {
    TaskError::at(
        TaskErrorKind::Conflict {
            message: message.into(),
        },
        path,
        node,
    )
}

/// How the accelerators of one resources mapping were written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AccShape {
    /// `V100:4` or `{V100: 4}`.
    Single,
    /// `{A100: 1, L4: 1}`: unordered alternatives.
    Set,
    /// `[A100:1, L4:1]`: ordered alternatives.
    List,
}

/// Reads `resources:` into alternatives.
pub(crate) fn resource_set_from_node(
    ctx: &LoadCtx<'_>,
    node: &Node,
    path: &FieldPath,
) -> Result<ResourceSet, TaskError> {
    let fields = entries(
        node,
        path,
        Some(&RESOURCE_FIELDS),
        "a mapping of resource fields",
    )?;
    let mut any_of = None;
    let mut ordered = None;
    let mut outer: Vec<Entry<'_>> = Vec::new();
    for f in fields {
        match f.key.as_str() {
            "any_of" => any_of = Some(f),
            "ordered" => ordered = Some(f),
            _ => outer.push(f),
        }
    }
    if let (Some(_), Some(o)) = (&any_of, &ordered) {
        return Err(conflict(
            "cannot specify both `any_of` and `ordered` in resources",
            o.key_node,
            &o.path,
        ));
    }
    if let Some(acc) = outer.iter().find(|f| f.key == "accelerators") {
        let (specs, shape) = accelerators(ctx, acc)?;
        if ordered.is_some() && specs.len() > 1 {
            return Err(conflict(
                "cannot specify multiple `accelerators` with `ordered` in resources; put one \
                 accelerator in each `ordered` entry instead",
                acc.value,
                &acc.path,
            ));
        }
        if any_of.is_some() && shape == AccShape::List {
            return Err(conflict(
                "cannot specify a list of `accelerators` with `any_of` in resources; use a \
                 set such as `{A100: 1, L4: 1}` or put one accelerator in each entry",
                acc.value,
                &acc.path,
            ));
        }
    }
    let (selection, alternatives) = match (any_of, ordered) {
        (Some(list), None) => (Selection::AnyOf, expand_entries(ctx, &outer, &list)?),
        (None, Some(list)) => (Selection::Ordered, expand_entries(ctx, &outer, &list)?),
        _ => {
            let (alts, shape) = expand(ctx, &outer)?;
            let selection = if shape == AccShape::List {
                Selection::Ordered
            } else {
                Selection::AnyOf
            };
            (selection, alts)
        }
    };
    let alternatives = if selection == Selection::AnyOf {
        dedup(alternatives)
    } else {
        alternatives
    };
    check_same_job_recovery(&alternatives, node, path)?;
    Ok(ResourceSet {
        selection,
        alternatives,
    })
}

fn dedup(alts: Vec<Resources>) -> Vec<Resources> {
    let mut out: Vec<Resources> = Vec::with_capacity(alts.len());
    for a in alts {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn check_same_job_recovery(
    alts: &[Resources],
    node: &Node,
    path: &FieldPath,
) -> Result<(), TaskError> {
    let Some(first) = alts.first() else {
        return Ok(());
    };
    if alts.iter().any(|a| a.job_recovery != first.job_recovery) {
        return Err(conflict(
            "`job_recovery` must be the same for every alternative of a task's resources",
            node,
            &path.key("job_recovery"),
        ));
    }
    Ok(())
}

/// Expands each `any_of`/`ordered` entry over the outer fields (outer fields are defaults;
/// labels are merged).
fn expand_entries(
    ctx: &LoadCtx<'_>,
    outer: &[Entry<'_>],
    list: &Entry<'_>,
) -> Result<Vec<Resources>, TaskError> {
    let items = seq(list.value, &list.path, "a list of resource mappings")?;
    if items.is_empty() {
        return Err(invalid(
            format!("`{}` must list at least one alternative", list.key),
            list.value,
            &list.path,
        ));
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = list.path.index(i);
        if !matches!(item.value, Value::Map(_) | Value::Null) {
            return Err(type_error("a mapping of resource fields", item, &ipath));
        }
        let inner = entries(item, &ipath, Some(&RESOURCE_FIELDS), "a mapping")?;
        if let Some(nested) = inner
            .iter()
            .find(|f| f.key == "any_of" || f.key == "ordered")
        {
            return Err(conflict(
                format!("`{}` cannot be nested inside `{}`", nested.key, list.key),
                nested.key_node,
                &nested.path,
            ));
        }
        // SkyPilot's schema for one entry allows one accelerator: a string or a one-key
        // mapping, not a list or a set.
        if let Some(acc) = inner.iter().find(|f| f.key == "accelerators") {
            let many = match &acc.value.value {
                Value::Seq(_) => Some("a list"),
                Value::Map(m) if m.len() > 1 => Some("a set of several"),
                _ => None,
            };
            if let Some(shape) = many {
                return Err(conflict(
                    format!(
                        "an `{}` entry names one accelerator, not {shape}; give each \
                         accelerator its own entry",
                        list.key
                    ),
                    acc.value,
                    &acc.path,
                ));
            }
        }
        let mut merged: Vec<Entry<'_>> = outer
            .iter()
            .filter(|o| o.key == "labels" || !inner.iter().any(|f| f.key == o.key))
            .cloned()
            .collect();
        merged.extend(inner);
        out.extend(expand(ctx, &merged)?.0);
    }
    Ok(out)
}

/// One resources mapping (no `any_of`/`ordered`) → one alternative per accelerator.
fn expand(
    ctx: &LoadCtx<'_>,
    fields: &[Entry<'_>],
) -> Result<(Vec<Resources>, AccShape), TaskError> {
    let base = single(ctx, fields)?;
    let Some(acc) = fields.iter().find(|f| f.key == "accelerators") else {
        return Ok((vec![base], AccShape::Single));
    };
    let (specs, shape) = accelerators(ctx, acc)?;
    if specs.is_empty() {
        return Ok((vec![base], AccShape::Single));
    }
    let alts = specs
        .into_iter()
        .map(|spec| {
            let mut r = base.clone();
            r.accelerators = Some(spec);
            r
        })
        .collect();
    Ok((alts, shape))
}

/// Parses an `accelerators` value: a string, a `{name: count}` mapping (several keys = a
/// set), or a list (ordered). Names are canonicalised against the catalogs when the loader
/// has them.
fn accelerators(
    ctx: &LoadCtx<'_>,
    f: &Entry<'_>,
) -> Result<(Vec<AcceleratorSpec>, AccShape), TaskError> {
    let one = |text: &str, node: &Node, path: &FieldPath| -> Result<AcceleratorSpec, TaskError> {
        let spec: AcceleratorSpec = text
            .parse()
            .map_err(|e: crate::resources::ParseValueError| invalid(e.message, node, path))?;
        match spec {
            AcceleratorSpec::Name { name, count } => {
                let name = ctx.canonical_accelerator(&name);
                Ok(AcceleratorSpec::Name { name, count })
            }
            other => Ok(other),
        }
    };
    match &f.value.value {
        Value::Null => Ok((Vec::new(), AccShape::Single)),
        Value::Str(s) => Ok((vec![one(s, f.value, &f.path)?], AccShape::Single)),
        Value::Map(_) => {
            let items = entries(f.value, &f.path, None, "a mapping")?;
            if items.is_empty() {
                return Err(invalid("the accelerator set is empty", f.value, &f.path));
            }
            let mut specs = Vec::with_capacity(items.len());
            for e in &items {
                let text = match &e.value.value {
                    Value::Null => e.key.clone(),
                    Value::Int(_) | Value::Float(_) => {
                        format!("{}:{}", e.key, fmt_num(number(e.value, &e.path)?))
                    }
                    _ => {
                        return Err(type_error(
                            "an accelerator count (a number) or null",
                            e.value,
                            &e.path,
                        ));
                    }
                };
                let spec = one(&text, e.key_node, &e.path)?;
                if !specs.contains(&spec) {
                    specs.push(spec);
                }
            }
            let shape = if specs.len() > 1 {
                AccShape::Set
            } else {
                AccShape::Single
            };
            Ok((specs, shape))
        }
        Value::Seq(items) => {
            if items.is_empty() {
                return Err(invalid("the accelerator list is empty", f.value, &f.path));
            }
            let mut specs = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let ipath = f.path.index(i);
                let text = string(item, &ipath)?;
                specs.push(one(&text, item, &ipath)?);
            }
            Ok((specs, AccShape::List))
        }
        _ => Err(type_error(
            "an accelerator string, a {name: count} mapping, or a list",
            f.value,
            &f.path,
        )),
    }
}

/// One alternative from its fields (accelerators, `any_of` and `ordered` are handled by the
/// callers).
fn single(ctx: &LoadCtx<'_>, fields: &[Entry<'_>]) -> Result<Resources, TaskError> {
    let mut r = Resources::default();
    let mut infra_field: Option<&Entry<'_>> = None;
    let mut placement: Vec<&Entry<'_>> = Vec::new();
    let mut recovery_field: Option<&Entry<'_>> = None;
    for f in fields {
        let (v, p) = (f.value, &f.path);
        if matches!(f.key.as_str(), "cloud" | "region" | "zone") && !matches!(v.value, Value::Null)
        {
            placement.push(f);
        }
        match f.key.as_str() {
            "cloud" => {
                if let Some(name) = opt_string(v, p)? {
                    r.cloud = Some(ctx.resolve_cloud(&name).map_err(|e| name_error(e, v, p))?);
                }
            }
            "region" => r.region = location_name(v, p)?,
            "zone" => r.zone = location_name(v, p)?,
            "infra" => {
                if let Some(s) = opt_string(v, p)? {
                    let i: Infra = s
                        .parse()
                        .map_err(|e: crate::resources::ParseValueError| invalid(e.message, v, p))?;
                    r.cloud = match i.cloud {
                        Some(CloudId::Other(name)) => {
                            Some(ctx.resolve_cloud(&name).map_err(|e| name_error(e, v, p))?)
                        }
                        other => other,
                    };
                    r.region = i.region;
                    r.zone = i.zone;
                    infra_field = Some(f);
                }
            }
            "instance_type" => r.instance_type = opt_name(v, p)?,
            "cpus" => r.cpus = cpus(v, p)?,
            "memory" => r.memory = memory(v, p)?,
            "accelerator_args" => r.accelerator_args = accelerator_args(v, p)?,
            "use_spot" => {
                r.use_spot = match v.value {
                    Value::Null => None,
                    _ => Some(boolean(v, p)?),
                }
            }
            "job_recovery" | "spot_recovery" => {
                if let Some(prev) = recovery_field {
                    return Err(conflict(
                        format!(
                            "cannot specify both `{}` and `{}` (`spot_recovery` is the old \
                             name of `job_recovery`)",
                            prev.key, f.key
                        ),
                        f.key_node,
                        p,
                    ));
                }
                recovery_field = Some(f);
                r.job_recovery = job_recovery(v, p)?;
            }
            "disk_size" => r.disk_size_gb = disk_size(v, p)?,
            "disk_tier" => {
                r.disk_tier = match opt_string(v, p)? {
                    Some(s) => {
                        Some(s.parse().map_err(|e: crate::resources::ParseValueError| {
                            invalid(e.message, v, p)
                        })?)
                    }
                    None => None,
                }
            }
            "network_tier" => {
                r.network_tier = match opt_string(v, p)? {
                    Some(s) => {
                        Some(s.parse().map_err(|e: crate::resources::ParseValueError| {
                            invalid(e.message, v, p)
                        })?)
                    }
                    None => None,
                }
            }
            "ports" => r.ports = ports(v, p)?,
            "labels" => {
                for e in entries(v, p, None, "a mapping of label names to values")? {
                    r.labels
                        .insert(e.key.clone(), scalar_text(e.value, &e.path)?);
                }
            }
            "image_id" => r.image_id = image_id(v, p)?,
            "autostop" => r.autostop = autostop(v, p)?,
            "priority" => {
                r.priority = match v.value {
                    Value::Null => None,
                    _ => Some(int_in(v, p, PRIORITY_RANGE.0, PRIORITY_RANGE.1)? as i64),
                }
            }
            "max_hourly_cost" => {
                r.max_hourly_cost = match v.value {
                    Value::Null => None,
                    _ => {
                        let c = number(v, p)?;
                        if c <= 0.0 {
                            return Err(invalid("must be a positive number of USD", v, p));
                        }
                        Some(c)
                    }
                }
            }
            "local_disk" => r.local_disk = opt_name(v, p)?,
            _ => {}
        }
    }
    if infra_field.is_some()
        && let Some(other) = placement.first()
    {
        return Err(conflict(
            format!(
                "cannot specify both `infra` and `{}`; put the location in `infra` alone, \
                 e.g. `infra: aws/us-east-1`",
                other.key
            ),
            other.key_node,
            &other.path,
        ));
    }
    if r.cloud == Some(CloudId::Other(KUBERNETES.into()))
        && let Some(z) = placement.iter().find(|f| f.key == "zone")
    {
        return Err(invalid(
            "Kubernetes has no zones; name the context as the region",
            z.value,
            &z.path,
        ));
    }
    let kubernetes = r.cloud == Some(CloudId::Other(KUBERNETES.into()));
    for f in placement.iter().filter(|f| f.key != "cloud") {
        let value = if f.key == "region" {
            &r.region
        } else {
            &r.zone
        };
        if let Some(name) = value
            && !kubernetes
            && (name.contains('/') || name == "*")
        {
            return Err(invalid(
                format!(
                    "invalid {} `{name}`: it cannot contain `/` or be `*`",
                    f.key
                ),
                f.value,
                &f.path,
            ));
        }
    }
    let zone_node = placement
        .iter()
        .find(|f| f.key == "zone")
        .copied()
        .or(infra_field);
    if r.cloud == Some(CloudId::Azure)
        && r.zone.is_some()
        && let Some(z) = zone_node
    {
        return Err(TaskError::at(
            TaskErrorKind::ZonesUnsupported {
                cloud: cloud_display(&CloudId::Azure),
            },
            &z.path,
            z.value,
        ));
    }
    if let Err((which, e)) =
        ctx.check_region_zone(r.cloud.as_ref(), r.region.as_deref(), r.zone.as_deref())
    {
        let key = match which {
            RegionOrZone::Region => "region",
            RegionOrZone::Zone => "zone",
        };
        let at = placement
            .iter()
            .find(|f| f.key == key)
            .copied()
            .or(infra_field);
        if let Some(at) = at {
            return Err(name_error(e, at.value, &at.path));
        }
    }
    Ok(r)
}
