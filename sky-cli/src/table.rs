//! Plain tables, as SkyPilot prints them: a header row and aligned columns, no borders.

use comfy_table::{Table, presets};

/// Renders `rows` under `header`.
pub fn render(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING).set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    t.lines()
        .map(|l| l.trim_end().to_string() + "\n")
        .collect::<String>()
        .trim_start_matches('\n')
        .to_string()
}

/// A price as SkyPilot shows it: `$ 1.234`, or `-` when not offered.
pub fn price(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_string(), |p| format!("$ {p:.3}"))
}

/// A number without needless decimals (`8`, `0.5`).
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}
