use airgate_launch::{Browser, OpenSettings};
use serde::Serialize;
use tauri::State;

use crate::error::{CmdResult, Error};
use crate::state::AppState;
use crate::window::{CloseBehavior, WindowAction, close_behavior, save_close_behavior};

/// Open's settings as the Settings screen shows them, with the browsers found here.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub settings: OpenSettings,
    /// Browsers found at their usual places, in the order Open prefers them.
    pub browsers: Vec<Browser>,
    /// The browser Open uses with these settings (none when it is the Airgate window).
    pub chosen: Option<Browser>,
    /// Why no browser can be used with these settings.
    pub browser_problem: Option<String>,
    /// Why the settings file could not be read (the defaults apply; the file is kept).
    pub problem: Option<String>,
    /// What closing the main window does.
    pub close: CloseBehavior,
    /// The proxy auto-config file's URL, while it is served.
    pub pac_url: Option<String>,
    /// Why it is not served.
    pub pac_problem: Option<String>,
    /// The hosts it sends to tunnels right now.
    pub pac_routes: Vec<airgate_launch::pac::PacRoute>,
    /// Seconds between two listings of the environments with these settings (`None`: only
    /// when asked).
    pub refresh_every_secs: Option<u32>,
}

/// Seconds between two listings with `settings`; `None`: only when asked.
fn refresh_secs(settings: &OpenSettings) -> Option<u32> {
    settings
        .refresh_every()
        .map(|every| u32::try_from(every.as_secs()).unwrap_or(u32::MAX))
}

/// How often the window lists the environments again (seconds; `None`: only when asked), read
/// from the settings alone: the window asks at start, without looking for browsers.
#[tauri::command]
#[specta::specta]
pub async fn refresh_interval(state: State<'_, AppState>) -> CmdResult<Option<u32>> {
    // A settings file that cannot be read is reported on the Settings screen; the defaults apply.
    let settings = airgate_launch::settings::load(&state.data_dir).unwrap_or_default();
    Ok(refresh_secs(&settings))
}

fn view(state: &AppState, settings: OpenSettings, problem: Option<String>) -> SettingsView {
    let browsers = airgate_launch::browser::detect();
    let choice = settings.browser.as_deref();
    let (chosen, browser_problem) = if airgate_launch::browser::is_in_app(choice) {
        (None, None)
    } else {
        match airgate_launch::browser::choose_from(choice, browsers.clone()) {
            Ok(browser) => (Some(browser), None),
            Err(err) => (None, Some(err.to_string())),
        }
    };
    SettingsView {
        refresh_every_secs: refresh_secs(&settings),
        settings,
        browsers,
        chosen,
        browser_problem,
        problem,
        close: close_behavior(&state.data_dir),
        pac_url: state.pac.get().and_then(|p| p.url.clone().ok()),
        pac_problem: state.pac.get().and_then(|p| p.url.clone().err()),
        pac_routes: state
            .pac
            .get()
            .map(|p| p.routes.borrow().clone())
            .unwrap_or_default(),
    }
}

/// Open's settings and the browsers found on this machine.
#[tauri::command]
#[specta::specta]
pub async fn open_settings(state: State<'_, AppState>) -> CmdResult<SettingsView> {
    Ok(match airgate_launch::settings::load(&state.data_dir) {
        Ok(settings) => view(&state, settings, None),
        Err(err) => view(&state, OpenSettings::default(), Some(err.to_string())),
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
    settings
        .browser_overrides
        .retain(|id, b| !id.is_empty() && !b.trim().is_empty());
    airgate_launch::settings::save(&state.data_dir, &settings).map_err(Error::from)?;
    Ok(view(&state, settings, None))
}

/// The window's answer to `WindowCloseAsked`: keep Airgate in the tray (hide the window) or
/// quit; `remember` saves the choice so the window does not ask again.
#[tauri::command]
#[specta::specta]
pub async fn answer_close(
    state: State<'_, AppState>,
    keep_in_tray: bool,
    remember: bool,
) -> CmdResult<()> {
    if remember {
        let close = if keep_in_tray {
            CloseBehavior::KeepInTray
        } else {
            CloseBehavior::Quit
        };
        save_close_behavior(&state.data_dir, close).map_err(|source| Error::DataDir {
            path: state.data_dir.clone(),
            source,
        })?;
    }
    state.window.apply(if keep_in_tray {
        WindowAction::Hide
    } else {
        WindowAction::Quit
    });
    Ok(())
}

/// Sets what closing the main window does (Settings).
#[tauri::command]
#[specta::specta]
pub async fn set_close_behavior(
    state: State<'_, AppState>,
    close: CloseBehavior,
) -> CmdResult<CloseBehavior> {
    save_close_behavior(&state.data_dir, close).map_err(|source| Error::DataDir {
        path: state.data_dir.clone(),
        source,
    })?;
    Ok(close_behavior(&state.data_dir))
}
