//! Proving a route before a token is minted: a SOCKS5 CONNECT through the tunnel to the web
//! server, exactly what the browser will do next.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the route check may take, bastion round trips included.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the tunnel could not reach the web server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("the tunnel's SOCKS port {port} did not answer ({cause})")]
    Socks { port: u16, cause: String },
    /// The bastion could not open the connection (RFC 1928 reply code).
    #[error("{}", reply_text(*code))]
    Refused { code: u8 },
    #[error("no answer within {} s", PROBE_TIMEOUT.as_secs())]
    Timeout,
}

fn reply_text(code: u8) -> &'static str {
    match code {
        0x01 => "the bastion could not open the connection",
        0x02 => "the bastion's SSH server does not allow forwarding",
        0x03 => "the network is unreachable from the bastion",
        0x04 => "the host is unreachable or unknown from the bastion",
        0x05 => "the connection was refused",
        0x06 => "the connection timed out",
        _ => "the SOCKS proxy refused the connection",
    }
}

/// How long the direct check may take (name lookup and TCP connect together).
pub const DIRECT_TIMEOUT: Duration = Duration::from_millis(1500);

/// Whether `host:port` answers directly from this machine (a VPN, or inside the VPC): a short
/// name lookup and TCP connect, nothing sent.
pub async fn reachable_directly(host: &str, port: u16) -> bool {
    let attempt = async {
        let addrs = tokio::net::lookup_host((host, port)).await.ok()?;
        for addr in addrs {
            if TcpStream::connect(addr).await.is_ok() {
                return Some(());
            }
        }
        None
    };
    matches!(
        tokio::time::timeout(DIRECT_TIMEOUT, attempt).await,
        Ok(Some(()))
    )
}

/// Opens (and closes) a connection to `host:port` through the SOCKS5 proxy on
/// 127.0.0.1:`socks_port`, passing `host` unresolved so the bastion resolves it.
pub async fn socks_connect(socks_port: u16, host: &str, port: u16) -> Result<(), ProbeError> {
    tokio::time::timeout(PROBE_TIMEOUT, attempt(socks_port, host, port))
        .await
        .map_err(|_| ProbeError::Timeout)?
}

async fn attempt(socks_port: u16, host: &str, port: u16) -> Result<(), ProbeError> {
    let socks = |cause: std::io::Error| ProbeError::Socks {
        port: socks_port,
        cause: cause.to_string(),
    };
    let mut stream = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, socks_port)))
        .await
        .map_err(socks)?;
    stream.write_all(&[0x05, 0x01, 0x00]).await.map_err(socks)?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).await.map_err(socks)?;
    if choice != [0x05, 0x00] {
        return Err(ProbeError::Socks {
            port: socks_port,
            cause: format!("unexpected method choice {choice:02x?}"),
        });
    }
    let name = host.as_bytes();
    let Ok(len) = u8::try_from(name.len()) else {
        return Err(ProbeError::Refused { code: 0x04 });
    };
    let mut request = vec![0x05, 0x01, 0x00, 0x03, len];
    request.extend_from_slice(name);
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).await.map_err(socks)?;
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).await.map_err(socks)?;
    if reply[1] != 0x00 {
        return Err(ProbeError::Refused { code: reply[1] });
    }
    Ok(())
}
