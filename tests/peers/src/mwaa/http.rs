//! HTTP routes: the MWAA operations and the `/_airgate/` admin routes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::faults::{Call, ErrorCode, Fault, Operation};
use super::model::{
    EndpointManagement, EnvRecord, EnvironmentStatus, SeedEnvironment, SeedFile,
    WebserverAccessMode, derived_uuid, fnv1a,
};
use super::{IssuedToken, Shared};
use crate::web_token::{TOKEN_LIFETIME_SECS, TokenClaims, now_secs};

type Shared_ = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/environments", get(list_environments))
        .route(
            "/environments/{name}",
            get(get_environment)
                .put(create_environment)
                .delete(delete_environment),
        )
        .route("/webtoken/{name}", post(create_web_login_token))
        .route("/clitoken/{name}", post(create_cli_token))
        // STS answers here too, for the identity of a key (`GetCallerIdentity`).
        .route("/", post(sts_query))
        .route("/_airgate/health", get(|| async { "ok" }))
        .route(
            "/_airgate/faults",
            get(admin_faults)
                .post(admin_add_fault)
                .delete(admin_clear_faults),
        )
        .route("/_airgate/seed", post(admin_seed))
        .route("/_airgate/calls", get(admin_calls))
        .with_state(shared)
}

/// An MWAA error response.
#[derive(Debug)]
pub(crate) struct ApiError {
    code: ErrorCode,
    message: String,
}

impl ApiError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn not_found(name: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFoundException,
            format!("Environment {name} not found."),
        )
    }
}

fn request_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos();
    derived_uuid(&[&nanos.to_string(), "request"])
}

fn with_request_id(mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&request_id()) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(json!({ "message": self.message }))).into_response();
        response.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.code.as_str()),
        );
        with_request_id(response)
    }
}

fn ok(body: Value) -> Response {
    with_request_id(axum::Json(body).into_response())
}

/// The caller, from the SigV4 `Authorization` header.
struct Caller {
    access_key_id: String,
    account: String,
    region: String,
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller, ApiError> {
    authenticate_for(shared, headers, "airflow")
}

/// [`authenticate`] for a request signed for `service` (`airflow`, `sts`).
fn authenticate_for(
    shared: &Shared,
    headers: &HeaderMap,
    service_name: &str,
) -> Result<Caller, ApiError> {
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            ErrorCode::MissingAuthenticationTokenException,
            ErrorCode::MissingAuthenticationTokenException.default_message(),
        ));
    };
    let malformed = || {
        ApiError::new(
            ErrorCode::IncompleteSignatureException,
            "Authorization header requires 'Credential' parameter of the form \
             AKID/DATE/REGION/SERVICE/aws4_request.",
        )
    };
    let auth = auth.to_str().map_err(|_| malformed())?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(malformed)?;
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Credential="))
        .ok_or_else(malformed)?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = scope.as_slice() else {
        return Err(malformed());
    };
    if akid.is_empty() || date.len() != 8 || region.is_empty() || *terminator != "aws4_request" {
        return Err(malformed());
    }
    if *service != service_name {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            ErrorCode::InvalidSignatureException.default_message(),
        ));
    }
    let session_account = {
        let state = shared.lock();
        state
            .session_account
            .clone()
            .filter(|_| !state.access_keys.contains_key(*akid))
            .filter(|_| headers.contains_key("x-amz-security-token"))
    };
    let account = session_account
        .or_else(|| shared.account_for(akid))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnrecognizedClientException,
                ErrorCode::UnrecognizedClientException.default_message(),
            )
        })?;
    Ok(Caller {
        access_key_id: (*akid).to_owned(),
        account,
        region: (*region).to_owned(),
    })
}

/// Authentication, call counting, latency and faults: what every MWAA operation goes through.
async fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    op: Operation,
    name: Option<&str>,
) -> Result<Caller, ApiError> {
    let caller = authenticate(shared, headers)?;
    *shared.lock().calls.entry(op).or_default() += 1;
    if let Some(latency) = shared.faults.latency(op) {
        tokio::time::sleep(latency).await;
    }
    let call = Call {
        op,
        account: &caller.account,
        region: &caller.region,
        name,
    };
    if let Some((code, message)) = shared.faults.take_error(&call) {
        tracing::debug!(?op, code = code.as_str(), "injected fault");
        return Err(ApiError::new(code, message));
    }
    if let Some(name) = name {
        validate_name(name)?;
    }
    Ok(caller)
}

fn validate_name(name: &str) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let valid = name.len() <= 80
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::ValidationException,
            format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: \
                 ^[a-zA-Z][0-9a-zA-Z-_]*$"
            ),
        ))
    }
}

fn encode_token(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

async fn list_environments(
    State(shared): Shared_,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let caller = admit(&shared, &headers, Operation::ListEnvironments, None).await?;
    let page_size = match query.get("MaxResults") {
        None => shared.config.default_page_size.clamp(1, 25),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=25).contains(&n) => usize::try_from(n).unwrap_or(25),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::ValidationException,
                    format!(
                        "1 validation error detected: Value '{raw}' at 'maxResults' failed to \
                         satisfy constraint: Member must have value between 1 and 25"
                    ),
                ));
            }
        },
    };
    let after =
        match query.get("NextToken") {
            None => None,
            Some(token) => Some(decode_token(token).ok_or_else(|| {
                ApiError::new(ErrorCode::ValidationException, "Invalid NextToken.")
            })?),
        };
    let mut state = shared.lock();
    let envs = state.settle(&caller.account, &caller.region);
    let mut names = envs.keys().filter(|name| {
        after
            .as_ref()
            .is_none_or(|after| name.as_str() > after.as_str())
    });
    let page: Vec<String> = names.by_ref().take(page_size).cloned().collect();
    let more = names.next().is_some();
    let mut body = json!({ "Environments": page });
    if more && let (Some(last), Some(obj)) = (page.last(), body.as_object_mut()) {
        obj.insert("NextToken".to_owned(), Value::String(encode_token(last)));
    }
    Ok(ok(body))
}

async fn get_environment(
    State(shared): Shared_,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let caller = admit(&shared, &headers, Operation::GetEnvironment, Some(&name)).await?;
    let mut state = shared.lock();
    let record = state
        .settle(&caller.account, &caller.region)
        .get(&name)
        .ok_or_else(|| ApiError::not_found(&name))?;
    Ok(ok(json!({ "Environment": record.to_json() })))
}

fn required_str<'a>(body: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ValidationException,
                format!("1 validation error detected: {field} is required."),
            )
        })
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

async fn create_environment(
    State(shared): Shared_,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = admit(&shared, &headers, Operation::CreateEnvironment, Some(&name)).await?;
    let body: Value = serde_json::from_slice(&body).map_err(|err| {
        ApiError::new(
            ErrorCode::ValidationException,
            format!("Request body is not valid JSON: {err}"),
        )
    })?;
    let execution_role_arn = required_str(&body, "ExecutionRoleArn")?.to_owned();
    let source_bucket_arn = required_str(&body, "SourceBucketArn")?.to_owned();
    let dag_s3_path = required_str(&body, "DagS3Path")?.to_owned();
    let network = body.get("NetworkConfiguration").ok_or_else(|| {
        ApiError::new(
            ErrorCode::ValidationException,
            "1 validation error detected: NetworkConfiguration is required.",
        )
    })?;
    let mut seed = SeedEnvironment::new(name.clone());
    seed.status = EnvironmentStatus::Creating;
    seed.execution_role_arn = Some(execution_role_arn);
    seed.source_bucket_arn = Some(source_bucket_arn);
    seed.dag_s3_path = dag_s3_path;
    seed.subnet_ids = string_list(network.get("SubnetIds"));
    seed.security_group_ids = string_list(network.get("SecurityGroupIds"));
    if let Some(version) = body.get("AirflowVersion").and_then(Value::as_str) {
        seed.airflow_version = version.to_owned();
    }
    if let Some(class) = body.get("EnvironmentClass").and_then(Value::as_str) {
        seed.environment_class = class.to_owned();
    }
    seed.webserver_access_mode = match body.get("WebserverAccessMode").and_then(Value::as_str) {
        None | Some("PRIVATE_ONLY") => WebserverAccessMode::PrivateOnly,
        Some("PUBLIC_ONLY") => WebserverAccessMode::PublicOnly,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::ValidationException,
                format!("Invalid WebserverAccessMode {other}: use PRIVATE_ONLY or PUBLIC_ONLY."),
            ));
        }
    };
    seed.endpoint_management = match body.get("EndpointManagement").and_then(Value::as_str) {
        None | Some("SERVICE") => EndpointManagement::Service,
        Some("CUSTOMER") => EndpointManagement::Customer,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::ValidationException,
                format!("Invalid EndpointManagement {other}: use SERVICE or CUSTOMER."),
            ));
        }
    };
    if let Some(options) = body
        .get("AirflowConfigurationOptions")
        .and_then(Value::as_object)
    {
        for (key, value) in options {
            let Some(value) = value.as_str() else {
                return Err(ApiError::new(
                    ErrorCode::ValidationException,
                    format!("AirflowConfigurationOptions {key} must be a string."),
                ));
            };
            seed.airflow_configuration_options
                .insert(key.clone(), value.to_owned());
        }
    }
    if let Some(tags) = body.get("Tags").and_then(Value::as_object) {
        for (key, value) in tags {
            if let Some(value) = value.as_str() {
                seed.tags.insert(key.clone(), value.to_owned());
            }
        }
    }
    let mut record = EnvRecord::new(&caller.account, &caller.region, seed);
    record.available_at = Some(Instant::now() + shared.config.create_delay);
    let arn = record.arn.clone();
    let mut state = shared.lock();
    let envs = state.settle(&caller.account, &caller.region);
    if envs.contains_key(&name) {
        return Err(ApiError::new(
            ErrorCode::ValidationException,
            format!("Environment {name} already exists."),
        ));
    }
    envs.insert(name, record);
    Ok(ok(json!({ "Arn": arn })))
}

async fn delete_environment(
    State(shared): Shared_,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let caller = admit(&shared, &headers, Operation::DeleteEnvironment, Some(&name)).await?;
    let delay = shared.config.delete_delay;
    let mut state = shared.lock();
    let record = state
        .settle(&caller.account, &caller.region)
        .get_mut(&name)
        .ok_or_else(|| ApiError::not_found(&name))?;
    record.seed.status = EnvironmentStatus::Deleting;
    record.available_at = None;
    record.remove_at = Some(Instant::now() + delay);
    Ok(ok(json!({})))
}

/// Looks the environment up for a token and records the token.
fn issue_token(
    shared: &Shared,
    caller: &Caller,
    op: Operation,
    name: &str,
) -> Result<(String, String), ApiError> {
    let mut state = shared.lock();
    let host = {
        let record = state
            .settle(&caller.account, &caller.region)
            .get(name)
            .ok_or_else(|| ApiError::not_found(name))?;
        record.webserver_host().ok_or_else(|| {
            ApiError::new(
                ErrorCode::ValidationException,
                format!(
                    "Environment {name} is {} and has no web server yet.",
                    record.seed.status.as_str()
                ),
            )
        })?
    };
    state.token_counter += 1;
    let counter = state.token_counter.to_string();
    let token = if op == Operation::CreateWebLoginToken {
        // Signed, so the environment's web server can check it was minted here, for it.
        shared.config.token_key.mint(&TokenClaims {
            env: name.to_owned(),
            account: caller.account.clone(),
            region: caller.region.clone(),
            host: host.clone(),
            identity: format!("assumed-role/Airgate/{}", caller.access_key_id),
            expires_at: now_secs() + TOKEN_LIFETIME_SECS,
            nonce: state.token_counter,
        })
    } else {
        let a = fnv1a(&[&caller.account, &caller.region, name, &counter]);
        let b = fnv1a(&[&format!("{a:x}"), &request_id()]);
        format!("{a:016x}{b:016x}")
    };
    state.tokens.push(IssuedToken {
        operation: op,
        account: caller.account.clone(),
        region: caller.region.clone(),
        environment: name.to_owned(),
        token: token.clone(),
    });
    Ok((token, host))
}

async fn create_web_login_token(
    State(shared): Shared_,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let caller = admit(
        &shared,
        &headers,
        Operation::CreateWebLoginToken,
        Some(&name),
    )
    .await?;
    let (token, host) = issue_token(&shared, &caller, Operation::CreateWebLoginToken, &name)?;
    let session = &caller.access_key_id;
    Ok(ok(json!({
        "WebToken": token,
        "WebServerHostname": host,
        "IamIdentity": format!("arn:aws:sts::{}:assumed-role/Airgate/{session}", caller.account),
        "AirflowIdentity": format!("assumed-role/Airgate/{session}"),
    })))
}

async fn create_cli_token(
    State(shared): Shared_,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let caller = admit(&shared, &headers, Operation::CreateCliToken, Some(&name)).await?;
    let (token, host) = issue_token(&shared, &caller, Operation::CreateCliToken, &name)?;
    Ok(ok(json!({ "CliToken": token, "WebServerHostname": host })))
}

async fn admin_faults(State(shared): Shared_) -> Response {
    axum::Json(shared.faults.snapshot()).into_response()
}

fn bad_request(err: serde_json::Error) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "message": err.to_string() })),
    )
        .into_response()
}

async fn admin_add_fault(State(shared): Shared_, body: Bytes) -> Response {
    match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => {
            shared.faults.apply(fault);
            axum::Json(shared.faults.snapshot()).into_response()
        }
        Err(err) => bad_request(err),
    }
}

async fn admin_clear_faults(State(shared): Shared_) -> Response {
    shared.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_seed(State(shared): Shared_, body: Bytes) -> Response {
    match serde_json::from_slice::<SeedFile>(&body) {
        Ok(file) => {
            shared.lock().access_keys.extend(file.access_keys);
            let mut seeded = Vec::new();
            for entry in file.environments {
                let done = shared.seed(&entry.account, &entry.region, entry.environment);
                seeded.push(json!({ "Arn": done.arn, "WebserverUrl": done.webserver_host }));
            }
            axum::Json(json!({ "Seeded": seeded })).into_response()
        }
        Err(err) => bad_request(err),
    }
}

async fn admin_calls(State(shared): Shared_) -> Response {
    axum::Json(shared.lock().calls.clone()).into_response()
}

/// STS's query protocol at `/`: `GetCallerIdentity` names the account of the signing key (the
/// same mapping MWAA uses), so a profile pointed at this server learns its identity.
async fn sts_query(State(shared): Shared_, headers: HeaderMap, body: Bytes) -> Response {
    // `Action` and `Version` are plain words: no percent-decoding is needed for them.
    let body = String::from_utf8_lossy(&body);
    let form: HashMap<&str, &str> = body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    let sts_error = |status: StatusCode, code: &str, message: &str| {
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>{}</RequestId></ErrorResponse>",
            request_id()
        );
        (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
    };
    let caller = match authenticate_for(&shared, &headers, "sts") {
        Ok(caller) => caller,
        Err(err) => {
            return sts_error(StatusCode::FORBIDDEN, "InvalidClientTokenId", &err.message);
        }
    };
    match form.get("Action").copied() {
        Some("GetCallerIdentity") => {
            *shared
                .lock()
                .calls
                .entry(Operation::GetCallerIdentity)
                .or_default() += 1;
            let account = &caller.account;
            let user = &caller.access_key_id;
            let body = format!(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                 <GetCallerIdentityResult><Arn>arn:aws:iam::{account}:user/{user}</Arn>\
                 <UserId>AIDA{user}</UserId><Account>{account}</Account></GetCallerIdentityResult>\
                 <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
                 </GetCallerIdentityResponse>",
                request_id()
            );
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
        }
        other => sts_error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!("Could not find operation {}", other.unwrap_or("")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tokens_round_trip() {
        assert_eq!(
            decode_token(&encode_token("env-01")).as_deref(),
            Some("env-01")
        );
        assert_eq!(decode_token("zz"), None);
        assert_eq!(decode_token("abc"), None);
    }

    #[test]
    fn names_follow_the_mwaa_pattern() {
        assert!(validate_name("prod-eu_1").is_ok());
        assert!(validate_name("1prod").is_err());
        assert!(validate_name("a b").is_err());
    }
}
