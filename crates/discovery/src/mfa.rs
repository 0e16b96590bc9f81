//! Roles that need an MFA code (`mfa_serial` next to `role_arn`): the SDK's profile provider
//! cannot ask for a code, so Airgate calls `AssumeRole` with `SerialNumber` and `TokenCode`
//! itself. The temporary credentials live in this process's memory only, until they expire;
//! they are never written anywhere.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use serde::Serialize;

use crate::profiles;
use crate::sweep::{self, Ctx, ProfileInfo};
use crate::{AwsFiles, DiscoverOptions};

/// Credentials closer than this to their end are not used any more.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Assumed-role credentials by (config file, profile).
static SESSIONS: LazyLock<Mutex<HashMap<(PathBuf, String), Credentials>>> =
    LazyLock::new(Mutex::default);

/// The unexpired credentials a code was given for, if any.
pub(crate) fn session(config: &Path, profile: &str) -> Option<Credentials> {
    let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
    let key = (config.to_path_buf(), profile.to_owned());
    let usable = sessions.get(&key).is_some_and(|credentials| {
        credentials
            .expiry()
            .is_none_or(|end| end > SystemTime::now() + EXPIRY_MARGIN)
    });
    if usable {
        sessions.get(&key).cloned()
    } else {
        sessions.remove(&key);
        None
    }
}

/// A profile whose role asks for an MFA code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct MfaProfile {
    pub profile: String,
    /// The MFA device (`arn:aws:iam::111111111111:mfa/priya`, or a hardware token's serial).
    pub serial: String,
    pub role_arn: String,
    /// A code was given and its credentials are still valid.
    pub signed_in: bool,
    /// The profiles whose credentials need this code: this one, and roles assumed from it.
    pub used_by: Vec<String>,
}

/// Why an MFA sign-in did not happen; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MfaError {
    #[error("No AWS profile named {profile} in {config}.")]
    NoProfile { profile: String, config: String },
    #[error(
        "Profile {profile} asks for no MFA code (it has no mfa_serial with a role_arn in {config})."
    )]
    NotMfa { profile: String, config: String },
    #[error("An MFA code is the 6 digits your authenticator shows now.")]
    BadCode,
    #[error(
        "Profile {profile} has mfa_serial but no source_profile in {config}: name the profile \
         whose keys assume the role."
    )]
    NoSource { profile: String, config: String },
    #[error("Profile {profile} refers to missing source_profile {source_profile} in {config}.")]
    MissingSource {
        profile: String,
        source_profile: String,
        config: String,
    },
    /// The source profile has no usable credentials (its own message says why).
    #[error("{message}")]
    Source { message: String },
    #[error(
        "AWS refused the MFA code for {serial}: enter the current code (it changes every 30 s)."
    )]
    WrongCode { serial: String },
    #[error(
        "AWS refused to let profile {profile} assume {role_arn} ({message}): check role_arn, \
         mfa_serial and the role's trust policy."
    )]
    Refused {
        profile: String,
        role_arn: String,
        message: String,
    },
    #[error("Cannot reach AWS STS for profile {profile} ({cause}): check the network or a proxy.")]
    Unreachable { profile: String, cause: String },
    #[error("{message}")]
    Config { message: String },
}

/// An MFA sign-in that worked: the role's credentials are held until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaSignedIn {
    pub profile: String,
    pub expires_at: SystemTime,
}

impl MfaSignedIn {
    /// When the credentials end, UTC (`2026-12-01T18:00:00Z`).
    pub fn expires_at_utc(&self) -> String {
        aws_smithy_types::DateTime::from(self.expires_at)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default()
    }
}

/// A role a profile assumes (`role_arn` and the keys that go with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleHop {
    pub profile: String,
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub duration: Option<i32>,
}

impl RoleHop {
    fn of(profile: &aws_config::profile::Profile) -> Option<Self> {
        Some(Self {
            profile: profile.name().to_owned(),
            role_arn: profile.get("role_arn")?.to_owned(),
            session_name: profile.get("role_session_name").map(str::to_owned),
            external_id: profile.get("external_id").map(str::to_owned),
            duration: profile
                .get("duration_seconds")
                .and_then(|d| d.trim().parse().ok()),
        })
    }
}

/// A profile whose credentials go through a role that needs an MFA code: that role's profile
/// (`hop`, the one with `mfa_serial`, maybe the profile itself), and the roles assumed after
/// it, down to the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MfaChain {
    pub hop: String,
    pub serial: String,
    pub hop_role_arn: String,
    pub source_profile: Option<String>,
    pub after: Vec<RoleHop>,
}

/// The [`MfaChain`] of `profile`, if its role chain has a role with `mfa_serial`: the one
/// nearest to the source keys.
pub(crate) fn chain_of(
    set: &aws_config::profile::ProfileSet,
    profile: &aws_config::profile::Profile,
) -> Option<MfaChain> {
    // The profile, its source_profile, that one's, ... while each assumes a role.
    let mut walk = vec![profile];
    while let Some(current) = walk.last().copied()
        && current.get("role_arn").is_some()
        && let Some(source) = current.get("source_profile")
        && let Some(next) = set.get_profile(source)
        && walk.len() <= set.profiles().count()
        && !walk.iter().any(|p| p.name() == next.name())
    {
        walk.push(next);
    }
    let at = walk
        .iter()
        .rposition(|p| p.get("role_arn").is_some() && p.get("mfa_serial").is_some())?;
    let hop = walk[at];
    Some(MfaChain {
        hop: hop.name().to_owned(),
        serial: hop.get("mfa_serial")?.to_owned(),
        hop_role_arn: hop.get("role_arn")?.to_owned(),
        source_profile: hop.get("source_profile").map(str::to_owned),
        after: walk[..at]
            .iter()
            .rev()
            .filter_map(|p| RoleHop::of(p))
            .collect(),
    })
}

/// Keeps `credentials` for `profile` (of the config file `config`) until they end.
pub(crate) fn keep(config: &Path, profile: &str, credentials: Credentials) {
    SESSIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert((config.to_path_buf(), profile.to_owned()), credentials);
}

/// The profiles of the shared files whose role asks for an MFA code, each with the profiles
/// whose credentials go through it.
pub async fn mfa_profiles(files: &AwsFiles) -> Vec<MfaProfile> {
    let Ok((_, set)) = profiles::load_set(files).await else {
        return Vec::new();
    };
    let mut found: Vec<MfaProfile> = Vec::new();
    for name in set.profiles() {
        let Some(chain) = set.get_profile(name).and_then(|p| chain_of(&set, p)) else {
            continue;
        };
        match found.iter_mut().find(|m| m.profile == chain.hop) {
            Some(known) => known.used_by.push(name.to_owned()),
            None => found.push(MfaProfile {
                signed_in: session(&files.config, &chain.hop).is_some(),
                profile: chain.hop,
                serial: chain.serial,
                role_arn: chain.hop_role_arn,
                used_by: vec![name.to_owned()],
            }),
        }
    }
    for mfa in &mut found {
        mfa.used_by.sort();
    }
    found.sort_by(|a, b| a.profile.cmp(&b.profile));
    found
}

/// Assumes the role of `profile` with the MFA `code`, from its `source_profile`'s credentials,
/// and keeps the role's credentials in memory for every later call through that profile.
pub async fn mfa_sign_in(
    files: &AwsFiles,
    profile: &str,
    code: &str,
) -> Result<MfaSignedIn, MfaError> {
    let config = files.config.display().to_string();
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MfaError::BadCode);
    }
    let (existing, set) = profiles::load_set(files)
        .await
        .map_err(|err| MfaError::Config {
            message: err.to_string(),
        })?;
    let no_profile = || MfaError::NoProfile {
        profile: profile.to_owned(),
        config: config.clone(),
    };
    let env_files = profiles::env_config_files(&existing).ok_or_else(no_profile)?;
    let chain = set
        .get_profile(profile)
        .ok_or_else(no_profile)
        .and_then(|p| {
            chain_of(&set, p).ok_or_else(|| MfaError::NotMfa {
                profile: profile.to_owned(),
                config: config.clone(),
            })
        })?;
    let hop_name = chain.hop.clone();
    let source_name = chain
        .source_profile
        .clone()
        .ok_or_else(|| MfaError::NoSource {
            profile: hop_name.clone(),
            config: config.clone(),
        })?;
    let role = set
        .get_profile(&hop_name)
        .and_then(RoleHop::of)
        .ok_or_else(no_profile)?;
    let infos = sweep::profile_infos(&set);
    let info_of = |name: &str| infos.iter().find(|info| info.name == name).cloned();
    let target = info_of(&hop_name).ok_or_else(no_profile)?;
    let source = info_of(&source_name).ok_or_else(|| MfaError::MissingSource {
        profile: hop_name.clone(),
        source_profile: source_name.clone(),
        config: config.clone(),
    })?;
    let region = target
        .regions()
        .first()
        .or_else(|| source.regions().first())
        .cloned()
        .unwrap_or_else(|| "us-east-1".to_owned());
    let ctx = Ctx::new(env_files, &DiscoverOptions::default(), files);
    let source_credentials = sweep::resolve_credentials(&source, &region, &ctx)
        .await
        .map_err(|failure| MfaError::Source {
            message: failure.message,
        })?;
    let mfa = Some((chain.serial.as_str(), code));
    let credentials = assume_role(&target, &role, mfa, &region, source_credentials, &ctx).await?;
    let expires_at = credentials
        .expiry()
        .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(3600));
    keep(&files.config, &hop_name, credentials);
    tracing::info!(profile = %hop_name, "MFA sign-in: role assumed");
    Ok(MfaSignedIn {
        profile: hop_name,
        expires_at,
    })
}

/// `AssumeRole` of `role` from `source_credentials`, with the MFA device and code when given;
/// STS is the one `target`'s endpoint settings name.
pub(crate) async fn assume_role(
    target: &ProfileInfo,
    role: &RoleHop,
    mfa: Option<(&str, &str)>,
    region: &str,
    source_credentials: Credentials,
    ctx: &Ctx,
) -> Result<Credentials, MfaError> {
    // The role profile's own endpoint settings (`services`, `endpoint_url`) choose STS.
    let sdk_config = sweep::sdk_config(target, region, source_credentials, ctx).await;
    let client = aws_sdk_sts::Client::new(&sdk_config);
    let session_name = role.session_name.clone().unwrap_or_else(|| {
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        format!("airgate-{secs}")
    });
    let result = client
        .assume_role()
        .role_arn(&role.role_arn)
        .role_session_name(session_name)
        .set_serial_number(mfa.map(|(serial, _)| serial.to_owned()))
        .set_token_code(mfa.map(|(_, code)| code.to_owned()))
        .set_external_id(role.external_id.clone())
        .set_duration_seconds(role.duration)
        .send()
        .await;
    let output =
        result.map_err(|err| refused(&err, target, role, mfa.map(|(serial, _)| serial)))?;
    let Some(given) = output.credentials else {
        return Err(MfaError::Refused {
            profile: target.name.clone(),
            role_arn: role.role_arn.clone(),
            message: "STS answered without credentials".to_owned(),
        });
    };
    let expiry = SystemTime::try_from(given.expiration).ok();
    Ok(Credentials::new(
        given.access_key_id,
        given.secret_access_key,
        Some(given.session_token),
        expiry,
        "airgate-mfa",
    ))
}

fn refused<E, R>(
    err: &SdkError<E, R>,
    target: &ProfileInfo,
    role: &RoleHop,
    serial: Option<&str>,
) -> MfaError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => MfaError::Unreachable {
            profile: target.name.clone(),
            cause: sweep::root_cause(err),
        },
        _ => {
            let message = err
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| DisplayErrorContext(err).to_string());
            // STS says "MultiFactorAuthentication failed with invalid MFA one time pass code."
            if let Some(serial) = serial
                && (message.contains("MultiFactorAuthentication") || message.contains("MFA"))
            {
                MfaError::WrongCode {
                    serial: serial.to_owned(),
                }
            } else {
                MfaError::Refused {
                    profile: target.name.clone(),
                    role_arn: role.role_arn.clone(),
                    message,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_sessions_are_dropped_and_live_ones_kept() {
        let config = PathBuf::from("/nonexistent/mfa-test-config");
        let put = |profile: &str, expiry: SystemTime| {
            SESSIONS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    (config.clone(), profile.to_owned()),
                    Credentials::new("ASIA", "secret", Some("token".into()), Some(expiry), "test"),
                );
        };
        put("live", SystemTime::now() + Duration::from_secs(900));
        put("ending", SystemTime::now() + Duration::from_secs(30));
        assert!(session(&config, "live").is_some());
        assert!(session(&config, "ending").is_none(), "within the margin");
        assert!(session(&config, "never").is_none());
        assert!(session(Path::new("/elsewhere"), "live").is_none());
    }
}
