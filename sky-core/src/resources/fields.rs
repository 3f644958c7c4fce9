//! Parsers for the value of each `resources` field, from YAML nodes.

use std::collections::BTreeMap;

use super::builder::DEFAULT_IDLE_MINUTES;
use super::parse::{normalize_ports, parse_disk_size_gb, parse_idle_minutes};
use super::{Autostop, CpuSpec, ImageId, JobRecovery, MemorySpec, PortRange};
use crate::yaml::access::{
    boolean, entries, int_in, invalid, json, near, number, opt_name, opt_string, string, type_error,
};
use crate::yaml::error::{FieldPath, TaskError};
use crate::yaml::node::{Node, Value};

const ACCELERATOR_ARGS: [&str; 4] = [
    "runtime_version",
    "tpu_name",
    "tpu_vm",
    "gcp_queued_resource",
];
const JOB_RECOVERY_STRATEGIES: [&str; 3] = ["FAILOVER", "EAGER_NEXT_REGION", "NONE"];
const AUTOSTOP_FIELDS: [&str; 5] = ["idle_minutes", "down", "wait_for", "hook", "hook_timeout"];
const WAIT_FOR: [&str; 3] = ["jobs_and_ssh", "jobs", "none"];

/// A region or zone name: trimmed, not empty.
pub(super) fn location_name(v: &Node, p: &FieldPath) -> Result<Option<String>, TaskError> {
    Ok(opt_name(v, p)?.map(|s| s.trim().to_owned()))
}

pub(super) fn cpus(v: &Node, p: &FieldPath) -> Result<Option<CpuSpec>, TaskError> {
    match &v.value {
        Value::Null => Ok(None),
        Value::Int(_) | Value::Float(_) => {
            let n = number(v, p)?;
            if n <= 0.0 {
                return Err(invalid("cpus must be positive", v, p));
            }
            let n = super::parse::cpus_at_most(&super::parse::fmt_num(n), n)
                .map_err(|e| invalid(e.message, v, p))?;
            Ok(Some(CpuSpec {
                count: n,
                or_more: false,
            }))
        }
        Value::Str(s) => s
            .parse()
            .map(Some)
            .map_err(|e: crate::resources::ParseValueError| invalid(e.message, v, p)),
        _ => Err(type_error("a number or a string such as `4+`", v, p)),
    }
}

pub(super) fn memory(v: &Node, p: &FieldPath) -> Result<Option<MemorySpec>, TaskError> {
    match &v.value {
        Value::Null => Ok(None),
        Value::Int(_) | Value::Float(_) => {
            let n = number(v, p)?;
            if n <= 0.0 {
                return Err(invalid("memory must be positive", v, p));
            }
            let n = super::parse::memory_at_most(&super::parse::fmt_num(n), n)
                .map_err(|e| invalid(e.message, v, p))?;
            Ok(Some(MemorySpec::Gib {
                gib: n,
                or_more: false,
            }))
        }
        Value::Str(s) => s
            .parse()
            .map(Some)
            .map_err(|e: crate::resources::ParseValueError| invalid(e.message, v, p)),
        _ => Err(type_error("a number or a string such as `32GB+`", v, p)),
    }
}

pub(super) fn accelerator_args(
    v: &Node,
    p: &FieldPath,
) -> Result<Option<BTreeMap<String, serde_json::Value>>, TaskError> {
    if matches!(v.value, Value::Null) {
        return Ok(None);
    }
    let mut out = BTreeMap::new();
    for e in entries(v, p, Some(&ACCELERATOR_ARGS), "a mapping of TPU arguments")? {
        let value = match e.key.as_str() {
            "tpu_vm" | "gcp_queued_resource" => serde_json::Value::Bool(boolean(e.value, &e.path)?),
            _ => serde_json::Value::String(string(e.value, &e.path)?),
        };
        out.insert(e.key, value);
    }
    Ok(Some(out))
}

fn recovery_strategy(s: &str, v: &Node, p: &FieldPath) -> Result<Option<String>, TaskError> {
    let upper = s.trim().to_ascii_uppercase();
    if JOB_RECOVERY_STRATEGIES.contains(&upper.as_str()) {
        return Ok(Some(upper));
    }
    Err(invalid(
        format!(
            "unknown job recovery strategy `{s}`: expected FAILOVER, EAGER_NEXT_REGION or none"
        ),
        v,
        p,
    )
    .with_suggestion(near(s, JOB_RECOVERY_STRATEGIES)))
}

pub(super) fn job_recovery(v: &Node, p: &FieldPath) -> Result<Option<JobRecovery>, TaskError> {
    match &v.value {
        Value::Null => Ok(None),
        Value::Str(s) => Ok(Some(JobRecovery {
            strategy: recovery_strategy(s, v, p)?,
            ..JobRecovery::default()
        })),
        Value::Map(_) => {
            let mut jr = JobRecovery::default();
            for e in entries(v, p, None, "a mapping")? {
                match e.key.as_str() {
                    "strategy" => {
                        jr.strategy = match opt_string(e.value, &e.path)? {
                            Some(s) => recovery_strategy(&s, e.value, &e.path)?,
                            None => None,
                        }
                    }
                    "max_restarts_on_errors" => {
                        jr.max_restarts_on_errors =
                            int_in(e.value, &e.path, 0, i128::from(u32::MAX))? as u32;
                    }
                    "recover_on_exit_codes" => {
                        let codes: Vec<&Node> = match &e.value.value {
                            Value::Seq(items) => items.iter().collect(),
                            _ => vec![e.value],
                        };
                        for (i, c) in codes.iter().enumerate() {
                            let cpath = if matches!(e.value.value, Value::Seq(_)) {
                                e.path.index(i)
                            } else {
                                e.path.clone()
                            };
                            let code = int_in(c, &cpath, 0, 255)? as u8;
                            if jr.recover_on_exit_codes.contains(&code) {
                                return Err(invalid(
                                    format!("exit code {code} is listed twice"),
                                    c,
                                    &cpath,
                                ));
                            }
                            jr.recover_on_exit_codes.push(code);
                        }
                    }
                    _ => {
                        // Plugin keys (SkyPilot lets registered plugins add strategy fields).
                        jr.extra.insert(e.key.clone(), json(e.value, &e.path)?);
                    }
                }
            }
            Ok(Some(jr))
        }
        _ => Err(type_error("a strategy name or a mapping", v, p)),
    }
}

pub(super) fn disk_size(v: &Node, p: &FieldPath) -> Result<Option<u64>, TaskError> {
    match &v.value {
        Value::Null => Ok(None),
        Value::Int(_) => Ok(Some(int_in(v, p, 1, i128::from(u32::MAX))? as u64)),
        Value::Float(f) => Err(invalid(
            format!("disk size {f} must be a whole number of GB"),
            v,
            p,
        )),
        Value::Str(s) => parse_disk_size_gb(s)
            .map(Some)
            .map_err(|e| invalid(e.message, v, p)),
        _ => Err(type_error("whole GB or a size such as `1TB`", v, p)),
    }
}

pub(super) fn ports(v: &Node, p: &FieldPath) -> Result<Vec<PortRange>, TaskError> {
    let one = |n: &Node, path: &FieldPath| -> Result<PortRange, TaskError> {
        match &n.value {
            Value::Int(i) => {
                let port = int_in(n, path, 1, 65535).map_err(|_| {
                    invalid(
                        format!("invalid port {i}: use a port number between 1 and 65535"),
                        n,
                        path,
                    )
                })? as u16;
                Ok(PortRange {
                    start: port,
                    end: port,
                })
            }
            Value::Str(s) => s
                .parse()
                .map_err(|e: crate::resources::ParseValueError| invalid(e.message, n, path)),
            _ => Err(type_error(
                "a port number or a range such as `10052-10100`",
                n,
                path,
            )),
        }
    };
    let ranges = match &v.value {
        Value::Null => Vec::new(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| one(n, &p.index(i)))
            .collect::<Result<Vec<_>, _>>()?,
        _ => vec![one(v, p)?],
    };
    Ok(normalize_ports(ranges))
}

pub(super) fn image_id(v: &Node, p: &FieldPath) -> Result<Option<ImageId>, TaskError> {
    match &v.value {
        Value::Null => Ok(None),
        Value::Str(s) if s.trim().is_empty() => Err(invalid("must not be empty", v, p)),
        Value::Str(s) => Ok(Some(ImageId::Any(s.clone()))),
        Value::Map(_) => {
            let mut m = BTreeMap::new();
            for e in entries(v, p, None, "a mapping")? {
                m.insert(e.key.clone(), string(e.value, &e.path)?);
            }
            if m.is_empty() {
                return Err(invalid("the per-region image map is empty", v, p));
            }
            Ok(Some(ImageId::PerRegion(m)))
        }
        _ => Err(type_error(
            "an image id or a {region: image id} mapping",
            v,
            p,
        )),
    }
}

fn idle_minutes(v: &Node, p: &FieldPath) -> Result<u32, TaskError> {
    match &v.value {
        Value::Int(_) => Ok(int_in(v, p, 0, i128::from(u32::MAX)).map_err(|_| {
            invalid(
                "idle minutes must be 0 or more (use `autostop: false` to turn autostop off)",
                v,
                p,
            )
        })? as u32),
        Value::Str(s) => parse_idle_minutes(s).map_err(|e| invalid(e.message, v, p)),
        _ => Err(type_error("minutes or a time such as `2h`", v, p)),
    }
}

pub(super) fn autostop(v: &Node, p: &FieldPath) -> Result<Option<Autostop>, TaskError> {
    match &v.value {
        Value::Null => Ok(None),
        Value::Bool(true) => Ok(Some(Autostop::after_minutes(DEFAULT_IDLE_MINUTES))),
        Value::Bool(false) => Ok(Some(Autostop::disabled())),
        Value::Int(_) | Value::Str(_) => Ok(Some(Autostop::after_minutes(idle_minutes(v, p)?))),
        Value::Map(_) => {
            let mut a = Autostop::after_minutes(DEFAULT_IDLE_MINUTES);
            for e in entries(v, p, Some(&AUTOSTOP_FIELDS), "a mapping")? {
                let (ev, ep) = (e.value, &e.path);
                match e.key.as_str() {
                    "idle_minutes" => a.idle_minutes = idle_minutes(ev, ep)?,
                    "down" => a.down = boolean(ev, ep)?,
                    "wait_for" => {
                        a.wait_for = match opt_string(ev, ep)? {
                            None => None,
                            Some(w) => {
                                let lower = w.trim().to_ascii_lowercase();
                                if !WAIT_FOR.contains(&lower.as_str()) {
                                    return Err(invalid(
                                        format!(
                                            "invalid wait_for `{w}`: expected jobs_and_ssh, \
                                             jobs or none"
                                        ),
                                        ev,
                                        ep,
                                    )
                                    .with_suggestion(near(&w, WAIT_FOR)));
                                }
                                Some(lower)
                            }
                        }
                    }
                    "hook" => a.hook = opt_string(ev, ep)?,
                    "hook_timeout" => {
                        a.hook_timeout = match ev.value {
                            Value::Null => None,
                            _ => Some(int_in(ev, ep, 1, i128::from(u32::MAX))? as u32),
                        }
                    }
                    _ => {}
                }
            }
            Ok(Some(a))
        }
        _ => Err(type_error(
            "a boolean, minutes, a time such as `2h`, or a mapping",
            v,
            p,
        )),
    }
}
