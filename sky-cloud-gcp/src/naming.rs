//! Names on Compute Engine: instances, labels, network tags and firewall rules.
//!
//! Resource names must match `[a-z]([-a-z0-9]{0,61}[a-z0-9])?`; label keys start with a
//! lower-case letter and, like label values, hold at most 63 of `[a-z0-9_-]`. sky's cluster
//! names are mapped into those alphabets here, in one place, so every call finds the same
//! names.

/// The label holding the cluster name (sanitised, see [`cluster_label`]).
pub const LABEL_CLUSTER: &str = "sky-cluster";

/// The label holding the node rank (`0` is the head).
pub const LABEL_RANK: &str = "sky-rank";

/// `s` in the resource-name alphabet, at most `max` characters, starting with a letter and
/// not ending with `-`.
fn resource_name(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, 's');
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `s` in the label alphabet (`[a-z0-9_-]`), at most 63 characters.
pub fn label_value(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '_') => c,
            _ => '_',
        })
        .take(63)
        .collect()
}

/// A label key: the label alphabet, starting with a letter.
pub fn label_key(s: &str) -> String {
    let v = label_value(s);
    if v.starts_with(|c: char| c.is_ascii_lowercase()) {
        v
    } else {
        let mut k = format!("k{v}");
        k.truncate(63);
        k
    }
}

/// The value of [`LABEL_CLUSTER`] for a cluster.
pub fn cluster_label(cluster: &str) -> String {
    label_value(cluster)
}

/// The name of node `rank` of a cluster: `<cluster>-<rank>`.
pub fn instance_name(cluster: &str, rank: u32) -> String {
    let suffix = format!("-{rank}");
    format!("{}{suffix}", resource_name(cluster, 63 - suffix.len()))
}

/// The network tag every node of a cluster carries; its firewall rules target it only.
pub fn network_tag(cluster: &str) -> String {
    resource_name(cluster, 63)
}

/// The rule opening SSH and the task's ports at launch.
pub fn firewall_name(cluster: &str) -> String {
    format!("{}-sky-ssh", resource_name(cluster, 55))
}

/// The rule of `open_ports`.
pub fn ports_firewall_name(cluster: &str) -> String {
    format!("{}-sky-ports", resource_name(cluster, 53))
}

/// The last path segment of a resource URL (`.../zones/us-central1-a` → `us-central1-a`).
pub fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_compute_engine_rules() {
        assert_eq!(instance_name("my-cluster-1a2b", 0), "my-cluster-1a2b-0");
        assert_eq!(instance_name("My_Cluster", 3), "my-cluster-3");
        assert_eq!(instance_name("9lives", 1), "s9lives-1");
        let long = "x".repeat(80);
        assert_eq!(instance_name(&long, 12).len(), 63);
        assert!(firewall_name(&long).len() <= 63);
        assert!(ports_firewall_name(&long).len() <= 63);
        assert_eq!(cluster_label("My.Cluster"), "my_cluster");
        assert_eq!(label_key("9team"), "k9team");
        assert_eq!(
            last_segment("projects/p/zones/us-central1-a"),
            "us-central1-a"
        );
        assert_eq!(last_segment("n1-standard-8"), "n1-standard-8");
    }
}
