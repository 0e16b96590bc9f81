//! The environment's page in the AWS console, opened in the user's own browser (where their
//! console session lives), from the details drawer's "Open in AWS console".

use std::sync::Arc;

use tauri::{AppHandle, Runtime, State};

use super::tunnels::EnvironmentRef;
use crate::error::{CmdResult, Error};
use crate::events::NO_BROWSER_ENV;
use crate::state::AppState;

/// Opens a page; the opener's error in words.
type OpenPage = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// Opens pages in the user's default browser (tauri-plugin-opener); with `AIRGATE_NO_BROWSER`
/// set it only logs them. A managed state, so that commands need no `AppHandle<R>`.
#[derive(Clone)]
pub struct SystemBrowser(Arc<OpenPage>);

impl SystemBrowser {
    pub fn new<R: Runtime>(app: AppHandle<R>) -> Self {
        Self(Arc::new(move |url| {
            if std::env::var_os(NO_BROWSER_ENV).is_some() {
                tracing::info!(%url, "{NO_BROWSER_ENV} is set: the page is not opened");
                return Ok(());
            }
            use tauri_plugin_opener::OpenerExt as _;
            app.opener()
                .open_url(url, None::<&str>)
                .map_err(|err| err.to_string())
        }))
    }

    fn open(&self, url: &str) -> Result<(), String> {
        (self.0)(url)
    }
}

impl std::fmt::Debug for SystemBrowser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemBrowser")
    }
}

/// Opens the MWAA console page of `environment` in the user's browser. The address comes from
/// the core (`airgate_discovery::console_url`), never from the window.
#[tauri::command]
#[specta::specta]
pub async fn open_console(
    state: State<'_, AppState>,
    browser: State<'_, SystemBrowser>,
    environment: EnvironmentRef,
) -> CmdResult<()> {
    let id = environment.tunnel_id();
    let env = state
        .environment(&environment.profile, &environment.region, &environment.name)
        .ok_or_else(|| Error::EnvironmentNotFound(id.clone()))?;
    let url = env.console_url();
    tracing::info!(env = %id, %url, "opening the AWS console page");
    if let Err(cause) = browser.open(&url) {
        tracing::warn!(env = %id, %cause, "cannot open the AWS console page");
        return Err(Error::Browser { url, cause }.into());
    }
    Ok(())
}
