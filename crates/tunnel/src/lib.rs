//! SSH tunnels through bastions.
//!
//! A [`Tunnels`] handle talks to one task that owns every tunnel. Each tunnel is an SSH session
//! to a bastion (host key checked against known_hosts files) and a SOCKS5 listener on loopback
//! that relays each CONNECT over a `direct-tcpip` channel, passing hostnames unresolved so the
//! bastion resolves them (remote DNS).
//!
//! A session that is lost (the bastion went away, or stopped answering keepalives) is opened
//! again with jittered exponential backoff ([`reconnect`]) while the listener stays bound on
//! the same port: clients that come meanwhile wait for the session, then go through it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

mod error;
mod holder;
pub mod keys;
mod known_hosts;
mod links;
mod quickack;
pub use known_hosts::trust_host_key;
pub mod reconnect;
mod session;
mod socks;
mod stats;
mod tunnels;

pub use error::{Error, Result};
pub use holder::holder_of;
pub use keys::{KeyInfo, KeyKind, KeySource, SecretText};
pub use session::{AUTH_TIMEOUT, BastionSession, CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT};
pub use socks::{MAX_CONNECTIONS, OPEN_TIMEOUT, serve_socks};
pub use stats::TunnelStats;
pub use tunnels::Tunnels;

/// How to reach and log in to a bastion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BastionSpec {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The private key to log in with.
    pub key: KeySource,
    pub keepalive: Keepalive,
    /// The SHA256 fingerprint (`SHA256:...`) of a host key not in known_hosts that the user
    /// trusted for this tunnel only (it is not written anywhere). A known host's changed key is
    /// refused all the same.
    pub trust_once: Option<String>,
    /// The SHA256 fingerprint of the one host key this bastion may present (pinned on the saved
    /// bastion): known_hosts is then not consulted, and any other key is refused.
    pub host_key: Option<String>,
    /// Jump hosts to go through first, in order (`ssh -J a,b`); empty: a direct TCP connection.
    pub jump: Vec<BastionSpec>,
}

/// How often the bastion is asked whether it is still there, and how many unanswered asks in a
/// row mean it is gone: a dead bastion is noticed within `interval` x `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Keepalive {
    pub interval: Duration,
    pub max: u32,
}

impl Default for Keepalive {
    /// 15 s, 3 misses.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(15),
            max: 3,
        }
    }
}

/// A tunnel to open: a SOCKS proxy (`ssh -D`), or a local forward to one host (`ssh -L`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSpec {
    pub bastion: BastionSpec,
    /// known_hosts files to check the bastion's host key against, in order.
    pub known_hosts: Vec<PathBuf>,
    /// Where the listener binds. Must be a loopback address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// `None`: SOCKS; else every connection goes to this host and port behind the bastion.
    pub forward: Option<ForwardTo>,
}

/// Where a local forward goes: a host (resolved by the bastion) and port behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTo {
    pub host: String,
    pub port: u16,
}

impl ForwardTo {
    /// `host:port` or `[ipv6]:port`, the port from 1 to 65535.
    pub fn parse(value: &str) -> Option<Self> {
        let (host, port) = match value.strip_prefix('[') {
            Some(rest) => {
                let (host, after) = rest.split_once(']')?;
                (host, after.strip_prefix(':')?)
            }
            None => {
                let (host, port) = value.rsplit_once(':')?;
                if host.contains(':') {
                    return None;
                }
                (host, port)
            }
        };
        let port: u16 = port.parse().ok()?;
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) || port == 0
        {
            return None;
        }
        Some(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// The id of the tunnel that forwards here: `forward:host:port` (the same in the app and
    /// the CLI, so both find its remembered local port).
    pub fn tunnel_id(&self) -> String {
        format!("forward:{self}")
    }
}

impl std::fmt::Display for ForwardTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What a user sees of a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum TunnelState {
    Connecting,
    Connected {
        port: u16,
    },
    /// The session was lost; the listener stays on `port` while Airgate opens a new session.
    Reconnecting {
        port: u16,
        /// 1 for the first try after the loss.
        attempt: u32,
        /// Seconds until this attempt starts.
        #[serde(rename = "nextTrySecs")]
        next_try_secs: u32,
        /// Why the session was lost, or why the last attempt failed.
        #[serde(rename = "lastError")]
        last_error: String,
    },
    Failed {
        reason: String,
    },
    Disconnected,
}

impl TunnelState {
    /// The SOCKS port while the listener is bound (connected or reconnecting).
    pub fn port(&self) -> Option<u16> {
        match self {
            TunnelState::Connected { port } | TunnelState::Reconnecting { port, .. } => Some(*port),
            _ => None,
        }
    }
}

/// A change of state of the tunnel named `id` (the caller's name for it, e.g. the environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TunnelEvent {
    pub id: String,
    pub state: TunnelState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_targets_parse_and_name_their_tunnel() {
        let to = ForwardTo::parse("airflow.internal:8080").expect("host:port");
        assert_eq!((to.host.as_str(), to.port), ("airflow.internal", 8080));
        assert_eq!(to.tunnel_id(), "forward:airflow.internal:8080");
        let to = ForwardTo::parse("[fd00::5]:5432").expect("[ipv6]:port");
        assert_eq!((to.host.as_str(), to.port), ("fd00::5", 5432));
        assert_eq!(to.to_string(), "[fd00::5]:5432");
        for bad in [
            "airflow.internal",
            ":8080",
            "db:0",
            "db:http",
            "fd00::5:5432",
            "a b:1",
        ] {
            assert_eq!(ForwardTo::parse(bad), None, "{bad}");
        }
    }
}
