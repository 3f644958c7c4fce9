//! # sky-cloud-azure
//!
//! sky's Azure backend: [`AzureProvisioner`], a [`sky_core::provision::Provisioner`] that
//! launches, stops, starts and deletes clusters of Azure VMs, and [`AzureBuilder`], which
//! finds the subscription and credentials, checks them for `sky check`
//! ([`AzureBuilder::check`]) and builds the provisioner.
//!
//! ## Why ARM REST and `azure_identity`
//!
//! The Azure SDK for Rust's 1.x line has identity (`azure_identity`, `azure_core`) but no
//! compute or network management crate (the `azure_resourcemanager_*` names are empty
//! placeholders), and the legacy `azure_mgmt_*` crates are unmaintained and built on an
//! incompatible `azure_core`. So this crate calls the Azure Resource Manager REST API directly
//! with `reqwest` and its own serde shapes for the few resources it uses, with bearer tokens
//! from an `azure_identity` [`TokenCredential`](azure_core::credentials::TokenCredential).
//! The api-versions live in one place, [`api`].
//!
//! Credentials are tried in this order, the first that gives a token winning (as the SDKs'
//! `DefaultAzureCredential`): a service principal from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`
//! and `AZURE_CLIENT_SECRET` (`ClientSecretCredential`); the Azure CLI or Azure Developer CLI
//! login (`DeveloperToolsCredential`); a managed identity (`ManagedIdentityCredential`),
//! tried only where `IDENTITY_ENDPOINT`/`MSI_ENDPOINT` is set or on opt-in with
//! `SKY_AZURE_MANAGED_IDENTITY=1` (probing IMDS off Azure retries for over a minute). Tokens
//! are cached until five minutes before they expire (the CLI credential does not cache).
//! The subscription comes from `AZURE_SUBSCRIPTION_ID`, else the az CLI's default in
//! `~/.azure/azureProfile.json`. Tokens are never logged.
//!
//! ## What it creates
//!
//! One resource group per cluster and region (`sky-<cluster>-<region>`), created first and
//! tagged, so a crash half way leaves everything findable. It holds a virtual network and
//! subnet, a network security group opening only SSH (22) and the task's ports, and per node a
//! Standard public IP, a NIC and the VM (size, image, OS disk size, Spot priority with
//! eviction policy `Deallocate`, tags `sky-cluster` and `sky-rank`, the SSH public key in
//! `linuxConfiguration`). The image is the task's `image_id` (`publisher:offer:sku:version` or
//! an image resource id), else Canonical's Ubuntu 22.04 for the size's Hyper-V generation,
//! from the catalog's `Generation` column (or the resource SKUs API). VM creation waits for
//! provisioning state `Succeeded`; stop is `deallocate`; terminate deletes the resource group
//! and verifies it is gone. Azure has no zones in sky's model, as in SkyPilot.
//!
//! Long-running operations follow ARM's two protocols, `Azure-AsyncOperation` (poll the
//! status until `Succeeded`/`Failed`/`Canceled`) and `Location` (poll until 200/204),
//! honouring `Retry-After`.
//!
//! ## Quota pre-check
//!
//! SkyPilot has no quota check on Azure and spends a full provision attempt on each region
//! without quota (its issue #10119). Before creating anything — resource group, NSG, VNet
//! or VM — this crate looks the size up in the resource SKUs API (`GET
//! .../providers/Microsoft.Compute/skus`, whose `family` names the vCPU quota family, e.g.
//! `standardDSv5Family`, and whose capabilities give `vCPUs`), then reads the region's
//! usages (`GET .../locations/{region}/usages`) and compares `currentValue + needed > limit`:
//! on demand, the family's quota and the regional total (`cores`); spot, the regional spot
//! total (`lowPriorityCores`). A shortfall fails fast with a quota error carrying what the
//! quota covers ([`sky_core::error::QuotaCover`]): the region's on-demand sizes for `cores`,
//! its Spot sizes for `lowPriorityCores`, the family's sizes (from the SKU list) for a
//! family. If the SKU list or the usages cannot be read, or do not give the size's family,
//! the check says so in a warning and lets the create call decide.
//!
//! ## Paged lists
//!
//! ARM may page any list (`{"value": [...], "nextLink": "..."}`). Every list this crate
//! reads — the cluster's VMs, NICs and public IPs, the resource SKUs, the usages — goes
//! through one helper that follows `nextLink` to the last page, so `status --refresh` sees
//! and `stop` deallocates every node, and the pre-check sees every SKU and usage. A
//! `nextLink` off the configured endpoint is refused (the bearer token is sent nowhere else).
//!
//! ## Pointing at another endpoint
//!
//! For a sovereign cloud, as for tests, set `SKY_AZURE_ENDPOINT` ([`ENDPOINT_ENV`]) to the
//! Resource Manager base URL (default `https://management.azure.com`, e.g.
//! `https://management.usgovcloudapi.net` or a local test server such as
//! `http://127.0.0.1:8080`); [`AzureBuilder::endpoint`] does the same in code. Every ARM
//! request, long-running-operation poll and followed `nextLink` goes to that endpoint.
//! Tokens come from the identity authority, which `azure_identity` reads from
//! `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com`; e.g.
//! `https://login.microsoftonline.us`). The authority must be **https**: `azure_identity`
//! refuses a plain-http authority, so a test identity server needs a TLS certificate, trusted
//! through `SSL_CERT_FILE` (a PEM bundle that includes the test CA). The token scope stays
//! `https://management.azure.com/.default`.
//!
//! ## Errors
//!
//! One table, in [`error`], maps ARM error codes and HTTP statuses to sky's kinds and scopes,
//! quoting Microsoft's documentation: `SkuNotAvailable`, `AllocationFailed`,
//! `ZonalAllocationFailed`, `OverconstrainedAllocationRequest` → capacity, region; quota
//! errors (`QuotaExceeded`, quota `OperationNotAllowed`) → quota, with the cover of the quota
//! the message names ([`error::quota_named`]: regional `cores`, a VM family, or
//! `lowPriorityCores`);
//! `AuthorizationFailed`, `InvalidAuthenticationToken`, `SubscriptionNotFound` → auth, cloud;
//! 429 (with `Retry-After`) and 5xx → transient; invalid parameters → invalid request (the
//! broker aborts).
//!
//! ## Tests
//!
//! There is no Azure compute emulator. The tests run this crate's real HTTP client against a
//! local HTTP server (wiremock, in the test harness) that answers with the ARM shapes from
//! Microsoft's REST reference — resource groups, networks, NICs, public IPs, VMs with
//! instance views, both long-running operation protocols, `deallocate`/`start`, usages and
//! resource SKUs, and scripted errors — with a static token credential in place of Entra ID.
//! They run sky's conformance suite and the broker's launch, failover and lifecycle through it.
//!
//! ## Why a separate crate
//!
//! The HTTP and identity stack (reqwest, rustls, azure_core) is only compiled by those who
//! enable Azure, and the backend's error table and fakes evolve with Azure, not with sky's
//! core.

mod arm;
mod builder;
pub mod error;
mod provision;

pub use arm::api;
pub use builder::{AzureBuilder, ENDPOINT_ENV, MANAGED_IDENTITY_ENV, SUBSCRIPTION_ENV};
pub use provision::{
    AzureProvisioner, DEFAULT_IMAGE_GEN1, DEFAULT_IMAGE_GEN2, SSH_USER, TAG_CLUSTER, TAG_RANK,
    default_image, image_reference, nsg_rules, resource_group, vm_name,
};

/// The cloud this crate provisions on.
pub const CLOUD: sky_core::CloudId = sky_core::CloudId::Azure;
