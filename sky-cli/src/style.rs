//! Color, for a person at a terminal: status values, the chosen plan row, marks and errors.
//!
//! Strings are styled with ANSI codes ([`anstyle`]) and printed through [`anstream`], which
//! drops the codes when the stream is not a terminal or `NO_COLOR` is set (and keeps them
//! with `CLICOLOR_FORCE`). Tables are laid out before they are painted, so alignment never
//! depends on color.

use anstyle::{AnsiColor, Style};

fn paint(s: &str, style: Style) -> String {
    format!("{style}{s}{style:#}")
}

/// Success: green and bold.
pub fn ok(s: &str) -> String {
    paint(s, AnsiColor::Green.on_default().bold())
}

/// Failure: red and bold.
pub fn bad(s: &str) -> String {
    paint(s, AnsiColor::Red.on_default().bold())
}

/// Something under way: yellow.
pub fn busy(s: &str) -> String {
    paint(s, AnsiColor::Yellow.on_default())
}

/// Secondary text: dimmed.
pub fn dim(s: &str) -> String {
    paint(s, Style::new().dimmed())
}

/// Emphasis: bold.
pub fn bold(s: &str) -> String {
    paint(s, Style::new().bold())
}

/// A cluster or job status value in its color: green when all is well, yellow while it
/// changes, red when it failed, dim when it is stopped or gone.
pub fn status(s: &str) -> String {
    match s {
        "UP" | "SUCCEEDED" => ok(s),
        "INIT" | "PENDING" | "SETTING_UP" | "RUNNING" | "CANCELLING" => busy(s),
        "STOPPED" | "CANCELLED" => dim(s),
        s if s.starts_with("FAILED") => bad(s),
        s => s.to_string(),
    }
}

/// Paints the cells of column `header` in a table laid out by [`crate::table::render`]:
/// the header row is found by name, and each later row's cell at the same offset is
/// replaced by `f(cell)`.
pub fn column(table: &str, header: &str, f: impl Fn(&str) -> String) -> String {
    let mut lines = table.lines();
    let Some(head) = lines.next() else {
        return table.to_string();
    };
    let Some(at) = head.find(header) else {
        return table.to_string();
    };
    let mut out = String::with_capacity(table.len() * 2);
    out.push_str(head);
    out.push('\n');
    for line in lines {
        match line.get(at..) {
            Some(rest) => {
                let end = rest.find(' ').unwrap_or(rest.len());
                out.push_str(&line[..at]);
                out.push_str(&f(&rest[..end]));
                out.push_str(&rest[end..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Paints the plan's chosen rows (marked `✔` by the optimizer's table) green.
pub fn chosen_rows(plan_table: &str) -> String {
    let mut out = String::with_capacity(plan_table.len() * 2);
    for line in plan_table.lines() {
        if line.contains('\u{2714}') {
            out.push_str(&ok(line));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_is_painted_where_its_header_is_and_nowhere_else() {
        let t = "NAME  STATUS  OWNER\nup1   UP      me\nx     FAILED  UP\n";
        let painted = column(t, "STATUS", |s| format!("<{s}>"));
        assert_eq!(
            painted,
            "NAME  STATUS  OWNER\nup1   <UP>      me\nx     <FAILED>  UP\n"
        );
        // No such header: unchanged.
        assert_eq!(column(t, "NOPE", |s| format!("<{s}>")), t);
    }

    #[test]
    fn status_colors_follow_meaning() {
        assert!(status("UP").contains("\u{1b}[32"), "green");
        assert!(status("FAILED_SETUP").contains("\u{1b}[31"), "red");
        assert_eq!(status("WHATEVER"), "WHATEVER");
    }
}
