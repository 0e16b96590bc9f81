use airgate_discovery::Discovery;
use airgate_launch::inventory::{self, Inventory};
use tauri::State;

use super::run_core;
use crate::error::CmdResult;
use crate::events::FoundSink;
use crate::state::AppState;

/// Every MWAA environment of every AWS profile and region, with the sources that failed. Each
/// source also arrives as an `EnvironmentsFound` event as soon as it has answered, and the
/// result is cached for the next start.
#[tauri::command]
#[specta::specta]
pub async fn list_environments(
    state: State<'_, AppState>,
    found: State<'_, FoundSink>,
) -> CmdResult<Discovery> {
    let found = found.inner().clone();
    // A settings file that cannot be read is reported on the Settings screen; the defaults apply.
    let options = airgate_launch::settings::load(&state.data_dir)
        .unwrap_or_default()
        .discover_options();
    let discovery = run_core("Discovery of MWAA environments", async move {
        let files = airgate_discovery::aws_files();
        airgate_discovery::discover_streaming(&files, &options, &move |source| found.send(source))
            .await
    })
    .await?;
    state.remember(&discovery);
    let data_dir = state.data_dir.clone();
    let found = discovery.clone();
    let saved =
        tauri::async_runtime::spawn_blocking(move || inventory::save(&data_dir, &found)).await;
    match saved {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => tracing::warn!(cause = %err, "cannot cache the environments"),
        Err(err) => tracing::warn!(cause = %err, "cannot cache the environments"),
    }
    Ok(discovery)
}

/// The environments of the last listing (cached on disk), to show at once while
/// `list_environments` runs; `None` before the first listing.
#[tauri::command]
#[specta::specta]
pub async fn cached_environments(state: State<'_, AppState>) -> CmdResult<Option<Inventory>> {
    let data_dir = state.data_dir.clone();
    let cached = tauri::async_runtime::spawn_blocking(move || inventory::load(&data_dir))
        .await
        .unwrap_or_default();
    if let Some(cached) = &cached
        && state.environments().is_empty()
    {
        // Open and Connect work on the cached rows until the fresh list arrives.
        state.remember(&Discovery {
            environments: cached.environments.clone(),
            failures: Vec::new(),
            identities: cached.identities.clone(),
        });
    }
    Ok(cached)
}
