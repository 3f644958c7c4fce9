//! The `service:` section (SkyServe), checked against SkyPilot's service schema
//! (`sky/utils/schemas.py`, `get_service_schema`): unknown keys are errors with a
//! did-you-mean, values have the schema's types and bounds. sky keeps the section as given
//! (see [`super::Task::extra`]); it does not serve.

use crate::yaml::access::{boolean, entries, int_in, invalid, near, number, string, type_error};
use crate::yaml::error::{FieldPath, TaskError, TaskErrorKind};
use crate::yaml::node::{Node, Value};

const SERVICE_FIELDS: [&str; 9] = [
    "readiness_probe",
    "load_balancer",
    "pool",
    "replica_policy",
    "ports",
    "replicas",
    "workers",
    "load_balancing_policy",
    "tls",
];
const PROBE_FIELDS: [&str; 7] = [
    "path",
    "initial_delay_seconds",
    "timeout_seconds",
    "endpoint_probe_interval_seconds",
    "consecutive_failure_threshold_timeout",
    "post_data",
    "headers",
];
const POOL_FIELDS: [&str; 6] = [
    "workers",
    "min_workers",
    "queue_length_threshold",
    "max_workers",
    "upscale_delay_seconds",
    "downscale_delay_seconds",
];
const REPLICA_POLICY_FIELDS: [&str; 9] = [
    "min_replicas",
    "max_replicas",
    "num_overprovision",
    "target_qps_per_replica",
    "dynamic_ondemand_fallback",
    "base_ondemand_fallback_replicas",
    "spot_placer",
    "upscale_delay_seconds",
    "downscale_delay_seconds",
];
/// SkyServe's `LB_POLICIES`.
const LB_POLICIES: [&str; 3] = ["round_robin", "least_load", "instance_aware_least_load"];
/// SkyServe's `SPOT_PLACERS`.
const SPOT_PLACERS: [&str; 1] = ["dynamic_fallback"];

const BIG: i128 = i64::MAX as i128;

/// Checks a `service:` value.
pub(crate) fn check_service(v: &Node, p: &FieldPath) -> Result<(), TaskError> {
    if !matches!(v.value, Value::Map(_)) {
        return Err(type_error("a mapping of service fields", v, p));
    }
    for e in entries(v, p, Some(&SERVICE_FIELDS), "a mapping")? {
        let (v, p) = (e.value, &e.path);
        match e.key.as_str() {
            "readiness_probe" => readiness_probe(v, p)?,
            "load_balancer" => {
                for f in entries(v, p, Some(&["stream_timeout_seconds"]), "a mapping")? {
                    number(f.value, &f.path)?;
                }
            }
            "pool" => {
                for f in entries(v, p, Some(&POOL_FIELDS), "a mapping")? {
                    match f.key.as_str() {
                        "queue_length_threshold" => int_at_least(f.value, &f.path, 1)?,
                        k if k.ends_with("_seconds") => number_at_least(f.value, &f.path, 0.0)?,
                        _ => int_at_least(f.value, &f.path, 0)?,
                    }
                }
            }
            "replica_policy" => replica_policy(v, p)?,
            "ports" | "replicas" | "workers" => {
                int_in(v, p, -BIG, BIG)?;
            }
            "load_balancing_policy" => one_of(v, p, &LB_POLICIES)?,
            _ => {
                let fields = entries(v, p, Some(&["keyfile", "certfile"]), "a mapping")?;
                for f in &fields {
                    string(f.value, &f.path)?;
                }
                for required in ["keyfile", "certfile"] {
                    if !fields.iter().any(|f| f.key == required) {
                        return Err(missing(required, v, p));
                    }
                }
            }
        }
    }
    Ok(())
}

fn readiness_probe(v: &Node, p: &FieldPath) -> Result<(), TaskError> {
    match &v.value {
        Value::Str(_) => Ok(()),
        Value::Map(_) => {
            let fields = entries(v, p, Some(&PROBE_FIELDS), "a mapping")?;
            for f in &fields {
                match f.key.as_str() {
                    "path" => {
                        string(f.value, &f.path)?;
                    }
                    "post_data" => {
                        if !matches!(f.value.value, Value::Str(_) | Value::Map(_)) {
                            return Err(type_error("a string or a mapping", f.value, &f.path));
                        }
                    }
                    "headers" => {
                        for h in entries(f.value, &f.path, None, "a mapping of header names")? {
                            string(h.value, &h.path)?;
                        }
                    }
                    _ => {
                        number(f.value, &f.path)?;
                    }
                }
            }
            if !fields.iter().any(|f| f.key == "path") {
                return Err(missing("path", v, p));
            }
            Ok(())
        }
        _ => Err(type_error("a path or a mapping", v, p)),
    }
}

fn replica_policy(v: &Node, p: &FieldPath) -> Result<(), TaskError> {
    let fields = entries(v, p, Some(&REPLICA_POLICY_FIELDS), "a mapping")?;
    for f in &fields {
        let (v, p) = (f.value, &f.path);
        match f.key.as_str() {
            "target_qps_per_replica" => match &v.value {
                Value::Map(_) => {
                    for a in entries(v, p, None, "a mapping of accelerators to QPS")? {
                        let ok = a.key.split_once(':').map_or_else(
                            || is_acc_name(&a.key),
                            |(n, c)| is_acc_name(n) && c.chars().all(|x| x.is_ascii_digit()),
                        );
                        if !ok {
                            return Err(invalid(
                                format!(
                                    "`{}` is not an accelerator such as `H100` or `A100:1`",
                                    a.key
                                ),
                                a.key_node,
                                &a.path,
                            ));
                        }
                        number_at_least(a.value, &a.path, 0.0)?;
                    }
                }
                _ => number_at_least(v, p, 0.0)?,
            },
            "dynamic_ondemand_fallback" => {
                boolean(v, p)?;
            }
            "spot_placer" => one_of(v, p, &SPOT_PLACERS)?,
            k if k.ends_with("_seconds") => {
                number(v, p)?;
            }
            _ => int_at_least(v, p, 0)?,
        }
    }
    if !fields.iter().any(|f| f.key == "min_replicas") {
        return Err(missing("min_replicas", v, p));
    }
    Ok(())
}

fn is_acc_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn int_at_least(v: &Node, p: &FieldPath, lo: i128) -> Result<(), TaskError> {
    int_in(v, p, lo, BIG).map(|_| ())
}

fn number_at_least(v: &Node, p: &FieldPath, lo: f64) -> Result<(), TaskError> {
    let x = number(v, p)?;
    if x < lo {
        return Err(invalid(format!("must be at least {lo}"), v, p));
    }
    Ok(())
}

fn one_of(v: &Node, p: &FieldPath, allowed: &[&str]) -> Result<(), TaskError> {
    let s = string(v, p)?;
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&s)) {
        return Ok(());
    }
    Err(invalid(
        format!(
            "unknown value `{s}`: expected one of {}",
            allowed.join(", ")
        ),
        v,
        p,
    )
    .with_suggestion(near(&s, allowed.iter().copied())))
}

fn missing(field: &str, v: &Node, p: &FieldPath) -> TaskError {
    TaskError::at(
        TaskErrorKind::MissingField {
            field: field.into(),
        },
        p,
        v,
    )
}
