//! The bastion's TCP connection, acknowledging at once what it reads (Linux's `TCP_QUICKACK`).
//!
//! `sshd` sets no `TCP_NODELAY` on a connection that only forwards, so Nagle's algorithm holds
//! each small packet it sends (a channel's confirmation, the last bytes of a response, its EOF and
//! CLOSE) until the one before is acknowledged. A client that delays its acknowledgement (Linux
//! waits up to 40 ms once a connection looks interactive) then stalls every short exchange by that
//! long. Acknowledging at once after each read ends those stalls; the kernel turns quick
//! acknowledgement off again by itself, so it is asked for after every read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A [`TcpStream`] that asks for quick acknowledgement after every read that brought data.
#[derive(Debug)]
pub(crate) struct QuickAck(pub(crate) TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            quick_ack(&self.0);
        }
        polled
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn quick_ack(stream: &TcpStream) {
    // Only a hint: a socket that refuses it acknowledges as it always did.
    let _ = stream.set_quickack(true);
}

/// Elsewhere there is no such option: acknowledgements go as the system sends them.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quick_ack(_: &TcpStream) {}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn bytes_pass_both_ways_and_each_read_asks_for_quick_acknowledgement() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let mut ours = QuickAck(client.expect("connect"));
        let (mut theirs, _) = accepted.expect("accept");

        for round in 0..3u8 {
            #[cfg(target_os = "linux")]
            ours.0
                .set_quickack(false)
                .expect("quick acknowledgement off");
            theirs.write_all(&[round; 100]).await.expect("their write");
            let mut got = [0u8; 100];
            ours.read_exact(&mut got).await.expect("our read");
            assert_eq!(got, [round; 100]);
            #[cfg(target_os = "linux")]
            assert!(
                ours.0.quickack().expect("TCP_QUICKACK"),
                "round {round}: the read asked for quick acknowledgement"
            );
            ours.write_all(&[round + 10; 50]).await.expect("our write");
            let mut back = [0u8; 50];
            theirs.read_exact(&mut back).await.expect("their read");
            assert_eq!(back, [round + 10; 50]);
        }
    }
}
