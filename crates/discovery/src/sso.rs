//! IAM Identity Center (SSO) sign-in, as `aws sso login --use-device-code` does it: the SSO OIDC
//! device authorization grant, and the token written to the shared SSO cache
//! (`~/.aws/sso/cache/<sha1>.json`) in the AWS CLI v2's own format, so the AWS CLI, the SDKs
//! (aws-config, botocore) and Airgate all read the same sign-in.
//!
//! - [`sso_session`] finds the SSO session of a profile (`sso_session = NAME` and its
//!   `[sso-session NAME]` section, or a legacy profile's own `sso_start_url`/`sso_region`) or of
//!   a session name, and the profiles it signs in.
//! - [`sign_in`] registers a public client (reusing the AWS CLI's cached registration while it is
//!   valid), starts the device authorization, hands the code to the caller (who shows it and
//!   opens the page), polls `CreateToken` as the service asks (`interval`, `slow_down`,
//!   `authorization_pending`) until the code expires, then writes the token file atomically.
//! - The OIDC endpoint comes from the profile as for every other client: `AWS_ENDPOINT_URL_SSO_OIDC`,
//!   `AWS_ENDPOINT_URL`, the profile's `services` section (`sso_oidc`), its `endpoint_url`. The
//!   SSO OIDC operations have no host prefix, so no loopback rule is needed.
//!
//! Tokens, client secrets and device codes are never logged.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_config::profile::ProfileSet;
use aws_sdk_ssooidc::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_types::date_time::{DateTime, Format};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;
use sha1::{Digest as _, Sha1};
use zeroize::Zeroizing;

use crate::AwsFiles;
use crate::profiles;
use crate::sweep::root_cause;

/// The name Airgate registers its OIDC client under.
pub const CLIENT_NAME: &str = "airgate";
/// The device code grant (RFC 8628).
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.5: each `slow_down` adds 5 s to the polling interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// RFC 8628 §3.2: the interval when the service names none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// A registration (or token) with less left than this is not reused, as for the AWS CLI.
const EXPIRY_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What to sign in: the SSO session of a profile, or an `[sso-session NAME]` by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoTarget {
    Profile(String),
    Session(String),
}

/// An IAM Identity Center session as the shared config defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSession {
    /// The `[sso-session NAME]`; `None` for a legacy profile (its own `sso_start_url`).
    pub session_name: Option<String>,
    pub start_url: String,
    /// `sso_region`: where IAM Identity Center (and its OIDC service) is.
    pub region: String,
    /// `sso_registration_scopes`, split on commas, as the AWS CLI reads it (`None`: not set).
    pub registration_scopes: Option<Vec<String>>,
    /// The profiles this session signs in, sorted.
    pub profiles: Vec<String>,
    /// The profile whose endpoint settings the OIDC client takes: the one asked for, else the
    /// first of [`Self::profiles`].
    pub endpoint_profile: Option<String>,
}

impl SsoSession {
    /// What the token file is named after: the session name, else the start URL.
    pub fn cache_identifier(&self) -> &str {
        self.session_name.as_deref().unwrap_or(&self.start_url)
    }

    /// `<cache_dir>/<sha1 hex of the identifier>.json`, as the AWS CLI and the SDKs name it.
    pub fn token_file(&self, cache_dir: &Path) -> PathBuf {
        cache_dir.join(format!("{}.json", sha1_hex(self.cache_identifier())))
    }

    /// The AWS CLI's client registration file for this session (its
    /// `_registration_cache_key`: the SHA-1 of a sorted JSON object).
    pub fn registration_file(&self, cache_dir: &Path) -> PathBuf {
        cache_dir.join(format!("{}.json", sha1_hex(&self.registration_key())))
    }

    /// `json.dumps({"tool": "botocore", "startUrl", "region", "scopes", "session_name"},
    /// sort_keys=True)` exactly as Python writes it.
    fn registration_key(&self) -> String {
        let scopes = match &self.registration_scopes {
            None => "null".to_owned(),
            Some(scopes) => format!(
                "[{}]",
                scopes
                    .iter()
                    .map(|s| python_json_string(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let session = self
            .session_name
            .as_deref()
            .map_or_else(|| "null".to_owned(), python_json_string);
        format!(
            "{{\"region\": {}, \"scopes\": {scopes}, \"session_name\": {session}, \
             \"startUrl\": {}, \"tool\": \"botocore\"}}",
            python_json_string(&self.region),
            python_json_string(&self.start_url),
        )
    }

    /// How it is named to a person: `sso-session corp` or the start URL.
    pub fn label(&self) -> String {
        match &self.session_name {
            Some(name) => format!("sso-session {name}"),
            None => self.start_url.clone(),
        }
    }
}

/// The code a person confirms in the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    /// Shown to the person (`ABCD-EFGH`), to compare with the page.
    pub user_code: String,
    pub verification_uri: String,
    /// The page with the code filled in, when the service gives one: the one to open.
    pub verification_uri_complete: Option<String>,
    /// How long the code can be approved.
    pub expires_in: Duration,
    /// How often the token is asked for.
    pub interval: Duration,
}

impl DeviceCode {
    /// The page to open: the complete one when given.
    pub fn url(&self) -> &str {
        self.verification_uri_complete
            .as_deref()
            .unwrap_or(&self.verification_uri)
    }
}

/// A finished sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub session: SsoSession,
    /// The token file written.
    pub token_file: PathBuf,
    pub expires_at: SystemTime,
}

impl SignedIn {
    /// When the token ends, UTC (`2026-12-01T18:00:00Z`).
    pub fn expires_at_utc(&self) -> String {
        format_time(self.expires_at)
    }
}

/// Why a sign-in could not be done; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("No AWS profile named {profile} in {config}.")]
    NoProfile { profile: String, config: String },
    #[error(
        "Profile {profile} does not sign in with IAM Identity Center (it has no sso_session or \
         sso_start_url) in {config}: sign in is only for SSO profiles."
    )]
    NotSso { profile: String, config: String },
    #[error("No [sso-session {session}] section in {config}: add it, or name another session.")]
    NoSession { session: String, config: String },
    #[error("{what} in {config} has no {key}: add it, then sign in again.")]
    Incomplete {
        what: String,
        key: &'static str,
        config: String,
    },
    #[error("{message}")]
    Config { message: String },
    #[error("The sign-in was denied in the browser. Sign in again to retry.")]
    Denied,
    #[error(
        "The sign-in code expired before it was approved in the browser: try again, and approve \
         it within {minutes} min."
    )]
    CodeExpired { minutes: u64 },
    #[error(
        "Cannot reach IAM Identity Center (SSO OIDC) in {region}{endpoint} ({cause}): check the \
         network, a proxy or the profile's endpoint settings."
    )]
    Unreachable {
        region: String,
        endpoint: String,
        cause: String,
    },
    #[error("IAM Identity Center refused the sign-in ({step}: {detail}).")]
    Refused { step: &'static str, detail: String },
    #[error(
        "Cannot write the SSO token to {}: {source}. Check that the directory is writable.",
        path.display()
    )]
    WriteCache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("No home directory: the shared SSO cache (~/.aws/sso/cache) has no place.")]
    NoHome,
}

/// The SSO session `target` names in the shared config, with the profiles it signs in.
pub async fn sso_session(files: &AwsFiles, target: &SsoTarget) -> Result<SsoSession, SsoError> {
    let (_, set) = profiles::load_set(files)
        .await
        .map_err(|err| SsoError::Config {
            message: err.to_string(),
        })?;
    session_of(&set, target, &files.config.display().to_string())
}

fn session_of(set: &ProfileSet, target: &SsoTarget, config: &str) -> Result<SsoSession, SsoError> {
    let config = config.to_owned();
    let (session_name, start_url, region, scopes, asked_profile) = match target {
        SsoTarget::Profile(name) => {
            let profile = set.get_profile(name).ok_or_else(|| SsoError::NoProfile {
                profile: name.clone(),
                config: config.clone(),
            })?;
            match (profile.get("sso_session"), profile.get("sso_start_url")) {
                (Some(session), _) => {
                    let (start, region, scopes) = session_keys(set, session, &config)?;
                    (Some(session.to_owned()), start, region, scopes, Some(name))
                }
                (None, Some(start)) => {
                    let region = profile
                        .get("sso_region")
                        .ok_or_else(|| SsoError::Incomplete {
                            what: format!("Profile {name}"),
                            key: "sso_region",
                            config: config.clone(),
                        })?;
                    (None, start.to_owned(), region.to_owned(), None, Some(name))
                }
                (None, None) => {
                    return Err(SsoError::NotSso {
                        profile: name.clone(),
                        config,
                    });
                }
            }
        }
        SsoTarget::Session(session) => {
            let (start, region, scopes) = session_keys(set, session, &config)?;
            (Some(session.clone()), start, region, scopes, None)
        }
    };
    // Every profile this sign-in serves: those of the session, or (legacy) of the start URL.
    let mut covered: Vec<String> = set
        .profiles()
        .filter_map(|name| set.get_profile(name))
        .filter(|p| match &session_name {
            Some(session) => p.get("sso_session") == Some(session.as_str()),
            None => {
                p.get("sso_session").is_none() && p.get("sso_start_url") == Some(start_url.as_str())
            }
        })
        .map(|p| p.name().to_owned())
        .collect();
    covered.sort();
    let endpoint_profile = asked_profile.cloned().or_else(|| covered.first().cloned());
    Ok(SsoSession {
        session_name,
        start_url,
        region,
        registration_scopes: scopes,
        profiles: covered,
        endpoint_profile,
    })
}

/// `sso_start_url`, `sso_region` and `sso_registration_scopes` of `[sso-session NAME]`.
fn session_keys(
    set: &ProfileSet,
    name: &str,
    config: &str,
) -> Result<(String, String, Option<Vec<String>>), SsoError> {
    let session = set.sso_session(name).ok_or_else(|| SsoError::NoSession {
        session: name.to_owned(),
        config: config.to_owned(),
    })?;
    let key = |key: &'static str| {
        session
            .get(key)
            .map(str::to_owned)
            .ok_or_else(|| SsoError::Incomplete {
                what: format!("[sso-session {name}]"),
                key,
                config: config.to_owned(),
            })
    };
    let start_url = key("sso_start_url")?;
    let region = key("sso_region")?;
    let scopes = session.get("sso_registration_scopes").map(parse_scopes);
    Ok((start_url, region, scopes))
}

/// As the AWS CLI's `parse_sso_registration_scopes`: split on commas, trimmed, empties dropped.
fn parse_scopes(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Signs in to the SSO session of `target` with the device authorization grant: `on_code` gets
/// the code to show and the page to open; the call returns once the person approved it (or it
/// was denied, or expired), with the token written to the shared SSO cache.
#[tracing::instrument(skip_all, fields(target = ?target))]
pub async fn sign_in(
    files: &AwsFiles,
    target: &SsoTarget,
    on_code: impl Fn(&DeviceCode),
) -> Result<SignedIn, SsoError> {
    let cache_dir = airgate_paths::Platform::current()
        .aws_sso_cache_dir()
        .ok_or(SsoError::NoHome)?;
    let (existing, set) = profiles::load_set(files)
        .await
        .map_err(|err| SsoError::Config {
            message: err.to_string(),
        })?;
    let session = session_of(&set, target, &files.config.display().to_string())?;
    let services_endpoint = session
        .endpoint_profile
        .as_deref()
        .and_then(|profile| profiles::services_endpoint(&set, profile, "sso_oidc"));
    let (client, endpoint) = oidc_client(
        &session,
        profiles::env_config_files(&existing),
        services_endpoint,
    )
    .await;
    let endpoint = endpoint.map(|url| format!(" at {url}")).unwrap_or_default();
    let unreachable_or =
        |step: &'static str, detail: String, unreachable: Option<String>| match unreachable {
            Some(cause) => SsoError::Unreachable {
                region: session.region.clone(),
                endpoint: endpoint.clone(),
                cause,
            },
            None => SsoError::Refused { step, detail },
        };

    let registration = registration(&client, &session, &cache_dir)
        .await
        .map_err(|(detail, unreachable)| unreachable_or("RegisterClient", detail, unreachable))?;

    let started = client
        .start_device_authorization()
        .client_id(&registration.client_id)
        .client_secret(registration.client_secret.as_str())
        .start_url(&session.start_url)
        .send()
        .await
        .map_err(|err| {
            let (detail, unreachable) = describe(&err);
            unreachable_or("StartDeviceAuthorization", detail, unreachable)
        })?;
    let (Some(device_code), Some(user_code), Some(verification_uri)) = (
        started.device_code.map(Zeroizing::new),
        started.user_code,
        started.verification_uri,
    ) else {
        return Err(SsoError::Refused {
            step: "StartDeviceAuthorization",
            detail: "the answer had no device code, user code or page".to_owned(),
        });
    };
    let expires_in = Duration::from_secs(u64::try_from(started.expires_in.max(1)).unwrap_or(1));
    let mut interval = match u64::try_from(started.interval) {
        Ok(secs) if secs > 0 => Duration::from_secs(secs),
        _ => DEFAULT_INTERVAL,
    };
    let code = DeviceCode {
        user_code,
        verification_uri,
        verification_uri_complete: started.verification_uri_complete,
        expires_in,
        interval,
    };
    tracing::info!(session = %session.label(), "waiting for the sign-in to be approved");
    on_code(&code);

    let expired = || SsoError::CodeExpired {
        minutes: expires_in.as_secs().div_ceil(60),
    };
    let deadline = tokio::time::Instant::now() + expires_in;
    let token = loop {
        let now = tokio::time::Instant::now();
        if now + interval > deadline {
            return Err(expired());
        }
        tokio::time::sleep(interval).await;
        let polled = client
            .create_token()
            .client_id(&registration.client_id)
            .client_secret(registration.client_secret.as_str())
            .grant_type(DEVICE_GRANT)
            .device_code(device_code.as_str())
            .send()
            .await;
        match polled {
            Ok(token) => break token,
            Err(err) => match err.as_service_error() {
                Some(e) if e.is_authorization_pending_exception() => {}
                Some(e) if e.is_slow_down_exception() => {
                    interval += SLOW_DOWN_STEP;
                    tracing::debug!(interval_secs = interval.as_secs(), "asked to slow down");
                }
                Some(e) if e.is_expired_token_exception() => return Err(expired()),
                Some(e) if e.is_access_denied_exception() => return Err(SsoError::Denied),
                _ => {
                    let (detail, unreachable) = describe(&err);
                    return Err(unreachable_or("CreateToken", detail, unreachable));
                }
            },
        }
    };
    let Some(access_token) = token.access_token.map(Zeroizing::new) else {
        return Err(SsoError::Refused {
            step: "CreateToken",
            detail: "the answer had no access token".to_owned(),
        });
    };
    let lifetime = Duration::from_secs(u64::try_from(token.expires_in.max(0)).unwrap_or(0));
    let expires_at = whole_seconds(SystemTime::now() + lifetime);
    let file = TokenFile {
        start_url: &session.start_url,
        region: &session.region,
        access_token: &access_token,
        expires_at,
        client_id: &registration.client_id,
        client_secret: &registration.client_secret,
        registration_expires_at: registration.expires_at,
        refresh_token: token.refresh_token.map(Zeroizing::new),
    };
    let token_file = session.token_file(&cache_dir);
    write_private(&token_file, file.to_json().as_bytes())?;
    tracing::info!(session = %session.label(), file = %token_file.display(), "signed in");
    Ok(SignedIn {
        session,
        token_file,
        expires_at,
    })
}

/// The OIDC client for the session's region, its endpoint from the profile as for every client
/// (`AWS_ENDPOINT_URL_SSO_OIDC`, `AWS_ENDPOINT_URL`, then `profiles::services_endpoint`, then what the SDK
/// reads: `sso-oidc` in `services`, the profile's `endpoint_url`), and that endpoint when one
/// is configured.
async fn oidc_client(
    session: &SsoSession,
    env_files: Option<aws_runtime::env_config::file::EnvConfigFiles>,
    services_endpoint: Option<String>,
) -> (aws_sdk_ssooidc::Client, Option<String>) {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(session.region.clone()))
        .no_credentials()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(15))
                .operation_timeout(Duration::from_secs(40))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(env_files) = env_files {
        loader = loader.profile_files(env_files);
    }
    if let Some(profile) = &session.endpoint_profile {
        loader = loader.profile_name(profile);
    }
    let sdk_config = loader.load().await;
    // The lookup the client itself makes (`AWS_ENDPOINT_URL_SSO_OIDC`, `services`, ...).
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("SSO OIDC")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build();
    let endpoint = match key {
        Ok(key) => sdk_config
            .service_config()
            .and_then(|config| config.load_config(key)),
        Err(_) => None,
    }
    .or_else(|| sdk_config.endpoint_url().map(str::to_owned));
    let from_env = ["AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    let mut config = aws_sdk_ssooidc::config::Builder::from(&sdk_config);
    let endpoint = match services_endpoint {
        Some(url) if !from_env => {
            config = config.endpoint_url(&url);
            Some(url)
        }
        _ => endpoint,
    };
    (aws_sdk_ssooidc::Client::from_conf(config.build()), endpoint)
}

/// A client registration: the AWS CLI's cached one while valid, else a new one (then cached).
#[derive(Debug)]
struct Registration {
    client_id: String,
    client_secret: Zeroizing<String>,
    expires_at: SystemTime,
}

async fn registration(
    client: &aws_sdk_ssooidc::Client,
    session: &SsoSession,
    cache_dir: &Path,
) -> Result<Registration, (String, Option<String>)> {
    let file = session.registration_file(cache_dir);
    if let Some(cached) = read_registration(&file)
        && cached.expires_at > SystemTime::now() + EXPIRY_WINDOW
    {
        tracing::debug!("reusing the cached client registration");
        return Ok(cached);
    }
    let registered = client
        .register_client()
        .client_name(CLIENT_NAME)
        .client_type("public")
        .set_scopes(
            session
                .registration_scopes
                .clone()
                .filter(|scopes| !scopes.is_empty()),
        )
        .send()
        .await
        .map_err(|err| describe(&err))?;
    let (Some(client_id), Some(client_secret)) = (
        registered.client_id,
        registered.client_secret.map(Zeroizing::new),
    ) else {
        return Err(("the answer had no client id or secret".to_owned(), None));
    };
    let expires_at = UNIX_EPOCH
        + Duration::from_secs(u64::try_from(registered.client_secret_expires_at).unwrap_or(0));
    let registration = Registration {
        client_id,
        client_secret,
        expires_at,
    };
    // As the AWS CLI caches it; a failure here only costs a registration next time.
    if let Err(err) = write_private(&file, registration_json(&registration, session).as_bytes()) {
        tracing::warn!(cause = %err, "cannot cache the client registration");
    }
    Ok(registration)
}

/// The AWS CLI's registration file: `clientId`, `clientSecret`, `expiresAt` (and `scopes`).
fn read_registration(path: &Path) -> Option<Registration> {
    let text = Zeroizing::new(std::fs::read_to_string(path).ok()?);
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    // A file for the authorization code flow is not one for the device flow.
    if value
        .get("grantTypes")
        .and_then(|g| g.as_array())
        .is_some_and(|g| g.iter().any(|t| t == "authorization_code"))
    {
        return None;
    }
    Some(Registration {
        client_id: value.get("clientId")?.as_str()?.to_owned(),
        client_secret: Zeroizing::new(value.get("clientSecret")?.as_str()?.to_owned()),
        expires_at: parse_time(value.get("expiresAt")?.as_str()?)?,
    })
}

fn registration_json(registration: &Registration, session: &SsoSession) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::from("{"));
    out.push_str("\"clientId\": ");
    push_json_string(&mut out, &registration.client_id);
    out.push_str(", \"clientSecret\": ");
    push_json_string(&mut out, &registration.client_secret);
    out.push_str(", \"expiresAt\": ");
    push_json_string(&mut out, &format_time(registration.expires_at));
    if let Some(scopes) = session
        .registration_scopes
        .as_ref()
        .filter(|s| !s.is_empty())
    {
        let list: Vec<String> = scopes.iter().map(|s| python_json_string(s)).collect();
        let _ = write!(out, ", \"scopes\": [{}]", list.join(", "));
    }
    out.push('}');
    out
}

/// The token file as the AWS CLI v2 writes it (`SSOTokenFetcher._create_token_attempt`).
struct TokenFile<'a> {
    start_url: &'a str,
    region: &'a str,
    access_token: &'a str,
    expires_at: SystemTime,
    client_id: &'a str,
    client_secret: &'a str,
    registration_expires_at: SystemTime,
    refresh_token: Option<Zeroizing<String>>,
}

impl TokenFile<'_> {
    fn to_json(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::from("{"));
        let mut field = |key: &str, value: &str| {
            if out.len() > 1 {
                out.push_str(", ");
            }
            push_json_string(&mut out, key);
            out.push_str(": ");
            push_json_string(&mut out, value);
        };
        field("startUrl", self.start_url);
        field("region", self.region);
        field("accessToken", self.access_token);
        field("expiresAt", &format_time(self.expires_at));
        field("clientId", self.client_id);
        field("clientSecret", self.client_secret);
        field(
            "registrationExpiresAt",
            &format_time(self.registration_expires_at),
        );
        if let Some(refresh_token) = &self.refresh_token {
            field("refreshToken", refresh_token);
        }
        out.push('}');
        out
    }
}

/// Writes `bytes` to `path` atomically (a temporary file beside it, then a rename), readable by
/// the user alone on Unix; makes the directory when needed.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SsoError> {
    use std::io::Write as _;
    let failed = |source| SsoError::WriteCache {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(failed)?;
    let mut temp = tempfile_in(dir).map_err(failed)?;
    temp.1.write_all(bytes).map_err(failed)?;
    temp.1.sync_all().map_err(failed)?;
    drop(temp.1);
    std::fs::rename(&temp.0, path).map_err(|err| {
        let _ = std::fs::remove_file(&temp.0);
        failed(err)
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A new file in `dir`, 0600 on Unix, with a name no other writer uses.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    for attempt in 0..16u32 {
        let path = dir.join(format!(
            ".airgate-{}-{nanos}-{attempt}.tmp",
            std::process::id()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::other("no free temporary file name"))
}

/// What an OIDC call's failure says, and its cause when the service was not reached.
fn describe<E, R>(err: &SdkError<E, R>) -> (String, Option<String>)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    tracing::debug!(chain = %DisplayErrorContext(err), "SSO OIDC call failed");
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            (root_cause(err), Some(root_cause(err)))
        }
        _ => {
            let detail = match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => root_cause(err),
            };
            (detail, None)
        }
    }
}

fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(40), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// A string as Python's `json.dumps` writes it (`ensure_ascii`: non-ASCII as `\uXXXX`).
fn python_json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_json_string(&mut out, text);
    out
}

/// Appends `text` as [`python_json_string`] writes it (in place: for secrets, no copy).
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// UTC `YYYY-MM-DDTHH:MM:SSZ`, as the AWS CLI writes times in the SSO cache.
fn format_time(time: SystemTime) -> String {
    DateTime::from(whole_seconds(time))
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

fn parse_time(text: &str) -> Option<SystemTime> {
    DateTime::from_str(text, Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
    use aws_types::os_shim_internal::{Env, Fs};

    async fn set_of(config: &str) -> ProfileSet {
        let files = EnvConfigFiles::builder()
            .with_contents(EnvConfigFileKind::Config, config)
            .build();
        aws_config::profile::load(&Fs::real(), &Env::real(), &files, None)
            .await
            .expect("valid config")
    }

    const CONFIG: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n\n\
        [profile prod]\nsso_session = corp\n\n\
        [profile old]\nsso_start_url = https://old.awsapps.com/start\nsso_region = eu-west-1\n\n\
        [profile old2]\nsso_start_url = https://old.awsapps.com/start\nsso_region = eu-west-1\n\n\
        [profile keys]\nregion = us-east-1\n\n\
        [profile broken]\nsso_session = nowhere\n\n\
        [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\
        sso_registration_scopes = sso:account:access, ,\n\n\
        [sso-session half]\nsso_start_url = https://half.awsapps.com/start\n";

    #[tokio::test]
    async fn a_profile_s_session_and_the_profiles_it_covers_are_found() {
        let set = set_of(CONFIG).await;
        let dev = session_of(&set, &SsoTarget::Profile("dev".into()), "cfg").expect("dev");
        assert_eq!(dev.session_name.as_deref(), Some("corp"));
        assert_eq!(dev.start_url, "https://corp.awsapps.com/start");
        assert_eq!(dev.region, "us-east-1");
        assert_eq!(
            dev.registration_scopes,
            Some(vec!["sso:account:access".to_owned()])
        );
        assert_eq!(dev.profiles, ["dev", "prod"]);
        assert_eq!(dev.endpoint_profile.as_deref(), Some("dev"));

        let by_name = session_of(&set, &SsoTarget::Session("corp".into()), "cfg").expect("corp");
        assert_eq!(by_name.profiles, ["dev", "prod"]);
        assert_eq!(by_name.endpoint_profile.as_deref(), Some("dev"));

        let old = session_of(&set, &SsoTarget::Profile("old2".into()), "cfg").expect("legacy");
        assert_eq!(old.session_name, None);
        assert_eq!(old.cache_identifier(), "https://old.awsapps.com/start");
        assert_eq!(old.profiles, ["old", "old2"]);
        assert_eq!(old.registration_scopes, None);
    }

    #[tokio::test]
    async fn what_is_not_an_sso_session_is_told() {
        let set = set_of(CONFIG).await;
        let err = |target| {
            session_of(&set, &target, "cfg")
                .expect_err("no session")
                .to_string()
        };
        assert!(err(SsoTarget::Profile("keys".into())).contains("does not sign in"));
        assert!(err(SsoTarget::Profile("none".into())).contains("No AWS profile named none"));
        assert!(err(SsoTarget::Profile("broken".into())).contains("[sso-session nowhere]"));
        assert!(err(SsoTarget::Session("half".into())).contains("has no sso_region"));
    }

    #[test]
    fn cache_files_are_named_as_the_aws_cli_names_them() {
        let session = SsoSession {
            session_name: Some("corp".into()),
            start_url: "https://corp.awsapps.com/start".into(),
            region: "us-east-1".into(),
            registration_scopes: Some(vec!["sso:account:access".into()]),
            profiles: vec![],
            endpoint_profile: None,
        };
        let dir = Path::new("/c");
        // sha1("corp"), and Python's sha1(json.dumps({...}, sort_keys=True)).
        assert_eq!(
            session.token_file(dir),
            dir.join("ee0bfd2552fbd840c02cc48b6e823320543c450f.json")
        );
        assert_eq!(
            session.registration_file(dir),
            dir.join("1b56c55d6e723362537167a7f43960b8185b5a80.json")
        );
        let legacy = SsoSession {
            session_name: None,
            start_url: "https://d-1.awsapps.com/start#/\u{e9}".into(),
            region: "eu-west-1".into(),
            registration_scopes: None,
            profiles: vec![],
            endpoint_profile: None,
        };
        assert_eq!(
            legacy.registration_file(dir),
            dir.join("bedfaaa9ce7d3553d118bfee822017ea28ac1594.json")
        );
    }

    #[test]
    fn the_token_file_has_the_aws_cli_s_fields_and_times() {
        let at = UNIX_EPOCH + Duration::from_millis(1_640_467_800_250);
        let file = TokenFile {
            start_url: "https://corp.awsapps.com/start",
            region: "us-east-1",
            access_token: "tok",
            expires_at: at,
            client_id: "cid",
            client_secret: "sec\"ret",
            registration_expires_at: at + Duration::from_secs(86_400),
            refresh_token: Some(Zeroizing::new("ref".into())),
        };
        let json: serde_json::Value =
            serde_json::from_str(&file.to_json()).expect("the file is JSON");
        assert_eq!(
            json,
            serde_json::json!({
                "startUrl": "https://corp.awsapps.com/start",
                "region": "us-east-1",
                "accessToken": "tok",
                "expiresAt": "2021-12-25T21:30:00Z",
                "clientId": "cid",
                "clientSecret": "sec\"ret",
                "registrationExpiresAt": "2021-12-26T21:30:00Z",
                "refreshToken": "ref",
            })
        );
        assert_eq!(parse_time("2021-12-25T21:30:00Z"), Some(whole_seconds(at)));
    }

    #[test]
    fn strings_are_written_as_python_writes_them() {
        assert_eq!(
            python_json_string("a\"b\\c\n\u{1}é😀"),
            "\"a\\\"b\\\\c\\n\\u0001\\u00e9\\ud83d\\ude00\""
        );
    }

    #[test]
    fn the_token_file_is_private_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sso/cache/x.json");
        write_private(&path, b"{\"a\": 1}").expect("written");
        write_private(&path, b"{\"b\": 2}").expect("replaced");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{\"b\": 2}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let left: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .collect();
        assert_eq!(left.len(), 1, "no temporary file is left");
    }
}
