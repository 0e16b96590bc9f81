//! A small SOCKS5 client for tests: connect through a SOCKS proxy the way a browser does (the
//! hostname is sent unresolved, so the proxy side resolves it), and fetch a page over HTTP/1.1.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long any one step (connect, handshake, whole HTTP exchange) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// What went wrong talking through the proxy.
#[derive(Debug, thiserror::Error)]
pub enum SocksError {
    #[error("SOCKS proxy I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error("SOCKS proxy did not answer within {0:?}")]
    Timeout(Duration),
    #[error("SOCKS proxy spoke an unexpected protocol: {0}")]
    Protocol(String),
    /// The proxy answered the CONNECT request with this reply code (RFC 1928 section 6).
    #[error("SOCKS proxy refused the connection with reply {code:#04x} ({})", reply_name(*code))]
    Refused { code: u8 },
}

/// RFC 1928 names of the reply codes.
pub fn reply_name(code: u8) -> &'static str {
    match code {
        0x00 => "succeeded",
        0x01 => "general SOCKS server failure",
        0x02 => "connection not allowed by ruleset",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused",
        0x06 => "TTL expired",
        0x07 => "command not supported",
        0x08 => "address type not supported",
        _ => "unassigned",
    }
}

/// Opens a stream to `host:port` through the SOCKS5 proxy at `socks` (no authentication).
/// An IP literal is sent as an address; anything else as a domain name, unresolved.
pub async fn connect(socks: SocketAddr, host: &str, port: u16) -> Result<TcpStream, SocksError> {
    let mut stream = timeout(STEP_TIMEOUT, TcpStream::connect(socks))
        .await
        .map_err(|_| SocksError::Timeout(STEP_TIMEOUT))??;
    timeout(STEP_TIMEOUT, handshake(&mut stream, host, port))
        .await
        .map_err(|_| SocksError::Timeout(STEP_TIMEOUT))??;
    Ok(stream)
}

async fn handshake(stream: &mut TcpStream, host: &str, port: u16) -> Result<(), SocksError> {
    stream.write_all(&[0x05, 0x01, 0x00]).await?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).await?;
    if choice != [0x05, 0x00] {
        return Err(SocksError::Protocol(format!(
            "proxy chose method {choice:02x?}, expected no authentication"
        )));
    }
    let mut request = vec![0x05, 0x01, 0x00];
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(ip)) => {
            request.push(0x01);
            request.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            request.push(0x04);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len())
                .map_err(|_| SocksError::Protocol(format!("host name too long: {host}")))?;
            request.push(0x03);
            request.push(len);
            request.extend_from_slice(host.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).await?;

    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await?;
    if head[0] != 0x05 {
        return Err(SocksError::Protocol(format!(
            "reply version {:#04x}",
            head[0]
        )));
    }
    if head[1] != 0x00 {
        return Err(SocksError::Refused { code: head[1] });
    }
    let addr_len = match head[3] {
        0x01 => 4,
        0x04 => 16,
        0x03 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).await?;
            usize::from(len[0])
        }
        other => {
            return Err(SocksError::Protocol(format!(
                "reply address type {other:#04x}"
            )));
        }
    };
    let mut bound = vec![0u8; addr_len + 2];
    stream.read_exact(&mut bound).await?;
    Ok(())
}

/// An HTTP response, body decoded from chunked encoding when needed.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {:?}\n{}", self.status, self.headers, self.body)
    }
}

/// `GET path` from `host:port` through the SOCKS5 proxy at `socks`, like a browser configured
/// with that proxy: the `Host` header names `host` (with the port unless it is 80).
pub async fn http_get(
    socks: SocketAddr,
    host: &str,
    port: u16,
    path: &str,
) -> Result<HttpResponse, SocksError> {
    let stream = connect(socks, host, port).await?;
    let name = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => host.to_owned(),
    };
    let host_header = if port == 80 {
        name
    } else {
        format!("{name}:{port}")
    };
    get_over(stream, &host_header, path).await
}

/// `GET path` straight from `addr` (a local forward, which speaks no SOCKS), `Host: localhost`.
pub async fn direct_get(addr: SocketAddr, path: &str) -> Result<HttpResponse, SocksError> {
    let stream = timeout(STEP_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| SocksError::Timeout(STEP_TIMEOUT))??;
    get_over(stream, "localhost", path).await
}

async fn get_over(
    mut stream: TcpStream,
    host_header: &str,
    path: &str,
) -> Result<HttpResponse, SocksError> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: airgate-tests\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    let raw = timeout(STEP_TIMEOUT, async {
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, io::Error>(raw)
    })
    .await
    .map_err(|_| SocksError::Timeout(STEP_TIMEOUT))??;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, SocksError> {
    let bad = |what: &str| SocksError::Protocol(format!("bad HTTP response: {what}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("broken chunked body"))?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").expect("plain");
        assert_eq!((plain.status, plain.body.as_str()), (200, "hi"));
        assert_eq!(plain.header("content-length"), Some("2"));
        let chunked = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!((chunked.status, chunked.body.as_str()), (404, "abcde"));
    }
}
