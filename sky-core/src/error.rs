//! The provider error: one type for every backend, whose kind and scope drive failover.
//!
//! Each backend owns a table from its provider's raw codes to an [`ErrorKind`] and a [`Scope`]
//! (in its `error.rs`), and keeps the raw code in [`Error::code`] for humans. The failover loop
//! never parses messages: it reads [`Error::kind`] and [`Error::scope`] only.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cloud::CloudId;

/// What went wrong, in provider-neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The provider has no capacity for this request here now (EC2
    /// `InsufficientInstanceCapacity`, GCE `ZONE_RESOURCE_POOL_EXHAUSTED`, Azure
    /// `AllocationFailed`). Another zone may work.
    Capacity,
    /// An account limit was hit (vCPU quota, GPU quota, spot instance count).
    Quota,
    /// Credentials are missing, expired or not allowed to do this.
    Auth,
    /// The request itself is wrong (bad parameter, unknown image); retrying elsewhere will
    /// not help.
    InvalidRequest,
    /// The resource does not exist.
    NotFound,
    /// The resource exists already.
    AlreadyExists,
    /// The backend does not implement this operation (see [`crate::provision::Capabilities`]).
    Unsupported,
    /// A temporary failure (throttling, 5xx, timeouts): the same call may succeed later.
    Transient,
    /// Anything the backend could not classify.
    Unexpected,
}

impl ErrorKind {
    /// The snake_case name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Capacity => "capacity",
            ErrorKind::Quota => "quota",
            ErrorKind::Auth => "auth",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Transient => "transient",
            ErrorKind::Unexpected => "unexpected",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The blast radius of an error: how much of the search space it rules out.
///
/// Ordered from narrowest to widest, so `Scope::Zone < Scope::Cloud`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Only this placement's zone (or, for zoneless clouds, its region) is affected.
    Zone,
    /// The whole region is affected (regional quota).
    Region,
    /// The whole cloud is affected (credentials, global quota).
    Cloud,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Zone => "zone",
            Scope::Region => "region",
            Scope::Cloud => "cloud",
        })
    }
}

/// An exceeded provider quota and what it covers ([`Error::with_quota`]).
///
/// Quotas are regional or global, and cover every instance, one instance family, one market
/// (spot / low-priority / preemptible) or one accelerator. Built with
/// [`QuotaCover::region`] or [`QuotaCover::global`] and narrowed with the `only_*` methods:
///
/// ```
/// use sky_core::error::{QuotaCover, Scope};
/// // GCP `N2_CPUS` in a region: the n2 family there.
/// let n2 = QuotaCover::region("N2_CPUS").only_instance_type_prefix("n2-");
/// assert_eq!(n2.scope, Scope::Region);
/// // Azure `lowPriorityCores`: spot VMs of the region.
/// let spot = QuotaCover::region("lowPriorityCores").only_spot(true);
/// assert_eq!(spot.spot, Some(true));
/// // GCP `GPUS_ALL_REGIONS`: every GPU offering of the cloud.
/// let gpus = QuotaCover::global("GPUS_ALL_REGIONS").only_any_accelerator();
/// assert_eq!(gpus.scope, Scope::Cloud);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QuotaCover {
    /// The quota as the provider names it (`CPUS`, `N2_CPUS`, `PREEMPTIBLE_CPUS`,
    /// `NVIDIA_T4_GPUS`, `cores`, `standardNCFamily`, `lowPriorityCores`, ...).
    pub name: String,
    /// [`Scope::Region`] for a regional quota, [`Scope::Cloud`] for a global one.
    pub scope: Scope,
    /// Only this market: `Some(true)` for a spot quota, `Some(false)` for one that counts
    /// on-demand instances only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<bool>,
    /// Only instance types whose name starts with this (a family, e.g. GCP `n2-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type_prefix: Option<String>,
    /// Only these instance types (a family as the provider lists it, e.g. the Azure sizes
    /// whose SKU `family` is the quota's name). Empty: no such restriction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_types: Vec<String>,
    /// Only offerings with this accelerator, any count (`T4`); `Some("")` for any
    /// accelerator at all (a quota on every GPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
}

impl QuotaCover {
    fn new(name: String, scope: Scope) -> Self {
        QuotaCover {
            name,
            scope,
            spot: None,
            instance_type_prefix: None,
            instance_types: Vec::new(),
            accelerator: None,
        }
    }

    /// A regional quota named `name`, covering every instance of the region.
    pub fn region(name: impl Into<String>) -> Self {
        QuotaCover::new(name.into(), Scope::Region)
    }

    /// A global quota named `name`, covering every instance of the cloud.
    pub fn global(name: impl Into<String>) -> Self {
        QuotaCover::new(name.into(), Scope::Cloud)
    }

    /// Narrows it to one market.
    pub fn only_spot(mut self, spot: bool) -> Self {
        self.spot = Some(spot);
        self
    }

    /// Narrows it to instance types starting with `prefix`.
    pub fn only_instance_type_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.instance_type_prefix = Some(prefix.into());
        self
    }

    /// Narrows it to the listed instance types.
    pub fn only_instance_types(mut self, types: impl IntoIterator<Item = String>) -> Self {
        self.instance_types = types.into_iter().collect();
        self
    }

    /// Narrows it to offerings with accelerator `name` (any count).
    pub fn only_accelerator(mut self, name: impl Into<String>) -> Self {
        self.accelerator = Some(name.into());
        self
    }

    /// Narrows it to offerings with any accelerator.
    pub fn only_any_accelerator(mut self) -> Self {
        self.accelerator = Some(String::new());
        self
    }
}

/// Where a provider call was aimed: the cloud, and region/zone/instance type when known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Placement {
    /// The cloud.
    pub cloud: Option<CloudId>,
    /// The region, if the call was regional.
    pub region: Option<String>,
    /// The zone, if the call was zonal.
    pub zone: Option<String>,
    /// The instance type, if the call launched instances.
    pub instance_type: Option<String>,
}

impl Placement {
    /// A placement naming only a cloud.
    pub fn cloud(cloud: CloudId) -> Self {
        Placement {
            cloud: Some(cloud),
            ..Default::default()
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<&str> = Vec::new();
        if let Some(c) = &self.cloud {
            parts.push(c.as_str());
        }
        if let Some(r) = &self.region {
            parts.push(r);
        }
        if let Some(z) = &self.zone {
            parts.push(z);
        }
        if parts.is_empty() {
            f.write_str("*")?;
        } else {
            f.write_str(&parts.join("/"))?;
        }
        if let Some(t) = &self.instance_type {
            write!(f, " ({t})")?;
        }
        Ok(())
    }
}

/// An error from a provider (or the fake one), classified for failover.
///
/// Build one with [`Error::new`] and the `with_*` setters. The `Display` form is
/// `"<cloud/region/zone>: <kind> [<code>]: <message>"`.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.0)]
pub struct Error(Box<Inner>);

// Boxed so that `Result<T, Error>` stays one pointer wide on the error path.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {kind}{}: {message}", code.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default())]
struct Inner {
    kind: ErrorKind,
    scope: Scope,
    code: Option<String>,
    message: String,
    at: Placement,
    quota: Option<QuotaCover>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The result type of provider operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind`. The scope defaults to [`Error::default_scope`] of the kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            scope: Self::default_scope(kind),
            code: None,
            message: message.into(),
            at: Placement::default(),
            quota: None,
            source: None,
        }))
    }

    /// The scope a kind has unless the backend says otherwise: capacity, transient and
    /// unexpected errors are zonal, quota is regional, auth is cloud-wide, and the rest
    /// (invalid request, not found, unsupported ...) are zonal too: they end the attempt, and
    /// the failover policy decides whether to abort.
    pub fn default_scope(kind: ErrorKind) -> Scope {
        match kind {
            ErrorKind::Quota => Scope::Region,
            ErrorKind::Auth => Scope::Cloud,
            _ => Scope::Zone,
        }
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error about `operation` on `cloud`.
    pub fn unsupported(cloud: CloudId, operation: &str) -> Self {
        Error::new(
            ErrorKind::Unsupported,
            format!("{operation} is not supported by {cloud}"),
        )
        .with_placement(Placement::cloud(cloud))
    }

    /// Sets the scope.
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.0.scope = scope;
        self
    }

    /// Sets the provider's raw error code (e.g. `InsufficientInstanceCapacity`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.0.code = Some(code.into());
        self
    }

    /// Sets where the failing call was aimed.
    pub fn with_placement(mut self, at: Placement) -> Self {
        self.0.at = at;
        self
    }

    /// Says which quota was exceeded and what it covers: the error becomes
    /// [`ErrorKind::Quota`] with the cover's scope, and the failover blocks exactly what the
    /// quota covers (every instance type of the region, one family, one market, one
    /// accelerator, or the whole cloud) rather than only the instance type that failed.
    pub fn with_quota(mut self, cover: QuotaCover) -> Self {
        self.0.kind = ErrorKind::Quota;
        self.0.scope = cover.scope;
        self.0.quota = Some(cover);
        self
    }

    /// The exceeded quota, when the backend named it ([`Error::with_quota`]).
    pub fn quota(&self) -> Option<&QuotaCover> {
        self.0.quota.as_ref()
    }

    /// Sets the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// The provider-neutral kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// How much of the search space this error rules out.
    pub fn scope(&self) -> Scope {
        self.0.scope
    }

    /// The provider's raw code, if it gave one.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where the failing call was aimed.
    pub fn placement(&self) -> &Placement {
        &self.0.at
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        self.0.kind == ErrorKind::Transient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_placement_kind_and_code() {
        let e = Error::new(ErrorKind::Capacity, "no p3.2xlarge left")
            .with_code("InsufficientInstanceCapacity")
            .with_placement(Placement {
                cloud: Some(CloudId::Aws),
                region: Some("us-east-1".into()),
                zone: Some("us-east-1a".into()),
                instance_type: None,
            });
        assert_eq!(
            e.to_string(),
            "aws/us-east-1/us-east-1a: capacity [InsufficientInstanceCapacity]: no p3.2xlarge left"
        );
        assert_eq!(e.scope(), Scope::Zone);
        assert_eq!(Error::new(ErrorKind::Quota, "q").scope(), Scope::Region);
        assert_eq!(Error::new(ErrorKind::Auth, "a").scope(), Scope::Cloud);
        assert!(Scope::Zone < Scope::Region && Scope::Region < Scope::Cloud);
    }
}
