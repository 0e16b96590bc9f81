//! SSH tunnels through bastions.
//!
//! A [`Tunnels`] handle talks to one task that owns every tunnel. Each tunnel is an SSH session
//! to a bastion (host key checked against known_hosts files) and a SOCKS5 listener on loopback
//! that relays each CONNECT over a `direct-tcpip` channel, passing hostnames unresolved so the
//! bastion resolves them (remote DNS).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Serialize;

mod error;
pub use error::{Error, Result};

/// How to reach and log in to a bastion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BastionSpec {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// OpenSSH or PEM private key file, without passphrase for now.
    pub key_path: PathBuf,
}

/// A SOCKS tunnel to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSpec {
    pub bastion: BastionSpec,
    /// known_hosts files to check the bastion's host key against, in order.
    pub known_hosts: Vec<PathBuf>,
    /// Where the SOCKS listener binds. Must be a loopback address; port 0 picks a free port.
    pub listen: SocketAddr,
}

/// What a user sees of a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum TunnelState {
    Connecting,
    Connected { port: u16 },
    Failed { reason: String },
    Disconnected,
}

/// A change of state of the tunnel named `id` (the caller's name for it, e.g. the environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TunnelEvent {
    pub id: String,
    pub state: TunnelState,
}

/// Handle to the task that owns every tunnel. Cloning it is cheap.
#[derive(Debug, Clone)]
pub struct Tunnels {}

impl Tunnels {
    pub fn new() -> Self {
        unimplemented!("Tunnels::new")
    }

    /// Opens the tunnel `id`; returns the SOCKS port once connected.
    pub async fn connect(&self, _id: &str, _spec: TunnelSpec) -> Result<u16> {
        unimplemented!("connect")
    }

    /// Closes the tunnel `id` and frees its port.
    pub async fn disconnect(&self, _id: &str) -> Result<()> {
        unimplemented!("disconnect")
    }

    /// Every later state change of every tunnel.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<TunnelEvent> {
        unimplemented!("subscribe")
    }

    /// The current state of every tunnel.
    pub async fn states(&self) -> Vec<TunnelEvent> {
        unimplemented!("states")
    }

    /// Closes every tunnel.
    pub async fn shutdown(&self) {
        unimplemented!("shutdown")
    }
}
