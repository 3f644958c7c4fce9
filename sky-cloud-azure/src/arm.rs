//! A thin Azure Resource Manager REST client: bearer tokens from a
//! [`TokenCredential`], JSON bodies, and long-running operations.
//!
//! ARM answers a PUT, DELETE or POST action that takes time with 201 or 202 and one of two
//! headers (*Track asynchronous Azure operations*):
//! - `Azure-AsyncOperation`: a status URL to GET until its `status` is `Succeeded`, `Failed`
//!   or `Canceled`; a failure carries `error.code`;
//! - `Location`: a URL to GET until it answers 200 or 204 instead of 202.
//!
//! Both honour `Retry-After` (capped by [`Arm::max_retry_after`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sky_core::error::{Error, ErrorKind, Placement, Result, Scope};
use tokio::time::Instant;

use crate::error::{ErrorEnvelope, arm_error};

/// The ARM scope every token is requested for.
pub(crate) const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// The public ARM endpoint.
pub(crate) const ARM_ENDPOINT: &str = "https://management.azure.com";

/// The api-versions this crate speaks, one per resource provider, all documented in
/// Microsoft's REST reference.
pub mod api {
    /// `Microsoft.Resources` (resource groups, subscriptions).
    pub const RESOURCES: &str = "2021-04-01";
    /// `Microsoft.Network` (virtual networks, NSGs, public IPs, NICs).
    pub const NETWORK: &str = "2023-09-01";
    /// `Microsoft.Compute` virtual machines and usages.
    pub const COMPUTE: &str = "2024-07-01";
    /// `Microsoft.Compute/skus` (resource SKUs: VM size → vCPU family).
    pub const SKUS: &str = "2021-07-01";
    /// `GET /subscriptions/{id}`.
    pub const SUBSCRIPTIONS: &str = "2022-12-01";
}

/// The ARM client.
#[derive(Clone)]
pub(crate) struct Arm {
    http: reqwest::Client,
    base: String,
    cred: Arc<dyn TokenCredential>,
    pub subscription: String,
    pub poll: Duration,
    pub max_retry_after: Duration,
    pub lro_timeout: Duration,
    /// The last token and its expiry: the Azure CLI credential does not cache, and running
    /// `az` for every request would take seconds each.
    token_cache: Arc<Mutex<Option<AccessToken>>>,
}

impl std::fmt::Debug for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token or the credential's contents.
        f.debug_struct("Arm")
            .field("endpoint", &self.base)
            .field("subscription", &self.subscription)
            .finish_non_exhaustive()
    }
}

/// One page of an ARM list.
#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(default, rename = "nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct AsyncStatus {
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<crate::error::ErrorDetail>,
}

fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name)?.to_str().ok().map(str::to_string)
}

fn transport(e: reqwest::Error, at: &Placement) -> Error {
    Error::new(ErrorKind::Transient, format!("ARM request failed: {e}"))
        .with_scope(Scope::Region)
        .with_placement(at.clone())
        .with_source(e)
}

impl Arm {
    pub fn new(
        endpoint: &str,
        cred: Arc<dyn TokenCredential>,
        subscription: String,
        poll: Duration,
        max_retry_after: Duration,
    ) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Unexpected, format!("HTTP client: {e}")).with_source(e)
            })?;
        Ok(Arm {
            http,
            base: endpoint.trim_end_matches('/').to_string(),
            cred,
            subscription,
            poll,
            max_retry_after,
            lro_timeout: Duration::from_secs(30 * 60),
            token_cache: Arc::new(Mutex::new(None)),
        })
    }

    /// `/subscriptions/{s}` + `rest`.
    pub fn sub_path(&self, rest: &str) -> String {
        format!("/subscriptions/{}{rest}", self.subscription)
    }

    fn url(&self, path: &str, api: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}api-version={api}", self.base)
    }

    async fn token(&self, at: &Placement) -> Result<String> {
        let fresh_until =
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::minutes(5);
        if let Ok(cache) = self.token_cache.lock()
            && let Some(t) = cache.as_ref()
            && t.expires_on > fresh_until
        {
            return Ok(t.token.secret().to_string());
        }
        match self.cred.get_token(&[ARM_SCOPE], None).await {
            Ok(t) => {
                let secret = t.token.secret().to_string();
                if let Ok(mut cache) = self.token_cache.lock() {
                    *cache = Some(t);
                }
                Ok(secret)
            }
            Err(e) => Err(Error::new(
                ErrorKind::Auth,
                format!("no Azure token for {ARM_SCOPE}: {e}"),
            )
            .with_scope(Scope::Cloud)
            .with_code("CredentialUnavailable")
            .with_placement(at.clone())),
        }
    }

    async fn raw(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        at: &Placement,
    ) -> Result<Response> {
        let token = self.token(at).await?;
        let mut rb = self.http.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = rb.send().await.map_err(|e| transport(e, at))?;
        if resp.status() == StatusCode::UNAUTHORIZED
            && let Ok(mut cache) = self.token_cache.lock()
        {
            // A rejected token is not reused: the next call asks the credential again.
            *cache = None;
        }
        Ok(resp)
    }

    /// Turns a non-success response into sky's error.
    async fn fail(resp: Response, at: &Placement) -> Error {
        let status = resp.status().as_u16();
        let ra = retry_after(&resp);
        let text = resp.text().await.unwrap_or_default();
        let env: ErrorEnvelope = serde_json::from_str(&text).unwrap_or_default();
        let detail = env.error.unwrap_or_else(|| crate::error::ErrorDetail {
            code: None,
            message: Some(if text.is_empty() {
                format!("HTTP {status}")
            } else {
                text.chars().take(300).collect()
            }),
            details: vec![],
        });
        arm_error(Some(status), &detail, ra, at.clone())
    }

    /// GETs `path`; `None` on 404. Throttling and 5xx are retried a few times (reads are
    /// safe to repeat), honouring `Retry-After`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        api: &str,
        at: &Placement,
    ) -> Result<Option<T>> {
        self.get_url(&self.url(path, api), path, at).await
    }

    /// GETs an ARM list at `path` and every page after it: ARM may page any list, answering
    /// `{"value": [...], "nextLink": "<absolute URL of the next page>"}` (*Azure REST API
    /// guidelines: pagination*), so a list is complete only once a page has no `nextLink`.
    /// `None` when the first page is 404 (e.g. the resource group does not exist). A
    /// `nextLink` off this client's endpoint is refused (the bearer token goes only to the
    /// endpoint), as is one already followed (a server looping).
    pub async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        api: &str,
        at: &Placement,
    ) -> Result<Option<Vec<T>>> {
        let mut url = self.url(path, api);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut first = true;
        loop {
            let page: Option<Page<T>> = self.get_url(&url, path, at).await?;
            let Some(page) = page else {
                if first {
                    return Ok(None);
                }
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    format!("a later page of the ARM list {path} is gone (404)"),
                )
                .with_placement(at.clone()));
            };
            first = false;
            out.extend(page.value);
            let Some(next) = page.next_link.filter(|n| !n.is_empty()) else {
                return Ok(Some(out));
            };
            let same_origin = next
                .strip_prefix(&self.base)
                .is_some_and(|rest| rest.starts_with('/'));
            if !same_origin || !seen.insert(next.clone()) {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    format!(
                        "the ARM list {path} names a next page sky does not follow: {next} (not on {} or seen before)",
                        self.base
                    ),
                )
                .with_placement(at.clone()));
            }
            url = next;
        }
    }

    async fn get_url<T: DeserializeOwned>(
        &self,
        url: &str,
        path: &str,
        at: &Placement,
    ) -> Result<Option<T>> {
        let mut tries = 0;
        loop {
            let resp = self.raw(Method::GET, url, None, at).await?;
            let status = resp.status();
            if status == StatusCode::NOT_FOUND {
                // A missing subscription is an auth problem, not an absent resource.
                let err = Self::fail(resp, at).await;
                return if err.kind() == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
            if status.is_success() {
                let v = resp.json::<T>().await.map_err(|e| {
                    Error::new(
                        ErrorKind::Unexpected,
                        format!("bad ARM response from {path}: {e}"),
                    )
                    .with_placement(at.clone())
                })?;
                return Ok(Some(v));
            }
            let wait = retry_after(&resp);
            let err = Self::fail(resp, at).await;
            tries += 1;
            if err.is_transient() && tries < 4 {
                tokio::time::sleep(self.backoff(wait)).await;
                continue;
            }
            return Err(err);
        }
    }

    fn backoff(&self, retry_after: Option<Duration>) -> Duration {
        retry_after.map_or(self.poll, |d| d.min(self.max_retry_after))
    }

    /// PUTs `body` to `path` and waits for the long-running operation, if any. Returns the
    /// initial response body.
    pub async fn put(&self, path: &str, api: &str, body: &Value, at: &Placement) -> Result<Value> {
        let url = self.url(path, api);
        let resp = self.raw(Method::PUT, &url, Some(body), at).await?;
        if !resp.status().is_success() {
            return Err(Self::fail(resp, at).await);
        }
        let lro = self.lro_of(&resp);
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        self.wait_lro(lro, at).await?;
        Ok(v)
    }

    /// DELETEs `path` and waits; a resource that is already gone is not an error.
    pub async fn delete(&self, path: &str, api: &str, at: &Placement) -> Result<()> {
        let url = self.url(path, api);
        let resp = self.raw(Method::DELETE, &url, None, at).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        if !resp.status().is_success() {
            return Err(Self::fail(resp, at).await);
        }
        let lro = self.lro_of(&resp);
        self.wait_lro(lro, at).await
    }

    /// POSTs an action (`deallocate`, `start`) and waits.
    pub async fn post(&self, path: &str, api: &str, at: &Placement) -> Result<()> {
        let url = self.url(path, api);
        let resp = self.raw(Method::POST, &url, None, at).await?;
        if !resp.status().is_success() {
            return Err(Self::fail(resp, at).await);
        }
        let lro = self.lro_of(&resp);
        self.wait_lro(lro, at).await
    }

    fn lro_of(&self, resp: &Response) -> Option<(Lro, Option<Duration>)> {
        let ra = retry_after(resp);
        if let Some(u) = header(resp, "azure-asyncoperation") {
            return Some((Lro::AsyncOperation(u), ra));
        }
        if matches!(resp.status(), StatusCode::CREATED | StatusCode::ACCEPTED)
            && let Some(u) = header(resp, "location")
        {
            return Some((Lro::Location(u), ra));
        }
        None
    }

    async fn wait_lro(&self, lro: Option<(Lro, Option<Duration>)>, at: &Placement) -> Result<()> {
        let Some((lro, mut ra)) = lro else {
            return Ok(());
        };
        let deadline = Instant::now() + self.lro_timeout;
        loop {
            tokio::time::sleep(self.backoff(ra)).await;
            if Instant::now() > deadline {
                return Err(Error::new(
                    ErrorKind::Transient,
                    format!(
                        "long-running operation did not finish within {:?}",
                        self.lro_timeout
                    ),
                )
                .with_scope(Scope::Region)
                .with_placement(at.clone()));
            }
            let url = match &lro {
                Lro::AsyncOperation(u) | Lro::Location(u) => u.as_str(),
            };
            let resp = self.raw(Method::GET, url, None, at).await?;
            ra = retry_after(&resp);
            let status = resp.status();
            match &lro {
                Lro::AsyncOperation(_) => {
                    if !status.is_success() {
                        // Throttled polls are repeated; any other failure of the status
                        // monitor is the operation's outcome as far as sky can tell.
                        if status == StatusCode::TOO_MANY_REQUESTS {
                            continue;
                        }
                        return Err(Self::fail(resp, at).await);
                    }
                    let s: AsyncStatus = resp.json().await.map_err(|e| {
                        Error::new(
                            ErrorKind::Unexpected,
                            format!("bad async operation status: {e}"),
                        )
                        .with_placement(at.clone())
                    })?;
                    match s.status.as_str() {
                        "Succeeded" => return Ok(()),
                        "Failed" | "Canceled" => {
                            let detail = s.error.unwrap_or_else(|| crate::error::ErrorDetail {
                                code: None,
                                message: Some(format!("operation {}", s.status)),
                                details: vec![],
                            });
                            return Err(arm_error(None, &detail, None, at.clone()));
                        }
                        _ => continue,
                    }
                }
                Lro::Location(_) => {
                    if status == StatusCode::ACCEPTED {
                        continue;
                    }
                    if status.is_success() {
                        return Ok(());
                    }
                    // The location answers the operation's final status: an error status
                    // with ARM's error body is its failure (throttled polls are repeated).
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        continue;
                    }
                    return Err(Self::fail(resp, at).await);
                }
            }
        }
    }
}

enum Lro {
    AsyncOperation(String),
    Location(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NoToken;

    #[async_trait::async_trait]
    impl TokenCredential for NoToken {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "none",
            ))
        }
    }

    fn arm() -> Arm {
        Arm::new(
            "https://example.invalid/",
            Arc::new(NoToken),
            "sub".into(),
            Duration::from_secs(5),
            Duration::from_secs(60),
        )
        .unwrap()
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let a = arm();
        assert_eq!(a.backoff(None), Duration::from_secs(5));
        assert_eq!(
            a.backoff(Some(Duration::from_secs(17))),
            Duration::from_secs(17)
        );
        assert_eq!(
            a.backoff(Some(Duration::from_secs(600))),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn urls_carry_the_api_version() {
        let a = arm();
        assert_eq!(
            a.url(&a.sub_path("/resourceGroups/g"), api::RESOURCES),
            "https://example.invalid/subscriptions/sub/resourceGroups/g?api-version=2021-04-01"
        );
        assert!(
            a.url("/x?$filter=a", "v")
                .ends_with("/x?$filter=a&api-version=v")
        );
        assert!(!format!("{a:?}").contains("token"));
    }

    #[tokio::test]
    async fn a_credential_failure_is_a_cloud_wide_auth_error() {
        let e = arm().token(&Placement::default()).await.unwrap_err();
        assert_eq!((e.kind(), e.scope()), (ErrorKind::Auth, Scope::Cloud));
    }
}
