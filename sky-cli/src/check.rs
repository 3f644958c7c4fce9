//! `sky check`: which clouds have usable credentials.
//!
//! A thin client of [`sky::clouds::Clouds::check`]: each cloud backend's builder reports every
//! credential source it tried and whether an authenticated call succeeded; the clouds that
//! pass are kept in `<state dir>/enabled_clouds.json`, and the broker of `launch`,
//! `provision` and the cluster commands registers exactly those (plus `local`, and the SSH
//! node pools when they are configured), as SkyPilot's `sky check` does. When AWS passes, the
//! account's zone names are kept too (`<state dir>/aws_zone_names.json`).

use std::process::ExitCode;

use clap::Args;
use sky::clouds::CloudsError;

use crate::{CmdResult, Failure, Global, load};

/// `sky check` flags.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Clouds to check (default: aws, gcp, azure). Clouds not checked keep their previous
    /// state.
    #[arg(value_name = "CLOUD")]
    clouds: Vec<String>,
}

/// Runs `sky check`.
pub fn run(g: &Global, args: &CheckArgs) -> CmdResult {
    let asked = load::parse_clouds(&args.clouds)?;
    let rt = load::runtime().map_err(|m| Failure::new("runtime", m, 2))?;
    let outcome = rt
        .block_on(load::clouds(g).check(&asked))
        .map_err(|e| match e {
            CloudsError::NotAProvider(_) => Failure::new("invalid_argument", e.to_string(), 2),
            e => Failure::new("state", e.to_string(), 2),
        })?;
    if g.json {
        println!(
            "{}",
            serde_json::json!({"reports": outcome.reports, "enabled": outcome.enabled})
        );
    } else {
        for r in &outcome.reports {
            print!("{r}");
        }
        let mut names: Vec<String> = vec!["local".into()];
        names.extend(outcome.enabled.iter().map(|c| c.to_string()));
        println!("\nEnabled clouds: {}", names.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
