//! IAM Identity Center sign-in for the window's "Sign in" button: the core's `sign_in`, the code
//! sent to the window as an `SsoCodeShown` event while the person approves it. And the MFA code
//! of a role profile (`mfa_serial`).

use airgate_discovery::{DeviceCode, SsoTarget};
use serde::Serialize;
use tauri::State;

use super::run_core;
use crate::error::CmdResult;
use crate::events::{SsoCodeShown, SsoCodeSink};

/// A finished sign-in, as the window shows it (nothing secret: the token stays in the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SsoSignedIn {
    /// `sso-session corp`, or the start URL of a legacy profile.
    pub session: String,
    /// Every profile the sign-in serves: their rows can be listed again.
    pub profiles: Vec<String>,
    /// When the token ends, UTC (`2026-12-01T18:00:00Z`).
    pub expires_at: String,
}

/// Signs in the SSO session of `profile` (one sign-in serves every profile of the session), as
/// `airgate login` does: the page to open and its code arrive as an `SsoCodeShown` event; the
/// call answers once the person approved (or denied) it, or the code expired.
#[tauri::command]
#[specta::specta]
pub async fn sso_sign_in(sink: State<'_, SsoCodeSink>, profile: String) -> CmdResult<SsoSignedIn> {
    let sink = sink.inner().clone();
    let signed_in = run_core("IAM Identity Center sign-in", async move {
        let files = airgate_discovery::aws_files();
        let target = SsoTarget::Profile(profile.clone());
        let show = |code: &DeviceCode| {
            sink.send(SsoCodeShown {
                profile: profile.clone(),
                user_code: code.user_code.clone(),
                url: code.url().to_owned(),
                expires_in_secs: u32::try_from(code.expires_in.as_secs()).unwrap_or(u32::MAX),
            });
        };
        airgate_discovery::sign_in(&files, &target, show).await
    })
    .await?
    .map_err(crate::error::Error::from)?;
    Ok(SsoSignedIn {
        session: signed_in.session.label(),
        profiles: signed_in.session.profiles.clone(),
        expires_at: signed_in.expires_at_utc(),
    })
}

/// Assumes the role of the MFA profile `profile` with `code` (the credentials stay in this
/// process's memory until they end); returns when they end, UTC. The window then lists again.
#[tauri::command]
#[specta::specta]
pub async fn mfa_sign_in(profile: String, code: String) -> CmdResult<String> {
    let signed_in = run_core("MFA sign-in", async move {
        let files = airgate_discovery::aws_files();
        airgate_discovery::mfa_sign_in(&files, &profile, &code).await
    })
    .await?
    .map_err(crate::error::Error::from)?;
    Ok(signed_in.expires_at_utc())
}
