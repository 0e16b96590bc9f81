//! Where Airgate's files and the user's files are, on Linux, macOS and Windows: the app's data
//! directory, the shared AWS files, OpenSSH's files and its agent.
//!
//! Every path is a pure function of a [`Platform`]: the OS, the home directory, Windows' Roaming
//! AppData folder and an environment lookup. [`Platform::current`] is this machine's; a test
//! builds any other, so every platform's answer is checked on every platform. A path of another
//! OS is joined with that OS's separator (`\` on Windows), never this machine's, so a Windows
//! path computed on Linux reads as a Windows user would see it.
//!
//! This is the only crate that asks the OS where things are (`dirs`). The other platform
//! concerns have their own one place: the browsers' install places in `airgate-launch`'s
//! `browser.rs`, the keyring store in `airgate-vault`'s `platform.rs`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The app's identifier (as in `tauri.conf.json`): the data directory's name and the base of
/// the keyring namespace. The CLI shares the desktop app's data directory.
pub const APP_IDENTIFIER: &str = "app.airgate.desktop";

/// Environment variable that moves every file (and the keyring namespace) to another directory.
pub const DATA_DIR_ENV: &str = "AIRGATE_DATA_DIR";

/// Airgate's own known_hosts in the data directory: where "trust always" writes, checked before
/// the user's `~/.ssh/known_hosts` (which Airgate never writes).
pub const KNOWN_HOSTS_FILE: &str = "known_hosts";

/// The named pipe the agent of OpenSSH for Windows (the `ssh-agent` service) listens on.
pub const WINDOWS_AGENT_PIPE: &str = r"\\.\pipe\openssh-ssh-agent";

/// The operating systems Airgate knows the places of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    /// The OS this was built for (other Unixes are treated as Linux).
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }

    fn separator(self) -> &'static str {
        match self {
            Os::Windows => r"\",
            Os::Linux | Os::MacOs => "/",
        }
    }

    /// Windows takes both `\` and `/`; on Unix a `\` is part of a file name.
    fn is_separator(self, byte: u8) -> bool {
        byte == b'/' || (self == Os::Windows && byte == b'\\')
    }
}

/// What the paths are computed from.
pub struct Platform<'a> {
    pub os: Os,
    /// The user's home directory: `$HOME` on Linux and macOS, the profile folder on Windows
    /// (`C:\Users\me`). `None` when the system knows none.
    pub home: Option<PathBuf>,
    /// Windows only: the Roaming AppData known folder (`C:\Users\me\AppData\Roaming`, which
    /// `%APPDATA%` names), where Windows apps keep their data. Read from the system, not from
    /// `%APPDATA%`, as the desktop app's Tauri does: the two must agree.
    pub roaming_app_data: Option<PathBuf>,
    /// Reads an environment variable (`XDG_DATA_HOME`, `AWS_CONFIG_FILE`, `SSH_AUTH_SOCK`, ...).
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
}

impl std::fmt::Debug for Platform<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("os", &self.os)
            .field("home", &self.home)
            .field("roaming_app_data", &self.roaming_app_data)
            .finish_non_exhaustive()
    }
}

fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

impl Platform<'static> {
    /// This machine: its OS, its home directory and folders as `dirs` (and so Tauri) reads
    /// them, and this process's environment.
    pub fn current() -> Platform<'static> {
        let os = Os::current();
        Platform {
            os,
            home: dirs::home_dir(),
            // `dirs::data_dir` is this known folder on Windows.
            roaming_app_data: if os == Os::Windows {
                dirs::data_dir()
            } else {
                None
            },
            env: &process_env,
        }
    }
}

impl Platform<'_> {
    /// The OS's directory for apps' data, as `dirs::data_dir` gives it (Tauri's `app_data_dir`
    /// is this joined with the identifier): Linux `$XDG_DATA_HOME` when absolute, else
    /// `~/.local/share`; macOS `~/Library/Application Support`; Windows the Roaming AppData
    /// folder.
    pub fn os_data_dir(&self) -> Option<PathBuf> {
        match self.os {
            Os::Linux => {
                // The XDG spec ignores a relative value (and so does `dirs`).
                let xdg = (self.env)("XDG_DATA_HOME").filter(|dir| {
                    dir.as_encoded_bytes()
                        .first()
                        .is_some_and(|&b| self.os.is_separator(b))
                });
                match xdg {
                    Some(dir) => Some(PathBuf::from(dir)),
                    None => self.in_home(&[".local", "share"]),
                }
            }
            Os::MacOs => self.in_home(&["Library", "Application Support"]),
            Os::Windows => self.roaming_app_data.clone(),
        }
    }

    /// The data directory when none is chosen: `<OS data directory>/`[`APP_IDENTIFIER`], the
    /// one the desktop app's Tauri gives (`app_data_dir`).
    pub fn default_data_dir(&self) -> Option<PathBuf> {
        self.os_data_dir()
            .map(|dir| self.join(dir, &[APP_IDENTIFIER]))
    }

    /// The data directory [`DATA_DIR_ENV`] names, when it is set (and not empty).
    pub fn chosen_data_dir(&self) -> Option<PathBuf> {
        self.var(DATA_DIR_ENV).map(PathBuf::from)
    }

    /// The app's data directory: the chosen one, else the default one; `None` without either.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.chosen_data_dir().or_else(|| self.default_data_dir())
    }

    /// The shared AWS config file: `AWS_CONFIG_FILE` (a leading `~` is the home directory),
    /// else `~/.aws/config`, as the AWS CLI reads it.
    pub fn aws_config_file(&self) -> PathBuf {
        self.aws_file("AWS_CONFIG_FILE", "config")
    }

    /// The shared AWS credentials file: `AWS_SHARED_CREDENTIALS_FILE` (with `~`), else
    /// `~/.aws/credentials`.
    pub fn aws_credentials_file(&self) -> PathBuf {
        self.aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
    }

    /// Without a home directory the default is relative (`.aws/config`): it names no file a
    /// user has, and the "no profiles" message shows it as it is.
    fn aws_file(&self, var: &str, name: &str) -> PathBuf {
        match self.var(var) {
            Some(path) => self.expand_home(path),
            None => self.join(self.home.clone().unwrap_or_default(), &[".aws", name]),
        }
    }

    /// The shared SSO token cache, `~/.aws/sso/cache`, where the AWS CLI, the SDKs and Airgate
    /// keep IAM Identity Center tokens (not movable by any variable, as for the AWS CLI).
    pub fn aws_sso_cache_dir(&self) -> Option<PathBuf> {
        self.in_home(&[".aws", "sso", "cache"])
    }

    /// The user's OpenSSH known_hosts, `~/.ssh/known_hosts` (read, never written).
    pub fn ssh_known_hosts(&self) -> Option<PathBuf> {
        self.in_home(&[".ssh", "known_hosts"])
    }

    /// The user's OpenSSH client config, `~/.ssh/config`.
    pub fn ssh_config(&self) -> Option<PathBuf> {
        self.in_home(&[".ssh", "config"])
    }

    /// The known_hosts files a bastion's host key is checked against, in order: Airgate's own
    /// ([`KNOWN_HOSTS_FILE`] in `data_dir`), then the user's (when there is a home directory).
    pub fn known_hosts_files(&self, data_dir: &Path) -> Vec<PathBuf> {
        let own = self.join(data_dir, &[KNOWN_HOSTS_FILE]);
        std::iter::once(own).chain(self.ssh_known_hosts()).collect()
    }

    /// Where the SSH agent is: `SSH_AUTH_SOCK` on Linux and macOS (none when unset), the
    /// OpenSSH agent's named pipe on Windows.
    pub fn ssh_agent(&self) -> Option<PathBuf> {
        match self.os {
            Os::Windows => Some(PathBuf::from(WINDOWS_AGENT_PIPE)),
            Os::Linux | Os::MacOs => self.var("SSH_AUTH_SOCK").map(PathBuf::from),
        }
    }

    /// An environment variable, when set to something.
    fn var(&self, name: &str) -> Option<OsString> {
        (self.env)(name).filter(|value| !value.is_empty())
    }

    fn in_home(&self, parts: &[&str]) -> Option<PathBuf> {
        self.home.as_ref().map(|home| self.join(home, parts))
    }

    /// `base` with `parts` appended, each after this OS's separator (none after one that is
    /// already there, none before the first part of an empty base), as `PathBuf::join` does on
    /// that OS.
    fn join(&self, base: impl Into<OsString>, parts: &[&str]) -> PathBuf {
        let mut path: OsString = base.into();
        for part in parts {
            let separated = path
                .as_encoded_bytes()
                .last()
                .is_none_or(|&b| self.os.is_separator(b));
            if !separated {
                path.push(self.os.separator());
            }
            path.push(part);
        }
        PathBuf::from(path)
    }

    /// `path` with a leading `~` (alone, or before a separator) made the home directory.
    fn expand_home(&self, path: OsString) -> PathBuf {
        let home = self.home.clone().unwrap_or_default();
        let Some(text) = path.to_str() else {
            // Not Unicode, so not a test's path: this machine's own rules apply.
            return match Path::new(&path).strip_prefix("~") {
                Ok(rest) => home.join(rest),
                Err(_) => PathBuf::from(path),
            };
        };
        let Some(rest) = text.strip_prefix('~') else {
            return PathBuf::from(path);
        };
        if !rest.bytes().next().is_none_or(|b| self.os.is_separator(b)) {
            // `~other/...` is another user's home: left as it is.
            return PathBuf::from(path);
        }
        let rest = rest.trim_start_matches(|c: char| c.is_ascii() && self.os.is_separator(c as u8));
        if rest.is_empty() {
            home
        } else {
            self.join(home, &[rest])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment holding `vars` only.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    fn linux(env: &dyn Fn(&str) -> Option<OsString>) -> Platform<'_> {
        Platform {
            os: Os::Linux,
            home: Some(PathBuf::from("/home/me")),
            roaming_app_data: None,
            env,
        }
    }

    fn macos(env: &dyn Fn(&str) -> Option<OsString>) -> Platform<'_> {
        Platform {
            os: Os::MacOs,
            home: Some(PathBuf::from("/Users/me")),
            roaming_app_data: None,
            env,
        }
    }

    fn windows(env: &dyn Fn(&str) -> Option<OsString>) -> Platform<'_> {
        Platform {
            os: Os::Windows,
            home: Some(PathBuf::from(r"C:\Users\me")),
            roaming_app_data: Some(PathBuf::from(r"C:\Users\me\AppData\Roaming")),
            env,
        }
    }

    /// The path exactly as a user of its OS reads it (compared as text, separators and all).
    fn text(path: Option<PathBuf>) -> Option<String> {
        path.map(|p| p.to_string_lossy().into_owned())
    }

    #[test]
    fn linux_data_dir_is_under_local_share_or_xdg_data_home() {
        let none = env(&[]);
        assert_eq!(
            text(linux(&none).data_dir()).as_deref(),
            Some("/home/me/.local/share/app.airgate.desktop")
        );
        let xdg = env(&[("XDG_DATA_HOME", "/data/me")]);
        assert_eq!(
            text(linux(&xdg).data_dir()).as_deref(),
            Some("/data/me/app.airgate.desktop")
        );
        // A relative XDG_DATA_HOME is ignored, as the XDG spec (and Tauri) ignore it.
        let relative = env(&[("XDG_DATA_HOME", "data")]);
        assert_eq!(
            text(linux(&relative).data_dir()).as_deref(),
            Some("/home/me/.local/share/app.airgate.desktop")
        );
    }

    #[test]
    fn macos_data_dir_is_in_application_support() {
        let none = env(&[]);
        assert_eq!(
            text(macos(&none).data_dir()).as_deref(),
            Some("/Users/me/Library/Application Support/app.airgate.desktop")
        );
        // XDG is not macOS's.
        let xdg = env(&[("XDG_DATA_HOME", "/data/me")]);
        assert_eq!(
            text(macos(&xdg).data_dir()).as_deref(),
            Some("/Users/me/Library/Application Support/app.airgate.desktop")
        );
    }

    #[test]
    fn windows_data_dir_is_in_roaming_app_data() {
        let none = env(&[]);
        assert_eq!(
            text(windows(&none).data_dir()).as_deref(),
            Some(r"C:\Users\me\AppData\Roaming\app.airgate.desktop")
        );
        let no_folder = Platform {
            roaming_app_data: None,
            ..windows(&none)
        };
        assert_eq!(no_folder.data_dir(), None);
    }

    #[test]
    fn a_chosen_data_dir_wins_on_every_platform() {
        let chosen = env(&[(DATA_DIR_ENV, "/tmp/airgate-sandbox")]);
        for platform in [linux(&chosen), macos(&chosen)] {
            assert_eq!(
                text(platform.data_dir()).as_deref(),
                Some("/tmp/airgate-sandbox")
            );
        }
        let chosen = env(&[(DATA_DIR_ENV, r"D:\airgate")]);
        assert_eq!(
            text(windows(&chosen).data_dir()).as_deref(),
            Some(r"D:\airgate")
        );
        let empty = env(&[(DATA_DIR_ENV, "")]);
        assert_eq!(linux(&empty).chosen_data_dir(), None);
    }

    #[test]
    fn no_home_means_no_data_dir_on_unix() {
        let none = env(&[]);
        for platform in [linux(&none), macos(&none)] {
            let homeless = Platform {
                home: None,
                ..platform
            };
            assert_eq!(homeless.data_dir(), None);
        }
    }

    /// The CLI's default data directory is the desktop app's: Tauri's `app_data_dir` is
    /// `dirs::data_dir()` joined with the identifier.
    #[test]
    fn this_machine_s_data_dir_is_the_one_tauri_gives() {
        let platform = Platform::current();
        assert_eq!(
            platform.default_data_dir(),
            dirs::data_dir().map(|dir| dir.join(APP_IDENTIFIER))
        );
    }

    #[test]
    fn aws_files_are_in_dot_aws_on_every_platform() {
        let none = env(&[]);
        let files = |p: Platform<'_>| {
            (
                text(Some(p.aws_config_file())),
                text(Some(p.aws_credentials_file())),
            )
        };
        assert_eq!(
            files(linux(&none)),
            (
                Some("/home/me/.aws/config".to_owned()),
                Some("/home/me/.aws/credentials".to_owned())
            )
        );
        assert_eq!(
            files(macos(&none)),
            (
                Some("/Users/me/.aws/config".to_owned()),
                Some("/Users/me/.aws/credentials".to_owned())
            )
        );
        assert_eq!(
            files(windows(&none)),
            (
                Some(r"C:\Users\me\.aws\config".to_owned()),
                Some(r"C:\Users\me\.aws\credentials".to_owned())
            )
        );
    }

    #[test]
    fn the_sso_cache_is_in_dot_aws_on_every_platform() {
        let none = env(&[]);
        assert_eq!(
            text(linux(&none).aws_sso_cache_dir()).as_deref(),
            Some("/home/me/.aws/sso/cache")
        );
        assert_eq!(
            text(macos(&none).aws_sso_cache_dir()).as_deref(),
            Some("/Users/me/.aws/sso/cache")
        );
        assert_eq!(
            text(windows(&none).aws_sso_cache_dir()).as_deref(),
            Some(r"C:\Users\me\.aws\sso\cache")
        );
    }

    #[test]
    fn aws_file_variables_are_honoured_with_the_home_expanded() {
        let unix = env(&[
            ("AWS_CONFIG_FILE", "~/work/aws-config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/etc/aws/credentials"),
        ]);
        for (platform, home) in [(linux(&unix), "/home/me"), (macos(&unix), "/Users/me")] {
            assert_eq!(
                text(Some(platform.aws_config_file())),
                Some(format!("{home}/work/aws-config"))
            );
            assert_eq!(
                text(Some(platform.aws_credentials_file())).as_deref(),
                Some("/etc/aws/credentials")
            );
        }
        let win = env(&[
            ("AWS_CONFIG_FILE", r"~\work\aws-config"),
            ("AWS_SHARED_CREDENTIALS_FILE", r"D:\aws\credentials"),
        ]);
        assert_eq!(
            text(Some(windows(&win).aws_config_file())).as_deref(),
            Some(r"C:\Users\me\work\aws-config")
        );
        assert_eq!(
            text(Some(windows(&win).aws_credentials_file())).as_deref(),
            Some(r"D:\aws\credentials")
        );
        // Windows takes `/` after `~` too; on Unix `~\x` and `~other` are file names.
        let slash = env(&[("AWS_CONFIG_FILE", "~/aws/config")]);
        assert_eq!(
            text(Some(windows(&slash).aws_config_file())).as_deref(),
            Some(r"C:\Users\me\aws/config")
        );
        let odd = env(&[
            ("AWS_CONFIG_FILE", r"~\config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "~other/credentials"),
        ]);
        assert_eq!(
            text(Some(linux(&odd).aws_config_file())).as_deref(),
            Some(r"~\config")
        );
        assert_eq!(
            text(Some(linux(&odd).aws_credentials_file())).as_deref(),
            Some("~other/credentials")
        );
    }

    #[test]
    fn without_a_home_the_aws_files_are_relative() {
        let none = env(&[]);
        let homeless = Platform {
            home: None,
            ..windows(&none)
        };
        assert_eq!(
            text(Some(homeless.aws_config_file())).as_deref(),
            Some(r".aws\config")
        );
    }

    #[test]
    fn ssh_files_are_in_dot_ssh_on_every_platform() {
        let none = env(&[]);
        let files = |p: Platform<'_>| (text(p.ssh_known_hosts()), text(p.ssh_config()));
        assert_eq!(
            files(linux(&none)),
            (
                Some("/home/me/.ssh/known_hosts".to_owned()),
                Some("/home/me/.ssh/config".to_owned())
            )
        );
        assert_eq!(
            files(macos(&none)),
            (
                Some("/Users/me/.ssh/known_hosts".to_owned()),
                Some("/Users/me/.ssh/config".to_owned())
            )
        );
        assert_eq!(
            files(windows(&none)),
            (
                Some(r"C:\Users\me\.ssh\known_hosts".to_owned()),
                Some(r"C:\Users\me\.ssh\config".to_owned())
            )
        );
    }

    #[test]
    fn airgate_s_own_known_hosts_comes_before_the_user_s() {
        let none = env(&[]);
        let files = |p: Platform<'_>, data_dir: &str| {
            p.known_hosts_files(Path::new(data_dir))
                .into_iter()
                .map(|f| f.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            files(linux(&none), "/home/me/.local/share/app.airgate.desktop"),
            [
                "/home/me/.local/share/app.airgate.desktop/known_hosts",
                "/home/me/.ssh/known_hosts"
            ]
        );
        assert_eq!(
            files(
                macos(&none),
                "/Users/me/Library/Application Support/app.airgate.desktop"
            ),
            [
                "/Users/me/Library/Application Support/app.airgate.desktop/known_hosts",
                "/Users/me/.ssh/known_hosts"
            ]
        );
        assert_eq!(
            files(
                windows(&none),
                r"C:\Users\me\AppData\Roaming\app.airgate.desktop"
            ),
            [
                r"C:\Users\me\AppData\Roaming\app.airgate.desktop\known_hosts",
                r"C:\Users\me\.ssh\known_hosts"
            ]
        );
        let homeless = Platform {
            home: None,
            ..linux(&none)
        };
        assert_eq!(
            files(homeless, "/srv/airgate"),
            ["/srv/airgate/known_hosts"]
        );
    }

    #[test]
    fn the_agent_is_ssh_auth_sock_on_unix_and_a_pipe_on_windows() {
        let sock = env(&[("SSH_AUTH_SOCK", "/tmp/ssh-x/agent.1")]);
        for platform in [linux(&sock), macos(&sock)] {
            assert_eq!(
                text(platform.ssh_agent()).as_deref(),
                Some("/tmp/ssh-x/agent.1")
            );
        }
        let none = env(&[("SSH_AUTH_SOCK", "")]);
        assert_eq!(linux(&none).ssh_agent(), None);
        assert_eq!(macos(&none).ssh_agent(), None);
        // The pipe whether or not SSH_AUTH_SOCK is set.
        assert_eq!(
            text(windows(&sock).ssh_agent()).as_deref(),
            Some(r"\\.\pipe\openssh-ssh-agent")
        );
        assert_eq!(
            text(windows(&none).ssh_agent()),
            text(windows(&sock).ssh_agent())
        );
    }

    #[test]
    fn joins_add_no_second_separator() {
        let none = env(&[]);
        let root = Platform {
            home: Some(PathBuf::from(r"C:\")),
            ..windows(&none)
        };
        assert_eq!(text(root.ssh_config()).as_deref(), Some(r"C:\.ssh\config"));
        let slash = Platform {
            home: Some(PathBuf::from("/")),
            ..linux(&none)
        };
        assert_eq!(text(slash.ssh_config()).as_deref(), Some("/.ssh/config"));
    }
}
