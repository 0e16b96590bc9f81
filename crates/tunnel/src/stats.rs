//! What a tunnel carried: since when it is connected, bytes each way, connections open now and
//! in all. Counted as the relays run (atomics), read on demand.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The counters of one tunnel, shared by its relays.
#[derive(Debug, Default)]
pub struct Stats {
    since_ms: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    open: AtomicU64,
    total: AtomicU64,
}

/// A tunnel's counters at one moment (numbers as `f64`: JavaScript's numbers, exact to 2^53).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TunnelStats {
    pub id: String,
    /// When the current session came up (Unix milliseconds); 0 while not connected.
    pub connected_since_ms: f64,
    /// Bytes from the bastion's side to local clients.
    pub bytes_in: f64,
    /// Bytes from local clients to the bastion's side.
    pub bytes_out: f64,
    /// Client connections relayed right now.
    pub open_connections: u32,
    /// Client connections relayed since the tunnel started.
    pub total_connections: u32,
}

impl Stats {
    /// Marks the session as up from now (`false`: down).
    pub(crate) fn set_connected(&self, up: bool) {
        let now = if up {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default()
        } else {
            0
        };
        self.since_ms.store(now, Ordering::Relaxed);
    }

    /// Counts a relay as open until the guard is dropped.
    pub(crate) fn relay(self: &Arc<Self>) -> RelayGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        RelayGuard(self.clone())
    }

    pub(crate) fn snapshot(&self, id: &str) -> TunnelStats {
        let read = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TunnelStats {
            id: id.to_owned(),
            connected_since_ms: read(&self.since_ms) as f64,
            bytes_in: read(&self.bytes_in) as f64,
            bytes_out: read(&self.bytes_out) as f64,
            open_connections: u32::try_from(read(&self.open)).unwrap_or(u32::MAX),
            total_connections: u32::try_from(read(&self.total)).unwrap_or(u32::MAX),
        }
    }
}

/// One open relay; closes it in the counters when dropped.
pub(crate) struct RelayGuard(Arc<Stats>);

impl Drop for RelayGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A local client's stream that counts what it reads (out) and what is written to it (in).
pub(crate) struct Counted<S> {
    inner: S,
    stats: Arc<Stats>,
}

impl<S> Counted<S> {
    pub(crate) fn new(inner: S, stats: Arc<Stats>) -> Self {
        Self { inner, stats }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.stats
                .bytes_out
                .fetch_add(read as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl<S> Counted<S> {
    /// Adds what a write took to the bytes sent to the client.
    fn count_written(&self, polled: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        if let Poll::Ready(Ok(written)) = &polled {
            self.stats
                .bytes_in
                .fetch_add(*written as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.count_written(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.count_written(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
