//! Hands the login URL to a browser without putting it on a command line (where any local user
//! could read it in the process list): the browser is started on a one-shot loopback URL that
//! answers once with a redirect to the login URL, then stops listening.
//!
//! Browsers never send loopback requests through a proxy, so this works for routed profiles too.

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::{Error, Result};

/// How long the one-shot URL waits for the browser (a browser starting cold takes a few seconds).
pub const HANDOFF_TIMEOUT: Duration = Duration::from_secs(60);

/// A one-shot URL waiting for the browser.
#[derive(Debug)]
pub struct Handoff {
    /// What to give the browser: `http://127.0.0.1:PORT/open/<128 random bits>`.
    pub url: String,
    served: tokio::sync::oneshot::Receiver<()>,
}

impl Handoff {
    /// Resolves once the browser fetched the URL (its first request); never, if it does not
    /// come within [`HANDOFF_TIMEOUT`].
    pub async fn served(self) -> bool {
        self.served.await.is_ok()
    }
}

/// Starts a one-shot redirect to `target` on 127.0.0.1.
///
/// The path carries 128 random bits, so only the process told the URL can use it; the first
/// request for it gets `302 Found` to `target`, and the listener closes. Unanswered, it closes
/// after [`HANDOFF_TIMEOUT`].
pub async fn one_shot_redirect(target: String) -> Result<Handoff> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(Error::Handoff)?;
    let port = listener.local_addr().map_err(Error::Handoff)?.port();
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)
        .map_err(|e| Error::Handoff(std::io::Error::other(e.to_string())))?;
    let path = format!(
        "/open/{}",
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let url = format!("http://127.0.0.1:{port}{path}");
    let (done, served) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let outcome = tokio::time::timeout(HANDOFF_TIMEOUT, async {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                if answer(stream, &path, &target).await {
                    return;
                }
            }
        })
        .await;
        match outcome {
            Ok(()) => {
                let _ = done.send(());
            }
            Err(_) => tracing::warn!("the browser did not come for the login URL within 60 s"),
        }
    });
    Ok(Handoff { url, served })
}

/// Answers one connection; `true` once the redirect was sent.
async fn answer(mut stream: TcpStream, path: &str, target: &str) -> bool {
    let Some(request_line) = crate::http::read_request_line(&mut stream).await else {
        return false;
    };
    let wanted = format!("GET {path} ");
    let response = if request_line.starts_with(&wanted) {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {target}\r\nCache-Control: no-store\r\n\
             Referrer-Policy: no-referrer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    } else {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    request_line.starts_with(&wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn get(url: &str) -> String {
        let rest = url.strip_prefix("http://").expect("http URL");
        let (addr, path) = rest.split_once('/').expect("a path");
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(format!("GET /{path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .expect("send");
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out).await;
        out
    }

    #[tokio::test]
    async fn the_redirect_is_served_once_and_only_on_its_path() {
        let target = "https://h.example/aws_mwaa/aws-console-sso?login=true#TOKEN";
        let handoff = one_shot_redirect(target.to_owned()).await.expect("start");
        let url = handoff.url.clone();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let (base, _) = url.rsplit_once('/').expect("a nonce");
        let guessed = get(&format!("{base}/0000")).await;
        assert!(guessed.starts_with("HTTP/1.1 404"), "{guessed}");
        let first = get(&url).await;
        assert!(first.starts_with("HTTP/1.1 302"), "{first}");
        assert!(handoff.served().await, "the handoff tells it was served");
        assert!(
            first.contains(&format!("Location: {target}\r\n")),
            "{first}"
        );
        let rest = url.strip_prefix("http://").expect("http");
        let addr = rest.split_once('/').expect("path").0;
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed after the redirect"
        );
    }
}
