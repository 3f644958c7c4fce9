//! Cloud identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Identifies a cloud (a provider backend).
///
/// The well-known clouds have their own variants; [`CloudId::Other`] names a cloud that an
/// embedding application brings itself (see the "bring your own cloud" example). Names are
/// case-insensitive when parsed: `AWS`, `aws` and `Aws` are all [`CloudId::Aws`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CloudId {
    /// Amazon Web Services (EC2).
    Aws,
    /// Google Cloud Platform (Compute Engine).
    Gcp,
    /// Microsoft Azure.
    Azure,
    /// sky's deterministic simulated cloud (`sky_core::fake::FakeCloud`).
    Fake,
    /// This machine: each node is a working directory here.
    Local,
    /// A pool of existing machines reached over SSH.
    Ssh,
    /// A cloud defined outside sky, by its lower-case name.
    Other(String),
}

impl CloudId {
    /// The clouds sky knows by name, in the order used for listings and suggestions.
    pub const KNOWN: [CloudId; 6] = [
        CloudId::Aws,
        CloudId::Gcp,
        CloudId::Azure,
        CloudId::Fake,
        CloudId::Local,
        CloudId::Ssh,
    ];

    /// Clouds SkyPilot knows (its `ALL_CLOUDS`, plus the `k8s` spelling) that sky has no
    /// backend for. Task YAML may name them, as in SkyPilot; they parse to
    /// [`CloudId::Other`], and the optimizer excludes their alternatives with that reason.
    pub const SKYPILOT_ONLY: [&'static str; 23] = [
        "ibm",
        "lambda",
        "scp",
        "oci",
        "kubernetes",
        "runpod",
        "vast",
        "vsphere",
        "cudo",
        "fluidstack",
        "paperspace",
        "primeintellect",
        "do",
        "nebius",
        "slurm",
        "hyperbolic",
        "seeweb",
        "shadeform",
        "yotta",
        "mithril",
        "verda",
        "coreweave",
        "cloudflare",
    ];

    /// Whether this is a SkyPilot cloud sky has no backend for ([`CloudId::SKYPILOT_ONLY`]).
    pub fn is_skypilot_only(&self) -> bool {
        matches!(self, CloudId::Other(name) if CloudId::SKYPILOT_ONLY.contains(&name.as_str()))
    }

    /// The canonical lower-case name (`aws`, `gcp`, `azure`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            CloudId::Aws => "aws",
            CloudId::Gcp => "gcp",
            CloudId::Azure => "azure",
            CloudId::Fake => "fake",
            CloudId::Local => "local",
            CloudId::Ssh => "ssh",
            CloudId::Other(s) => s,
        }
    }

    /// Parses a well-known cloud name, case-insensitively; `None` for anything else.
    ///
    /// Unlike [`FromStr`], this never produces [`CloudId::Other`], so YAML input naming an
    /// unknown cloud can be rejected with a suggestion.
    pub fn known(name: &str) -> Option<CloudId> {
        let lower = name.trim().to_ascii_lowercase();
        CloudId::KNOWN.into_iter().find(|c| c.as_str() == lower)
    }
}

impl fmt::Display for CloudId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CloudId {
    type Err = std::convert::Infallible;

    /// Parses a cloud name; names sky does not know become [`CloudId::Other`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(CloudId::known(s).unwrap_or_else(|| CloudId::Other(s.trim().to_ascii_lowercase())))
    }
}

impl Serialize for CloudId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CloudId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(s.parse().unwrap_or_else(|never| match never {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_round_trips() {
        assert_eq!("AWS".parse::<CloudId>().unwrap(), CloudId::Aws);
        assert_eq!(CloudId::known(" Gcp "), Some(CloudId::Gcp));
        assert_eq!(CloudId::known("lambda"), None);
        assert_eq!(
            "Lambda".parse::<CloudId>().unwrap(),
            CloudId::Other("lambda".into())
        );
        for c in CloudId::KNOWN {
            assert_eq!(c.as_str().parse::<CloudId>().unwrap(), c);
        }
    }
}
