//! Credential checks for `sky check`: which sources a backend tried, and what each said.
//!
//! Every cloud backend exposes a `check()` that builds a [`CredentialReport`] without
//! launching anything: it lists every credential source it looked at (environment
//! variables, profile files, metadata servers, CLI caches ...) in the order it tried them,
//! and whether a cheap authenticated call succeeded with the one it picked. Secrets never
//! appear in a report: sources are named, their values are not.
//!
//! ```
//! use sky_core::check::{CredentialReport, SourceOutcome};
//! use sky_core::CloudId;
//!
//! let mut report = CredentialReport::new(CloudId::Aws);
//! report.tried("environment (AWS_ACCESS_KEY_ID)", SourceOutcome::Missing);
//! report.tried("profile `default` in ~/.aws/credentials", SourceOutcome::Found);
//! report.verified("DescribeRegions answered (17 regions)");
//! assert!(report.ok());
//! assert!(report.to_string().contains("profile `default`"));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cloud::CloudId;

/// What one credential source gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum SourceOutcome {
    /// The source was not configured (variable unset, file absent).
    Missing,
    /// The source gave credentials; the backend used them.
    Found,
    /// The source was configured but unusable (malformed file, expired token ...).
    Invalid(String),
    /// The source was not consulted because an earlier one was picked.
    Skipped,
}

/// One credential source and what it gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceAttempt {
    /// Human-readable name of the source, never its value.
    pub source: String,
    /// What it gave.
    #[serde(flatten)]
    pub outcome: SourceOutcome,
}

/// The result of a backend's credential check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialReport {
    /// The cloud checked.
    pub cloud: CloudId,
    /// Every source tried, in order.
    pub sources: Vec<SourceAttempt>,
    /// `Ok(detail)` when an authenticated call succeeded, `Err(reason)` when it failed or
    /// was not made; `None` before the backend got that far.
    pub verification: Option<Result<String, String>>,
}

impl CredentialReport {
    /// An empty report for `cloud`.
    pub fn new(cloud: CloudId) -> Self {
        CredentialReport {
            cloud,
            sources: Vec::new(),
            verification: None,
        }
    }

    /// Records that `source` was tried with `outcome`.
    pub fn tried(&mut self, source: impl Into<String>, outcome: SourceOutcome) -> &mut Self {
        self.sources.push(SourceAttempt {
            source: source.into(),
            outcome,
        });
        self
    }

    /// Records that an authenticated call succeeded.
    pub fn verified(&mut self, detail: impl Into<String>) -> &mut Self {
        self.verification = Some(Ok(detail.into()));
        self
    }

    /// Records that the authenticated call failed (or could not be made).
    pub fn failed(&mut self, reason: impl Into<String>) -> &mut Self {
        self.verification = Some(Err(reason.into()));
        self
    }

    /// Whether the cloud is usable: an authenticated call succeeded.
    pub fn ok(&self) -> bool {
        matches!(self.verification, Some(Ok(_)))
    }
}

impl fmt::Display for CredentialReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok() { "enabled" } else { "disabled" };
        writeln!(f, "{}: {verdict}", self.cloud)?;
        for s in &self.sources {
            match &s.outcome {
                SourceOutcome::Missing => writeln!(f, "  - {}: not set", s.source)?,
                SourceOutcome::Found => writeln!(f, "  - {}: found", s.source)?,
                SourceOutcome::Invalid(why) => writeln!(f, "  - {}: invalid ({why})", s.source)?,
                SourceOutcome::Skipped => writeln!(f, "  - {}: skipped", s.source)?,
            }
        }
        match &self.verification {
            Some(Ok(d)) => writeln!(f, "  verified: {d}"),
            Some(Err(e)) => writeln!(f, "  not verified: {e}"),
            None => writeln!(f, "  not verified: no usable credentials"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_without_verification_is_not_ok_and_says_why() {
        let mut r = CredentialReport::new(CloudId::Gcp);
        r.tried("GOOGLE_APPLICATION_CREDENTIALS", SourceOutcome::Missing)
            .tried("gcloud ADC file", SourceOutcome::Invalid("not JSON".into()));
        assert!(!r.ok());
        let text = r.to_string();
        assert!(text.starts_with("gcp: disabled"), "{text}");
        assert!(text.contains("invalid (not JSON)"), "{text}");
        assert!(text.contains("no usable credentials"), "{text}");
        r.failed("403 from projects.get");
        assert!(r.to_string().contains("not verified: 403"));
    }

    #[test]
    fn reports_serialize_with_named_outcomes() {
        let mut r = CredentialReport::new(CloudId::Azure);
        r.tried("AZURE_CLIENT_SECRET", SourceOutcome::Found)
            .verified("subscription listed");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["sources"][0]["outcome"], "found");
        assert_eq!(json["verification"]["Ok"], "subscription listed");
    }
}
