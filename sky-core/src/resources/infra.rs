//! SkyPilot's `infra:` strings: `cloud[/region[/zone]]` with `*` wildcards.

use std::fmt;
use std::str::FromStr;

use super::ParseValueError;
use crate::cloud::CloudId;

/// A parsed `infra:` value: where a task may run.
///
/// | `infra` | cloud | region | zone |
/// |---|---|---|---|
/// | `aws` | aws | – | – |
/// | `gcp/us-central1` | gcp | us-central1 | – |
/// | `aws/us-east-1/us-east-1a` | aws | us-east-1 | us-east-1a |
/// | `*` | – | – | – |
/// | `*/us-east-1` | – | us-east-1 | – |
/// | `*/*/us-east-1a`, `aws/*/us-east-1a` | –, aws | – | us-east-1a |
/// | `k8s/my-context` | kubernetes | my-context (may contain `/`) | – |
///
/// Cloud names are case-insensitive; names sky does not know parse to [`CloudId::Other`]
/// (the YAML loader then rejects them unless a catalog for that cloud is registered).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Infra {
    /// The cloud, `None` for `*`.
    pub cloud: Option<CloudId>,
    /// The region (for Kubernetes: the context), `None` when absent or `*`.
    pub region: Option<String>,
    /// The zone, `None` when absent or `*`.
    pub zone: Option<String>,
}

/// The cloud name used for `k8s` / `kubernetes` infra.
pub(crate) const KUBERNETES: &str = "kubernetes";

impl FromStr for Infra {
    type Err = ParseValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = |why: &str| {
            ParseValueError::new(format!(
                "invalid infra `{s}`: {why}; expected `cloud[/region[/zone]]` with `*` as a \
                 wildcard, e.g. `aws`, `gcp/us-central1`, `aws/us-east-1/us-east-1a`, \
                 `*/us-east-1`"
            ))
        };
        if t.is_empty() {
            return Err(bad("it is empty"));
        }
        // The head is trimmed like every other part: `k8s /ctx` is Kubernetes too.
        let (head, tail) = match t.split_once('/') {
            Some((h, rest)) => (h.trim(), Some(rest)),
            None => (t, None),
        };
        if head.eq_ignore_ascii_case("k8s") || head.eq_ignore_ascii_case(KUBERNETES) {
            let region = match tail {
                None => None,
                Some(ctx) if ctx.trim().is_empty() => return Err(bad("the context is empty")),
                Some(ctx) => Some(ctx.trim().to_owned()),
            };
            return Ok(Infra {
                cloud: Some(CloudId::Other(KUBERNETES.into())),
                region,
                zone: None,
            });
        }
        let parts: Vec<&str> = t.split('/').map(str::trim).collect();
        if parts.len() > 3 {
            return Err(bad("it has more than three parts"));
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad("a part is empty"));
        }
        let part = |i: usize| parts.get(i).filter(|p| **p != "*").map(|p| (*p).to_owned());
        let cloud = part(0).map(|c| c.parse::<CloudId>().unwrap_or_else(|never| match never {}));
        Ok(Infra {
            cloud,
            region: part(1),
            zone: part(2),
        })
    }
}

impl fmt::Display for Infra {
    /// The canonical string, which [`FromStr`] reads back to an equal value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cloud = self.cloud.as_ref().map_or("*", CloudId::as_str);
        f.write_str(cloud)?;
        match (&self.region, &self.zone) {
            (None, None) => Ok(()),
            (Some(r), None) => write!(f, "/{r}"),
            (r, Some(z)) => write!(f, "/{}/{z}", r.as_deref().unwrap_or("*")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infra(s: &str) -> Infra {
        s.parse().unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(
            infra("aws"),
            Infra {
                cloud: Some(CloudId::Aws),
                ..Infra::default()
            }
        );
        assert_eq!(
            infra("GCP/us-central1"),
            Infra {
                cloud: Some(CloudId::Gcp),
                region: Some("us-central1".into()),
                zone: None
            }
        );
        assert_eq!(
            infra("aws/us-east-1/us-east-1a"),
            Infra {
                cloud: Some(CloudId::Aws),
                region: Some("us-east-1".into()),
                zone: Some("us-east-1a".into())
            }
        );
        assert_eq!(infra("*"), Infra::default());
        assert_eq!(
            infra("*/us-east-1"),
            Infra {
                cloud: None,
                region: Some("us-east-1".into()),
                zone: None
            }
        );
        assert_eq!(
            infra("*/*/us-east-1a"),
            Infra {
                cloud: None,
                region: None,
                zone: Some("us-east-1a".into())
            }
        );
        assert_eq!(infra("aws/*/us-east-1a").cloud, Some(CloudId::Aws));
        assert_eq!(
            infra("k8s/arn:aws:eks:us-east-1:1:cluster/c1"),
            Infra {
                cloud: Some(CloudId::Other("kubernetes".into())),
                region: Some("arn:aws:eks:us-east-1:1:cluster/c1".into()),
                zone: None
            }
        );
        for bad in ["", "aws//x", "a/b/c/d", "/us-east-1", "k8s/"] {
            assert!(bad.parse::<Infra>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "aws",
            "gcp/us-central1",
            "aws/us-east-1/us-east-1a",
            "*",
            "*/us-east-1",
            "*/*/us-east-1a",
            "aws/*/us-east-1a",
            "kubernetes/ctx/with/slash",
        ] {
            assert_eq!(infra(s).to_string(), s);
        }
    }

    /// Fuzz finding (`resource_strings`, minimised input `k8s /x`): a space before the first
    /// `/` made `k8s` an unknown cloud named `k8s`, whose `Display` (`k8s/x`) read back as
    /// Kubernetes; and `kubernetes /a/b/c/d` was refused for its parts.
    #[test]
    fn space_before_the_first_slash_is_trimmed() {
        let k8s = Infra {
            cloud: Some(CloudId::Other(KUBERNETES.into())),
            region: Some("x".into()),
            zone: None,
        };
        assert_eq!(infra("k8s /x"), k8s);
        assert_eq!(infra(" K8S\t/ x ").to_string(), "kubernetes/x");
        assert_eq!(infra(&infra("k8s /x").to_string()), k8s);
        assert_eq!(
            infra("kubernetes /a/b/c/d").region.as_deref(),
            Some("a/b/c/d")
        );
        assert_eq!(infra("aws /us-east-1"), infra("aws/us-east-1"));
    }
}
