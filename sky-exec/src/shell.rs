//! Building bash text safely: quoting, remote paths, heredocs and `export` lines.

use crate::error::{ExecError, Result};
use crate::runner::ExecEnv;

/// The command every runner executes: bash reads the whole script from stdin, then runs it.
///
/// The script (which may carry secret values in `export` lines) therefore never appears on
/// any command line, and the commands it runs see an already-closed stdin.
pub(crate) const BOOTSTRAP: &str = r#"exec bash -c 'eval "$(cat)"'"#;

/// Single-quotes `s` for bash: `it's` → `'it'\''s'`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A bash expression for a node path: `~` and `~/x` become `"$HOME"` and `"$HOME"/'x'`,
/// relative paths are taken relative to `$HOME`, absolute paths are quoted as they are.
pub(crate) fn path_expr(path: &str) -> String {
    match home_relative(path) {
        Some("") => r#""$HOME""#.to_string(),
        Some(rel) => format!(r#""$HOME"/{}"#, quote(rel)),
        None => quote(path),
    }
}

/// `Some(rest)` for a path relative to the home directory (`~`, `~/rest`, or `rest` without
/// a leading `/`), `None` for an absolute path.
pub(crate) fn home_relative(path: &str) -> Option<&str> {
    if path == "~" {
        Some("")
    } else if let Some(rest) = path.strip_prefix("~/") {
        Some(rest.trim_start_matches('/'))
    } else if path.starts_with('/') {
        None
    } else {
        Some(path)
    }
}

/// A quoted heredoc (`cat > FILE <<'DELIM' ... DELIM`) writing `content` to the file that
/// `target_expr` (a bash expression) names; the delimiter never occurs as a line of content.
pub(crate) fn heredoc_to(target_expr: &str, content: &str) -> String {
    let mut delim = String::from("__SKY_EOF__");
    let mut n = 0u32;
    while content.lines().any(|l| l == delim) {
        n += 1;
        delim = format!("__SKY_EOF_{n}__");
    }
    let mut body = content.to_string();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    format!("cat > {target_expr} <<'{delim}'\n{body}{delim}\n")
}

/// Whether `name` can be exported by a shell.
pub(crate) fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `export NAME='value'` lines for every variable and secret (secrets last, so they win).
///
/// Also exports `__SKY_REDACT_NAMES`, the secret names ordered by decreasing value length, which
/// the node-side log writer uses to find the values to redact.
pub(crate) fn exports(env: &ExecEnv) -> Result<String> {
    let mut out = String::new();
    let vars = env.vars.iter().map(|(k, v)| (k, v.as_str()));
    let secrets = env.secrets.iter().map(|(k, v)| (k, v.expose()));
    for (name, value) in vars.chain(secrets) {
        if !valid_env_name(name) || value.contains('\0') {
            return Err(ExecError::InvalidEnv(name.clone()));
        }
        out.push_str("export ");
        out.push_str(name);
        out.push('=');
        out.push_str(&quote(value));
        out.push('\n');
    }
    let mut names: Vec<(&String, usize)> = env
        .secrets
        .iter()
        .map(|(k, v)| (k, v.expose().len()))
        .collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let names: Vec<&str> = names.iter().map(|(k, _)| k.as_str()).collect();
    out.push_str(&format!(
        "export __SKY_REDACT_NAMES={}\n",
        quote(&names.join(" "))
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sky_core::task::Secret;

    #[test]
    fn quote_handles_single_quotes() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn paths() {
        assert_eq!(path_expr("~"), r#""$HOME""#);
        assert_eq!(path_expr("~/sky_workdir"), r#""$HOME"/'sky_workdir'"#);
        assert_eq!(path_expr("data/x"), r#""$HOME"/'data/x'"#);
        assert_eq!(path_expr("/data/x y"), "'/data/x y'");
    }

    #[test]
    fn heredoc_delimiter_avoids_content() {
        let doc = heredoc_to("f", "a\n__SKY_EOF__\nb");
        assert!(doc.starts_with("cat > f <<'__SKY_EOF_1__'\n"));
        assert!(doc.ends_with("b\n__SKY_EOF_1__\n"));
    }

    #[test]
    fn env_names() {
        assert!(valid_env_name("A_1"));
        assert!(valid_env_name("_x"));
        assert!(!valid_env_name("1A"));
        assert!(!valid_env_name("A-B"));
        assert!(!valid_env_name(""));
    }

    #[test]
    fn exports_orders_secret_names_by_length() {
        let mut env = ExecEnv::default();
        env.vars.insert("A".into(), "x'y".into());
        env.secrets.insert("S1".into(), Secret::new("ab"));
        env.secrets.insert("S2".into(), Secret::new("abcd"));
        let text = exports(&env).unwrap();
        assert!(text.contains(r"export A='x'\''y'"));
        assert!(text.contains("export __SKY_REDACT_NAMES='S2 S1'"));
        let mut bad = ExecEnv::default();
        bad.vars.insert("BAD-NAME".into(), "v".into());
        assert!(matches!(exports(&bad), Err(ExecError::InvalidEnv(n)) if n == "BAD-NAME"));
    }
}
