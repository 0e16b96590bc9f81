//! Drives the real desktop app: tauri-driver starts it through WebKitWebDriver, and a WebDriver
//! client clicks what a user clicks.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use fantoccini::{Client, ClientBuilder};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} not found: {hint}")]
    Missing { what: String, hint: String },
    #[error("cannot start tauri-driver: {0}")]
    Spawn(std::io::Error),
    #[error("tauri-driver did not listen on {addr} within {secs} s")]
    NotListening { addr: SocketAddr, secs: u64 },
    #[error("cannot start a WebDriver session with the app: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The desktop binary built by `cargo build -p airgate-desktop`, next to this test's target dir.
pub fn app_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(Error::Spawn)?;
    // target/debug/deps/<test> → target/debug/airgate-desktop
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("airgate-desktop"))
        .filter(|path| path.exists());
    path.ok_or_else(|| Error::Missing {
        what: "airgate-desktop binary".to_owned(),
        hint: "build it first: `make ui && cargo build -p airgate-desktop`".to_owned(),
    })
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let home_bin = dirs_cargo_bin().map(|dir| dir.join(name));
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .chain(home_bin)
        .find(|path| path.is_file())
}

fn dirs_cargo_bin() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|dir| dir.join("bin"))
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(Error::Spawn)?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(Error::Spawn)
}

/// A running tauri-driver, killed on drop (which ends WebKitWebDriver and the app with it).
#[derive(Debug)]
pub struct TauriDriver {
    child: Child,
    addr: SocketAddr,
}

impl TauriDriver {
    /// Starts tauri-driver; the app it launches inherits `env`.
    pub fn start(env: &[(String, String)]) -> Result<Self> {
        let driver = find_on_path("tauri-driver").ok_or_else(|| Error::Missing {
            what: "tauri-driver".to_owned(),
            hint: "`cargo install tauri-driver --locked`".to_owned(),
        })?;
        let native = find_on_path("WebKitWebDriver").ok_or_else(|| Error::Missing {
            what: "WebKitWebDriver".to_owned(),
            hint: "`apt-get install webkit2gtk-driver`".to_owned(),
        })?;
        let port = free_port()?;
        let native_port = free_port()?;
        let child = Command::new(driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .arg("--native-driver")
            .arg(native)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(Error::Spawn)?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let driver = TauriDriver { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(Error::NotListening { addr, secs: 20 });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(driver)
    }

    /// Launches the app and returns a WebDriver client for its window.
    pub async fn launch(&self, app: &Path) -> Result<Client> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".to_owned(), "wry".into());
        caps.insert(
            "tauri:options".to_owned(),
            serde_json::json!({ "application": app.to_string_lossy() }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://{}", self.addr))
            .await?;
        Ok(client)
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        // The driver, WebKitWebDriver and the app share one process group: end them all.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}
