//! `airgate login`: IAM Identity Center (SSO) sign-in through the device authorization, the
//! token written to the shared SSO cache as the AWS CLI writes it (so `aws` and Airgate share
//! one sign-in, and one sign-in serves every profile of the session).

use std::process::ExitCode;

use airgate_discovery::{DeviceCode, SsoTarget};

use crate::error::{Error, Result};

/// Signs in the SSO session of `profile` (default: `AWS_PROFILE`, else `default`) or of the
/// `[sso-session NAME]`, printing the page to open and the code it shows.
pub async fn login(profile: Option<String>, sso_session: Option<String>) -> Result<ExitCode> {
    let target = match sso_session {
        Some(session) => SsoTarget::Session(session),
        None => SsoTarget::Profile(profile.unwrap_or_else(default_profile)),
    };
    let files = airgate_discovery::aws_files();
    if let SsoTarget::Profile(profile) = &target
        && let Some(mfa) = airgate_discovery::mfa_profiles(&files)
            .await
            .into_iter()
            .find(|mfa| &mfa.profile == profile)
    {
        return Err(Error::MfaLogin {
            profile: mfa.profile,
            serial: mfa.serial,
        });
    }
    let session = airgate_discovery::sso_session(&files, &target).await?;
    eprintln!(
        "Signing in to IAM Identity Center ({}, {}).",
        session.label(),
        session.start_url
    );
    let show = |code: &DeviceCode| {
        println!(
            "Open this page in a browser and check that it shows the code {}:",
            code.user_code
        );
        println!("  {}", code.url());
        eprintln!(
            "Waiting for the sign-in to be approved (the code is valid for {} min)…",
            code.expires_in.as_secs().div_ceil(60)
        );
    };
    let signed_in = airgate_discovery::sign_in(&files, &target, show).await?;
    println!(
        "Signed in to {} until {}.",
        signed_in.session.label(),
        signed_in.expires_at_utc()
    );
    match signed_in.session.profiles.as_slice() {
        [] => println!("No profile uses this session yet."),
        profiles => println!("Profiles it covers: {}.", profiles.join(", ")),
    }
    eprintln!(
        "Token saved in {} (shared with the AWS CLI).",
        signed_in.token_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The profile the AWS CLI would use: `AWS_PROFILE`, else `default`.
fn default_profile() -> String {
    std::env::var("AWS_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}
