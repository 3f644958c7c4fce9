//! `sky check`: which clouds have usable credentials.
//!
//! Each cloud backend's builder reports every credential source it tried and whether an
//! authenticated call succeeded ([`sky::check::CredentialReport`]). The clouds that pass are
//! written to `<state dir>/enabled_clouds.json`; the broker of `launch`, `provision` and the
//! cluster commands registers exactly those (plus `local`, and the SSH node pools when they are
//! configured), as SkyPilot's `sky check` does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::{Deserialize, Serialize};
use sky::CloudId;
use sky::check::CredentialReport;
use sky::runtime::state::StateStore;

use crate::{CmdResult, Failure, Global, load};

/// `sky check` flags.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Clouds to check (default: aws, gcp, azure). Clouds not checked keep their previous
    /// state.
    #[arg(value_name = "CLOUD")]
    clouds: Vec<String>,
}

/// What `sky check` recorded.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Enabled {
    /// Cloud-provider backends whose credentials worked, by name.
    pub clouds: Vec<CloudId>,
    /// When the last check ran (Unix seconds).
    pub checked_at: i64,
}

/// The file `sky check` writes in the state dir.
pub fn enabled_path(dir: &Path) -> PathBuf {
    dir.join("enabled_clouds.json")
}

/// The clouds the last `sky check` enabled (none before the first check, or if the file is
/// unreadable, which is logged).
pub fn enabled(dir: &Path) -> Enabled {
    let path = enabled_path(dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!("ignoring {}: {e}; run `sky check`", path.display());
            Enabled::default()
        }),
        Err(_) => Enabled::default(),
    }
}

fn save(dir: &Path, enabled: &Enabled) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::new("state", format!("{}: {e}", dir.display()), 2);
    std::fs::create_dir_all(dir).map_err(fail)?;
    let path = enabled_path(dir);
    let tmp = path.with_extension("json.tmp");
    let body =
        serde_json::to_vec_pretty(enabled).map_err(|e| Failure::new("state", e.to_string(), 2))?;
    std::fs::write(&tmp, body).map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)
}

async fn check_one(cloud: &CloudId) -> CredentialReport {
    match cloud {
        CloudId::Aws => sky::aws::AwsBuilder::from_env().check().await,
        CloudId::Gcp => sky::gcp::GcpBuilder::from_env().check().await,
        CloudId::Azure => sky::azure::AzureBuilder::from_env().check().await,
        other => {
            let mut r = CredentialReport::new(other.clone());
            r.failed(format!("{other} has no credential check"));
            r
        }
    }
}

/// Runs `sky check`.
pub fn run(g: &Global, args: &CheckArgs) -> CmdResult {
    let asked = load::parse_clouds(&args.clouds)?;
    let clouds: Vec<CloudId> = if asked.is_empty() {
        load::CATALOG_CLOUDS.to_vec()
    } else {
        for c in &asked {
            if !load::CATALOG_CLOUDS.contains(c) {
                return Err(Failure::new(
                    "invalid_argument",
                    format!("{c} needs no credentials; `sky check` checks aws, gcp and azure"),
                    2,
                ));
            }
        }
        asked
    };
    let rt = load::runtime().map_err(|m| Failure::new("runtime", m, 2))?;
    let reports: Vec<CredentialReport> = rt.block_on(async {
        let mut out = Vec::new();
        for c in &clouds {
            out.push(check_one(c).await);
        }
        out
    });
    let dir = g.state_dir.clone().unwrap_or_else(StateStore::default_dir);
    let previous = enabled(&dir);
    let mut now: Vec<CloudId> = previous
        .clouds
        .into_iter()
        .filter(|c| !clouds.contains(c))
        .collect();
    now.extend(reports.iter().filter(|r| r.ok()).map(|r| r.cloud.clone()));
    now.sort();
    now.dedup();
    let record = Enabled {
        clouds: now,
        checked_at: sky::runtime::state::now_s(),
    };
    save(&dir, &record)?;
    if g.json {
        println!(
            "{}",
            serde_json::json!({"reports": reports, "enabled": record.clouds})
        );
    } else {
        for r in &reports {
            print!("{r}");
        }
        let mut names: Vec<String> = vec!["local".into()];
        names.extend(record.clouds.iter().map(|c| c.to_string()));
        println!("\nEnabled clouds: {}", names.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
