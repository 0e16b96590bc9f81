//! A proxy auto-config (PAC) file on loopback: each running private environment's web server
//! goes to its tunnel, everything else DIRECT. Pointing the system proxy, Firefox or FoxyProxy
//! at it gives any browser the routes Airgate's own browsers get, kept up to date as tunnels
//! come and go.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// The PAC port unless the settings say otherwise.
pub const DEFAULT_PAC_PORT: u16 = 47157;
/// Where the file is served.
pub const PAC_PATH: &str = "/proxy.pac";
/// Requests served at the same time.
const MAX_CONNECTIONS: usize = 16;

/// One host sent to one tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct PacRoute {
    /// The web server's host name, without port.
    pub host: String,
    pub socks_port: u16,
}

/// The PAC script for `routes`: an exact, case-insensitive host match to `SOCKS5` (hostnames go
/// to the bastion unresolved), anything else `DIRECT`.
pub fn script(routes: &[PacRoute]) -> String {
    let mut out = String::from(
        "// Airgate: private Airflow web servers through their tunnels, everything else direct.\n\
         var routes = {\n",
    );
    for route in routes {
        let host = route.host.to_ascii_lowercase().replace(['"', '\\'], "");
        out.push_str(&format!(
            "  \"{host}\": \"SOCKS5 127.0.0.1:{port}; SOCKS 127.0.0.1:{port}\",\n",
            port = route.socks_port
        ));
    }
    out.push_str(
        "};\n\
         function FindProxyForURL(url, host) {\n  \
           var key = host.toLowerCase();\n  \
           if (Object.prototype.hasOwnProperty.call(routes, key)) return routes[key];\n  \
           return \"DIRECT\";\n\
         }\n",
    );
    out
}

/// Serves the PAC file for the current `routes` on `listener` until `routes`' sender is gone.
pub async fn serve(listener: TcpListener, routes: watch::Receiver<Vec<PacRoute>>) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut closed = routes.clone();
    loop {
        tokio::select! {
            changed = closed.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    continue;
                };
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    return;
                };
                let body = script(&routes.borrow());
                tokio::spawn(async move {
                    answer(stream, peer, &body).await;
                    drop(permit);
                });
            }
        }
    }
}

async fn answer(mut stream: TcpStream, peer: SocketAddr, body: &str) {
    let Some(line) = crate::http::read_request_line(&mut stream).await else {
        return;
    };
    let path = line.split(' ').nth(1).unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    let response = if line.starts_with("GET ") && (path == PAC_PATH || path == "/") {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\n\
             Cache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
    };
    tracing::debug!(%peer, %line, "PAC request");
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    #[test]
    fn private_hosts_go_to_their_tunnel_and_the_rest_direct() {
        let text = script(&[PacRoute {
            host: "ABC-vpce.c1.eu-west-1.airflow.amazonaws.com".into(),
            socks_port: 41080,
        }]);
        assert!(text.contains(
            "\"abc-vpce.c1.eu-west-1.airflow.amazonaws.com\": \"SOCKS5 127.0.0.1:41080; SOCKS 127.0.0.1:41080\""
        ));
        assert!(text.contains("return \"DIRECT\";"));
        assert!(script(&[]).contains("var routes = {\n};"));
    }

    #[tokio::test]
    async fn the_file_follows_the_routes() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = watch::channel(Vec::new());
        let server = tokio::spawn(serve(listener, rx));
        let get = || async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(b"GET /proxy.pac HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("send");
            let mut out = String::new();
            let _ = stream.read_to_string(&mut out).await;
            out
        };
        assert!(!get().await.contains("SOCKS5"));
        tx.send_replace(vec![PacRoute {
            host: "h.example".into(),
            socks_port: 5000,
        }]);
        let now = get().await;
        assert!(now.starts_with("HTTP/1.1 200 OK"), "{now}");
        assert!(now.contains("application/x-ns-proxy-autoconfig"), "{now}");
        assert!(
            now.contains("\"h.example\": \"SOCKS5 127.0.0.1:5000"),
            "{now}"
        );
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops with its routes")
            .expect("no panic");
    }
}
