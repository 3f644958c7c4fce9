//! Failover policies and the record of failed attempts.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sky_core::error::{Error, ErrorKind, Placement, Scope};

/// What the broker should do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// Try the same placement again after waiting.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Rule out the failed placement at this scope and re-optimize.
    Block(Scope),
    /// Give up: the request cannot succeed anywhere.
    Abort,
}

/// One failed attempt, as the policy sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt<'a> {
    /// Where the attempt was aimed.
    pub placement: &'a Placement,
    /// Attempts so far in this launch, this one included (1-based).
    pub number: u32,
    /// Consecutive failed attempts at this same placement, this one included (1-based).
    pub retries_here: u32,
    /// Whether it asked for spot instances.
    pub spot: bool,
}

/// Decides what follows a provider error. Implement it to change failover behaviour (e.g. a
/// scheduler that never leaves a region, or that retries capacity errors for a while).
pub trait FailoverPolicy: Send + Sync {
    /// The decision for `err` after `attempt`.
    fn on_error(&mut self, attempt: &Attempt<'_>, err: &Error) -> Decision;
}

/// SkyPilot's rules, with bounded retries of transient errors.
///
/// | kind | decision |
/// |---|---|
/// | capacity | block the error's scope (normally the zone) |
/// | quota | block the error's scope (normally the region; the cloud for global quotas) |
/// | auth | block the cloud |
/// | transient, unexpected | retry with exponential backoff up to `max_retries`, then block the zone |
/// | invalid request, unsupported | abort (retrying elsewhere would fail the same way), unless the error is scoped to a region (an image missing there): then block the region |
/// | not found, already exists | block the error's scope |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultPolicy {
    /// Retries of one placement after transient errors.
    pub max_retries: u32,
    /// The first backoff; doubled on each retry.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

impl Default for DefaultPolicy {
    fn default() -> Self {
        DefaultPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl DefaultPolicy {
    /// A policy that retries transient errors immediately (for tests and simulations).
    pub fn without_backoff() -> Self {
        DefaultPolicy {
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            ..Self::default()
        }
    }
}

impl FailoverPolicy for DefaultPolicy {
    fn on_error(&mut self, attempt: &Attempt<'_>, err: &Error) -> Decision {
        match err.kind() {
            ErrorKind::Auth => Decision::Block(Scope::Cloud),
            // A request wrong as such fails the same everywhere; one the provider refuses
            // only in this region (no image published there, say) may work in another.
            ErrorKind::InvalidRequest | ErrorKind::Unsupported => match err.scope() {
                Scope::Region => Decision::Block(Scope::Region),
                Scope::Zone | Scope::Cloud => Decision::Abort,
            },
            ErrorKind::Transient | ErrorKind::Unexpected => {
                if attempt.retries_here <= self.max_retries {
                    // Doubling from `initial_backoff`, at most `max_backoff`, jittered so that
                    // launches failing together do not retry together.
                    let n = attempt.retries_here.saturating_sub(1) as usize;
                    let after = backon::BackoffBuilder::build(
                        backon::ExponentialBuilder::default()
                            .with_min_delay(self.initial_backoff)
                            .with_max_delay(self.max_backoff)
                            .with_jitter()
                            .without_max_times(),
                    )
                    .nth(n)
                    .unwrap_or(self.max_backoff);
                    Decision::Retry { after }
                } else {
                    Decision::Block(Scope::Zone)
                }
            }
            _ => Decision::Block(err.scope()),
        }
    }
}

/// One row of a [`FailoverHistory`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    /// Where the attempt was aimed.
    pub placement: Placement,
    /// Whether it asked for spot instances.
    #[serde(default)]
    pub spot: bool,
    /// The error's kind.
    pub kind: ErrorKind,
    /// How much the error rules out.
    #[serde(default = "zone_scope")]
    pub scope: Scope,
    /// The exceeded quota, when the provider named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<sky_core::error::QuotaCover>,
    /// The provider's raw code.
    pub code: Option<String>,
    /// The error message.
    pub message: String,
    /// What the policy decided.
    pub decision: Decision,
    /// When it failed (Unix seconds).
    #[serde(default)]
    pub at: i64,
}

fn zone_scope() -> Scope {
    Scope::Zone
}

/// Every failed attempt of one launch, in order. Its `Display` is a table (nothing when no
/// attempt was made).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverHistory {
    /// The attempts.
    pub attempts: Vec<FailedAttempt>,
}

impl FailoverHistory {
    /// Records a failed attempt (of spot instances when `spot`) and returns it.
    pub fn push(&mut self, err: &Error, decision: Decision, spot: bool) -> &FailedAttempt {
        self.attempts.push(FailedAttempt {
            placement: err.placement().clone(),
            spot,
            kind: err.kind(),
            scope: err.scope(),
            quota: err.quota().cloned(),
            code: err.code().map(str::to_string),
            message: err.message().to_string(),
            decision,
            at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        });
        &self.attempts[self.attempts.len() - 1]
    }

    /// Whether nothing failed.
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty()
    }
}

impl std::fmt::Display for FailoverHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.attempts.is_empty() {
            // Nothing was tried (no candidate fit): no table.
            return Ok(());
        }
        // Long messages are cut in the table and given in full under it.
        let mut notes: Vec<String> = Vec::new();
        let rows: Vec<[String; 5]> = self
            .attempts
            .iter()
            .map(|a| {
                let decision = match a.decision {
                    Decision::Retry { after } => format!("retry after {after:?}"),
                    Decision::Block(s) => format!("block {s}"),
                    Decision::Abort => "abort".to_string(),
                };
                let mut msg = a.message.replace('\n', " ");
                if msg.chars().count() > 80 {
                    notes.push(format!("[{}] {}: {msg}", notes.len() + 1, a.placement));
                    msg = msg.chars().take(72).collect::<String>()
                        + &format!("... [{}]", notes.len());
                }
                [
                    a.placement.to_string(),
                    a.kind.to_string(),
                    a.code.clone().unwrap_or_else(|| "-".into()),
                    decision,
                    msg,
                ]
            })
            .collect();
        let header = ["INFRA", "ERROR", "CODE", "DECISION", "MESSAGE"];
        let mut widths = header.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(header.map(String::from)).chain(rows) {
            let line: Vec<String> = r
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sky_core::CloudId;

    fn decide(kind: ErrorKind, scope: Option<Scope>, retries_here: u32) -> Decision {
        let at = Placement::cloud(CloudId::Fake);
        let mut err = Error::new(kind, "x");
        if let Some(s) = scope {
            err = err.with_scope(s);
        }
        DefaultPolicy::default().on_error(
            &Attempt {
                placement: &at,
                number: 1,
                retries_here,
                spot: false,
            },
            &err,
        )
    }

    #[test]
    fn default_policy_table() {
        use Decision::*;
        assert_eq!(decide(ErrorKind::Capacity, None, 1), Block(Scope::Zone));
        assert_eq!(decide(ErrorKind::Quota, None, 1), Block(Scope::Region));
        assert_eq!(
            decide(ErrorKind::Quota, Some(Scope::Cloud), 1),
            Block(Scope::Cloud)
        );
        assert_eq!(decide(ErrorKind::Auth, None, 1), Block(Scope::Cloud));
        assert_eq!(decide(ErrorKind::InvalidRequest, None, 1), Abort);
        assert_eq!(
            decide(ErrorKind::InvalidRequest, Some(Scope::Region), 1),
            Block(Scope::Region)
        );
        assert_eq!(decide(ErrorKind::Unsupported, Some(Scope::Cloud), 1), Abort);
        assert_eq!(decide(ErrorKind::Unsupported, None, 1), Abort);
        // Doubling from 1 s, jittered by up to the delay itself.
        let after = |n| match decide(ErrorKind::Transient, None, n) {
            Retry { after } => after,
            other => panic!("{other:?}"),
        };
        for (n, base) in [(1, 1), (3, 4)] {
            let d = after(n);
            let base = Duration::from_secs(base);
            assert!(d >= base && d <= base * 2, "retry {n}: {d:?}");
        }
        let spread: std::collections::BTreeSet<Duration> = (0..20).map(|_| after(2)).collect();
        assert!(spread.len() > 1, "jittered: {spread:?}");
        assert_eq!(decide(ErrorKind::Transient, None, 4), Block(Scope::Zone));
    }

    #[test]
    fn a_long_message_is_cut_in_the_table_and_given_in_full_under_it() {
        let mut h = FailoverHistory::default();
        assert_eq!(h.to_string(), "", "no attempt, no table");
        let long = "SSH node pool netns has 2 hosts of 3 free and answering; the cluster \
                    needs 3, 1 host short (198.18.90.11: connection refused)";
        h.push(
            &Error::new(ErrorKind::Capacity, long).with_placement(Placement::cloud(CloudId::Fake)),
            Decision::Abort,
            false,
        );
        let text = h.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].ends_with("... [1]"), "{text}");
        assert_eq!(lines[2], format!("[1] fake: {long}"));
    }

    #[test]
    fn history_prints_a_table() {
        let mut h = FailoverHistory::default();
        let err = Error::new(ErrorKind::Capacity, "no capacity")
            .with_code("InsufficientInstanceCapacity")
            .with_placement(Placement {
                cloud: Some(CloudId::Aws),
                region: Some("us-east-1".into()),
                zone: Some("us-east-1a".into()),
                instance_type: Some("p3.2xlarge".into()),
            });
        h.push(&err, Decision::Block(Scope::Zone), false);
        let t = h.to_string();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("INFRA"));
        assert!(lines[1].contains("aws/us-east-1/us-east-1a (p3.2xlarge)"));
        assert!(lines[1].contains("InsufficientInstanceCapacity"));
        assert!(lines[1].contains("block zone"));
    }
}
