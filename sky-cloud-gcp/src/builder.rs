//! [`GcpBuilder`]: project, credentials and endpoint, read from the environment; the
//! credential check behind `sky check`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use google_cloud_compute_v1::client::{Firewalls, Instances, Projects};
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use sky_catalog::GcpCatalog;
use sky_core::check::{CredentialReport, SourceOutcome};
use sky_core::error::{Error, ErrorKind, Placement, Scope};

use crate::CLOUD;
use crate::provision::GcpProvisioner;

/// Environment variable overriding the Compute Engine endpoint (tests, proxies).
pub const ENDPOINT_ENV: &str = "SKY_GCP_ENDPOINT";

/// The project variables read by [`GcpBuilder::from_env`], in order.
pub const PROJECT_ENVS: [&str; 2] = ["GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"];

/// The default boot image of CPU nodes (an image family: the newest image of it is used).
pub const DEFAULT_CPU_IMAGE: &str = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts";

/// The default boot image of GPU nodes (with the NVIDIA driver and CUDA installed).
pub const DEFAULT_GPU_IMAGE: &str =
    "projects/deeplearning-platform-release/global/images/family/common-cu124-debian-11-py310";

/// How a GCP backend is configured: build one with [`GcpBuilder::from_env`], adjust it with the
/// setters, then [`GcpBuilder::build`] the provisioner.
///
/// ```no_run
/// # async fn demo() -> Result<(), sky_core::error::Error> {
/// let report = sky_cloud_gcp::GcpBuilder::from_env().check().await;
/// println!("{report}");
/// let gcp = sky_cloud_gcp::GcpBuilder::from_env().build().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct GcpBuilder {
    pub(crate) project: Option<String>,
    project_source: Option<String>,
    pub(crate) endpoint: Option<String>,
    anonymous: bool,
    pub(crate) poll_initial: Duration,
    pub(crate) poll_max: Duration,
    pub(crate) status_poll: Duration,
    pub(crate) ssh_user: String,
    pub(crate) network: String,
    pub(crate) cpu_image: String,
    pub(crate) gpu_image: String,
    pub(crate) catalog: Option<Arc<GcpCatalog>>,
}

impl Default for GcpBuilder {
    fn default() -> Self {
        GcpBuilder {
            project: None,
            project_source: None,
            endpoint: None,
            anonymous: false,
            poll_initial: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
            status_poll: Duration::from_secs(5),
            ssh_user: "gcpuser".into(),
            network: "default".into(),
            cpu_image: DEFAULT_CPU_IMAGE.into(),
            gpu_image: DEFAULT_GPU_IMAGE.into(),
            catalog: None,
        }
    }
}

/// The gcloud configuration directory: `$CLOUDSDK_CONFIG`, else `~/.config/gcloud`.
fn gcloud_dir() -> Option<PathBuf> {
    std::env::var_os("CLOUDSDK_CONFIG")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".config").join("gcloud")))
}

/// The gcloud Application Default Credentials file.
fn adc_file() -> Option<PathBuf> {
    gcloud_dir().map(|d| d.join("application_default_credentials.json"))
}

/// `quota_project_id` (or `project_id`) of a credentials JSON file.
fn quota_project(path: &std::path::Path) -> Option<String> {
    quota_project_of(&std::fs::read_to_string(path).ok()?)
}

/// `quota_project_id` (or, for service-account keys, `project_id`) of credentials JSON.
fn quota_project_of(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get("quota_project_id")
        .or_else(|| v.get("project_id"))
        .and_then(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// `project = ...` in the `[core]` section of gcloud's active configuration.
fn gcloud_config_project() -> Option<String> {
    let dir = gcloud_dir()?;
    let active = std::fs::read_to_string(dir.join("active_config"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "default".into());
    let text = std::fs::read_to_string(dir.join("configurations").join(format!("config_{active}")))
        .ok()?;
    core_project(&text)
}

/// `project = ...` in the `[core]` section of a gcloud configuration file.
fn core_project(text: &str) -> Option<String> {
    let mut in_core = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_core = line == "[core]";
        } else if in_core
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "project"
            && !v.trim().is_empty()
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

fn auth_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Auth, message)
        .with_scope(Scope::Cloud)
        .with_placement(Placement::cloud(CLOUD))
}

impl GcpBuilder {
    /// A builder with nothing configured: Application Default Credentials, the public
    /// endpoint, no project.
    pub fn new() -> Self {
        GcpBuilder::default()
    }

    /// Reads the project from `GOOGLE_CLOUD_PROJECT`, `CLOUDSDK_CORE_PROJECT`, the
    /// `quota_project_id` of the ADC file (`GOOGLE_APPLICATION_CREDENTIALS` or gcloud's), or
    /// gcloud's active configuration, in that order; the endpoint from [`ENDPOINT_ENV`].
    /// Credentials are Application Default Credentials, resolved by `google-cloud-auth` at
    /// [`GcpBuilder::build`].
    pub fn from_env() -> Self {
        let mut b = GcpBuilder::default();
        for var in PROJECT_ENVS {
            if let Some(p) = std::env::var(var).ok().filter(|p| !p.is_empty()) {
                b.project = Some(p);
                b.project_source = Some(var.to_string());
                return b.endpoint_from_env();
            }
        }
        let files = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS")
            .map(|p| (PathBuf::from(p), "GOOGLE_APPLICATION_CREDENTIALS file"))
            .into_iter()
            .chain(adc_file().map(|p| (p, "gcloud ADC file")));
        for (path, name) in files {
            if let Some(p) = quota_project(&path) {
                b.project = Some(p);
                b.project_source = Some(format!("quota_project_id of the {name}"));
                return b.endpoint_from_env();
            }
        }
        if let Some(p) = gcloud_config_project() {
            b.project = Some(p);
            b.project_source = Some("gcloud configuration (core/project)".into());
        }
        b.endpoint_from_env()
    }

    fn endpoint_from_env(self) -> Self {
        self.endpoint_from(|name| std::env::var(name).ok())
    }

    /// The endpoint from [`ENDPOINT_ENV`] as `get` reads variables; an empty value is unset.
    fn endpoint_from(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(e) = get(ENDPOINT_ENV).filter(|e| !e.trim().is_empty()) {
            self.endpoint = Some(e.trim().to_string());
        }
        self
    }

    /// Sets the project.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self.project_source = Some("set by the caller".into());
        self
    }

    /// Sends every call to `url` instead of `https://compute.googleapis.com`: a sovereign
    /// cloud's Compute Engine endpoint, a private endpoint or proxy, the local API server of
    /// the tests. The root of the service, without `/compute/v1` (see the crate docs,
    /// "Pointing at another endpoint"); [`ENDPOINT_ENV`] sets it from the environment.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Sends no credentials at all (for a local API server).
    pub fn anonymous_credentials(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// The backoff between polls of a long-running operation: first `initial`, growing up to
    /// `max` (default 1 s to 10 s; tests use milliseconds).
    pub fn polling_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.poll_initial = initial;
        self.poll_max = max.max(initial);
        self
    }

    /// How often `wait_instances` lists the cluster (default 5 s).
    pub fn status_poll_interval(mut self, every: Duration) -> Self {
        self.status_poll = every;
        self
    }

    /// The SSH user whose key goes into the `ssh-keys` metadata (default `gcpuser`).
    pub fn ssh_user(mut self, user: impl Into<String>) -> Self {
        self.ssh_user = user.into();
        self
    }

    /// The VPC network of nodes and firewall rules (default `default`).
    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.network = network.into();
        self
    }

    /// The boot images used when a task names none: one for CPU nodes, one for GPU nodes.
    pub fn default_images(mut self, cpu: impl Into<String>, gpu: impl Into<String>) -> Self {
        self.cpu_image = cpu.into();
        self.gpu_image = gpu.into();
        self
    }

    /// The configured project, if any.
    pub fn project_id(&self) -> Option<&str> {
        self.project.as_deref()
    }

    fn credentials(&self) -> Result<google_cloud_auth::credentials::Credentials, Error> {
        if self.anonymous {
            return Ok(google_cloud_auth::credentials::anonymous::Builder::new().build());
        }
        google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(|e| auth_error(format!("no usable Application Default Credentials: {e}")))
    }

    fn backoff(&self) -> google_cloud_gax::exponential_backoff::ExponentialBackoff {
        ExponentialBackoffBuilder::new()
            .with_initial_delay(self.poll_initial)
            .with_maximum_delay(self.poll_max)
            .with_scaling(2.0)
            .clamp()
    }

    /// The price catalog the provisioner carries
    /// ([`Provisioner::catalog`](sky_core::provision::Provisioner::catalog)), so that a broker
    /// registering it places tasks on GCP. Without one the provisioner manages existing
    /// clusters only.
    pub fn catalog(mut self, catalog: Arc<GcpCatalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Builds the clients (no call is made yet).
    ///
    /// Fails with [`ErrorKind::Auth`] when no project is configured or no credentials are
    /// found.
    pub async fn build(self) -> Result<GcpProvisioner, Error> {
        let project = self.project.clone().ok_or_else(|| {
            auth_error(
                "no GCP project: set GOOGLE_CLOUD_PROJECT or run `gcloud config set project <id>`",
            )
        })?;
        let creds = self.credentials()?;
        macro_rules! client {
            ($ty:ty) => {{
                let mut b = <$ty>::builder()
                    .with_credentials(creds.clone())
                    .with_polling_backoff_policy(self.backoff());
                if let Some(e) = &self.endpoint {
                    b = b.with_endpoint(e.clone());
                }
                b.build().await.map_err(|e| {
                    auth_error(format!("cannot build the Compute Engine client: {e}"))
                })?
            }};
        }
        let instances = client!(Instances);
        let firewalls = client!(Firewalls);
        let projects = client!(Projects);
        Ok(GcpProvisioner::new(
            self, project, instances, firewalls, projects,
        ))
    }

    /// The credential check of `sky check`: every source looked at, by name, then a
    /// `projects.get` call with the credentials picked. Never launches anything.
    pub async fn check(&self) -> CredentialReport {
        let mut report = CredentialReport::new(CLOUD);
        let mut found = false;
        if self.anonymous {
            report.tried(
                "anonymous credentials (local endpoint)",
                SourceOutcome::Found,
            );
            found = true;
        }
        match std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
            _ if found => {
                report.tried("GOOGLE_APPLICATION_CREDENTIALS", SourceOutcome::Skipped);
            }
            None => {
                report.tried("GOOGLE_APPLICATION_CREDENTIALS", SourceOutcome::Missing);
            }
            Some(p) if PathBuf::from(&p).is_file() => {
                report.tried("GOOGLE_APPLICATION_CREDENTIALS", SourceOutcome::Found);
                found = true;
            }
            Some(_) => {
                report.tried(
                    "GOOGLE_APPLICATION_CREDENTIALS",
                    SourceOutcome::Invalid("the file it names does not exist".into()),
                );
            }
        }
        let adc = adc_file();
        let adc_name = "gcloud ADC file (application_default_credentials.json)";
        if found {
            report.tried(adc_name, SourceOutcome::Skipped);
        } else if adc.as_ref().is_some_and(|p| p.is_file()) {
            report.tried(adc_name, SourceOutcome::Found);
            found = true;
        } else {
            report.tried(adc_name, SourceOutcome::Missing);
        }
        let metadata_name = "GCE metadata server";
        if found {
            report.tried(metadata_name, SourceOutcome::Skipped);
        }
        match &self.project {
            Some(_) => {
                let from = self.project_source.as_deref().unwrap_or("configuration");
                report.tried(format!("project ({from})"), SourceOutcome::Found);
            }
            None => {
                report.tried(
                    "project (GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT, ADC quota project, gcloud config)",
                    SourceOutcome::Missing,
                );
            }
        }
        let Some(project) = self.project.clone() else {
            report.failed("no GCP project configured");
            return report;
        };
        let prov = match self.clone().build().await {
            Ok(p) => p,
            Err(e) => {
                if !found {
                    report.tried(metadata_name, SourceOutcome::Missing);
                }
                report.failed(e.message().to_string());
                return report;
            }
        };
        match prov.projects.get().set_project(&project).send().await {
            Ok(p) => {
                if !found {
                    report.tried(metadata_name, SourceOutcome::Found);
                }
                let name = p.name.unwrap_or(project);
                report.verified(format!("projects.get answered for project {name}"));
            }
            Err(e) => {
                if !found {
                    report.tried(metadata_name, SourceOutcome::Missing);
                }
                let e = crate::error::from_gax(&e, Placement::cloud(CLOUD));
                report.failed(format!("projects.get failed: {e}"));
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_read_from_sky_gcp_endpoint() {
        let with = |v: &'static str| {
            GcpBuilder::new()
                .endpoint_from(move |k| (k == "SKY_GCP_ENDPOINT").then(|| v.to_string()))
                .endpoint
        };
        assert_eq!(
            with("https://compute.example.test").as_deref(),
            Some("https://compute.example.test")
        );
        assert_eq!(
            with(" http://127.0.0.1:8089 ").as_deref(),
            Some("http://127.0.0.1:8089")
        );
        assert_eq!(with(""), None);
        assert_eq!(GcpBuilder::new().endpoint_from(|_| None).endpoint, None);
    }

    #[test]
    fn the_project_is_read_from_gcloud_files() {
        let cfg = "[compute]\nzone = us-central1-a\n[core]\naccount = me@example.com\nproject = my-proj\n";
        assert_eq!(core_project(cfg).as_deref(), Some("my-proj"));
        assert_eq!(core_project("[compute]\nproject = not-core\n"), None);
        let adc = r#"{"type":"authorized_user","client_id":"x","quota_project_id":"qp"}"#;
        assert_eq!(quota_project_of(adc).as_deref(), Some("qp"));
        let sa = r#"{"type":"service_account","project_id":"sa-proj"}"#;
        assert_eq!(quota_project_of(sa).as_deref(), Some("sa-proj"));
        assert_eq!(quota_project_of("not json"), None);
    }

    #[tokio::test]
    async fn build_without_a_project_is_an_auth_error() {
        let e = GcpBuilder::new()
            .anonymous_credentials()
            .build()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.scope(), Scope::Cloud);
        assert!(e.message().contains("GOOGLE_CLOUD_PROJECT"), "{e}");
    }
}
