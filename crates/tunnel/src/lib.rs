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
mod known_hosts;
mod session;
mod socks;
mod tunnels;

pub use error::{Error, Result};
pub use session::{
    AUTH_TIMEOUT, BastionSession, CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT, KEEPALIVE_INTERVAL,
    KEEPALIVE_MAX,
};
pub use socks::{MAX_CONNECTIONS, OPEN_TIMEOUT, serve_socks};
pub use tunnels::Tunnels;

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
