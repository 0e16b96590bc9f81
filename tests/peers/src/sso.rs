//! IAM Identity Center for tests and the sandbox: the SSO OIDC service (the device authorization
//! grant, as `aws-sdk-ssooidc` and botocore speak it) and the SSO portal (`GetRoleCredentials`,
//! as `aws-sdk-sso` and botocore speak it), on one loopback port.
//!
//! | Operation                  | Request                                                     |
//! |----------------------------|-------------------------------------------------------------|
//! | `RegisterClient`           | `POST /client/register`                                     |
//! | `StartDeviceAuthorization` | `POST /device_authorization`                                |
//! | `CreateToken`              | `POST /token` (device code and refresh token grants)        |
//! | `GetRoleCredentials`       | `GET /federation/credentials?role_name=&account_id=` with `x-amz-sso_bearer_token` |
//!
//! OIDC errors are status 400 (401 for a bad client) with `x-amzn-ErrorType` and the OAuth body
//! `{"error": "...", "error_description": ...}` the real service sends:
//! `AuthorizationPendingException` (`authorization_pending`), `SlowDownException` (`slow_down`),
//! `ExpiredTokenException` (`expired_token`), `AccessDeniedException` (`access_denied`),
//! `InvalidClientException` (`invalid_client`), `InvalidGrantException` (`invalid_grant`),
//! `UnsupportedGrantTypeException` (`unsupported_grant_type`). Polling sooner than the interval
//! is answered with `slow_down` and adds 5 s to it, as RFC 8628 says.
//!
//! Portal errors: `UnauthorizedException` (401, no or unknown token), `ForbiddenException` (403,
//! a role the user is not given).
//!
//! # Test controls
//! [`SsoServer::approve`] and [`SsoServer::deny`] stand for the person clicking Allow or Deny on
//! the verification page; [`SsoServer::slow_down_next`] makes the next polls answer
//! `slow_down`; [`SsoServer::calls`] and [`SsoServer::token_polls`] count what was asked.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct SsoConfig {
    /// Must be a loopback address; port 0 picks a free one.
    pub listen: SocketAddr,
    /// `interval` of a device authorization, in seconds (the real service says 1).
    pub interval_secs: u64,
    /// How long a device code can be approved (`expiresIn`; the real service: 600 s).
    pub code_lifetime: Duration,
    /// `expiresIn` of an access token (the real service: 8 hours or more).
    pub token_lifetime: Duration,
    /// How long a client registration is valid (the real service: 90 days).
    pub registration_lifetime: Duration,
    /// (account, role name) → the access key id of its role credentials.
    pub roles: BTreeMap<(String, String), String>,
}

impl Default for SsoConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            interval_secs: 1,
            code_lifetime: Duration::from_secs(600),
            token_lifetime: Duration::from_secs(8 * 3600),
            registration_lifetime: Duration::from_secs(90 * 86_400),
            roles: BTreeMap::new(),
        }
    }
}

impl SsoConfig {
    /// Gives the signed-in user `role` in `account`, with role credentials of `access_key_id`.
    pub fn role(
        mut self,
        account: impl Into<String>,
        role: impl Into<String>,
        access_key_id: impl Into<String>,
    ) -> Self {
        self.roles
            .insert((account.into(), role.into()), access_key_id.into());
        self
    }
}

/// An operation of the server, for [`SsoServer::calls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SsoOperation {
    RegisterClient,
    StartDeviceAuthorization,
    CreateToken,
    GetRoleCredentials,
}

/// What became of a device authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Pending,
    Approved,
    Denied,
    /// Exchanged for a token: the code is used up.
    Used,
}

#[derive(Debug)]
struct DeviceAuth {
    client_id: String,
    user_code: String,
    start_url: String,
    expires_at: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    decision: Decision,
}

#[derive(Debug)]
struct Client {
    secret: String,
    scopes: Vec<String>,
}

/// An access token handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedSsoToken {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub client_id: String,
    pub start_url: String,
}

#[derive(Debug, Default)]
struct State_ {
    clients: BTreeMap<String, Client>,
    /// By device code.
    devices: BTreeMap<String, DeviceAuth>,
    /// Access token → when it ends.
    tokens: BTreeMap<String, (Instant, IssuedSsoToken)>,
    calls: BTreeMap<SsoOperation, u64>,
    polls: Vec<Instant>,
    too_fast: u64,
    slow_down_next: u32,
    counter: u64,
}

#[derive(Debug)]
struct Shared {
    config: SsoConfig,
    state: Mutex<State_>,
    endpoint: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State_> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// A running SSO OIDC and portal server on loopback. Dropping it stops it.
#[derive(Debug)]
pub struct SsoServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    served: crate::served::Served,
}

impl SsoServer {
    /// Binds `config.listen` (loopback only) and serves in the background.
    pub async fn start(config: SsoConfig) -> io::Result<Self> {
        let listener = crate::served::bind_loopback(config.listen, "SSO test server").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State_::default()),
            endpoint: format!("http://{addr}"),
        });
        let served = crate::served::Served::start(listener, router(shared.clone()));
        tracing::debug!(%addr, "SSO test server listening");
        Ok(Self {
            addr,
            shared,
            served,
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint of both `sso_oidc` and `sso`.
    pub fn endpoint(&self) -> String {
        self.shared.endpoint.clone()
    }

    /// User codes waiting for the person's decision, oldest first.
    pub fn pending_user_codes(&self) -> Vec<String> {
        let state = self.shared.lock();
        state
            .devices
            .values()
            .filter(|d| d.decision == Decision::Pending)
            .map(|d| d.user_code.clone())
            .collect()
    }

    /// The person allows the sign-in with `user_code` on the verification page. Returns
    /// whether such a pending code exists.
    pub fn approve(&self, user_code: &str) -> bool {
        self.decide(user_code, Decision::Approved)
    }

    /// The person denies it.
    pub fn deny(&self, user_code: &str) -> bool {
        self.decide(user_code, Decision::Denied)
    }

    fn decide(&self, user_code: &str, decision: Decision) -> bool {
        let mut state = self.shared.lock();
        let found = state
            .devices
            .values_mut()
            .find(|d| d.user_code == user_code && d.decision == Decision::Pending);
        match found {
            Some(device) => {
                device.decision = decision;
                true
            }
            None => false,
        }
    }

    /// The next `count` token polls are answered `slow_down` (as when the service is busy).
    pub fn slow_down_next(&self, count: u32) {
        self.shared.lock().slow_down_next = count;
    }

    /// Calls of `op` so far.
    pub fn calls(&self, op: SsoOperation) -> u64 {
        self.shared.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// When each device code `CreateToken` poll arrived.
    pub fn token_polls(&self) -> Vec<Instant> {
        self.shared.lock().polls.clone()
    }

    /// Polls that came sooner than the interval asked for.
    pub fn polls_too_fast(&self) -> u64 {
        self.shared.lock().too_fast
    }

    /// Access tokens handed out so far.
    pub fn issued_tokens(&self) -> Vec<IssuedSsoToken> {
        self.shared
            .lock()
            .tokens
            .values()
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// The secret access key of the role credentials with `access_key_id`.
    pub fn secret_for(access_key_id: &str) -> String {
        format!("sso-secret-{access_key_id}")
    }

    /// Stops accepting, lets open requests finish (bounded by 5 s), and returns.
    pub async fn shutdown(mut self) {
        self.served.shutdown().await;
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/client/register", post(register_client))
        .route("/device_authorization", post(start_device_authorization))
        .route("/token", post(create_token))
        .route("/federation/credentials", get(get_role_credentials))
        .route("/_airgate/health", get(|| async { "ok" }))
        .with_state(shared)
}

/// An error of either service.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    /// `x-amzn-ErrorType`.
    kind: &'static str,
    body: Value,
}

impl ApiError {
    /// An OIDC error: its OAuth `error` code in the body.
    fn oauth(kind: &'static str, error: &str, description: &str) -> Self {
        let status = if kind == "InvalidClientException" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            kind,
            body: json!({ "error": error, "error_description": description }),
        }
    }

    fn portal(status: StatusCode, kind: &'static str, message: &str) -> Self {
        Self {
            status,
            kind,
            body: json!({ "message": message }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        response
            .headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        response
    }
}

fn count(shared: &Shared, op: SsoOperation) -> MutexGuard<'_, State_> {
    let mut state = shared.lock();
    *state.calls.entry(op).or_default() += 1;
    state
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh identifier: `prefix` and a counter mixed with the time (no two alike in a run).
fn fresh(state: &mut State_, prefix: &str) -> String {
    state.counter += 1;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{:x}{:04x}",
        nanos & 0xffff_ffff_ffff,
        state.counter
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterClientInput {
    client_name: Option<String>,
    client_type: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

async fn register_client(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let mut state = count(&shared, SsoOperation::RegisterClient);
    let input: RegisterClientInput = serde_json::from_slice(&body).map_err(|_| {
        ApiError::oauth(
            "InvalidRequestException",
            "invalid_request",
            "malformed body",
        )
    })?;
    if input.client_name.as_deref().unwrap_or_default().is_empty() {
        return Err(ApiError::oauth(
            "InvalidRequestException",
            "invalid_request",
            "clientName is required",
        ));
    }
    if input.client_type.as_deref() != Some("public") {
        return Err(ApiError::oauth(
            "InvalidClientMetadataException",
            "invalid_client_metadata",
            "clientType must be public",
        ));
    }
    let client_id = fresh(&mut state, "client-");
    let secret = fresh(&mut state, "client-secret-");
    state.clients.insert(
        client_id.clone(),
        Client {
            secret: secret.clone(),
            scopes: input.scopes,
        },
    );
    let issued = now_secs();
    let lifetime = i64::try_from(shared.config.registration_lifetime.as_secs()).unwrap_or(0);
    Ok(axum::Json(json!({
        "clientId": client_id,
        "clientSecret": secret,
        "clientIdIssuedAt": issued,
        "clientSecretExpiresAt": issued + lifetime,
    }))
    .into_response())
}

fn check_client<'a>(
    state: &'a State_,
    client_id: Option<&str>,
    secret: Option<&str>,
) -> Result<&'a Client, ApiError> {
    let invalid = || ApiError::oauth("InvalidClientException", "invalid_client", "Invalid client");
    let client = state
        .clients
        .get(client_id.ok_or_else(invalid)?)
        .ok_or_else(invalid)?;
    if Some(client.secret.as_str()) != secret {
        return Err(invalid());
    }
    Ok(client)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartDeviceAuthorizationInput {
    client_id: Option<String>,
    client_secret: Option<String>,
    start_url: Option<String>,
}

async fn start_device_authorization(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let mut state = count(&shared, SsoOperation::StartDeviceAuthorization);
    let input: StartDeviceAuthorizationInput = serde_json::from_slice(&body).map_err(|_| {
        ApiError::oauth(
            "InvalidRequestException",
            "invalid_request",
            "malformed body",
        )
    })?;
    check_client(
        &state,
        input.client_id.as_deref(),
        input.client_secret.as_deref(),
    )?;
    let Some(start_url) = input.start_url.filter(|u| !u.is_empty()) else {
        return Err(ApiError::oauth(
            "InvalidRequestException",
            "invalid_request",
            "startUrl is required",
        ));
    };
    let device_code = fresh(&mut state, "device-");
    state.counter += 1;
    let n = state.counter;
    let user_code = format!("{:04X}-{:04X}", (n * 7919) % 0xffff, (n * 104_729) % 0xffff);
    let interval = Duration::from_secs(shared.config.interval_secs);
    state.devices.insert(
        device_code.clone(),
        DeviceAuth {
            client_id: input.client_id.unwrap_or_default(),
            user_code: user_code.clone(),
            start_url,
            expires_at: Instant::now() + shared.config.code_lifetime,
            interval,
            last_poll: None,
            decision: Decision::Pending,
        },
    );
    let page = format!("{}/device", shared.endpoint);
    Ok(axum::Json(json!({
        "deviceCode": device_code,
        "userCode": user_code,
        "verificationUri": page,
        "verificationUriComplete": format!("{page}?user_code={user_code}"),
        "expiresIn": shared.config.code_lifetime.as_secs(),
        "interval": shared.config.interval_secs,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTokenInput {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    device_code: Option<String>,
    refresh_token: Option<String>,
}

/// How much sooner than the interval a poll may come (clock and scheduling slack).
const POLL_SLACK: Duration = Duration::from_millis(100);

async fn create_token(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let mut state = count(&shared, SsoOperation::CreateToken);
    let input: CreateTokenInput = serde_json::from_slice(&body).map_err(|_| {
        ApiError::oauth(
            "InvalidRequestException",
            "invalid_request",
            "malformed body",
        )
    })?;
    let client_id = input.client_id.clone().unwrap_or_default();
    let scoped = !check_client(
        &state,
        input.client_id.as_deref(),
        input.client_secret.as_deref(),
    )?
    .scopes
    .is_empty();
    let start_url = match input.grant_type.as_deref() {
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let now = Instant::now();
            state.polls.push(now);
            let forced = state.slow_down_next > 0;
            if forced {
                state.slow_down_next -= 1;
            }
            let invalid_grant =
                || ApiError::oauth("InvalidGrantException", "invalid_grant", "Invalid grant");
            let code = input.device_code.as_deref().ok_or_else(invalid_grant)?;
            let mut too_fast = false;
            let device = state.devices.get_mut(code).ok_or_else(invalid_grant)?;
            if device.client_id != client_id {
                return Err(invalid_grant());
            }
            if now >= device.expires_at {
                return Err(ApiError::oauth(
                    "ExpiredTokenException",
                    "expired_token",
                    "Device code has expired",
                ));
            }
            if let Some(last) = device.last_poll
                && now + POLL_SLACK < last + device.interval
            {
                too_fast = true;
            }
            device.last_poll = Some(now);
            if too_fast || forced {
                device.interval += Duration::from_secs(5);
            }
            let decision = device.decision;
            let start_url = device.start_url.clone();
            if too_fast {
                state.too_fast += 1;
            }
            if too_fast || forced {
                return Err(ApiError::oauth(
                    "SlowDownException",
                    "slow_down",
                    "Client is polling too quickly",
                ));
            }
            match decision {
                Decision::Pending => {
                    return Err(ApiError::oauth(
                        "AuthorizationPendingException",
                        "authorization_pending",
                        "Authorization is still pending",
                    ));
                }
                Decision::Denied => {
                    return Err(ApiError::oauth(
                        "AccessDeniedException",
                        "access_denied",
                        "The user denied the authorization",
                    ));
                }
                Decision::Used => return Err(invalid_grant()),
                Decision::Approved => {}
            }
            if let Some(device) = state.devices.get_mut(code) {
                device.decision = Decision::Used;
            }
            start_url
        }
        Some("refresh_token") => {
            let invalid_grant =
                || ApiError::oauth("InvalidGrantException", "invalid_grant", "Invalid grant");
            let given = input.refresh_token.as_deref().ok_or_else(invalid_grant)?;
            state
                .tokens
                .values()
                .find(|(_, t)| {
                    t.refresh_token.as_deref() == Some(given) && t.client_id == client_id
                })
                .map(|(_, t)| t.start_url.clone())
                .ok_or_else(invalid_grant)?
        }
        _ => {
            return Err(ApiError::oauth(
                "UnsupportedGrantTypeException",
                "unsupported_grant_type",
                "Unsupported grant type",
            ));
        }
    };
    let access_token = fresh(&mut state, "sso-access-");
    // As the real service: a refresh token only for clients registered with scopes.
    let refresh_token = scoped.then(|| fresh(&mut state, "sso-refresh-"));
    let issued = IssuedSsoToken {
        access_token: access_token.clone(),
        refresh_token: refresh_token.clone(),
        client_id,
        start_url,
    };
    state.tokens.insert(
        access_token.clone(),
        (Instant::now() + shared.config.token_lifetime, issued),
    );
    let mut answer = json!({
        "accessToken": access_token,
        "tokenType": "Bearer",
        "expiresIn": shared.config.token_lifetime.as_secs(),
    });
    if let Some(refresh_token) = refresh_token {
        answer["refreshToken"] = json!(refresh_token);
    }
    Ok(axum::Json(answer).into_response())
}

#[derive(Debug, Deserialize)]
struct RoleQuery {
    role_name: Option<String>,
    account_id: Option<String>,
}

async fn get_role_credentials(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<RoleQuery>,
) -> Result<Response, ApiError> {
    let state = count(&shared, SsoOperation::GetRoleCredentials);
    let unauthorized = || {
        ApiError::portal(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedException",
            "Session token not found or invalid",
        )
    };
    let token = headers
        .get("x-amz-sso_bearer_token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    match state.tokens.get(token) {
        Some((until, _)) if *until > Instant::now() => {}
        _ => return Err(unauthorized()),
    }
    let (Some(role), Some(account)) = (query.role_name, query.account_id) else {
        return Err(ApiError::portal(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "role_name and account_id are required",
        ));
    };
    let Some(access_key_id) = shared.config.roles.get(&(account, role)) else {
        return Err(ApiError::portal(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "No access",
        ));
    };
    let expiration = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() + 3_600_000)
        .unwrap_or(0);
    Ok(axum::Json(json!({
        "roleCredentials": {
            "accessKeyId": access_key_id,
            "secretAccessKey": SsoServer::secret_for(access_key_id),
            "sessionToken": format!("sso-session-token-{access_key_id}"),
            "expiration": u64::try_from(expiration).unwrap_or(u64::MAX),
        }
    }))
    .into_response())
}
