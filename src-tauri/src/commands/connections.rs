//! Airflow connections and tokens. The window sees what lists show (no password, no extra, no
//! token value); it sends a password or a token's value once, when the user types it. Copying
//! one puts it on the clipboard from here; pushing and pulling go to AWS Secrets Manager with
//! the profile and region of an environment.

use airgate_discovery::{ConnectionsPrefix, SecretsManager};
use airgate_launch::connections::{self as conns, ConnImport, ConnPush};
use airgate_vault::{ConnectionRecord, Sensitive, TokenRecord};
use serde::{Deserialize, Serialize};
use tauri::State;

use super::tunnels::EnvironmentRef;
use crate::clipboard::SecretClipboard;
use crate::error::{CmdResult, Error, Result};
use crate::state::AppState;

/// What a copy did, for the window to say.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Copied {
    /// When the clipboard is cleared (if it still holds the secret then).
    pub clear_after_secs: u32,
}

/// Copies the password of the connection `conn_id` to the clipboard; it is cleared after the
/// settings' delay.
#[tauri::command]
#[specta::specta]
pub async fn copy_connection_password(
    state: State<'_, AppState>,
    clipboard: State<'_, SecretClipboard>,
    conn_id: String,
) -> CmdResult<Copied> {
    let id = conn_id.clone();
    let secret = state
        .with_vault("Reading the connection", move |vault| vault.connection(&id))
        .await?
        .and_then(|(_, secrets)| secrets.password)
        .ok_or_else(|| Error::InvalidInput(format!("{conn_id} has no stored password.")))?;
    Ok(copy(&state, &clipboard, secret)?)
}

/// Copies the value of the token `name` to the clipboard; it is cleared after the settings'
/// delay.
#[tauri::command]
#[specta::specta]
pub async fn copy_token(
    state: State<'_, AppState>,
    clipboard: State<'_, SecretClipboard>,
    name: String,
) -> CmdResult<Copied> {
    let token = name.clone();
    let secret = state
        .with_vault("Reading the token", move |vault| vault.token(&token))
        .await?
        .ok_or_else(|| Error::InvalidInput(format!("There is no stored token {name}.")))?;
    Ok(copy(&state, &clipboard, secret)?)
}

fn copy(
    state: &AppState,
    clipboard: &SecretClipboard,
    secret: Sensitive<String>,
) -> Result<Copied> {
    let clear_after = airgate_launch::settings::load(&state.data_dir)
        .unwrap_or_default()
        .clipboard_clear_after();
    clipboard
        .copy(secret, clear_after)
        .map_err(|e| Error::InvalidInput(format!("The clipboard cannot be written ({e}).")))?;
    Ok(Copied {
        clear_after_secs: u32::try_from(clear_after.as_secs()).unwrap_or(u32::MAX),
    })
}

/// Where `environment`'s Airflow reads connections in Secrets Manager.
#[tauri::command]
#[specta::specta]
pub async fn connections_prefix(
    state: State<'_, AppState>,
    environment: EnvironmentRef,
) -> CmdResult<ConnectionsPrefix> {
    Ok(prefix_of(&state, &environment).await?)
}

/// The environment `environment` names, as last listed.
fn listed(
    state: &AppState,
    environment: &EnvironmentRef,
) -> Result<airgate_discovery::Environment> {
    state
        .environment(&environment.profile, &environment.region, &environment.name)
        .ok_or_else(|| Error::EnvironmentNotFound(environment.tunnel_id()))
}

async fn prefix_of(state: &AppState, environment: &EnvironmentRef) -> Result<ConnectionsPrefix> {
    let env = listed(state, environment)?;
    Ok(airgate_discovery::environment_connections_prefix(
        &airgate_discovery::aws_files(),
        &env.profile,
        &env.region,
        &env.name,
    )
    .await
    .map_err(airgate_launch::Error::from)?)
}

/// Secrets Manager with the environment's profile and region, and its prefix.
async fn target(
    state: &AppState,
    environment: &EnvironmentRef,
) -> Result<(SecretsManager, ConnectionsPrefix)> {
    let env = listed(state, environment)?;
    Ok(SecretsManager::for_environment(
        &airgate_discovery::aws_files(),
        &env.profile,
        &env.region,
        &env.name,
    )
    .await
    .map_err(airgate_launch::Error::from)?)
}

/// Writes `conn_ids` (every stored connection when empty) to Secrets Manager where
/// `environment`'s Airflow reads them.
#[tauri::command]
#[specta::specta]
pub async fn push_connections(
    state: State<'_, AppState>,
    environment: EnvironmentRef,
    conn_ids: Vec<String>,
) -> CmdResult<ConnPush> {
    let values = state
        .with_vault("Reading the connections", move |vault| {
            conns::push_values(vault, &conn_ids, false)
        })
        .await?;
    let (manager, prefix) = target(&state, &environment).await?;
    Ok(conns::push(&manager, &prefix, &values).await)
}

/// Stores the connections under `environment`'s prefix in Secrets Manager (kept when stored
/// already, unless `replace`).
#[tauri::command]
#[specta::specta]
pub async fn pull_connections(
    state: State<'_, AppState>,
    environment: EnvironmentRef,
    replace: bool,
) -> CmdResult<ConnImport> {
    let (manager, prefix) = target(&state, &environment).await?;
    let (connections, problems) = conns::fetch(&manager, &prefix, &[])
        .await
        .map_err(Error::from)?;
    let mut report = state
        .with_vault("Storing the connections", move |vault| {
            conns::store_pulled(vault, &connections, replace)
        })
        .await?;
    report.problems.splice(0..0, problems);
    Ok(report)
}

/// A connection as the form sends it.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInput {
    pub conn_id: String,
    pub conn_type: String,
    pub host: Option<String>,
    pub schema: Option<String>,
    pub login: Option<String>,
    pub port: Option<u16>,
    pub description: Option<String>,
    /// A new password; `None` keeps the stored one when `keep_secrets`.
    pub password: Option<String>,
    /// A new extra (JSON); `None` keeps the stored one when `keep_secrets`.
    pub extra: Option<String>,
    /// Keep the stored password and extra where the form left them empty (an edit).
    pub keep_secrets: bool,
    /// The conn_id before an edit, when it was renamed.
    pub replacing: Option<String>,
}

/// The stored connections.
#[tauri::command]
#[specta::specta]
pub async fn list_connections(state: State<'_, AppState>) -> CmdResult<Vec<ConnectionRecord>> {
    Ok(state
        .with_vault("Reading Airflow connections", |vault| vault.connections())
        .await?)
}

/// Saves a connection; returns every stored one.
#[tauri::command]
#[specta::specta]
pub async fn save_connection(
    state: State<'_, AppState>,
    connection: ConnectionInput,
) -> CmdResult<Vec<ConnectionRecord>> {
    let blank = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let extra = blank(connection.extra.clone());
    if let Some(extra) = &extra
        && let Err(e) = serde_json::from_str::<serde_json::Value>(extra)
    {
        return Err(Error::InvalidInput(format!(
            "The extra field is not JSON ({e}). Write it as a JSON object, e.g. {{\"sslmode\": \"require\"}}."
        ))
        .into());
    }
    let record = ConnectionRecord {
        conn_id: connection.conn_id.clone(),
        conn_type: connection.conn_type.clone(),
        host: blank(connection.host.clone()),
        schema: blank(connection.schema.clone()),
        login: blank(connection.login.clone()),
        port: connection.port,
        description: blank(connection.description.clone()),
        has_password: false,
        has_extra: false,
    };
    let password = connection
        .password
        .filter(|p| !p.is_empty())
        .map(Sensitive::new);
    let extra = extra.map(Sensitive::new);
    let keep = connection.keep_secrets;
    let replacing = connection.replacing;
    Ok(state
        .with_vault("Saving the connection", move |vault| {
            let kept = match (keep, &replacing) {
                (true, Some(old)) => vault.connection(old)?,
                (true, None) => vault.connection(&record.conn_id)?,
                (false, _) => None,
            }
            .map(|(_, secrets)| secrets)
            .unwrap_or_default();
            let password = password.or(kept.password);
            let extra = extra.or(kept.extra);
            let saved = vault.save_connection(&record, password.as_ref(), extra.as_ref())?;
            if let Some(old) = replacing.filter(|old| *old != saved.conn_id) {
                vault.delete_connection(&old)?;
            }
            vault.connections()
        })
        .await?)
}

/// Deletes the connection `conn_id`; returns every stored one.
#[tauri::command]
#[specta::specta]
pub async fn delete_connection(
    state: State<'_, AppState>,
    conn_id: String,
) -> CmdResult<Vec<ConnectionRecord>> {
    Ok(state
        .with_vault("Deleting the connection", move |vault| {
            vault.delete_connection(&conn_id)?;
            vault.connections()
        })
        .await?)
}

/// The stored tokens (names and notes).
#[tauri::command]
#[specta::specta]
pub async fn list_tokens(state: State<'_, AppState>) -> CmdResult<Vec<TokenRecord>> {
    Ok(state
        .with_vault("Reading tokens", |vault| vault.tokens())
        .await?)
}

/// Stores a token; returns every stored one.
#[tauri::command]
#[specta::specta]
pub async fn save_token(
    state: State<'_, AppState>,
    token: TokenRecord,
    value: String,
) -> CmdResult<Vec<TokenRecord>> {
    if value.is_empty() {
        return Err(Error::InvalidInput("The token is empty: paste its value.".to_owned()).into());
    }
    let value = Sensitive::new(value);
    Ok(state
        .with_vault("Saving the token", move |vault| {
            vault.save_token(&token, &value)?;
            vault.tokens()
        })
        .await?)
}

/// Deletes the token `name`; returns every stored one.
#[tauri::command]
#[specta::specta]
pub async fn delete_token(state: State<'_, AppState>, name: String) -> CmdResult<Vec<TokenRecord>> {
    Ok(state
        .with_vault("Deleting the token", move |vault| {
            vault.delete_token(&name)?;
            vault.tokens()
        })
        .await?)
}
