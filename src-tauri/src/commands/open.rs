use airgate_launch::open::{Launch, OpenRequest};
use airgate_launch::{OpenProgress, OpenTarget};
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime, State};

use super::run_core;
use super::tunnels::{EnvironmentRef, tunnel_spec};
use crate::error::{CmdResult, Error, Result};
use crate::state::AppState;

/// What an Open did, for the window (the login URL and its token never reach it).
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OpenOutcome {
    /// The tunnel's SOCKS port when the route is a tunnel.
    pub socks_port: Option<u16>,
    pub reused_tunnel: bool,
    pub browser: Option<String>,
    /// From the click to the browser's start.
    pub elapsed_ms: u32,
}

/// Opens `environment`'s Airflow UI, logged in: starts (or reuses) its tunnel through
/// `bastion` when it is private, mints a login token, starts its browser. Each step arrives as
/// an `OpenProgressed` event.
#[tauri::command]
#[specta::specta]
pub async fn open_environment(
    state: State<'_, AppState>,
    environment: EnvironmentRef,
    bastion: Option<String>,
    trust_once: Option<String>,
) -> CmdResult<OpenOutcome> {
    Ok(Box::pin(open(&state, environment, bastion, trust_once)).await?)
}

/// The Open the window's button and the tray's menu both do.
pub async fn open(
    state: &AppState,
    environment: EnvironmentRef,
    bastion: Option<String>,
    trust_once: Option<String>,
) -> Result<OpenOutcome> {
    let env = state
        .environment(&environment.profile, &environment.region, &environment.name)
        .ok_or_else(|| Error::EnvironmentNotFound(environment.tunnel_id()))?;
    open_target(state, OpenTarget::from(&env), bastion, trust_once).await
}

/// Opens the self-hosted Airflow `name` through its saved route.
#[tauri::command]
#[specta::specta]
pub async fn open_self_hosted(
    state: State<'_, AppState>,
    name: String,
    trust_once: Option<String>,
) -> CmdResult<OpenOutcome> {
    Ok(open_saved_self_hosted(&state, name, trust_once).await?)
}

async fn open_saved_self_hosted(
    state: &AppState,
    name: String,
    trust_once: Option<String>,
) -> Result<OpenOutcome> {
    let record = super::self_hosted::saved(state, &name).await?;
    let target = OpenTarget::from_self_hosted(&record)?;
    open_target(state, target, record.bastion, trust_once).await
}

/// Runs Open on `target`; `bastion` starts its tunnel when it is private and not up (without
/// one, the bastion of its last Open, else the first saved one). A successful Open becomes the
/// latest of the tray's recent environments.
async fn open_target(
    state: &AppState,
    target: OpenTarget,
    bastion: Option<String>,
    trust_once: Option<String>,
) -> Result<OpenOutcome> {
    let id = target.id.clone();
    let bastion = match bastion {
        Some(name) => Some(name),
        None if target.private && !tunnel_up(state, &id).await => {
            fallback_bastion(state, &id).await
        }
        None => None,
    };
    let used = bastion.clone();
    let tunnel = match bastion {
        Some(name) => Some(tunnel_spec(state, name, &id, trust_once).await?),
        None => None,
    };
    let settings = airgate_launch::settings::load(&state.data_dir)?;
    let force_tunnel = settings.force_tunnel;
    let choice = settings.browser_for(&id);
    let launch = if airgate_launch::browser::is_in_app(choice) {
        Launch::Window {
            windows: state.airflow_windows.clone(),
            profiles: state.data_dir.join("windows"),
            certificates: settings.window_certificates.clone(),
        }
    } else {
        Launch::Browser {
            browser: airgate_launch::browser::choose(choice)?,
            profiles: state.data_dir.join("browsers"),
            extra_args: settings.browser_args.clone(),
        }
    };
    let request = OpenRequest {
        target,
        tunnel,
        aws: airgate_discovery::aws_files(),
        launch,
        force_tunnel,
    };
    let tunnels = state.tunnels.clone();
    let browsers = state.browsers.clone();
    let sink = state.progress.clone();
    let opened = run_core("Opening the environment", async move {
        let report = move |progress: OpenProgress| sink.send(progress);
        airgate_launch::open(request, &tunnels, &browsers, &report).await
    })
    .await??;
    match airgate_launch::shortcuts::record_open(&state.data_dir, &id, used.as_deref()) {
        Ok(shortcuts) => state
            .window
            .apply(crate::window::WindowAction::TrayShortcuts(shortcuts.ids())),
        Err(err) => tracing::warn!(cause = %err, "cannot remember the Open"),
    }
    Ok(OpenOutcome {
        socks_port: opened.socks_port,
        reused_tunnel: opened.reused_tunnel,
        browser: opened.browser,
        elapsed_ms: u32::try_from(opened.elapsed.as_millis()).unwrap_or(u32::MAX),
    })
}

async fn tunnel_up(state: &AppState, id: &str) -> bool {
    matches!(
        state.tunnels.state(id).await,
        Some(airgate_tunnel::TunnelState::Connected { .. })
    )
}

/// The saved bastion that serves `id` by its rules, else the one of its last Open while it is
/// still saved, else the first saved one.
async fn fallback_bastion(state: &AppState, id: &str) -> Option<String> {
    let saved = state
        .with_vault("Reading saved bastions", |vault| vault.bastions())
        .await
        .ok()?;
    let serving = EnvironmentRef::from_tunnel_id(id)
        .and_then(|env| state.environment(&env.profile, &env.region, &env.name))
        .and_then(|env| {
            airgate_launch::keys::preferred_bastion(&saved, id, env.account(), &env.region)
                .map(str::to_owned)
        });
    let last = airgate_launch::shortcuts::load(&state.data_dir)
        .ok()
        .and_then(|s| s.bastion_of(id).map(str::to_owned));
    serving
        .or(last.filter(|name| saved.iter().any(|b| &b.name == name)))
        .or_else(|| saved.first().map(|b| b.name.clone()))
}

/// Open from the tray: a running tunnel, or a favourite or recent environment (its tunnel goes
/// through the bastion of its last Open; a self-hosted Airflow names its own).
pub fn open_from_tray<R: Runtime>(app: &AppHandle<R>, tunnel_id: &str) {
    let self_hosted = airgate_launch::self_hosted_name(tunnel_id).map(str::to_owned);
    let environment = EnvironmentRef::from_tunnel_id(tunnel_id);
    if self_hosted.is_none() && environment.is_none() {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let opened = match (self_hosted, environment) {
            (Some(name), _) => open_saved_self_hosted(&state, name, None).await,
            (None, Some(environment)) => Box::pin(open(&state, environment, None, None)).await,
            (None, None) => return,
        };
        if let Err(err) = opened {
            tracing::warn!(cause = %err, "Open from the tray failed");
            crate::tray::show_window(&app);
        }
    });
}
