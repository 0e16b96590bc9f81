//! `CreateWebLoginToken`: the short-lived token that logs a browser in to an environment's
//! Airflow UI, minted with the credentials of the profile that sees the environment.

use std::fmt;

use aws_sdk_mwaa::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::sweep;
use crate::{AwsFiles, ProfileError};

/// A web login token. It logs anyone who holds it in (for 60 s): never logged, never
/// serialized, handed only to the browser that opens the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct WebToken(String);

impl WebToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, for the login URL.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebToken(<redacted>)")
    }
}

/// What `CreateWebLoginToken` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebLogin {
    pub token: WebToken,
    /// The web server's host name (`WebServerHostname`), to build the login URL on.
    pub hostname: String,
    /// The IAM identity the token was minted for (`IamIdentity`).
    pub iam_identity: Option<String>,
    /// The Airflow user it maps to (`AirflowIdentity`).
    pub airflow_identity: Option<String>,
}

/// Why no token could be minted; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("No AWS profile named {profile} in {config}. Refresh the list of environments.")]
    NoProfile { profile: String, config: String },
    #[error("{message}")]
    Config { message: String },
    /// Missing, expired or refused credentials (an SSO session that ended, rotated keys).
    #[error("{message}")]
    Credentials { message: String, sso: bool },
    #[error(
        "Profile {profile} may not log in to {environment} ({detail}): allow \
         airflow:CreateWebLoginToken on {resource} for it."
    )]
    AccessDenied {
        profile: String,
        environment: String,
        resource: String,
        detail: String,
    },
    #[error(
        "MWAA has no environment {environment} in {region} for profile {profile}: it may have been deleted. Refresh the list."
    )]
    NotFound {
        profile: String,
        region: String,
        environment: String,
    },
    /// The service refused the request as invalid, e.g. an environment that is not available.
    #[error("MWAA refused a login token for {environment}: {detail}")]
    Refused { environment: String, detail: String },
    #[error(
        "Cannot reach MWAA for profile {profile} in {region} ({cause}): check the network, a proxy or the profile's endpoint_url."
    )]
    Unreachable {
        profile: String,
        region: String,
        cause: String,
    },
    #[error(
        "MWAA throttled the login token request for {environment}: try again in a few seconds."
    )]
    Throttled { environment: String },
    #[error("Creating a login token for {environment} failed ({detail}).")]
    Other { environment: String, detail: String },
}

/// Mints a web login token for the environment `name`, as seen by `profile` in `region`.
#[tracing::instrument(skip(files), fields(env = %name))]
pub async fn create_web_login_token(
    files: &AwsFiles,
    profile: &str,
    region: &str,
    name: &str,
) -> Result<WebLogin, TokenError> {
    let (info, sdk_config) = sweep::profile_sdk_config(files, profile, region).await?;
    let client = sweep::mwaa_client(&sdk_config, region);
    let output = client
        .create_web_login_token()
        .name(name)
        .send()
        .await
        .map_err(|err| classify(&err, &info, region, name))?;
    let (Some(token), Some(hostname)) = (output.web_token, output.web_server_hostname) else {
        return Err(TokenError::Other {
            environment: name.to_owned(),
            detail: "the answer had no token or no host name".to_owned(),
        });
    };
    tracing::info!(host = %hostname, "web login token minted");
    Ok(WebLogin {
        token: WebToken(token),
        hostname,
        iam_identity: output.iam_identity,
        airflow_identity: output.airflow_identity,
    })
}

impl From<ProfileError> for TokenError {
    fn from(err: ProfileError) -> Self {
        match err {
            ProfileError::NoProfile { profile, config } => Self::NoProfile { profile, config },
            ProfileError::Config { message } => Self::Config { message },
            ProfileError::Credentials { message, sso } => Self::Credentials { message, sso },
        }
    }
}

fn classify<E, R>(
    err: &SdkError<E, R>,
    info: &sweep::ProfileInfo,
    region: &str,
    environment: &str,
) -> TokenError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    let profile = info.name.clone();
    let detail = DisplayErrorContext(err).to_string();
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => {
            tracing::warn!(cause = %format!("{code}: {message}"), "login token refused")
        }
        _ => tracing::warn!(cause = %sweep::root_cause(err), "login token refused"),
    }
    tracing::debug!(chain = %detail, "login token refused");
    let message = err
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| sweep::root_cause(err));
    let environment = environment.to_owned();
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            if sweep::has_credentials_error(err) {
                TokenError::Credentials {
                    message: format!(
                        "No usable credentials for profile {profile} in {region} ({}).",
                        sweep::root_cause(err)
                    ),
                    sso: info.sso,
                }
            } else {
                TokenError::Unreachable {
                    profile,
                    region: region.to_owned(),
                    cause: sweep::root_cause(err),
                }
            }
        }
        _ => match err.code() {
            Some("AccessDeniedException" | "AccessDenied") => TokenError::AccessDenied {
                resource: format!("the environment {environment}"),
                profile,
                environment,
                detail: message,
            },
            Some("ResourceNotFoundException") => TokenError::NotFound {
                profile,
                region: region.to_owned(),
                environment,
            },
            Some("ValidationException" | "BadRequestException") => TokenError::Refused {
                environment,
                detail: message,
            },
            Some("ThrottlingException" | "Throttling" | "TooManyRequestsException") => {
                TokenError::Throttled { environment }
            }
            Some(code) if sweep::is_credentials_code(code) => TokenError::Credentials {
                message: sweep::refused_credentials_message(&profile, code, &message, info.sso),
                sso: info.sso,
            },
            _ => TokenError::Other {
                environment,
                detail: message,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let login = WebLogin {
            token: WebToken::new("s3cr3t-token"),
            hostname: "h.example".into(),
            iam_identity: None,
            airflow_identity: None,
        };
        let shown = format!("{login:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
