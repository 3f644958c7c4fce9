//! A local Compute Engine API server for the tests: no emulator exists, so this answers the
//! real `google-cloud-compute-v1` client with the REST shapes of Google's API reference
//! (`compute#instance`, `compute#operation`, `compute#instanceList`, `compute#firewall`,
//! and the `{"error": {...}}` body), and keeps enough state for the conformance suite.
//!
//! - Instances live per (project, zone, name). An insert answers a `RUNNING` zone operation
//!   and leaves the instance `PROVISIONING`; the first `GET .../operations/{op}` finishes the
//!   operation (`DONE`) and applies its effect (`RUNNING`). Stop → `STOPPING` → `TERMINATED`,
//!   start → `STAGING` → `RUNNING`, delete → `STOPPING` → gone.
//! - `list` and `aggregatedList` honour `(labels.K = V)` filter terms, AND'ed, and page: with
//!   a page size set ([`FakeGce::page_size`]) or `maxResults`, each answer holds that many
//!   instances and a `nextPageToken` until the last page, as the API reference describes
//!   ("nextPageToken: This token allows you to get the next page of results for list
//!   requests. If the number of results is larger than maxResults, use the nextPageToken as a
//!   value for the query parameter pageToken in the next list request").
//! - Firewalls: insert, get, update (PUT), delete, through global operations.
//! - A fault script makes the next inserts (in a zone, a region, of a machine family, or
//!   anywhere) fail, either as an HTTP error body or as a `DONE` operation with an `error`,
//!   including every documented quota shape ([`QuotaForm`]), and every insert call is recorded
//!   with its zone and machine type.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// How an injected insert failure is reported.
#[derive(Clone, Debug)]
pub enum FaultShape {
    /// The insert call itself fails: HTTP `status`, `errors[0].reason`, message.
    Http {
        status: u16,
        reason: &'static str,
        message: String,
    },
    /// The insert succeeds, and its operation finishes `DONE` with `error.errors[0].code`.
    Operation {
        code: &'static str,
        message: String,
        http_status: u16,
    },
    /// Quota `name` (`CPUS`, `N2_CPUS`, `PREEMPTIBLE_NVIDIA_T4_GPUS`, `GPUS_ALL_REGIONS` ...)
    /// is exceeded, reported in `form`; regional in the insert's region unless the name ends
    /// in `_ALL_REGIONS`.
    Quota { name: &'static str, form: QuotaForm },
}

/// The shapes in which Compute Engine reports an exceeded quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaForm {
    /// HTTP 403 with only the classic `errors[]` list: `reason: quotaExceeded`,
    /// `domain: usageLimits`, the message naming the quota.
    Http,
    /// HTTP 403 with `errors[]` and the newer `details`: a `google.rpc.ErrorInfo` (reason
    /// `QUOTA_EXCEEDED`, domain `compute.googleapis.com`, metadata `quotaMetric`, `limitName`)
    /// and a `google.rpc.QuotaFailure` violation (`quotaMetric`, `quotaId`,
    /// `quotaDimensions`). The client keeps only `details` when there are any.
    HttpDetails,
    /// A `DONE` operation whose `error.errors[0]` has `code: QUOTA_EXCEEDED` and the message
    /// only (the shape SkyPilot parses).
    Operation,
    /// A `DONE` operation whose `error.errors[0]` also carries
    /// `errorDetails[].quotaInfo` (`QuotaExceededInfo`: `metricName`, `limitName`,
    /// `dimensions`, `limit`).
    OperationDetails,
}

impl FaultShape {
    /// Quota `name` exceeded, reported in `form`.
    pub fn quota(name: &'static str, form: QuotaForm) -> Self {
        FaultShape::Quota { name, form }
    }
}

/// The pieces of a quota error in `region`: message, metric, limit name, dimensions.
fn quota_parts(name: &str, region: &str) -> (String, String, String, Value) {
    let global = name.ends_with("_ALL_REGIONS");
    let message = if global {
        format!("Quota '{name}' exceeded.  Limit: 0.0 globally.")
    } else {
        format!("Quota '{name}' exceeded.  Limit: 0.0 in region {region}.")
    };
    let metric = format!("compute.googleapis.com/{}", name.to_ascii_lowercase());
    let limit = if global {
        format!("{}-per-project", name.replace('_', "-"))
    } else {
        format!("{}-per-project-region", name.replace('_', "-"))
    };
    let dims = if global {
        json!({})
    } else {
        json!({ "region": region })
    };
    (message, metric, limit, dims)
}

/// "The next `times` inserts (in `zone`, if set) fail like `shape`."
#[derive(Clone, Debug)]
pub struct Fault {
    pub zone: Option<String>,
    pub region: Option<String>,
    pub machine_prefix: Option<String>,
    pub spot_only: bool,
    pub times: u32,
    pub shape: FaultShape,
}

impl Fault {
    /// Fails every insert anywhere (until `times` runs out).
    pub fn everywhere(shape: FaultShape) -> Self {
        Fault {
            zone: None,
            region: None,
            machine_prefix: None,
            spot_only: false,
            times: u32::MAX,
            shape,
        }
    }

    /// Only in `zone`.
    pub fn in_zone(mut self, zone: &str) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// Only in the zones of `region`.
    pub fn in_region(mut self, region: &str) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Only for machine types starting with `prefix` (`n2-`).
    pub fn for_machine_types(mut self, prefix: &str) -> Self {
        self.machine_prefix = Some(prefix.into());
        self
    }

    /// Only for spot inserts (`scheduling.provisioningModel: SPOT`).
    pub fn spot_only(mut self) -> Self {
        self.spot_only = true;
        self
    }

    /// Only `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }
}

/// One insert call the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsertCall {
    pub zone: String,
    pub name: String,
    pub machine_type: String,
    pub failed: bool,
}

#[derive(Clone, Debug)]
enum Effect {
    None,
    Status(Key, &'static str),
    Remove(Key),
    RemoveFirewall(String, String),
}

type Key = (String, String, String);

#[derive(Debug)]
struct Op {
    json: Value,
    effect: Effect,
    error: Option<(Value, u16)>,
}

#[derive(Debug, Default)]
struct State {
    instances: BTreeMap<Key, Value>,
    firewalls: BTreeMap<(String, String), Value>,
    ops: BTreeMap<String, Op>,
    next: u64,
    faults: Vec<Fault>,
    inserts: Vec<InsertCall>,
    requests: u64,
    page_size: Option<usize>,
    list_pages: u64,
    project_error: Option<(u16, &'static str, String)>,
}

/// The server and its state.
pub struct FakeGce {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

#[derive(Clone)]
struct Responder(Arc<Mutex<State>>);

const BASE: &str = "https://www.googleapis.com/compute/v1";

/// Google's error body; without a `reason`, as a load balancer answers, no `errors` list.
fn error_body(status: u16, reason: &str, message: &str) -> ResponseTemplate {
    let mut error = json!({ "code": status, "message": message });
    if !reason.is_empty() {
        error["errors"] = json!([{ "message": message, "domain": "global", "reason": reason }]);
    }
    ResponseTemplate::new(status).set_body_json(json!({ "error": error }))
}

fn not_found(what: &str) -> ResponseTemplate {
    error_body(
        404,
        "notFound",
        &format!("The resource '{what}' was not found"),
    )
}

fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').map_or(zone, |(r, _)| r)
}

impl FakeGce {
    /// Starts a server on a free local port.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        FakeGce { server, state }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Adds a fault to the script.
    pub fn fail_inserts(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Makes `projects.get` fail with an HTTP error.
    pub fn fail_project_get(&self, status: u16, reason: &'static str, message: &str) {
        self.lock().project_error = Some((status, reason, message.into()));
    }

    /// Every insert call, in order.
    pub fn inserts(&self) -> Vec<InsertCall> {
        self.lock().inserts.clone()
    }

    /// The zones of the insert calls, in order.
    pub fn insert_zones(&self) -> Vec<String> {
        self.inserts().into_iter().map(|c| c.zone).collect()
    }

    /// (zone, machine type) of the insert calls, in order.
    pub fn insert_placements(&self) -> Vec<(String, String)> {
        self.inserts()
            .into_iter()
            .map(|c| (c.zone, c.machine_type))
            .collect()
    }

    /// Pages every `list` and `aggregatedList` answer after `n` instances.
    pub fn page_size(&self, n: usize) -> &Self {
        self.lock().page_size = Some(n.max(1));
        self
    }

    /// How many `list` / `aggregatedList` pages after the first were asked for (calls with
    /// a `pageToken`).
    pub fn later_pages(&self) -> u64 {
        self.lock().list_pages
    }

    /// Every instance the server holds, as its JSON.
    pub fn instances(&self) -> Vec<Value> {
        self.lock().instances.values().cloned().collect()
    }

    /// The instance named `name`, in any zone.
    pub fn instance(&self, name: &str) -> Option<Value> {
        self.lock()
            .instances
            .iter()
            .find(|((_, _, n), _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Every firewall rule, as its JSON.
    pub fn firewalls(&self) -> Vec<Value> {
        self.lock().firewalls.values().cloned().collect()
    }

    /// How many requests the server answered.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }
}

impl State {
    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn new_op(
        &mut self,
        project: &str,
        zone: Option<&str>,
        op_type: &str,
        target: String,
        effect: Effect,
        error: Option<(Value, u16)>,
    ) -> Value {
        let id = self.id();
        let name = format!("operation-{id:016}");
        let scope = match zone {
            Some(z) => format!("{BASE}/projects/{project}/zones/{z}"),
            None => format!("{BASE}/projects/{project}/global"),
        };
        let mut json = json!({
            "kind": "compute#operation",
            "id": id.to_string(),
            "name": name,
            "operationType": op_type,
            "targetLink": target,
            "targetId": id.to_string(),
            "status": "RUNNING",
            "progress": 0,
            "user": "tester@example.com",
            "insertTime": "2026-11-28T21:00:00.000-08:00",
            "startTime": "2026-11-28T21:00:00.000-08:00",
            "selfLink": format!("{scope}/operations/{name}"),
        });
        if let Some(z) = zone {
            json["zone"] = json!(format!("{BASE}/projects/{project}/zones/{z}"));
        }
        self.ops.insert(
            name,
            Op {
                json: json.clone(),
                effect,
                error,
            },
        );
        json
    }

    fn finish(&mut self, name: &str) -> Option<Value> {
        let op = self.ops.get_mut(name)?;
        if op.json["status"] == "DONE" {
            return Some(op.json.clone());
        }
        op.json["status"] = json!("DONE");
        op.json["progress"] = json!(100);
        op.json["endTime"] = json!("2026-11-28T21:00:01.000-08:00");
        if let Some((err, status)) = &op.error {
            op.json["error"] = err.clone();
            op.json["httpErrorStatusCode"] = json!(status);
            op.json["httpErrorMessage"] = json!(if *status == 403 {
                "FORBIDDEN"
            } else {
                "SERVICE UNAVAILABLE"
            });
        }
        let json = op.json.clone();
        let effect = std::mem::replace(&mut op.effect, Effect::None);
        match effect {
            Effect::None => {}
            Effect::Status(key, status) => {
                if let Some(i) = self.instances.get_mut(&key) {
                    i["status"] = json!(status);
                }
            }
            Effect::Remove(key) => {
                self.instances.remove(&key);
            }
            Effect::RemoveFirewall(p, n) => {
                self.firewalls.remove(&(p, n));
            }
        }
        Some(json)
    }

    fn take_fault(&mut self, zone: &str, machine_type: &str, spot: bool) -> Option<FaultShape> {
        let f = self.faults.iter_mut().find(|f| {
            f.times > 0
                && f.zone.as_deref().is_none_or(|z| z == zone)
                && f.region.as_deref().is_none_or(|r| r == region_of(zone))
                && f.machine_prefix
                    .as_deref()
                    .is_none_or(|p| machine_type.starts_with(p))
                && (spot || !f.spot_only)
        })?;
        f.times -= 1;
        Some(f.shape.clone())
    }

    /// One page of `items` as asked by `query` (`maxResults`, `pageToken`: the offset), and
    /// the token of the next page, if any.
    fn page<T: Clone>(
        &mut self,
        items: &[T],
        query: &BTreeMap<String, String>,
    ) -> Result<(Vec<T>, Option<String>), &'static str> {
        let start = match query.get("pageToken") {
            None => 0,
            Some(t) => {
                self.list_pages += 1;
                t.parse::<usize>()
                    .ok()
                    .filter(|&s| s <= items.len())
                    .ok_or("Invalid value for pageToken")?
            }
        };
        let asked = query
            .get("maxResults")
            .and_then(|m| m.parse::<usize>().ok())
            .filter(|&m| m > 0);
        let size = match (asked, self.page_size) {
            (Some(a), Some(p)) => a.min(p),
            (Some(a), None) => a,
            (None, Some(p)) => p,
            (None, None) => 500,
        };
        let end = (start + size).min(items.len());
        let next = (end < items.len()).then(|| end.to_string());
        Ok((items[start..end].to_vec(), next))
    }
}

fn matches_filter(instance: &Value, filter: &str) -> Result<bool, String> {
    if filter.trim().is_empty() {
        return Ok(true);
    }
    for clause in filter.split(" AND ") {
        let term = clause.trim().trim_matches(|c| c == '(' || c == ')').trim();
        let (k, v) = term
            .split_once('=')
            .ok_or_else(|| format!("Invalid list filter expression '{filter}'"))?;
        let key = k
            .trim()
            .strip_prefix("labels.")
            .ok_or_else(|| format!("Invalid list filter field '{k}'"))?;
        let v = v.trim().trim_matches('"');
        if instance["labels"][key].as_str() != Some(v) {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.0.lock().unwrap_or_else(|p| p.into_inner());
        st.requests += 1;
        let path = req.url.path().to_string();
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let method = req.method.as_str().to_string();
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let [_, _, "projects", project, rest @ ..] = segs.as_slice() else {
            return not_found(&path);
        };
        let project = project.to_string();
        match (method.as_str(), rest) {
            ("GET", []) => {
                if let Some((s, r, m)) = &st.project_error {
                    return error_body(*s, r, m);
                }
                ResponseTemplate::new(200).set_body_json(json!({
                    "kind": "compute#project", "id": "4242", "name": project,
                    "selfLink": format!("{BASE}/projects/{project}"),
                }))
            }
            ("GET", ["zones", zone, "instances"]) => {
                let filter = query.get("filter").cloned().unwrap_or_default();
                let mut items = Vec::new();
                for ((p, z, _), i) in &st.instances {
                    if p == &project && z == zone {
                        match matches_filter(i, &filter) {
                            Ok(true) => items.push(i.clone()),
                            Ok(false) => {}
                            Err(m) => return error_body(400, "invalid", &m),
                        }
                    }
                }
                let (items, next) = match st.page(&items, &query) {
                    Ok(p) => p,
                    Err(m) => return error_body(400, "invalid", m),
                };
                let mut list = json!({
                    "kind": "compute#instanceList",
                    "id": format!("projects/{project}/zones/{zone}/instances"),
                    "selfLink": format!("{BASE}/projects/{project}/zones/{zone}/instances"),
                });
                if !items.is_empty() {
                    list["items"] = Value::Array(items);
                }
                if let Some(t) = next {
                    list["nextPageToken"] = json!(t);
                }
                ResponseTemplate::new(200).set_body_json(list)
            }
            ("GET", ["aggregated", "instances"]) => {
                let filter = query.get("filter").cloned().unwrap_or_default();
                let mut all: Vec<(String, Value)> = Vec::new();
                for ((p, z, _), i) in &st.instances {
                    if p == &project {
                        match matches_filter(i, &filter) {
                            Ok(true) => all.push((format!("zones/{z}"), i.clone())),
                            Ok(false) => {}
                            Err(m) => return error_body(400, "invalid", &m),
                        }
                    }
                }
                let (page, next) = match st.page(&all, &query) {
                    Ok(p) => p,
                    Err(m) => return error_body(400, "invalid", m),
                };
                let mut items: BTreeMap<String, Vec<Value>> = BTreeMap::new();
                for (scope, i) in page {
                    items.entry(scope).or_default().push(i);
                }
                let items: serde_json::Map<String, Value> = items
                    .into_iter()
                    .map(|(scope, list)| (scope, json!({ "instances": list })))
                    .collect();
                let mut list = json!({
                    "kind": "compute#instanceAggregatedList",
                    "id": format!("projects/{project}/aggregated/instances"),
                    "items": items,
                    "selfLink": format!("{BASE}/projects/{project}/aggregated/instances"),
                });
                if let Some(t) = next {
                    list["nextPageToken"] = json!(t);
                }
                ResponseTemplate::new(200).set_body_json(list)
            }
            ("POST", ["zones", zone, "instances"]) => {
                let zone = zone.to_string();
                let Some(name) = body["name"].as_str().map(str::to_string) else {
                    return error_body(
                        400,
                        "required",
                        "Required field 'resource.name' not specified",
                    );
                };
                let key = (project.clone(), zone.clone(), name.clone());
                let self_link = format!("{BASE}/projects/{project}/zones/{zone}/instances/{name}");
                let mt = body["machineType"].as_str().unwrap_or_default();
                let machine_type = mt.rsplit('/').next().unwrap_or(mt).to_string();
                let spot = body["scheduling"]["provisioningModel"] == "SPOT";
                let fault = st.take_fault(&zone, &machine_type, spot);
                st.inserts.push(InsertCall {
                    zone: zone.clone(),
                    name: name.clone(),
                    machine_type,
                    failed: fault.is_some(),
                });
                match fault {
                    Some(FaultShape::Http {
                        status,
                        reason,
                        message,
                    }) => return error_body(status, reason, &message),
                    Some(FaultShape::Operation {
                        code,
                        message,
                        http_status,
                    }) => {
                        let err = json!({"errors": [{"code": code, "message": message}]});
                        let op = st.new_op(
                            &project,
                            Some(&zone),
                            "insert",
                            self_link,
                            Effect::None,
                            Some((err, http_status)),
                        );
                        return ResponseTemplate::new(200).set_body_json(op);
                    }
                    Some(FaultShape::Quota { name, form }) => {
                        let (message, metric, limit, dims) = quota_parts(name, region_of(&zone));
                        match form {
                            QuotaForm::Http => {
                                return ResponseTemplate::new(403).set_body_json(json!({
                                    "error": {
                                        "code": 403,
                                        "message": message,
                                        "errors": [{
                                            "message": message,
                                            "domain": "usageLimits",
                                            "reason": "quotaExceeded",
                                        }],
                                    }
                                }));
                            }
                            QuotaForm::HttpDetails => {
                                let mut meta = json!({
                                    "quotaMetric": metric,
                                    "limitName": limit,
                                });
                                if let Some(r) = dims.get("region") {
                                    meta["region"] = r.clone();
                                }
                                return ResponseTemplate::new(403).set_body_json(json!({
                                    "error": {
                                        "code": 403,
                                        "message": message,
                                        "errors": [{
                                            "message": message,
                                            "domain": "usageLimits",
                                            "reason": "quotaExceeded",
                                        }],
                                        "details": [
                                            {
                                                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                "reason": "QUOTA_EXCEEDED",
                                                "domain": "compute.googleapis.com",
                                                "metadata": meta,
                                            },
                                            {
                                                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                                                "violations": [{
                                                    "subject": format!("project:{project}"),
                                                    "description": message,
                                                    "apiService": "compute.googleapis.com",
                                                    "quotaMetric": metric,
                                                    "quotaId": limit,
                                                    "quotaDimensions": dims,
                                                    "quotaValue": "0",
                                                }],
                                            },
                                        ],
                                    }
                                }));
                            }
                            QuotaForm::Operation | QuotaForm::OperationDetails => {
                                let mut one = json!({"code": "QUOTA_EXCEEDED", "message": message});
                                if form == QuotaForm::OperationDetails {
                                    one["errorDetails"] = json!([{
                                        "quotaInfo": {
                                            "metricName": metric,
                                            "limitName": limit,
                                            "dimensions": dims,
                                            "limit": 0.0,
                                        }
                                    }]);
                                }
                                let op = st.new_op(
                                    &project,
                                    Some(&zone),
                                    "insert",
                                    self_link,
                                    Effect::None,
                                    Some((json!({ "errors": [one] }), 403)),
                                );
                                return ResponseTemplate::new(200).set_body_json(op);
                            }
                        }
                    }
                    None => {}
                }
                if st.instances.contains_key(&key) {
                    return error_body(
                        409,
                        "alreadyExists",
                        &format!(
                            "The resource 'projects/{project}/zones/{zone}/instances/{name}' already exists"
                        ),
                    );
                }
                let id = st.id();
                let mut inst = body.clone();
                inst["kind"] = json!("compute#instance");
                inst["id"] = json!(id.to_string());
                inst["zone"] = json!(format!("{BASE}/projects/{project}/zones/{zone}"));
                inst["selfLink"] = json!(self_link.clone());
                inst["status"] = json!("PROVISIONING");
                inst["creationTimestamp"] = json!("2026-11-28T21:00:00.000-08:00");
                let mt = body["machineType"].as_str().unwrap_or_default();
                let mt_name = mt.rsplit('/').next().unwrap_or(mt);
                inst["machineType"] = json!(format!(
                    "{BASE}/projects/{project}/zones/{zone}/machineTypes/{mt_name}"
                ));
                if let Some(nic) = inst["networkInterfaces"].get_mut(0) {
                    nic["networkIP"] = json!(format!("10.128.{}.{}", id / 250, id % 250 + 2));
                    nic["name"] = json!("nic0");
                    if let Some(ac) = nic["accessConfigs"].get_mut(0) {
                        ac["natIP"] = json!(format!("34.1.{}.{}", id / 250, id % 250 + 2));
                    }
                }
                st.instances.insert(key.clone(), inst);
                let op = st.new_op(
                    &project,
                    Some(&zone),
                    "insert",
                    self_link,
                    Effect::Status(key, "RUNNING"),
                    None,
                );
                ResponseTemplate::new(200).set_body_json(op)
            }
            ("GET", ["zones", zone, "instances", name]) => {
                let key = (project.clone(), zone.to_string(), name.to_string());
                match st.instances.get(&key) {
                    Some(i) => ResponseTemplate::new(200).set_body_json(i),
                    None => not_found(&format!("projects/{project}/zones/{zone}/instances/{name}")),
                }
            }
            (m @ ("POST" | "DELETE"), ["zones", zone, "instances", name, action @ ..]) => {
                let key = (project.clone(), zone.to_string(), name.to_string());
                let self_link = format!("{BASE}/projects/{project}/zones/{zone}/instances/{name}");
                let Some(inst) = st.instances.get_mut(&key) else {
                    return not_found(&format!("projects/{project}/zones/{zone}/instances/{name}"));
                };
                let (op_type, now, effect) = match (m, action) {
                    ("DELETE", []) => ("delete", "STOPPING", Effect::Remove(key.clone())),
                    ("POST", ["stop"]) => (
                        "stop",
                        "STOPPING",
                        Effect::Status(key.clone(), "TERMINATED"),
                    ),
                    ("POST", ["start"]) => {
                        ("start", "STAGING", Effect::Status(key.clone(), "RUNNING"))
                    }
                    _ => return not_found(&path),
                };
                inst["status"] = json!(now);
                let op = st.new_op(&project, Some(zone), op_type, self_link, effect, None);
                ResponseTemplate::new(200).set_body_json(op)
            }
            ("GET", ["zones", _, "operations", op]) | ("GET", ["global", "operations", op]) => {
                match st.finish(op) {
                    Some(json) => ResponseTemplate::new(200).set_body_json(json),
                    None => not_found(&path),
                }
            }
            ("POST", ["global", "firewalls"]) => {
                let Some(name) = body["name"].as_str().map(str::to_string) else {
                    return error_body(
                        400,
                        "required",
                        "Required field 'resource.name' not specified",
                    );
                };
                let key = (project.clone(), name.clone());
                if st.firewalls.contains_key(&key) {
                    return error_body(
                        409,
                        "alreadyExists",
                        &format!(
                            "The resource 'projects/{project}/global/firewalls/{name}' already exists"
                        ),
                    );
                }
                let link = format!("{BASE}/projects/{project}/global/firewalls/{name}");
                let mut fw = body.clone();
                fw["kind"] = json!("compute#firewall");
                fw["selfLink"] = json!(link.clone());
                st.firewalls.insert(key, fw);
                let op = st.new_op(&project, None, "insert", link, Effect::None, None);
                ResponseTemplate::new(200).set_body_json(op)
            }
            ("GET", ["global", "firewalls", name]) => {
                match st.firewalls.get(&(project.clone(), name.to_string())) {
                    Some(fw) => ResponseTemplate::new(200).set_body_json(fw),
                    None => not_found(&format!("projects/{project}/global/firewalls/{name}")),
                }
            }
            (m @ ("PUT" | "PATCH" | "DELETE"), ["global", "firewalls", name]) => {
                let key = (project.clone(), name.to_string());
                let link = format!("{BASE}/projects/{project}/global/firewalls/{name}");
                if !st.firewalls.contains_key(&key) {
                    return not_found(&format!("projects/{project}/global/firewalls/{name}"));
                }
                let (op_type, effect) = if m == "DELETE" {
                    (
                        "delete",
                        Effect::RemoveFirewall(key.0.clone(), key.1.clone()),
                    )
                } else {
                    let mut fw = body.clone();
                    fw["kind"] = json!("compute#firewall");
                    fw["selfLink"] = json!(link.clone());
                    st.firewalls.insert(key, fw);
                    ("update", Effect::None)
                };
                let op = st.new_op(&project, None, op_type, link, effect, None);
                ResponseTemplate::new(200).set_body_json(op)
            }
            _ => error_body(
                400,
                "invalid",
                &format!("the local Compute Engine server does not serve {method} {path}"),
            ),
        }
    }
}
