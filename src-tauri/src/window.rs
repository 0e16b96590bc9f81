//! What closing the main window does: keep Airgate in the tray (tunnels stay up), or quit. The
//! first time, the window asks (`WindowCloseAsked`); the answer can be remembered in
//! `window.json` in the data directory, and changed in Settings.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, Window, WindowEvent};
use tauri_specta::Event as _;

use crate::events::WindowCloseAsked;
use crate::state::AppState;

const PREFERENCES_FILE: &str = "window.json";

/// What closing the main window does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum CloseBehavior {
    /// Ask, the first time.
    #[default]
    Ask,
    /// Hide the window; Airgate keeps running in the tray with its tunnels.
    KeepInTray,
    /// Quit: every tunnel closes.
    Quit,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Preferences {
    close: CloseBehavior,
}

/// The close behaviour saved in `data_dir` (Ask when none is, or the file cannot be read).
pub fn close_behavior(data_dir: &Path) -> CloseBehavior {
    std::fs::read_to_string(data_dir.join(PREFERENCES_FILE))
        .ok()
        .and_then(|text| serde_json::from_str::<Preferences>(&text).ok())
        .map(|p| p.close)
        .unwrap_or_default()
}

/// Saves the close behaviour atomically.
pub fn save_close_behavior(data_dir: &Path, close: CloseBehavior) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(&Preferences { close }).map_err(std::io::Error::other)?;
    airgate_launch::settings::write_atomically(&data_dir.join(PREFERENCES_FILE), &text)
}

/// What a command asks the shell to do with the main window or the tray.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowAction {
    Hide,
    Quit,
    /// The favourite and recent environments changed (ids, favourites first).
    TrayShortcuts(Vec<String>),
}

/// Carries out [`WindowAction`]s; set up with the app, kept in [`AppState`].
#[derive(Clone)]
pub struct WindowControl(Arc<dyn Fn(WindowAction) + Send + Sync>);

impl WindowControl {
    pub fn new<R: Runtime>(app: AppHandle<R>) -> Self {
        Self(Arc::new(move |action| match action {
            WindowAction::Hide => {
                if let Some(window) = app.get_webview_window("main")
                    && let Err(err) = window.hide()
                {
                    tracing::warn!(cause = %err, "cannot hide the window");
                }
            }
            WindowAction::Quit => app.exit(0),
            WindowAction::TrayShortcuts(ids) => crate::tray::set_shortcuts(&app, ids),
        }))
    }

    pub fn apply(&self, action: WindowAction) {
        (self.0)(action);
    }
}

impl std::fmt::Debug for WindowControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WindowControl")
    }
}

/// The main window's close button: hide to the tray, quit, or ask, as the user chose. Without
/// a tray there is nothing to come back to: closing quits.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    let WindowEvent::CloseRequested { api, .. } = event else {
        return;
    };
    tracing::debug!(window = window.label(), "close requested");
    if window.label() != "main"
        || window
            .app_handle()
            .tray_by_id(crate::tray::TRAY_ID)
            .is_none()
    {
        return;
    }
    let Some(state) = window.app_handle().try_state::<AppState>() else {
        return;
    };
    if state.is_shutting_down() {
        return;
    }
    match close_behavior(&state.data_dir) {
        CloseBehavior::Quit => {}
        CloseBehavior::KeepInTray => {
            api.prevent_close();
            if let Err(err) = window.hide() {
                tracing::warn!(cause = %err, "cannot hide the window");
            }
        }
        CloseBehavior::Ask => {
            api.prevent_close();
            if let Err(err) = WindowCloseAsked.emit(window.app_handle()) {
                tracing::warn!(cause = %err, "cannot ask the window what closing should do");
                let _ = window.hide();
            }
        }
    }
}
