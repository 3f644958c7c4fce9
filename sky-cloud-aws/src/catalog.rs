//! The AWS catalog as this account sees it.
//!
//! SkyPilot's `aws/vms.csv` names zones by id (`use1-az1`, the same in every account); each
//! account maps ids to its own zone names (`us-east-1c`), which are what EC2 calls take.
//! [`AwsProvisioner::zone_name_map`] asks DescribeAvailabilityZones for the map, and
//! [`ZoneNames`] keeps it in a file between processes: the map changes only when the account
//! does, and asking takes a call per region.
//!
//! [`AwsBuilder::catalog`](crate::AwsBuilder::catalog) puts the two together: the provisioner
//! it builds carries the catalog with this account's zone names, asked for once and kept in
//! the file of [`AwsBuilder::zone_names_file`](crate::AwsBuilder::zone_names_file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sky_catalog::AwsCatalog;
use sky_core::catalog::Catalog;
use sky_core::error::{ErrorKind, Result, Scope};

use crate::error::from_sdk;
use crate::provision::AwsProvisioner;

/// The name of the file that keeps [`ZoneNames`] in a state directory.
pub const ZONE_NAMES_FILE: &str = "aws_zone_names.json";

impl AwsProvisioner {
    /// This account's zone names of `region` by zone id (`use1-az1` → `us-east-1c`), from
    /// DescribeAvailabilityZones.
    pub async fn zone_names(&self, region: &str) -> Result<BTreeMap<String, String>> {
        let out = self
            .client(region)
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| {
                from_sdk(
                    "DescribeAvailabilityZones",
                    e,
                    AwsProvisioner::at(region, None, None),
                )
            })?;
        Ok(out
            .availability_zones()
            .iter()
            .filter_map(|z| Some((z.zone_id()?.to_owned(), z.zone_name()?.to_owned())))
            .collect())
    }

    /// This account's zone names by zone id for every region sky may use: the configured
    /// regions, or every region of `base` when none was configured. Regions the account has
    /// not opted in to are left out. One DescribeAvailabilityZones per region, all at once.
    ///
    /// The map is the account's and changes only when the account does, so an application
    /// may keep it (the CLI keeps it from `sky check` to the next) and apply it with
    /// [`AwsCatalog::with_zone_names`] instead of asking again.
    pub async fn zone_name_map(&self, base: &AwsCatalog) -> Result<BTreeMap<String, String>> {
        let regions: Vec<String> = if self.regions().is_empty() {
            base.regions().into_iter().map(|r| r.name).collect()
        } else {
            self.regions().to_vec()
        };
        let answers =
            futures_util::future::join_all(regions.iter().map(|r| self.zone_names(r))).await;
        let mut map = BTreeMap::new();
        for (r, answer) in regions.iter().zip(answers) {
            match answer {
                Ok(m) => map.extend(m),
                Err(e) if e.kind() == ErrorKind::Auth && e.scope() == Scope::Region => {
                    tracing::info!(region = %r, "skipping a region the account has not opted in to");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(map)
    }

    /// `base` with its zone ids renamed to this account's zone names, as SkyPilot does once
    /// credentials exist ([`Self::zone_name_map`] applied); rows of regions the account
    /// cannot use (not opted in, or not configured) are dropped.
    pub async fn catalog_with_zone_names(&self, base: AwsCatalog) -> Result<AwsCatalog> {
        let map = self.zone_name_map(&base).await?;
        Ok(base.with_zone_names(&map))
    }
}

/// The AWS account's zone names by zone id, with what they were asked with: a different
/// profile, endpoint or region list makes them stale.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ZoneNames {
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

impl ZoneNames {
    /// An empty record for what `builder` is configured with.
    pub fn for_builder(builder: &crate::AwsBuilder) -> Self {
        ZoneNames {
            profile: builder.configured_profile().map(str::to_owned),
            endpoint: builder.configured_endpoint().map(str::to_owned),
            regions: builder.configured_regions().to_vec(),
            checked_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            zones: BTreeMap::new(),
        }
    }

    /// Whether these names were asked for with the configuration of `builder`.
    pub fn matches(&self, builder: &crate::AwsBuilder) -> bool {
        let now = Self::for_builder(builder);
        (&self.profile, &self.endpoint, &self.regions)
            == (&now.profile, &now.endpoint, &now.regions)
    }

    /// The file that keeps them in the state directory `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(ZONE_NAMES_FILE)
    }

    /// The names kept in `path`, if the file exists, parses, and was made with the
    /// configuration of `builder`.
    pub fn read(path: &Path, builder: &crate::AwsBuilder) -> Option<ZoneNames> {
        let bytes = std::fs::read(path).ok()?;
        let kept: ZoneNames = serde_json::from_slice(&bytes).ok()?;
        kept.matches(builder).then_some(kept)
    }

    /// Writes them to `path` (through a temporary file, so readers never see half of it;
    /// the file is private to the user, as everything in a state directory is).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_private(&tmp, &body)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(body)
}

#[cfg(not(unix))]
fn write_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, body)
}

/// Forgets the names kept in `path` (after a failed refresh, stale names must not outlive
/// it). A missing file is not an error.
pub fn forget_zone_names(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
