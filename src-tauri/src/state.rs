//! What the app keeps while it runs, managed by Tauri (`app.manage`): no global singletons.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use airgate_discovery::{Discovery, Environment};
use airgate_launch::Browsers;
use airgate_tunnel::Tunnels;
use airgate_vault::Vault;

use crate::error::{Error, Result, join_error};

/// The app identifier, also the keyring namespace's base.
pub use airgate_launch::settings::APP_IDENTIFIER as IDENTIFIER;

pub use airgate_launch::settings::DATA_DIR_ENV;

/// Where Open's progress goes: the window's `OpenProgressed` events (set up with the app).
#[derive(Clone)]
pub struct ProgressSink(std::sync::Arc<dyn Fn(airgate_launch::OpenProgress) + Send + Sync>);

impl ProgressSink {
    pub fn new(sink: impl Fn(airgate_launch::OpenProgress) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(sink))
    }

    pub fn send(&self, progress: airgate_launch::OpenProgress) {
        (self.0)(progress);
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// The proxy auto-config file Airgate serves, and the routes it holds.
#[derive(Debug)]
pub struct Pac {
    /// Where it is served, or why it is not.
    pub url: Result<String, String>,
    pub routes: tokio::sync::watch::Sender<Vec<airgate_launch::pac::PacRoute>>,
}

#[derive(Debug)]
pub struct AppState {
    /// The handle to the task that owns every tunnel.
    pub tunnels: Tunnels,
    /// Where Airgate keeps its files (`known_hosts`, ...).
    pub data_dir: PathBuf,
    /// Whether the data directory was chosen (option or [`DATA_DIR_ENV`]) rather than the
    /// default: a chosen one gets its own keyring namespace.
    pub custom_data_dir: bool,
    /// The browsers Open started, per environment profile.
    pub browsers: Browsers,
    /// Open's progress, to the window.
    pub progress: ProgressSink,
    /// Hides the window or quits, for commands that cannot name the runtime.
    pub window: crate::window::WindowControl,
    /// The app's own windows for environments (the "Airgate window" browser choice).
    pub airflow_windows: std::sync::Arc<dyn airgate_launch::open::AppWindows>,
    /// The proxy auto-config file (set once it is listening).
    pub pac: std::sync::OnceLock<Pac>,
    /// The environments of the last discovery, so Open (from the window or the tray) knows
    /// their host, version and access.
    environments: Mutex<Vec<Environment>>,
    /// The self-hosted Airflow web servers last read from the vault, for the PAC file.
    self_hosted: Mutex<Vec<airgate_vault::SelfHostedRecord>>,
    /// Opened on first use (a blocking D-Bus call); a failure is retried on the next use.
    vault: Mutex<Option<Vault>>,
    /// Passphrases of stored keys typed in this run and not remembered in the keyring (as
    /// `ssh-add` keeps them until the agent ends): memory only.
    passphrases: Mutex<airgate_launch::keys::Passphrases>,
    /// Set once the app started closing its tunnels to exit.
    shutting_down: AtomicBool,
}

impl AppState {
    pub fn new(
        tunnels: Tunnels,
        data_dir: PathBuf,
        custom_data_dir: bool,
        progress: ProgressSink,
        window: crate::window::WindowControl,
        airflow_windows: std::sync::Arc<dyn airgate_launch::open::AppWindows>,
    ) -> Self {
        Self {
            progress,
            window,
            airflow_windows,
            pac: std::sync::OnceLock::new(),
            tunnels,
            data_dir,
            custom_data_dir,
            browsers: Browsers::default(),
            environments: Mutex::new(Vec::new()),
            self_hosted: Mutex::new(Vec::new()),
            vault: Mutex::new(None),
            passphrases: Mutex::new(Default::default()),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Whether the app is closing its tunnels to exit.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// `true` the first time only: the caller closes the tunnels, then exits.
    pub fn begin_shutdown(&self) -> bool {
        !self.shutting_down.swap(true, Ordering::SeqCst)
    }

    /// Remembers what discovery found.
    pub fn remember(&self, discovery: &Discovery) {
        *self.environments.lock().unwrap_or_else(|e| e.into_inner()) =
            discovery.environments.clone();
    }

    /// Remembers the self-hosted Airflow web servers last read or saved.
    pub fn remember_self_hosted(&self, saved: &[airgate_vault::SelfHostedRecord]) {
        *self.self_hosted.lock().unwrap_or_else(|e| e.into_inner()) = saved.to_vec();
    }

    /// The web server host (`host`, `host:port`) behind the tunnel `id`: an MWAA environment of
    /// the last discovery, or a remembered self-hosted Airflow.
    pub fn webserver_host(&self, id: &str) -> Option<String> {
        if let Some(name) = airgate_launch::self_hosted_name(id) {
            let saved = self.self_hosted.lock().unwrap_or_else(|e| e.into_inner());
            let record = saved.iter().find(|r| r.name == name)?;
            return Some(record.validate().ok()?.authority());
        }
        let env = crate::commands::tunnels::EnvironmentRef::from_tunnel_id(id)?;
        self.environment(&env.profile, &env.region, &env.name)?
            .webserver_host
    }

    /// Every environment of the last discovery.
    pub fn environments(&self) -> Vec<Environment> {
        self.environments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The environment `profile/region/name` of the last discovery.
    pub fn environment(&self, profile: &str, region: &str, name: &str) -> Option<Environment> {
        self.environments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|env| env.profile == profile && env.region == region && env.name == name)
            .cloned()
    }

    /// The known_hosts files a bastion's host key is checked against, in order (the CLI's too).
    pub fn known_hosts(&self) -> Vec<PathBuf> {
        airgate_paths::Platform::current().known_hosts_files(&self.data_dir)
    }

    /// The vault of this app's namespace, opened off the async runtime on first use.
    pub async fn vault(&self) -> Result<Vault> {
        if let Some(vault) = self.vault.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(vault);
        }
        let namespace = airgate_vault::namespace(
            IDENTIFIER,
            self.custom_data_dir.then_some(self.data_dir.as_path()),
        );
        let lock = self.data_dir.join(airgate_launch::settings::VAULT_LOCK);
        let vault = tauri::async_runtime::spawn_blocking(move || Vault::open(&namespace))
            .await
            .map_err(|e| join_error("Opening the keyring", e))??
            .with_lock_file(lock);
        *self.vault.lock().unwrap_or_else(|e| e.into_inner()) = Some(vault.clone());
        Ok(vault)
    }

    /// The passphrases typed in this run, by stored key name.
    pub fn passphrases(&self) -> airgate_launch::keys::Passphrases {
        self.passphrases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Keeps (`Some`) or forgets (`None`) the passphrase of stored key `name` for this run.
    pub fn keep_passphrase(&self, name: &str, passphrase: Option<airgate_tunnel::SecretText>) {
        let mut kept = self.passphrases.lock().unwrap_or_else(|e| e.into_inner());
        match passphrase {
            Some(passphrase) => kept.insert(name.to_owned(), passphrase),
            None => kept.remove(name),
        };
    }

    /// Runs a blocking vault call off the async runtime.
    pub async fn with_vault<T, E, F>(&self, what: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        E: Into<Error> + Send + 'static,
        F: FnOnce(&Vault) -> std::result::Result<T, E> + Send + 'static,
    {
        let vault = self.vault().await?;
        let value = tauri::async_runtime::spawn_blocking(move || f(&vault))
            .await
            .map_err(|e| join_error(what, e))?;
        value.map_err(Into::into)
    }
}

/// The data directory: `explicit` when given, else [`DATA_DIR_ENV`] when set, else `default`.
/// Created if missing. Returns it and whether it was chosen rather than the default.
pub fn data_dir(explicit: Option<PathBuf>, default: PathBuf) -> Result<(PathBuf, bool)> {
    let chosen = explicit.or_else(airgate_launch::settings::chosen_data_dir);
    let custom = chosen.is_some();
    let dir = chosen.unwrap_or(default);
    create_dir(&dir)?;
    Ok((dir, custom))
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| Error::DataDir {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_identifier_is_the_one_tauri_uses() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("tauri.conf.json");
        assert_eq!(config["identifier"], super::IDENTIFIER);
    }

    /// The app takes its default data directory from Tauri, the CLI from `airgate-paths`: they
    /// must be one directory, or the CLI would not see the app's ports, settings and known_hosts.
    #[test]
    fn tauri_s_data_directory_is_the_cli_s() {
        use tauri::Manager as _;
        let mut context = tauri::test::mock_context(tauri::test::noop_assets());
        context.config_mut().identifier = super::IDENTIFIER.to_owned();
        let app = tauri::test::mock_builder()
            .build(context)
            .expect("mock app");
        assert_eq!(
            app.path().app_data_dir().ok(),
            airgate_paths::Platform::current().default_data_dir()
        );
    }
}
