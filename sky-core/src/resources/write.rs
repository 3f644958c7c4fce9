//! Writing a [`ResourceSet`] as the normalised `resources:` mapping.

use super::parse::normalize_ports;
use super::{AcceleratorSpec, Autostop, ImageId, JobRecovery, ResourceSet, Resources, Selection};
use crate::yaml::emit::Out;

fn accelerator_out(spec: &AcceleratorSpec) -> Out {
    Out::Str(spec.to_string())
}

/// The fields of one alternative, in SkyPilot's order; `acc` replaces the accelerators.
fn resources_fields(r: &Resources, acc: Option<Out>) -> Vec<(String, Out)> {
    let mut m: Vec<(String, Out)> = Vec::new();
    let mut put = |k: &str, v: Out| m.push((k.to_owned(), v));
    if r.cloud.is_some() || r.region.is_some() || r.zone.is_some() {
        put("infra", Out::Str(r.infra().to_string()));
    }
    if let Some(t) = &r.instance_type {
        put("instance_type", Out::str(t));
    }
    if let Some(c) = &r.cpus {
        put("cpus", Out::Str(c.to_string()));
    }
    if let Some(mem) = &r.memory {
        put("memory", Out::Str(mem.to_string()));
    }
    if let Some(a) = acc.or_else(|| r.accelerators.as_ref().map(accelerator_out)) {
        put("accelerators", a);
    }
    if let Some(args) = &r.accelerator_args {
        put(
            "accelerator_args",
            Out::Map(
                args.iter()
                    .map(|(k, v)| (k.clone(), Out::from(v)))
                    .collect(),
            ),
        );
    }
    if let Some(s) = r.use_spot {
        put("use_spot", Out::Bool(s));
    }
    if let Some(jr) = &r.job_recovery {
        put("job_recovery", job_recovery_out(jr));
    }
    if let Some(d) = r.disk_size_gb {
        put("disk_size", Out::UInt(d));
    }
    if let Some(t) = r.disk_tier {
        put("disk_tier", Out::str(t.as_str()));
    }
    if let Some(t) = r.network_tier {
        put("network_tier", Out::str(t.as_str()));
    }
    if !r.ports.is_empty() {
        put(
            "ports",
            Out::Seq(
                normalize_ports(r.ports.clone())
                    .iter()
                    .map(|p| {
                        if p.start == p.end {
                            Out::Int(i64::from(p.start))
                        } else {
                            Out::Str(p.to_string())
                        }
                    })
                    .collect(),
            ),
        );
    }
    if !r.labels.is_empty() {
        put(
            "labels",
            Out::Map(
                r.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Out::str(v)))
                    .collect(),
            ),
        );
    }
    if let Some(img) = &r.image_id {
        put(
            "image_id",
            match img {
                ImageId::Any(s) => Out::str(s),
                ImageId::PerRegion(m) => {
                    Out::Map(m.iter().map(|(k, v)| (k.clone(), Out::str(v))).collect())
                }
            },
        );
    }
    if let Some(a) = &r.autostop {
        put("autostop", autostop_out(a));
    }
    if let Some(p) = r.priority {
        put("priority", Out::Int(p));
    }
    if let Some(c) = r.max_hourly_cost {
        put("max_hourly_cost", Out::Float(c));
    }
    if let Some(d) = &r.local_disk {
        put("local_disk", Out::str(d));
    }
    m
}

fn job_recovery_out(jr: &JobRecovery) -> Out {
    // Only a bare strategy is written as a scalar; a missing strategy stays missing (the
    // managed-job default applies), which is not `none` (recovery off).
    let strategy = jr.strategy.as_ref().map(|s| {
        if s == "NONE" {
            "none".to_owned()
        } else {
            s.clone()
        }
    });
    let bare = jr.max_restarts_on_errors == 0
        && jr.recover_on_exit_codes.is_empty()
        && jr.extra.is_empty();
    if let (Some(s), true) = (&strategy, bare) {
        return Out::Str(s.clone());
    }
    let mut m = Vec::new();
    if let Some(s) = strategy {
        m.push(("strategy".to_owned(), Out::Str(s)));
    }
    if jr.max_restarts_on_errors > 0 {
        m.push((
            "max_restarts_on_errors".into(),
            Out::UInt(u64::from(jr.max_restarts_on_errors)),
        ));
    }
    if !jr.recover_on_exit_codes.is_empty() {
        m.push((
            "recover_on_exit_codes".into(),
            Out::Seq(
                jr.recover_on_exit_codes
                    .iter()
                    .map(|c| Out::Int(i64::from(*c)))
                    .collect(),
            ),
        ));
    }
    for (k, v) in &jr.extra {
        m.push((k.clone(), Out::from(v)));
    }
    Out::Map(m)
}

fn autostop_out(a: &Autostop) -> Out {
    if !a.enabled {
        return Out::Bool(false);
    }
    if !a.down && a.wait_for.is_none() && a.hook.is_none() && a.hook_timeout.is_none() {
        return Out::UInt(u64::from(a.idle_minutes));
    }
    let mut m = vec![(
        "idle_minutes".to_owned(),
        Out::UInt(u64::from(a.idle_minutes)),
    )];
    if a.down {
        m.push(("down".into(), Out::Bool(true)));
    }
    if let Some(w) = &a.wait_for {
        m.push(("wait_for".into(), Out::str(w)));
    }
    if let Some(h) = &a.hook {
        m.push(("hook".into(), Out::str(h)));
    }
    if let Some(t) = a.hook_timeout {
        m.push(("hook_timeout".into(), Out::UInt(u64::from(t))));
    }
    Out::Map(m)
}

/// The alternatives as one mapping with an accelerator set (`{A: 1, B: 2}`) or list, when
/// they differ only in their accelerators.
fn compressed(set: &ResourceSet) -> Option<Out> {
    let alts = &set.alternatives;
    if alts.len() < 2 || alts.iter().any(|a| a.accelerators.is_none()) {
        return None;
    }
    let strip = |r: &Resources| Resources {
        accelerators: None,
        ..r.clone()
    };
    let base = strip(&alts[0]);
    if alts.iter().any(|a| strip(a) != base) {
        return None;
    }
    let specs: Vec<&AcceleratorSpec> = alts
        .iter()
        .filter_map(|a| a.accelerators.as_ref())
        .collect();
    let acc = match set.selection {
        Selection::Ordered => Out::Seq(specs.iter().map(|s| accelerator_out(s)).collect()),
        Selection::AnyOf => {
            let keys: Vec<String> = specs.iter().map(|s| s.name_part()).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != keys.len() {
                return None;
            }
            Out::Map(
                keys.into_iter()
                    .zip(specs.iter().map(|s| Out::num(s.count())))
                    .collect(),
            )
        }
    };
    Some(Out::Map(resources_fields(&base, Some(acc))))
}

/// Writes `resources:`; `None` when the set is the default (one empty alternative).
pub(crate) fn resource_set_out(set: &ResourceSet) -> Option<Out> {
    if set == &ResourceSet::default() || set.alternatives.is_empty() {
        return None;
    }
    if set.alternatives.len() == 1 && set.selection == Selection::AnyOf {
        return Some(Out::Map(resources_fields(&set.alternatives[0], None)));
    }
    if let Some(out) = compressed(set) {
        return Some(out);
    }
    let key = match set.selection {
        Selection::AnyOf => "any_of",
        Selection::Ordered => "ordered",
    };
    // Fields equal in every alternative are written once, outside the list, where they are
    // defaults for every entry (labels too: outer labels merge into each entry's).
    let alts: Vec<Vec<(String, Out)>> = set
        .alternatives
        .iter()
        .map(|r| resources_fields(r, None))
        .collect();
    let common: Vec<(String, Out)> = alts[0]
        .iter()
        .filter(|field| alts.iter().all(|a| a.contains(field)))
        .cloned()
        .collect();
    let mut outer = common.clone();
    outer.push((
        key.to_owned(),
        Out::Seq(
            alts.into_iter()
                .map(|a| Out::Map(a.into_iter().filter(|f| !common.contains(f)).collect()))
                .collect(),
        ),
    ));
    Some(Out::Map(outer))
}
