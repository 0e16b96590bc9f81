//! Starts the proxy auto-config server on loopback and keeps its routes in step with the
//! running tunnels: each connected environment's (or self-hosted Airflow's) web server host goes to its SOCKS port.

use airgate_launch::pac::{DEFAULT_PAC_PORT, PAC_PATH, PacRoute};
use airgate_tunnel::TunnelEvent;

use crate::state::{AppState, Pac};

/// Binds the PAC port of the settings (loopback only) and serves on the async runtime. A port
/// in use turns the PAC file off with a reason; nothing else is affected.
pub fn start(state: &AppState) {
    let port = airgate_launch::settings::load(&state.data_dir)
        .ok()
        .and_then(|s| s.pac_port)
        .unwrap_or(DEFAULT_PAC_PORT);
    let (routes, receiver) = tokio::sync::watch::channel(Vec::new());
    let bound = std::net::TcpListener::bind(("127.0.0.1", port)).and_then(|listener| {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    });
    let url = match bound {
        Ok((listener, addr)) => {
            let runtime = tauri::async_runtime::handle();
            let _entered = runtime.inner().enter();
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    tauri::async_runtime::spawn(airgate_launch::pac::serve(listener, receiver));
                    Ok(format!("http://{addr}{PAC_PATH}"))
                }
                Err(err) => Err(format!("Cannot serve the proxy auto-config file: {err}.")),
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => Err(format!(
            "Port {port} on 127.0.0.1 is in use, so the proxy auto-config file is off. Pick \
             another port in Settings, then restart Airgate."
        )),
        Err(err) => Err(format!(
            "Cannot listen on 127.0.0.1:{port} for the proxy auto-config file: {err}."
        )),
    };
    if let Err(why) = &url {
        tracing::warn!(cause = %why, "no proxy auto-config file");
    }
    let _ = state.pac.set(Pac { url, routes });
}

/// Recomputes the routes from the tunnels' current states.
pub fn update(state: &AppState, tunnels: &[TunnelEvent]) {
    let Some(pac) = state.pac.get() else {
        return;
    };
    let mut routes: Vec<PacRoute> = tunnels
        .iter()
        .filter_map(|event| {
            // While a tunnel reconnects its port stays: keep the route, never send it DIRECT.
            let port = event.state.port()?;
            let host = state.webserver_host(&event.id)?;
            let (host, _) = airgate_launch::login::host_and_port(&host);
            Some(PacRoute {
                host: host.to_owned(),
                socks_port: port,
            })
        })
        .collect();
    routes.sort_by(|a, b| a.host.cmp(&b.host));
    pac.routes.send_if_modified(|current| {
        let changed = *current != routes;
        *current = routes;
        changed
    });
}
