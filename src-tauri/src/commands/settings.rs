use airgate_launch::{Browser, OpenSettings};
use serde::Serialize;
use tauri::State;

use crate::error::{CmdResult, Error};
use crate::state::AppState;

/// Open's settings as the Settings screen shows them, with the browsers found here.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub settings: OpenSettings,
    /// Browsers found at their usual places, in the order Open prefers them.
    pub browsers: Vec<Browser>,
    /// The browser Open uses with these settings.
    pub chosen: Option<Browser>,
    /// Why no browser can be used with these settings.
    pub browser_problem: Option<String>,
    /// Why the settings file could not be read (the defaults apply; the file is kept).
    pub problem: Option<String>,
}

fn view(settings: OpenSettings, problem: Option<String>) -> SettingsView {
    let (chosen, browser_problem) =
        match airgate_launch::browser::choose(settings.browser.as_deref()) {
            Ok(browser) => (Some(browser), None),
            Err(err) => (None, Some(err.to_string())),
        };
    SettingsView {
        settings,
        browsers: airgate_launch::browser::detect(),
        chosen,
        browser_problem,
        problem,
    }
}

/// Open's settings and the browsers found on this machine.
#[tauri::command]
#[specta::specta]
pub async fn open_settings(state: State<'_, AppState>) -> CmdResult<SettingsView> {
    Ok(match airgate_launch::settings::load(&state.data_dir) {
        Ok(settings) => view(settings, None),
        Err(err) => view(OpenSettings::default(), Some(err.to_string())),
    })
}

/// Saves Open's settings (atomically) and returns them as the screen shows them.
#[tauri::command]
#[specta::specta]
pub async fn save_open_settings(
    state: State<'_, AppState>,
    settings: OpenSettings,
) -> CmdResult<SettingsView> {
    let mut settings = settings;
    settings.browser = settings
        .browser
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty());
    settings.browser_args.retain(|a| !a.trim().is_empty());
    airgate_launch::settings::save(&state.data_dir, &settings).map_err(Error::from)?;
    Ok(view(settings, None))
}
