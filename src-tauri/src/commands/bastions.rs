use airgate_vault::BastionRecord;
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

/// The saved bastions.
#[tauri::command]
#[specta::specta]
pub async fn list_bastions(state: State<'_, AppState>) -> CmdResult<Vec<BastionRecord>> {
    Ok(state
        .with_vault("Reading saved bastions", |vault| vault.bastions())
        .await?)
}

/// Saves `bastion` (replacing the one named `replacing`, or else the one with the same name)
/// and returns every saved bastion. The core checks it: fields, its key, its jump hosts.
#[tauri::command]
#[specta::specta]
pub async fn save_bastion(
    state: State<'_, AppState>,
    bastion: BastionRecord,
    replacing: Option<String>,
) -> CmdResult<Vec<BastionRecord>> {
    let bastion = bastion.trimmed();
    Ok(state
        .with_vault("Saving the bastion", move |vault| {
            match &replacing {
                Some(old) => vault.replace_bastion(&bastion, old)?,
                None => vault.save_bastion(&bastion)?,
            }
            vault.bastions()
        })
        .await?)
}

/// What uses the saved bastion `name`: self-hosted Airflow web servers and bastions that jump
/// through it, by name, so the window can say what a delete changes.
#[tauri::command]
#[specta::specta]
pub async fn bastion_users(state: State<'_, AppState>, name: String) -> CmdResult<Vec<String>> {
    Ok(state
        .with_vault("Reading saved bastions", move |vault| {
            vault.bastion_users(&name)
        })
        .await?)
}

/// Deletes the saved bastion `name`; returns every saved bastion.
#[tauri::command]
#[specta::specta]
pub async fn delete_bastion(
    state: State<'_, AppState>,
    name: String,
) -> CmdResult<Vec<BastionRecord>> {
    Ok(state
        .with_vault("Deleting the bastion", move |vault| {
            vault.delete_bastion(&name)?;
            vault.bastions()
        })
        .await?)
}

/// The concrete hosts of `~/.ssh/config` (with `Include`s and defaults), to pick from.
#[tauri::command]
#[specta::specta]
pub async fn ssh_config_hosts(
    state: State<'_, AppState>,
) -> CmdResult<Vec<airgate_launch::ssh_config::SshHost>> {
    let Some((config, home)) = ssh_config() else {
        return Ok(Vec::new());
    };
    Ok(state
        .with_vault("Reading ~/.ssh/config", move |vault| {
            airgate_launch::ssh_config::read(vault, &config, &home)
        })
        .await?)
}

/// Saves the `~/.ssh/config` hosts named in `names` as bastions; their keys go into the
/// keyring when `import_keys`.
#[tauri::command]
#[specta::specta]
pub async fn import_ssh_config(
    state: State<'_, AppState>,
    names: Vec<String>,
    import_keys: bool,
) -> CmdResult<airgate_launch::ssh_config::SshImport> {
    let Some((config, home)) = ssh_config() else {
        return Ok(Default::default());
    };
    Ok(state
        .with_vault("Importing from ~/.ssh/config", move |vault| {
            let hosts = airgate_launch::ssh_config::read(vault, &config, &home)?;
            airgate_launch::ssh_config::import(vault, &hosts, &names, import_keys)
        })
        .await?)
}

/// `~/.ssh/config` and the home its `~` stands for; none without a home directory (then there
/// is no host to list or import).
fn ssh_config() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let platform = airgate_paths::Platform::current();
    Some((platform.ssh_config()?, platform.home?))
}

/// The saved bastion `name` as an `ssh -D` command line and a `~/.ssh/config` block (no secret).
#[tauri::command]
#[specta::specta]
pub async fn export_bastion(
    state: State<'_, AppState>,
    name: String,
) -> CmdResult<airgate_launch::keys::BastionExport> {
    Ok(state
        .with_vault("Reading the saved bastion", move |vault| {
            airgate_launch::keys::export_bastion(vault, &name, 8157)
        })
        .await?)
}

/// For each environment of the last list that a saved bastion serves (its rules), that
/// bastion's name, by environment id: the window preselects it for Open and Connect.
#[tauri::command]
#[specta::specta]
pub async fn preferred_bastions(
    state: State<'_, AppState>,
) -> CmdResult<std::collections::BTreeMap<String, String>> {
    let environments = state.environments();
    Ok(state
        .with_vault("Reading saved bastions", move |vault| {
            let saved = vault.bastions()?;
            Ok::<_, airgate_vault::Error>(
                environments
                    .iter()
                    .filter_map(|env| {
                        let id = env.id();
                        airgate_launch::keys::preferred_bastion(
                            &saved,
                            &id,
                            env.account(),
                            &env.region,
                        )
                        .map(|name| (id, name.to_owned()))
                    })
                    .collect(),
            )
        })
        .await?)
}
