//! `sky check`: which clouds have usable credentials.
//!
//! A thin client of [`sky::clouds::Clouds::check`]: each cloud backend's builder reports every
//! credential source it tried and whether an authenticated call succeeded; the clouds that
//! pass are kept in `<state dir>/enabled_clouds.json`, and the broker of `launch`,
//! `provision` and the cluster commands registers exactly those (plus `local`, and the SSH
//! node pools when they are configured), as SkyPilot's `sky check` does. When AWS passes, the
//! account's zone names are kept too (`<state dir>/aws_zone_names.json`).
//!
//! `sky check ssh` (and `sky check` with no cloud named) also checks the SSH node pools of
//! `~/.sky/ssh_node_pools.yaml`: the file parses, and each host answers an SSH login (all at
//! once, each within `--ssh-timeout`), with ssh's reason and the fix for those that do not.
//! Pools are not enabled by the check: they are used whenever the file defines them.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sky::clouds::CloudsError;

use crate::{CmdResult, Failure, Global, load};

/// `sky check` flags.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Clouds to check (default: aws, gcp, azure and ssh, the SSH node pools). Clouds not
    /// checked keep their previous state.
    #[arg(value_name = "CLOUD")]
    clouds: Vec<String>,
    /// Seconds each SSH node pool host has to answer.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    ssh_timeout: f64,
}

/// Runs `sky check`.
pub fn run(g: &Global, args: &CheckArgs) -> CmdResult {
    let asked = load::parse_clouds(&args.clouds)?;
    let timeout = Duration::try_from_secs_f64(args.ssh_timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            Failure::new(
                "invalid_argument",
                format!(
                    "--ssh-timeout {}: give a positive number of seconds",
                    args.ssh_timeout
                ),
                2,
            )
        })?;
    let rt = load::runtime().map_err(|m| Failure::new("runtime", m, 2))?;
    let outcome = rt
        .block_on(load::clouds(g).ssh_check_timeout(timeout).check(&asked))
        .map_err(|e| match e {
            CloudsError::NotAProvider(_) => Failure::new("invalid_argument", e.to_string(), 2),
            e => Failure::new("state", e.to_string(), 2),
        })?;
    if g.json {
        println!(
            "{}",
            serde_json::json!({
                "reports": outcome.reports,
                "enabled": outcome.enabled,
                "pools": outcome.pools,
            })
        );
    } else {
        for r in &outcome.reports {
            print!("{r}");
        }
        if let Some(p) = &outcome.pools {
            print!("{p}");
        }
        let mut names: Vec<String> = vec!["local".into()];
        names.extend(outcome.enabled.iter().map(|c| c.to_string()));
        println!("\nEnabled clouds: {}", names.join(", "));
        if let Some(p) = outcome
            .pools
            .as_ref()
            .filter(|p| !p.pools.is_empty() && p.error.is_none())
        {
            let names: Vec<&str> = p.pools.iter().map(|p| p.name.as_str()).collect();
            println!("SSH node pools: {}", names.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
