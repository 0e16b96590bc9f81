//! Stored SSH keys. The window sees names, fingerprints and public keys, never a key's text;
//! a passphrase comes from the window's form and goes to the keyring or to memory.

use std::path::PathBuf;

use airgate_tunnel::{KeyKind, SecretText};
use airgate_vault::{KeyRecord, Sensitive};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

/// The stored keys.
#[tauri::command]
#[specta::specta]
pub async fn list_keys(state: State<'_, AppState>) -> CmdResult<Vec<KeyRecord>> {
    Ok(state
        .with_vault("Reading stored keys", |vault| vault.keys())
        .await?)
}

/// Imports the private key file at `path` as `name` (default: the file's name). An encrypted
/// key needs its `passphrase` (checked), kept in the keyring when `remember`, else asked for
/// when a connection needs it.
#[tauri::command]
#[specta::specta]
pub async fn import_key(
    state: State<'_, AppState>,
    path: PathBuf,
    name: Option<String>,
    passphrase: Option<String>,
    remember: bool,
) -> CmdResult<Vec<KeyRecord>> {
    let passphrase = passphrase.map(Sensitive::new);
    Ok(state
        .with_vault("Importing the key", move |vault| {
            airgate_launch::keys::import_key_file(
                vault,
                name.as_deref(),
                &path,
                passphrase,
                remember,
            )?;
            Ok::<_, airgate_launch::Error>(vault.keys()?)
        })
        .await?)
}

/// Makes a new key of `kind` as `name`; returns it (its public key to copy).
#[tauri::command]
#[specta::specta]
pub async fn generate_key(
    state: State<'_, AppState>,
    name: String,
    kind: KeyKind,
    comment: String,
) -> CmdResult<KeyRecord> {
    Ok(state
        .with_vault("Generating the key", move |vault| {
            airgate_launch::keys::generate_key(vault, &name, kind, &comment)
        })
        .await?)
}

/// Renames the stored key `from` to `to` (the bastions using it follow).
#[tauri::command]
#[specta::specta]
pub async fn rename_key(
    state: State<'_, AppState>,
    from: String,
    to: String,
) -> CmdResult<Vec<KeyRecord>> {
    let kept = state.passphrases().get(&from).cloned();
    let old = from.clone();
    let (record, keys) = state
        .with_vault("Renaming the key", move |vault| {
            let record = vault.rename_key(&from, &to)?;
            Ok::<_, airgate_vault::Error>((record, vault.keys()?))
        })
        .await?;
    if kept.is_some() {
        state.keep_passphrase(&old, None);
        state.keep_passphrase(&record.name, kept);
    }
    Ok(keys)
}

/// The saved bastions that log in with the stored key `name` (a delete asks about them).
#[tauri::command]
#[specta::specta]
pub async fn key_users(state: State<'_, AppState>, name: String) -> CmdResult<Vec<String>> {
    Ok(state
        .with_vault("Reading saved bastions", move |vault| {
            vault.key_users(&name)
        })
        .await?)
}

/// Deletes the stored key `name`, its text and passphrase.
#[tauri::command]
#[specta::specta]
pub async fn delete_key(state: State<'_, AppState>, name: String) -> CmdResult<Vec<KeyRecord>> {
    state.keep_passphrase(&name, None);
    Ok(state
        .with_vault("Deleting the key", move |vault| {
            vault.delete_key(&name)?;
            vault.keys()
        })
        .await?)
}

/// Unlocks the stored key `name` with `passphrase` (checked first): kept in the keyring when
/// `remember`, else in memory until Airgate quits. The window then retries what needed it.
#[tauri::command]
#[specta::specta]
pub async fn unlock_key(
    state: State<'_, AppState>,
    name: String,
    passphrase: String,
    remember: bool,
) -> CmdResult<KeyRecord> {
    let typed = SecretText::new(passphrase);
    let checked = typed.clone();
    let key = name.clone();
    let record = state
        .with_vault("Unlocking the key", move |vault| {
            airgate_launch::keys::check_passphrase(vault, &key, &checked)?;
            let kept = Sensitive::new(checked.expose().to_owned());
            let passphrase = remember.then_some(&kept);
            Ok::<_, airgate_launch::Error>(vault.set_key_passphrase(&key, passphrase)?)
        })
        .await?;
    state.keep_passphrase(&name, (!remember).then_some(typed));
    Ok(record)
}

/// Forgets the remembered passphrase of the stored key `name` (asked for on its next use).
#[tauri::command]
#[specta::specta]
pub async fn forget_key_passphrase(
    state: State<'_, AppState>,
    name: String,
) -> CmdResult<KeyRecord> {
    state.keep_passphrase(&name, None);
    Ok(state
        .with_vault("Forgetting the passphrase", move |vault| {
            vault.set_key_passphrase(&name, None)
        })
        .await?)
}
