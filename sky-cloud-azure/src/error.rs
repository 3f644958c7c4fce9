//! Azure's error table: ARM error codes and HTTP statuses → [`ErrorKind`] and [`Scope`].
//!
//! ARM reports a failure either as an HTTP error whose body is
//! `{"error": {"code": "...", "message": "..."}}` or as a failed long-running operation whose
//! status document carries the same `error` object. Both go through [`classify`], the one
//! place that decides what a code means for failover. Azure has no zones in sky's model, so
//! capacity and quota errors rule out the **region**.
//!
//! | ARM code (HTTP) | Microsoft's documentation says | kind | scope |
//! | --- | --- | --- | --- |
//! | `SkuNotAvailable` | "The requested size for resource '…' is currently not available in location '…' … Please try another size or deploy to a different location or zones." (*Resolve errors for SKU not available*) | capacity | region |
//! | `AllocationFailed` | "Allocation failed. We do not have sufficient capacity for the requested VM size in this region." (*Troubleshoot allocation failures*) | capacity | region |
//! | `ZonalAllocationFailed` | "Allocation failed. We do not have sufficient capacity for the requested VM size in this zone." (*Troubleshoot allocation failures*) | capacity | region |
//! | `OverconstrainedAllocationRequest`, `OverconstrainedZonalAllocationRequest` | "Allocation failed. VM(s) with the following constraints cannot be allocated, because the condition is too restrictive." (*Troubleshoot allocation failures*) | capacity | region |
//! | `QuotaExceeded`, `ResourceQuotaExceeded` | "Operation could not be completed as it results in exceeding approved … Cores quota." (*Resolve errors for resource quotas*) | quota | region, with the cover of the quota named ([`quota_named`]) |
//! | `OperationNotAllowed` mentioning quota | "Operation results in exceeding quota limits of Core." (*Resolve errors for resource quotas*) | quota | region, with the cover of the quota named ([`quota_named`]) |
//! | `AuthorizationFailed` | "The client '…' with object ID '…' doesn't have authorization to perform action '…' over scope '…'." (*Azure Resource Manager common errors*) | auth | cloud |
//! | `InvalidAuthenticationToken`, `InvalidAuthenticationTokenTenant`, `ExpiredAuthenticationToken`, `AuthenticationFailed` (401) | "Authentication failed. The 'Authorization' header is missing or is in an invalid format." (*Azure Resource Manager common errors*) | auth | cloud |
//! | `SubscriptionNotFound`, `InvalidSubscriptionId`, `ReadOnlyDisabledSubscription` | "A specified resource or resource group can't be found … the subscription isn't registered / is disabled." (*Azure Resource Manager common errors*) | auth | cloud |
//! | 429 `TooManyRequests` (with `Retry-After`) | "Resource Manager … returns HTTP status code 429 Too many requests … The response includes a Retry-After value." (*Understand how Azure Resource Manager throttles requests*) | transient | region |
//! | any 5xx; `InternalServerError`, `InternalOperationError`, `ServiceUnavailable`, `GatewayTimeout` (also as a failed operation) | "If you get a 5xx status code, the request might succeed when retried." (*Azure REST API reference*) | transient | region |
//! | `InvalidParameter`, `InvalidRequestContent`, `InvalidRequestFormat`, `InvalidTemplate`, `BadRequest`, `PlatformImageNotFound`, `ImageNotFound`, `InvalidResourceReference`, `MissingSubscriptionRegistration` | "The parameter … is not valid." / "The request content was invalid and couldn't be deserialized." (*Azure Resource Manager common errors*) | invalid request (abort) | cloud |
//! | other 401 / 403 | — | auth | cloud |
//! | other 404 (`ResourceNotFound`, `ResourceGroupNotFound`, `NotFound`) | — | not found | region |
//! | other 400 | — | invalid request (abort) | cloud |
//! | anything else | — | unexpected | region |

use std::time::Duration;

use serde::Deserialize;
use sky_core::error::{Error, ErrorKind, Placement, QuotaCover, Scope};

/// The `cores` usage: the regional total of on-demand vCPUs ("Total Regional vCPUs").
pub const REGIONAL_CORES: &str = "cores";
/// The `lowPriorityCores` usage: the regional total of Spot vCPUs ("Total Regional
/// Low-priority vCPUs").
pub const LOW_PRIORITY_CORES: &str = "lowPriorityCores";

/// The vCPU quota an ARM quota error names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedQuota {
    /// The regional total, usage `cores`.
    RegionalCores,
    /// The regional Spot total, usage `lowPriorityCores`.
    LowPriority,
    /// A VM family's quota, by its usage name (`standardNCFamily`), which is the `family`
    /// of that family's entries in the resource SKUs list.
    Family(String),
}

impl NamedQuota {
    /// The usage name (`cores`, `lowPriorityCores`, `standardNCFamily`).
    pub fn usage_name(&self) -> &str {
        match self {
            NamedQuota::RegionalCores => REGIONAL_CORES,
            NamedQuota::LowPriority => LOW_PRIORITY_CORES,
            NamedQuota::Family(f) => f,
        }
    }

    /// The usage a name from the Usages API (`name.value`, or its `localizedValue`) is.
    pub fn from_usage(name: &str) -> Option<NamedQuota> {
        let l = name.trim().to_ascii_lowercase();
        if l.contains("low-priority") || l.contains("lowpriority") || l.contains("low priority") {
            return Some(NamedQuota::LowPriority);
        }
        if l == "cores" || l.starts_with("total regional") {
            return Some(NamedQuota::RegionalCores);
        }
        // `standardNCFamily` as the usage name ...
        if !l.contains(' ') && l.starts_with("standard") && l.ends_with("family") {
            return Some(NamedQuota::Family(name.trim().to_string()));
        }
        // ... or "Standard NC Family vCPUs" as its localized value.
        let words: Vec<&str> = name.split_whitespace().collect();
        if let ["Standard", series @ .., "Family", "vCPUs" | "Cores"] = words.as_slice()
            && !series.is_empty()
        {
            return Some(NamedQuota::Family(format!(
                "standard{}Family",
                series.concat()
            )));
        }
        None
    }

    /// What exceeding this quota rules out in the region: the regional total, every
    /// on-demand size; the Spot total, every Spot size; a family, `family_sizes` on demand
    /// (Spot VMs count only against the Spot total, the separate "Total Regional
    /// Low-priority vCPUs" usage).
    pub fn cover(&self, family_sizes: Vec<String>) -> QuotaCover {
        match self {
            NamedQuota::RegionalCores => QuotaCover::region(REGIONAL_CORES).only_spot(false),
            NamedQuota::LowPriority => QuotaCover::region(LOW_PRIORITY_CORES).only_spot(true),
            NamedQuota::Family(f) => QuotaCover::region(f.clone())
                .only_spot(false)
                .only_instance_types(family_sizes),
        }
    }
}

/// The quota an ARM quota error message names, from the shapes Microsoft documents:
///
/// - *Resolve errors for resource quotas* (learn.microsoft.com, ARM templates):
///   `Code=OperationNotAllowed` "Operation results in exceeding quota limits of Core.
///   Maximum allowed: 4, Current in use: 4, Additional requested: 2." — the regional total;
/// - the current wording of the same error (409 `OperationNotAllowed`, also wrapped as
///   `QuotaExceeded` in template deployments, as reported in mspnp/aks-baseline#377,
///   cloud-barista/cb-spider#1558): "Operation could not be completed as it results in
///   exceeding approved Total Regional Cores quota. Additional details - Deployment Model:
///   Resource Manager, Location: eastus2, Current Limit: 10, ..." — the regional total;
/// - "... exceeding approved standardDASv5Family Cores quota. ..." (Azure/karpenter-provider-azure#192,
///   scylladb/scylla-cluster-tests#12948) — a family, named as the Usages API and the
///   resource SKUs' `family` name it;
/// - "... exceeding approved LowPriorityCores quota. ..." (scylladb/scylla-cluster-tests#4994;
///   the portal's "Total Regional Low-priority vCPUs" / *Spot vCPU quota*) — the Spot total;
/// - the Usages API's localized names ("Total Regional vCPUs", "Standard NC Family vCPUs",
///   "Total Regional Low-priority vCPUs") where a message quotes them.
pub fn quota_named(message: &str) -> Option<NamedQuota> {
    let lower = message.to_ascii_lowercase();
    if let Some(i) = lower.find("exceeding approved ") {
        let rest = &message[i + "exceeding approved ".len()..];
        let end = rest.to_ascii_lowercase().find(" quota")?;
        let mut name = rest[..end].trim();
        for suffix in [" Cores", " cores", " vCPUs"] {
            if let Some(n) = name.strip_suffix(suffix)
                && !n.to_ascii_lowercase().starts_with("total regional")
            {
                name = n;
            }
        }
        return NamedQuota::from_usage(name)
            .or_else(|| NamedQuota::from_usage(&format!("{name} vCPUs")));
    }
    if lower.contains("quota limits of core") {
        return Some(NamedQuota::RegionalCores);
    }
    None
}

/// One row of the error table: an ARM code, what it means, and the documentation it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The ARM `error.code`.
    pub code: &'static str,
    /// The provider-neutral kind.
    pub kind: ErrorKind,
    /// How much of the search space it rules out.
    pub scope: Scope,
    /// Microsoft's wording (and the page it is on).
    pub doc: &'static str,
}

const fn row(code: &'static str, kind: ErrorKind, scope: Scope, doc: &'static str) -> Row {
    Row {
        code,
        kind,
        scope,
        doc,
    }
}

const SKU_DOC: &str = "Resolve errors for SKU not available: \"The requested size for resource '<resourceID>' is currently not available in location '<location>' zones '<zone>' for subscription '<subscriptionID>'. Please try another size or deploy to a different location or zones.\"";
const ALLOC_DOC: &str = "Troubleshoot allocation failures: \"Allocation failed. We do not have sufficient capacity for the requested VM size in this region.\"";
const ZONAL_DOC: &str = "Troubleshoot allocation failures: \"Allocation failed. We do not have sufficient capacity for the requested VM size in this zone.\"";
const OVER_DOC: &str = "Troubleshoot allocation failures: \"Allocation failed. VM(s) with the following constraints cannot be allocated, because the condition is too restrictive.\"";
const QUOTA_DOC: &str = "Resolve errors for resource quotas: \"Operation could not be completed as it results in exceeding approved <family> Cores quota.\"";
const AUTHZ_DOC: &str = "Azure Resource Manager common errors: \"The client '<identifier>' with object ID '<identifier>' doesn't have authorization to perform action '<operation>' over scope '<scope>'.\"";
const TOKEN_DOC: &str = "Azure Resource Manager common errors: \"Authentication failed. The 'Authorization' header is missing or is in an invalid format.\"";
const SUB_DOC: &str = "Azure Resource Manager common errors: \"The subscription '<subscription>' could not be found.\" / the subscription is disabled or read-only";
const RETRY_DOC: &str = "Azure REST API reference: a 5xx status (or a failed operation with a server error code) is a service-side failure; \"the request might succeed when retried\"";
const THROTTLE_DOC: &str = "Understand how Azure Resource Manager throttles requests: \"you receive an HTTP status code 429 Too many requests ... The response includes a Retry-After value\"";
const PARAM_DOC: &str = "Azure Resource Manager common errors: \"The parameter <name> is not valid.\" / \"The request content was invalid and couldn't be deserialized.\"";

/// The table of known ARM codes, in the order [`classify`] consults it.
pub const TABLE: &[Row] = &[
    row(
        "SkuNotAvailable",
        ErrorKind::Capacity,
        Scope::Region,
        SKU_DOC,
    ),
    row(
        "AllocationFailed",
        ErrorKind::Capacity,
        Scope::Region,
        ALLOC_DOC,
    ),
    row(
        "ZonalAllocationFailed",
        ErrorKind::Capacity,
        Scope::Region,
        ZONAL_DOC,
    ),
    row(
        "OverconstrainedAllocationRequest",
        ErrorKind::Capacity,
        Scope::Region,
        OVER_DOC,
    ),
    row(
        "OverconstrainedZonalAllocationRequest",
        ErrorKind::Capacity,
        Scope::Region,
        OVER_DOC,
    ),
    row("QuotaExceeded", ErrorKind::Quota, Scope::Region, QUOTA_DOC),
    row(
        "ResourceQuotaExceeded",
        ErrorKind::Quota,
        Scope::Region,
        QUOTA_DOC,
    ),
    row(
        "AuthorizationFailed",
        ErrorKind::Auth,
        Scope::Cloud,
        AUTHZ_DOC,
    ),
    row(
        "InvalidAuthenticationToken",
        ErrorKind::Auth,
        Scope::Cloud,
        TOKEN_DOC,
    ),
    row(
        "InvalidAuthenticationTokenTenant",
        ErrorKind::Auth,
        Scope::Cloud,
        TOKEN_DOC,
    ),
    row(
        "ExpiredAuthenticationToken",
        ErrorKind::Auth,
        Scope::Cloud,
        TOKEN_DOC,
    ),
    row(
        "AuthenticationFailed",
        ErrorKind::Auth,
        Scope::Cloud,
        TOKEN_DOC,
    ),
    row(
        "SubscriptionNotFound",
        ErrorKind::Auth,
        Scope::Cloud,
        SUB_DOC,
    ),
    row(
        "InvalidSubscriptionId",
        ErrorKind::Auth,
        Scope::Cloud,
        SUB_DOC,
    ),
    row(
        "ReadOnlyDisabledSubscription",
        ErrorKind::Auth,
        Scope::Cloud,
        SUB_DOC,
    ),
    row(
        "TooManyRequests",
        ErrorKind::Transient,
        Scope::Region,
        THROTTLE_DOC,
    ),
    row(
        "InternalServerError",
        ErrorKind::Transient,
        Scope::Region,
        RETRY_DOC,
    ),
    row(
        "InternalOperationError",
        ErrorKind::Transient,
        Scope::Region,
        RETRY_DOC,
    ),
    row(
        "ServiceUnavailable",
        ErrorKind::Transient,
        Scope::Region,
        RETRY_DOC,
    ),
    row(
        "GatewayTimeout",
        ErrorKind::Transient,
        Scope::Region,
        RETRY_DOC,
    ),
    row(
        "InvalidParameter",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
    row(
        "InvalidRequestContent",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
    row(
        "InvalidRequestFormat",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
    row(
        "InvalidTemplate",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
    row(
        "BadRequest",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
    row(
        "PlatformImageNotFound",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
    row(
        "ImageNotFound",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
    row(
        "InvalidResourceReference",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
    row(
        "MissingSubscriptionRegistration",
        ErrorKind::InvalidRequest,
        Scope::Cloud,
        PARAM_DOC,
    ),
];

/// ARM's error envelope: `{"error": {"code": ..., "message": ...}}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ErrorEnvelope {
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

/// The `error` object of an ARM response or of a failed async operation.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Nested details; the first one often carries the real code (e.g. a deployment error
    /// wrapping `AllocationFailed`).
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

impl ErrorDetail {
    /// The most specific code: the first detail's code when the outer one is generic.
    pub fn specific(&self) -> (Option<&str>, &str) {
        let outer = self.code.as_deref();
        let generic = matches!(
            outer,
            None | Some(
                "DeploymentFailed"
                    | "Conflict"
                    | "InvalidTemplateDeployment"
                    | "ResourceDeploymentFailure"
            )
        );
        if generic && let Some(d) = self.details.first() {
            return d.specific();
        }
        (outer, self.message.as_deref().unwrap_or(""))
    }
}

/// Classifies an ARM failure: its HTTP status (`None` for a failed async operation, whose
/// status document was 200) and its `error.code` and message.
pub fn classify(status: Option<u16>, code: Option<&str>, message: &str) -> (ErrorKind, Scope) {
    if let Some(code) = code {
        if let Some(r) = TABLE.iter().find(|r| r.code.eq_ignore_ascii_case(code)) {
            return (r.kind, r.scope);
        }
        // "Operation results in exceeding quota limits of Core." arrives as OperationNotAllowed.
        if code.eq_ignore_ascii_case("OperationNotAllowed")
            && message.to_ascii_lowercase().contains("quota")
        {
            return (ErrorKind::Quota, Scope::Region);
        }
    }
    match status {
        Some(429) => (ErrorKind::Transient, Scope::Region),
        Some(s) if s >= 500 => (ErrorKind::Transient, Scope::Region),
        Some(401 | 403) => (ErrorKind::Auth, Scope::Cloud),
        Some(404) => (ErrorKind::NotFound, Scope::Region),
        Some(400) => (ErrorKind::InvalidRequest, Scope::Cloud),
        _ => (ErrorKind::Unexpected, Scope::Region),
    }
}

/// Builds sky's error for an ARM failure at `at`.
pub(crate) fn arm_error(
    status: Option<u16>,
    detail: &ErrorDetail,
    retry_after: Option<Duration>,
    at: Placement,
) -> Error {
    let (code, message) = detail.specific();
    let (kind, scope) = classify(status, code, message);
    let mut msg = match status {
        Some(s) => format!("HTTP {s}: {message}"),
        None => format!("async operation failed: {message}"),
    };
    if let Some(d) = retry_after {
        msg.push_str(&format!(" (Retry-After {}s)", d.as_secs()));
    }
    let size = at.instance_type.clone();
    let mut e = Error::new(kind, msg).with_scope(scope).with_placement(at);
    if kind == ErrorKind::Quota {
        // The quota the message names decides what it covers. A family is narrowed to the
        // size that failed here; the provisioner widens it to the family's sizes from the
        // resource SKUs list. Unnamed: the size that failed, as before.
        match quota_named(message) {
            Some(NamedQuota::Family(_)) if size.is_none() => {}
            Some(q) => e = e.with_quota(q.cover(size.into_iter().collect())),
            None => {}
        }
    }
    match code {
        Some(c) => e.with_code(c),
        None => match status {
            Some(s) => e.with_code(format!("HTTP{s}")),
            None => e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_row_classifies_as_written_whatever_the_status() {
        for r in TABLE {
            for status in [None, Some(400), Some(409)] {
                assert_eq!(
                    classify(status, Some(r.code), "m"),
                    (r.kind, r.scope),
                    "{} at {status:?}",
                    r.code
                );
            }
            assert!(!r.doc.is_empty());
        }
    }

    #[test]
    fn issue_table() {
        use ErrorKind::*;
        type Case<'a> = (Option<u16>, Option<&'a str>, &'a str, ErrorKind, Scope);
        let rows: &[Case<'_>] = &[
            (
                Some(409),
                Some("SkuNotAvailable"),
                "",
                Capacity,
                Scope::Region,
            ),
            (None, Some("AllocationFailed"), "", Capacity, Scope::Region),
            (
                None,
                Some("ZonalAllocationFailed"),
                "",
                Capacity,
                Scope::Region,
            ),
            (
                Some(409),
                Some("OverconstrainedAllocationRequest"),
                "",
                Capacity,
                Scope::Region,
            ),
            (Some(409), Some("QuotaExceeded"), "", Quota, Scope::Region),
            (
                Some(409),
                Some("OperationNotAllowed"),
                "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota.",
                Quota,
                Scope::Region,
            ),
            (
                Some(409),
                Some("OperationNotAllowed"),
                "VM is being deleted",
                Unexpected,
                Scope::Region,
            ),
            (
                Some(403),
                Some("AuthorizationFailed"),
                "",
                Auth,
                Scope::Cloud,
            ),
            (
                Some(401),
                Some("InvalidAuthenticationToken"),
                "",
                Auth,
                Scope::Cloud,
            ),
            (
                Some(404),
                Some("SubscriptionNotFound"),
                "",
                Auth,
                Scope::Cloud,
            ),
            (
                Some(429),
                Some("TooManyRequests"),
                "",
                Transient,
                Scope::Region,
            ),
            (Some(429), None, "", Transient, Scope::Region),
            (
                Some(500),
                Some("InternalServerError"),
                "",
                Transient,
                Scope::Region,
            ),
            (Some(503), None, "", Transient, Scope::Region),
            (
                Some(400),
                Some("InvalidParameter"),
                "",
                InvalidRequest,
                Scope::Cloud,
            ),
            (
                Some(400),
                Some("SomethingNew"),
                "",
                InvalidRequest,
                Scope::Cloud,
            ),
            (
                Some(404),
                Some("ResourceGroupNotFound"),
                "",
                NotFound,
                Scope::Region,
            ),
            (Some(401), None, "", Auth, Scope::Cloud),
        ];
        for (status, code, msg, kind, scope) in rows {
            assert_eq!(
                classify(*status, *code, msg),
                (*kind, *scope),
                "{status:?} {code:?} {msg}"
            );
        }
    }

    #[test]
    fn nested_details_give_the_specific_code() {
        let body: ErrorEnvelope = serde_json::from_str(
            r#"{"error":{"code":"DeploymentFailed","message":"outer","details":[{"code":"AllocationFailed","message":"inner"}]}}"#,
        )
        .unwrap();
        let e = arm_error(None, &body.error.unwrap(), None, Placement::default());
        assert_eq!(e.kind(), ErrorKind::Capacity);
        assert_eq!(e.code(), Some("AllocationFailed"));
        assert!(e.message().contains("inner"));
    }

    #[test]
    fn a_template_deployment_wrapping_a_quota_error_is_quota() {
        // As reported by ARM (mspnp/aks-baseline#377).
        let body: ErrorEnvelope = serde_json::from_str(
            r#"{"error":{"code":"InvalidTemplateDeployment","message":"The template deployment is not valid.","details":[{"code":"QuotaExceeded","message":"Operation could not be completed as it results in exceeding approved Total Regional Cores quota."}]}}"#,
        )
        .unwrap();
        let e = arm_error(Some(400), &body.error.unwrap(), None, Placement::default());
        assert_eq!((e.kind(), e.scope()), (ErrorKind::Quota, Scope::Region));
    }

    #[test]
    fn quota_messages_name_their_quota() {
        use NamedQuota::*;
        let fam = |f: &str| Some(Family(f.to_string()));
        let cases: &[(&str, Option<NamedQuota>)] = &[
            (
                "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: centralus, Current Limit: 10, Current Usage: 8, Additional Required: 4, (Minimum) New Limit Required: 12.",
                Some(RegionalCores),
            ),
            (
                "Operation results in exceeding quota limits of Core. Maximum allowed: 4, Current in use: 4, Additional requested: 2.",
                Some(RegionalCores),
            ),
            (
                "Operation could not be completed as it results in exceeding approved standardNCFamily Cores quota.",
                fam("standardNCFamily"),
            ),
            (
                "Operation could not be completed as it results in exceeding approved standardDASv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus",
                fam("standardDASv5Family"),
            ),
            (
                "Operation could not be completed as it results in exceeding approved Standard NC Family vCPUs quota.",
                fam("standardNCFamily"),
            ),
            (
                "Operation could not be completed as it results in exceeding approved LowPriorityCores quota. Additional details - Deployment Model: Resource Manager, Location: eastus",
                Some(LowPriority),
            ),
            (
                "Operation could not be completed as it results in exceeding approved Total Regional Low-priority vCPUs quota.",
                Some(LowPriority),
            ),
            (
                "Creating the resource of type Microsoft.Network/publicIPAddresses would exceed the quota of 800 resources of type Microsoft.Network/publicIPAddresses per resource group.",
                None,
            ),
        ];
        for (m, want) in cases {
            assert_eq!(&quota_named(m), want, "{m}");
        }
        assert_eq!(NamedQuota::from_usage("cores"), Some(RegionalCores));
        assert_eq!(
            NamedQuota::from_usage("Total Regional vCPUs"),
            Some(RegionalCores)
        );
        assert_eq!(
            NamedQuota::from_usage("lowPriorityCores"),
            Some(LowPriority)
        );
        assert_eq!(
            NamedQuota::from_usage("Standard DSv5 Family vCPUs"),
            fam("standardDSv5Family")
        );
        assert_eq!(NamedQuota::from_usage("virtualMachines"), None);
    }

    #[test]
    fn quota_errors_carry_their_cover() {
        let at = Placement {
            instance_type: Some("Standard_NC6".into()),
            ..Placement::default()
        };
        let d = |m: &str| ErrorDetail {
            code: Some("OperationNotAllowed".into()),
            message: Some(m.into()),
            details: vec![],
        };
        let e = arm_error(
            Some(409),
            &d(
                "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.",
            ),
            None,
            at.clone(),
        );
        assert_eq!(
            e.quota(),
            Some(&QuotaCover::region("cores").only_spot(false))
        );
        let e = arm_error(
            Some(409),
            &d(
                "Operation could not be completed as it results in exceeding approved standardNCFamily Cores quota.",
            ),
            None,
            at.clone(),
        );
        assert_eq!(
            e.quota(),
            Some(
                &QuotaCover::region("standardNCFamily")
                    .only_spot(false)
                    .only_instance_types(["Standard_NC6".to_string()])
            )
        );
        let e = arm_error(
            None,
            &d(
                "Operation could not be completed as it results in exceeding approved LowPriorityCores quota.",
            ),
            None,
            at,
        );
        assert_eq!(
            e.quota(),
            Some(&QuotaCover::region("lowPriorityCores").only_spot(true))
        );
    }

    #[test]
    fn retry_after_is_reported() {
        let d = ErrorDetail {
            code: Some("TooManyRequests".into()),
            message: Some("slow down".into()),
            details: vec![],
        };
        let e = arm_error(
            Some(429),
            &d,
            Some(Duration::from_secs(7)),
            Placement::default(),
        );
        assert!(e.is_transient());
        assert!(e.message().contains("Retry-After 7s"), "{}", e.message());
    }
}
