use airgate_tunnel::{TunnelEvent, TunnelSpec};
use serde::Deserialize;
use tauri::State;

use super::run_core;
use crate::error::{CmdResult, Error};
use crate::state::AppState;

/// Names one environment: the same name can exist in several profiles and regions.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct EnvironmentRef {
    pub profile: String,
    pub region: String,
    pub name: String,
}

impl EnvironmentRef {
    /// The tunnel's id: `"{profile}/{region}/{name}"`.
    pub fn tunnel_id(&self) -> String {
        airgate_discovery::environment_id(&self.profile, &self.region, &self.name)
    }

    /// The environment a tunnel id names (a profile may itself contain "/").
    pub fn from_tunnel_id(id: &str) -> Option<EnvironmentRef> {
        let (rest, name) = id.rsplit_once('/')?;
        let (profile, region) = rest.rsplit_once('/')?;
        Some(EnvironmentRef {
            profile: profile.to_owned(),
            region: region.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// Opens a SOCKS tunnel to `environment` through the saved bastion `bastion`; returns its port
/// on 127.0.0.1 once connected. Progress arrives as `TunnelChanged` events.
#[tauri::command]
#[specta::specta]
pub async fn connect_environment(
    state: State<'_, AppState>,
    environment: EnvironmentRef,
    bastion: String,
    trust_once: Option<String>,
) -> CmdResult<u16> {
    let id = environment.tunnel_id();
    let spec = tunnel_spec(&state, bastion, &id, trust_once).await?;
    Ok(connect_tunnel(&state, id, spec).await?)
}

/// Opens the tunnel `id` as `spec` says; its port once connected.
pub async fn connect_tunnel(state: &AppState, id: String, spec: TunnelSpec) -> Result<u16, Error> {
    let tunnels = state.tunnels.clone();
    Ok(run_core("Opening the tunnel", async move {
        tunnels.connect(&id, spec).await
    })
    .await??)
}

/// Closes the tunnel `id`.
pub async fn disconnect_tunnel_id(state: &AppState, id: String) -> Result<(), Error> {
    let tunnels = state.tunnels.clone();
    Ok(run_core("Closing the tunnel", async move {
        tunnels.disconnect(&id).await
    })
    .await??)
}

/// How to open the tunnel `id` through the saved bastion `bastion`: on its remembered port,
/// with the host key the user trusted for this tunnel only (`trust_once`), if any.
pub async fn tunnel_spec(
    state: &AppState,
    bastion: String,
    id: &str,
    trust_once: Option<String>,
) -> Result<TunnelSpec, Error> {
    let listen = airgate_launch::ports::listen_addr(&state.data_dir, id)?;
    let passphrases = state.passphrases();
    let bastion = state
        .with_vault("Reading the saved bastion", move |vault| {
            airgate_launch::keys::bastion_spec(vault, &bastion, trust_once, &passphrases)
        })
        .await?;
    Ok(TunnelSpec {
        bastion,
        known_hosts: state.known_hosts(),
        listen,
        forward: None,
    })
}

/// Closes the tunnel of `environment`.
#[tauri::command]
#[specta::specta]
pub async fn disconnect_environment(
    state: State<'_, AppState>,
    environment: EnvironmentRef,
) -> CmdResult<()> {
    let id = environment.tunnel_id();
    Ok(disconnect_tunnel_id(&state, id).await?)
}

/// The current state of every tunnel.
#[tauri::command]
#[specta::specta]
pub async fn tunnel_states(state: State<'_, AppState>) -> CmdResult<Vec<TunnelEvent>> {
    let tunnels = state.tunnels.clone();
    Ok(run_core(
        "Reading tunnel states",
        async move { tunnels.states().await },
    )
    .await?)
}

/// The remembered local port of each tunnel (by tunnel id).
#[tauri::command]
#[specta::specta]
pub async fn tunnel_ports(
    state: State<'_, AppState>,
) -> CmdResult<std::collections::BTreeMap<String, u16>> {
    Ok(airgate_launch::ports::all(&state.data_dir).map_err(Error::from)?)
}

/// Sets the local port of the tunnel `id` (`None` forgets it: the next Connect picks a free
/// one); used from its next Connect on. Returns every remembered port.
#[tauri::command]
#[specta::specta]
pub async fn set_tunnel_port(
    state: State<'_, AppState>,
    id: String,
    port: Option<u16>,
) -> CmdResult<std::collections::BTreeMap<String, u16>> {
    Ok(airgate_launch::ports::set(&state.data_dir, &id, port).map_err(Error::from)?)
}

/// Trusts the host key `public_key` of `host:port` from now on: adds it to Airgate's own
/// known_hosts (never to `~/.ssh/known_hosts`).
#[tauri::command]
#[specta::specta]
pub async fn trust_host_key(
    state: State<'_, AppState>,
    host: String,
    port: u16,
    public_key: String,
) -> CmdResult<()> {
    let file = state.data_dir.join(airgate_paths::KNOWN_HOSTS_FILE);
    airgate_tunnel::trust_host_key(&file, &host, port, &public_key).map_err(Error::from)?;
    tracing::info!(%host, port, "host key trusted");
    Ok(())
}

/// What each running tunnel carried: connected since, bytes each way, connections open and in
/// all (the Tunnels view asks once a second while it shows).
#[tauri::command]
#[specta::specta]
pub async fn tunnel_stats(
    state: State<'_, AppState>,
) -> CmdResult<Vec<airgate_tunnel::TunnelStats>> {
    let tunnels = state.tunnels.clone();
    Ok(run_core(
        "Reading tunnel statistics",
        async move { tunnels.stats().await },
    )
    .await?)
}

/// Starts a local forward (`ssh -L`): a loopback port whose connections go to `to`
/// (`host:port` as the bastion sees it) through the saved bastion `bastion`. Returns the local
/// port; the tunnel's id is `forward:host:port`.
#[tauri::command]
#[specta::specta]
pub async fn start_forward(
    state: State<'_, AppState>,
    bastion: String,
    to: String,
    trust_once: Option<String>,
) -> CmdResult<u16> {
    let target = airgate_tunnel::ForwardTo::parse(to.trim()).ok_or_else(|| {
        Error::InvalidInput(format!(
            "\"{to}\" is not host:port. Give the host as the bastion sees it and its port, \
             e.g. airflow.internal:8080 or [fd00::5]:5432."
        ))
    })?;
    let id = target.tunnel_id();
    let mut spec = tunnel_spec(&state, bastion, &id, trust_once).await?;
    spec.forward = Some(target);
    Ok(connect_tunnel(&state, id, spec).await?)
}

/// Closes the tunnel `id`, whatever it serves (an environment's, a self-hosted Airflow's, a
/// forward).
#[tauri::command]
#[specta::specta]
pub async fn disconnect_tunnel(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    Ok(disconnect_tunnel_id(&state, id).await?)
}
