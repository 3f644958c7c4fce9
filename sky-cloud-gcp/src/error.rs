//! Compute Engine errors → sky's [`ErrorKind`] and [`Scope`]: the one table that drives
//! failover on GCP.
//!
//! Compute Engine reports a failure in one of two places, and [`classify`] reads both:
//! - an HTTP error on the call itself (`{"error":{"code":403,"message":..,"errors":[{"reason":
//!   "quotaExceeded"}]}}`), surfaced by the client as a [`google_cloud_gax::error::Error`]
//!   ([`GceFault::from_gax`]);
//! - an operation that finishes `DONE` with an `error` (`{"errors":[{"code":
//!   "ZONE_RESOURCE_POOL_EXHAUSTED", "message": ..}]}`): the client's poller returns such an
//!   operation as `Ok`, so the provisioner turns it into a fault ([`GceFault::from_operation`]).
//!
//! Every arm of [`classify`] quotes the Google documentation it follows.

use google_cloud_compute_v1::model::Operation;
use google_cloud_gax::error::rpc::StatusDetails;
use sky_core::error::{Error, ErrorKind, Placement, QuotaCover, Scope};

use crate::quota::{QuotaFacts, cover_of, is_global, quota_name};

/// A Compute Engine failure, reduced to what the table reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GceFault {
    /// The HTTP status (of the call, or `httpErrorStatusCode` of a failed operation).
    pub http_status: Option<u16>,
    /// The machine-readable codes: `errors[].reason` of an HTTP error (`quotaExceeded`),
    /// `error.errors[].code` of an operation (`ZONE_RESOURCE_POOL_EXHAUSTED`), and the
    /// canonical status (`PERMISSION_DENIED`) when present.
    pub codes: Vec<String>,
    /// The human-readable message(s), joined.
    pub message: String,
    /// What the structured details say about an exceeded quota (operation
    /// `errorDetails[].quotaInfo`, `ErrorInfo` metadata, `QuotaFailure` violations), if any.
    pub quota: Option<QuotaFacts>,
}

impl GceFault {
    /// A fault from the client's error: HTTP status, the `errors[].reason`s (the client keeps
    /// them as `ErrorInfo` details) and the message.
    pub fn from_gax(e: &google_cloud_gax::error::Error) -> Self {
        let mut codes = Vec::new();
        let mut message = String::new();
        let mut quota = QuotaFacts::default();
        if let Some(status) = e.status() {
            message = status.message.clone();
            for d in &status.details {
                match d {
                    StatusDetails::ErrorInfo(info) => {
                        if !info.reason.is_empty() {
                            codes.push(info.reason.clone());
                        }
                        quota.merge(QuotaFacts::from_metadata(&info.metadata));
                    }
                    StatusDetails::QuotaFailure(q) => {
                        for v in &q.violations {
                            if !v.description.is_empty() && !message.contains(&v.description) {
                                message.push_str(&format!("; {} {}", v.subject, v.description));
                            }
                            let mut f = QuotaFacts::from_metadata(&v.quota_dimensions);
                            f.metric = Some(v.quota_metric.clone()).filter(|m| !m.is_empty());
                            f.limit = Some(v.quota_id.clone()).filter(|l| !l.is_empty());
                            quota.merge(f);
                        }
                    }
                    _ => {}
                }
            }
            let name = status.code.name();
            if name != "UNKNOWN" && name != "OK" {
                codes.push(name.to_string());
            }
        }
        if message.is_empty() {
            message = e.to_string();
        }
        GceFault {
            http_status: e.http_status_code(),
            codes,
            message,
            quota: Some(quota).filter(|q| !q.is_empty()),
        }
    }

    /// A fault from an operation that finished with an `error`; `None` if it has none.
    pub fn from_operation(op: &Operation) -> Option<Self> {
        let err = op.error.as_ref()?;
        if err.errors.is_empty() {
            return None;
        }
        let codes = err.errors.iter().filter_map(|e| e.code.clone()).collect();
        let message = err
            .errors
            .iter()
            .filter_map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        let mut quota = QuotaFacts::default();
        for d in err.errors.iter().flat_map(|e| &e.error_details) {
            if let Some(q) = &d.quota_info {
                quota.merge(QuotaFacts {
                    metric: q.metric_name.clone(),
                    limit: q.limit_name.clone(),
                    dimensions: q
                        .dimensions
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                });
            }
            if let Some(info) = &d.error_info {
                quota.merge(QuotaFacts::from_metadata(&info.metadatas));
            }
        }
        Some(GceFault {
            http_status: op
                .http_error_status_code
                .and_then(|c| u16::try_from(c).ok()),
            codes,
            message,
            quota: Some(quota).filter(|q| !q.is_empty()),
        })
    }

    fn has(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c.eq_ignore_ascii_case(code))
    }

    fn says(&self, text: &str) -> bool {
        self.message
            .to_ascii_lowercase()
            .contains(&text.to_ascii_lowercase())
    }

    /// The code shown to users: the first specific one.
    pub fn code(&self) -> Option<&str> {
        self.codes.first().map(String::as_str)
    }

    /// The name of the exceeded quota (`N2_CPUS`), from the structured details or the
    /// message; `None` when the fault names none.
    pub fn quota_name(&self) -> Option<String> {
        quota_name(self.quota.as_ref(), &self.message)
    }

    /// What the exceeded quota covers, for a quota fault that names a quota sky knows (see
    /// [`crate::quota`]).
    pub fn quota_cover(&self) -> Option<QuotaCover> {
        if classify(self).0 != ErrorKind::Quota {
            return None;
        }
        let name = self.quota_name()?;
        cover_of(&name, is_global(Some(&name), &self.message))
    }

    /// The sky error for this fault at `at` (see [`classify`]); a quota fault carries what
    /// its quota covers ([`Error::with_quota`]).
    pub fn into_error(self, at: Placement) -> Error {
        let (kind, scope) = classify(&self);
        let cover = self.quota_cover();
        let mut message = self.message.clone();
        if let Some(name) = self.quota_name().filter(|n| !message.contains(n.as_str()))
            && kind == ErrorKind::Quota
        {
            message = format!("quota {name} exceeded: {message}");
        }
        let mut e = Error::new(kind, message)
            .with_scope(scope)
            .with_placement(at);
        if let Some(cover) = cover {
            e = e.with_quota(cover);
        }
        if let Some(c) = self.code() {
            e = e.with_code(c);
        } else if let Some(s) = self.http_status {
            e = e.with_code(format!("HTTP {s}"));
        }
        e
    }
}

/// Quotas that span every region: hitting one blocks the whole cloud, not the region.
///
/// "GPUS_ALL_REGIONS: the total number of GPUs in all regions" (Compute Engine, Allocation
/// quotas, "GPU quota"); the other `*_ALL_REGIONS` quotas and messages saying the limit holds
/// `globally` are project-wide too.
fn is_global_quota(f: &GceFault) -> bool {
    f.says("_ALL_REGIONS")
        || f.says("globally")
        || f.quota_name().is_some_and(|n| n.ends_with("_ALL_REGIONS"))
}

/// A 403 that names an exceeded allocation quota without a quota code: the client keeps only
/// `details` when an error body has both `details` and `errors[]`, so the `quotaExceeded`
/// reason can be lost while the `QuotaFailure` / `ErrorInfo` details or the message
/// (`Quota 'CPUS' exceeded.`) still name the quota.
fn names_a_quota(f: &GceFault) -> bool {
    let structured = f
        .quota
        .as_ref()
        .is_some_and(|q| q.metric.is_some() || q.limit.is_some());
    let said = f.message.contains("Quota '") && f.says("' exceeded");
    structured || said
}

/// The table: what kind of failure a Compute Engine fault is, and how much of the search
/// space it rules out.
///
/// | fault | kind | scope |
/// | --- | --- | --- |
/// | `ZONE_RESOURCE_POOL_EXHAUSTED`, `ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS`, `insufficientCapacity`, "does not have enough resources", `UNSUPPORTED_OPERATION` (preempted while created) | capacity | zone |
/// | `QUOTA_EXCEEDED` / `quotaExceeded` on a global quota (`GPUS_ALL_REGIONS`, "globally") | quota | cloud |
/// | `QUOTA_EXCEEDED` / `quotaExceeded` otherwise | quota | region |
/// | `rateLimitExceeded`, `userRateLimitExceeded`, `RESOURCE_OPERATION_RATE_EXCEEDED`, `RESOURCE_NOT_READY`, HTTP 429, HTTP 5xx | transient | zone |
/// | HTTP 401/403, `forbidden`, `insufficientPermissions`, `accessNotConfigured` / `SERVICE_DISABLED` (API not enabled), `PERMISSION_DENIED`, `UNAUTHENTICATED`, IAM policy denials | auth | cloud |
/// | HTTP 400, `invalid`, `badRequest`, `required`, `INVALID_ARGUMENT` | invalid request | zone (the policy aborts) |
/// | HTTP 404, `notFound` | not found | zone |
/// | HTTP 409, `alreadyExists` | already exists | zone |
/// | anything else | unexpected | zone |
///
/// Codes are read before HTTP statuses, because Compute Engine answers quota and rate-limit
/// failures with 403, the status it also uses for permission errors.
pub fn classify(f: &GceFault) -> (ErrorKind, Scope) {
    // "ZONE_RESOURCE_POOL_EXHAUSTED ... The zone '...' does not have enough resources
    // available to fulfill the request. Try a different zone, or try again later."
    // (Troubleshooting resource availability errors.) The _WITH_DETAILS variant carries the
    // same meaning; missing it stopped SkyPilot's spot failover (#831).
    // Bulk API: "HTTP 503 \"reason\": \"insufficientCapacity\" ... the region or zone you tried
    // to create VMs in has insufficient capacity."
    if f.has("ZONE_RESOURCE_POOL_EXHAUSTED")
        || f.has("ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS")
        || f.has("insufficientCapacity")
        || f.says("does not have enough resources")
        || f.has("UNSUPPORTED_OPERATION")
    {
        return (ErrorKind::Capacity, Scope::Zone);
    }
    // Bulk API: "HTTP 403 \"reason\": \"quotaExceeded\" ... you reached a quota limit for a
    // resource." The message names it: "Quota 'CPUS' exceeded. Limit: 24.0 in region
    // us-central1." / "Quota 'GPUS_ALL_REGIONS' exceeded. Limit: 0.0 globally."
    if f.has("QUOTA_EXCEEDED") || f.has("quotaExceeded") || f.has("RESOURCE_QUOTA_EXCEEDED") {
        // Which quota, and what it covers, is read by `GceFault::quota_cover`
        // (`crate::quota`); the scope here is the fallback for quotas sky does not know.
        let scope = if is_global_quota(f) {
            Scope::Cloud
        } else {
            Scope::Region
        };
        return (ErrorKind::Quota, scope);
    }
    // "If your project exceeds a rate quota, you receive a 403 error with the reason
    // rateLimitExceeded. To resolve this error, wait a minute then try your request again"
    // (Compute Engine rate quotas). RESOURCE_OPERATION_RATE_EXCEEDED: "Too frequent operations
    // from the source resource"; RESOURCE_NOT_READY: the VM is still changing state.
    if f.has("rateLimitExceeded")
        || f.has("userRateLimitExceeded")
        || f.has("RESOURCE_OPERATION_RATE_EXCEEDED")
        || f.has("RESOURCE_NOT_READY")
        || f.has("backendError")
        || f.has("UNAVAILABLE")
        || (f.has("RESOURCE_EXHAUSTED") && f.http_status == Some(429))
    {
        return (ErrorKind::Transient, Scope::Zone);
    }
    if names_a_quota(f) && f.http_status != Some(429) {
        let scope = if is_global_quota(f) {
            Scope::Cloud
        } else {
            Scope::Region
        };
        return (ErrorKind::Quota, scope);
    }
    // "accessNotConfigured": "Compute Engine API has not been used in project ... before or it
    // is disabled" (the API is not enabled); "forbidden" / "insufficientPermissions":
    // "Required 'compute.instances.create' permission" (IAM); 401 "Request is missing required
    // authentication credential".
    if f.has("accessNotConfigured")
        || f.has("SERVICE_DISABLED")
        || f.has("forbidden")
        || f.has("insufficientPermissions")
        || f.has("PERMISSION_DENIED")
        || f.has("UNAUTHENTICATED")
        || f.has("authError")
        || f.says("Policy update access denied")
    {
        return (ErrorKind::Auth, Scope::Cloud);
    }
    // "HTTP 400 \"reason\": \"invalid\" ... your API request isn't written correctly, or it
    // uses a property that isn't supported" (Troubleshooting bulk VM creation).
    if f.has("invalid")
        || f.has("badRequest")
        || f.has("required")
        || f.has("invalidParameter")
        || f.has("INVALID_ARGUMENT")
        || f.has("FAILED_PRECONDITION")
    {
        return (ErrorKind::InvalidRequest, Scope::Zone);
    }
    if f.has("notFound") || f.has("NOT_FOUND") || f.has("RESOURCE_NOT_FOUND") {
        return (ErrorKind::NotFound, Scope::Zone);
    }
    if f.has("alreadyExists") || f.has("ALREADY_EXISTS") || f.has("RESOURCE_ALREADY_EXISTS") {
        return (ErrorKind::AlreadyExists, Scope::Zone);
    }
    match f.http_status {
        // "HTTP 429 Too Many Requests" (RESOURCE_EXHAUSTED) and every 5xx are retryable.
        Some(429) | Some(500..=599) => (ErrorKind::Transient, Scope::Zone),
        Some(401) | Some(403) => (ErrorKind::Auth, Scope::Cloud),
        Some(400) => (ErrorKind::InvalidRequest, Scope::Zone),
        Some(404) => (ErrorKind::NotFound, Scope::Zone),
        Some(409) => (ErrorKind::AlreadyExists, Scope::Zone),
        _ => (ErrorKind::Unexpected, Scope::Zone),
    }
}

/// A sky error from the client's error, classified.
pub(crate) fn from_gax(e: &google_cloud_gax::error::Error, at: Placement) -> Error {
    if e.is_authentication() {
        return Error::new(ErrorKind::Auth, format!("GCP credentials: {e}"))
            .with_scope(Scope::Cloud)
            .with_placement(at);
    }
    if e.is_timeout() || e.is_io() || e.is_connect() || e.is_exhausted() {
        return Error::new(ErrorKind::Transient, e.to_string()).with_placement(at);
    }
    GceFault::from_gax(e).into_error(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(status: Option<u16>, codes: &[&str], message: &str) -> GceFault {
        GceFault {
            http_status: status,
            codes: codes.iter().map(|c| c.to_string()).collect(),
            message: message.into(),
            quota: None,
        }
    }

    /// (HTTP status, codes, message, expected kind, expected scope).
    type Row = (
        Option<u16>,
        &'static [&'static str],
        &'static str,
        ErrorKind,
        Scope,
    );

    #[test]
    fn the_table() {
        use ErrorKind::*;
        use Scope::{Cloud, Region, Zone};
        let rows: &[Row] = &[
            (
                None,
                &["ZONE_RESOURCE_POOL_EXHAUSTED"],
                "The zone 'projects/p/zones/us-central1-a' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.",
                Capacity,
                Zone,
            ),
            (
                None,
                &["ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"],
                "The zone 'projects/p/zones/us-west1-b' does not have enough resources available to fulfill the request. '(resource type:compute)'.",
                Capacity,
                Zone,
            ),
            (
                Some(503),
                &[],
                "The zone 'projects/p/zones/europe-west4-a' does not have enough resources available to fulfill the request.",
                Capacity,
                Zone,
            ),
            (
                Some(503),
                &["insufficientCapacity"],
                "insufficient capacity",
                Capacity,
                Zone,
            ),
            (
                None,
                &["UNSUPPORTED_OPERATION"],
                "Instance was preempted during creation",
                Capacity,
                Zone,
            ),
            (
                None,
                &["QUOTA_EXCEEDED"],
                "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1.",
                Quota,
                Region,
            ),
            (
                Some(403),
                &["quotaExceeded"],
                "Quota 'NVIDIA_V100_GPUS' exceeded.  Limit: 0.0 in region us-east1.",
                Quota,
                Region,
            ),
            (
                None,
                &["QUOTA_EXCEEDED"],
                "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally.",
                Quota,
                Cloud,
            ),
            (
                Some(403),
                &["quotaExceeded"],
                "Quota 'CPUS_ALL_REGIONS' exceeded.  Limit: 32.0 globally.",
                Quota,
                Cloud,
            ),
            (
                Some(403),
                &["rateLimitExceeded"],
                "Rate Limit Exceeded",
                Transient,
                Zone,
            ),
            (
                Some(403),
                &["RESOURCE_OPERATION_RATE_EXCEEDED"],
                "Too frequent operations from the source resource.",
                Transient,
                Zone,
            ),
            (
                Some(429),
                &["RESOURCE_EXHAUSTED"],
                "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'",
                Transient,
                Zone,
            ),
            (Some(500), &[], "Internal Error", Transient, Zone),
            (
                Some(503),
                &["backendError"],
                "Backend Error",
                Transient,
                Zone,
            ),
            (
                Some(403),
                &["forbidden"],
                "Required 'compute.instances.create' permission for 'projects/p/zones/us-central1-a/instances/x'",
                Auth,
                Cloud,
            ),
            (
                Some(403),
                &["accessNotConfigured"],
                "Compute Engine API has not been used in project 1 before or it is disabled.",
                Auth,
                Cloud,
            ),
            (
                Some(403),
                &["SERVICE_DISABLED"],
                "API not enabled",
                Auth,
                Cloud,
            ),
            (
                Some(401),
                &[],
                "Request is missing required authentication credential.",
                Auth,
                Cloud,
            ),
            (Some(403), &[], "Policy update access denied.", Auth, Cloud),
            (
                Some(400),
                &["invalid"],
                "Invalid value for field 'resource.machineType'",
                InvalidRequest,
                Zone,
            ),
            (
                Some(400),
                &["badRequest"],
                "Invalid resource usage: 'Requested disk size cannot be smaller than the image size'",
                InvalidRequest,
                Zone,
            ),
            (Some(400), &[], "bad", InvalidRequest, Zone),
            (
                Some(404),
                &["notFound"],
                "The resource 'projects/p/zones/z/instances/x' was not found",
                NotFound,
                Zone,
            ),
            (
                Some(409),
                &["alreadyExists"],
                "The resource 'projects/p/zones/z/instances/x' already exists",
                AlreadyExists,
                Zone,
            ),
            (None, &[], "???", Unexpected, Zone),
        ];
        for (status, codes, message, kind, scope) in rows {
            let f = fault(*status, codes, message);
            assert_eq!(classify(&f), (*kind, *scope), "{f:?}");
        }
    }

    /// A 403 whose body had `details` keeps no `quotaExceeded` reason (the client drops
    /// `errors[]` then): the quota its details name still makes it a quota error, not a
    /// permission one, with the cover of that quota.
    #[test]
    fn a_403_naming_a_quota_only_in_its_details_is_a_quota_error() {
        let mut f = fault(Some(403), &[], "Forbidden");
        f.quota = Some(QuotaFacts {
            metric: Some("compute.googleapis.com/n2d_cpus".into()),
            limit: Some("N2D-CPUS-per-project-region".into()),
            dimensions: [("region".to_string(), "us-east1".to_string())].into(),
        });
        assert_eq!(classify(&f), (ErrorKind::Quota, Scope::Region));
        let e = f.into_error(Placement::default());
        assert_eq!(e.kind(), ErrorKind::Quota);
        assert_eq!(
            e.quota(),
            Some(&QuotaCover::region("N2D_CPUS").only_instance_type_prefix("n2d-"))
        );
        assert!(e.message().contains("N2D_CPUS"), "{e}");
        // A plain 403 stays a permission error, and a rate quota stays transient.
        assert_eq!(
            classify(&fault(Some(403), &[], "Forbidden")),
            (ErrorKind::Auth, Scope::Cloud)
        );
        let mut rate = fault(
            Some(429),
            &["RESOURCE_EXHAUSTED"],
            "Quota exceeded for quota metric 'Read requests'",
        );
        rate.quota = Some(QuotaFacts {
            metric: Some("compute.googleapis.com/read_requests".into()),
            ..QuotaFacts::default()
        });
        assert_eq!(classify(&rate), (ErrorKind::Transient, Scope::Zone));
    }

    #[test]
    fn a_failed_operation_becomes_a_fault_with_its_codes() {
        use google_cloud_compute_v1::model::operation;
        let op = Operation::new().set_http_error_status_code(503).set_error(
            operation::Error::new().set_errors([operation::error::Errors::new()
                .set_code("ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS")
                .set_message("The zone does not have enough resources")]),
        );
        let f = GceFault::from_operation(&op).unwrap();
        assert_eq!(f.http_status, Some(503));
        let e = f.into_error(Placement::default());
        assert_eq!(e.kind(), ErrorKind::Capacity);
        assert_eq!(e.code(), Some("ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"));
        assert!(GceFault::from_operation(&Operation::new()).is_none());
    }
}
