//! Reading YAML text into [`Node`] documents: the parser's options (depth and alias
//! limits, duplicate keys passed through) and its errors as [`TaskError`]s with a position.

use super::error::{TaskError, TaskErrorKind};
use super::node::{Loc, Node};

/// How deeply mappings and lists may nest. Each level costs tens of KB of stack in an
/// unoptimised build, so the limit keeps hostile input far from a stack overflow on a 2 MB
/// thread; real task YAML (even Kubernetes `pod_config` overrides) nests far less.
pub(crate) const MAX_DEPTH: usize = 32;

/// The most documents (tasks of a DAG) one YAML text may hold.
pub(crate) const MAX_DOCUMENTS: usize = 1_000_000;

/// Parser options: YAML 1.2 booleans (the loader accepts `yes`/`no` where a boolean is
/// expected), duplicate keys passed through so the loader reports them with their path, and
/// the default budget with [`MAX_DEPTH`] and a tighter cap on alias expansion.
fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    // A DAG file has one document per task; schedulers generate files of 100,000 tasks and
    // more. Documents, events and nodes grow with the input's size (capped by the reader's
    // input budget), unlike alias expansion, which is what YAML bombs use and stays capped.
    budget.max_documents = MAX_DOCUMENTS;
    budget.max_events = 64 * MAX_DOCUMENTS;
    budget.max_nodes = 32 * MAX_DOCUMENTS;
    o.budget = Some(budget);
    // Anchors and aliases are rare in task YAML; cap their expansion well below the
    // library default so that alias bombs fail fast.
    o.alias_limits.max_total_replayed_events = 20_000;
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    o.strict_booleans = true;
    o.with_snippet = false;
    o
}

/// Reads the YAML documents of `text` (empty documents are skipped).
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, TaskError> {
    serde_saphyr::from_multiple_with_options::<Node>(text, options()).map_err(syntax_error)
}

fn syntax_error(e: serde_saphyr::Error) -> TaskError {
    let loc = e.location().map_or(Loc::default(), |l| Loc {
        line: l.line(),
        column: l.column(),
    });
    let mut message = e.without_snippet().to_string();
    // The parser appends the position itself; the error shows it once, in front.
    if loc.is_known() {
        for suffix in [
            format!(" at line {}, column {}", loc.line, loc.column),
            format!("error: line {} column {}: ", loc.line, loc.column),
        ] {
            message = message.replace(&suffix, "");
        }
    }
    if message.contains("budget breached: Depth") {
        message = format!("mappings and lists nest deeper than {MAX_DEPTH} levels");
    }
    TaskError::new(TaskErrorKind::Syntax {
        message: message.trim().to_owned(),
    })
    .with_loc(loc)
}

/// Reads UTF-8 bytes.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, TaskError> {
    std::str::from_utf8(bytes).map_err(|e| {
        TaskError::new(TaskErrorKind::NotUtf8 {
            message: e.to_string(),
        })
    })
}
