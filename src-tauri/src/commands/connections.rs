//! Airflow connections and tokens. The window sees what lists show (no password, no extra, no
//! token value); it sends a password or a token's value once, when the user types it.

use airgate_vault::{ConnectionRecord, Sensitive, TokenRecord};
use serde::Deserialize;
use tauri::State;

use crate::error::{CmdResult, Error};
use crate::state::AppState;

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
