//! Scripted faults: rules that make provider operations fail, in the style of
//! aws-smithy-mocks rules (match an operation and a placement, answer with an outcome,
//! `times(n)` or a sequence).

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cloud::CloudId;
use crate::error::{Error, ErrorKind, Placement, QuotaCover, Scope};
use crate::fake::chaos::{Chaos, ChaosConfig};

/// A provider operation, as named by [`crate::provision::Provisioner`]'s methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `bootstrap`.
    Bootstrap,
    /// `run_instances`.
    RunInstances,
    /// `wait_instances`.
    WaitInstances,
    /// `query_instances`.
    QueryInstances,
    /// `cluster_info`.
    ClusterInfo,
    /// `stop_instances`.
    StopInstances,
    /// `start_instances`.
    StartInstances,
    /// `terminate_instances`.
    TerminateInstances,
    /// `open_ports`.
    OpenPorts,
}

impl Op {
    /// Every operation, in trait order.
    pub const ALL: [Op; 9] = [
        Op::Bootstrap,
        Op::RunInstances,
        Op::WaitInstances,
        Op::QueryInstances,
        Op::ClusterInfo,
        Op::StopInstances,
        Op::StartInstances,
        Op::TerminateInstances,
        Op::OpenPorts,
    ];

    /// The trait method's name (`run_instances`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Bootstrap => "bootstrap",
            Op::RunInstances => "run_instances",
            Op::WaitInstances => "wait_instances",
            Op::QueryInstances => "query_instances",
            Op::ClusterInfo => "cluster_info",
            Op::StopInstances => "stop_instances",
            Op::StartInstances => "start_instances",
            Op::TerminateInstances => "terminate_instances",
            Op::OpenPorts => "open_ports",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error an injected fault produces.
///
/// Its scope defaults to [`Error::default_scope`] of the kind; its placement is the call's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The error kind.
    pub kind: ErrorKind,
    /// The blast radius; `None` = the kind's default.
    pub scope: Option<Scope>,
    /// The provider code to report (e.g. `InsufficientInstanceCapacity`).
    pub code: Option<String>,
    /// The message; `None` = a generated one naming the operation.
    pub message: Option<String>,
    /// For [`Op::RunInstances`]: create this many of the missing nodes before failing
    /// (a partial failure the caller must clean up). Ignored by other operations.
    pub after_nodes: Option<u32>,
    /// The exceeded quota and what it covers ([`Error::with_quota`]).
    pub quota: Option<QuotaCover>,
}

impl Failure {
    /// A failure of `kind` with the default scope, no code, a generated message.
    pub fn new(kind: ErrorKind) -> Self {
        Failure {
            kind,
            scope: None,
            code: None,
            message: None,
            after_nodes: None,
            quota: None,
        }
    }

    /// Sets the provider code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the scope.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Sets the message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Creates `k` nodes before failing (run_instances only).
    pub fn after_nodes(mut self, k: u32) -> Self {
        self.after_nodes = Some(k);
        self
    }

    /// The provider error this failure stands for, aimed at the call's placement.
    pub fn to_error(&self, call: &Call) -> Error {
        let message = self.message.clone().unwrap_or_else(|| {
            format!(
                "injected {} fault in {} of cluster {:?}",
                self.kind, call.op, call.cluster
            )
        });
        let mut e = Error::new(self.kind, message)
            .with_scope(self.scope.unwrap_or(Error::default_scope(self.kind)))
            .with_placement(call.placement.clone());
        if let Some(code) = &self.code {
            e = e.with_code(code.clone());
        }
        if let Some(q) = &self.quota {
            e = e.with_quota(q.clone());
        }
        e
    }

    /// Reports an exceeded quota covering `cover` (the kind becomes
    /// [`ErrorKind::Quota`]).
    pub fn quota(mut self, cover: QuotaCover) -> Self {
        self.kind = ErrorKind::Quota;
        self.quota = Some(cover);
        self
    }
}

/// One step of a [`Fault::sequence`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Let the call through to the real operation.
    Pass,
    /// Fail the call.
    Fail(Failure),
}

impl Outcome {
    /// Shorthand for `Outcome::Fail(Failure::new(kind))`.
    pub fn fail(kind: ErrorKind) -> Self {
        Outcome::Fail(Failure::new(kind))
    }
}

/// A scripted fault: which calls it matches and what they get.
///
/// A rule matches a call when the operation is its own (or it was built with
/// [`Fault::any_op`]) and every filter that is set (region, zone, instance type, market,
/// cluster) equals the call's. Rules are tried in the order they were added; the first one
/// that matches and is not used up decides the call. A call no rule decides goes to the seeded
/// chaos (if any), then to the real operation.
///
/// ```
/// use sky_core::error::{ErrorKind, Scope};
/// use sky_core::fake::{Fault, Op, Outcome};
///
/// // Two capacity errors in fake-east-1a, then that zone works.
/// let f = Fault::on(Op::RunInstances)
///     .zone("fake-east-1a")
///     .kind(ErrorKind::Capacity)
///     .code("InsufficientInstanceCapacity")
///     .times(2);
/// // Quota in a whole region, blocking the region.
/// let q = Fault::on(Op::RunInstances).region("fake-west-1").kind(ErrorKind::Quota);
/// assert_eq!(q.failure().scope, None); // the kind's default scope: Region
/// // A scripted sequence: transient, then success, then capacity.
/// let s = Fault::on(Op::StartInstances).sequence([
///     Outcome::fail(ErrorKind::Transient),
///     Outcome::Pass,
///     Outcome::fail(ErrorKind::Capacity),
/// ]);
/// # let _ = (f, s, Scope::Zone);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    op: Option<Op>,
    region: Option<String>,
    zone: Option<String>,
    instance_type: Option<String>,
    spot: Option<bool>,
    cluster: Option<String>,
    failure: Failure,
    times: Option<u32>,
    sequence: Option<Vec<Outcome>>,
}

impl Fault {
    /// A rule for `op`, failing with [`ErrorKind::Capacity`] every time until narrowed.
    pub fn on(op: Op) -> Self {
        Fault {
            op: Some(op),
            ..Fault::any_op()
        }
    }

    /// A rule that matches every operation.
    pub fn any_op() -> Self {
        Fault {
            op: None,
            region: None,
            zone: None,
            instance_type: None,
            spot: None,
            cluster: None,
            failure: Failure::new(ErrorKind::Capacity),
            times: None,
            sequence: None,
        }
    }

    /// Only calls aimed at `region`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Only calls aimed at `zone`.
    pub fn zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// Only launches of `instance_type` (calls that do not name one never match).
    pub fn instance_type(mut self, instance_type: impl Into<String>) -> Self {
        self.instance_type = Some(instance_type.into());
        self
    }

    /// Only spot (`true`) or on-demand (`false`) launches.
    pub fn spot(mut self, spot: bool) -> Self {
        self.spot = Some(spot);
        self
    }

    /// Only calls about the cluster named `name`.
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster = Some(name.into());
        self
    }

    /// A fault of the whole cloud: matches every region and zone, and its error has
    /// [`Scope::Cloud`] (like an expired credential).
    pub fn cloud_wide(mut self) -> Self {
        self.region = None;
        self.zone = None;
        self.failure.scope = Some(Scope::Cloud);
        self
    }

    /// The error kind (default [`ErrorKind::Capacity`]).
    pub fn kind(mut self, kind: ErrorKind) -> Self {
        self.failure.kind = kind;
        self
    }

    /// The provider code to report.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.failure.code = Some(code.into());
        self
    }

    /// The message to report.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.failure.message = Some(message.into());
        self
    }

    /// The error's scope (default: the kind's, see [`Error::default_scope`]).
    pub fn scope(mut self, scope: Scope) -> Self {
        self.failure.scope = Some(scope);
        self
    }

    /// Reports an exceeded quota covering `cover` ([`Failure::quota`]).
    pub fn quota(mut self, cover: QuotaCover) -> Self {
        self.failure = self.failure.quota(cover);
        self
    }

    /// Partial failure of [`Op::RunInstances`]: create `k` of the missing nodes, then fail.
    /// The created instances stay visible to `query_instances`.
    pub fn after_nodes(mut self, k: u32) -> Self {
        self.failure.after_nodes = Some(k);
        self
    }

    /// Fire only the first `n` matching calls (default: every matching call).
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Answer matching calls with these outcomes in order; when they are used up the rule no
    /// longer matches. Replaces the failure and `times` set by the other methods.
    pub fn sequence(mut self, outcomes: impl IntoIterator<Item = Outcome>) -> Self {
        self.sequence = Some(outcomes.into_iter().collect());
        self
    }

    /// The failure this rule produces when it is not a sequence.
    pub fn failure(&self) -> &Failure {
        &self.failure
    }

    fn matches(&self, call: &Call) -> bool {
        fn eq(filter: &Option<String>, value: Option<&str>) -> bool {
            filter.as_deref().is_none_or(|f| Some(f) == value)
        }
        self.op.is_none_or(|op| op == call.op)
            && eq(&self.region, call.placement.region.as_deref())
            && eq(&self.zone, call.placement.zone.as_deref())
            && eq(&self.instance_type, call.placement.instance_type.as_deref())
            && self.spot.is_none_or(|s| Some(s) == call.spot)
            && eq(&self.cluster, Some(&call.cluster))
    }
}

/// One recorded provider call, with where it was aimed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Position in the log, from 0.
    pub seq: u64,
    /// The operation.
    pub op: Op,
    /// The cluster name.
    pub cluster: String,
    /// Cloud, region, zone and (for launches) instance type.
    pub placement: Placement,
    /// Market, for launches.
    pub spot: Option<bool>,
    /// Nodes requested, for launches.
    pub num_nodes: Option<u32>,
    /// The error kind, if the call failed.
    pub error: Option<ErrorKind>,
    /// Whether the error was injected (by a rule or chaos) rather than the backend's own.
    pub injected: bool,
}

impl Call {
    /// A call record for `op` about `cluster` in `region`/`zone` (not yet numbered).
    pub(crate) fn new(
        op: Op,
        cloud: CloudId,
        cluster: &str,
        region: &str,
        zone: Option<&str>,
    ) -> Self {
        Call {
            seq: 0,
            op,
            cluster: cluster.to_string(),
            placement: Placement {
                cloud: Some(cloud),
                region: Some(region.to_string()),
                zone: zone.map(str::to_string),
                instance_type: None,
            },
            spot: None,
            num_nodes: None,
            error: None,
            injected: false,
        }
    }

    /// Whether the call failed.
    pub fn is_err(&self) -> bool {
        self.error.is_some()
    }

    /// `region/zone` (or just the region), for failover-order assertions.
    pub fn location(&self) -> String {
        match (&self.placement.region, &self.placement.zone) {
            (Some(r), Some(z)) => format!("{r}/{z}"),
            (Some(r), None) => r.clone(),
            (None, Some(z)) => z.clone(),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug)]
struct Rule {
    fault: Fault,
    fired: u32,
    position: usize,
}

impl Rule {
    /// The rule's answer to a matching call, or `None` if it is used up.
    fn take(&mut self) -> Option<Outcome> {
        if let Some(seq) = &self.fault.sequence {
            let out = seq.get(self.position).cloned();
            self.position += out.is_some() as usize;
            return out;
        }
        if self.fault.times.is_some_and(|n| self.fired >= n) {
            return None;
        }
        self.fired += 1;
        Some(Outcome::Fail(self.fault.failure.clone()))
    }
}

#[derive(Debug, Default)]
struct InjectorState {
    rules: Vec<Rule>,
    chaos: Option<Chaos>,
    calls: Vec<Call>,
}

/// The rule engine and call log shared by [`crate::fake::FakeCloud`] and
/// [`crate::fake::Faulty`].
#[derive(Debug, Default)]
pub(crate) struct FaultInjector {
    state: Mutex<InjectorState>,
}

impl FaultInjector {
    pub(crate) fn new(faults: Vec<Fault>, chaos: Option<ChaosConfig>) -> Self {
        let inj = FaultInjector::default();
        for f in faults {
            inj.add(f);
        }
        if let Some(c) = chaos {
            inj.set_chaos(Some(c));
        }
        inj
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InjectorState> {
        // A panic while holding this lock cannot leave the state half-updated in a way that
        // matters to tests, so a poisoned lock is recovered.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add(&self, fault: Fault) {
        self.lock().rules.push(Rule {
            fault,
            fired: 0,
            position: 0,
        });
    }

    pub(crate) fn clear(&self) {
        let mut s = self.lock();
        s.rules.clear();
        s.chaos = None;
    }

    pub(crate) fn set_chaos(&self, chaos: Option<ChaosConfig>) {
        self.lock().chaos = chaos.map(Chaos::new);
    }

    /// Decides `call`: the failure to inject, if any.
    pub(crate) fn check(&self, call: &Call) -> Option<Failure> {
        let mut s = self.lock();
        for rule in s.rules.iter_mut().filter(|r| r.fault.matches(call)) {
            match rule.take() {
                Some(Outcome::Pass) => return None,
                Some(Outcome::Fail(f)) => return Some(f),
                None => continue,
            }
        }
        s.chaos.as_mut().and_then(|c| c.draw(call.op))
    }

    /// Appends `call` to the log, numbering it.
    pub(crate) fn record(&self, mut call: Call) {
        let mut s = self.lock();
        call.seq = s.calls.len() as u64;
        s.calls.push(call);
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    pub(crate) fn clear_calls(&self) {
        self.lock().calls.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(op: Op, zone: &str) -> Call {
        let mut c = Call::new(op, CloudId::Fake, "c", "fake-east-1", Some(zone));
        c.placement.instance_type = Some("fake.cpu8".into());
        c.spot = Some(false);
        c
    }

    #[test]
    fn times_limits_firing_and_filters_must_all_match() {
        let inj = FaultInjector::new(
            vec![
                Fault::on(Op::RunInstances)
                    .zone("fake-east-1a")
                    .code("InsufficientInstanceCapacity")
                    .times(2),
            ],
            None,
        );
        let a = call(Op::RunInstances, "fake-east-1a");
        let b = call(Op::RunInstances, "fake-east-1b");
        assert_eq!(inj.check(&b), None, "other zone must not match");
        assert_eq!(inj.check(&call(Op::Bootstrap, "fake-east-1a")), None);
        let f = inj.check(&a).expect("first call fails");
        assert_eq!(f.kind, ErrorKind::Capacity);
        let e = f.to_error(&a);
        assert_eq!(e.code(), Some("InsufficientInstanceCapacity"));
        assert_eq!(e.scope(), Scope::Zone);
        assert_eq!(e.placement().zone.as_deref(), Some("fake-east-1a"));
        assert!(inj.check(&a).is_some());
        assert_eq!(inj.check(&a), None, "used up after two");
    }

    #[test]
    fn sequence_is_consumed_in_order_and_first_live_rule_wins() {
        let inj = FaultInjector::new(
            vec![
                Fault::on(Op::StartInstances)
                    .sequence([Outcome::fail(ErrorKind::Transient), Outcome::Pass]),
                Fault::any_op().kind(ErrorKind::Auth).cloud_wide().times(1),
            ],
            None,
        );
        let c = call(Op::StartInstances, "fake-east-1a");
        assert_eq!(inj.check(&c).map(|f| f.kind), Some(ErrorKind::Transient));
        assert_eq!(inj.check(&c), None, "Pass lets the call through");
        let f = inj.check(&c).expect("sequence used up: next rule decides");
        assert_eq!(f.kind, ErrorKind::Auth);
        assert_eq!(f.to_error(&c).scope(), Scope::Cloud);
        assert_eq!(inj.check(&c), None);
    }

    #[test]
    fn instance_type_and_spot_filters_need_the_call_to_name_them() {
        let rule = Fault::on(Op::RunInstances)
            .instance_type("fake.cpu8")
            .spot(true);
        let mut c = call(Op::RunInstances, "fake-east-1a");
        assert!(!rule.matches(&c), "on-demand call");
        c.spot = Some(true);
        assert!(rule.matches(&c));
        c.placement.instance_type = None;
        assert!(!rule.matches(&c), "call without an instance type");
        assert_eq!(Op::ALL.len(), 9);
        assert_eq!(Op::OpenPorts.to_string(), "open_ports");
    }
}
