//! Environments opened in windows of Airgate itself (the "Airgate window" browser choice): one
//! webview window per environment, with a data store of its own and its tunnel as the proxy.
//!
//! The windows load the environment's web server only: they are not in any capability, so the
//! pages they show cannot call Airgate's commands.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airgate_launch::open::{AppWindows, WindowOpened, WindowRequest};
use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, Manager, Runtime, Url, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::oneshot;

/// How long a window may take to start loading the web server.
const LOAD_WAIT: Duration = Duration::from_secs(30);

/// The app's windows for environments.
pub struct AirflowWindows<R: Runtime> {
    app: AppHandle<R>,
    shared: Arc<Mutex<Shared>>,
}

/// By window label: the SOCKS port each window was made with, and who waits for a window to
/// start loading its web server.
#[derive(Default)]
struct Shared {
    routes: HashMap<String, Option<u16>>,
    waiters: HashMap<String, oneshot::Sender<()>>,
}

impl<R: Runtime> AirflowWindows<R> {
    pub fn new(app: AppHandle<R>) -> Self {
        Self {
            app,
            shared: Arc::default(),
        }
    }
}

impl<R: Runtime> std::fmt::Debug for AirflowWindows<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AirflowWindows")
    }
}

/// The window label of an environment: Tauri allows `a-zA-Z0-9-/:_` only.
pub fn label_of(id: &str) -> String {
    let mut label = String::from("airflow:");
    for c in id.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '/' => label.push(c),
            other => label.push_str(&format!("_{:x}_", u32::from(other))),
        }
    }
    label
}

impl<R: Runtime> AppWindows for AirflowWindows<R> {
    fn open(
        &self,
        request: WindowRequest,
    ) -> Pin<Box<dyn Future<Output = Result<WindowOpened, String>> + Send>> {
        let app = self.app.clone();
        let shared = self.shared.clone();
        Box::pin(async move { open(app, shared, request).await })
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

async fn open<R: Runtime>(
    app: AppHandle<R>,
    shared: Arc<Mutex<Shared>>,
    request: WindowRequest,
) -> Result<WindowOpened, String> {
    let label = label_of(&request.id);
    let url: Url = request
        .url
        .parse()
        .map_err(|err| format!("its URL is not valid ({err})"))?;
    let (loading, loaded) = oneshot::channel::<()>();
    let same_route = {
        let mut shared = lock(&shared);
        shared.waiters.insert(label.clone(), loading);
        shared.routes.get(&label) == Some(&request.socks_port)
    };
    if let Some(window) = app.get_webview_window(&label) {
        if same_route {
            window
                .navigate(url)
                .and_then(|()| window.show())
                .and_then(|()| window.set_focus())
                .map_err(|err| err.to_string())?;
            wait(loaded, &request).await?;
            return Ok(WindowOpened { reused: true });
        }
        // A webview keeps the proxy it was made with: the tunnel moved, so make a new one.
        window.destroy().map_err(|err| err.to_string())?;
    }

    std::fs::create_dir_all(&request.data_dir).map_err(|err| {
        format!(
            "cannot prepare its data store {} ({err})",
            request.data_dir.display()
        )
    })?;
    let window = create(&app, &shared, &label, &request)?;
    lock(&shared)
        .routes
        .insert(label.clone(), request.socks_port);
    trust_certificates(&window, &request);
    window.navigate(url).map_err(|err| err.to_string())?;
    wait(loaded, &request).await?;
    Ok(WindowOpened { reused: false })
}

/// Makes the environment's window (blank, proxied through its tunnel, with its own store).
fn create<R: Runtime>(
    app: &AppHandle<R>,
    shared: &Arc<Mutex<Shared>>,
    label: &str,
    request: &WindowRequest,
) -> Result<tauri::WebviewWindow<R>, String> {
    let blank: Url = "about:blank".parse().map_err(|err| format!("{err}"))?;
    let host = request.host.clone();
    let on_load = (shared.clone(), label.to_owned());
    let mut builder = WebviewWindowBuilder::new(app, label, WebviewUrl::External(blank))
        .title(format!("{} · Airflow", request.name))
        .inner_size(1280.0, 860.0)
        .min_inner_size(720.0, 480.0)
        .data_directory(request.data_dir.clone())
        .on_page_load(move |_window, payload| {
            if payload.event() == PageLoadEvent::Started
                && payload.url().host_str() == Some(host.as_str())
            {
                let (shared, label) = &on_load;
                if let Some(waiter) = lock(shared).waiters.remove(label) {
                    let _ = waiter.send(());
                }
            }
        });
    #[cfg(target_os = "macos")]
    {
        builder = builder.data_store_identifier(store_identifier(&request.id));
    }
    if let Some(port) = request.socks_port {
        let proxy: Url = format!("socks5://127.0.0.1:{port}")
            .parse()
            .map_err(|err| format!("{err}"))?;
        builder = builder.proxy_url(proxy);
    }
    builder.build().map_err(|err| err.to_string())
}

async fn wait(loaded: oneshot::Receiver<()>, request: &WindowRequest) -> Result<(), String> {
    match tokio::time::timeout(LOAD_WAIT, loaded).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(format!(
            "the window did not start loading {} within {} s",
            request.host,
            LOAD_WAIT.as_secs()
        )),
    }
}

/// Accepts the configured certificates from the web server's host (Linux: WebKitGTK allows a
/// certificate per host; the other systems use their own trust store only).
fn trust_certificates<R: Runtime>(window: &tauri::WebviewWindow<R>, request: &WindowRequest) {
    #[cfg(target_os = "linux")]
    {
        let pems: Vec<String> = request
            .certificates
            .iter()
            .filter_map(|path| match std::fs::read_to_string(path) {
                Ok(pem) => Some(pem),
                Err(err) => {
                    tracing::warn!(path = %path.display(), cause = %err, "cannot read a window certificate");
                    None
                }
            })
            .collect();
        if pems.is_empty() {
            return;
        }
        let host = request.host.clone();
        let done = window.with_webview(move |webview| {
            use webkit2gtk::{WebContextExt, WebViewExt};
            let Some(context) = webview.inner().context() else {
                return;
            };
            for pem in &pems {
                match webkit2gtk::gio::TlsCertificate::from_pem(pem) {
                    Ok(certificate) => context.allow_tls_certificate_for_host(&certificate, &host),
                    Err(err) => tracing::warn!(cause = %err, "a window certificate is not PEM"),
                }
            }
        });
        if let Err(err) = done {
            tracing::warn!(cause = %err, "cannot set the window's certificates");
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (window, request);
    }
}

/// A data store identifier per environment (macOS 14+ keeps each one's cookies apart).
#[cfg(target_os = "macos")]
fn store_identifier(id: &str) -> [u8; 16] {
    // FNV-1a, twice with different offsets: stable across runs, distinct per id.
    let hash = |offset: u64| {
        id.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&hash(0xcbf2_9ce4_8422_2325).to_le_bytes());
    out[8..].copy_from_slice(&hash(0x8422_2325_cbf2_9ce4).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_valid_and_distinct() {
        let a = label_of("sandbox-data-prod/us-east-1/orders-prod");
        assert_eq!(a, "airflow:sandbox-data-prod/us-east-1/orders-prod");
        let b = label_of("team.prod/eu-west-1/x");
        assert_eq!(b, "airflow:team_2e_prod/eu-west-1/x");
        assert!(
            b.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-/:_".contains(c))
        );
    }
}
