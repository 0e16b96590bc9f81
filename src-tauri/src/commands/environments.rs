use airgate_discovery::Discovery;

use super::run_core;
use crate::error::CmdResult;

/// Every MWAA environment of every AWS profile and region, with the sources that failed.
#[tauri::command]
#[specta::specta]
pub async fn list_environments() -> CmdResult<Discovery> {
    let discovery = run_core("Discovery of MWAA environments", async {
        let files = airgate_discovery::aws_files();
        airgate_discovery::discover(&files).await
    })
    .await?;
    Ok(discovery)
}
