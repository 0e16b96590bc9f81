//! A tiny web server that answers like an Airflow web server would, so a test (or a person with
//! a browser) can see that a request went where it should.
//!
//! - any path: an HTML page titled "Airflow" that shows the `Host` header and the request path,
//!   in elements with the ids `host` and `path`;
//! - `/health`: JSON shaped like Airflow's health endpoint.
//!
//! Run it in process with [`serve`] or [`AirflowWeb::start`], or as the `airflow-web` binary
//! (`airflow-web --listen ADDR`), which is what the private network runs inside its namespace.
//! Other crates' tests find that binary with [`binary_path`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use axum::Router;
use axum::extract::Request;
use axum::http::header::HOST;
use axum::response::{Html, IntoResponse, Json};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Environment variable naming a prebuilt `airflow-web` binary; see [`binary_path`].
pub const BINARY_ENV: &str = "AIRGATE_AIRFLOW_WEB_BIN";

/// The routes: `/health` and everything else.
pub fn router() -> Router {
    Router::new().route("/health", get(health)).fallback(page)
}

/// Serves [`router`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// An in-process server on a background task; stops when dropped.
#[derive(Debug)]
pub struct AirflowWeb {
    addr: SocketAddr,
    task: JoinHandle<io::Result<()>>,
}

impl AirflowWeb {
    /// Binds `addr` (e.g. `127.0.0.1:0`) and serves on a background task.
    pub async fn start(addr: SocketAddr) -> io::Result<AirflowWeb> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, std::future::pending()));
        Ok(AirflowWeb { addr, task })
    }

    /// Binds a free port on 127.0.0.1.
    pub async fn start_local() -> io::Result<AirflowWeb> {
        Self::start(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for AirflowWeb {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn health() -> impl IntoResponse {
    Json(json!({
        "metadatabase": { "status": "healthy" },
        "scheduler": {
            "status": "healthy",
            "latest_scheduler_heartbeat": "2026-01-01T00:00:00+00:00"
        },
        "triggerer": { "status": "healthy", "latest_triggerer_heartbeat": null },
        "dag_processor": { "status": null, "latest_dag_processor_heartbeat": null }
    }))
}

async fn page(request: Request) -> impl IntoResponse {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("(none)");
    let path = request.uri().path();
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    Html(render(host, path, &query))
}

fn render(host: &str, path: &str, query: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Airflow</title></head>\n\
         <body>\n<h1>Airflow</h1>\n<p>Host: <span id=\"host\">{}</span></p>\n\
         <p>Path: <span id=\"path\">{}</span></p>\n<p>Query: <span id=\"query\">{}</span></p>\n\
         </body>\n</html>\n",
        escape(host),
        escape(path),
        escape(query),
    )
}

/// What a page served by [`router`] says it was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The `Host` header, as the server received it.
    pub host: String,
    /// The path, without the query.
    pub path: String,
}

impl Page {
    /// Reads a page served by [`router`]; `None` when `html` is not one.
    pub fn parse(html: &str) -> Option<Page> {
        if !html.contains("<title>Airflow</title>") {
            return None;
        }
        let field = |id: &str| {
            let start = format!("<span id=\"{id}\">");
            let rest = &html[html.find(&start)? + start.len()..];
            Some(unescape(&rest[..rest.find("</span>")?]))
        };
        Some(Page {
            host: field("host")?,
            path: field("path")?,
        })
    }

    pub fn new(host: impl Into<String>, path: impl Into<String>) -> Page {
        Page {
            host: host.into(),
            path: path.into(),
        }
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where the `airflow-web` binary is, for tests of other crates that need it as a process
/// (e.g. inside a network namespace, via `ip netns exec`).
///
/// 1. `$AIRGATE_AIRFLOW_WEB_BIN`, when set (CI can build once and point at it);
/// 2. the `airflow-web` next to the running test's directory (`target/<profile>/`), when it is
///    newer than every source file of this crate: cargo built it in the same run when this
///    crate was among the tested packages;
/// 3. otherwise `cargo build --bin airflow-web` of this crate, which never leaves a stale
///    binary; the path comes from cargo's own report, so `CARGO_TARGET_DIR` and profiles are
///    honoured. `$CARGO` (set by cargo for the processes it runs) picks the same toolchain.
pub fn binary_path() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os(BINARY_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(io::Error::other(format!(
            "{BINARY_ENV} points at {}, which is not a file",
            path.display()
        )));
    }
    if let Some(path) = fresh_sibling_binary() {
        return Ok(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "--bin",
            "airflow-web",
        ])
        .args(["--manifest-path", manifest])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| io::Error::other(format!("could not run cargo to build airflow-web: {e}")))?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "cargo build --bin airflow-web failed ({}); set {BINARY_ENV} to a prebuilt binary",
            output.status
        )));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| {
            msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "airflow-web"
        })
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| io::Error::other("cargo built airflow-web but did not report its path"))
}

/// `target/<profile>/airflow-web` when newer than this crate's sources.
fn fresh_sibling_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // Test executables live in target/<profile>/deps/.
    let profile_dir = exe.parent()?.parent()?;
    let binary = profile_dir.join("airflow-web");
    let built = std::fs::metadata(&binary).ok()?.modified().ok()?;
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest_source = newest_mtime(&crate_dir.join("src"), 4)?.max(
        std::fs::metadata(crate_dir.join("Cargo.toml"))
            .ok()?
            .modified()
            .ok()?,
    );
    (built >= newest_source).then_some(binary)
}

fn newest_mtime(dir: &std::path::Path, depth: u8) -> Option<std::time::SystemTime> {
    let mut newest = std::fs::metadata(dir).ok()?.modified().ok()?;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let meta = entry.metadata().ok()?;
        let modified = if meta.is_dir() && depth > 0 {
            newest_mtime(&entry.path(), depth - 1)?
        } else {
            meta.modified().ok()?
        };
        newest = newest.max(modified);
    }
    Some(newest)
}

#[cfg(test)]
mod tests {
    use super::{Page, escape, render};

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn a_page_reads_back_what_was_asked() {
        let html = render(
            "x-vpce.c1.eu-west-1.airflow.amazonaws.com",
            "/dags/a<b>/grid",
            "?tab=logs",
        );
        assert_eq!(
            Page::parse(&html),
            Some(Page::new(
                "x-vpce.c1.eu-west-1.airflow.amazonaws.com",
                "/dags/a<b>/grid"
            ))
        );
        assert_eq!(Page::parse("<html>It works!</html>"), None);
    }
}
