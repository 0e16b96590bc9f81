//! An environment's Airflow secrets backend in AWS Secrets Manager: where its Airflow looks for
//! connections (from the environment's `AirflowConfigurationOptions`, as MWAA documents it), and
//! reading and writing those secrets with the profile that sees the environment.
//!
//! Secret values are never logged; they are handed back in memory that is zeroed when dropped.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_types::region::Region;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::sweep::{self, ProfileInfo};
use crate::{AwsFiles, ProfileError};

/// `secrets.backend` of an environment that reads Secrets Manager.
pub const SECRETS_MANAGER_BACKEND: &str =
    "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend";
/// The backend's own default `connections_prefix` (and MWAA's documented convention).
pub const DEFAULT_CONNECTIONS_PREFIX: &str = "airflow/connections";
const BACKEND_OPTION: &str = "secrets.backend";
const KWARGS_OPTION: &str = "secrets.backend_kwargs";

/// Where connections live in Secrets Manager: secret `<prefix><sep><conn_id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionsPrefix {
    pub prefix: String,
    pub sep: String,
    pub source: PrefixSource,
}

/// Where a [`ConnectionsPrefix`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum PrefixSource {
    /// The environment's `secrets.backend_kwargs`.
    Environment,
    /// The environment uses the Secrets Manager backend with its default prefix.
    BackendDefault,
    /// The environment has no secrets backend configured: its Airflow does not read Secrets
    /// Manager until `secrets.backend` is set; the conventional prefix is used.
    NotConfigured,
    /// Given by the user.
    Chosen,
}

impl ConnectionsPrefix {
    /// The prefix a user chose (`airflow/connections`, trailing separators dropped as Airflow
    /// does).
    pub fn chosen(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_owned(),
            sep: "/".to_owned(),
            source: PrefixSource::Chosen,
        }
    }

    /// The secret holding `conn_id`, as the backend names it (`build_path`; with an empty
    /// prefix, the bare conn_id).
    pub fn secret_name(&self, conn_id: &str) -> String {
        if self.prefix.is_empty() {
            conn_id.to_owned()
        } else {
            format!("{}{}{conn_id}", self.prefix, self.sep)
        }
    }

    /// The conn_id a secret name holds, when it is under this prefix.
    pub fn conn_id<'a>(&self, secret_name: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return Some(secret_name).filter(|id| !id.is_empty());
        }
        secret_name
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(self.sep.as_str())
            .filter(|id| !id.is_empty())
    }

    /// What [`SecretsManager::names`] lists for this prefix.
    pub fn list_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}{}", self.prefix, self.sep)
        }
    }

    /// Reads the prefix from an environment's `AirflowConfigurationOptions`, as the Secrets
    /// Manager backend reads its `backend_kwargs`.
    pub fn from_options(
        environment: &str,
        options: &HashMap<String, String>,
    ) -> Result<Self, SecretsError> {
        let backend = options.get(BACKEND_OPTION).map(|b| b.trim());
        match backend {
            None | Some("") => {
                return Ok(Self {
                    prefix: DEFAULT_CONNECTIONS_PREFIX.to_owned(),
                    sep: "/".to_owned(),
                    source: PrefixSource::NotConfigured,
                });
            }
            Some(SECRETS_MANAGER_BACKEND) => {}
            Some(other) => {
                return Err(SecretsError::OtherBackend {
                    environment: environment.to_owned(),
                    backend: other.to_owned(),
                });
            }
        }
        let bad = |detail: String| SecretsError::BadBackendKwargs {
            environment: environment.to_owned(),
            detail,
        };
        let kwargs = match options.get(KWARGS_OPTION).map(|k| k.trim()) {
            None | Some("") => serde_json::Map::new(),
            Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(_) => return Err(bad("it is not a JSON object".to_owned())),
                Err(err) => return Err(bad(format!("it is not JSON: {err}"))),
            },
        };
        let sep = match kwargs.get("sep") {
            None => "/".to_owned(),
            Some(serde_json::Value::String(sep)) => sep.clone(),
            Some(_) => return Err(bad("\"sep\" is not a string".to_owned())),
        };
        let (prefix, source) = match kwargs.get("connections_prefix") {
            None => (
                DEFAULT_CONNECTIONS_PREFIX.to_owned(),
                PrefixSource::BackendDefault,
            ),
            // An empty prefix: secrets named by the bare conn_id.
            Some(serde_json::Value::String(prefix)) => (prefix.clone(), PrefixSource::Environment),
            Some(serde_json::Value::Null) => {
                return Err(SecretsError::ConnectionsOff {
                    environment: environment.to_owned(),
                });
            }
            Some(_) => return Err(bad("\"connections_prefix\" is not a string".to_owned())),
        };
        // As the backend does: `connections_prefix.rstrip(sep)`.
        let prefix = if sep.is_empty() {
            prefix
        } else {
            let mut prefix = prefix.as_str();
            while let Some(rest) = prefix.strip_suffix(sep.as_str()) {
                prefix = rest;
            }
            prefix.to_owned()
        };
        Ok(Self {
            prefix,
            sep,
            source,
        })
    }
}

/// Why a Secrets Manager operation could not be done; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("{0}")]
    Profile(#[from] ProfileError),
    #[error(
        "{environment} reads its secrets with {backend}, not Secrets Manager: push and pull \
         need secrets.backend = {SECRETS_MANAGER_BACKEND}, or give the prefix yourself."
    )]
    OtherBackend {
        environment: String,
        backend: String,
    },
    #[error(
        "The secrets.backend_kwargs of {environment} cannot be read ({detail}): fix it in the \
         environment's Airflow configuration options, or give the prefix yourself."
    )]
    BadBackendKwargs { environment: String, detail: String },
    #[error(
        "{environment} does not look up connections in Secrets Manager (its connections_prefix \
         is null): set one in secrets.backend_kwargs, or give the prefix yourself."
    )]
    ConnectionsOff { environment: String },
    #[error(
        "MWAA has no environment {environment} in {region} for profile {profile}: it may have \
         been deleted. Refresh the list."
    )]
    NoEnvironment {
        profile: String,
        region: String,
        environment: String,
    },
    #[error(
        "Profile {profile} may not use {permission} on {resource} in {region} ({detail}): allow \
         it for the profile's role."
    )]
    AccessDenied {
        profile: String,
        region: String,
        permission: &'static str,
        resource: String,
        detail: String,
    },
    #[error(
        "Cannot reach {service} for profile {profile} in {region} ({cause}): check the network, \
         a proxy or the profile's endpoint_url."
    )]
    Unreachable {
        service: String,
        profile: String,
        region: String,
        cause: String,
    },
    #[error("{service} is throttling profile {profile} in {region}: try again in a minute.")]
    Throttled {
        service: String,
        profile: String,
        region: String,
    },
    /// The service refused the request (a secret scheduled for deletion, a bad name).
    #[error("Secrets Manager refused to {action}: {detail}")]
    Refused { action: String, detail: String },
    #[error("{action} failed ({detail}).")]
    Other { action: String, detail: String },
}

impl SecretsError {
    /// Expired or refused credentials of an SSO profile: signing in again fixes it.
    pub fn needs_sso_sign_in(&self) -> bool {
        matches!(
            self,
            Self::Profile(ProfileError::Credentials { sso: true, .. })
        )
    }
}

/// Reads where the environment `name` (seen by `profile` in `region`) keeps its connections.
#[tracing::instrument(skip(files), fields(env = %name))]
pub async fn environment_connections_prefix(
    files: &AwsFiles,
    profile: &str,
    region: &str,
    name: &str,
) -> Result<ConnectionsPrefix, SecretsError> {
    let (info, sdk_config) = sweep::profile_sdk_config(files, profile, region).await?;
    read_prefix(&info, &sdk_config, region, name).await
}

/// The prefix of the environment `name`, read with a profile's resolved configuration.
async fn read_prefix(
    info: &ProfileInfo,
    sdk_config: &aws_types::SdkConfig,
    region: &str,
    name: &str,
) -> Result<ConnectionsPrefix, SecretsError> {
    let output = sweep::mwaa_client(sdk_config, region)
        .get_environment()
        .name(name)
        .send()
        .await
        .map_err(|err| {
            if err.code() == Some("ResourceNotFoundException") {
                SecretsError::NoEnvironment {
                    profile: info.name.clone(),
                    region: region.to_owned(),
                    environment: name.to_owned(),
                }
            } else {
                classify(
                    &err,
                    info,
                    region,
                    Op {
                        service: "MWAA",
                        action: format!("read the configuration of {name}"),
                        permission: "airflow:GetEnvironment",
                        resource: format!("the environment {name}"),
                    },
                )
            }
        })?;
    let options = output
        .environment
        .and_then(|env| env.airflow_configuration_options)
        .unwrap_or_default();
    ConnectionsPrefix::from_options(name, &options)
}

/// What [`SecretsManager::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Written {
    Created,
    Updated,
}

/// Secrets Manager in one region, with the credentials of one profile.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
    info: ProfileInfo,
    region: String,
}

impl SecretsManager {
    /// A client for `profile` in `region` (its endpoint from the profile, a `services` section
    /// or `AWS_ENDPOINT_URL_SECRETS_MANAGER`, as for the AWS CLI).
    pub async fn new(files: &AwsFiles, profile: &str, region: &str) -> Result<Self, SecretsError> {
        let (info, sdk_config) = sweep::profile_sdk_config(files, profile, region).await?;
        Ok(Self::with_config(info, &sdk_config, region))
    }

    /// [`SecretsManager::new`] for the profile and region of the environment `name`, and where
    /// that environment's Airflow reads connections ([`environment_connections_prefix`]), with
    /// the profile's credentials resolved once for both.
    pub async fn for_environment(
        files: &AwsFiles,
        profile: &str,
        region: &str,
        name: &str,
    ) -> Result<(Self, ConnectionsPrefix), SecretsError> {
        let (info, sdk_config) = sweep::profile_sdk_config(files, profile, region).await?;
        let prefix = read_prefix(&info, &sdk_config, region, name).await?;
        Ok((Self::with_config(info, &sdk_config, region), prefix))
    }

    fn with_config(info: ProfileInfo, sdk_config: &aws_types::SdkConfig, region: &str) -> Self {
        let mut config = aws_sdk_secretsmanager::config::Builder::from(sdk_config)
            .region(Region::new(region.to_owned()));
        // The environment's `AWS_ENDPOINT_URL_SECRETS_MANAGER` wins, as the SDK has it.
        if std::env::var_os("AWS_ENDPOINT_URL_SECRETS_MANAGER").is_none()
            && let Some(endpoint) = &info.secrets_manager_endpoint
        {
            config = config.endpoint_url(endpoint);
        }
        let config = config.build();
        Self {
            client: aws_sdk_secretsmanager::Client::from_conf(config),
            info,
            region: region.to_owned(),
        }
    }

    /// Sets the secret `name` to `value`, creating it when it does not exist.
    pub async fn put(&self, name: &str, value: &str) -> Result<Written, SecretsError> {
        let op = |action: &str, permission| Op {
            service: "Secrets Manager",
            action: format!("{action} the secret {name}"),
            permission,
            resource: format!("the secret {name}"),
        };
        match self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
        {
            Ok(_) => Ok(Written::Updated),
            Err(err) if err.code() == Some("ResourceNotFoundException") => {
                self.client
                    .create_secret()
                    .name(name)
                    .secret_string(value)
                    .description("An Airflow connection, written by Airgate.")
                    .send()
                    .await
                    .map_err(|err| {
                        classify(
                            &err,
                            &self.info,
                            &self.region,
                            op("create", "secretsmanager:CreateSecret"),
                        )
                    })?;
                Ok(Written::Created)
            }
            Err(err) => Err(classify(
                &err,
                &self.info,
                &self.region,
                op("write", "secretsmanager:PutSecretValue"),
            )),
        }
    }

    /// The current string value of the secret `name`; `None` when there is no such secret.
    pub async fn get(&self, name: &str) -> Result<Option<Zeroizing<String>>, SecretsError> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(output) => {
                let value = output.secret_string.map(Zeroizing::new);
                if value.is_none() {
                    return Err(SecretsError::Refused {
                        action: format!("read the secret {name}"),
                        detail: "it holds binary data, not an Airflow connection".to_owned(),
                    });
                }
                Ok(value)
            }
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(err) => Err(classify(
                &err,
                &self.info,
                &self.region,
                Op {
                    service: "Secrets Manager",
                    action: format!("read the secret {name}"),
                    permission: "secretsmanager:GetSecretValue",
                    resource: format!("the secret {name}"),
                },
            )),
        }
    }

    /// The names of every secret starting with `prefix` (every secret when it is empty), sorted.
    pub async fn names(&self, prefix: &str) -> Result<Vec<String>, SecretsError> {
        let mut request = self.client.list_secrets();
        if !prefix.is_empty() {
            request = request.filters(
                aws_sdk_secretsmanager::types::Filter::builder()
                    .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            );
        }
        let mut pages = request.into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                classify(
                    &err,
                    &self.info,
                    &self.region,
                    Op {
                        service: "Secrets Manager",
                        action: format!("list the secrets under {prefix}"),
                        permission: "secretsmanager:ListSecrets",
                        resource: "*".to_owned(),
                    },
                )
            })?;
            // The name filter matches prefixes of words too: keep true prefixes only.
            names.extend(
                page.secret_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|secret| secret.name)
                    .filter(|name| name.starts_with(prefix)),
            );
        }
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// An operation, for the messages of its errors.
struct Op {
    service: &'static str,
    action: String,
    permission: &'static str,
    resource: String,
}

fn classify<E, R>(err: &SdkError<E, R>, info: &ProfileInfo, region: &str, op: Op) -> SecretsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    let profile = info.name.clone();
    let region = region.to_owned();
    tracing::warn!(
        cause = %match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => sweep::root_cause(err),
        },
        action = %op.action,
        "secrets manager call failed"
    );
    tracing::debug!(chain = %DisplayErrorContext(err), "secrets manager call failed");
    let message = err
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| sweep::root_cause(err));
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            if sweep::has_credentials_error(err) {
                ProfileError::Credentials {
                    message: format!(
                        "No usable credentials for profile {profile} in {region} ({}).",
                        sweep::root_cause(err)
                    ),
                    sso: info.sso,
                }
                .into()
            } else {
                SecretsError::Unreachable {
                    service: op.service.to_owned(),
                    profile,
                    region,
                    cause: sweep::root_cause(err),
                }
            }
        }
        _ => match err.code() {
            Some("AccessDeniedException" | "AccessDenied") => SecretsError::AccessDenied {
                profile,
                region,
                permission: op.permission,
                resource: op.resource,
                detail: message,
            },
            Some(
                "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded",
            ) => SecretsError::Throttled {
                service: op.service.to_owned(),
                profile,
                region,
            },
            Some(code) if sweep::is_credentials_code(code) => ProfileError::Credentials {
                message: sweep::refused_credentials_message(&profile, code, &message, info.sso),
                sso: info.sso,
            }
            .into(),
            Some(
                "InvalidRequestException"
                | "InvalidParameterException"
                | "ValidationException"
                | "ResourceExistsException"
                | "LimitExceededException"
                | "EncryptionFailure"
                | "DecryptionFailure",
            ) => SecretsError::Refused {
                action: op.action,
                detail: message,
            },
            _ => SecretsError::Other {
                action: op.action,
                detail: message,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_prefix_is_read_as_the_secrets_manager_backend_reads_it() {
        let env = |pairs: &[(&str, &str)]| {
            ConnectionsPrefix::from_options("orders-prod", &options(pairs))
        };
        let kwargs = |json: &str| {
            env(&[
                (BACKEND_OPTION, SECRETS_MANAGER_BACKEND),
                (KWARGS_OPTION, json),
            ])
        };

        let none = env(&[]).expect("no backend");
        assert_eq!(none.source, PrefixSource::NotConfigured);
        assert_eq!(
            none.secret_name("warehouse"),
            "airflow/connections/warehouse"
        );

        let default = env(&[(BACKEND_OPTION, SECRETS_MANAGER_BACKEND)]).expect("default");
        assert_eq!(default.source, PrefixSource::BackendDefault);
        assert_eq!(default.secret_name("db"), "airflow/connections/db");

        let custom =
            kwargs(r#"{"connections_prefix" : "prod/airflow/conns/", "variables_prefix": "v"}"#)
                .expect("custom");
        assert_eq!(custom.source, PrefixSource::Environment);
        assert_eq!(custom.secret_name("db"), "prod/airflow/conns/db");
        assert_eq!(custom.conn_id("prod/airflow/conns/db"), Some("db"));
        assert_eq!(custom.conn_id("prod/airflow/connsdb"), None);
        assert_eq!(custom.conn_id("prod/airflow/conns/"), None);

        let sep =
            kwargs(r#"{"connections_prefix": "airflow-connections", "sep": "-"}"#).expect("sep");
        assert_eq!(sep.secret_name("db"), "airflow-connections-db");
        let bare = kwargs(r#"{"connections_prefix": ""}"#).expect("empty prefix");
        assert_eq!(bare.secret_name("db"), "db");
        assert_eq!(bare.conn_id("db"), Some("db"));

        assert!(matches!(
            kwargs(r#"{"connections_prefix": null}"#),
            Err(SecretsError::ConnectionsOff { .. })
        ));
        let broken = kwargs("{connections_prefix: x}").expect_err("not JSON");
        assert!(
            matches!(broken, SecretsError::BadBackendKwargs { .. }),
            "{broken}"
        );
        assert!(broken.to_string().contains("orders-prod"), "{broken}");
        let ssm = env(&[(
            BACKEND_OPTION,
            "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend",
        )])
        .expect_err("another backend");
        assert!(
            ssm.to_string()
                .contains("SystemsManagerParameterStoreBackend"),
            "{ssm}"
        );

        assert_eq!(
            ConnectionsPrefix::chosen("team/conns/").secret_name("x"),
            "team/conns/x"
        );
    }
}
