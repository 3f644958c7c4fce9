//! `sky validate FILE.yaml`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::{CmdResult, Failure, Global, load};

/// Arguments of `sky validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The task YAML (several documents = a DAG).
    file: PathBuf,
}

/// Parses and validates the file; prints the normalised task(s), then (on stderr, or as
/// `notes` in JSON) what the optimizer will skip and a launch will refuse. Bad input exits 1.
pub fn run(g: &Global, a: &ValidateArgs) -> CmdResult {
    // Catalog checks (accelerator names, regions) against every catalog sky knows of, enabled
    // or not; syntax only when there is none.
    let catalogs = match load::all_catalogs(g) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!("validating without catalogs: {}", e.message);
            None
        }
    };
    let dag = load::dag(&a.file, catalogs.as_ref())
        .map_err(|e| Failure::new("invalid_task", e.to_string(), 1))?;
    let yaml = dag
        .to_yaml_string()
        .map_err(|e| Failure::new("invalid_task", e.to_string(), 1))?;
    // What the optimizer will skip and what a launch will refuse or keep unused.
    let notes = dag.notes(catalogs.as_ref().unwrap_or(&sky::catalog::Catalogs::new()));
    if g.json {
        let docs: Vec<serde_json::Value> = yaml
            .split("\n---\n")
            .map(|d| {
                serde_saphyr::from_str::<serde_json::Value>(d).unwrap_or(serde_json::Value::Null)
            })
            .collect();
        let out = serde_json::json!({
            "valid": true,
            "tasks": dag.len(),
            "edges": dag.edges(),
            "documents": docs,
            "notes": notes,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{yaml}");
        if !yaml.ends_with('\n') {
            println!();
        }
        for n in &notes {
            eprintln!("note ({}): {n}", n.kind.as_str());
        }
    }
    Ok(ExitCode::SUCCESS)
}
