//! Shared helpers: the real GCP catalog and a provisioner wired to a fake server.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sky_catalog::{CatalogSource, GcpCatalog};
use sky_cloud_gcp::{GcpBuilder, GcpProvisioner};

use crate::fake_gce::FakeGce;

/// The project every test uses.
pub const PROJECT: &str = "sky-test-project";

fn catalog_dir() -> PathBuf {
    sky_catalog::testing::test_catalog_dir()
}

/// SkyPilot's GCP catalog (`SKY_TEST_CATALOG_DIR`, else the trimmed fixture).
pub fn catalog() -> Arc<GcpCatalog> {
    static CATALOG: OnceLock<Arc<GcpCatalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            Arc::new(
                GcpCatalog::load(&CatalogSource::new().dir(catalog_dir()))
                    .expect("the real GCP catalog loads"),
            )
        })
        .clone()
}

/// A builder aimed at `fake`, with anonymous credentials and millisecond polling.
pub fn builder(fake: &FakeGce) -> GcpBuilder {
    GcpBuilder::new()
        .project(PROJECT)
        .endpoint(fake.uri())
        .anonymous_credentials()
        .polling_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .status_poll_interval(Duration::from_millis(5))
}

/// A provisioner aimed at `fake`.
pub async fn provisioner(fake: &FakeGce) -> GcpProvisioner {
    builder(fake).build().await.expect("the client builds")
}
