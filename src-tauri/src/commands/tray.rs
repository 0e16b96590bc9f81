use tauri::State;

use crate::error::{CmdResult, Error};
use crate::state::AppState;
use crate::tray::{TrayModel, TrayView};
use crate::window::WindowAction;

/// What the tray icon shows right now (state, tooltip, label), as last applied by the tray.
#[tauri::command]
#[specta::specta]
pub fn tray_status(tray: State<'_, TrayModel>) -> TrayView {
    tray.applied()
}

/// The favourite environments (ids: `profile/region/name`, or `self-hosted/name`), in the order
/// they were starred.
#[tauri::command]
#[specta::specta]
pub async fn favourites(state: State<'_, AppState>) -> CmdResult<Vec<String>> {
    Ok(airgate_launch::shortcuts::load(&state.data_dir)
        .map_err(Error::from)?
        .favourites)
}

/// Stars (or unstars) the environment `id`: a favourite stays in the tray's menu for Open.
/// Returns the favourites.
#[tauri::command]
#[specta::specta]
pub async fn set_favourite(
    state: State<'_, AppState>,
    id: String,
    favourite: bool,
) -> CmdResult<Vec<String>> {
    let shortcuts = airgate_launch::shortcuts::set_favourite(&state.data_dir, &id, favourite)
        .map_err(Error::from)?;
    state
        .window
        .apply(WindowAction::TrayShortcuts(shortcuts.ids()));
    Ok(shortcuts.favourites)
}
