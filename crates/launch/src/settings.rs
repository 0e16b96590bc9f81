//! Open's settings, kept in `settings.json` in the app's data directory (nothing secret).
//!
//! A file that cannot be read or parsed is kept as it is and reported; the defaults apply
//! until it is fixed. Writes are atomic (a temporary file renamed over the old one).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub use airgate_paths::{APP_IDENTIFIER, DATA_DIR_ENV};

/// The file in the data directory that the app and the CLI lock while they write the keyring's
/// records, so that neither loses the other's update.
pub const VAULT_LOCK: &str = "vault.lock";

/// The data directory [`DATA_DIR_ENV`] names, when it is set.
pub fn chosen_data_dir() -> Option<PathBuf> {
    airgate_paths::Platform::current().chosen_data_dir()
}

/// The app's data directory: [`DATA_DIR_ENV`], else `<OS data directory>/`[`APP_IDENTIFIER`]
/// (where the desktop app keeps it too; `airgate_paths::Platform::data_dir` says where that is
/// on each platform); `None` without a home directory.
pub fn data_dir() -> Option<PathBuf> {
    airgate_paths::Platform::current().data_dir()
}

/// The settings file's name inside the data directory.
pub const SETTINGS_FILE: &str = "settings.json";

/// How Open behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", default)]
pub struct OpenSettings {
    /// The browser: a detected browser's name, a path, or `"airgate"` (the desktop app's own
    /// window). `None`: the first one detected.
    pub browser: Option<String>,
    /// A browser per environment (id: `profile/region/name` or `self-hosted/name`), over
    /// `browser`.
    pub browser_overrides: std::collections::BTreeMap<String, String>,
    /// Extra arguments for every browser launch (e.g. `--headless`).
    pub browser_args: Vec<String>,
    /// PEM certificates the Airgate window accepts from the web server it opens, beyond the
    /// system's trust (a self-signed server, e.g. the sandbox's). Linux only; browsers take
    /// `browser_args` instead.
    pub window_certificates: Vec<PathBuf>,
    /// Always reach private environments through their tunnel, even when their web server
    /// answers directly (a VPN, or this machine inside the VPC).
    pub force_tunnel: bool,
    /// The loopback port of the proxy auto-config file (`None`: the default,
    /// [`crate::pac::DEFAULT_PAC_PORT`]; 0: any free port).
    pub pac_port: Option<u16>,
    /// Seconds after which a password copied from the window is cleared from the clipboard
    /// (`None`: [`DEFAULT_CLIPBOARD_CLEAR_SECS`]).
    pub clipboard_clear_secs: Option<u32>,
    /// Regions every profile also looks in, after its own (`region`, `airgate_regions`).
    pub regions: Vec<String>,
    /// Every region that offers MWAA ([`airgate_discovery::MWAA_REGIONS`]), over `regions`.
    pub all_regions: bool,
    /// Minutes between two listings of the environments while Airgate runs (`None`:
    /// [`DEFAULT_REFRESH_MINUTES`]; 0: only when asked).
    pub refresh_minutes: Option<u32>,
}

/// How often the list of environments is refreshed by default.
pub const DEFAULT_REFRESH_MINUTES: u32 = 15;

/// How long a copied password stays on the clipboard by default.
pub const DEFAULT_CLIPBOARD_CLEAR_SECS: u32 = 30;

impl OpenSettings {
    /// [`OpenSettings::clipboard_clear_secs`], or its default; at least one second.
    pub fn clipboard_clear_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(
            self.clipboard_clear_secs
                .unwrap_or(DEFAULT_CLIPBOARD_CLEAR_SECS)
                .max(1),
        ))
    }

    /// The time between two listings of the environments; `None`: only when asked.
    pub fn refresh_every(&self) -> Option<std::time::Duration> {
        match self.refresh_minutes.unwrap_or(DEFAULT_REFRESH_MINUTES) {
            0 => None,
            minutes => Some(std::time::Duration::from_secs(u64::from(minutes) * 60)),
        }
    }

    /// How discovery runs with these settings: the regions chosen for every profile.
    pub fn discover_options(&self) -> airgate_discovery::DiscoverOptions {
        let extra_regions = if self.all_regions {
            airgate_discovery::MWAA_REGIONS
                .iter()
                .map(|r| (*r).to_owned())
                .collect()
        } else {
            self.regions
                .iter()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect()
        };
        airgate_discovery::DiscoverOptions {
            extra_regions,
            ..airgate_discovery::DiscoverOptions::default()
        }
    }

    /// The browser choice for the environment `id`: its own, else the default one.
    pub fn browser_for(&self, id: &str) -> Option<&str> {
        self.browser_overrides
            .get(id)
            .map(String::as_str)
            .or(self.browser.as_deref())
    }
}

/// Reads the settings of `data_dir`; a missing file gives the defaults.
pub fn load(data_dir: &Path) -> Result<OpenSettings> {
    read_json(&data_dir.join(SETTINGS_FILE))
}

/// Writes the settings of `data_dir` atomically.
pub fn save(data_dir: &Path, settings: &OpenSettings) -> Result<()> {
    write_json(&data_dir.join(SETTINGS_FILE), settings)
}

/// Reads one of the app's JSON files; a missing file gives the defaults, one that cannot be
/// read or parsed is an error naming it (and is left as it is).
pub(crate) fn read_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T> {
    let unreadable = |reason: String| Error::SettingsUnreadable {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|err| unreadable(err.to_string())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(err) => Err(unreadable(err.to_string())),
    }
}

/// Writes one of the app's JSON files atomically (pretty, for people who open it).
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(|err| Error::SettingsUnreadable {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })?;
    write_atomically(path, &text).map_err(|source| Error::SettingsWrite {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`: a reader
/// sees the old file or the new one, never half of one. The directory is made if missing (the
/// CLI may be the first to write in the data directory).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(&dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_default_when_missing() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(load(dir.path()).expect("no file"), OpenSettings::default());
        let settings = OpenSettings {
            browser: Some("/usr/bin/chromium".into()),
            browser_args: vec!["--headless".into()],
            browser_overrides: [("p/r/env".to_owned(), "airgate".to_owned())].into(),
            window_certificates: vec![PathBuf::from("/etc/airgate/internal.pem")],
            force_tunnel: true,
            pac_port: Some(0),
            clipboard_clear_secs: Some(10),
            regions: vec!["eu-west-1".into()],
            all_regions: false,
            refresh_minutes: Some(0),
        };
        save(dir.path(), &settings).expect("save");
        assert_eq!(settings.refresh_every(), None, "0: only when asked");
        assert_eq!(
            OpenSettings::default().refresh_every(),
            Some(std::time::Duration::from_secs(15 * 60))
        );
        assert_eq!(load(dir.path()).expect("load"), settings);
        assert_eq!(settings.browser_for("p/r/env"), Some("airgate"));
        assert_eq!(settings.browser_for("p/r/other"), Some("/usr/bin/chromium"));
        assert_eq!(settings.clipboard_clear_after().as_secs(), 10);
        assert_eq!(
            OpenSettings::default().clipboard_clear_after().as_secs(),
            u64::from(DEFAULT_CLIPBOARD_CLEAR_SECS)
        );
        assert_eq!(settings.discover_options().extra_regions, ["eu-west-1"]);
        let all = OpenSettings {
            all_regions: true,
            ..settings.clone()
        };
        assert_eq!(
            all.discover_options().extra_regions.len(),
            airgate_discovery::MWAA_REGIONS.len()
        );
    }

    #[test]
    fn a_broken_file_is_reported_and_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(SETTINGS_FILE);
        std::fs::write(&path, "{ not json").expect("write");
        let err = load(dir.path()).expect_err("broken file");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "{ not json");
    }
}
