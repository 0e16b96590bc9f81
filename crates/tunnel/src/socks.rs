//! A SOCKS server that relays each CONNECT over a `direct-tcpip` channel of a bastion session,
//! speaking what OpenSSH's `ssh -D` speaks: SOCKS5 (RFC 1928, no authentication: the listener is
//! on loopback), SOCKS4 and SOCKS4a. CONNECT only; domain names are passed to the bastion
//! unresolved (remote DNS), so private names resolve where they live. Every failure gets the
//! protocol's reply code; a client that stalls is dropped after [`HANDSHAKE_TIMEOUT`].

use std::io::IoSlice;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use russh::ChannelOpenFailure;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, instrument, warn};

use crate::session::BastionSession;
use crate::stats::{Counted, Stats};

/// Most SOCKS connections served at once per tunnel; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 256;
/// How long a client may take to send its SOCKS greeting and request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the bastion may take to open a forward before the client gets "host unreachable".
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Relay buffers: the SSH packet size.
const RELAY_BUFFER: usize = 32 * 1024;
/// Most channel packets handed to the client in one write (64 of 32 KiB: 2 MiB, the window).
const MAX_BATCH: usize = 64;

const VERSION: u8 = 0x05;
const VERSION_4: u8 = 0x04;
/// SOCKS4 reply codes (its replies start with a 0 byte).
const GRANTED_4: u8 = 0x5A;
const REJECTED_4: u8 = 0x5B;
/// Longest SOCKS4 user id or SOCKS4a host name read (both end with a 0 byte).
const MAX_NAME_4: usize = 255;
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
    serve_via(listener, sessions, Arc::default(), None, shutdown).await;
}

/// Serves `listener` through whichever session `sessions` holds: SOCKS when `forward` is
/// `None`, else every connection goes to `forward` (`ssh -L`). While `sessions` holds none (the
/// tunnel is reconnecting), a client waits up to [`OPEN_TIMEOUT`] for one, then gets "network
/// unreachable" (SOCKS) or is closed (a forward).
#[instrument(skip_all, fields(listen = ?listener.local_addr().ok()))]
pub(crate) async fn serve_via(
    listener: TcpListener,
    sessions: watch::Receiver<Option<BastionSession>>,
    stats: Arc<Stats>,
    forward: Option<crate::ForwardTo>,
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
        let stats = stats.clone();
        let forward = forward.clone();
        connections.spawn(async move {
            let _permit = permit;
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = handle_client(stream, client, sessions, stats, forward) => {}
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// One client: its target (the SOCKS handshake, or the forward's), open the channel, relay
/// until either side closes.
async fn handle_client(
    mut stream: TcpStream,
    client: SocketAddr,
    mut sessions: watch::Receiver<Option<BastionSession>>,
    stats: Arc<Stats>,
    forward: Option<crate::ForwardTo>,
) {
    let _ = stream.set_nodelay(true);
    let handshake = async {
        match forward {
            Some(to) => Ok(Some(Target {
                host: to.host,
                port: to.port,
                proto: Proto::Plain,
            })),
            None => handshake(&mut stream).await,
        }
    };
    let target = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
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
        let _ = send_reply(&mut stream, target.proto, reply::NETWORK_UNREACHABLE).await;
        return;
    };
    relay(stream, client, &session, target, &stats).await;
}

/// Which protocol the client speaks, so that replies use its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Socks4,
    Socks5,
    /// A local forward: no protocol, no replies; a failure closes the connection.
    Plain,
}

#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// An IP literal or a name left for the bastion to resolve.
    host: String,
    port: u16,
    proto: Proto,
}

/// Reads the greeting and the request; answers errors itself. `None` when the client must
/// go (an error reply was sent, or it speaks no SOCKS).
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> std::io::Result<Option<Target>> {
    let mut version = [0u8; 1];
    stream.read_exact(&mut version).await?;
    match version[0] {
        VERSION => handshake_5(stream).await,
        VERSION_4 => handshake_4(stream).await,
        _ => Ok(None),
    }
}

/// SOCKS4 and 4a: `CD DSTPORT DSTIP USERID\0`, then for 4a (DSTIP 0.0.0.x, x > 0) `HOST\0`.
async fn handshake_4<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> std::io::Result<Option<Target>> {
    let mut request = [0u8; 7];
    stream.read_exact(&mut request).await?;
    let command = request[0];
    let port = u16::from_be_bytes([request[1], request[2]]);
    let ip = Ipv4Addr::new(request[3], request[4], request[5], request[6]);
    if read_zero_terminated(stream).await?.is_none() {
        send_reply(stream, Proto::Socks4, reply::GENERAL_FAILURE).await?;
        return Ok(None);
    }
    let [a, b, c, d] = ip.octets();
    let host = if a == 0 && b == 0 && c == 0 && d != 0 {
        match read_zero_terminated(stream).await? {
            Some(name) if !name.is_empty() => match String::from_utf8(name) {
                Ok(name) => name,
                Err(_) => {
                    send_reply(stream, Proto::Socks4, reply::GENERAL_FAILURE).await?;
                    return Ok(None);
                }
            },
            _ => {
                send_reply(stream, Proto::Socks4, reply::GENERAL_FAILURE).await?;
                return Ok(None);
            }
        }
    } else {
        ip.to_string()
    };
    if command != CMD_CONNECT {
        send_reply(stream, Proto::Socks4, reply::COMMAND_NOT_SUPPORTED).await?;
        return Ok(None);
    }
    Ok(Some(Target {
        host,
        port,
        proto: Proto::Socks4,
    }))
}

/// Bytes up to a 0 byte (not included); `None` past [`MAX_NAME_4`] bytes.
async fn read_zero_terminated<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await?;
        if byte[0] == 0 {
            return Ok(Some(out));
        }
        if out.len() == MAX_NAME_4 {
            return Ok(None);
        }
        out.push(byte[0]);
    }
}

async fn handshake_5<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> std::io::Result<Option<Target>> {
    let mut count = [0u8; 1];
    stream.read_exact(&mut count).await?;
    let mut methods = vec![0u8; usize::from(count[0])];
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
                    send_reply(stream, Proto::Socks5, reply::GENERAL_FAILURE).await?;
                    return Ok(None);
                }
            }
        }
        _ => {
            send_reply(stream, Proto::Socks5, reply::ADDRESS_TYPE_NOT_SUPPORTED).await?;
            return Ok(None);
        }
    };
    let mut port = [0u8; 2];
    stream.read_exact(&mut port).await?;
    if command != CMD_CONNECT {
        send_reply(stream, Proto::Socks5, reply::COMMAND_NOT_SUPPORTED).await?;
        return Ok(None);
    }
    Ok(Some(Target {
        host,
        port: u16::from_be_bytes(port),
        proto: Proto::Socks5,
    }))
}

/// Sends the reply `code` (a SOCKS5 code; SOCKS4 knows only granted and rejected).
async fn send_reply<S: AsyncWrite + Unpin>(
    stream: &mut S,
    proto: Proto,
    code: u8,
) -> std::io::Result<()> {
    // The bound address is not meaningful through a tunnel: 0.0.0.0:0.
    match proto {
        Proto::Plain => Ok(()),
        Proto::Socks5 => {
            stream
                .write_all(&[VERSION, code, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0])
                .await
        }
        Proto::Socks4 => {
            let status = if code == reply::SUCCEEDED {
                GRANTED_4
            } else {
                REJECTED_4
            };
            stream.write_all(&[0x00, status, 0, 0, 0, 0, 0, 0]).await
        }
    }
}

#[instrument(skip_all, fields(%client, target = %format_args!("{}:{}", target.host, target.port)))]
async fn relay(
    mut stream: TcpStream,
    client: SocketAddr,
    session: &BastionSession,
    target: Target,
    stats: &Arc<Stats>,
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
            let _ = send_reply(&mut stream, target.proto, code).await;
            return;
        }
        Err(_) => {
            debug!("bastion did not open the forward in time");
            let _ = send_reply(&mut stream, target.proto, reply::HOST_UNREACHABLE).await;
            return;
        }
    };
    if send_reply(&mut stream, target.proto, reply::SUCCEEDED)
        .await
        .is_err()
    {
        return;
    }
    let _open = stats.relay();
    let (sent, received) = relay_channel(stream, channel, stats).await;
    debug!(sent, received, "relay done");
}

/// Relays a client and its channel until both directions ended (or one failed). What comes from
/// the bastion is written to the client as the channel hands it over (a slice of the packet, no
/// copy in between); what the client sends goes through one buffer into channel data. Both
/// ends are closed after. Returns the bytes sent and received.
async fn relay_channel(
    stream: TcpStream,
    channel: russh::Channel<russh::client::Msg>,
    stats: &Arc<Stats>,
) -> (u64, u64) {
    let (from_client, to_client) = stream.into_split();
    let (mut from_bastion, to_bastion) = channel.split();
    let up = async {
        let mut reader = tokio::io::BufReader::with_capacity(
            RELAY_BUFFER,
            Counted::new(from_client, stats.clone()),
        );
        let mut writer = to_bastion.make_writer();
        let sent = tokio::io::copy_buf(&mut reader, &mut writer).await?;
        // The client is done sending: the bastion's side of the forward gets EOF.
        writer.shutdown().await?;
        Ok::<u64, std::io::Error>(sent)
    };
    let down = async {
        let mut writer = Counted::new(to_client, stats.clone());
        let mut received = 0u64;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut ended = false;
        while !ended {
            // Wait for one message, then take those already queued behind it, so that one write
            // hands the client all that arrived (as OpenSSH writes a channel's whole buffer).
            let mut next = from_bastion.wait().await;
            loop {
                match next {
                    Some(russh::ChannelMsg::Data { data }) => batch.push(data),
                    Some(russh::ChannelMsg::Eof | russh::ChannelMsg::Close) | None => {
                        ended = true;
                        break;
                    }
                    Some(_) => {}
                }
                if batch.len() == MAX_BATCH {
                    break;
                }
                match from_bastion.wait().now_or_never() {
                    Some(message) => next = message,
                    None => break,
                }
            }
            received += write_all_vectored(&mut writer, &batch).await?;
            batch.clear();
        }
        // The bastion is done sending: the client gets EOF.
        writer.shutdown().await?;
        Ok::<u64, std::io::Error>(received)
    };
    // Both directions to their end; a failing one ends the other too.
    let relayed = tokio::try_join!(up, down);
    let _ = to_bastion.close().await;
    relayed.unwrap_or_else(|e| {
        debug!(cause = %e, "relay ended");
        (0, 0)
    })
}

/// Writes all of `buffers`, in order, with as few (vectored) writes as the socket takes; returns
/// the bytes written.
async fn write_all_vectored<W: AsyncWrite + Unpin>(
    writer: &mut W,
    buffers: &[bytes::Bytes],
) -> std::io::Result<u64> {
    let mut first = 0;
    let mut offset = 0;
    let mut written = 0u64;
    while let Some(head) = buffers.get(first) {
        if offset == head.len() {
            first += 1;
            offset = 0;
            continue;
        }
        let slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(&head[offset..]))
            .chain(buffers[first + 1..].iter().map(|b| IoSlice::new(b)))
            .collect();
        let mut n = writer.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        written += n as u64;
        // Step past what was written: whole buffers, then into the next one.
        while n > 0 {
            let left = buffers[first].len() - offset;
            if n < left {
                offset += n;
                n = 0;
            } else {
                n -= left;
                first += 1;
                offset = 0;
            }
        }
    }
    Ok(written)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most `step` bytes per write, from as many buffers as it is handed.
    struct Trickle {
        step: usize,
        got: Vec<u8>,
        writes: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let step = self.step;
            let taken: Vec<u8> = bufs
                .iter()
                .flat_map(|b| b.iter().copied())
                .take(step)
                .collect();
            self.got.extend_from_slice(&taken);
            self.writes += 1;
            std::task::Poll::Ready(Ok(taken.len()))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn vectored_writes_hand_over_every_byte_in_order_across_short_writes() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let buffers: Vec<bytes::Bytes> = [&b"abc"[..], b"", b"defghij", b"k", b"lmnopqrstu"]
            .iter()
            .map(|b| bytes::Bytes::copy_from_slice(b))
            .collect();
        let all: Vec<u8> = buffers.iter().flat_map(|b| b.iter().copied()).collect();
        for step in [1, 2, 3, 4, 7, 21, 100] {
            let mut trickle = Trickle {
                step,
                got: Vec::new(),
                writes: 0,
            };
            let written = runtime
                .block_on(write_all_vectored(&mut trickle, &buffers))
                .expect("write");
            assert_eq!(written, all.len() as u64, "step {step}");
            assert_eq!(trickle.got, all, "step {step}");
            assert_eq!(
                trickle.writes,
                all.len().div_ceil(step),
                "step {step}: one write per step"
            );
        }
    }

    /// Runs the handshake on `input`; returns its outcome and what it answered.
    fn shake(input: &[u8]) -> (std::io::Result<Option<Target>>, Vec<u8>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (mut ours, mut theirs) = tokio::io::duplex(64 * 1024);
            theirs.write_all(input).await.expect("write input");
            theirs.shutdown().await.expect("end input");
            let outcome = tokio::time::timeout(Duration::from_secs(5), handshake(&mut ours))
                .await
                .expect("the handshake never hangs on a closed input");
            drop(ours);
            let mut answered = Vec::new();
            theirs
                .read_to_end(&mut answered)
                .await
                .expect("read answer");
            (outcome, answered)
        })
    }

    fn target(host: &str, port: u16, proto: Proto) -> Option<Target> {
        Some(Target {
            host: host.to_owned(),
            port,
            proto,
        })
    }

    #[test]
    fn socks5_connect_by_name_ip4_and_ip6() {
        let by_name = [&[5, 1, 0, 5, 1, 0, 3, 9][..], b"localhost", &[0x1F, 0x90]].concat();
        let (outcome, answered) = shake(&by_name);
        assert_eq!(
            outcome.expect("read"),
            target("localhost", 8080, Proto::Socks5)
        );
        assert_eq!(answered, [5, 0], "no authentication chosen");
        let (outcome, _) = shake(&[5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 7, 0, 80]);
        assert_eq!(
            outcome.expect("read"),
            target("10.0.0.7", 80, Proto::Socks5)
        );
        let mut ip6 = vec![5, 1, 0, 5, 1, 0, 4];
        ip6.extend(std::net::Ipv6Addr::LOCALHOST.octets());
        ip6.extend([0, 22]);
        assert_eq!(
            shake(&ip6).0.expect("read"),
            target("::1", 22, Proto::Socks5)
        );
    }

    #[test]
    fn socks4_and_4a_connect() {
        let socks4 = [&[4, 1, 0, 80, 10, 0, 0, 7][..], b"me\0"].concat();
        assert_eq!(
            shake(&socks4).0.expect("read"),
            target("10.0.0.7", 80, Proto::Socks4)
        );
        let socks4a = [&[4, 1, 1, 187, 0, 0, 0, 1][..], b"\0orders-vpce.example\0"].concat();
        assert_eq!(
            shake(&socks4a).0.expect("read"),
            target("orders-vpce.example", 443, Proto::Socks4),
            "4a: the name goes to the bastion unresolved"
        );
    }

    #[test]
    fn refusals_get_their_protocols_reply() {
        // SOCKS5 BIND: "command not supported" (7).
        let (outcome, answered) = shake(&[5, 1, 0, 5, 2, 0, 1, 10, 0, 0, 7, 0, 80]);
        assert!(outcome.expect("read").is_none());
        assert_eq!(answered, [5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
        // Only username/password offered: "no acceptable method".
        let (_, answered) = shake(&[5, 1, 2]);
        assert_eq!(answered, [5, 0xFF]);
        // SOCKS4 BIND: rejected (0x5B).
        let (_, answered) = shake(&[4, 2, 0, 80, 10, 0, 0, 7, 0]);
        assert_eq!(answered, [0, 0x5B, 0, 0, 0, 0, 0, 0]);
        // A SOCKS4a name longer than any host name: rejected, never read forever.
        let long = [&[4, 1, 0, 80, 0, 0, 0, 1, 0][..], &[b'a'; 300]].concat();
        let (outcome, answered) = shake(&long);
        assert!(outcome.expect("read").is_none());
        assert_eq!(answered, [0, 0x5B, 0, 0, 0, 0, 0, 0]);
        // Not SOCKS at all (an HTTP request): dropped without a reply.
        let (outcome, answered) = shake(b"GET / HTTP/1.1\r\n\r\n");
        assert!(outcome.expect("read").is_none());
        assert!(answered.is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 512, ..Default::default() })]

        /// Whatever a client sends, the handshake answers, refuses or fails: it never panics,
        /// never hangs on a closed input, and a target it accepts has a non-empty host.
        #[test]
        fn any_bytes_are_handled(input in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let (outcome, _) = shake(&input);
            if let Ok(Some(target)) = outcome {
                proptest::prop_assert!(!target.host.is_empty());
            }
        }

        /// SOCKS-shaped inputs reach deeper: a valid start, then anything.
        #[test]
        fn socks_shaped_bytes_are_handled(
            version in proptest::sample::select(vec![4u8, 5]),
            rest in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let input = [&[version, 1, 0, 5, 1, 0][..], &rest].concat();
            let (outcome, _) = shake(&input);
            if let Ok(Some(target)) = outcome {
                proptest::prop_assert!(!target.host.is_empty());
            }
        }
    }
}
