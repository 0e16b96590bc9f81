//! A real Secret Service for tests: gnome-keyring on its own D-Bus session bus, with its own
//! HOME and XDG directories, so the user's keyring and session are never touched.
//!
//! - [`SessionBus`]: a private `dbus-daemon` with no activatable services (nothing starts by
//!   itself on it), listening on a socket in a temp dir.
//! - [`SecretService`]: such a bus plus `gnome-keyring-daemon --foreground --unlock
//!   --components=secrets`, its login keyring created and unlocked with [`SecretService::PASSWORD`].
//!
//! Keyring clients (libdbus, libsecret) find the session bus through the process environment
//! (`DBUS_SESSION_BUS_ADDRESS`), and the store crates offer no way to pass an address. Changing
//! the environment of a running test process is `unsafe` (and racy with other threads), so a test
//! runs its body in a child process instead: [`rerun_current_test`] starts the current test
//! binary again, filtered to that one test, with the peer's environment, and fails unless that
//! test ran and passed there. Inside the child, [`is_rerun`] is true.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The well-known D-Bus name of a Secret Service.
pub const SECRETS_NAME: &str = "org.freedesktop.secrets";
/// Set in the environment of a test re-run by [`rerun_current_test`].
pub const RERUN_ENV: &str = "AIRGATE_PEERS_RERUN";

const START_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Could not start {program}: {source}. Install it (apt: {package}) and retry.")]
    Spawn {
        program: &'static str,
        package: &'static str,
        source: std::io::Error,
    },
    #[error("Could not prepare the peer's files in {path}: {source}")]
    Files {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} was not ready after {waited:?}: {detail}")]
    NotReady {
        what: &'static str,
        waited: Duration,
        detail: String,
    },
    #[error("{what} exited early ({status}): {log}")]
    Exited {
        what: &'static str,
        status: ExitStatus,
        log: String,
    },
    #[error("Could not run the test {test:?} again in a child process: {source}")]
    Rerun {
        test: String,
        source: std::io::Error,
    },
    #[error(
        "The test {test:?} did not pass in its child process ({outcome}). Its output:\n{output}"
    )]
    RerunFailed {
        test: String,
        outcome: String,
        output: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A private D-Bus session bus with its own HOME and XDG directories. Killed on drop.
#[derive(Debug)]
pub struct SessionBus {
    daemon: Child,
    address: String,
    home: PathBuf,
    runtime_dir: PathBuf,
    // Last: removed after the daemon is gone.
    dir: TempDir,
}

impl SessionBus {
    /// Starts `dbus-daemon` and waits (bounded) until it answers.
    pub fn start() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("airgate-bus-")
            .tempdir()
            .map_err(|source| files_error(Path::new("/tmp"), source))?;
        let home = dir.path().join("home");
        let runtime_dir = dir.path().join("run");
        for sub in [".config", ".cache", ".local/share"] {
            let path = home.join(sub);
            fs::create_dir_all(&path).map_err(|source| files_error(&path, source))?;
        }
        fs::create_dir_all(&runtime_dir).map_err(|source| files_error(&runtime_dir, source))?;
        restrict_to_owner(&runtime_dir)?;

        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", escape_address_value(&socket));
        let config = dir.path().join("bus.conf");
        fs::write(&config, bus_config(&address)).map_err(|source| files_error(&config, source))?;
        let log = dir.path().join("dbus-daemon.log");
        let log_file = fs::File::create(&log).map_err(|source| files_error(&log, source))?;
        let log_err = log_file
            .try_clone()
            .map_err(|source| files_error(&log, source))?;

        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile"])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|source| Error::Spawn {
                program: "dbus-daemon",
                package: "dbus",
                source,
            })?;
        let mut bus = Self {
            daemon,
            address,
            home,
            runtime_dir,
            dir,
        };
        bus.wait_ready(&log)?;
        tracing::debug!(address = %bus.address, "private session bus is up");
        Ok(bus)
    }

    fn wait_ready(&mut self, log: &Path) -> Result<()> {
        let started = Instant::now();
        let mut last = String::from("no answer yet");
        while started.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = self.daemon.try_wait() {
                return Err(Error::Exited {
                    what: "dbus-daemon",
                    status,
                    log: read_log(log),
                });
            }
            match self.call(
                &["/org/freedesktop/DBus", "org.freedesktop.DBus.GetId"],
                "org.freedesktop.DBus",
            ) {
                Ok(_) => return Ok(()),
                Err(err) => last = err,
            }
            thread::sleep(POLL);
        }
        Err(Error::NotReady {
            what: "dbus-daemon",
            waited: START_TIMEOUT,
            detail: format!("{last}; log: {}", read_log(log)),
        })
    }

    /// The bus address, as `DBUS_SESSION_BUS_ADDRESS` expects it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The HOME of processes on this bus (with `.config`, `.cache` and `.local/share`).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The environment a client process needs to live in this session, and only there.
    pub fn envs(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS", self.address.clone().into()),
            ("HOME", self.home.clone().into()),
            ("XDG_CONFIG_HOME", self.home.join(".config").into()),
            ("XDG_CACHE_HOME", self.home.join(".cache").into()),
            ("XDG_DATA_HOME", self.home.join(".local/share").into()),
            ("XDG_RUNTIME_DIR", self.runtime_dir.clone().into()),
        ]
    }

    /// A command that runs in this session (e.g. `secret-tool`).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .envs(self.envs())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        command
    }

    /// Whether a client owns `name` on this bus.
    pub fn name_has_owner(&self, name: &str) -> Result<bool, String> {
        let arg = format!("string:{name}");
        let reply = self.call(
            &[
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                &arg,
            ],
            "org.freedesktop.DBus",
        )?;
        Ok(reply.contains("boolean true"))
    }

    /// One `dbus-send` call (bounded by `--reply-timeout`); its printed reply or its error.
    fn call(&self, args: &[&str], dest: &str) -> Result<String, String> {
        let output = self
            .command("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args(["--print-reply", "--reply-timeout=2000"])
            .arg(format!("--dest={dest}"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("dbus-send: {err}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    /// Runs the test `test` of the current test binary again with this session's environment.
    pub fn rerun_test(&self, test: &str, timeout: Duration) -> Result<String> {
        rerun_current_test(test, self.envs(), timeout)
    }

    fn log_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        stop(&mut self.daemon);
    }
}

/// gnome-keyring's Secret Service on a private session bus, its login keyring unlocked.
/// Everything is killed and removed on drop.
#[derive(Debug)]
pub struct SecretService {
    keyring: Child,
    bus: SessionBus,
}

impl SecretService {
    /// The password of the login keyring (created on start).
    pub const PASSWORD: &'static str = "airgate-test-keyring";

    /// Starts a bus and gnome-keyring, and waits (bounded) until the default collection exists.
    pub fn start() -> Result<Self> {
        let bus = SessionBus::start()?;
        let log = bus.log_dir().join("gnome-keyring.log");
        let log_file = fs::File::create(&log).map_err(|source| files_error(&log, source))?;
        let log_err = log_file
            .try_clone()
            .map_err(|source| files_error(&log, source))?;
        let mut keyring = bus
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|source| Error::Spawn {
                program: "gnome-keyring-daemon",
                package: "gnome-keyring",
                source,
            })?;
        // The password on stdin, then end of input: the daemon reads up to EOF.
        if let Some(mut stdin) = keyring.stdin.take() {
            let written = stdin.write_all(Self::PASSWORD.as_bytes());
            drop(stdin);
            if let Err(source) = written {
                stop(&mut keyring);
                return Err(files_error(&log, source));
            }
        }
        let mut service = Self { keyring, bus };
        service.wait_ready(&log)?;
        tracing::debug!(address = %service.bus.address, "Secret Service is up");
        Ok(service)
    }

    fn wait_ready(&mut self, log: &Path) -> Result<()> {
        let started = Instant::now();
        let mut last = String::from("no answer yet");
        while started.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = self.keyring.try_wait() {
                return Err(Error::Exited {
                    what: "gnome-keyring-daemon",
                    status,
                    log: read_log(log),
                });
            }
            match self.bus.call(
                &[
                    "/org/freedesktop/secrets",
                    "org.freedesktop.Secret.Service.ReadAlias",
                    "string:default",
                ],
                SECRETS_NAME,
            ) {
                Ok(reply) if reply.contains("/org/freedesktop/secrets/collection/") => {
                    return Ok(());
                }
                Ok(reply) => last = format!("no default collection yet: {}", reply.trim()),
                Err(err) => last = err,
            }
            thread::sleep(POLL);
        }
        Err(Error::NotReady {
            what: "gnome-keyring-daemon",
            waited: START_TIMEOUT,
            detail: format!("{last}; log: {}", read_log(log)),
        })
    }

    pub fn bus_address(&self) -> &str {
        self.bus.address()
    }

    pub fn home(&self) -> &Path {
        self.bus.home()
    }

    /// Where gnome-keyring writes its keyring files (`$XDG_DATA_HOME/keyrings`).
    pub fn keyring_dir(&self) -> PathBuf {
        keyring_dir_of(self.bus.home())
    }

    pub fn envs(&self) -> Vec<(&'static str, OsString)> {
        self.bus.envs()
    }

    /// A command that talks to this Secret Service (e.g. `secret-tool search ...`).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.bus.command(program)
    }

    pub fn name_has_owner(&self, name: &str) -> Result<bool, String> {
        self.bus.name_has_owner(name)
    }

    /// Runs the test `test` of the current test binary again with this session's environment.
    pub fn rerun_test(&self, test: &str, timeout: Duration) -> Result<String> {
        self.bus.rerun_test(test, timeout)
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        stop(&mut self.keyring);
    }
}

/// Where gnome-keyring keeps its files under a HOME set up by [`SessionBus`].
pub fn keyring_dir_of(home: &Path) -> PathBuf {
    home.join(".local/share/keyrings")
}

/// True inside a test started by [`rerun_current_test`].
pub fn is_rerun() -> bool {
    std::env::var_os(RERUN_ENV).is_some()
}

/// Runs the test `test` (its full path inside the test binary, e.g. `keys::round_trip`) of the
/// current test binary again in a child process, with `envs` added to the environment (and no
/// `DISPLAY`, so no client can reach the user's desktop session). Waits at most `timeout`, and
/// succeeds only when exactly that test ran and passed; returns the child's output.
pub fn rerun_current_test<K, V>(
    test: &str,
    envs: impl IntoIterator<Item = (K, V)>,
    timeout: Duration,
) -> Result<String>
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let rerun_error = |source| Error::Rerun {
        test: test.to_owned(),
        source,
    };
    let exe = std::env::current_exe().map_err(rerun_error)?;
    let out_dir = tempfile::Builder::new()
        .prefix("airgate-rerun-")
        .tempdir()
        .map_err(rerun_error)?;
    let out_path = out_dir.path().join("output");
    let out = fs::File::create(&out_path).map_err(rerun_error)?;
    let err = out.try_clone().map_err(rerun_error)?;
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .envs(envs)
        .env(RERUN_ENV, "1")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(rerun_error)?;

    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(rerun_error)? {
            Some(status) => break Some(status),
            None if started.elapsed() >= timeout => {
                stop(&mut child);
                break None;
            }
            None => thread::sleep(POLL),
        }
    };
    let output = read_log(&out_path);
    let failed = |outcome: String| Error::RerunFailed {
        test: test.to_owned(),
        outcome,
        output: output.clone(),
    };
    match status {
        None => Err(failed(format!("killed after {timeout:?}"))),
        Some(status) if !status.success() => Err(failed(status.to_string())),
        // libtest prints this line only when the filter matched the test and it passed.
        Some(_) if !output.contains("test result: ok. 1 passed") => Err(failed(
            "the filter did not select exactly this test".to_owned(),
        )),
        Some(_) => Ok(output),
    }
}

fn bus_config(address: &str) -> String {
    // No <servicedir>: nothing is activated on demand, only what a test starts exists.
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        escape_xml(address)
    )
}

/// D-Bus address values: bytes outside `[-0-9A-Za-z_/.\*]` are %-escaped.
fn escape_address_value(path: &Path) -> String {
    let mut escaped = String::new();
    for byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"-_/.\\*".contains(byte) {
            escaped.push(char::from(*byte));
        } else {
            escaped.push_str(&format!("%{byte:02x}"));
        }
    }
    escaped
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(unix)]
fn restrict_to_owner(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|source| files_error(dir, source))
}

#[cfg(not(unix))]
fn restrict_to_owner(_dir: &Path) -> Result<()> {
    Ok(())
}

fn files_error(path: &Path, source: std::io::Error) -> Error {
    Error::Files {
        path: path.to_path_buf(),
        source,
    }
}

fn read_log(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|err| format!("(no log: {err})"))
}

/// Kills a child we started and reaps it.
fn stop(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Runs `secret-tool ARGS` (apt: libsecret-tools) from `command` (e.g.
/// [`SecretService::command`], or a plain `Command::new("secret-tool")` inside a re-run test),
/// feeding it `stdin`; panics with its stderr unless it succeeds.
///
/// # Panics
/// When `secret-tool` cannot run or fails.
pub fn secret_tool(mut command: Command, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("secret-tool runs (apt: libsecret-tools)");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("secret-tool ends");
    assert!(
        output.status.success(),
        "secret-tool {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_tool(service: &SecretService, args: &[&str], stdin: Option<&str>) -> String {
        let output = super::secret_tool(
            service.command("secret-tool"),
            args,
            stdin.unwrap_or_default(),
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    #[test]
    fn a_secret_service_stores_secrets_on_its_own_bus_and_stops_on_drop() {
        let service = SecretService::start().expect("Secret Service starts");
        assert!(service.name_has_owner(SECRETS_NAME).expect("bus answers"));
        assert!(service.bus_address().starts_with("unix:path="));

        secret_tool(
            &service,
            &[
                "store",
                "--label=peer test",
                "service",
                "peer-test",
                "username",
                "u",
            ],
            Some("s3cr3t-value"),
        );
        let found = secret_tool(
            &service,
            &["lookup", "service", "peer-test", "username", "u"],
            None,
        );
        assert_eq!(found, "s3cr3t-value");
        let files: Vec<_> = fs::read_dir(service.keyring_dir())
            .expect("gnome-keyring wrote its keyring dir")
            .map(|entry| entry.expect("dir entry").file_name())
            .collect();
        assert!(
            files.iter().any(|name| name == "login.keyring"),
            "{files:?}"
        );

        let address = service.bus_address().to_owned();
        let socket = PathBuf::from(address.trim_start_matches("unix:path="));
        assert!(socket.exists());
        let home = service.home().to_path_buf();
        drop(service);
        assert!(!socket.exists(), "the bus and its files are gone");
        assert!(!home.exists());
    }

    #[test]
    fn a_bare_session_bus_has_no_secret_service_and_activates_none() {
        let bus = SessionBus::start().expect("bus starts");
        assert!(!bus.name_has_owner(SECRETS_NAME).expect("bus answers"));
        let err = bus
            .call(
                &[
                    "/org/freedesktop/secrets",
                    "org.freedesktop.Secret.Service.ReadAlias",
                    "string:default",
                ],
                SECRETS_NAME,
            )
            .expect_err("nothing is activated");
        assert!(err.contains("ServiceUnknown"), "{err}");
    }

    #[test]
    fn bus_addresses_escape_unusual_paths() {
        assert_eq!(
            escape_address_value(Path::new("/tmp/a b,c")),
            "/tmp/a%20b%2cc"
        );
    }
}
