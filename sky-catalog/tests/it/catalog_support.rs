//! Shared helpers of the catalog tests: where the catalogs are, and an independent (naive)
//! reading of the CSV files to check the catalog code's answers against.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use sky_catalog::{AwsCatalog, AzureCatalog, GcpCatalog};

/// The directory with SkyPilot's GCP and Azure catalogs: `SKY_TEST_CATALOG_DIR` (the full
/// catalogs, never copied into the repo), else the trimmed copies committed in
/// `tests/fixtures/trimmed`.
pub fn shared_dir() -> PathBuf {
    sky_catalog::testing::test_catalog_dir()
}

/// The directory of the small hand-made AWS fixture (`aws/vms.csv`, and no other cloud).
pub fn fixture_dir() -> PathBuf {
    sky_catalog::testing::fixture_dir()
}

pub fn gcp() -> Arc<GcpCatalog> {
    static C: OnceLock<Arc<GcpCatalog>> = OnceLock::new();
    C.get_or_init(|| Arc::new(GcpCatalog::from_path(shared_dir().join("gcp/vms.csv")).unwrap()))
        .clone()
}

pub fn azure() -> Arc<AzureCatalog> {
    static C: OnceLock<Arc<AzureCatalog>> = OnceLock::new();
    C.get_or_init(|| Arc::new(AzureCatalog::from_path(shared_dir().join("azure/vms.csv")).unwrap()))
        .clone()
}

pub fn aws() -> AwsCatalog {
    AwsCatalog::from_path(fixture_dir().join("aws/vms.csv")).unwrap()
}

/// One CSV row as column → value.
pub type RawRow = HashMap<String, String>;

/// All rows of a catalog file, read naively with the csv crate.
pub fn raw_rows(cloud: &str) -> Arc<Vec<RawRow>> {
    static GCP: OnceLock<Arc<Vec<RawRow>>> = OnceLock::new();
    static AZURE: OnceLock<Arc<Vec<RawRow>>> = OnceLock::new();
    let cell = if cloud == "gcp" { &GCP } else { &AZURE };
    cell.get_or_init(|| {
        let mut rdr = csv::Reader::from_path(shared_dir().join(cloud).join("vms.csv")).unwrap();
        let headers = rdr.headers().unwrap().clone();
        let rows = rdr
            .records()
            .map(|r| {
                let r = r.unwrap();
                headers
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect()
            })
            .collect();
        Arc::new(rows)
    })
    .clone()
}

/// A numeric column (None when empty).
pub fn num(row: &RawRow, col: &str) -> Option<f64> {
    row.get(col)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| !v.is_nan())
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}
