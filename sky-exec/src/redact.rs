//! Replacing secret values in text with `<redacted>`.

use std::borrow::Cow;

use sky_core::task::Secret;

/// What a secret value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Replaces every occurrence of a set of secret values in text with [`REDACTED`].
///
/// Longer values are replaced first, so a secret that contains another is redacted whole.
/// A multi-line secret is also redacted line by line, because logs are processed one line at
/// a time. Empty values are ignored. The node-side log writer applies the same rules (see
/// the crate docs, "Secrets").
#[derive(Clone, Default)]
pub struct Redactor {
    values: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

impl Redactor {
    /// A redactor for these secrets.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut values: Vec<String> = Vec::new();
        for s in secrets {
            let v = s.expose();
            values.push(v.to_string());
            if v.contains('\n') {
                values.extend(v.lines().map(str::to_string));
            }
        }
        values.retain(|v| !v.is_empty());
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Redactor { values }
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret value replaced.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = Cow::Owned(out.replace(v.as_str(), REDACTED));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_longest_first_and_multiline() {
        let secrets = [
            Secret::new("abc"),
            Secret::new("abcdef"),
            Secret::new(""),
            Secret::new("line1\nline2"),
        ];
        let r = Redactor::new(&secrets);
        assert_eq!(r.redact("x abcdef y abc"), "x <redacted> y <redacted>");
        assert_eq!(r.redact("got line2 here"), "got <redacted> here");
        assert!(matches!(r.redact("clean"), Cow::Borrowed("clean")));
        assert!(Redactor::new(&[Secret::new("")]).is_empty());
        assert_eq!(format!("{r:?}"), "Redactor(5 values)");
    }
}
