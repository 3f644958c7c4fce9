//! `sky check`: which clouds have usable credentials.
//!
//! Each cloud backend's builder reports every credential source it tried and whether an
//! authenticated call succeeded ([`sky::check::CredentialReport`]). The clouds that pass are
//! written to `<state dir>/enabled_clouds.json`; the broker of `launch`, `provision` and the
//! cluster commands registers exactly those (plus `local`, and the SSH node pools when they are
//! configured), as SkyPilot's `sky check` does.
//!
//! When AWS passes, the account's zone names by zone id are kept too, in
//! `<state dir>/aws_zone_names.json`: SkyPilot's AWS catalog names zones by id, and mapping
//! them takes a DescribeAvailabilityZones call per region, which every command that builds
//! the broker would otherwise repeat.

use std::collections::BTreeMap;
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

/// Writes `value` as JSON to `path` (through a temporary file, so readers never see half).
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::new("state", format!("{}: {e}", path.display()), 2);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("json.tmp");
    let body =
        serde_json::to_vec_pretty(value).map_err(|e| Failure::new("state", e.to_string(), 2))?;
    std::fs::write(&tmp, body).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// The AWS account's zone names by zone id, as the last `sky check` (or the first broker
/// after it) found them, with what they were asked with: a different profile, endpoint or
/// region list makes them stale.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AwsZoneNames {
    /// The profile (`None`: the SDK's default).
    pub profile: Option<String>,
    /// The endpoint override, if any.
    pub endpoint: Option<String>,
    /// The configured regions (empty: every region of the catalog).
    pub regions: Vec<String>,
    /// When they were asked for (Unix seconds).
    pub checked_at: i64,
    /// Zone id → zone name (`use1-az1` → `us-east-1c`).
    pub zones: BTreeMap<String, String>,
}

impl AwsZoneNames {
    /// An empty record for what `builder` is configured with.
    pub fn for_builder(builder: &sky::aws::AwsBuilder) -> Self {
        AwsZoneNames {
            profile: builder.configured_profile().map(str::to_owned),
            endpoint: builder.configured_endpoint().map(str::to_owned),
            regions: builder.configured_regions().to_vec(),
            checked_at: sky::runtime::state::now_s(),
            zones: BTreeMap::new(),
        }
    }

    /// Whether these names were asked for with the configuration of `builder`.
    pub fn matches(&self, builder: &sky::aws::AwsBuilder) -> bool {
        let now = Self::for_builder(builder);
        (&self.profile, &self.endpoint, &self.regions)
            == (&now.profile, &now.endpoint, &now.regions)
    }
}

/// The file that keeps [`AwsZoneNames`] in the state dir.
pub fn aws_zone_names_path(dir: &Path) -> PathBuf {
    dir.join("aws_zone_names.json")
}

/// The kept zone names, if there are any for the configuration of `builder`.
pub fn aws_zone_names(dir: &Path, builder: &sky::aws::AwsBuilder) -> Option<AwsZoneNames> {
    let bytes = std::fs::read(aws_zone_names_path(dir)).ok()?;
    let kept: AwsZoneNames = serde_json::from_slice(&bytes).ok()?;
    kept.matches(builder).then_some(kept)
}

/// Asks AWS through `p` for the zone names of `base`'s regions and keeps them in `dir` for
/// the next commands, under `names` (made by [`AwsZoneNames::for_builder`] from the builder
/// `p` came from). Returns them; failing to keep them is only logged.
pub async fn ask_and_keep_aws_zone_names(
    dir: &Path,
    mut names: AwsZoneNames,
    p: &sky::aws::AwsProvisioner,
    base: &sky::catalog::AwsCatalog,
) -> Result<BTreeMap<String, String>, String> {
    names.zones = p.zone_name_map(base).await.map_err(|e| e.to_string())?;
    tracing::debug!(target: "sky::aws_zone_names", "asked AWS for its zone names");
    if let Err(e) = write_json(&aws_zone_names_path(dir), &names) {
        tracing::warn!("AWS zone names not kept: {}", e.message);
    }
    Ok(names.zones)
}

/// Asks AWS for the account's zone names and keeps them. Without an AWS catalog there is
/// nothing to map, and nothing is kept.
async fn refresh_aws_zone_names(g: &Global, dir: &Path) -> Result<(), String> {
    let base = match sky::catalog::AwsCatalog::load(&load::source(g)) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!("no AWS catalog, so no zone names to map: {e}");
            return Ok(());
        }
    };
    let builder = sky::aws::AwsBuilder::from_env();
    let names = AwsZoneNames::for_builder(&builder);
    let p = builder.build().await.map_err(|e| e.to_string())?;
    ask_and_keep_aws_zone_names(dir, names, &p, &base).await?;
    Ok(())
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
    write_json(&enabled_path(&dir), &record)?;
    if reports.iter().any(|r| r.cloud == CloudId::Aws && r.ok())
        && let Err(e) = rt.block_on(refresh_aws_zone_names(g, &dir))
    {
        // Stale names must not outlive a failed refresh; the broker asks again.
        let _ = std::fs::remove_file(aws_zone_names_path(&dir));
        tracing::warn!("AWS zone names not kept ({e}); commands will ask AWS for them");
    }
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
