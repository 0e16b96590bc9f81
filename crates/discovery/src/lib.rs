//! Discovery of Amazon MWAA environments across every AWS profile and region.
//!
//! Credentials come only from profiles of the shared config and credentials files; this crate
//! never falls back to the instance metadata service.
//!
//! - [`aws_files`] finds the shared files, [`load_profiles`] lists their profiles and regions.
//! - [`discover`] asks MWAA, for every (profile, region) at once (bounded), for its environments.
//!   A source that fails becomes a [`SourceFailure`] saying what to do; the others are unaffected.
//! - [`create_web_login_token`] mints the short-lived token that logs a browser in to one
//!   environment's Airflow UI.
//! - [`environment_connections_prefix`] reads where an environment's Airflow finds connections in
//!   Secrets Manager; [`SecretsManager`] reads and writes them there.
//! - Endpoints come from the profile (`endpoint_url`, a `services` section) or
//!   `AWS_ENDPOINT_URL[_MWAA]`, as for the AWS CLI. For loopback endpoints the SDK's host prefix
//!   (`api.`) is dropped ([`LoopbackHostPrefix`]), so a local MWAA server works.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod error;
mod host_prefix;
mod mfa;
mod profiles;
mod secrets;
mod sso;
mod sweep;
mod token;

pub use error::{Error, ProfileError, Result};
pub use host_prefix::{LoopbackHostPrefix, is_loopback_host, strip_loopback_prefix};
pub use mfa::{MfaError, MfaProfile, MfaSignedIn, mfa_profiles, mfa_sign_in};
pub use profiles::{AIRGATE_REGIONS_KEY, aws_files, load_profiles};
pub use secrets::{
    ConnectionsPrefix, DEFAULT_CONNECTIONS_PREFIX, PrefixSource, SECRETS_MANAGER_BACKEND,
    SecretsError, SecretsManager, Written, environment_connections_prefix,
};
pub use sso::{DeviceCode, SignedIn, SsoError, SsoSession, SsoTarget, sign_in, sso_session};
pub use sweep::{discover, discover_streaming, discover_with};
pub use token::{TokenError, WebLogin, WebToken, create_web_login_token};

/// How the Airflow web server of an environment is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AccessMode {
    /// `PUBLIC_ONLY`: reachable from the internet.
    Public,
    /// `PRIVATE_ONLY`: reachable only inside its VPC, through a VPC endpoint (`-vpce` hostname);
    /// MWAA's default.
    #[default]
    PrivateVpce,
}

/// One MWAA environment as seen through one profile in one region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub name: String,
    pub profile: String,
    pub region: String,
    /// MWAA status as the service names it: `AVAILABLE`, `CREATING`, `UPDATING`, ...
    pub status: String,
    pub airflow_version: Option<String>,
    pub access: AccessMode,
    /// Hostname of the web server, without scheme (`<id>-vpce.c5.eu-west-1.airflow.amazonaws.com`).
    pub webserver_host: Option<String>,
    pub arn: Option<String>,
    /// The security groups of the environment (`NetworkConfiguration`): a bastion must be
    /// allowed in by one of them on 443 to reach the web server.
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// Other profiles that see this same environment (same ARN: the same account and region),
    /// listed once under `profile`, the first of them by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_seen_by: Vec<String>,
    /// Who made the VPC endpoints: MWAA itself, or the customer (shared VPCs).
    #[serde(default)]
    pub endpoint_management: Option<EndpointManagement>,
    /// `mw1.small`, `mw1.medium`, ...
    #[serde(default)]
    pub environment_class: Option<String>,
    #[serde(default)]
    pub execution_role_arn: Option<String>,
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    /// The VPC endpoint service of a private web server (`com.amazonaws.vpce.REGION.vpce-svc-…`).
    #[serde(default)]
    pub webserver_vpc_endpoint_service: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub last_update: Option<LastUpdate>,
}

/// Who created and manages an environment's VPC endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum EndpointManagement {
    /// `SERVICE`: MWAA.
    Service,
    /// `CUSTOMER`: the account owner (for example in a shared VPC).
    Customer,
}

/// The last change made to an environment (`LastUpdate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct LastUpdate {
    /// `SUCCESS`, `PENDING` or `FAILED`.
    pub status: String,
    /// When it started, RFC 3339.
    pub created_at: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// The id of the environment `name` as seen by `profile` in `region`: `"{profile}/{region}/{name}"`
/// (the same name can exist in several profiles and regions). Tunnels and browser profiles are
/// keyed by it.
pub fn environment_id(profile: &str, region: &str, name: &str) -> String {
    format!("{profile}/{region}/{name}")
}

impl Environment {
    /// Its [`environment_id`].
    pub fn id(&self) -> String {
        environment_id(&self.profile, &self.region, &self.name)
    }

    /// The AWS account it lives in, from its ARN (`arn:aws:airflow:REGION:ACCOUNT:environment/NAME`).
    pub fn account(&self) -> Option<&str> {
        self.arn
            .as_deref()?
            .split(':')
            .nth(4)
            .filter(|account| !account.is_empty())
    }

    /// The environment's page in the AWS console.
    pub fn console_url(&self) -> String {
        console_url(&self.region, &self.name)
    }
}

/// The AWS console page of the MWAA environment `name` in `region`.
pub fn console_url(region: &str, name: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/mwaa/home?region={region}#environments/{name}")
}

/// Where the shared AWS files are (honours `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFiles {
    pub config: PathBuf,
    pub credentials: PathBuf,
}

/// A profile of the shared AWS files, and the regions to look in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub name: String,
    /// `region`, plus any listed in the Airgate key `airgate_regions = us-east-1, eu-west-1`.
    pub regions: Vec<String>,
}

/// A (profile, region) pair that could not be listed. Other pairs are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SourceFailure {
    /// The profile; for a [`FailureKind::Config`] failure, the path of the broken file.
    pub profile: String,
    /// `None` when the profile itself is unusable (no region, broken credentials).
    pub region: Option<String>,
    pub kind: FailureKind,
    /// What happened and what to do, for a person.
    pub message: String,
    /// Signing in to the profile's IAM Identity Center session again fixes it
    /// (`airgate login`, the window's Sign in).
    #[serde(default)]
    pub sso: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum FailureKind {
    /// No region set for the profile.
    NoRegion,
    /// Credentials missing, expired (SSO) or rejected.
    Credentials,
    AccessDenied,
    Throttled,
    Unreachable,
    /// A shared config or credentials file (or one section of it) cannot be read or parsed;
    /// what is broken is skipped, the rest is listed.
    Config,
    /// No profile at all in the shared files: the message says where Airgate looked.
    NoProfiles,
    /// The profile's role needs an MFA code (`mfa_serial`), not given yet or expired.
    MfaCode,
    Other,
}

/// One source of a sweep, as soon as it answered: a profile and region with its environments
/// (or why it failed), or a profile (or file) that failed before any region was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SourceFound {
    pub profile: String,
    /// `None` for a failure of the profile (or file) itself.
    pub region: Option<String>,
    pub environments: Vec<Environment>,
    pub failure: Option<SourceFailure>,
    /// Who the profile is (told once per profile, with `region: None`).
    #[serde(default)]
    pub identity: Option<Identity>,
}

/// Who a profile is, as STS tells it (`GetCallerIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub profile: String,
    pub account: String,
    /// The user or assumed role (`arn:aws:sts::111111111111:assumed-role/Admin/priya`).
    pub arn: String,
}

/// Everything found in one sweep over all profiles and regions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    pub environments: Vec<Environment>,
    pub failures: Vec<SourceFailure>,
    /// The identity of each profile that has credentials, by profile name.
    #[serde(default)]
    pub identities: Vec<Identity>,
}

/// Limits of one sweep. The defaults suit the app; tests shorten the timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverOptions {
    /// (profile, region) sources listed at the same time (credential lookups count too).
    pub concurrency: usize,
    /// `GetEnvironment` calls in flight per source.
    pub per_source_concurrency: usize,
    /// Page size of `ListEnvironments` (`None`: the service's default).
    pub page_size: Option<i32>,
    pub connect_timeout: Duration,
    /// Limit of one HTTP attempt.
    pub attempt_timeout: Duration,
    /// Limit of one operation, retries included; also bounds a credential lookup.
    pub operation_timeout: Duration,
    /// Attempts per operation (throttling and transient errors are retried).
    pub max_attempts: u32,
    /// First retry delay; it doubles (with jitter) up to 20 s.
    pub initial_backoff: Duration,
    /// Regions every profile also looks in, after its own (`region`, `airgate_regions`), e.g.
    /// [`MWAA_REGIONS`]. In these, a region that refuses the profile's credentials (one its
    /// account has not enabled) is no failure while another region answers.
    pub extra_regions: Vec<String>,
}

/// The regions of the `aws` partition that offer Amazon MWAA (botocore's endpoint data,
/// 1.44), for "every MWAA region".
pub const MWAA_REGIONS: [&str; 32] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "ca-west-1",
    "mx-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
];

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            // Every (profile, region) of a large organisation at once: a refresh then takes
            // about one List and one Get (BENCHMARKS.md).
            concurrency: 64,
            per_source_concurrency: 8,
            page_size: None,
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            extra_regions: Vec::new(),
        }
    }
}
