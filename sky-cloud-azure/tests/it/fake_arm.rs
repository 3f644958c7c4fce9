//! A local Azure Resource Manager: a wiremock server with one stateful responder that
//! answers with the shapes of Microsoft's REST reference (resource groups, virtual networks,
//! NSGs, public IPs, NICs, VMs with instance views, usages, resource SKUs), runs every
//! mutation as a long-running operation (alternating `Azure-AsyncOperation` and `Location`),
//! checks the bearer token, and fails VM creations from a fault script.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The token the fake accepts.
pub const TOKEN: &str = "fake-arm-token";
/// The subscription the fake knows.
pub const SUB: &str = "00000000-0000-0000-0000-00000000cafe";

/// How a scripted fault is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The PUT itself fails with this HTTP status and `{"error": {...}}`.
    Immediate(u16),
    /// The PUT is accepted (201 + `Azure-AsyncOperation`) and the operation fails.
    Async,
    /// The PUT is accepted (201 + `Location`) and polling the location answers this HTTP
    /// status with the error body.
    Location(u16),
}

/// One scripted VM-creation failure.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Only in this region (any when `None`).
    pub region: Option<String>,
    pub code: String,
    pub message: String,
    pub delivery: Delivery,
    /// `Retry-After` seconds on an immediate failure.
    pub retry_after: Option<u32>,
}

impl Fault {
    pub fn immediate(status: u16, code: &str) -> Self {
        Fault {
            region: None,
            code: code.into(),
            message: format!("scripted {code}"),
            delivery: Delivery::Immediate(status),
            retry_after: None,
        }
    }

    pub fn failed_location(status: u16, code: &str) -> Self {
        Fault {
            delivery: Delivery::Location(status),
            ..Fault::failed_operation(code)
        }
    }

    pub fn failed_operation(code: &str) -> Self {
        Fault {
            region: None,
            code: code.into(),
            message: format!("scripted {code}"),
            delivery: Delivery::Async,
            retry_after: None,
        }
    }

    pub fn in_region(mut self, r: &str) -> Self {
        self.region = Some(r.into());
        self
    }

    pub fn message(mut self, m: &str) -> Self {
        self.message = m.into();
        self
    }

    pub fn retry_after(mut self, s: u32) -> Self {
        self.retry_after = Some(s);
        self
    }
}

/// One VM creation the fake saw (successful or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmCreation {
    pub region: String,
    pub name: String,
    pub size: String,
    pub spot: bool,
    pub image: Value,
    pub ssh_keys: Vec<String>,
    pub disk_gb: u64,
    /// The fault code, when it failed.
    pub failed: Option<String>,
}

#[derive(Clone, Debug)]
struct Sku {
    family: String,
    vcpus: u64,
    generations: String,
}

#[derive(Debug)]
enum Effect {
    None,
    SetVm {
        rg: String,
        key: String,
        prov: &'static str,
        power: &'static str,
    },
    RemoveGroup(String),
}

#[derive(Debug)]
struct Op {
    polls_left: u32,
    /// Code, message and, for the `Location` protocol, the HTTP status of the failure.
    error: Option<(String, String, Option<u16>)>,
    effect: Effect,
}

#[derive(Debug, Default)]
struct Group {
    name: String,
    location: String,
    tags: Value,
    deleting: bool,
    /// Lower-cased `{type}/{name}` (e.g. `microsoft.compute/virtualmachines/c-0`) → resource.
    resources: BTreeMap<String, Value>,
    /// VM key → power state (`running`, `deallocated`, ...).
    power: BTreeMap<String, String>,
    next_ip: u32,
}

#[derive(Debug, Default)]
struct State {
    base: String,
    groups: BTreeMap<String, Group>,
    ops: BTreeMap<u64, Op>,
    next_op: u64,
    next_public: u32,
    faults: VecDeque<Fault>,
    creations: Vec<VmCreation>,
    skus: BTreeMap<String, Sku>,
    /// (region, usage name) → limit.
    limits: BTreeMap<(String, String), i64>,
    lro_async: u32,
    lro_location: u32,
    /// Make the usages API answer 500 (the pre-check must then be skipped).
    usages_broken: bool,
    requests: u32,
    /// Every list is served in pages of this many entries, ARM's `{"value": [...],
    /// "nextLink": "..."}` (no paging when `None`).
    page_size: Option<usize>,
    /// Every request: (method, path).
    log: Vec<(String, String)>,
    /// VM creations of a size of this SKU family fail with ARM's family quota error (as a
    /// family with no quota left does).
    full_family: Option<String>,
}

/// The fake ARM server and a handle on its state.
pub struct FakeArm {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.0.lock().unwrap();
        st.requests += 1;
        st.log
            .push((req.method.as_str().to_string(), req.url.path().to_string()));
        st.handle(req)
    }
}

impl FakeArm {
    pub async fn start() -> FakeArm {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            base: server.uri(),
            next_public: 1,
            ..Default::default()
        }));
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        FakeArm { server, state }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Adds a VM size to the resource SKUs API.
    pub fn sku(&self, size: &str, family: &str, vcpus: u64, generations: &str) -> &Self {
        self.state.lock().unwrap().skus.insert(
            size.to_string(),
            Sku {
                family: family.into(),
                vcpus,
                generations: generations.into(),
            },
        );
        self
    }

    /// Sets a usage limit (`cores`, `lowPriorityCores` or a family) in a region (`*`: every
    /// region without its own).
    pub fn limit(&self, region: &str, usage: &str, limit: i64) -> &Self {
        self.state
            .lock()
            .unwrap()
            .limits
            .insert((region.to_string(), usage.to_string()), limit);
        self
    }

    /// Serves every list in pages of `n` entries.
    pub fn page_size(&self, n: usize) -> &Self {
        self.state.lock().unwrap().page_size = Some(n);
        self
    }

    /// The PUTs the fake received (paths).
    pub fn puts(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(m, _)| m == "PUT")
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The GETs of `path` suffix the fake received (every page counts).
    pub fn gets_ending(&self, suffix: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(m, p)| m == "GET" && p.to_lowercase().ends_with(&suffix.to_lowercase()))
            .count()
    }

    /// (region, size) of every VM creation, in order.
    pub fn attempts(&self) -> Vec<(String, String)> {
        self.creations()
            .into_iter()
            .map(|c| (c.region, c.size))
            .collect()
    }

    /// Every creation of a size whose SKU family is `family` fails with the documented 409
    /// `OperationNotAllowed` family quota error.
    pub fn fill_family(&self, family: &str) {
        self.state.lock().unwrap().full_family = Some(family.into());
    }

    pub fn break_usages(&self) {
        self.state.lock().unwrap().usages_broken = true;
    }

    pub fn push_fault(&self, f: Fault) {
        self.state.lock().unwrap().faults.push_back(f);
    }

    pub fn creations(&self) -> Vec<VmCreation> {
        self.state.lock().unwrap().creations.clone()
    }

    /// Names of the resource groups that exist (deleting ones included).
    pub fn groups(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .groups
            .values()
            .map(|g| g.name.clone())
            .collect()
    }

    /// Every resource in every group: lower-cased `{type}/{name}`.
    pub fn resources(&self) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.groups
            .values()
            .flat_map(|g| g.resources.keys().cloned())
            .collect()
    }

    /// A resource's JSON, by group and lower-cased `{type}/{name}`.
    pub fn resource(&self, rg: &str, key: &str) -> Option<Value> {
        let st = self.state.lock().unwrap();
        st.groups
            .get(&rg.to_lowercase())
            .and_then(|g| g.resources.get(&key.to_lowercase()).cloned())
    }

    /// (async-operation LROs, Location LROs) issued.
    pub fn lro_counts(&self) -> (u32, u32) {
        let st = self.state.lock().unwrap();
        (st.lro_async, st.lro_location)
    }

    pub fn faults_left(&self) -> usize {
        self.state.lock().unwrap().faults.len()
    }
}

fn err(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": code, "message": message}}))
}

fn ok(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

impl State {
    /// One page of a list: `$skiptoken` is the offset; `nextLink` is the absolute URL of the
    /// next page (the same query with the next offset), as ARM pages.
    fn page(&self, req: &Request, value: Vec<Value>) -> ResponseTemplate {
        let Some(size) = self.page_size else {
            return ok(json!({ "value": value }));
        };
        let skip: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "$skiptoken")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = value.iter().skip(skip).take(size).cloned().collect();
        if skip + size >= value.len() {
            return ok(json!({ "value": page }));
        }
        // The absolute URL on this server (wiremock's request URL names no port).
        let mut next =
            wiremock::http::Url::parse(&format!("{}{}", self.base, req.url.path())).expect("url");
        let pairs: Vec<(String, String)> = req
            .url
            .query_pairs()
            .filter(|(k, _)| k != "$skiptoken")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        next.query_pairs_mut()
            .extend_pairs(pairs)
            .append_pair("$skiptoken", &(skip + size).to_string());
        ok(json!({ "value": page, "nextLink": next.as_str() }))
    }
}

impl State {
    fn handle(&mut self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer {TOKEN}") {
            return err(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            );
        }
        let path = req.url.path().to_string();
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let method = req.method.as_str();
        if let ["fake", kind, id] = segs.as_slice() {
            return self.poll(kind, id.parse().unwrap_or(u64::MAX));
        }
        if !req.url.query().unwrap_or("").contains("api-version=") {
            return err(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
        }
        let lower: Vec<String> = segs.iter().map(|s| s.to_lowercase()).collect();
        let l: Vec<&str> = lower.iter().map(String::as_str).collect();
        match l.as_slice() {
            ["subscriptions", s, ..] if *s != SUB.to_lowercase() => err(
                404,
                "SubscriptionNotFound",
                &format!("The subscription '{}' could not be found.", segs[1]),
            ),
            ["subscriptions", _] if method == "GET" => ok(json!({
                "id": format!("/subscriptions/{SUB}"),
                "subscriptionId": SUB,
                "displayName": "fake subscription",
                "state": "Enabled"
            })),
            ["subscriptions", _, "providers", "microsoft.compute", "skus"] if method == "GET" => {
                self.skus_list(req)
            }
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.compute",
                "locations",
                loc,
                "usages",
            ] if method == "GET" => self.usages(req, loc),
            ["subscriptions", _, "resourcegroups", rg] => {
                let rg_name = segs[3].to_string();
                match method {
                    "PUT" => self.put_group(rg, &rg_name, req),
                    "GET" => match self.groups.get(*rg) {
                        Some(g) => ok(self.group_json(g)),
                        None => err(
                            404,
                            "ResourceGroupNotFound",
                            &format!("Resource group '{rg_name}' could not be found."),
                        ),
                    },
                    "DELETE" => self.delete_group(rg),
                    _ => err(405, "MethodNotAllowed", method),
                }
            }
            [
                "subscriptions",
                _,
                "resourcegroups",
                rg,
                "providers",
                ns,
                ty,
            ] if method == "GET" => {
                let prefix = format!("{ns}/{ty}/");
                match self.groups.get(*rg) {
                    None => err(
                        404,
                        "ResourceGroupNotFound",
                        &format!("Resource group '{}' could not be found.", segs[3]),
                    ),
                    Some(g) => {
                        let value: Vec<Value> = g
                            .resources
                            .iter()
                            .filter(|(k, _)| {
                                k.starts_with(&prefix) && k[prefix.len()..].find('/').is_none()
                            })
                            .map(|(_, v)| v.clone())
                            .collect();
                        self.page(req, value)
                    }
                }
            }
            [
                "subscriptions",
                _,
                "resourcegroups",
                rg,
                "providers",
                ns,
                ty,
                name,
            ] => {
                let key = format!("{ns}/{ty}/{name}");
                let id = format!(
                    "/subscriptions/{SUB}/resourceGroups/{}/providers/{}/{}/{}",
                    segs[3], segs[5], segs[6], segs[7]
                );
                match method {
                    "PUT" => self.put_resource(
                        rg,
                        &key,
                        &id,
                        segs[7],
                        &format!("{}/{}", segs[5], segs[6]),
                        req,
                    ),
                    "GET" => match self.groups.get(*rg).and_then(|g| g.resources.get(&key)) {
                        Some(v) => ok(v.clone()),
                        None => err(
                            404,
                            "ResourceNotFound",
                            &format!(
                                "The Resource '{}/{}/{}' under resource group '{}' was not found.",
                                segs[5], segs[6], segs[7], segs[3]
                            ),
                        ),
                    },
                    _ => err(405, "MethodNotAllowed", method),
                }
            }
            [
                "subscriptions",
                _,
                "resourcegroups",
                rg,
                "providers",
                "microsoft.compute",
                "virtualmachines",
                name,
                action,
            ] => {
                let key = format!("microsoft.compute/virtualmachines/{name}");
                let Some(g) = self.groups.get(*rg) else {
                    return err(404, "ResourceGroupNotFound", "no such resource group");
                };
                let Some(vm) = g.resources.get(&key) else {
                    return err(
                        404,
                        "ResourceNotFound",
                        &format!(
                            "The Resource 'Microsoft.Compute/virtualMachines/{}' was not found.",
                            segs[7]
                        ),
                    );
                };
                match (method, *action) {
                    ("GET", "instanceview") => {
                        let prov = vm["properties"]["provisioningState"]
                            .as_str()
                            .unwrap_or("Succeeded")
                            .to_lowercase();
                        let power = g
                            .power
                            .get(&key)
                            .cloned()
                            .unwrap_or_else(|| "running".into());
                        ok(json!({ "statuses": [
                            { "code": format!("ProvisioningState/{prov}"), "level": "Info" },
                            { "code": format!("PowerState/{power}"), "level": "Info" }
                        ]}))
                    }
                    ("POST", "deallocate") => {
                        self.set_power(rg, &key, "Updating", "deallocating");
                        let eff = Effect::SetVm {
                            rg: rg.to_string(),
                            key,
                            prov: "Succeeded",
                            power: "deallocated",
                        };
                        self.accept(202, Value::Null, None, eff)
                    }
                    ("POST", "start") => {
                        self.set_power(rg, &key, "Updating", "starting");
                        let eff = Effect::SetVm {
                            rg: rg.to_string(),
                            key,
                            prov: "Succeeded",
                            power: "running",
                        };
                        self.accept(202, Value::Null, None, eff)
                    }
                    _ => err(405, "MethodNotAllowed", &format!("{method} {action}")),
                }
            }
            _ => err(404, "NotFound", &format!("no route for {method} {path}")),
        }
    }

    fn set_power(&mut self, rg: &str, key: &str, prov: &str, power: &str) {
        if let Some(g) = self.groups.get_mut(rg) {
            g.power.insert(key.to_string(), power.to_string());
            if let Some(vm) = g.resources.get_mut(key) {
                vm["properties"]["provisioningState"] = json!(prov);
            }
        }
    }

    /// Accepts a mutation as a long-running operation; alternates the two protocols unless
    /// `error` forces `Azure-AsyncOperation` (the failure travels in the status document).
    fn accept(
        &mut self,
        status: u16,
        body: Value,
        error: Option<(String, String, Option<u16>)>,
        effect: Effect,
    ) -> ResponseTemplate {
        self.next_op += 1;
        let id = self.next_op;
        let use_async = match &error {
            Some((_, _, status)) => status.is_none(),
            None => id % 2 == 1,
        };
        self.ops.insert(
            id,
            Op {
                polls_left: 1,
                error,
                effect,
            },
        );
        let mut t = ResponseTemplate::new(status).insert_header("Retry-After", "1");
        if use_async {
            self.lro_async += 1;
            t = t.insert_header(
                "Azure-AsyncOperation",
                format!("{}/fake/operations/{id}", self.base).as_str(),
            );
        } else {
            self.lro_location += 1;
            t = t.insert_header(
                "Location",
                format!("{}/fake/locations/{id}", self.base).as_str(),
            );
        }
        if body.is_null() {
            t
        } else {
            t.set_body_json(body)
        }
    }

    fn poll(&mut self, kind: &str, id: u64) -> ResponseTemplate {
        let Some(op) = self.ops.get_mut(&id) else {
            return err(404, "NotFound", "no such operation");
        };
        if op.polls_left > 0 {
            op.polls_left -= 1;
            return if kind == "operations" {
                ok(json!({ "status": "InProgress" })).insert_header("Retry-After", "1")
            } else {
                ResponseTemplate::new(202).insert_header("Retry-After", "1")
            };
        }
        let op = self.ops.remove(&id).unwrap();
        match op.effect {
            Effect::None => {}
            Effect::SetVm {
                rg,
                key,
                prov,
                power,
            } => self.set_power(&rg, &key, prov, power),
            Effect::RemoveGroup(rg) => {
                self.groups.remove(&rg);
            }
        }
        match (kind, op.error) {
            ("operations", None) => ok(json!({ "status": "Succeeded" })),
            ("operations", Some((code, message, _))) => ok(json!({
                "status": "Failed",
                "error": { "code": code, "message": message }
            })),
            (_, None) => ResponseTemplate::new(200),
            (_, Some((code, message, status))) => err(status.unwrap_or(409), &code, &message),
        }
    }

    fn group_json(&self, g: &Group) -> Value {
        json!({
            "id": format!("/subscriptions/{SUB}/resourceGroups/{}", g.name),
            "name": g.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": g.location,
            "tags": g.tags,
            "properties": { "provisioningState": if g.deleting { "Deleting" } else { "Succeeded" } }
        })
    }

    fn put_group(&mut self, rg: &str, name: &str, req: &Request) -> ResponseTemplate {
        let Ok(body) = req.body_json::<Value>() else {
            return err(
                400,
                "InvalidRequestContent",
                "The request content was invalid and couldn't be deserialized.",
            );
        };
        let Some(location) = body["location"].as_str() else {
            return err(
                400,
                "LocationRequired",
                "The location property is required for this definition.",
            );
        };
        if let Some(g) = self.groups.get(rg) {
            if g.deleting {
                return err(
                    409,
                    "ResourceGroupBeingDeleted",
                    "The resource group is being deleted.",
                );
            }
            if !g.location.eq_ignore_ascii_case(location) {
                return err(
                    409,
                    "InvalidResourceGroupLocation",
                    "Invalid resource group location.",
                );
            }
            return ok(self.group_json(g));
        }
        let g = Group {
            name: name.to_string(),
            location: location.to_string(),
            tags: body["tags"].clone(),
            next_ip: 4,
            ..Default::default()
        };
        let v = self.group_json(&g);
        self.groups.insert(rg.to_string(), g);
        ResponseTemplate::new(201).set_body_json(v)
    }

    fn delete_group(&mut self, rg: &str) -> ResponseTemplate {
        match self.groups.get_mut(rg) {
            None => ResponseTemplate::new(204),
            Some(g) => {
                g.deleting = true;
                self.accept(202, Value::Null, None, Effect::RemoveGroup(rg.to_string()))
            }
        }
    }

    fn put_resource(
        &mut self,
        rg: &str,
        key: &str,
        id: &str,
        name: &str,
        ty: &str,
        req: &Request,
    ) -> ResponseTemplate {
        let Ok(mut body) = req.body_json::<Value>() else {
            return err(
                400,
                "InvalidRequestContent",
                "The request content was invalid and couldn't be deserialized.",
            );
        };
        let Some(g) = self.groups.get(rg) else {
            return err(
                404,
                "ResourceGroupNotFound",
                "Resource group could not be found.",
            );
        };
        if g.deleting {
            return err(
                409,
                "ResourceGroupBeingDeleted",
                "The resource group is being deleted.",
            );
        }
        let region = g.location.clone();
        if body["location"]
            .as_str()
            .map(|l| l.eq_ignore_ascii_case(&region))
            != Some(true)
        {
            return err(
                400,
                "InvalidParameter",
                "The location must match the resource group's.",
            );
        }
        let existed = g.resources.contains_key(key);
        body["id"] = json!(id);
        body["name"] = json!(name);
        body["type"] = json!(ty);
        let ty_l = ty.to_lowercase();
        if ty_l == "microsoft.network/networkinterfaces" {
            let cfgs = body["properties"]["ipConfigurations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if cfgs.is_empty() {
                return err(400, "InvalidParameter", "ipConfigurations is required.");
            }
            for c in &cfgs {
                let subnet = c["properties"]["subnet"]["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase();
                let vnet_key = subnet
                    .split("/providers/")
                    .nth(1)
                    .and_then(|s| s.split("/subnets/").next())
                    .unwrap_or("")
                    .to_string();
                if !g.resources.contains_key(&vnet_key) {
                    return err(
                        400,
                        "InvalidResourceReference",
                        &format!("Resource {subnet} referenced by resource {id} was not found."),
                    );
                }
                if let Some(pip) = c["properties"]["publicIPAddress"]["id"].as_str() {
                    let pk = pip
                        .to_lowercase()
                        .split("/providers/")
                        .nth(1)
                        .unwrap_or("")
                        .to_string();
                    if !g.resources.contains_key(&pk) {
                        return err(
                            400,
                            "InvalidResourceReference",
                            &format!("Resource {pip} referenced by resource {id} was not found."),
                        );
                    }
                }
            }
            let g = self.groups.get_mut(rg).unwrap();
            let keep = g.resources.get(key).cloned();
            let arr = body["properties"]["ipConfigurations"]
                .as_array_mut()
                .unwrap();
            for (i, c) in arr.iter_mut().enumerate() {
                let ip = keep
                    .as_ref()
                    .and_then(|k| {
                        k["properties"]["ipConfigurations"][i]["properties"]["privateIPAddress"]
                            .as_str()
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| {
                        g.next_ip += 1;
                        format!("10.0.0.{}", g.next_ip)
                    });
                c["properties"]["privateIPAddress"] = json!(ip);
            }
        } else if ty_l == "microsoft.network/publicipaddresses" {
            let keep = g
                .resources
                .get(key)
                .and_then(|k| k["properties"]["ipAddress"].as_str().map(str::to_string));
            let ip = keep.unwrap_or_else(|| {
                self.next_public += 1;
                format!("20.1.{}.{}", self.next_public / 250, self.next_public % 250)
            });
            body["properties"]["ipAddress"] = json!(ip);
        } else if ty_l == "microsoft.compute/virtualmachines" {
            return self.put_vm(rg, key, body, existed);
        }
        body["properties"]["provisioningState"] = json!("Succeeded");
        let g = self.groups.get_mut(rg).unwrap();
        g.resources.insert(key.to_string(), body.clone());
        self.accept(if existed { 200 } else { 201 }, body, None, Effect::None)
    }

    fn put_vm(&mut self, rg: &str, key: &str, mut body: Value, existed: bool) -> ResponseTemplate {
        let g = self.groups.get(rg).unwrap();
        let region = g.location.clone();
        let p = &body["properties"];
        let size = p["hardwareProfile"]["vmSize"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if size.is_empty() {
            return err(
                400,
                "InvalidParameter",
                "Required parameter 'hardwareProfile.vmSize' is missing (null).",
            );
        }
        let image = p["storageProfile"]["imageReference"].clone();
        if image.is_null() || p["osProfile"]["adminUsername"].as_str().is_none() {
            return err(
                400,
                "InvalidParameter",
                "Required parameter 'osProfile' or 'imageReference' is missing (null).",
            );
        }
        let nic = p["networkProfile"]["networkInterfaces"][0]["id"]
            .as_str()
            .unwrap_or("")
            .to_lowercase();
        let nic_key = nic.split("/providers/").nth(1).unwrap_or("").to_string();
        if !g.resources.contains_key(&nic_key) {
            return err(
                400,
                "InvalidResourceReference",
                &format!("Network interface {nic} was not found."),
            );
        }
        let spot = p["priority"].as_str() == Some("Spot");
        if spot && p["evictionPolicy"].as_str().is_none() {
            return err(
                400,
                "InvalidParameter",
                "evictionPolicy is required for Spot priority.",
            );
        }
        let ssh_keys: Vec<String> = p["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k["keyData"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let disk_gb = p["storageProfile"]["osDisk"]["diskSizeGB"]
            .as_u64()
            .unwrap_or(0);
        let name = body["name"].as_str().unwrap_or("").to_string();
        let idx = self.faults.iter().position(|f| {
            f.region
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case(&region))
        });
        let mut fault = idx.and_then(|i| self.faults.remove(i));
        let family_of = self.skus.get(&size).map(|s| s.family.clone());
        if fault.is_none()
            && let (Some(full), Some(f)) = (&self.full_family, &family_of)
            && full.eq_ignore_ascii_case(f)
        {
            fault = Some(Fault::immediate(409, "OperationNotAllowed").message(&format!(
                "Operation could not be completed as it results in exceeding approved {f} Cores quota. Additional details - Deployment Model: Resource Manager, Location: {region}, Current Limit: 0, Current Usage: 0, Additional Required: 2, (Minimum) New Limit Required: 2."
            )));
        }
        self.creations.push(VmCreation {
            region: region.clone(),
            name,
            size,
            spot,
            image,
            ssh_keys,
            disk_gb,
            failed: fault.as_ref().map(|f| f.code.clone()),
        });
        let family = family_of.unwrap_or_default();
        let fault = fault.map(|mut f| {
            f.message = f.message.replace("{family}", &family);
            f
        });
        if let Some(f) = &fault
            && let Delivery::Immediate(status) = f.delivery
        {
            let mut t = err(status, &f.code, &f.message);
            if let Some(s) = f.retry_after {
                t = t.insert_header("Retry-After", s.to_string().as_str());
            }
            return t;
        }
        body["properties"]["provisioningState"] = json!("Creating");
        body["properties"]["vmId"] = json!(format!("vm-{}", self.next_op + 1));
        let g = self.groups.get_mut(rg).unwrap();
        g.power.insert(key.to_string(), "starting".into());
        g.resources.insert(key.to_string(), body.clone());
        match fault {
            Some(f) => {
                // ARM keeps a VM whose creation failed, in provisioning state Failed.
                let eff = Effect::SetVm {
                    rg: rg.to_string(),
                    key: key.to_string(),
                    prov: "Failed",
                    power: "stopped",
                };
                let status = match f.delivery {
                    Delivery::Location(s) => Some(s),
                    _ => None,
                };
                self.accept(201, body, Some((f.code, f.message, status)), eff)
            }
            None => {
                let eff = Effect::SetVm {
                    rg: rg.to_string(),
                    key: key.to_string(),
                    prov: "Succeeded",
                    power: "running",
                };
                self.accept(if existed { 200 } else { 201 }, body, None, eff)
            }
        }
    }

    fn skus_list(&self, req: &Request) -> ResponseTemplate {
        let filter = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "$filter")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let loc = filter.split('\'').nth(1).unwrap_or("").to_string();
        let value: Vec<Value> = self
            .skus
            .iter()
            .map(|(name, s)| {
                json!({
                    "resourceType": "virtualMachines",
                    "name": name,
                    "tier": "Standard",
                    "size": name.trim_start_matches("Standard_"),
                    "family": s.family,
                    "locations": [loc],
                    "capabilities": [
                        { "name": "vCPUs", "value": s.vcpus.to_string() },
                        { "name": "HyperVGenerations", "value": s.generations }
                    ],
                    "restrictions": []
                })
            })
            .collect();
        self.page(req, value)
    }

    fn usages(&self, req: &Request, loc: &str) -> ResponseTemplate {
        if self.usages_broken {
            return err(500, "InternalServerError", "usages are down");
        }
        // Current values from the allocated VMs of the region.
        let mut current: BTreeMap<String, i64> = BTreeMap::new();
        for g in self
            .groups
            .values()
            .filter(|g| g.location.eq_ignore_ascii_case(loc))
        {
            for (k, vm) in g
                .resources
                .iter()
                .filter(|(k, _)| k.starts_with("microsoft.compute/virtualmachines/"))
            {
                if matches!(g.power.get(k).map(String::as_str), Some("deallocated")) {
                    continue;
                }
                let size = vm["properties"]["hardwareProfile"]["vmSize"]
                    .as_str()
                    .unwrap_or("");
                let Some(s) = self.skus.get(size) else {
                    continue;
                };
                let n = s.vcpus as i64;
                if vm["properties"]["priority"].as_str() == Some("Spot") {
                    *current.entry("lowPriorityCores".into()).or_default() += n;
                } else {
                    *current.entry("cores".into()).or_default() += n;
                    *current.entry(s.family.clone()).or_default() += n;
                }
            }
        }
        let mut names: Vec<String> = vec!["cores".into(), "lowPriorityCores".into()];
        names.extend(self.skus.values().map(|s| s.family.clone()));
        names.sort();
        names.dedup();
        let value: Vec<Value> = names
            .iter()
            .map(|n| {
                let limit = self
                    .limits
                    .get(&(loc.to_string(), n.clone()))
                    .or_else(|| self.limits.get(&("*".to_string(), n.clone())))
                    .copied()
                    .unwrap_or(1000);
                json!({
                    "unit": "Count",
                    "currentValue": current.get(n).copied().unwrap_or(0),
                    "limit": limit,
                    "name": { "value": n, "localizedValue": n }
                })
            })
            .collect();
        self.page(req, value)
    }
}
