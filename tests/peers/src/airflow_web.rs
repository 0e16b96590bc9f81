//! A tiny web server that answers like an Airflow web server would, so a test (or a person with
//! a browser) can see that a request went where it should, and that a login worked.
//!
//! - any path: an HTML page titled "Airflow" that shows the `Host` header and the request path,
//!   in elements with the ids `host` and `path`;
//! - `/health`: JSON shaped like Airflow's health endpoint;
//! - with a [`TokenKey`] ([`WebConfig::token_key`]), MWAA's login, for Airflow 2 and 3 alike:
//!   `GET /aws_mwaa/aws-console-sso` (and `/pluginsv2/aws_mwaa/aws-console-sso`) serves a page
//!   whose script reads the web login token from the URL's fragment (which browsers never send)
//!   and posts it to `/aws_mwaa/login` (`/pluginsv2/aws_mwaa/login`). The server checks the token
//!   (signed by the MWAA server, unexpired, minted for this host, never used before), sets a
//!   session cookie and redirects to `/home`, which then says who is logged in, on which
//!   environment (ids `user` and `env`).
//!
//! Every request is appended to [`WebConfig::log`] as one JSON line ([`LogEntry`]), which tests
//! read with [`read_log`].
//!
//! Run it in process with [`serve`] or [`AirflowWeb::start`], or as the `airflow-web` binary
//! (`airflow-web --listen ADDR`, `--tls-listen ADDR --tls-cert F --tls-key F`,
//! `--token-key HEX`, `--log FILE`), which is what the private network runs inside its
//! namespace. Other crates' tests find that binary with [`binary_path`].

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Request, State};
use axum::http::header::{COOKIE, HOST, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::web_token::{TokenKey, now_secs};

/// Environment variable naming a prebuilt `airflow-web` binary; see [`binary_path`].
pub const BINARY_ENV: &str = "AIRGATE_AIRFLOW_WEB_BIN";

/// What the server does beyond echoing requests.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Check MWAA web login tokens signed with this key (enables the login routes).
    pub token_key: Option<TokenKey>,
    /// Append one JSON line per request to this file.
    pub log: Option<PathBuf>,
}

/// One line of the request log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// `request` (any page), `login` (a token was checked), `home` (the logged-in page).
    pub event: String,
    pub host: String,
    pub path: String,
    /// For `login`: whether the token was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// For a refused `login`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `login` and `home`: the environment and user of the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// Reads a request log written by the server; lines it cannot read are skipped.
pub fn read_log(path: &Path) -> Vec<LogEntry> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[derive(Debug, Clone)]
struct Session {
    env: String,
    user: String,
}

#[derive(Debug)]
struct Web {
    config: WebConfig,
    log: Mutex<Option<std::fs::File>>,
    used: Mutex<HashSet<String>>,
    sessions: Mutex<HashMap<String, Session>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Web {
    fn new(config: WebConfig) -> Web {
        let log = config.log.as_ref().and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| eprintln!("airflow-web: cannot open log {}: {e}", path.display()))
                .ok()
        });
        Web {
            config,
            log: Mutex::new(log),
            used: Mutex::new(HashSet::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn record(&self, mut entry: LogEntry) {
        entry.at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let line = serde_json::to_string(&entry).unwrap_or_default();
        if let Some(file) = lock(&self.log).as_mut() {
            let _ = writeln!(file, "{line}");
            let _ = file.flush();
        }
    }
}

fn entry(event: &str, host: &str, path: &str) -> LogEntry {
    LogEntry {
        event: event.to_owned(),
        host: host.to_owned(),
        path: path.to_owned(),
        ok: None,
        reason: None,
        env: None,
        user: None,
        at_ms: 0,
    }
}

type Shared = State<Arc<Web>>;

/// The routes: `/health` and everything else.
pub fn router() -> Router {
    router_with(WebConfig::default())
}

/// The routes, with MWAA's login when `config` has a token key.
pub fn router_with(config: WebConfig) -> Router {
    let web = Arc::new(Web::new(config));
    Router::new()
        .route("/health", get(health))
        .route("/aws_mwaa/aws-console-sso", get(console_sso))
        .route("/pluginsv2/aws_mwaa/aws-console-sso", get(console_sso))
        .route("/aws_mwaa/login", post(login))
        .route("/pluginsv2/aws_mwaa/login", post(login))
        .route("/home", get(home))
        .fallback(page)
        .with_state(web)
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

/// Serves `app` over TLS on `listener`, until the task is dropped.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (stream, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
        });
    }
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

    /// Binds `addr` and serves [`router_with`] `config` over plain HTTP.
    pub async fn start_with(addr: SocketAddr, config: WebConfig) -> io::Result<AirflowWeb> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = router_with(config);
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(AirflowWeb { addr, task })
    }

    /// Binds `addr` and serves [`router_with`] `config` over TLS.
    pub async fn start_tls(
        addr: SocketAddr,
        config: WebConfig,
        tls: Arc<ServerConfig>,
    ) -> io::Result<AirflowWeb> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve_tls(listener, tls, router_with(config)));
        Ok(AirflowWeb { addr, task })
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

fn host_of(headers: &HeaderMap) -> String {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("(none)")
        .to_owned()
}

async fn page(State(web): Shared, request: Request) -> impl IntoResponse {
    let host = host_of(request.headers());
    let path = request.uri().path().to_owned();
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    web.record(entry("request", &host, &path));
    Html(render(&host, &path, &query, None))
}

/// MWAA's sign-in page: its script posts the token from the fragment to the login route.
async fn console_sso(State(web): Shared, request: Request) -> Response {
    let host = host_of(request.headers());
    let path = request.uri().path().to_owned();
    web.record(entry("request", &host, &path));
    if web.config.token_key.is_none() {
        return Html(render(&host, &path, "", None)).into_response();
    }
    let login = path.replace("/aws-console-sso", "/login");
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Signing in to Airflow</title></head>\n\
         <body>\n<p id=\"status\">Signing in…</p>\n\
         <form id=\"login\" method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"token\" id=\"token\"></form>\n\
         <script>\n\
         const token = decodeURIComponent(location.hash.slice(1));\n\
         if (token) {{\n  document.getElementById('token').value = token;\n  history.replaceState(null, '', location.pathname);\n  document.getElementById('login').submit();\n}} else {{\n  document.getElementById('status').textContent = 'No login token in the address.';\n}}\n\
         </script>\n</body>\n</html>\n",
        escape(&login)
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(web): Shared,
    headers: HeaderMap,
    request_path: axum::http::Uri,
    Form(form): Form<LoginForm>,
) -> Response {
    let host = host_of(&headers);
    let path = request_path.path().to_owned();
    let Some(key) = web.config.token_key.clone() else {
        web.record(entry("request", &host, &path));
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut logged = entry("login", &host, &path);
    let checked = key.verify(&form.token, now_secs()).and_then(|claims| {
        let presented = host.strip_suffix(":443").unwrap_or(&host);
        if claims.host != presented {
            return Err(crate::web_token::Rejection::WrongHost {
                minted_for: claims.host,
                presented_to: host.clone(),
            });
        }
        if !lock(&web.used).insert(form.token.clone()) {
            return Err(crate::web_token::Rejection::Reused);
        }
        Ok(claims)
    });
    match checked {
        Ok(claims) => {
            let id = TokenKey::generate().to_hex();
            lock(&web.sessions).insert(
                id.clone(),
                Session {
                    env: claims.env.clone(),
                    user: claims.identity.clone(),
                },
            );
            logged.ok = Some(true);
            logged.env = Some(claims.env);
            logged.user = Some(claims.identity);
            web.record(logged);
            (
                StatusCode::FOUND,
                [
                    (LOCATION, "/home".to_owned()),
                    (
                        SET_COOKIE,
                        format!("session={id}; Path=/; HttpOnly; Secure; SameSite=Lax"),
                    ),
                ],
            )
                .into_response()
        }
        Err(rejection) => {
            logged.ok = Some(false);
            logged.reason = Some(rejection.to_string());
            web.record(logged);
            (
                StatusCode::FORBIDDEN,
                Html(format!(
                    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Airflow</title></head>\
                     <body><h1>Sign-in failed</h1><p id=\"reason\">{}</p></body></html>\n",
                    escape(&rejection.to_string())
                )),
            )
                .into_response()
        }
    }
}

fn session_of(web: &Web, headers: &HeaderMap) -> Option<Session> {
    let cookies = headers.get(COOKIE)?.to_str().ok()?;
    let id = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == "session")?
        .1;
    lock(&web.sessions).get(id).cloned()
}

async fn home(State(web): Shared, headers: HeaderMap) -> Response {
    let host = host_of(&headers);
    let session = session_of(&web, &headers);
    let mut logged = entry("home", &host, "/home");
    logged.env = session.as_ref().map(|s| s.env.clone());
    logged.user = session.as_ref().map(|s| s.user.clone());
    web.record(logged);
    match session {
        Some(session) => Html(render(
            &host,
            "/home",
            "",
            Some((&session.user, &session.env)),
        ))
        .into_response(),
        None if web.config.token_key.is_some() => {
            (StatusCode::FOUND, [(LOCATION, "/login/")]).into_response()
        }
        None => Html(render(&host, "/home", "", None)).into_response(),
    }
}

fn render(host: &str, path: &str, query: &str, user: Option<(&str, &str)>) -> String {
    let who = match user {
        Some((user, env)) => format!(
            "<p>Logged in as <span id=\"user\">{}</span> on <span id=\"env\">{}</span></p>\n",
            escape(user),
            escape(env)
        ),
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Airflow</title></head>\n\
         <body>\n<h1>Airflow</h1>\n{who}<p>Host: <span id=\"host\">{}</span></p>\n\
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
        Some(Page {
            host: field(html, "host")?,
            path: field(html, "path")?,
        })
    }

    pub fn new(host: impl Into<String>, path: impl Into<String>) -> Page {
        Page {
            host: host.into(),
            path: path.into(),
        }
    }
}

/// The text of the element with id `id` in a page of this server.
pub fn field(html: &str, id: &str) -> Option<String> {
    let start = format!("<span id=\"{id}\">");
    let rest = &html[html.find(&start)? + start.len()..];
    Some(unescape(&rest[..rest.find("</span>")?]))
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
    use super::*;
    use crate::web_token::TokenClaims;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One HTTP/1.1 exchange; returns the response head and body.
    async fn exchange(addr: SocketAddr, request: String) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut out = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_string(&mut out),
        )
        .await
        .expect("answer within 10 s")
        .expect("read");
        out
    }

    fn post_login(host: &str, token: &str) -> String {
        let body = format!("token={token}");
        format!(
            "POST /aws_mwaa/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn a_minted_token_logs_in_once_on_its_own_host() {
        let key = TokenKey::generate();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("web.log");
        let web = AirflowWeb::start_with(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            WebConfig {
                token_key: Some(key.clone()),
                log: Some(log.clone()),
            },
        )
        .await
        .expect("start");
        let host = "abc-vpce.c1.us-east-1.airflow.amazonaws.com";
        let token = key.mint(&TokenClaims {
            env: "orders-prod".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            host: host.into(),
            identity: "assumed-role/Airgate/me".into(),
            expires_at: now_secs() + 60,
            nonce: 1,
        });

        // The sign-in page carries no token: the script reads it from the fragment.
        let sso = exchange(
            web.addr(),
            format!("GET /aws_mwaa/aws-console-sso?login=true HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(sso.contains("location.hash"), "{sso}");
        assert!(sso.contains("action=\"/aws_mwaa/login\""), "{sso}");

        let wrong_host = exchange(web.addr(), post_login("other.example", &token)).await;
        assert!(wrong_host.starts_with("HTTP/1.1 403"), "{wrong_host}");

        let accepted = exchange(web.addr(), post_login(host, &token)).await;
        assert!(accepted.starts_with("HTTP/1.1 302"), "{accepted}");
        let cookie = accepted
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let home = exchange(
            web.addr(),
            format!("GET /home HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(
            field(&home, "user").as_deref(),
            Some("assumed-role/Airgate/me")
        );
        assert_eq!(field(&home, "env").as_deref(), Some("orders-prod"));

        let reused = exchange(web.addr(), post_login(host, &token)).await;
        assert!(reused.starts_with("HTTP/1.1 403"), "{reused}");

        let logins: Vec<(Option<bool>, Option<String>)> = read_log(&log)
            .into_iter()
            .filter(|e| e.event == "login")
            .map(|e| (e.ok, e.reason))
            .collect();
        assert_eq!(
            logins,
            [
                (
                    Some(false),
                    Some(format!("minted for {host}, presented to other.example"))
                ),
                (Some(true), None),
                (Some(false), Some("already used".to_owned())),
            ]
        );
    }

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
            None,
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
