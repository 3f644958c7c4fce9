//! [`AzureBuilder`]: subscription, credential chain and endpoint; `sky check`'s credential
//! report; and [`AzureBuilder::build`].

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_identity::{ClientSecretCredential, DeveloperToolsCredential, ManagedIdentityCredential};
use serde::Deserialize;
use sky_catalog::AzureCatalog;
use sky_core::check::{CredentialReport, SourceOutcome};
use sky_core::error::{Error, ErrorKind, Placement, Scope};

use crate::CLOUD;
use crate::arm::{ARM_ENDPOINT, ARM_SCOPE, Arm, api};
use crate::provision::AzureProvisioner;

/// The environment variable naming the subscription.
pub const SUBSCRIPTION_ENV: &str = "AZURE_SUBSCRIPTION_ID";
/// The environment variable overriding the ARM endpoint (tests, sovereign clouds).
pub const ENDPOINT_ENV: &str = "SKY_AZURE_ENDPOINT";

const SP_SOURCE: &str =
    "service principal from environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)";
const CLI_SOURCE: &str = "developer tools (Azure CLI `az`, Azure Developer CLI `azd`)";
const MI_SOURCE: &str =
    "managed identity (IDENTITY_ENDPOINT, or SKY_AZURE_MANAGED_IDENTITY=1 on an Azure VM)";

/// Set to `1` to try the VM's managed identity (IMDS). Off elsewhere: probing IMDS off Azure
/// retries for over a minute.
pub const MANAGED_IDENTITY_ENV: &str = "SKY_AZURE_MANAGED_IDENTITY";

/// Whether the managed identity is worth trying: App Service / Functions / Arc set
/// `IDENTITY_ENDPOINT` (or the older `MSI_ENDPOINT`); on a VM the user opts in.
fn managed_identity_enabled() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0");
    set("IDENTITY_ENDPOINT") || set("MSI_ENDPOINT") || set(MANAGED_IDENTITY_ENV)
}
const GIVEN_SOURCE: &str = "credential supplied by the embedder";

/// Where the subscription came from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SubscriptionSource {
    Given,
    Env,
    Profile(PathBuf),
}

/// Builds an [`AzureProvisioner`]: which subscription, which credential, which endpoint.
///
/// ```no_run
/// # async fn f() -> Result<(), sky_core::error::Error> {
/// use sky_cloud_azure::AzureBuilder;
/// let builder = AzureBuilder::from_env();
/// println!("{}", builder.check().await);
/// let azure = builder.build().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AzureBuilder {
    subscription: Option<(String, SubscriptionSource)>,
    /// What was tried to find the subscription, for the report.
    subscription_tried: Vec<(String, SourceOutcome)>,
    endpoint: String,
    credential: Option<Arc<dyn TokenCredential>>,
    poll_interval: Duration,
    max_retry_after: Duration,
    catalog: Option<Arc<AzureCatalog>>,
}

impl fmt::Debug for AzureBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBuilder")
            .field("subscription", &self.subscription.as_ref().map(|s| &s.0))
            .field("endpoint", &self.endpoint)
            .field("credential", &self.credential.as_ref().map(|_| "<given>"))
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    subscriptions: Vec<ProfileSubscription>,
}

#[derive(Deserialize)]
struct ProfileSubscription {
    id: String,
    #[serde(default, rename = "isDefault")]
    is_default: bool,
}

/// The default subscription of the az CLI's `azureProfile.json` (which starts with a BOM).
fn profile_default(text: &str) -> Result<Option<String>, String> {
    let text = text.trim_start_matches('\u{feff}');
    let p: Profile = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    Ok(p.subscriptions
        .into_iter()
        .find(|s| s.is_default)
        .map(|s| s.id))
}

impl AzureBuilder {
    /// A builder with nothing found: no subscription, the credential chain, the public ARM
    /// endpoint, a 5 s poll interval.
    pub fn new() -> Self {
        AzureBuilder {
            subscription: None,
            subscription_tried: Vec::new(),
            endpoint: ARM_ENDPOINT.to_string(),
            credential: None,
            poll_interval: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
            catalog: None,
        }
    }

    /// Reads the subscription from `AZURE_SUBSCRIPTION_ID`, else the az CLI's default in
    /// `~/.azure/azureProfile.json` (or `$AZURE_CONFIG_DIR/azureProfile.json`), and the
    /// endpoint from `SKY_AZURE_ENDPOINT` when set. The credential is the chain described
    /// in the crate docs unless [`AzureBuilder::credential`] replaces it.
    pub fn from_env() -> Self {
        Self::from_lookup(
            |k| std::env::var(k).ok(),
            dirs::home_dir().map(|h| h.join(".azure")),
        )
    }

    /// [`AzureBuilder::from_env`] over an environment lookup and the default az CLI config
    /// directory (tests pass their own).
    fn from_lookup(env: impl Fn(&str) -> Option<String>, default_dir: Option<PathBuf>) -> Self {
        let mut b = AzureBuilder::new();
        if let Some(url) = env(ENDPOINT_ENV)
            && !url.trim().is_empty()
        {
            b.endpoint = url;
        }
        match env(SUBSCRIPTION_ENV) {
            Some(s) if !s.trim().is_empty() => {
                b.subscription_tried
                    .push((SUBSCRIPTION_ENV.to_string(), SourceOutcome::Found));
                b.subscription = Some((s.trim().to_string(), SubscriptionSource::Env));
                return b;
            }
            _ => b
                .subscription_tried
                .push((SUBSCRIPTION_ENV.to_string(), SourceOutcome::Missing)),
        }
        let dir = env("AZURE_CONFIG_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or(default_dir);
        let Some(path) = dir.map(|d| d.join("azureProfile.json")) else {
            return b;
        };
        let name = format!("default subscription in {}", path.display());
        match std::fs::read_to_string(&path) {
            Err(_) => b.subscription_tried.push((name, SourceOutcome::Missing)),
            Ok(text) => match profile_default(&text) {
                Ok(Some(id)) => {
                    b.subscription_tried.push((name, SourceOutcome::Found));
                    b.subscription = Some((id, SubscriptionSource::Profile(path)));
                }
                Ok(None) => b.subscription_tried.push((
                    name,
                    SourceOutcome::Invalid("no default subscription (run `az account set`)".into()),
                )),
                Err(e) => b.subscription_tried.push((name, SourceOutcome::Invalid(e))),
            },
        }
        b
    }

    /// Uses this subscription id.
    pub fn subscription(mut self, id: impl Into<String>) -> Self {
        self.subscription = Some((id.into(), SubscriptionSource::Given));
        self
    }

    /// Talks to this ARM endpoint instead of `https://management.azure.com` (tests, sovereign
    /// clouds).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// Uses this credential instead of the chain.
    pub fn credential(mut self, cred: Arc<dyn TokenCredential>) -> Self {
        self.credential = Some(cred);
        self
    }

    /// How often long-running operations and instance states are polled when ARM gives no
    /// `Retry-After` (default 5 s).
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// The longest `Retry-After` honoured (default 60 s; tests make it tiny).
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The Azure catalog. The provisioner carries it
    /// ([`Provisioner::catalog`](sky_core::provision::Provisioner::catalog)), so that a broker
    /// registering it places tasks on Azure, and its `Generation` column picks the default
    /// image (Gen1 or Gen2 Ubuntu). Without it, the provisioner manages existing clusters only,
    /// and the resource SKUs API's `HyperVGenerations` decides the image, else Gen2.
    pub fn catalog(mut self, catalog: Arc<AzureCatalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// The credential chain: the given credential, or each configured source in order.
    fn chain(&self) -> Result<Arc<ChainCredential>, Error> {
        let mut sources: Vec<(&'static str, Arc<dyn TokenCredential>)> = Vec::new();
        if let Some(c) = &self.credential {
            sources.push((GIVEN_SOURCE, c.clone()));
            return Ok(Arc::new(ChainCredential::new(sources)));
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let (Some(t), Some(c), Some(s)) = (
            env("AZURE_TENANT_ID"),
            env("AZURE_CLIENT_ID"),
            env("AZURE_CLIENT_SECRET"),
        ) {
            let cred = ClientSecretCredential::new(&t, c, Secret::new(s), None).map_err(|e| {
                Error::new(ErrorKind::Auth, format!("{SP_SOURCE}: {e}"))
                    .with_placement(Placement::cloud(CLOUD))
            })?;
            sources.push((SP_SOURCE, cred));
        }
        if let Ok(c) = DeveloperToolsCredential::new(None) {
            sources.push((CLI_SOURCE, c));
        }
        if managed_identity_enabled()
            && let Ok(c) = ManagedIdentityCredential::new(None)
        {
            sources.push((MI_SOURCE, c));
        }
        Ok(Arc::new(ChainCredential::new(sources)))
    }

    fn no_subscription() -> Error {
        Error::new(
            ErrorKind::Auth,
            format!(
                "no Azure subscription: set {SUBSCRIPTION_ENV} or run `az login` (and `az account set`)"
            ),
        )
        .with_scope(Scope::Cloud)
        .with_placement(Placement::cloud(CLOUD))
    }

    fn arm(&self, cred: Arc<dyn TokenCredential>) -> Result<Arm, Error> {
        let Some((sub, _)) = &self.subscription else {
            return Err(Self::no_subscription());
        };
        Arm::new(
            &self.endpoint,
            cred,
            sub.clone(),
            self.poll_interval,
            self.max_retry_after,
        )
    }

    /// Checks the credentials without launching anything: names every subscription and
    /// credential source tried (never their values), then reads the subscription
    /// (`GET /subscriptions/{id}`).
    pub async fn check(&self) -> CredentialReport {
        let mut report = CredentialReport::new(CLOUD);
        if matches!(self.subscription, Some((_, SubscriptionSource::Given))) {
            report.tried(
                "subscription supplied by the embedder",
                SourceOutcome::Found,
            );
        } else {
            for (s, o) in &self.subscription_tried {
                report.tried(s.clone(), o.clone());
            }
        }
        if self.credential.is_none() {
            let sp_set = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"]
                .iter()
                .all(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
            if !sp_set {
                report.tried(SP_SOURCE, SourceOutcome::Missing);
            }
            if !managed_identity_enabled() {
                report.tried(MI_SOURCE, SourceOutcome::Missing);
            }
        }
        let chain = match self.chain() {
            Ok(c) => c,
            Err(e) => {
                report.tried(SP_SOURCE, SourceOutcome::Invalid(e.message().to_string()));
                report.failed(e.to_string());
                return report;
            }
        };
        let token = chain.first_token().await;
        for (name, outcome) in chain.attempts() {
            report.tried(name, outcome);
        }
        if token.is_err() {
            report.failed("no credential source gave an ARM token");
            return report;
        }
        let arm = match self.arm(chain) {
            Ok(a) => a,
            Err(e) => {
                report.failed(e.to_string());
                return report;
            }
        };
        #[derive(Deserialize)]
        struct Sub {
            #[serde(default, rename = "displayName")]
            display_name: String,
            #[serde(default)]
            state: String,
        }
        let at = Placement::cloud(CLOUD);
        match arm
            .get::<Sub>(&arm.sub_path(""), api::SUBSCRIPTIONS, &at)
            .await
        {
            Ok(Some(s)) if s.state.is_empty() || s.state == "Enabled" => {
                report.verified(format!(
                    "subscription {} ({}) is {}",
                    arm.subscription,
                    s.display_name,
                    if s.state.is_empty() {
                        "readable"
                    } else {
                        "enabled"
                    }
                ));
            }
            Ok(Some(s)) => {
                report.failed(format!("subscription {} is {}", arm.subscription, s.state));
            }
            Ok(None) => {
                report.failed(format!("subscription {} not found", arm.subscription));
            }
            Err(e) => {
                report.failed(e.to_string());
            }
        }
        report
    }

    /// Builds the provisioner. Fails (kind auth, scope cloud) without a subscription.
    pub async fn build(self) -> Result<AzureProvisioner, Error> {
        let chain = self.chain()?;
        let arm = self.arm(chain)?;
        Ok(AzureProvisioner::new(arm, self.catalog))
    }
}

impl Default for AzureBuilder {
    fn default() -> Self {
        AzureBuilder::new()
    }
}

/// Tries each source in order and sticks with the first that gives a token (as the Azure
/// SDKs' `DefaultAzureCredential`).
pub(crate) struct ChainCredential {
    sources: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    state: Mutex<ChainState>,
}

#[derive(Default)]
struct ChainState {
    picked: Option<usize>,
    attempts: Vec<(String, SourceOutcome)>,
}

impl fmt::Debug for ChainCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.sources.iter().map(|s| s.0).collect();
        f.debug_struct("ChainCredential")
            .field("sources", &names)
            .finish()
    }
}

impl ChainCredential {
    fn new(sources: Vec<(&'static str, Arc<dyn TokenCredential>)>) -> Self {
        ChainCredential {
            sources,
            state: Mutex::new(ChainState::default()),
        }
    }

    fn attempts(&self) -> Vec<(String, SourceOutcome)> {
        self.state
            .lock()
            .map(|s| s.attempts.clone())
            .unwrap_or_default()
    }

    async fn first_token(&self) -> azure_core::Result<AccessToken> {
        self.get_token(&[ARM_SCOPE], None).await
    }
}

#[async_trait]
impl TokenCredential for ChainCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let picked = self.state.lock().ok().and_then(|s| s.picked);
        if let Some(i) = picked
            && let Some((_, c)) = self.sources.get(i)
        {
            return c.get_token(scopes, options).await;
        }
        let mut attempts = Vec::new();
        let mut result = None;
        for (i, (name, c)) in self.sources.iter().enumerate() {
            if result.is_some() {
                attempts.push((name.to_string(), SourceOutcome::Skipped));
                continue;
            }
            match c.get_token(scopes, options.clone()).await {
                Ok(t) => {
                    attempts.push((name.to_string(), SourceOutcome::Found));
                    result = Some((i, t));
                }
                Err(e) => {
                    // The SDK's messages name the failure, not the secret.
                    let why: String = e
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(200)
                        .collect();
                    attempts.push((name.to_string(), SourceOutcome::Invalid(why)));
                }
            }
        }
        if let Ok(mut s) = self.state.lock() {
            s.attempts = attempts;
            s.picked = result.as_ref().map(|r| r.0);
        }
        match result {
            Some((_, t)) => Ok(t),
            None => Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "no Azure credential source gave a token (tried: service principal environment, az/azd CLI, managed identity)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_default_skips_the_bom_and_picks_the_default() {
        let text = "\u{feff}{\"subscriptions\":[{\"id\":\"a\",\"isDefault\":false},{\"id\":\"b\",\"isDefault\":true}]}";
        assert_eq!(profile_default(text).unwrap().as_deref(), Some("b"));
        assert_eq!(profile_default("{\"subscriptions\":[]}").unwrap(), None);
        assert!(profile_default("nope").is_err());
    }

    #[derive(Debug)]
    struct Fixed(Option<&'static str>);

    #[async_trait]
    impl TokenCredential for Fixed {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            match self.0 {
                Some(t) => Ok(AccessToken::new(
                    t,
                    azure_core::time::OffsetDateTime::now_utc()
                        + azure_core::time::Duration::hours(1),
                )),
                None => Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "not logged in",
                )),
            }
        }
    }

    #[tokio::test]
    async fn the_chain_picks_the_first_source_that_answers_and_reports_each() {
        let chain = ChainCredential::new(vec![
            ("a", Arc::new(Fixed(None))),
            ("b", Arc::new(Fixed(Some("tok-b")))),
            ("c", Arc::new(Fixed(Some("tok-c")))),
        ]);
        let t = chain.first_token().await.unwrap();
        assert_eq!(t.token.secret(), "tok-b");
        let attempts = chain.attempts();
        assert_eq!(attempts[0].0, "a");
        assert!(
            matches!(&attempts[0].1, SourceOutcome::Invalid(why) if why.contains("not logged in"))
        );
        assert_eq!(attempts[1], ("b".to_string(), SourceOutcome::Found));
        assert_eq!(attempts[2], ("c".to_string(), SourceOutcome::Skipped));
        // Sticks with the picked source.
        assert_eq!(chain.first_token().await.unwrap().token.secret(), "tok-b");
        let none = ChainCredential::new(vec![("a", Arc::new(Fixed(None)))]);
        assert!(none.first_token().await.is_err());
    }

    #[test]
    fn from_env_prefers_the_variable_then_the_az_profile() {
        let dir = tempfile::tempdir().unwrap();
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let b = AzureBuilder::from_lookup(
            env(&[
                (SUBSCRIPTION_ENV, "sub-env"),
                (ENDPOINT_ENV, "http://127.0.0.1:9"),
            ]),
            Some(dir.path().to_path_buf()),
        );
        assert_eq!(
            b.subscription.as_ref().map(|s| s.0.as_str()),
            Some("sub-env")
        );
        assert_eq!(b.endpoint, "http://127.0.0.1:9");

        // No variable, no profile: nothing found, both sources reported.
        let b = AzureBuilder::from_lookup(env(&[]), Some(dir.path().to_path_buf()));
        assert!(b.subscription.is_none());
        assert_eq!(b.subscription_tried.len(), 2);
        assert!(
            b.subscription_tried
                .iter()
                .all(|t| t.1 == SourceOutcome::Missing)
        );

        std::fs::write(
            dir.path().join("azureProfile.json"),
            "\u{feff}{\"subscriptions\":[{\"id\":\"sub-cli\",\"isDefault\":true}]}",
        )
        .unwrap();
        let b = AzureBuilder::from_lookup(env(&[]), Some(dir.path().to_path_buf()));
        assert_eq!(
            b.subscription.as_ref().map(|s| s.0.as_str()),
            Some("sub-cli")
        );
        assert_eq!(b.endpoint, ARM_ENDPOINT);
    }

    #[tokio::test]
    async fn build_without_subscription_is_a_cloud_wide_auth_error() {
        let err = AzureBuilder::new().build().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!(err.scope(), Scope::Cloud);
        assert!(err.message().contains(SUBSCRIPTION_ENV));
    }
}
