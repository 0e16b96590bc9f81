//! A SOCKS5 server (RFC 1928) that relays each CONNECT over a `direct-tcpip` channel of a
//! bastion session. No authentication (the listener is on loopback), CONNECT only; domain names
//! are passed to the bastion unresolved (remote DNS), so private names resolve where they live.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use russh::ChannelOpenFailure;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, instrument, warn};

use crate::session::BastionSession;

/// Most SOCKS connections served at once per tunnel; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 256;
/// How long a client may take to send its SOCKS greeting and request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the bastion may take to open a forward before the client gets "host unreachable".
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Relay buffers: the SSH packet size.
const RELAY_BUFFER: usize = 32 * 1024;

const VERSION: u8 = 0x05;
const NO_AUTH: u8 = 0x00;
const NO_ACCEPTABLE_METHOD: u8 = 0xFF;
const CMD_CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// SOCKS5 reply codes.
mod reply {
    pub const SUCCEEDED: u8 = 0x00;
    pub const GENERAL_FAILURE: u8 = 0x01;
    pub const NOT_ALLOWED: u8 = 0x02;
    pub const NETWORK_UNREACHABLE: u8 = 0x03;
    pub const HOST_UNREACHABLE: u8 = 0x04;
    pub const CONNECTION_REFUSED: u8 = 0x05;
    pub const COMMAND_NOT_SUPPORTED: u8 = 0x07;
    pub const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;
}

/// Serves SOCKS5 on `listener` through `session` until `shutdown` is cancelled; then stops
/// accepting, ends open relays and returns (dropping the listener frees the port).
pub async fn serve_socks(
    listener: TcpListener,
    session: BastionSession,
    shutdown: CancellationToken,
) {
    let (_keep, sessions) = watch::channel(Some(session));
    serve_socks_via(listener, sessions, shutdown).await;
}

/// Serves SOCKS5 on `listener` through whichever session `sessions` holds: while it holds none
/// (the tunnel is reconnecting), a client's request waits up to [`OPEN_TIMEOUT`] for one, then
/// gets "network unreachable".
#[instrument(skip_all, fields(listen = ?listener.local_addr().ok()))]
pub async fn serve_socks_via(
    listener: TcpListener,
    sessions: watch::Receiver<Option<BastionSession>>,
    shutdown: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let connections = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, client) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(cause = %e, "accept failed");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    }
                }
            },
        };
        let sessions = sessions.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _permit = permit;
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = handle_client(stream, client, sessions) => {}
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// One SOCKS client: handshake, open the forward, relay until either side closes.
async fn handle_client(
    mut stream: TcpStream,
    client: SocketAddr,
    mut sessions: watch::Receiver<Option<BastionSession>>,
) {
    let _ = stream.set_nodelay(true);
    let target = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut stream)).await {
        Ok(Ok(Some(target))) => target,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            debug!(%client, cause = %e, "SOCKS handshake failed");
            return;
        }
        Err(_) => {
            debug!(%client, "SOCKS client too slow to send its request");
            return;
        }
    };
    let usable = |s: &Option<BastionSession>| s.as_ref().is_some_and(|s| !s.is_closed());
    let session = match tokio::time::timeout(OPEN_TIMEOUT, sessions.wait_for(usable)).await {
        Ok(Ok(session)) => session.clone(),
        _ => None,
    };
    let Some(session) = session else {
        debug!(%client, "no session to the bastion: it is reconnecting");
        let _ = send_reply(&mut stream, reply::NETWORK_UNREACHABLE).await;
        return;
    };
    relay(stream, client, &session, target).await;
}

#[derive(Debug)]
struct Target {
    /// An IP literal or a name left for the bastion to resolve.
    host: String,
    port: u16,
}

/// Reads the greeting and the request; answers errors itself. `None` when the client must
/// go (an error reply was sent).
async fn handshake(stream: &mut TcpStream) -> std::io::Result<Option<Target>> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await?;
    if head[0] != VERSION {
        return Ok(None);
    }
    let mut methods = vec![0u8; usize::from(head[1])];
    stream.read_exact(&mut methods).await?;
    if !methods.contains(&NO_AUTH) {
        stream.write_all(&[VERSION, NO_ACCEPTABLE_METHOD]).await?;
        return Ok(None);
    }
    stream.write_all(&[VERSION, NO_AUTH]).await?;

    let mut request = [0u8; 4];
    stream.read_exact(&mut request).await?;
    let [version, command, _reserved, address_type] = request;
    if version != VERSION {
        return Ok(None);
    }
    let host = match address_type {
        ATYP_IPV4 => {
            let mut ip = [0u8; 4];
            stream.read_exact(&mut ip).await?;
            Ipv4Addr::from(ip).to_string()
        }
        ATYP_IPV6 => {
            let mut ip = [0u8; 16];
            stream.read_exact(&mut ip).await?;
            Ipv6Addr::from(ip).to_string()
        }
        ATYP_DOMAIN => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            stream.read_exact(&mut name).await?;
            match String::from_utf8(name) {
                Ok(name) if !name.is_empty() => name,
                _ => {
                    send_reply(stream, reply::GENERAL_FAILURE).await?;
                    return Ok(None);
                }
            }
        }
        _ => {
            send_reply(stream, reply::ADDRESS_TYPE_NOT_SUPPORTED).await?;
            return Ok(None);
        }
    };
    let mut port = [0u8; 2];
    stream.read_exact(&mut port).await?;
    if command != CMD_CONNECT {
        send_reply(stream, reply::COMMAND_NOT_SUPPORTED).await?;
        return Ok(None);
    }
    Ok(Some(Target {
        host,
        port: u16::from_be_bytes(port),
    }))
}

async fn send_reply(stream: &mut TcpStream, code: u8) -> std::io::Result<()> {
    // The bound address is not meaningful through a tunnel: 0.0.0.0:0.
    stream
        .write_all(&[VERSION, code, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0])
        .await
}

#[instrument(skip_all, fields(%client, target = %format_args!("{}:{}", target.host, target.port)))]
async fn relay(
    mut stream: TcpStream,
    client: SocketAddr,
    session: &BastionSession,
    target: Target,
) {
    let opened = tokio::time::timeout(
        OPEN_TIMEOUT,
        session.open_direct_tcpip(&target.host, target.port, client),
    )
    .await;
    let channel = match opened {
        Ok(Ok(channel)) => channel,
        Ok(Err(e)) => {
            let code = failure_reply(&e);
            debug!(cause = %e, code, "forward refused");
            let _ = send_reply(&mut stream, code).await;
            return;
        }
        Err(_) => {
            debug!("bastion did not open the forward in time");
            let _ = send_reply(&mut stream, reply::HOST_UNREACHABLE).await;
            return;
        }
    };
    if send_reply(&mut stream, reply::SUCCEEDED).await.is_err() {
        return;
    }
    let mut remote = channel.into_stream();
    match tokio::io::copy_bidirectional_with_sizes(
        &mut stream,
        &mut remote,
        RELAY_BUFFER,
        RELAY_BUFFER,
    )
    .await
    {
        Ok((sent, received)) => debug!(sent, received, "relay done"),
        Err(e) => debug!(cause = %e, "relay ended"),
    }
}

/// The SOCKS reply for a forward the bastion would not open.
fn failure_reply(error: &russh::Error) -> u8 {
    match error {
        // OpenSSH answers "connect failed" when the target refuses or cannot be resolved.
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::ConnectFailed) => {
            reply::CONNECTION_REFUSED
        }
        russh::Error::ChannelOpenFailure(ChannelOpenFailure::AdministrativelyProhibited) => {
            reply::NOT_ALLOWED
        }
        _ => reply::GENERAL_FAILURE,
    }
}
