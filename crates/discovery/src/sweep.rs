//! One sweep: every (profile, region) at once, bounded, each failing on its own.

use std::path::PathBuf;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileSet};
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_sdk_mwaa::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_mwaa::types::WebserverAccessMode;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;
use futures::StreamExt as _;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::host_prefix::LoopbackHostPrefix;
use crate::profiles::{self, AIRGATE_REGIONS_KEY};
use crate::{
    AccessMode, AwsFiles, DiscoverOptions, Discovery, EndpointManagement, Environment, FailureKind,
    Identity, LastUpdate, ProfileError, SourceFailure, SourceFound,
};

/// A sweep never follows more pages than this (25 per page: 10,000 environments).
const MAX_PAGES: usize = 400;

/// Lists every MWAA environment of every profile and region; failures are per source.
pub async fn discover(files: &AwsFiles) -> Discovery {
    discover_with(files, &DiscoverOptions::default()).await
}

/// [`discover`] with explicit limits.
pub async fn discover_with(files: &AwsFiles, options: &DiscoverOptions) -> Discovery {
    discover_streaming(files, options, &|_| {}).await
}

/// [`discover_with`], telling `found` about each source (a profile, or a profile and region) as
/// soon as it has answered or failed, so a list can fill in while slow sources are still
/// being asked. Returns everything, as [`discover_with`] does.
pub async fn discover_streaming(
    files: &AwsFiles,
    options: &DiscoverOptions,
    found: &(dyn Fn(SourceFound) + Send + Sync),
) -> Discovery {
    let mut failures = Vec::new();
    let (usable, broken, unreadable) = profiles::read_lenient(files).await;
    // A profile whose section is broken is reported once, not again as incomplete.
    let skipped: Vec<String> = broken.iter().filter_map(|b| b.section.clone()).collect();
    for section in broken {
        failures.push(SourceFailure {
            profile: section
                .section
                .clone()
                .unwrap_or_else(|| section.path.display().to_string()),
            region: None,
            kind: FailureKind::Config,
            message: section.message(),
            sso: false,
        });
    }
    for err in unreadable {
        let path = match &err {
            crate::Error::ReadConfig { path, .. } | crate::Error::ParseConfig { path, .. } => {
                path.display().to_string()
            }
        };
        failures.push(SourceFailure {
            profile: path,
            region: None,
            kind: FailureKind::Config,
            message: err.to_string(),
            sso: false,
        });
    }
    let set = match profiles::parse(&usable).await {
        Ok(set) => set,
        Err(err) => {
            failures.push(SourceFailure {
                profile: files.config.display().to_string(),
                region: None,
                kind: FailureKind::Config,
                message: err.to_string(),
                sso: false,
            });
            ProfileSet::default()
        }
    };
    if set.profiles().next().is_none() && failures.is_empty() {
        failures.push(SourceFailure {
            profile: files.config.display().to_string(),
            region: None,
            kind: FailureKind::NoProfiles,
            message: no_profiles_message(files),
            sso: false,
        });
    }
    // What is known before any service is asked: broken files and sections.
    for failure in &failures {
        found(SourceFound {
            profile: failure.profile.clone(),
            region: None,
            environments: Vec::new(),
            failure: Some(failure.clone()),
            identity: None,
        });
    }
    let mut environments = Vec::new();
    let mut identities = Vec::new();
    if let Some(env_files) = profiles::env_config_files(&usable) {
        let ctx = Arc::new(Ctx::new(env_files, options, files));
        let sweeps = profile_infos(&set)
            .into_iter()
            .filter(|info| !skipped.contains(&info.name))
            .map(|info| discover_profile(info, ctx.clone(), found));
        for (found, failed, identity) in futures::future::join_all(sweeps).await {
            environments.extend(found);
            failures.extend(failed);
            identities.extend(identity);
        }
    }
    environments
        .sort_by(|a, b| (&a.profile, &a.region, &a.name).cmp(&(&b.profile, &b.region, &b.name)));
    let environments = seen_once(environments);
    failures.sort_by(|a, b| (&a.profile, &a.region).cmp(&(&b.profile, &b.region)));
    identities.sort_by(|a: &Identity, b| a.profile.cmp(&b.profile));
    Discovery {
        environments,
        failures,
        identities,
    }
}

/// Each environment once: one seen through several profiles (the same ARN) stays under the
/// first profile, the others named in `also_seen_by`. `environments` is sorted by profile.
pub(crate) fn seen_once(environments: Vec<Environment>) -> Vec<Environment> {
    let mut kept: Vec<Environment> = Vec::with_capacity(environments.len());
    let mut by_arn: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for env in environments {
        if let Some(arn) = env.arn.clone() {
            if let Some(&first) = by_arn.get(&arn) {
                let also = &mut kept[first].also_seen_by;
                if !also.contains(&env.profile) {
                    also.push(env.profile);
                }
                continue;
            }
            by_arn.insert(arn, kept.len());
        }
        kept.push(env);
    }
    kept
}

/// Where Airgate looked for profiles, and how to add one.
fn no_profiles_message(files: &AwsFiles) -> String {
    let how = |var: &str| {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            format!(" (from {var})")
        } else {
            String::new()
        }
    };
    let state = |path: &std::path::Path| if path.exists() { "" } else { ", missing" };
    format!(
        "No AWS profiles found. Airgate looked in {}{}{} and {}{}{}. Add one with \
         `aws configure sso` (IAM Identity Center) or `aws configure` (access keys), then refresh.",
        files.config.display(),
        how("AWS_CONFIG_FILE"),
        state(&files.config),
        files.credentials.display(),
        how("AWS_SHARED_CREDENTIALS_FILE"),
        state(&files.credentials),
    )
}

#[derive(Debug)]
pub(crate) struct Ctx {
    env_files: EnvConfigFiles,
    /// One HTTP client (and connection pool) for every profile and region of a sweep.
    http: SharedHttpClient,
    options: DiscoverOptions,
    limit: Semaphore,
    config_path: PathBuf,
    credentials_path: PathBuf,
}

impl Ctx {
    pub(crate) fn new(
        env_files: EnvConfigFiles,
        options: &DiscoverOptions,
        files: &AwsFiles,
    ) -> Self {
        Self {
            env_files,
            http: http_client(),
            options: options.clone(),
            limit: Semaphore::new(options.concurrency.max(1)),
            config_path: files.config.clone(),
            credentials_path: files.credentials.clone(),
        }
    }

    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.options.connect_timeout)
            .operation_attempt_timeout(self.options.attempt_timeout)
            .operation_timeout(self.options.operation_timeout)
            .build()
    }

    fn retries(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.options.max_attempts.max(1))
            .with_initial_backoff(self.options.initial_backoff)
    }
}

/// What a sweep needs to know of a profile (nothing secret).
#[derive(Debug, Clone)]
pub(crate) struct ProfileInfo {
    pub(crate) name: String,
    regions: Vec<String>,
    pub(crate) sso: bool,
    credential_process: bool,
    role: bool,
    endpoint_url: Option<String>,
    /// `endpoint_url` of Secrets Manager in the profile's `services` section.
    pub(crate) secrets_manager_endpoint: Option<String>,
    /// A role along the profile's chain needs an MFA code ([`crate::mfa`]).
    mfa: Option<crate::mfa::MfaChain>,
    /// Whether STS may be asked who the profile is: not when MWAA is sent to an endpoint of the
    /// profile's choosing and STS is not (STS would then be AWS's, for a profile that is not).
    identity_allowed: bool,
    /// A `source_profile` of the profile's role chain that no section defines: (who names it,
    /// the missing name).
    missing_source: Option<(String, String)>,
}

impl ProfileInfo {
    pub(crate) fn regions(&self) -> &[String] {
        &self.regions
    }
}

/// Whether the environment variable `var` is set to something.
fn env_set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty())
}

pub(crate) fn profile_infos(set: &ProfileSet) -> Vec<ProfileInfo> {
    let mut infos: Vec<ProfileInfo> = set
        .profiles()
        .filter_map(|name| set.get_profile(name))
        .map(|p| {
            let service_endpoint =
                |service: &str| profiles::services_endpoint(set, p.name(), service);
            let global = p.get("endpoint_url").is_some() || env_set("AWS_ENDPOINT_URL");
            let mwaa_elsewhere =
                global || env_set("AWS_ENDPOINT_URL_MWAA") || service_endpoint("mwaa").is_some();
            let sts_elsewhere =
                global || env_set("AWS_ENDPOINT_URL_STS") || service_endpoint("sts").is_some();
            ProfileInfo {
                name: p.name().to_owned(),
                regions: profiles::regions(p.get("region"), p.get(AIRGATE_REGIONS_KEY)),
                sso: p.get("sso_session").is_some() || p.get("sso_start_url").is_some(),
                credential_process: p.get("credential_process").is_some(),
                role: p.get("role_arn").is_some(),
                endpoint_url: p.get("endpoint_url").map(str::to_owned),
                secrets_manager_endpoint: service_endpoint("secrets_manager"),
                mfa: crate::mfa::chain_of(set, p),
                identity_allowed: !mwaa_elsewhere || sts_elsewhere,
                missing_source: missing_source(set, p),
            }
        })
        .collect();
    infos.sort_by(|a, b| a.name.cmp(&b.name));
    infos
}

/// The first `source_profile` along `profile`'s role chain that names no profile.
fn missing_source(
    set: &ProfileSet,
    profile: &aws_config::profile::Profile,
) -> Option<(String, String)> {
    let mut current = profile;
    // A chain longer than the profiles there are loops; the SDK says so itself.
    for _ in 0..=set.profiles().count() {
        let source = current.get("source_profile")?;
        if source == current.name() {
            return None;
        }
        match set.get_profile(source) {
            Some(next) => current = next,
            None => return Some((current.name().to_owned(), source.to_owned())),
        }
    }
    None
}

fn failure(
    info: &ProfileInfo,
    region: Option<&str>,
    kind: FailureKind,
    message: String,
) -> SourceFailure {
    SourceFailure {
        profile: info.name.clone(),
        region: region.map(str::to_owned),
        sso: info.sso && kind == FailureKind::Credentials,
        kind,
        message,
    }
}

async fn discover_profile(
    info: ProfileInfo,
    ctx: Arc<Ctx>,
    found: &(dyn Fn(SourceFound) + Send + Sync),
) -> (Vec<Environment>, Vec<SourceFailure>, Option<Identity>) {
    let profile_failed = |failed: SourceFailure| {
        found(SourceFound {
            profile: info.name.clone(),
            region: None,
            environments: Vec::new(),
            failure: Some(failed.clone()),
            identity: None,
        });
        (Vec::new(), vec![failed], None)
    };
    // The profile's own regions, then the ones chosen for every profile.
    let mut regions = info.regions.clone();
    for region in &ctx.options.extra_regions {
        if !regions.contains(region) {
            regions.push(region.clone());
        }
    }
    let Some(first_region) = regions.first().cloned() else {
        let message = format!(
            "Profile {} has no region: set `region` (or `{AIRGATE_REGIONS_KEY}`) for it in {}, \
             or choose regions for every profile in Airgate's settings.",
            info.name,
            ctx.config_path.display()
        );
        return profile_failed(failure(&info, None, FailureKind::NoRegion, message));
    };
    let credentials = match resolve_credentials(&info, &first_region, &ctx).await {
        Ok(credentials) => credentials,
        Err(failed) => return profile_failed(failed),
    };
    let sdk_config = sdk_config(&info, &first_region, credentials, &ctx).await;
    // A region the profile did not name that refuses its credentials is most likely a region its
    // account has not enabled (opt-in regions): not worth an error row, unless nothing answered.
    let not_enabled = |region: &str, failed: &[SourceFailure]| {
        !info.regions.iter().any(|r| r == region)
            && failed.iter().all(|f| f.kind == FailureKind::Credentials)
            && !failed.is_empty()
    };
    let (info, sdk_config, ctx) = (&info, &sdk_config, &ctx);
    let not_enabled = &not_enabled;
    let sources = regions.iter().map(|region| async move {
        let (listed, failed) = list_source(info, region, sdk_config, ctx).await;
        let quiet = not_enabled(region, &failed);
        found(SourceFound {
            profile: info.name.clone(),
            region: Some(region.clone()),
            environments: listed.clone(),
            failure: failed.first().filter(|_| !quiet).cloned(),
            identity: None,
        });
        (region, listed, failed)
    });
    let identity = async {
        let identity = identity(info, sdk_config, ctx).await?;
        found(SourceFound {
            profile: info.name.clone(),
            region: None,
            environments: Vec::new(),
            failure: None,
            identity: Some(identity.clone()),
        });
        Some(identity)
    };
    let (answered, identity) = futures::join!(futures::future::join_all(sources), identity);
    let any_answered = answered.iter().any(|(_, _, failed)| failed.is_empty());
    let mut environments = Vec::new();
    let mut failures = Vec::new();
    for (region, found, failed) in answered {
        environments.extend(found);
        if any_answered && not_enabled(region, &failed) {
            tracing::debug!(profile = %info.name, %region, "region refuses the profile: not enabled?");
            continue;
        }
        failures.extend(failed);
    }
    (environments, failures, identity)
}

/// Who the profile is (STS `GetCallerIdentity`); `None` when STS cannot tell, which costs the
/// sweep nothing else.
async fn identity(
    info: &ProfileInfo,
    sdk_config: &aws_types::SdkConfig,
    ctx: &Ctx,
) -> Option<Identity> {
    if !info.identity_allowed {
        tracing::debug!(profile = %info.name, "MWAA has an endpoint of its own and STS none: not asked");
        return None;
    }
    let client = aws_sdk_sts::Client::new(sdk_config);
    let _permit = ctx.limit.acquire().await;
    match client.get_caller_identity().send().await {
        Ok(output) => Some(Identity {
            profile: info.name.clone(),
            account: output.account?,
            arn: output.arn?,
        }),
        Err(err) => {
            tracing::debug!(profile = %info.name, cause = %root_cause(&err), "no identity");
            None
        }
    }
}

/// The SDK configuration of one profile: its own files, credentials resolved from it alone.
pub(crate) async fn sdk_config(
    info: &ProfileInfo,
    region: &str,
    credentials: Credentials,
    ctx: &Ctx,
) -> aws_types::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .profile_files(ctx.env_files.clone())
        .profile_name(&info.name)
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .timeout_config(ctx.timeouts())
        .retry_config(ctx.retries())
        .http_client(ctx.http.clone())
        .load()
        .await
}

/// The SDK's default HTTPS client (hyper 1 and rustls with aws-lc, the environment's proxy
/// settings), built once so that every client of a sweep shares its connections; left to
/// themselves, each client the SDK builds has a pool of its own.
fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The profile `profile` of the shared files and its SDK configuration for `region`, with its
/// credentials resolved (from the profile alone), for a single call such as a login token.
pub(crate) async fn profile_sdk_config(
    files: &AwsFiles,
    profile: &str,
    region: &str,
) -> Result<(ProfileInfo, aws_types::SdkConfig), ProfileError> {
    let no_profile = || ProfileError::NoProfile {
        profile: profile.to_owned(),
        config: files.config.display().to_string(),
    };
    let (existing, set) = profiles::load_set(files)
        .await
        .map_err(|err| ProfileError::Config {
            message: err.to_string(),
        })?;
    let env_files = profiles::env_config_files(&existing).ok_or_else(no_profile)?;
    let info = profile_infos(&set)
        .into_iter()
        .find(|info| info.name == profile)
        .ok_or_else(no_profile)?;
    let ctx = Ctx::new(env_files, &DiscoverOptions::default(), files);
    let credentials = resolve_credentials(&info, region, &ctx)
        .await
        .map_err(|failure| ProfileError::Credentials {
            message: failure.message,
            sso: info.sso,
        })?;
    let sdk_config = sdk_config(&info, region, credentials, &ctx).await;
    Ok((info, sdk_config))
}

/// What to say when AWS refuses a profile's credentials (`code`: an [`is_credentials_code`]).
pub(crate) fn refused_credentials_message(
    profile: &str,
    code: &str,
    message: &str,
    sso: bool,
) -> String {
    if sso {
        format!(
            "The SSO session of profile {profile} has ended ({code}): sign in again \
             (`airgate login {profile}`), then try again."
        )
    } else {
        format!(
            "AWS refused the credentials of profile {profile} ({code}: {message}): check its keys."
        )
    }
}

/// An MWAA client for `region`; loopback endpoints lose the SDK's host prefix.
pub(crate) fn mwaa_client(sdk_config: &aws_types::SdkConfig, region: &str) -> aws_sdk_mwaa::Client {
    let config = aws_sdk_mwaa::config::Builder::from(sdk_config)
        .region(Region::new(region.to_owned()))
        .interceptor(LoopbackHostPrefix)
        .build();
    aws_sdk_mwaa::Client::from_conf(config)
}

/// `credential_source = Ec2InstanceMetadata` would ask the instance metadata service: refused.
#[derive(Debug)]
struct NoInstanceMetadata;

impl ProvideCredentials for NoInstanceMetadata {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::invalid_configuration(
            "credential_source = Ec2InstanceMetadata is not supported: use keys, SSO, \
             credential_process or a source_profile",
        )))
    }
}

/// The credentials of a profile whose chain has a role behind an MFA code: that role's (held
/// since its code was given), then each role after it assumed in turn (kept too, until they
/// end). No code yet, or an expired one: a failure asking for it.
async fn mfa_credentials(
    info: &ProfileInfo,
    chain: &crate::mfa::MfaChain,
    region: &str,
    ctx: &Ctx,
) -> Result<Credentials, SourceFailure> {
    if let Some(credentials) = crate::mfa::session(&ctx.config_path, &info.name) {
        return Ok(credentials);
    }
    let name = &info.name;
    let Some(mut credentials) = crate::mfa::session(&ctx.config_path, &chain.hop) else {
        let serial = &chain.serial;
        let through = if &chain.hop == name {
            String::new()
        } else {
            format!(" (for the role of profile {})", chain.hop)
        };
        return Err(failure(
            info,
            None,
            FailureKind::MfaCode,
            format!(
                "Profile {name} needs an MFA code from {serial}{through}: enter it (Enter MFA \
                 code, or `airgate envs --profile {name}` in a terminal asks for it)."
            ),
        ));
    };
    for role in &chain.after {
        let _permit = ctx.limit.acquire().await;
        credentials = crate::mfa::assume_role(info, role, None, region, credentials, ctx)
            .await
            .map_err(|err| failure(info, None, FailureKind::Credentials, err.to_string()))?;
    }
    crate::mfa::keep(&ctx.config_path, name, credentials.clone());
    Ok(credentials)
}

/// Resolves the profile's credentials once for the whole sweep, from the profile only.
pub(crate) async fn resolve_credentials(
    info: &ProfileInfo,
    region: &str,
    ctx: &Ctx,
) -> Result<Credentials, SourceFailure> {
    if let Some((named_by, missing)) = &info.missing_source {
        let via = if named_by == &info.name {
            String::new()
        } else {
            format!(" (through profile {named_by})")
        };
        return Err(failure(
            info,
            None,
            FailureKind::Config,
            format!(
                "Profile {} refers to missing source_profile {missing}{via} in {}: add that \
                 profile, or name another one.",
                info.name,
                ctx.config_path.display()
            ),
        ));
    }
    if let Some(chain) = &info.mfa {
        // Boxed: assuming roles is a large future, and rare.
        return Box::pin(mfa_credentials(info, chain, region, ctx)).await;
    }
    let provider_config = ProviderConfig::without_region()
        .with_http_client(ctx.http.clone())
        .with_region(Some(Region::new(region.to_owned())))
        .with_timeout_config(ctx.timeouts())
        .with_retry_config(ctx.retries());
    let provider = ProfileFileCredentialsProvider::builder()
        .configure(&provider_config)
        .profile_files(ctx.env_files.clone())
        .profile_name(&info.name)
        .with_custom_provider("Ec2InstanceMetadata", NoInstanceMetadata)
        .build();
    let resolved = async {
        let _permit = ctx.limit.acquire().await;
        tokio::time::timeout(
            ctx.options.operation_timeout,
            provider.provide_credentials(),
        )
        .await
    }
    .instrument(tracing::debug_span!("credentials", profile = %info.name))
    .await;
    let detail = match resolved {
        Ok(Ok(credentials)) => return Ok(credentials),
        Ok(Err(err)) => DisplayErrorContext(&err).to_string(),
        Err(_) => format!(
            "no answer within {} s",
            ctx.options.operation_timeout.as_secs()
        ),
    };
    tracing::warn!(profile = %info.name, cause = %detail.lines().next().unwrap_or_default(), "no credentials");
    tracing::debug!(profile = %info.name, chain = %detail, "no credentials");
    let name = &info.name;
    let message = if info.sso {
        format!(
            "SSO session for profile {name} expired or missing ({detail}): sign in (Sign in, or \
             `airgate login {name}`, or `aws sso login --profile {name}`)."
        )
    } else if info.credential_process {
        format!(
            "credential_process of profile {name} failed ({detail}): run the command by hand \
             to see why, then fix it in {}.",
            ctx.config_path.display()
        )
    } else if info.role {
        format!(
            "Cannot assume the role of profile {name} ({detail}): check role_arn and \
             source_profile in {}.",
            ctx.config_path.display()
        )
    } else {
        format!(
            "No credentials for profile {name} ({detail}): set aws_access_key_id and \
             aws_secret_access_key in {}, or SSO or role settings in {}.",
            ctx.credentials_path.display(),
            ctx.config_path.display()
        )
    };
    Err(failure(info, None, FailureKind::Credentials, message))
}

/// Lists one (profile, region): `ListEnvironments` (all pages), then `GetEnvironment` per name.
#[tracing::instrument(skip_all, fields(profile = %info.name, region = %region))]
async fn list_source(
    info: &ProfileInfo,
    region: &str,
    sdk_config: &aws_types::SdkConfig,
    ctx: &Ctx,
) -> (Vec<Environment>, Vec<SourceFailure>) {
    let _permit = ctx.limit.acquire().await;
    let client = mwaa_client(sdk_config, region);

    let mut names = Vec::new();
    let mut pages = client
        .list_environments()
        .set_max_results(ctx.options.page_size)
        .into_paginator()
        .send();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => names.extend(page.environments),
            Err(err) => return (Vec::new(), vec![classify(&err, info, region)]),
        }
        page_count += 1;
        if page_count >= MAX_PAGES {
            tracing::warn!(pages = page_count, "stopped following pages");
            break;
        }
    }
    tracing::debug!(count = names.len(), "listed");

    let gets = futures::stream::iter(names)
        .map(|name| {
            let client = client.clone();
            async move {
                let result = client.get_environment().name(&name).send().await;
                (name, result)
            }
        })
        .buffer_unordered(ctx.options.per_source_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut environments = Vec::new();
    let mut failures = Vec::new();
    for (name, result) in gets {
        match result {
            Ok(output) => {
                if let Some(env) = output.environment {
                    environments.push(environment(&info.name, region, env));
                }
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                tracing::debug!(environment = %name, "deleted since it was listed");
            }
            Err(err) => {
                if failures.is_empty() {
                    failures.push(classify(&err, info, region));
                }
            }
        }
    }
    (environments, failures)
}

fn environment(profile: &str, region: &str, env: aws_sdk_mwaa::types::Environment) -> Environment {
    let webserver_host = env.webserver_url.as_deref().map(host_of);
    let network = env.network_configuration;
    let access = match env.webserver_access_mode {
        Some(WebserverAccessMode::PublicOnly) => AccessMode::Public,
        Some(WebserverAccessMode::PrivateOnly) => AccessMode::PrivateVpce,
        // Unknown or missing: the hostname tells (MWAA's default is private).
        _ => match &webserver_host {
            Some(host) if !host.contains("-vpce.") => AccessMode::Public,
            _ => AccessMode::PrivateVpce,
        },
    };
    Environment {
        name: env.name.unwrap_or_default(),
        profile: profile.to_owned(),
        region: region.to_owned(),
        status: env
            .status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "UNKNOWN".to_owned()),
        airflow_version: env.airflow_version,
        access,
        webserver_host,
        arn: env.arn,
        security_group_ids: network
            .as_ref()
            .and_then(|network| network.security_group_ids.clone())
            .unwrap_or_default(),
        also_seen_by: Vec::new(),
        endpoint_management: env.endpoint_management.and_then(|m| match m {
            aws_sdk_mwaa::types::EndpointManagement::Service => Some(EndpointManagement::Service),
            aws_sdk_mwaa::types::EndpointManagement::Customer => Some(EndpointManagement::Customer),
            _ => None,
        }),
        environment_class: env.environment_class,
        execution_role_arn: env.execution_role_arn,
        subnet_ids: network
            .and_then(|network| network.subnet_ids)
            .unwrap_or_default(),
        webserver_vpc_endpoint_service: env.webserver_vpc_endpoint_service,
        tags: env.tags.unwrap_or_default().into_iter().collect(),
        last_update: env.last_update.map(|update| LastUpdate {
            status: update
                .status
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "UNKNOWN".to_owned()),
            created_at: update
                .created_at
                .and_then(|at| at.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
            error_code: update.error.as_ref().and_then(|e| e.error_code.clone()),
            error_message: update.error.and_then(|e| e.error_message),
        }),
    }
}

/// `WebserverUrl` is a hostname; tolerate a scheme or a path anyway.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_owned()
}

/// Turns an SDK error into a failure saying what to do.
fn classify<E, R>(err: &SdkError<E, R>, info: &ProfileInfo, region: &str) -> SourceFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let name = &info.name;
    let detail = DisplayErrorContext(err).to_string();
    // A service answer names its code and message; anything else its innermost cause.
    let cause = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => root_cause(err),
    };
    // One line a person can act on; the SDK's whole chain (headers, body) only when asked for.
    tracing::warn!(%cause, "listing failed");
    tracing::debug!(chain = %detail, "listing failed");
    let service_message = err
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| detail.clone());
    let (kind, message) = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            if has_credentials_error(err) {
                (
                    FailureKind::Credentials,
                    format!("No usable credentials for profile {name} in {region} ({cause})."),
                )
            } else {
                let endpoint = info
                    .endpoint_url
                    .as_deref()
                    .map(|url| format!(" at {url}"))
                    .unwrap_or_default();
                (
                    FailureKind::Unreachable,
                    format!(
                        "Cannot reach MWAA{endpoint} for profile {name} in {region} ({cause}): \
                         check the network, a proxy or the profile's endpoint_url."
                    ),
                )
            }
        }
        _ => match err.code() {
            Some(
                "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded",
            ) => (
                FailureKind::Throttled,
                format!(
                    "MWAA is throttling profile {name} in {region} ({service_message}): \
                     try again in a minute."
                ),
            ),
            Some("AccessDeniedException" | "AccessDenied") => (
                FailureKind::AccessDenied,
                format!(
                    "Profile {name} may not list MWAA environments in {region} \
                     ({service_message}): allow airflow:ListEnvironments and \
                     airflow:GetEnvironment for it."
                ),
            ),
            Some(code) if is_credentials_code(code) => (
                FailureKind::Credentials,
                format!(
                    "AWS refused the credentials of profile {name} in {region} \
                     ({code}: {service_message}): check its keys, or sign in again \
                     (`airgate login {name}`) if it uses SSO."
                ),
            ),
            _ => (
                FailureKind::Other,
                format!(
                    "Listing MWAA environments of profile {name} in {region} failed ({detail})."
                ),
            ),
        },
    };
    failure(info, Some(region), kind, message)
}

/// The innermost cause, which is what a person can act on ("Connection refused (os error 111)"),
/// rather than the SDK's whole chain (that goes to the log).
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Error codes by which AWS refuses the credentials themselves (unknown, expired, bad signature).
pub(crate) fn is_credentials_code(code: &str) -> bool {
    matches!(
        code,
        "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredTokenException"
            | "ExpiredToken"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignatureException"
            | "MissingAuthenticationTokenException"
    )
}

pub(crate) fn has_credentials_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<CredentialsError>() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_taken_from_urls_or_hostnames() {
        assert_eq!(
            host_of("abc-vpce.c5.eu-west-1.airflow.amazonaws.com"),
            "abc-vpce.c5.eu-west-1.airflow.amazonaws.com"
        );
        assert_eq!(
            host_of("https://abc.c5.eu-west-1.airflow.amazonaws.com/home"),
            "abc.c5.eu-west-1.airflow.amazonaws.com"
        );
    }

    #[test]
    fn access_mode_falls_back_on_the_hostname() {
        let env = aws_sdk_mwaa::types::Environment::builder()
            .name("x")
            .webserver_url("abc.c1.us-east-1.airflow.amazonaws.com")
            .build();
        assert_eq!(
            environment("p", "us-east-1", env).access,
            AccessMode::Public
        );
        let env = aws_sdk_mwaa::types::Environment::builder()
            .name("x")
            .webserver_url("abc-vpce.c1.us-east-1.airflow.amazonaws.com")
            .build();
        assert_eq!(
            environment("p", "us-east-1", env).access,
            AccessMode::PrivateVpce
        );
    }
}
