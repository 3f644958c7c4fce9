//! sky-cloud-azure against a local ARM server (wiremock, `fake_arm`): the conformance suite,
//! the provisioner's ARM requests, the error table end to end, the quota pre-check, the
//! credential check, and the broker's lifecycle and failover through it.

mod broker;
mod conformance;
mod fake_arm;
mod paging_quota;
mod provisioner;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::OffsetDateTime;
use sky_catalog::AzureCatalog;
use sky_cloud_azure::{AzureBuilder, AzureProvisioner};

use fake_arm::FakeArm;

/// A credential that always gives the same token (no Entra ID in tests).
#[derive(Debug)]
pub struct StaticToken(pub &'static str);

#[async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            self.0,
            OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

/// The directory with SkyPilot's catalogs: `SKY_TEST_CATALOG_DIR`, else the trimmed fixtures.
pub fn catalog_dir() -> PathBuf {
    sky_catalog::testing::test_catalog_dir()
}

/// The real Azure catalog, loaded once.
pub fn catalog() -> Arc<AzureCatalog> {
    static C: OnceLock<Arc<AzureCatalog>> = OnceLock::new();
    C.get_or_init(|| {
        Arc::new(
            AzureCatalog::from_path(catalog_dir().join("azure/vms.csv")).expect("azure catalog"),
        )
    })
    .clone()
}

/// A builder aimed at `fake` with the fake's token and tiny poll intervals.
pub fn builder(fake: &FakeArm) -> AzureBuilder {
    AzureBuilder::new()
        .subscription(fake_arm::SUB)
        .endpoint(fake.uri())
        .credential(Arc::new(StaticToken(fake_arm::TOKEN)))
        .poll_interval(Duration::from_millis(2))
        .max_retry_after(Duration::from_millis(2))
        .catalog(catalog())
}

/// A provisioner aimed at `fake`.
pub async fn provisioner(fake: &FakeArm) -> AzureProvisioner {
    builder(fake).build().await.expect("build")
}
