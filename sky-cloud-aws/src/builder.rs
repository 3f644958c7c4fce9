//! [`AwsBuilder`]: where the AWS configuration comes from (environment, profiles, explicit
//! settings), the credential check behind `sky check`, and building an [`AwsProvisioner`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::{Credentials, Region};
use sky_catalog::AwsCatalog;
use sky_core::check::{CredentialReport, SourceOutcome};
use sky_core::error::{Error, ErrorKind, Placement};

use crate::CLOUD;
use crate::catalog::ZoneNames;
use crate::provision::AwsProvisioner;

/// The region the SDK is configured with when neither the builder nor the environment names
/// one (every region-specific call names its own region anyway).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Static credentials given to the builder (tests, emulators). Never printed.
#[derive(Clone)]
struct StaticCreds {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl std::fmt::Debug for StaticCreds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticCreds(<redacted>)")
    }
}

/// Configures and builds an [`AwsProvisioner`].
///
/// [`AwsBuilder::from_env`] reads what the AWS CLI reads (`AWS_PROFILE`, `AWS_REGION` /
/// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL`), and credentials come
/// from the SDK's default chain (environment, shared config and credentials files with SSO
/// and web identity, container and instance metadata) unless
/// [`AwsBuilder::credentials`] sets static ones.
///
/// ```no_run
/// # async fn f() -> Result<(), sky_core::error::Error> {
/// use sky_cloud_aws::AwsBuilder;
/// let aws = AwsBuilder::from_env()
///     .endpoint("http://127.0.0.1:5000")
///     .regions(["us-east-1"])
///     .credentials("testing", "testing")
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AwsBuilder {
    profile: Option<String>,
    default_region: Option<String>,
    regions: Vec<String>,
    endpoint: Option<String>,
    creds: Option<StaticCreds>,
    max_attempts: u32,
    initial_backoff: Duration,
    operation_timeout: Option<Duration>,
    poll_interval: Duration,
    ssh_user: String,
    catalog: Option<AwsCatalog>,
    zone_names_file: Option<PathBuf>,
}

impl Default for AwsBuilder {
    fn default() -> Self {
        AwsBuilder {
            profile: None,
            default_region: None,
            regions: Vec::new(),
            endpoint: None,
            creds: None,
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            operation_timeout: Some(Duration::from_secs(120)),
            poll_interval: Duration::from_secs(5),
            ssh_user: "ubuntu".to_owned(),
            catalog: None,
            zone_names_file: None,
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl AwsBuilder {
    /// A builder with the settings the environment gives: `AWS_PROFILE`, `AWS_REGION` or
    /// `AWS_DEFAULT_REGION` (the SDK's default region, as for the AWS CLI: it does not
    /// restrict where sky places clusters), and `AWS_ENDPOINT_URL_EC2` or `AWS_ENDPOINT_URL`.
    pub fn from_env() -> Self {
        AwsBuilder {
            profile: env("AWS_PROFILE"),
            default_region: env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")),
            endpoint: env("AWS_ENDPOINT_URL_EC2").or_else(|| env("AWS_ENDPOINT_URL")),
            ..AwsBuilder::default()
        }
    }

    /// The SDK's default region, for calls that need one (`sky check`'s DescribeRegions).
    /// It does not restrict where clusters go ([`AwsBuilder::regions`] does).
    pub fn default_region(mut self, region: impl Into<String>) -> Self {
        self.default_region = Some(region.into());
        self
    }

    /// Sends every EC2 call to `url` (an emulator such as moto) instead of AWS.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The regions sky may use (for `sky check` and the catalog's zone names). Empty (the
    /// default) means every region the catalog lists; `AWS_REGION` does not narrow it.
    pub fn regions<S: Into<String>>(mut self, regions: impl IntoIterator<Item = S>) -> Self {
        self.regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// The named profile of `~/.aws/config` and `~/.aws/credentials` to use.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Uses these static credentials instead of the default chain (tests and emulators).
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.creds = Some(StaticCreds {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        });
        self
    }

    /// Attempts per call (the first included) for throttling, 5xx and connection errors,
    /// with the SDK's exponential backoff; 1 disables retries. Default 5.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The first retry's backoff (later ones grow exponentially, with jitter). Default 1 s.
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The time one call may take, retries included (`None`: no limit). Default 120 s.
    pub fn operation_timeout(mut self, d: Option<Duration>) -> Self {
        self.operation_timeout = d;
        self
    }

    /// How often `wait_instances` polls DescribeInstances. Default 5 s.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// The SSH user of the image (`ubuntu` for the default Ubuntu image).
    pub fn ssh_user(mut self, user: impl Into<String>) -> Self {
        self.ssh_user = user.into();
        self
    }

    /// The price catalog the provisioner carries ([`Provisioner::catalog`]), so that a
    /// broker registering it places tasks on AWS. [`AwsBuilder::build`] renames its zone ids
    /// to this account's zone names (kept in [`AwsBuilder::zone_names_file`] when set) and
    /// drops the regions the account cannot use. Without a catalog the provisioner manages
    /// existing clusters only.
    ///
    /// [`Provisioner::catalog`]: sky_core::provision::Provisioner::catalog
    pub fn catalog(mut self, catalog: AwsCatalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Keeps the account's zone names in `path` (e.g. `<state dir>/aws_zone_names.json`,
    /// [`ZoneNames::path_in`]): a build whose configuration (profile, endpoint, regions)
    /// matches the kept names uses them instead of asking AWS again.
    pub fn zone_names_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.zone_names_file = Some(path.into());
        self
    }

    /// The configured regions (empty: any).
    pub fn configured_regions(&self) -> &[String] {
        &self.regions
    }

    /// The configured profile, if any (`None`: the SDK's default).
    pub fn configured_profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The configured endpoint override, if any.
    pub fn configured_endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    fn home_region(&self) -> String {
        self.default_region
            .clone()
            .or_else(|| self.regions.first().cloned())
            .unwrap_or_else(|| DEFAULT_REGION.to_owned())
    }

    pub(crate) async fn sdk_config(&self) -> aws_config::SdkConfig {
        let retry = RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff);
        let mut timeouts = TimeoutConfig::builder().connect_timeout(Duration::from_secs(10));
        if let Some(t) = self.operation_timeout {
            timeouts = timeouts.operation_timeout(t);
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.home_region()))
            .retry_config(retry)
            .timeout_config(timeouts.build());
        if let Some(p) = &self.profile {
            loader = loader.profile_name(p);
        }
        if let Some(url) = &self.endpoint {
            loader = loader.endpoint_url(url);
        }
        if let Some(c) = &self.creds {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "sky-static",
            ));
        }
        loader.load().await
    }

    /// Builds the provisioner. Loading the configuration makes no call to AWS; credentials
    /// are resolved on the first call (see [`AwsBuilder::check`] to verify them up front).
    /// With a [`catalog`](AwsBuilder::catalog) and no kept zone names, it asks
    /// DescribeAvailabilityZones once per region (all at once).
    pub async fn build(self) -> Result<AwsProvisioner, Error> {
        if let Some(url) = &self.endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("AWS endpoint `{url}` must start with http:// or https://"),
            )
            .with_placement(Placement::cloud(CLOUD)));
        }
        let conf = self.sdk_config().await;
        let names = ZoneNames::for_builder(&self);
        let kept = self
            .zone_names_file
            .as_deref()
            .and_then(|f| ZoneNames::read(f, &self));
        let mut p = AwsProvisioner::new(conf, self.regions, self.poll_interval, self.ssh_user);
        if let Some(base) = self.catalog {
            let zones = match kept {
                Some(k) => {
                    tracing::debug!(target: "sky::aws_zone_names", "using the kept zone names");
                    k.zones
                }
                None => {
                    let zones = p.zone_name_map(&base).await?;
                    tracing::debug!(target: "sky::aws_zone_names", "asked AWS for its zone names");
                    if let Some(f) = &self.zone_names_file {
                        let record = ZoneNames { zones, ..names };
                        if let Err(e) = record.write(f) {
                            tracing::warn!("AWS zone names not kept in {}: {e}", f.display());
                        }
                        record.zones
                    } else {
                        zones
                    }
                }
            };
            p.catalog = Some(Arc::new(base.with_zone_names(&zones)));
        }
        Ok(p)
    }

    /// The credential check of `sky check`: lists every credential source of the default
    /// chain in the order the SDK tries them (by name, never by value), then verifies the
    /// chosen one with DescribeRegions. Makes no change to the account.
    pub async fn check(&self) -> CredentialReport {
        let mut report = CredentialReport::new(CLOUD);
        if self.creds.is_some() {
            report.tried(
                "static credentials given to AwsBuilder",
                SourceOutcome::Found,
            );
        }
        // Sources after the one the chain picks are not consulted.
        let next = |report: &mut CredentialReport, name: &str, outcome: SourceOutcome| {
            let picked = report
                .sources
                .iter()
                .any(|s| s.outcome == SourceOutcome::Found);
            report.tried(
                name,
                if picked {
                    SourceOutcome::Skipped
                } else {
                    outcome
                },
            );
        };
        // 1. Environment variables.
        let ak = env("AWS_ACCESS_KEY_ID").is_some();
        let sk = env("AWS_SECRET_ACCESS_KEY").is_some();
        let env_outcome = match (ak, sk) {
            (true, true) => SourceOutcome::Found,
            (false, false) => SourceOutcome::Missing,
            (true, false) => SourceOutcome::Invalid("AWS_SECRET_ACCESS_KEY is not set".into()),
            (false, true) => SourceOutcome::Invalid("AWS_ACCESS_KEY_ID is not set".into()),
        };
        next(
            &mut report,
            "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
            env_outcome,
        );
        // 2. Shared config and credentials files, for the selected profile (this covers SSO
        //    and credential_process profiles too).
        let profile = self.profile.clone().unwrap_or_else(|| "default".to_owned());
        let creds_file = env("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".aws/credentials")));
        let config_file = env("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".aws/config")));
        let in_creds = creds_file
            .as_ref()
            .and_then(|p| profile_keys(p, &profile, false));
        let in_config = config_file
            .as_ref()
            .and_then(|p| profile_keys(p, &profile, true));
        let has = |keys: &Option<Vec<String>>, k: &str| {
            keys.as_ref().is_some_and(|ks| ks.iter().any(|x| x == k))
        };
        let static_keys = (has(&in_creds, "aws_access_key_id")
            && has(&in_creds, "aws_secret_access_key"))
            || (has(&in_config, "aws_access_key_id") && has(&in_config, "aws_secret_access_key"));
        let role = has(&in_config, "role_arn") || has(&in_creds, "role_arn");
        let process = has(&in_config, "credential_process") || has(&in_creds, "credential_process");
        let profile_outcome = if in_creds.is_none() && in_config.is_none() {
            SourceOutcome::Missing
        } else if static_keys || role || process {
            SourceOutcome::Found
        } else {
            SourceOutcome::Missing
        };
        next(
            &mut report,
            &format!(
                "profile `{profile}` in {} and {}",
                display(&creds_file),
                display(&config_file)
            ),
            profile_outcome,
        );
        let sso = has(&in_config, "sso_start_url") || has(&in_config, "sso_session");
        next(
            &mut report,
            &format!("SSO (sso_session / sso_start_url of profile `{profile}`)"),
            if sso {
                SourceOutcome::Found
            } else {
                SourceOutcome::Missing
            },
        );
        // 3. Web identity (EKS service accounts).
        let wi = match (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN")) {
            (Some(_), Some(_)) => SourceOutcome::Found,
            (None, None) => SourceOutcome::Missing,
            _ => SourceOutcome::Invalid(
                "needs both AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN".into(),
            ),
        };
        next(
            &mut report,
            "web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)",
            wi,
        );
        // 4. Container credentials (ECS).
        let ecs = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .or_else(|| env("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
            .is_some();
        next(
            &mut report,
            "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI)",
            if ecs {
                SourceOutcome::Found
            } else {
                SourceOutcome::Missing
            },
        );
        // 5. Instance metadata (IMDS): only asked when nothing else gave credentials, by the
        //    verification call below.
        let imds_disabled = env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v == "true");
        next(
            &mut report,
            "EC2 instance metadata (IMDS)",
            if imds_disabled {
                SourceOutcome::Invalid("AWS_EC2_METADATA_DISABLED=true".into())
            } else {
                // Whether IMDS answers shows in the verification.
                SourceOutcome::Missing
            },
        );
        // Verify with a cheap, read-only call.
        let conf = self.sdk_config().await;
        let client = aws_sdk_ec2::Client::new(&conf);
        match client.describe_regions().send().await {
            Ok(out) => {
                let n = out.regions().len();
                let at = self
                    .endpoint
                    .as_deref()
                    .map(|e| format!(" at {e}"))
                    .unwrap_or_default();
                report.verified(format!("DescribeRegions answered{at} ({n} regions)"));
                // Nothing above gave credentials, yet the chain found some: the last source
                // it asks, the instance metadata service, did.
                if !report
                    .sources
                    .iter()
                    .any(|s| s.outcome == SourceOutcome::Found)
                    && let Some(imds) = report.sources.last_mut()
                {
                    imds.outcome = SourceOutcome::Found;
                }
            }
            Err(e) => {
                let err = crate::error::from_sdk("DescribeRegions", e, Placement::cloud(CLOUD));
                report.failed(err.to_string());
            }
        }
        report
    }
}

fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from)
}

fn display(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(no home directory)".to_owned())
}

/// The key names (never the values) of `profile` in an AWS ini file, or `None` if the file
/// or the profile is absent. In the config file, profiles other than `default` are written
/// `[profile NAME]`.
fn profile_keys(path: &std::path::Path, profile: &str, config: bool) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_profile_keys(&text, profile, config)
}

fn parse_profile_keys(text: &str, profile: &str, config: bool) -> Option<Vec<String>> {
    let mut keys = None::<Vec<String>>;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let h = h.trim();
            let name = if config {
                h.strip_prefix("profile ").map(str::trim).unwrap_or(h)
            } else {
                h
            };
            inside = name == profile;
            if inside && keys.is_none() {
                keys = Some(Vec::new());
            }
            continue;
        }
        if inside && let Some((k, _)) = line.split_once('=') {
            keys.get_or_insert_with(Vec::new)
                .push(k.trim().to_ascii_lowercase());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_keys_are_read_by_name_only() {
        let text = "[default]\naws_access_key_id = AKIA\naws_secret_access_key=s\n\n[profile dev]\nsso_session = corp\nregion=us-west-2\n";
        assert_eq!(
            parse_profile_keys(text, "default", true).unwrap(),
            ["aws_access_key_id", "aws_secret_access_key"]
        );
        assert_eq!(
            parse_profile_keys(text, "dev", true).unwrap(),
            ["sso_session", "region"]
        );
        assert!(parse_profile_keys(text, "dev", false).is_none());
        assert!(parse_profile_keys(text, "prod", true).is_none());
    }

    #[test]
    fn builder_settings_and_redaction() {
        let b = AwsBuilder::default()
            .regions(["us-west-2", "eu-west-1"])
            .endpoint("http://127.0.0.1:1")
            .credentials("AKIDEXAMPLE", "very-secret")
            .max_attempts(0);
        assert_eq!(b.configured_regions(), ["us-west-2", "eu-west-1"]);
        assert_eq!(b.home_region(), "us-west-2");
        // The SDK's default region is not a restriction.
        let d = AwsBuilder::default().default_region("eu-central-1");
        assert!(d.configured_regions().is_empty());
        assert_eq!(d.home_region(), "eu-central-1");
        assert_eq!(b.max_attempts, 1, "at least one attempt");
        let dbg = format!("{b:?}");
        assert!(
            !dbg.contains("very-secret") && !dbg.contains("AKIDEXAMPLE"),
            "{dbg}"
        );
    }

    #[tokio::test]
    async fn a_malformed_endpoint_is_a_typed_error() {
        let err = AwsBuilder::default()
            .endpoint("127.0.0.1:5000")
            .credentials("a", "b")
            .build()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.to_string().contains("http://"), "{err}");
    }
}
