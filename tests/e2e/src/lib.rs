//! Drives the real desktop app: tauri-driver starts it through WebKitWebDriver, and a WebDriver
//! client clicks what a user clicks.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use airgate_peers::netns as airgate_peers_netns;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

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

/// Names the desktop binary to drive instead of the one built here (e.g. the one a package
/// installed, `/usr/bin/airgate-desktop`).
pub const APP_BIN_ENV: &str = "AIRGATE_APP_BIN";

/// The desktop binary: [`APP_BIN_ENV`] when set, else the one built by `cargo build -p
/// airgate-desktop`, next to this test's target dir.
pub fn app_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(APP_BIN_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Missing {
                what: format!("{APP_BIN_ENV}={}", path.display()),
                hint: "install the package first (`make package`)".to_owned(),
            })
        };
    }
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
        let mut command = Command::new(driver);
        command
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
            .process_group(0);
        let child = command.spawn().map_err(Error::Spawn)?;
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

impl TauriDriver {
    /// The process id of the one desktop app this driver started.
    ///
    /// # Panics
    /// When there is not exactly one.
    pub fn app_pid(&self) -> u32 {
        let pids = self.app_pids("airgate-desktop");
        let [pid] = pids[..] else {
            panic!("one app process expected, found {pids:?}");
        };
        pid
    }

    /// Waits (up to 15 s) until the app's tray item shows `wanted`, as a panel would (read over
    /// D-Bus).
    ///
    /// # Panics
    /// When it does not.
    pub async fn wait_for_tray(&self, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = None;
        while Instant::now() < deadline {
            last = self
                .app_pids("airgate-desktop")
                .into_iter()
                .find_map(tray_label);
            if last.as_deref() == Some(wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("tray label should be {wanted:?}, is {last:?}");
    }

    /// Process ids of the app binaries this driver started (they share its process group).
    pub fn app_pids(&self, binary_name: &str) -> Vec<u32> {
        let Ok(out) = Command::new("pgrep")
            .args(["-g", &self.child.id().to_string(), "-f", binary_name])
            .output()
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

fn gdbus(args: &[&str]) -> Option<String> {
    let out = Command::new("gdbus")
        .arg("call")
        .arg("--session")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The StatusNotifierItem that process `pid` exports on the D-Bus session bus (what a panel
/// shows): its bus name and object path.
fn tray_item(pid: u32) -> Option<(String, String)> {
    let bus = [
        "--dest",
        "org.freedesktop.DBus",
        "--object-path",
        "/org/freedesktop/DBus",
    ];
    let names = gdbus(&[&bus[..], &["--method", "org.freedesktop.DBus.ListNames"]].concat())?;
    let owners = names
        .split(['\'', '"'])
        .filter(|name| name.starts_with(':'))
        .filter(|name| {
            let method = [
                "--method",
                "org.freedesktop.DBus.GetConnectionUnixProcessID",
                name,
            ];
            gdbus(&[&bus[..], &method[..]].concat())
                .is_some_and(|out| out.contains(&format!("uint32 {pid},")))
        })
        .map(str::to_owned)
        .collect::<Vec<_>>();
    owners.into_iter().find_map(|owner| {
        let tree = Command::new("gdbus")
            .args(["introspect", "--session", "--dest", &owner])
            .args(["--object-path", "/org/ayatana/NotificationItem"])
            .output()
            .ok()?;
        let tree = String::from_utf8_lossy(&tree.stdout);
        let node = tree
            .lines()
            .filter_map(|l| l.trim().strip_prefix("node "))
            .map(|node| node.trim_end_matches(" {"))
            .find(|node| !node.starts_with('/'))?;
        Some((
            owner.clone(),
            format!("/org/ayatana/NotificationItem/{node}"),
        ))
    })
}

fn item_property(owner: &str, path: &str, property: &str) -> Option<String> {
    let method = "org.freedesktop.DBus.Properties.Get";
    let args = ["--dest", owner, "--object-path", path, "--method", method];
    let out = gdbus(&[&args[..], &["org.kde.StatusNotifierItem", property]].concat())?;
    // (<'1 connected'>,) or (<objectpath '/x/Menu'>,)
    let value = out.trim().trim_start_matches("(<").trim_end_matches(">,)");
    let value = value.strip_prefix("objectpath ").unwrap_or(value);
    Some(value.trim_matches(['\'', '"']).to_owned())
}

/// The text of the tray item of the process `pid`, as a panel shows it: the `XAyatanaLabel`
/// property of its StatusNotifierItem. `None` when the process exports no tray item.
pub fn tray_label(pid: u32) -> Option<String> {
    let (owner, path) = tray_item(pid)?;
    item_property(&owner, &path, "XAyatanaLabel")
}

/// The entries of the tray menu of the process `pid` (dbusmenu ids and labels), in order.
pub fn tray_menu(pid: u32) -> Vec<(i32, String)> {
    let Some((owner, path)) = tray_item(pid) else {
        return Vec::new();
    };
    let Some(menu) = item_property(&owner, &path, "Menu") else {
        return Vec::new();
    };
    let args = ["--dest", &owner, "--object-path", &menu];
    let method = [
        "--method",
        "com.canonical.dbusmenu.GetLayout",
        "0",
        "--",
        "-1",
        "[]",
    ];
    let Some(layout) = gdbus(&[&args[..], &method[..]].concat()) else {
        return Vec::new();
    };
    // ... [<(2, {'label': <'Show window'>}, @av [])>, <(3, {'label': <'Quit'>}, @av [])>]
    layout
        .split("<(")
        .skip(1)
        .filter_map(|entry| {
            let (id, rest) = entry.split_once(',')?;
            let label = rest.split_once("'label': <'")?.1.split_once("'>")?.0;
            Some((id.trim().parse().ok()?, label.to_owned()))
        })
        .collect()
}

/// Clicks the tray menu entry `label` of the process `pid` as a panel does (dbusmenu `Event`).
/// `false` when there is no such entry.
pub fn click_tray_menu(pid: u32, label: &str) -> bool {
    let Some((id, _)) = tray_menu(pid).into_iter().find(|(_, l)| l == label) else {
        return false;
    };
    let Some((owner, path)) = tray_item(pid) else {
        return false;
    };
    let Some(menu) = item_property(&owner, &path, "Menu") else {
        return false;
    };
    let id = id.to_string();
    let args = ["--dest", &owner, "--object-path", &menu, "--method"];
    let event = ["com.canonical.dbusmenu.Event", &id, "clicked", "<0>", "0"];
    gdbus(&[&args[..], &event[..]].concat()).is_some()
}

/// Saves what the window shows as `<name>.png` in `$AIRGATE_SCREENSHOTS` (made when missing)
/// when that is set.
pub async fn screenshot(client: &Client, name: &str) {
    let Some(dir) = std::env::var_os("AIRGATE_SCREENSHOTS") else {
        return;
    };
    match client.screenshot().await {
        Ok(png) => {
            let dir = PathBuf::from(dir);
            let path = dir.join(format!("{name}.png"));
            if let Err(err) =
                std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, png))
            {
                eprintln!("cannot write {}: {err}", path.display());
            }
        }
        Err(err) => eprintln!("cannot take a screenshot: {err}"),
    }
}

/// Under Xvfb (`make e2e`) there is a display; elsewhere a GUI test says why it cannot run, and
/// fails when `AIRGATE_REQUIRE_GUI=1` (CI).
pub fn display_or_skip() -> bool {
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        return true;
    }
    assert!(
        std::env::var("AIRGATE_REQUIRE_GUI").as_deref() != Ok("1"),
        "no display: run under Xvfb (`make e2e`)"
    );
    eprintln!("SKIPPED: no display; run under Xvfb (`make e2e`)");
    false
}

/// The row of one environment: a name can exist in several profiles and regions.
pub fn row_selector(name: &str, profile: &str, region: &str) -> String {
    format!(
        r#"[data-testid="env-row"][data-env-name="{name}"][data-profile="{profile}"][data-region="{region}"]"#
    )
}

/// Waits until the tunnel state shown in the row at `selector` is `wanted` (`data-state`), and
/// returns that element. A failed tunnel fails the wait at once, with its reason.
pub async fn wait_for_tunnel(client: &Client, selector: &str, wanted: &str) -> Element {
    let deadline = Instant::now() + Duration::from_secs(45);
    let css = format!(r#"{selector} [data-testid="tunnel-state"]"#);
    let mut last = String::from("(no tunnel state shown)");
    while Instant::now() < deadline {
        if let Ok(state) = client.find(Locator::Css(&css)).await {
            let now = state
                .attr("data-state")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if now == wanted {
                return state;
            }
            last = format!("{now}: {}", state.text().await.unwrap_or_default());
            assert!(
                now != "failed" || wanted == "failed",
                "tunnel failed: {last}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("tunnel did not become {wanted} within 45 s; last seen {last}");
}

/// Clicks `[data-testid="{testid}"]` inside `row`, as a user clicks a row's button.
///
/// # Panics
/// When the row has no such element or the click fails.
pub async fn click_in(row: &Element, testid: &str) {
    let css = format!(r#"[data-testid="{testid}"]"#);
    let element = row
        .find(Locator::Css(&css))
        .await
        .unwrap_or_else(|err| panic!("no {testid} in the row: {err}"));
    element
        .click()
        .await
        .unwrap_or_else(|err| panic!("click {testid}: {err}"));
}

/// The X windows titled `title` of the process `pid` (visible ones only, when `visible`).
pub fn x_windows(pid: u32, title: &str, visible: bool) -> Vec<u32> {
    let pid = pid.to_string();
    let name = format!("^{title}$");
    let mut args = vec!["search", "--all", "--pid", &pid, "--name", &name];
    if visible {
        args.insert(1, "--onlyvisible");
    }
    let Ok(out) = Command::new("xdotool").args(&args).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Presses a window's close button as a window manager does: a `WM_DELETE_WINDOW` message to
/// each of `windows` (the app may keep running, hide, or ask). `false` when X is unreachable.
pub fn request_close(windows: &[u32]) -> bool {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt as _, EventMask};
    let Ok((conn, _)) = x11rb::connect(None) else {
        return false;
    };
    let atom = |name: &[u8]| {
        conn.intern_atom(false, name)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .map(|reply| reply.atom)
    };
    let (Some(protocols), Some(delete)) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW")) else {
        return false;
    };
    for &window in windows {
        let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
        if conn
            .send_event(false, window, EventMask::NO_EVENT, event)
            .is_err()
        {
            return false;
        }
    }
    conn.flush().is_ok()
}

/// Finds `css` and clicks it, again and again until a click takes (rows render again while the
/// list and the saved bastions arrive, which makes a found element stale), for up to 45 s.
///
/// # Panics
/// When no click took within 45 s.
pub async fn click_when_ready(client: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            if element.click().await.is_ok() {
                return;
            }
            // Below the fold of the list's own scroll area (WebKitWebDriver does not scroll
            // it): scrolled to, as a person would, then clicked.
            if let Ok(reference) = serde_json::to_value(&element) {
                let _ = client
                    .execute(
                        "arguments[0].scrollIntoView({block: 'center'});",
                        vec![reference],
                    )
                    .await;
                if element.click().await.is_ok() {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing to click at {css} within 45 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Types `value` into the field `field` of the form `[data-testid="{form}"]`, replacing what
/// it held.
///
/// # Panics
/// When the form has no such field.
pub async fn fill(client: &Client, form: &str, field: &str, value: &str) {
    let input = client
        .find(Locator::Css(&format!(
            r#"[data-testid="{form}"] [name="{field}"]"#
        )))
        .await
        .unwrap_or_else(|err| panic!("the {form} field {field}: {err}"));
    input.clear().await.expect("clear");
    input.send_keys(value).await.expect("type");
}

/// The text at `css` once it contains every one of `wanted`, within 45 s.
///
/// # Panics
/// When it does not within 45 s.
pub async fn wait_for_text(client: &Client, css: &str, wanted: &[&str]) -> String {
    let wait = Duration::from_secs(45);
    let deadline = Instant::now() + wait;
    let mut last = String::from("(nothing)");
    while Instant::now() < deadline {
        if let Ok(found) = client.find(Locator::Css(css)).await
            && let Ok(text) = found.text().await
        {
            if wanted.iter().all(|w| text.contains(w)) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{css} did not show {wanted:?} within {wait:?}; last: {last:?}");
}

/// Waits (20 s at most) until nothing matches `css`.
///
/// # Panics
/// When something still does after 20 s.
pub async fn wait_until_gone(client: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.find(Locator::Css(css)).await.is_ok() {
        assert!(Instant::now() < deadline, "{css} is still there after 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The selector of a private row's Connect once its saved bastions are shown.
pub fn connect_selector(row: &str) -> String {
    format!(r#"{row} [data-testid="bastion-select"] ~ [data-testid="connect"]"#)
}

/// The sandbox in its private network, or `None` (after saying why) where namespaces cannot be
/// made here, unless `AIRGATE_REQUIRE_NETNS=1` (CI), where that fails.
///
/// # Panics
/// When the sandbox cannot start for another reason, or the network is required.
pub async fn private_sandbox_or_skip() -> Option<airgate_sandbox::Sandbox> {
    use airgate_sandbox::{Error, Sandbox, Topology};
    match Sandbox::start(Topology::PrivateNetwork).await {
        Ok(sandbox) => Some(sandbox),
        Err(Error::Network(airgate_peers_netns::Error::Unavailable(why)))
            if std::env::var(airgate_peers_netns::REQUIRE_ENV).as_deref() != Ok("1") =>
        {
            eprintln!("SKIPPED: private network unavailable ({why})");
            None
        }
        Err(err) => panic!("sandbox: {err}"),
    }
}

/// Saves the sandbox's bastion in the app's keyring and starts the app on the sandbox; returns
/// the driver (dropping it ends the app) and the WebDriver client of its window.
///
/// # Panics
/// When the keyring, tauri-driver or the app cannot start.
pub async fn launch_on(sandbox: &airgate_sandbox::Sandbox) -> (TauriDriver, Client) {
    sandbox.save_bastion().expect("save the sandbox bastion");
    let driver = TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    (driver, client)
}

/// Clicks Connect in the private row at `selector` (once its bastions are shown), waits until
/// the tunnel is connected and returns the SOCKS port the row shows.
///
/// # Panics
/// When the tunnel does not connect or the row shows no port.
pub async fn connect_row(client: &Client, selector: &str) -> u16 {
    click_when_ready(client, &connect_selector(selector)).await;
    wait_for_tunnel(client, selector, "connected")
        .await
        .attr("data-port")
        .await
        .expect("read data-port")
        .expect("a connected tunnel shows its port")
        .parse()
        .expect("the port is a number")
}

/// The state of each Open step shown in the open row at `row_css`: (step, state, text).
pub async fn open_steps(client: &Client, row_css: &str) -> Vec<(String, String, String)> {
    let css = format!(r#"{row_css} [data-testid="open-step"]"#);
    let mut out = Vec::new();
    for step in client
        .find_all(Locator::Css(&css))
        .await
        .unwrap_or_default()
    {
        let attr = async |name: &str| step.attr(name).await.ok().flatten().unwrap_or_default();
        out.push((
            attr("data-step").await,
            attr("data-state").await,
            step.text().await.unwrap_or_default(),
        ));
    }
    out
}

/// Waits (up to 45 s) until every step of the Open shown at `row_css` is done, or one failed
/// (returned as Err).
///
/// # Panics
/// When the Open neither finished nor failed within 45 s.
pub async fn wait_for_open(
    client: &Client,
    row_css: &str,
) -> Result<Vec<(String, String, String)>, Vec<(String, String, String)>> {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let now = open_steps(client, row_css).await;
        if now.iter().any(|(_, state, _)| state == "failed") {
            return Err(now);
        }
        if now.len() == 3 && now.iter().all(|(_, state, _)| state == "done") {
            return Ok(now);
        }
        assert!(
            Instant::now() < deadline,
            "Open at {row_css} did not finish: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Milliseconds since the Unix epoch, as the web server's log records them.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Waits (up to 30 s) for the first request the sandbox's web servers logged from `host` at
/// or after `since_ms`.
///
/// # Panics
/// When none comes.
pub async fn wait_for_request(
    log: &Path,
    host: &str,
    since_ms: u64,
) -> airgate_peers::airflow_web::LogEntry {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let entries = airgate_peers::airflow_web::read_log(log);
        if let Some(entry) = entries
            .iter()
            .find(|e| e.at_ms >= since_ms && e.host == host)
        {
            return entry.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no request by {host}: {entries:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Presses `key` (a character or a [`fantoccini::key::Key`] code) as the keyboard does, with
/// `modifiers` held (e.g. `&[Key::Control]`), into whatever has the focus.
///
/// # Panics
/// When WebDriver refuses the key actions.
pub async fn press(client: &Client, modifiers: &[fantoccini::key::Key], key: char) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut keys = KeyActions::new("keyboard".to_owned());
    for &m in modifiers {
        keys = keys.then(KeyAction::Down { value: m.into() });
    }
    keys = keys
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    for &m in modifiers.iter().rev() {
        keys = keys.then(KeyAction::Up { value: m.into() });
    }
    client.perform_actions(keys).await.expect("press keys");
}

/// What has the keyboard focus, as a short description: `tag#testid[row name]`, e.g.
/// `button#connect[orders-prod]`, `tr#env-row[orders-prod]`, `body`.
pub async fn focused(client: &Client) -> String {
    let script = r##"
        const el = document.activeElement;
        if (!el || el === document.body) return "body";
        const row = el.closest("[data-env-name], [data-name]");
        const name = row ? (row.dataset.envName ?? row.dataset.name) : "";
        const id = el.dataset.testid ? "#" + el.dataset.testid : "";
        return el.tagName.toLowerCase() + id + (name ? "[" + name + "]" : "");
    "##;
    client
        .execute(script, Vec::new())
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Waits (up to 10 s) until [`focused`] is `wanted`; returns what had the focus last.
pub async fn wait_for_focus(client: &Client, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = focused(client).await;
        if now == wanted || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded by `within`) until `css` matches; returns how long it took.
///
/// # Panics
/// When it does not within `within`.
pub async fn wait_for_element(client: &Client, css: &str, within: Duration) -> Duration {
    let started = Instant::now();
    while client.find(Locator::Css(css)).await.is_err() {
        assert!(
            started.elapsed() < within,
            "{css} did not appear within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// The names of the environment rows the list shows, in order.
///
/// # Panics
/// When the window cannot be asked.
pub async fn row_names(client: &Client) -> Vec<String> {
    client
        .execute(
            r#"return [...document.querySelectorAll('[data-testid="env-row"]')]
                .map((r) => r.dataset.envName);"#,
            Vec::new(),
        )
        .await
        .expect("row names")
        .as_array()
        .expect("names")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Appends `text` (profiles, sections) to the AWS config file the app's environment `env` names.
///
/// # Panics
/// When `env` names no config file, or it cannot be read or written.
pub fn append_to_aws_config(env: &[(String, String)], text: &str) {
    let config = env
        .iter()
        .find(|(k, _)| k == "AWS_CONFIG_FILE")
        .map(|(_, v)| v.clone())
        .expect("the sandbox's config file");
    let mut config_text = std::fs::read_to_string(&config).expect("config");
    config_text.push_str(text);
    std::fs::write(&config, config_text).expect("config written");
}

/// The sidebar's sections, in its order (`nav-<section>` is each one's button).
pub const SECTIONS: [&str; 6] = [
    "environments",
    "tunnels",
    "keys",
    "bastions",
    "connections",
    "settings",
];

/// Goes to the sidebar's `section` and gives its screen a moment to render.
pub async fn show_section(client: &Client, section: &str) {
    click_when_ready(client, &format!(r#"[data-testid="nav-{section}"]"#)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
}
