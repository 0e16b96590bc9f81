//! Typed events sent to the UI, and the task that forwards tunnel changes to the UI and the tray.

use airgate_tunnel::{TunnelEvent, Tunnels};
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;
use tokio::sync::broadcast::error::RecvError;

use crate::tray;

/// A tunnel changed state (`tunnel-changed`).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct TunnelChanged(pub TunnelEvent);

/// One source of a listing has answered (`environments-found`): its environments, or why it
/// failed. The listing's own answer follows once every source has.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct EnvironmentsFound(pub airgate_discovery::SourceFound);

/// Where a listing's sources go as they answer: the window's `EnvironmentsFound` events (a
/// managed state, set up with the app).
#[derive(Clone)]
pub struct FoundSink(std::sync::Arc<dyn Fn(airgate_discovery::SourceFound) + Send + Sync>);

impl FoundSink {
    pub fn to_window<R: Runtime>(app: AppHandle<R>) -> Self {
        Self(std::sync::Arc::new(move |source| {
            if let Err(err) = EnvironmentsFound(source).emit(&app) {
                tracing::warn!(cause = %err, "cannot send a listed source to the window");
            }
        }))
    }

    pub fn send(&self, source: airgate_discovery::SourceFound) {
        (self.0)(source);
    }
}

impl std::fmt::Debug for FoundSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FoundSink")
    }
}

/// An IAM Identity Center sign-in waits for the person (`sso-code-shown`): the page to open and
/// the code it must show. Not secret: the code is only good with the device code Airgate keeps.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct SsoCodeShown {
    pub profile: String,
    pub user_code: String,
    /// The verification page, with the code filled in when the service gives one.
    pub url: String,
    /// How long the code can be approved.
    pub expires_in_secs: u32,
}

/// Where sign-in codes go: the window's `SsoCodeShown` events (a managed state).
#[derive(Clone)]
pub struct SsoCodeSink(std::sync::Arc<dyn Fn(SsoCodeShown) + Send + Sync>);

/// Set (to anything) on machines with no browser to open sign-in pages in (the window still
/// shows the page and the code).
pub const NO_BROWSER_ENV: &str = "AIRGATE_NO_BROWSER";

impl SsoCodeSink {
    /// Shows the code in the window and opens the page in the user's default browser, where
    /// their IAM Identity Center session lives (as `aws sso login` does).
    pub fn to_window<R: Runtime>(app: AppHandle<R>) -> Self {
        Self(std::sync::Arc::new(move |code| {
            if std::env::var_os(NO_BROWSER_ENV).is_none() {
                use tauri_plugin_opener::OpenerExt as _;
                if let Err(err) = app.opener().open_url(&code.url, None::<&str>) {
                    tracing::warn!(cause = %err, "cannot open the sign-in page");
                }
            }
            if let Err(err) = code.emit(&app) {
                tracing::warn!(cause = %err, "cannot send the sign-in code to the window");
            }
        }))
    }

    pub fn send(&self, code: SsoCodeShown) {
        (self.0)(code);
    }
}

impl std::fmt::Debug for SsoCodeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SsoCodeSink")
    }
}

/// A step of an Open changed (`open-progressed`).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct OpenProgressed(pub airgate_launch::OpenProgress);

/// The main window's close button was pressed and the user has not chosen what it does yet
/// (`window-close-asked`): the window asks, then calls `answer_close`.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct WindowCloseAsked;

/// The tray changed (`tray-changed`): what it shows now.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct TrayChanged(pub tray::TrayView);

/// Open's progress as `OpenProgressed` events to the window.
pub fn progress_sink<R: Runtime>(app: AppHandle<R>) -> crate::state::ProgressSink {
    crate::state::ProgressSink::new(move |progress| {
        if let Err(err) = OpenProgressed(progress).emit(&app) {
            tracing::warn!(cause = %err, "cannot send Open's progress to the window");
        }
    })
}

fn update_pac<R: Runtime>(app: &AppHandle<R>, states: &[TunnelEvent]) {
    if let Some(state) = app.try_state::<crate::state::AppState>() {
        crate::pac::update(&state, states);
    }
}

/// A tunnel's first Connect fixes its port for the next ones.
fn remember_port<R: Runtime>(app: &AppHandle<R>, event: &TunnelEvent) {
    let (Some(state), airgate_tunnel::TunnelState::Connected { port }) =
        (app.try_state::<crate::state::AppState>(), &event.state)
    else {
        return;
    };
    if let Err(err) = airgate_launch::ports::remember(&state.data_dir, &event.id, *port) {
        tracing::warn!(cause = %err, "cannot remember the tunnel's port");
    }
}

/// Forwards every tunnel change to the UI and the tray until the tunnels' task ends.
///
/// Subscribes before reading the current states, so no change falls in between.
pub fn spawn_forwarder<R: Runtime>(app: AppHandle<R>, tunnels: Tunnels) {
    let mut rx = tunnels.subscribe();
    tauri::async_runtime::spawn(async move {
        tray::replace_all(&app, tunnels.states().await);
        loop {
            match rx.recv().await {
                Ok(event) => {
                    remember_port(&app, &event);
                    tray::update(&app, &event);
                    update_pac(&app, &tunnels.states().await);
                    if let Err(err) = TunnelChanged(event).emit(&app) {
                        tracing::warn!(cause = %err, "cannot send a tunnel change to the window");
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "tunnel changes came too fast; reading current states"
                    );
                    let states = tunnels.states().await;
                    for event in &states {
                        if let Err(err) = TunnelChanged(event.clone()).emit(&app) {
                            tracing::warn!(cause = %err, "cannot send a tunnel change to the window");
                        }
                    }
                    update_pac(&app, &states);
                    tray::replace_all(&app, states);
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}
