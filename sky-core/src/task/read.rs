//! Reading task YAML: text → [`Node`] documents → [`Task`].

use std::path::PathBuf;
use std::time::Duration;

use super::service::check_service;
use super::{DataSpec, FileMount, IndexMap, Secret, StorageMount, Task, Workdir};
use crate::resources::names::LoadCtx;
use crate::resources::parse_duration_secs;
use crate::resources::read::resource_set_from_node;
use crate::yaml::access::{
    Entry, boolean, entries, int_in, invalid, json, near, number, opt_name, opt_string,
    scalar_text, seq, string, type_error,
};
use crate::yaml::error::{FieldPath, TaskError, TaskErrorKind};
use crate::yaml::node::{Node, Value};

/// The top-level fields of a task document.
pub(crate) const TASK_FIELDS: [&str; 18] = [
    "name",
    "workdir",
    "num_nodes",
    "resources",
    "envs",
    "secrets",
    "file_mounts",
    "setup",
    "run",
    "inputs",
    "outputs",
    "config",
    "event_callback",
    "estimated_runtime",
    "service",
    "pool",
    "volumes",
    "managed_secrets",
];

/// Fields SkyPilot accepts that sky keeps in [`Task::extra`] without acting on them.
const EXTRA_FIELDS: [&str; 4] = ["service", "pool", "volumes", "managed_secrets"];

/// The URI schemes a `file_mounts` source may use (SkyPilot's cloud stores).
const CLOUD_SCHEMES: [&str; 9] = [
    "s3", "gs", "r2", "cos", "oci", "nebius", "cw", "hf", "https",
];
const STORAGE_FIELDS: [&str; 7] = [
    "name",
    "source",
    "store",
    "persistent",
    "mode",
    "config",
    "mount_options",
];
const STORES: [&str; 10] = [
    "s3",
    "gcs",
    "azure",
    "r2",
    "ibm",
    "oci",
    "nebius",
    "coreweave",
    "hf",
    "volume",
];
const MOUNT_MODES: [&str; 3] = ["MOUNT", "COPY", "MOUNT_CACHED"];

/// Whether `s` is a valid environment variable name (`^[a-zA-Z_][a-zA-Z0-9_]*$`).
fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `${VAR}` / `$VAR` substitution as SkyPilot's `_fill_in_env_vars`: names defined in `envs`
/// (with a value) are replaced, others are left as written.
pub(crate) fn substitute(s: &str, envs: &IndexMap<String, Option<String>>) -> String {
    if !s.contains('$') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (braced, body) = match after.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, after),
        };
        let name_len = body
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(body.len(), |(i, _)| i);
        let name = &body[..name_len];
        let valid = is_env_name(name);
        let closing = braced && body[name_len..].starts_with('}');
        let matched_len = 1 + usize::from(braced) + name_len + usize::from(closing);
        match envs.get(name) {
            Some(Some(value)) if valid => {
                out.push_str(value);
                rest = &rest[pos + matched_len..];
            }
            _ => {
                out.push('$');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn substitute_node(node: &Node, envs: &IndexMap<String, Option<String>>) -> Node {
    let value = match &node.value {
        Value::Str(s) => Value::Str(substitute(s, envs)),
        Value::Seq(items) => Value::Seq(items.iter().map(|i| substitute_node(i, envs)).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (substitute_node(k, envs), substitute_node(v, envs)))
                .collect(),
        ),
        other => other.clone(),
    };
    Node {
        value,
        loc: node.loc,
    }
}

/// Converts one task document.
pub(crate) fn task_from_node(ctx: &LoadCtx<'_>, node: &Node) -> Result<Task, TaskError> {
    let root = FieldPath::root();
    if !matches!(node.value, Value::Map(_) | Value::Null) {
        return Err(type_error("a mapping of task fields", node, &root));
    }
    if let Value::Map(items) = &node.value
        && let Some((k, _)) = items
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "edges"))
    {
        return Err(invalid(
            "`edges` belongs in the first document of a multi-document YAML, which may carry \
             only `name` and `edges`",
            k,
            &root.key("edges"),
        ));
    }
    let fields = entries(node, &root, Some(&TASK_FIELDS), "a mapping")?;
    let mut task = Task::default();
    // envs first: they are substituted into file_mounts and workdir.
    if let Some(f) = fields.iter().find(|f| f.key == "envs") {
        task.envs = envs(f)?;
    }
    for f in &fields {
        let (v, p) = (f.value, &f.path);
        match f.key.as_str() {
            "name" => task.name = opt_name(v, p)?,
            "workdir" => task.workdir = workdir(&substitute_node(v, &task.envs), p)?,
            "num_nodes" if !matches!(v.value, Value::Null) => {
                task.num_nodes =
                    int_in(v, p, 1, i128::from(crate::task::MAX_NUM_NODES)).map_err(|_| {
                        invalid(
                            format!(
                                "num_nodes must be an integer from 1 to {} (more nodes than \
                                 any cloud gives one cluster)",
                                crate::task::MAX_NUM_NODES
                            ),
                            v,
                            p,
                        )
                    })? as u32;
            }
            "resources" => task.resources = resource_set_from_node(ctx, v, p)?,
            "envs" => {}
            "secrets" => secrets(f, &mut task)?,
            "file_mounts" => task.file_mounts = file_mounts(&substitute_node(v, &task.envs), p)?,
            "setup" => task.setup = opt_string(v, p)?,
            "run" => task.run = opt_string(v, p)?,
            "inputs" => task.inputs = data_spec(v, p)?,
            "outputs" => task.outputs = data_spec(v, p)?,
            "config" => {
                task.config = match v.value {
                    Value::Null => None,
                    Value::Map(_) => Some(json(v, p)?),
                    _ => return Err(type_error("a mapping", v, p)),
                }
            }
            "event_callback" => task.event_callback = opt_string(v, p)?,
            "estimated_runtime" => task.estimated_runtime = estimated_runtime(v, p)?,
            "service" if !matches!(v.value, Value::Null) => {
                check_service(v, p)?;
                task.extra.insert(f.key.clone(), json(v, p)?);
            }
            k if EXTRA_FIELDS.contains(&k) && !matches!(v.value, Value::Null) => {
                task.extra.insert(f.key.clone(), json(v, p)?);
            }
            _ => {}
        }
    }
    Ok(task)
}

fn envs(f: &Entry<'_>) -> Result<IndexMap<String, Option<String>>, TaskError> {
    let mut out = IndexMap::new();
    for e in entries(
        f.value,
        &f.path,
        None,
        "a mapping of variable names to values",
    )? {
        if !is_env_name(&e.key) {
            return Err(invalid(
                format!(
                    "invalid environment variable name `{}`: use letters, digits and `_`, not \
                     starting with a digit",
                    e.key
                ),
                e.key_node,
                &e.path,
            ));
        }
        let value = match e.value.value {
            Value::Null => None,
            _ => Some(scalar_text(e.value, &e.path)?),
        };
        out.insert(e.key, value);
    }
    Ok(out)
}

fn secrets(f: &Entry<'_>, task: &mut Task) -> Result<(), TaskError> {
    match &f.value.value {
        Value::Null => Ok(()),
        Value::Seq(items) => {
            // The list form names managed secrets; sky keeps the list for round trips.
            for (i, item) in items.iter().enumerate() {
                string(item, &f.path.index(i))?;
            }
            task.extra.insert("secrets".into(), json(f.value, &f.path)?);
            Ok(())
        }
        Value::Map(_) => {
            for e in entries(f.value, &f.path, None, "a mapping")? {
                if !is_env_name(&e.key) {
                    return Err(invalid(
                        format!(
                            "invalid secret name `{}`: use letters, digits and `_`",
                            e.key
                        ),
                        e.key_node,
                        &e.path,
                    ));
                }
                // A secret without a value is filled in by the caller before launch
                // (SkyPilot's `--secret KEY=VALUE`); launching without one is refused.
                let value = match e.value.value {
                    Value::Null => None,
                    _ => Some(Secret::new(scalar_text(e.value, &e.path)?)),
                };
                task.secrets.insert(e.key, value);
            }
            Ok(())
        }
        _ => Err(type_error(
            "a mapping of secret names to values, or a list of managed secret names",
            f.value,
            &f.path,
        )),
    }
}

fn workdir(v: &Node, p: &FieldPath) -> Result<Option<Workdir>, TaskError> {
    match &v.value {
        Value::Null => Ok(None),
        Value::Str(s) if s.trim().is_empty() => Err(invalid("must not be empty", v, p)),
        Value::Str(s) => Ok(Some(Workdir::Path(PathBuf::from(s)))),
        Value::Map(_) => {
            let mut url = None;
            let mut git_ref = None;
            for e in entries(v, p, Some(&["url", "ref"]), "a mapping")? {
                match e.key.as_str() {
                    "url" => url = opt_name(e.value, &e.path)?,
                    _ => git_ref = opt_name(e.value, &e.path)?,
                }
            }
            let url = url.ok_or_else(|| {
                TaskError::at(
                    TaskErrorKind::MissingField {
                        field: "url".into(),
                    },
                    p,
                    v,
                )
            })?;
            Ok(Some(Workdir::Git { url, git_ref }))
        }
        _ => Err(type_error("a local path or a {url, ref} git mapping", v, p)),
    }
}

/// Classifies a `file_mounts` source string.
pub(crate) fn mount_source(s: &str) -> Result<FileMount, String> {
    match s.split_once("://") {
        None => Ok(FileMount::Local(s.to_owned())),
        Some((scheme, _)) => {
            let scheme = scheme.to_ascii_lowercase();
            let azure = scheme == "https" && s.contains(".blob.core.windows.net");
            if (CLOUD_SCHEMES.contains(&scheme.as_str()) && scheme != "https") || azure {
                Ok(FileMount::CloudUri(s.to_owned()))
            } else {
                Err(format!(
                    "unsupported URI `{s}`: file mounts copy from s3://, gs://, r2://, cos://, \
                     oci://, nebius://, cw://, hf:// or https://<account>.blob.core.windows.net/ \
                     URIs, or from local paths"
                ))
            }
        }
    }
}

fn file_mounts(v: &Node, p: &FieldPath) -> Result<IndexMap<String, FileMount>, TaskError> {
    let mut out = IndexMap::new();
    for e in entries(v, p, None, "a mapping of remote paths to sources")? {
        if e.key.trim().is_empty() {
            return Err(invalid("the remote path is empty", e.key_node, &e.path));
        }
        let mount = match &e.value.value {
            Value::Str(s) if s.trim().is_empty() => {
                return Err(invalid("the source is empty", e.value, &e.path));
            }
            Value::Str(s) => mount_source(s).map_err(|m| invalid(m, e.value, &e.path))?,
            Value::Map(_) => FileMount::Storage(storage(e.value, &e.path)?),
            _ => {
                return Err(type_error(
                    "a local path, a cloud URI, or a storage mapping",
                    e.value,
                    &e.path,
                ));
            }
        };
        out.insert(e.key, mount);
    }
    Ok(out)
}

fn storage(v: &Node, p: &FieldPath) -> Result<StorageMount, TaskError> {
    let mut s = StorageMount::default();
    for e in entries(v, p, Some(&STORAGE_FIELDS), "a mapping")? {
        let (ev, ep) = (e.value, &e.path);
        match e.key.as_str() {
            "name" => s.name = opt_name(ev, ep)?,
            "source" => match &ev.value {
                Value::Seq(items) => {
                    if items.is_empty() {
                        return Err(invalid("the source list is empty", ev, ep));
                    }
                    for (i, item) in items.iter().enumerate() {
                        string(item, &ep.index(i))?;
                    }
                    s.extra.insert("source".into(), json(ev, ep)?);
                }
                _ => s.source = opt_name(ev, ep)?,
            },
            "store" => {
                if let Some(store) = opt_string(ev, ep)? {
                    let lower = store.trim().to_ascii_lowercase();
                    if !STORES.contains(&lower.as_str()) {
                        return Err(invalid(
                            format!(
                                "unknown store `{store}`: expected one of {}",
                                STORES.join(", ")
                            ),
                            ev,
                            ep,
                        )
                        .with_suggestion(near(&store, STORES)));
                    }
                    s.store = Some(lower);
                }
            }
            "persistent" => {
                s.persistent = match ev.value {
                    Value::Null => None,
                    _ => Some(boolean(ev, ep)?),
                }
            }
            "mode" => {
                if let Some(mode) = opt_string(ev, ep)? {
                    let upper = mode.trim().to_ascii_uppercase();
                    if !MOUNT_MODES.contains(&upper.as_str()) {
                        return Err(invalid(
                            format!("unknown mode `{mode}`: expected MOUNT, COPY or MOUNT_CACHED"),
                            ev,
                            ep,
                        )
                        .with_suggestion(near(&mode, MOUNT_MODES)));
                    }
                    s.mode = Some(upper);
                }
            }
            _ => {
                if !matches!(ev.value, Value::Null) {
                    s.extra.insert(e.key.clone(), json(ev, ep)?);
                }
            }
        }
    }
    if s.name.is_none() && s.source.is_none() && !s.extra.contains_key("source") {
        return Err(TaskError::at(
            TaskErrorKind::MissingField {
                field: "name` or `source".into(),
            },
            p,
            v,
        ));
    }
    Ok(s)
}

fn data_spec(v: &Node, p: &FieldPath) -> Result<Option<DataSpec>, TaskError> {
    if matches!(v.value, Value::Null) {
        return Ok(None);
    }
    let items = entries(v, p, None, "a {uri: estimated size in GB} mapping")?;
    let [e] = items.as_slice() else {
        return Err(invalid(
            format!(
                "expected exactly one {{uri: estimated size in GB}} entry, found {}",
                items.len()
            ),
            v,
            p,
        ));
    };
    let size_gb = number(e.value, &e.path)?;
    if size_gb < 0.0 {
        return Err(invalid(
            "the estimated size must not be negative",
            e.value,
            &e.path,
        ));
    }
    if e.key.trim().is_empty() {
        return Err(invalid("the URI is empty", e.key_node, &e.path));
    }
    Ok(Some(DataSpec {
        uri: e.key.clone(),
        size_gb,
    }))
}

fn estimated_runtime(v: &Node, p: &FieldPath) -> Result<Option<Duration>, TaskError> {
    let secs = match &v.value {
        Value::Null => return Ok(None),
        Value::Int(_) | Value::Float(_) => number(v, p)?,
        Value::Str(s) => parse_duration_secs(s).map_err(|e| invalid(e.message, v, p))?,
        _ => {
            return Err(type_error(
                "seconds or a duration such as `30m`, `2h`, `90s`, `1d`",
                v,
                p,
            ));
        }
    };
    if secs < 0.0 {
        return Err(invalid("the estimated runtime must not be negative", v, p));
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|_| invalid("the estimated runtime is too large", v, p))
}

/// One end of an edge: the task name, its node and its path.
pub(crate) type EdgeEnd<'n> = (String, &'n Node, FieldPath);

/// Parses the items of a DAG header's `edges`.
pub(crate) fn edge_pairs<'n>(
    v: &'n Node,
    p: &FieldPath,
) -> Result<Vec<[EdgeEnd<'n>; 2]>, TaskError> {
    if matches!(v.value, Value::Null) {
        return Ok(Vec::new());
    }
    let items = seq(v, p, "a list of [from_task, to_task] pairs")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ip = p.index(i);
        let pair = seq(item, &ip, "a [from_task, to_task] pair")?;
        let [a, b] = pair else {
            return Err(invalid(
                format!(
                    "an edge is a [from_task, to_task] pair, found {} items",
                    pair.len()
                ),
                item,
                &ip,
            ));
        };
        let (pa, pb) = (ip.index(0), ip.index(1));
        out.push([(string(a, &pa)?, a, pa), (string(b, &pb)?, b, pb)]);
    }
    Ok(out)
}

/// Keys of a header document.
pub(crate) fn doc_keys(node: &Node) -> Vec<String> {
    match &node.value {
        Value::Map(items) => items.iter().map(|(k, _)| k.key_text()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_matches_skypilot() {
        let envs: IndexMap<String, Option<String>> = [
            ("BUCKET".to_string(), Some("data".to_string())),
            ("UNSET".to_string(), None),
            ("B".to_string(), Some("x".to_string())),
        ]
        .into_iter()
        .collect();
        assert_eq!(substitute("s3://${BUCKET}/a", &envs), "s3://data/a");
        assert_eq!(substitute("/$BUCKET/b", &envs), "/data/b");
        assert_eq!(substitute("$BUCKETS", &envs), "$BUCKETS");
        assert_eq!(substitute("${UNSET}", &envs), "${UNSET}");
        assert_eq!(substitute("${NOPE}/$", &envs), "${NOPE}/$");
        assert_eq!(substitute("$B$B-${B}", &envs), "xx-x");
        assert_eq!(substitute("é$Bé", &envs), "éxé");
    }

    #[test]
    fn mount_sources() {
        assert!(matches!(
            mount_source("s3://b/k"),
            Ok(FileMount::CloudUri(_))
        ));
        assert!(matches!(mount_source("GS://b"), Ok(FileMount::CloudUri(_))));
        assert!(matches!(
            mount_source("https://acct.blob.core.windows.net/c"),
            Ok(FileMount::CloudUri(_))
        ));
        assert!(matches!(mount_source("~/data"), Ok(FileMount::Local(_))));
        assert!(mount_source("ftp://x/y").is_err());
        assert!(mount_source("https://example.com/x").is_err());
    }
}
