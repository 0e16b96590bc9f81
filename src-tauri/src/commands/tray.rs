use tauri::State;

use crate::tray::{TrayModel, TrayView};

/// What the tray icon shows right now (state, tooltip, label), as last applied by the tray.
#[tauri::command]
#[specta::specta]
pub fn tray_status(tray: State<'_, TrayModel>) -> TrayView {
    tray.applied()
}
