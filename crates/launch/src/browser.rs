//! Browsers Airgate can open an environment in, found at their usual places on Linux, macOS
//! and Windows, and launched with a profile of their own per environment (the user's own
//! profile is never touched).
//!
//! - Chromium family (Chrome, Chromium, Edge, Brave): `--user-data-dir` per environment,
//!   `--proxy-server=socks5://127.0.0.1:PORT` when the route is a tunnel, no first-run prompts.
//!   A second launch with the same data directory hands the URL to the running window.
//! - Firefox: a profile directory per environment whose `user.js` sets the SOCKS 5 proxy with
//!   remote DNS (or no proxy) and turns off first-run pages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The two families Airgate knows how to route and isolate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum BrowserKind {
    Chromium,
    Firefox,
}

/// A browser found on this machine (or named by path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Browser {
    /// What a person calls it: "Google Chrome", "Chromium", "Firefox", ...
    pub name: String,
    pub kind: BrowserKind,
    pub path: PathBuf,
}

/// The operating systems whose usual install places are known (the one `airgate-paths` uses).
pub use airgate_paths::Os;

/// Where each browser usually is on `os`, in order of preference. `env` reads environment
/// variables (`ProgramFiles`, `LOCALAPPDATA`, `HOME`, `PATH`), so every platform's list can be
/// computed (and tested) anywhere.
pub fn candidates(os: Os, env: &dyn Fn(&str) -> Option<String>) -> Vec<Browser> {
    use BrowserKind::{Chromium, Firefox};
    let entry = |name: &str, kind, path: PathBuf| Browser {
        name: name.to_owned(),
        kind,
        path,
    };
    match os {
        Os::Linux => {
            let usual = [
                ("Google Chrome", Chromium, "/usr/bin/google-chrome-stable"),
                ("Google Chrome", Chromium, "/usr/bin/google-chrome"),
                ("Google Chrome", Chromium, "/opt/google/chrome/chrome"),
                ("Chromium", Chromium, "/usr/bin/chromium"),
                ("Chromium", Chromium, "/usr/bin/chromium-browser"),
                ("Chromium", Chromium, "/snap/bin/chromium"),
                ("Microsoft Edge", Chromium, "/usr/bin/microsoft-edge"),
                ("Microsoft Edge", Chromium, "/opt/microsoft/msedge/msedge"),
                ("Brave", Chromium, "/usr/bin/brave-browser"),
                ("Brave", Chromium, "/opt/brave.com/brave/brave"),
                ("Firefox", Firefox, "/usr/bin/firefox"),
                ("Firefox", Firefox, "/usr/bin/firefox-esr"),
                ("Firefox", Firefox, "/snap/bin/firefox"),
            ];
            // The commands' names, looked up in `PATH` after the usual places.
            let commands = [
                ("Google Chrome", Chromium, "google-chrome-stable"),
                ("Google Chrome", Chromium, "google-chrome"),
                ("Chromium", Chromium, "chromium"),
                ("Chromium", Chromium, "chromium-browser"),
                ("Microsoft Edge", Chromium, "microsoft-edge-stable"),
                ("Microsoft Edge", Chromium, "microsoft-edge"),
                ("Brave", Chromium, "brave-browser"),
                ("Brave", Chromium, "brave"),
                ("Firefox", Firefox, "firefox"),
                ("Firefox", Firefox, "firefox-esr"),
            ];
            let mut found: Vec<Browser> = usual
                .into_iter()
                .map(|(name, kind, path)| entry(name, kind, PathBuf::from(path)))
                .collect();
            // Then `PATH` (/usr/local/bin, a Nix or Homebrew profile, ...): after the usual
            // places, so a browser found there before stays the one chosen. Relative entries
            // (the working directory) are skipped: a browser is never run from there.
            let path = env("PATH").unwrap_or_default();
            let dirs: Vec<&str> = path.split(':').filter(|d| d.starts_with('/')).collect();
            for (name, kind, command) in commands {
                for dir in &dirs {
                    let path = PathBuf::from(format!("{}/{command}", dir.trim_end_matches('/')));
                    if !found.iter().any(|b| b.path == path) {
                        found.push(entry(name, kind, path));
                    }
                }
            }
            found
        }
        Os::MacOs => {
            let apps = [
                (
                    "Google Chrome",
                    Chromium,
                    "Google Chrome.app/Contents/MacOS/Google Chrome",
                ),
                ("Chromium", Chromium, "Chromium.app/Contents/MacOS/Chromium"),
                (
                    "Microsoft Edge",
                    Chromium,
                    "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
                ),
                (
                    "Brave",
                    Chromium,
                    "Brave Browser.app/Contents/MacOS/Brave Browser",
                ),
                ("Firefox", Firefox, "Firefox.app/Contents/MacOS/firefox"),
            ];
            let mut roots = vec![PathBuf::from("/Applications")];
            if let Some(home) = env("HOME") {
                roots.push(Path::new(&home).join("Applications"));
            }
            apps.iter()
                .flat_map(|(name, kind, app)| {
                    roots
                        .iter()
                        .map(move |root| entry(name, *kind, root.join(app)))
                })
                .collect()
        }
        Os::Windows => {
            let apps = [
                (
                    "Google Chrome",
                    Chromium,
                    r"Google\Chrome\Application\chrome.exe",
                ),
                (
                    "Microsoft Edge",
                    Chromium,
                    r"Microsoft\Edge\Application\msedge.exe",
                ),
                (
                    "Brave",
                    Chromium,
                    r"BraveSoftware\Brave-Browser\Application\brave.exe",
                ),
                ("Chromium", Chromium, r"Chromium\Application\chrome.exe"),
                ("Firefox", Firefox, r"Mozilla Firefox\firefox.exe"),
            ];
            let roots: Vec<String> = ["ProgramFiles", "ProgramFiles(x86)", "LOCALAPPDATA"]
                .into_iter()
                .filter_map(env)
                .collect();
            apps.iter()
                .flat_map(|(name, kind, app)| {
                    roots.iter().map(move |root| {
                        entry(name, *kind, PathBuf::from(format!(r"{root}\{app}")))
                    })
                })
                .collect()
        }
    }
}

/// The browsers installed here, in order of preference, one entry per browser.
pub fn detect() -> Vec<Browser> {
    let env = |name: &str| std::env::var(name).ok();
    let mut found: Vec<Browser> = Vec::new();
    for browser in candidates(Os::current(), &env) {
        if browser.path.is_file() && !found.iter().any(|b| b.name == browser.name) {
            found.push(browser);
        }
    }
    found
}

/// The kind of a browser named by path, from its file name.
pub fn kind_of_path(path: &Path) -> BrowserKind {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if file.contains("firefox") || file.contains("librewolf") {
        BrowserKind::Firefox
    } else {
        BrowserKind::Chromium
    }
}

/// The browser `choice` names: a detected browser's name ("chromium", "Google Chrome",
/// "firefox"), or a path to a browser binary. `None` or "default": the first one detected.
pub fn choose(choice: Option<&str>) -> Result<Browser> {
    choose_from(choice, detect())
}

/// The browser choice that opens environments in a window of the desktop app itself.
pub const IN_APP_WINDOW: &str = "airgate";

/// Whether `choice` names the desktop app's own window ([`IN_APP_WINDOW`]).
pub fn is_in_app(choice: Option<&str>) -> bool {
    choice.map(str::trim) == Some(IN_APP_WINDOW)
}

/// [`choose`] among browsers already `detected`.
pub fn choose_from(choice: Option<&str>, detected: Vec<Browser>) -> Result<Browser> {
    let choice = choice
        .map(str::trim)
        .filter(|c| !c.is_empty() && *c != "default");
    let Some(choice) = choice else {
        return detected.into_iter().next().ok_or(Error::NoBrowser);
    };
    if choice == IN_APP_WINDOW {
        return Err(Error::InAppOnly);
    }
    let path = Path::new(choice);
    if path.is_absolute() || choice.contains(std::path::MAIN_SEPARATOR) {
        if !path.is_file() {
            return Err(Error::BrowserMissing {
                path: path.to_path_buf(),
            });
        }
        if let Some(known) = detected.into_iter().find(|b| b.path == path) {
            return Ok(known);
        }
        let name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| choice.to_owned());
        return Ok(Browser {
            name,
            kind: kind_of_path(path),
            path: path.to_path_buf(),
        });
    }
    let wanted = normalize(choice);
    detected
        .iter()
        .find(|b| {
            let name = normalize(&b.name);
            name == wanted || name.ends_with(&wanted) || name.starts_with(&wanted)
        })
        .cloned()
        .ok_or_else(|| Error::UnknownBrowser {
            name: choice.to_owned(),
            detected: detected.iter().map(|b| b.name.clone()).collect(),
        })
}

fn normalize(name: &str) -> String {
    name.to_lowercase().replace([' ', '-', '_'], "")
}

/// One browser launch.
#[derive(Debug)]
pub struct LaunchRequest<'a> {
    /// The URL to open. It may carry a login token: it is passed to the browser only.
    pub url: &'a str,
    /// The tunnel's SOCKS port on 127.0.0.1, when the route is a tunnel.
    pub socks_port: Option<u16>,
    /// The environment's own browser profile directory (created if missing).
    pub profile_dir: PathBuf,
    /// Extra arguments from the settings (e.g. `--headless` on a machine without a display).
    pub extra_args: &'a [String],
}

/// The arguments a browser of `kind` gets for `request` (the URL last).
pub fn arguments(kind: BrowserKind, request: &LaunchRequest<'_>, running: bool) -> Vec<String> {
    let mut args = Vec::new();
    match kind {
        BrowserKind::Chromium => {
            args.push(format!("--user-data-dir={}", request.profile_dir.display()));
            args.extend(
                [
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-default-apps",
                ]
                .map(str::to_owned),
            );
            if let Some(port) = request.socks_port {
                args.push(format!("--proxy-server=socks5://127.0.0.1:{port}"));
                // Every name goes to the bastion; nothing is looked up on this machine.
                args.push("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1".to_owned());
            }
            args.extend(request.extra_args.iter().cloned());
        }
        BrowserKind::Firefox => {
            args.push("-profile".to_owned());
            args.push(request.profile_dir.display().to_string());
            if !running {
                args.push("-no-remote".to_owned());
            }
            args.extend(request.extra_args.iter().cloned());
            if running {
                args.push("-new-tab".to_owned());
            }
        }
    }
    args.push(request.url.to_owned());
    args
}

/// The `user.js` of an environment's Firefox profile.
pub fn firefox_user_js(socks_port: Option<u16>) -> String {
    let mut prefs = vec![
        ("browser.shell.checkDefaultBrowser", "false".to_owned()),
        (
            "browser.startup.homepage_override.mstone",
            "\"ignore\"".to_owned(),
        ),
        ("browser.aboutwelcome.enabled", "false".to_owned()),
        (
            "datareporting.policy.dataSubmissionEnabled",
            "false".to_owned(),
        ),
        (
            "toolkit.telemetry.reportingpolicy.firstRun",
            "false".to_owned(),
        ),
        ("trailhead.firstrun.didSeeAboutWelcome", "true".to_owned()),
        // A profile for one environment: no captive-portal or connectivity probes, no usage
        // reports (they would go through the bastion, or fail there).
        ("network.captive-portal-service.enabled", "false".to_owned()),
        ("network.connectivity-service.enabled", "false".to_owned()),
        (
            "datareporting.healthreport.uploadEnabled",
            "false".to_owned(),
        ),
        ("toolkit.telemetry.enabled", "false".to_owned()),
    ];
    match socks_port {
        Some(port) => prefs.extend([
            ("network.proxy.type", "1".to_owned()),
            ("network.proxy.socks", "\"127.0.0.1\"".to_owned()),
            ("network.proxy.socks_port", port.to_string()),
            ("network.proxy.socks_version", "5".to_owned()),
            ("network.proxy.socks_remote_dns", "true".to_owned()),
            ("network.proxy.no_proxies_on", "\"\"".to_owned()),
        ]),
        None => prefs.push(("network.proxy.type", "0".to_owned())),
    }
    let mut out = String::from("// Written by Airgate for this environment's own profile.\n");
    for (key, value) in prefs {
        out.push_str(&format!("user_pref(\"{key}\", {value});\n"));
    }
    out
}

/// A browser process Airgate started.
#[derive(Debug)]
pub struct Launched {
    pub pid: u32,
    /// What it prints goes here.
    pub log: PathBuf,
    /// Its exit status once it ends (a browser handing the URL to its running window ends at
    /// once, successfully).
    pub exited: tokio::sync::oneshot::Receiver<Option<std::process::ExitStatus>>,
}

impl Launched {
    /// The last lines the browser printed, for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }
}

/// The file in a browser profile directory that holds what the browser printed.
pub const BROWSER_LOG: &str = "airgate-browser.log";

/// How long a browser that must make way for a new one (its proxy port changed) is given to end.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts browsers and remembers the ones still running, per profile directory.
#[derive(Debug, Clone, Default)]
pub struct Browsers {
    running: Arc<Mutex<HashMap<PathBuf, Running>>>,
}

/// A browser Airgate started, still running.
#[derive(Debug)]
struct Running {
    pid: u32,
    /// The SOCKS port it was started with: fixed for the life of a browser process.
    socks_port: Option<u16>,
    /// Ends it (taken once).
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Browsers {
    /// Starts `browser` for `request`. A browser still running on the same profile gets the URL
    /// (it opens a window of its own) when its route is the same; when the tunnel's port changed
    /// (the tunnel was started again), it is ended first, since a browser keeps the proxy it
    /// started with.
    ///
    /// Must run inside a Tokio runtime (the process is reaped on a task).
    pub async fn launch(&self, browser: &Browser, request: &LaunchRequest<'_>) -> Result<Launched> {
        self.stop_if_rerouted(&request.profile_dir, request.socks_port)
            .await;
        std::fs::create_dir_all(&request.profile_dir).map_err(|source| Error::Profile {
            path: request.profile_dir.clone(),
            source,
        })?;
        if browser.kind == BrowserKind::Firefox {
            crate::settings::write_atomically(
                &request.profile_dir.join("user.js"),
                firefox_user_js(request.socks_port).as_bytes(),
            )
            .map_err(|source| Error::Profile {
                path: request.profile_dir.clone(),
                source,
            })?;
        }
        let running = self.is_running(&request.profile_dir);
        let args = arguments(browser.kind, request, running);
        // What the browser says goes next to its profile (it never holds the URL's token:
        // browsers do not print the URLs they open).
        let output = std::fs::File::create(request.profile_dir.join(BROWSER_LOG))
            .map(std::process::Stdio::from)
            .unwrap_or_else(|_| std::process::Stdio::null());
        let mut child = tokio::process::Command::new(&browser.path)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(output)
            .spawn()
            .map_err(|source| Error::Launch {
                browser: browser.name.clone(),
                path: browser.path.clone(),
                source,
            })?;
        let pid = child.id().unwrap_or_default();
        tracing::info!(browser = %browser.name, pid, proxied = request.socks_port.is_some(), "browser started");
        let profile = request.profile_dir.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        if !running {
            self.lock().insert(
                profile.clone(),
                Running {
                    pid,
                    socks_port: request.socks_port,
                    stop: Some(stop),
                },
            );
        }
        let registry = self.running.clone();
        let (ended, exited) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                Ok(()) = &mut stopped => {
                    tracing::info!(pid, "ending the browser: its tunnel moved to another port");
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            tracing::debug!(pid, ?status, "browser process ended");
            {
                let mut running = registry.lock().unwrap_or_else(|e| e.into_inner());
                if running.get(&profile).map(|r| r.pid) == Some(pid) {
                    running.remove(&profile);
                }
            }
            let _ = ended.send(status.ok());
        });
        Ok(Launched {
            pid,
            log: request.profile_dir.join(BROWSER_LOG),
            exited,
        })
    }

    /// Whether a browser Airgate started on `profile_dir` still runs.
    pub fn is_running(&self, profile_dir: &Path) -> bool {
        self.lock().contains_key(profile_dir)
    }

    /// Whether a browser runs on `profile_dir` with the route `socks_port`: Open reuses it.
    pub fn is_running_with(&self, profile_dir: &Path, socks_port: Option<u16>) -> bool {
        self.lock()
            .get(profile_dir)
            .is_some_and(|r| r.socks_port == socks_port)
    }

    /// Ends the browser of `profile_dir` when it runs with another route than `socks_port`, and
    /// waits (a while) until it has.
    async fn stop_if_rerouted(&self, profile_dir: &Path, socks_port: Option<u16>) {
        let stop = match self.lock().get_mut(profile_dir) {
            Some(running) if running.socks_port != socks_port => running.stop.take(),
            _ => None,
        };
        let Some(stop) = stop else {
            return;
        };
        let _ = stop.send(());
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        while self.is_running(profile_dir) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A directory name for an environment's browser profile: readable, and distinct for distinct
/// ids (`profile/region/name`).
pub fn profile_dir_name(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' => out.push(c),
            '/' => out.push_str("__"),
            other => out.push_str(&format!("_{:x}_", u32::from(other))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn every_platform_has_chromium_and_firefox_candidates() {
        let windows_env = |name: &str| match name {
            "ProgramFiles" => Some(r"C:\Program Files".to_owned()),
            "LOCALAPPDATA" => Some(r"C:\Users\me\AppData\Local".to_owned()),
            _ => None,
        };
        let windows = candidates(Os::Windows, &windows_env);
        assert!(
            windows
                .iter()
                .any(|b| b.path
                    == Path::new(r"C:\Program Files\Google\Chrome\Application\chrome.exe"))
        );
        assert!(windows.iter().any(|b| b.path
            == Path::new(r"C:\Users\me\AppData\Local\Microsoft\Edge\Application\msedge.exe")));
        assert!(windows.iter().any(|b| b.kind == BrowserKind::Firefox));

        let mac_env = |name: &str| (name == "HOME").then(|| "/Users/me".to_owned());
        let mac = candidates(Os::MacOs, &mac_env);
        assert_eq!(
            mac[0].path,
            Path::new("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")
        );
        assert!(
            mac.iter().any(|b| b.path
                == Path::new("/Users/me/Applications/Firefox.app/Contents/MacOS/firefox"))
        );

        let linux = candidates(Os::Linux, &no_env);
        assert!(
            linux
                .iter()
                .any(|b| b.path == Path::new("/usr/bin/chromium"))
        );
        assert!(
            linux
                .iter()
                .any(|b| b.path == Path::new("/usr/bin/firefox-esr"))
        );
    }

    #[test]
    fn linux_also_finds_browsers_on_path_after_the_usual_places() {
        let path_env = |name: &str| {
            (name == "PATH").then(|| "/home/me/.nix-profile/bin:bin::/usr/bin/".to_owned())
        };
        let linux = candidates(Os::Linux, &path_env);
        let usual = candidates(Os::Linux, &no_env);
        assert_eq!(
            linux[..usual.len()],
            usual[..],
            "the usual places come first"
        );
        let nix = linux
            .iter()
            .find(|b| b.path == Path::new("/home/me/.nix-profile/bin/chromium"))
            .expect("chromium on PATH");
        assert_eq!(
            (nix.name.as_str(), nix.kind),
            ("Chromium", BrowserKind::Chromium)
        );
        assert!(
            linux
                .iter()
                .any(|b| b.path == Path::new("/usr/bin/microsoft-edge-stable"))
        );
        // Each path once; relative PATH entries are never searched.
        let paths: std::collections::HashSet<_> = linux.iter().map(|b| &b.path).collect();
        assert_eq!(paths.len(), linux.len());
        assert!(
            linux
                .iter()
                .all(|b| b.path.to_string_lossy().starts_with('/'))
        );
    }

    #[test]
    fn chromium_is_routed_and_isolated() {
        let request = LaunchRequest {
            url: "https://h/aws_mwaa/aws-console-sso?login=true#T",
            socks_port: Some(41080),
            profile_dir: PathBuf::from("/data/browsers/p__r__orders"),
            extra_args: &["--headless".to_owned()],
        };
        let args = arguments(BrowserKind::Chromium, &request, false);
        assert_eq!(args[0], "--user-data-dir=/data/browsers/p__r__orders");
        assert!(args.contains(&"--no-first-run".to_owned()));
        assert!(args.contains(&"--proxy-server=socks5://127.0.0.1:41080".to_owned()));
        assert!(args.contains(&"--headless".to_owned()));
        assert_eq!(args.last().map(String::as_str), Some(request.url));

        let direct = LaunchRequest {
            socks_port: None,
            ..request
        };
        let args = arguments(BrowserKind::Chromium, &direct, false);
        assert!(!args.iter().any(|a| a.starts_with("--proxy-server")));
    }

    #[test]
    fn firefox_gets_its_own_profile_with_remote_dns() {
        let request = LaunchRequest {
            url: "https://h/",
            socks_port: Some(41080),
            profile_dir: PathBuf::from("/data/browsers/x"),
            extra_args: &[],
        };
        assert_eq!(
            arguments(BrowserKind::Firefox, &request, false),
            ["-profile", "/data/browsers/x", "-no-remote", "https://h/"]
        );
        assert_eq!(
            arguments(BrowserKind::Firefox, &request, true),
            ["-profile", "/data/browsers/x", "-new-tab", "https://h/"]
        );
        let prefs = firefox_user_js(Some(41080));
        assert!(prefs.contains("user_pref(\"network.proxy.socks_port\", 41080);"));
        assert!(prefs.contains("user_pref(\"network.proxy.socks_remote_dns\", true);"));
        assert!(firefox_user_js(None).contains("user_pref(\"network.proxy.type\", 0);"));
    }

    #[test]
    fn profile_directories_are_distinct_per_environment() {
        assert_eq!(
            profile_dir_name("prod/eu-west-1/orders"),
            "prod__eu-west-1__orders"
        );
        assert_ne!(profile_dir_name("a/b/c_d"), profile_dir_name("a/b/c/d"));
        assert!(!profile_dir_name("../x/y").contains('/'));
    }

    #[test]
    fn paths_tell_their_kind() {
        assert_eq!(
            kind_of_path(Path::new("/usr/bin/firefox-esr")),
            BrowserKind::Firefox
        );
        assert_eq!(
            kind_of_path(Path::new("/usr/bin/chromium")),
            BrowserKind::Chromium
        );
    }
}
