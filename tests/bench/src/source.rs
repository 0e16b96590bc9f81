//! A TCP source on 127.0.0.1: each client gets a fixed number of bytes, then the server closes.
//!
//! It runs on plain threads, apart from the async runtime that drives the tunnel under test, so
//! serving the data does not compete with the tunnel for the runtime's workers.

use std::io::{self, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long one write to a client may block before the server gives up on it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Size of the block written over and over.
const BLOCK: usize = 1 << 20;

/// A listening source; stops accepting on drop.
#[derive(Debug)]
pub struct Source {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Source {
    /// Listens on 127.0.0.1 (a free port) and sends `bytes` bytes to every client.
    pub fn start(bytes: u64) -> io::Result<Source> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let block: Arc<[u8]> = (0..BLOCK)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        let acceptor = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("source-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &stop, &block, bytes))?
        };
        Ok(Source {
            addr,
            stop,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, block: &Arc<[u8]>, bytes: u64) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let block = block.clone();
        // A client that cannot be served is the client's failure to report, not ours.
        let _ = std::thread::Builder::new()
            .name("source-client".to_owned())
            .spawn(move || serve(stream, &block, bytes));
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
}
