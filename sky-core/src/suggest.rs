//! "Did you mean ...?" suggestions for names the user mistyped.

/// The candidate closest to `input`, if one is close enough to be a likely typo.
///
/// Comparison is case-insensitive. A candidate qualifies when its normalised
/// Damerau-Levenshtein similarity to `input` is at least 0.7, or when one contains the other
/// (`v100` → `V100-32GB`). When none does, candidates one edit away (two for inputs of four
/// or more characters) qualify, which catches typos in short names (`gpc` → `gcp`,
/// `V1OO` → `V100`). The most similar wins; ties go to the earlier candidate.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(input, candidates, 1).into_iter().next()
}

/// Inputs longer than this (bytes) get no suggestion.
pub const MAX_INPUT: usize = 256;

/// Up to `n` candidates close to `input`, most similar first (see [`did_you_mean`]). An
/// input longer than [`MAX_INPUT`] gets none, and so does `n == 0`.
pub fn closest<'a, I>(input: &str, candidates: I, n: usize) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    // Names are short: a long input is no typo of one, and comparing it would cost its
    // length times every candidate's.
    if n == 0 || input.len() > MAX_INPUT {
        return Vec::new();
    }
    let needle = input.trim().to_ascii_lowercase();
    if needle.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, usize, &str)> = Vec::new();
    let mut near_edits: Vec<(f64, usize, &str)> = Vec::new();
    for (i, c) in candidates.into_iter().enumerate() {
        let lc = c.to_ascii_lowercase();
        if lc == needle {
            return vec![c.to_string()];
        }
        let mut score = strsim::normalized_damerau_levenshtein(&needle, &lc);
        if lc.contains(&needle) || needle.contains(&lc) {
            score = score.max(0.7);
        }
        if score >= 0.7 {
            scored.push((score, i, c));
        } else {
            let len = needle.chars().count();
            let max_edits = if len >= 4 { 2 } else { 1 };
            if len >= 2 && strsim::damerau_levenshtein(&needle, &lc) <= max_edits {
                near_edits.push((score, i, c));
            }
        }
    }
    // Names only a few edits away count when nothing is similar by ratio.
    if scored.is_empty() {
        scored = near_edits;
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<String> = Vec::new();
    for (_, _, c) in scored {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
        if out.len() == n {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let regions = ["us-central1", "us-east1", "europe-west4"];
        assert_eq!(
            did_you_mean("us-centrl1", regions).as_deref(),
            Some("us-central1")
        );
        assert_eq!(
            did_you_mean("US-EAST1", regions).as_deref(),
            Some("us-east1")
        );
        assert_eq!(did_you_mean("mars-north9", regions), None);
        assert_eq!(
            did_you_mean("gpc", ["aws", "gcp", "azure"]).as_deref(),
            Some("gcp")
        );
        assert_eq!(did_you_mean("s4", ["s3", "gcs"]).as_deref(), Some("s3"));
        assert_eq!(did_you_mean("x", ["s3", "gcs"]), None);
        assert_eq!(did_you_mean("", regions), None);
        let fields = ["resources", "run", "setup", "num_nodes"];
        assert_eq!(
            did_you_mean("resource", fields).as_deref(),
            Some("resources")
        );
        assert_eq!(
            did_you_mean("num_node", fields).as_deref(),
            Some("num_nodes")
        );
        assert_eq!(
            closest("a10", ["A100", "A10G", "A10", "H100"], 2),
            vec!["A10".to_string()]
        );
    }

    /// Fuzz finding (`resource_strings`): `n == 0` returned every close candidate, since the
    /// limit was only checked after a push.
    #[test]
    fn closest_zero_gives_none() {
        assert!(closest("4", ["4"], 0).is_empty());
        assert!(closest("a10", ["A100", "A10G", "A10"], 0).is_empty());
        assert_eq!(closest("a10", ["A100", "A10G"], 1).len(), 1);
    }
}
