//! Self-hosted Airflow web servers, added by hand and kept in the vault's records.

use airgate_vault::SelfHostedRecord;
use tauri::State;

use super::tunnels::{connect_tunnel, disconnect_tunnel_id, tunnel_spec};
use crate::error::{CmdResult, Error, Result};
use crate::state::AppState;

/// The self-hosted Airflow web servers added by hand.
#[tauri::command]
#[specta::specta]
pub async fn list_self_hosted(state: State<'_, AppState>) -> CmdResult<Vec<SelfHostedRecord>> {
    Ok(load(&state).await?)
}

/// Saves `airflow` (replacing the one with the same name; `previous` is the name it had when
/// it is renamed) and returns every saved one.
#[tauri::command]
#[specta::specta]
pub async fn save_self_hosted(
    state: State<'_, AppState>,
    airflow: SelfHostedRecord,
    previous: Option<String>,
) -> CmdResult<Vec<SelfHostedRecord>> {
    let mut airflow = airflow;
    airflow.name = airflow.name.trim().to_owned();
    airflow.url = airflow.url.trim().to_owned();
    airflow.validate().map_err(Error::from)?;
    if let Some(bastion) = &airflow.bastion {
        let bastion = bastion.clone();
        let known = state
            .with_vault("Reading saved bastions", |vault| vault.bastions())
            .await?;
        if !known.iter().any(|b| b.name == bastion) {
            return Err(Error::BastionNotFound(bastion).into());
        }
    }
    let saved = state
        .with_vault("Saving the Airflow web server", move |vault| {
            vault.save_self_hosted(&airflow)?;
            if let Some(previous) = previous.filter(|p| *p != airflow.name) {
                vault.delete_self_hosted(&previous)?;
            }
            vault.self_hosted()
        })
        .await?;
    state.remember_self_hosted(&saved);
    Ok(saved)
}

/// Removes the self-hosted Airflow `name` (closing its tunnel) and returns the rest.
#[tauri::command]
#[specta::specta]
pub async fn delete_self_hosted(
    state: State<'_, AppState>,
    name: String,
) -> CmdResult<Vec<SelfHostedRecord>> {
    let id = airgate_launch::self_hosted_id(&name);
    // Closing a tunnel that is not open is no error here.
    let _ = disconnect_tunnel_id(&state, id).await;
    let saved = state
        .with_vault("Removing the Airflow web server", move |vault| {
            vault.delete_self_hosted(&name)?;
            vault.self_hosted()
        })
        .await?;
    state.remember_self_hosted(&saved);
    Ok(saved)
}

/// Starts the tunnel of the self-hosted Airflow `name` through its saved bastion; returns its
/// SOCKS port on 127.0.0.1.
#[tauri::command]
#[specta::specta]
pub async fn connect_self_hosted(
    state: State<'_, AppState>,
    name: String,
    trust_once: Option<String>,
) -> CmdResult<u16> {
    let record = saved(&state, &name).await?;
    let Some(bastion) = record.bastion else {
        return Err(Error::InvalidInput(format!(
            "{name} is reached directly: it needs no tunnel. Pick a bastion for it to use one."
        ))
        .into());
    };
    let id = airgate_launch::self_hosted_id(&name);
    let spec = tunnel_spec(&state, bastion, &id, trust_once).await?;
    Ok(connect_tunnel(&state, id, spec).await?)
}

/// Closes the tunnel of the self-hosted Airflow `name`.
#[tauri::command]
#[specta::specta]
pub async fn disconnect_self_hosted(state: State<'_, AppState>, name: String) -> CmdResult<()> {
    let id = airgate_launch::self_hosted_id(&name);
    Ok(disconnect_tunnel_id(&state, id).await?)
}

/// The saved self-hosted Airflow `name`.
pub async fn saved(state: &AppState, name: &str) -> Result<SelfHostedRecord> {
    load(state)
        .await?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::EnvironmentNotFound(name.to_owned()))
}

async fn load(state: &AppState) -> Result<Vec<SelfHostedRecord>> {
    let saved = state
        .with_vault("Reading self-hosted Airflow web servers", |vault| {
            vault.self_hosted()
        })
        .await?;
    state.remember_self_hosted(&saved);
    Ok(saved)
}
