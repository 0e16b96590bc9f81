//! Discovery of Amazon MWAA environments across every AWS profile and region.
//!
//! Credentials come only from profiles of the shared config and credentials files; this crate
//! never falls back to the instance metadata service.

use std::path::PathBuf;

use serde::Serialize;

mod error;
pub use error::{Error, Result};

/// How the Airflow web server of an environment is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AccessMode {
    /// `PUBLIC_ONLY`: reachable from the internet.
    Public,
    /// `PRIVATE_ONLY`: reachable only inside its VPC, through a VPC endpoint (`-vpce` hostname).
    PrivateVpce,
}

/// One MWAA environment as seen through one profile in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub profile: String,
    /// `None` when the profile itself is unusable (no region, broken credentials).
    pub region: Option<String>,
    pub kind: FailureKind,
    /// What happened and what to do, for a person.
    pub message: String,
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
    Other,
}

/// Everything found in one sweep over all profiles and regions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    pub environments: Vec<Environment>,
    pub failures: Vec<SourceFailure>,
}

/// The shared AWS files of this user.
pub fn aws_files() -> AwsFiles {
    unimplemented!("aws_files")
}

/// Lists every MWAA environment of every profile and region; failures are per source.
pub async fn discover(_files: &AwsFiles) -> Discovery {
    unimplemented!("discover")
}
