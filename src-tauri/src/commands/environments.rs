use airgate_discovery::Discovery;
use tauri::State;

use super::run_core;
use crate::error::CmdResult;
use crate::state::AppState;

/// Every MWAA environment of every AWS profile and region, with the sources that failed.
#[tauri::command]
#[specta::specta]
pub async fn list_environments(state: State<'_, AppState>) -> CmdResult<Discovery> {
    let discovery = run_core("Discovery of MWAA environments", async {
        let files = airgate_discovery::aws_files();
        airgate_discovery::discover(&files).await
    })
    .await?;
    state.remember(&discovery);
    Ok(discovery)
}
