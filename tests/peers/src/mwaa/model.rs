//! Environment records, their JSON shape on the wire, and the seed format.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Every status MWAA reports for an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnvironmentStatus {
    #[default]
    Available,
    CreateFailed,
    Creating,
    CreatingSnapshot,
    Deleted,
    Deleting,
    Maintenance,
    Pending,
    RollingBack,
    Unavailable,
    UpdateFailed,
    Updating,
}

impl EnvironmentStatus {
    /// The name on the wire: `AVAILABLE`, `CREATE_FAILED`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::CreateFailed => "CREATE_FAILED",
            Self::Creating => "CREATING",
            Self::CreatingSnapshot => "CREATING_SNAPSHOT",
            Self::Deleted => "DELETED",
            Self::Deleting => "DELETING",
            Self::Maintenance => "MAINTENANCE",
            Self::Pending => "PENDING",
            Self::RollingBack => "ROLLING_BACK",
            Self::Unavailable => "UNAVAILABLE",
            Self::UpdateFailed => "UPDATE_FAILED",
            Self::Updating => "UPDATING",
        }
    }

    /// While creating (or after failing to), MWAA has no web server URL yet.
    fn has_webserver(self) -> bool {
        !matches!(self, Self::Creating | Self::CreateFailed)
    }
}

/// `WebserverAccessMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebserverAccessMode {
    /// Reachable only inside the VPC, through a VPC endpoint (`-vpce` hostname).
    #[default]
    PrivateOnly,
    /// Reachable from the internet.
    PublicOnly,
}

impl WebserverAccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrivateOnly => "PRIVATE_ONLY",
            Self::PublicOnly => "PUBLIC_ONLY",
        }
    }
}

/// `EndpointManagement`: who creates the VPC endpoints of the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndpointManagement {
    #[default]
    Service,
    Customer,
}

impl EndpointManagement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "SERVICE",
            Self::Customer => "CUSTOMER",
        }
    }
}

/// An environment to put straight into the server's state, with any status.
///
/// Field names are those of the MWAA API, so a seed file reads like a `GetEnvironment` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SeedEnvironment {
    pub name: String,
    pub status: EnvironmentStatus,
    pub airflow_version: String,
    pub webserver_access_mode: WebserverAccessMode,
    pub endpoint_management: EndpointManagement,
    pub environment_class: String,
    /// Defaults to `arn:aws:iam::{account}:role/service-role/AmazonMWAA-{name}`.
    pub execution_role_arn: Option<String>,
    /// Defaults to `arn:aws:s3:::airflow-{name}`.
    pub source_bucket_arn: Option<String>,
    #[serde(rename = "DagS3Path")]
    pub dag_s3_path: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// Overrides the derived `WebserverUrl` (a hostname, as MWAA returns it).
    pub webserver_url: Option<String>,
    /// Airflow configuration overrides (`secrets.backend_kwargs`, ...), as MWAA returns them.
    pub airflow_configuration_options: BTreeMap<String, String>,
    /// Makes the last update a failed one, with this error.
    pub last_update_error: Option<SeedUpdateError>,
}

/// `LastUpdate.Error` of a failed update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SeedUpdateError {
    pub error_code: String,
    pub error_message: String,
}

impl Default for SeedEnvironment {
    fn default() -> Self {
        Self {
            name: String::new(),
            status: EnvironmentStatus::Available,
            airflow_version: "2.10.3".to_owned(),
            webserver_access_mode: WebserverAccessMode::PrivateOnly,
            endpoint_management: EndpointManagement::Service,
            environment_class: "mw1.small".to_owned(),
            execution_role_arn: None,
            source_bucket_arn: None,
            dag_s3_path: "dags".to_owned(),
            subnet_ids: vec![
                "subnet-0a1b2c3d4e5f60001".to_owned(),
                "subnet-0a1b2c3d4e5f60002".to_owned(),
            ],
            security_group_ids: vec!["sg-0a1b2c3d4e5f60001".to_owned()],
            tags: BTreeMap::new(),
            webserver_url: None,
            airflow_configuration_options: BTreeMap::new(),
            last_update_error: None,
        }
    }
}

impl SeedEnvironment {
    /// An `AVAILABLE`, `PRIVATE_ONLY` environment named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// A `PUBLIC_ONLY` environment (its host has no `-vpce`).
    pub fn public(mut self) -> Self {
        self.webserver_access_mode = WebserverAccessMode::PublicOnly;
        self
    }

    /// A `PRIVATE_ONLY` environment (its host ends in `-vpce.c<N>.<region>.airflow.amazonaws.com`).
    pub fn private(mut self) -> Self {
        self.webserver_access_mode = WebserverAccessMode::PrivateOnly;
        self
    }

    pub fn status(mut self, status: EnvironmentStatus) -> Self {
        self.status = status;
        self
    }

    pub fn airflow_version(mut self, version: impl Into<String>) -> Self {
        self.airflow_version = version.into();
        self
    }

    pub fn webserver_url(mut self, host: impl Into<String>) -> Self {
        self.webserver_url = Some(host.into());
        self
    }

    /// Customer-managed VPC endpoints (`EndpointManagement: CUSTOMER`).
    pub fn customer_endpoints(mut self) -> Self {
        self.endpoint_management = EndpointManagement::Customer;
        self
    }

    /// The last update failed with `code` and `message`.
    pub fn failed_update(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.last_update_error = Some(SeedUpdateError {
            error_code: code.into(),
            error_message: message.into(),
        });
        self
    }

    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// An Airflow configuration option (`AirflowConfigurationOptions`), e.g.
    /// `secrets.backend_kwargs`.
    pub fn airflow_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.airflow_configuration_options
            .insert(key.into(), value.into());
        self
    }
}

/// What [`crate::mwaa::MwaaServer::seed`] made of a seed: the values a test asserts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededEnvironment {
    pub arn: String,
    /// `None` while the status has no web server (`CREATING`, `CREATE_FAILED`).
    pub webserver_host: Option<String>,
}

/// One entry of a seed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SeedEntry {
    pub account: String,
    pub region: String,
    #[serde(flatten)]
    pub environment: SeedEnvironment,
}

/// The seed file of the `mwaa-server` binary.
///
/// ```json
/// {
///   "AccessKeys": { "AKIAPROD": "111111111111" },
///   "Environments": [
///     { "Account": "111111111111", "Region": "eu-west-1", "Name": "prod",
///       "WebserverAccessMode": "PRIVATE_ONLY", "Status": "AVAILABLE" }
///   ]
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SeedFile {
    /// Access key id → account id, added to the server's map.
    pub access_keys: BTreeMap<String, String>,
    pub environments: Vec<SeedEntry>,
}

/// 64-bit FNV-1a: stable across platforms and Rust versions, unlike `DefaultHasher`.
pub(crate) fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A uuid-shaped id derived from `parts`.
pub(crate) fn derived_uuid(parts: &[&str]) -> String {
    let a = fnv1a(parts);
    let b = fnv1a(&[&format!("{a:016x}"), "second half"]);
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An environment held by the server.
#[derive(Debug, Clone)]
pub(crate) struct EnvRecord {
    pub seed: SeedEnvironment,
    pub account: String,
    pub region: String,
    pub arn: String,
    /// Derived host (or the seed's override).
    pub host: String,
    pub vpce_service: String,
    pub created_at: f64,
    /// When an SDK-created environment becomes `AVAILABLE`.
    pub available_at: Option<Instant>,
    /// When a deleted environment disappears.
    pub remove_at: Option<Instant>,
}

impl EnvRecord {
    pub fn new(account: &str, region: &str, seed: SeedEnvironment) -> Self {
        let id = derived_uuid(&[account, region, &seed.name]);
        let cell = fnv1a(&[account, region]) % 9 + 1;
        let host = match (&seed.webserver_url, seed.webserver_access_mode) {
            (Some(host), _) => host.clone(),
            (None, WebserverAccessMode::PrivateOnly) => {
                format!("{id}-vpce.c{cell}.{region}.airflow.amazonaws.com")
            }
            (None, WebserverAccessMode::PublicOnly) => {
                format!("{id}.c{cell}.{region}.airflow.amazonaws.com")
            }
        };
        let svc = fnv1a(&[&id, "vpce"]);
        let vpce_service = format!("com.amazonaws.vpce.{region}.vpce-svc-0{:016x}", svc);
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as f64
            / 1000.0;
        Self {
            arn: format!(
                "arn:aws:airflow:{region}:{account}:environment/{}",
                seed.name
            ),
            account: account.to_owned(),
            region: region.to_owned(),
            host,
            vpce_service,
            created_at,
            available_at: None,
            remove_at: None,
            seed,
        }
    }

    pub fn webserver_host(&self) -> Option<String> {
        self.seed.status.has_webserver().then(|| self.host.clone())
    }

    /// The `Environment` object of `GetEnvironment`.
    pub fn to_json(&self) -> Value {
        let s = &self.seed;
        let account = &self.account;
        let region = &self.region;
        let mut env = json!({
            "Name": s.name,
            "Status": s.status.as_str(),
            "Arn": self.arn,
            "CreatedAt": self.created_at,
            "ExecutionRoleArn": s.execution_role_arn.clone().unwrap_or_else(|| {
                format!("arn:aws:iam::{account}:role/service-role/AmazonMWAA-{}", s.name)
            }),
            "ServiceRoleArn": format!(
                "arn:aws:iam::{account}:role/aws-service-role/airflow.amazonaws.com/AWSServiceRoleForAmazonMWAA"
            ),
            "AirflowVersion": s.airflow_version,
            "SourceBucketArn": s.source_bucket_arn.clone()
                .unwrap_or_else(|| format!("arn:aws:s3:::airflow-{}", s.name)),
            "DagS3Path": s.dag_s3_path,
            "AirflowConfigurationOptions": s.airflow_configuration_options,
            "EnvironmentClass": s.environment_class,
            "MaxWorkers": 10,
            "MinWorkers": 1,
            "Schedulers": 2,
            "MinWebservers": 2,
            "MaxWebservers": 2,
            "NetworkConfiguration": {
                "SubnetIds": s.subnet_ids,
                "SecurityGroupIds": s.security_group_ids,
            },
            "WeeklyMaintenanceWindowStart": "SUN:03:30",
            "Tags": s.tags,
            "WebserverAccessMode": s.webserver_access_mode.as_str(),
            "EndpointManagement": s.endpoint_management.as_str(),
            "CeleryExecutorQueue": format!(
                "arn:aws:sqs:{region}:{account}:airflow-celery-{}",
                derived_uuid(&[account, region, &s.name, "queue"])
            ),
        });
        if let Some(host) = self.webserver_host()
            && let Some(obj) = env.as_object_mut()
        {
            obj.insert("WebserverUrl".to_owned(), Value::String(host));
            if s.webserver_access_mode == WebserverAccessMode::PrivateOnly {
                obj.insert(
                    "WebserverVpcEndpointService".to_owned(),
                    Value::String(self.vpce_service.clone()),
                );
            }
            obj.insert(
                "DatabaseVpcEndpointService".to_owned(),
                Value::String(format!(
                    "com.amazonaws.vpce.{region}.vpce-svc-0{:016x}",
                    fnv1a(&[&self.arn, "database"])
                )),
            );
        }
        // A failed update is told even when the web server is gone.
        if s.last_update_error.is_some() || self.webserver_host().is_some() {
            let last_update = match &s.last_update_error {
                None => json!({
                    "Status": "SUCCESS", "CreatedAt": self.created_at, "Source": "Amazon MWAA"
                }),
                Some(error) => json!({
                    "Status": "FAILED", "CreatedAt": self.created_at, "Source": "Amazon MWAA",
                    "Error": { "ErrorCode": error.error_code, "ErrorMessage": error.error_message },
                }),
            };
            if let Some(obj) = env.as_object_mut() {
                obj.insert("LastUpdate".to_owned(), last_update);
            }
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_hosts_carry_vpce_and_public_ones_do_not() {
        let private = EnvRecord::new("111111111111", "eu-west-1", SeedEnvironment::new("a"));
        let public = EnvRecord::new(
            "111111111111",
            "eu-west-1",
            SeedEnvironment::new("b").public(),
        );
        let private_host = private.webserver_host().expect("available has a host");
        let public_host = public.webserver_host().expect("available has a host");
        assert!(private_host.contains("-vpce.c"), "{private_host}");
        assert!(private_host.ends_with(".eu-west-1.airflow.amazonaws.com"));
        assert!(!public_host.contains("-vpce"), "{public_host}");
        assert_eq!(
            private.arn,
            "arn:aws:airflow:eu-west-1:111111111111:environment/a"
        );
        // Stable across runs.
        let again = EnvRecord::new("111111111111", "eu-west-1", SeedEnvironment::new("a"));
        assert_eq!(again.host, private.host);
    }

    #[test]
    fn creating_environments_have_no_webserver_url() {
        let rec = EnvRecord::new(
            "1",
            "us-east-1",
            SeedEnvironment::new("x").status(EnvironmentStatus::Creating),
        );
        let json = rec.to_json();
        assert_eq!(json["Status"], "CREATING");
        assert!(json.get("WebserverUrl").is_none());
    }

    #[test]
    fn seed_file_reads_like_the_api() {
        let file: SeedFile = serde_json::from_str(
            r#"{"AccessKeys":{"AKIA1":"123456789012"},
                "Environments":[{"Account":"123456789012","Region":"eu-west-1","Name":"prod",
                                 "WebserverAccessMode":"PUBLIC_ONLY","Status":"UPDATING"}]}"#,
        )
        .expect("valid seed file");
        let env = &file.environments[0].environment;
        assert_eq!(env.name, "prod");
        assert_eq!(env.status, EnvironmentStatus::Updating);
        assert_eq!(env.webserver_access_mode, WebserverAccessMode::PublicOnly);
        assert_eq!(env.airflow_version, "2.10.3");
    }
}
