//! Sources on 127.0.0.1. [`Source`]: each client gets a fixed number of bytes, then the server
//! closes. [`HttpSource`]: a tiny HTTP/1.1 server that answers every request with the same small
//! page and closes (`Connection: close`).
//!
//! They run on threads of their own, apart from the async runtime of the benchmark's client, so
//! serving does not compete with the client for the runtime's workers.

use std::io::{self, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// How long one write to a client may block before the server gives up on it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Size of the block written over and over.
const BLOCK: usize = 1 << 20;
/// Connections the HTTP source's kernel queue holds before it accepts them (Linux caps it at
/// `net.core.somaxconn`), so that a burst waits in the queue rather than being dropped there.
const HTTP_BACKLOG: u32 = 4096;
/// Longest request head the HTTP source reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request and take the response.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// A server on 127.0.0.1 (a free port) that serves each client on a thread of its own with
/// `serve`; stops accepting on drop.
#[derive(Debug)]
struct ThreadServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl ThreadServer {
    fn start<F>(name: &str, serve: F) -> io::Result<ThreadServer>
    where
        F: Fn(TcpStream) -> io::Result<()> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let serve = Arc::new(serve);
        let client_name = format!("{name}-client");
        let acceptor = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{}", addr.port()))
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(stream) = stream else { continue };
                        let serve = serve.clone();
                        // A client that cannot be served is the client's failure to report.
                        let _ = std::thread::Builder::new()
                            .name(client_name.clone())
                            .spawn(move || serve(stream));
                    }
                })?
        };
        Ok(ThreadServer {
            addr,
            stop,
            acceptor: Some(acceptor),
        })
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A listening source; stops accepting on drop.
#[derive(Debug)]
pub struct Source(ThreadServer);

impl Source {
    /// Listens on 127.0.0.1 (a free port) and sends `bytes` bytes to every client.
    pub fn start(bytes: u64) -> io::Result<Source> {
        let block: Arc<[u8]> = (0..BLOCK)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        ThreadServer::start("source", move |stream| serve(stream, &block, bytes)).map(Source)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr
    }
}

fn serve(mut stream: TcpStream, block: &[u8], bytes: u64) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left).map_or(block.len(), |l| l.min(block.len()));
        stream.write_all(&block[..n])?;
        left -= n as u64;
    }
    stream.shutdown(Shutdown::Write)
}

/// A listening sink; stops accepting on drop. Each client sends what it likes and ends its
/// sending; the sink answers with the count of bytes it got (8 bytes, big-endian), then closes.
#[derive(Debug)]
pub struct Sink(ThreadServer);

impl Sink {
    /// Listens on 127.0.0.1 (a free port).
    pub fn start() -> io::Result<Sink> {
        ThreadServer::start("sink", swallow).map(Sink)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr
    }
}

/// Reads until the client ends its sending, then tells how much came.
fn swallow(mut stream: TcpStream) -> io::Result<()> {
    use std::io::Read as _;
    stream.set_read_timeout(Some(WRITE_TIMEOUT))?;
    let mut buffer = vec![0u8; BLOCK];
    let mut got = 0u64;
    loop {
        match stream.read(&mut buffer)? {
            0 => break,
            n => got += n as u64,
        }
    }
    stream.write_all(&got.to_be_bytes())?;
    stream.shutdown(Shutdown::Write)
}

/// A small HTTP/1.1 server: every request gets `200 OK` with the same body, then the server
/// closes the connection. One thread with its own single-threaded runtime serves all clients;
/// stops on drop.
#[derive(Debug)]
pub struct HttpSource {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl HttpSource {
    /// Listens on 127.0.0.1 (a free port) and answers with a body of `body_bytes` bytes.
    pub fn start(body_bytes: usize) -> io::Result<HttpSource> {
        let response: Arc<[u8]> = http_response(body_bytes).into();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let server = std::thread::Builder::new()
            .name("http-source".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(serve_http(ready_tx, stop_rx, response));
            })?;
        let addr = match ready_rx.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("the HTTP source stopped before listening")),
        };
        Ok(HttpSource {
            addr,
            stop: Some(stop_tx),
            server: Some(server),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpSource {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

/// The whole response, head and body (printable bytes, so it reads back as text).
fn http_response(body_bytes: usize) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body_bytes}\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    response.extend((0..body_bytes).map(|i| b'a' + (i % 26) as u8));
    response
}

/// Listens, reports the address on `ready`, and serves until `stop` fires (or its sender goes).
async fn serve_http(
    ready: std::sync::mpsc::Sender<io::Result<SocketAddr>>,
    mut stop: oneshot::Receiver<()>,
    response: Arc<[u8]>,
) {
    let listener = match listen_http() {
        Ok(listener) => listener,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let addr = listener.local_addr();
    let listening = addr.is_ok();
    let _ = ready.send(addr);
    if !listening {
        return;
    }
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                // A client that cannot be served is the client's failure to report, not ours.
                if let Ok((stream, _)) = accepted {
                    let response = response.clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(HTTP_TIMEOUT, answer(stream, &response)).await;
                    });
                }
            }
        }
    }
}

fn listen_http() -> io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    socket.listen(HTTP_BACKLOG)
}

/// Reads one request head, writes the response, closes.
async fn answer(mut stream: tokio::net::TcpStream, response: &[u8]) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..n]);
    }
    stream.write_all(response).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn every_client_gets_exactly_the_bytes_then_end_of_stream() {
        let source = Source::start(3 * BLOCK as u64 + 17).expect("start source");
        for _ in 0..2 {
            let mut client = TcpStream::connect(source.addr()).expect("connect");
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("read timeout");
            let mut data = Vec::new();
            client.read_to_end(&mut data).expect("read to end");
            assert_eq!(data.len(), 3 * BLOCK + 17);
            assert_eq!(&data[..4], &[0, 1, 2, 3]);
        }
    }

    #[tokio::test]
    async fn every_http_request_gets_the_page_then_the_connection_closes() {
        let source = HttpSource::start(1000).expect("start HTTP source");
        for _ in 0..2 {
            let response = airgate_peers::socks_client::direct_get(source.addr(), "/")
                .await
                .expect("GET");
            assert_eq!(response.status, 200, "{response:?}");
            assert_eq!(response.header("content-length"), Some("1000"));
            assert_eq!(response.body.len(), 1000);
            assert!(response.body.starts_with("abc"), "{response:?}");
        }
    }
}
