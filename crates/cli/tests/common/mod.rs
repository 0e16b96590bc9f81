//! Shared set-up of the CLI tests: the MWAA test server, AWS files in a temporary home, and the
//! `airgate` binary run as a child process with its environment set on the child only.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use airgate_peers::mwaa::{AwsProfile, AwsProfileFiles, MwaaConfig, MwaaServer};
use tempfile::TempDir;
use tokio::process::Command;

pub const ACCOUNT_A: &str = "111111111111";
pub const ACCOUNT_B: &str = "222222222222";

/// How long one `airgate envs` (or a failing `airgate connect`) may run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A server knowing the access keys `AKIAA` (account A) and `AKIAB` (account B).
pub async fn mwaa_server() -> MwaaServer {
    MwaaServer::start(
        MwaaConfig::default()
            .access_key("AKIAA", ACCOUNT_A)
            .access_key("AKIAB", ACCOUNT_B),
    )
    .await
    .expect("MWAA test server starts")
}

/// A temporary home directory with `~/.aws/config` and `~/.aws/credentials`.
#[derive(Debug)]
pub struct Home {
    dir: TempDir,
    pub aws: AwsProfileFiles,
}

impl Home {
    /// Writes `profiles`, each with `endpoint_url = endpoint` when given.
    pub fn new(endpoint: Option<&str>, profiles: &[AwsProfile]) -> Home {
        let dir = tempfile::Builder::new()
            .prefix("airgate-cli-home-")
            .tempdir()
            .expect("temp home");
        let aws = AwsProfileFiles::write(&dir.path().join(".aws"), endpoint, profiles)
            .expect("AWS files written");
        Home { dir, aws }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file path inside the home directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `airgate ARGS` with only this home, these AWS files and no metadata service in its
    /// environment. The child is killed if the command is dropped while it runs.
    pub fn airgate(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_airgate"));
        command
            .args(args)
            .env_clear()
            .env("HOME", self.path())
            .envs(self.aws.env_vars())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command
    }

    /// [`Self::airgate`] at a terminal: run by `script` in a pseudo-terminal, whose input is
    /// this command's stdin and whose output (the child's stdout and stderr) is its stdout.
    pub fn airgate_in_terminal(&self, args: &[&str]) -> Command {
        let line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_airgate"))
            .chain(args.iter().copied())
            .map(|word| format!("'{}'", word.replace('\'', "'\\''")))
            .collect();
        let mut command = self.airgate(&[]);
        let std = command.as_std_mut();
        let mut script = Command::new("script");
        script.args(["-q", "-e", "-f", "-c", &line.join(" "), "/dev/null"]);
        script
            .env_clear()
            .envs(
                std.get_envs()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
            )
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        script
    }

    /// [`Self::airgate`] with this test's keyring (the D-Bus session of `with-keyring.sh`) and a
    /// data directory of its own, so its keys and bastions are in a namespace of their own.
    pub fn airgate_with_keyring(&self, args: &[&str]) -> Command {
        let mut command = self.airgate(args);
        if let Some(bus) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
            command.env("DBUS_SESSION_BUS_ADDRESS", bus);
        }
        command.env("AIRGATE_DATA_DIR", self.path().join("airgate-data"));
        command
    }

    /// Airgate's data directory under this home (where the CLI keeps its own known_hosts).
    pub fn data_dir(&self) -> PathBuf {
        self.path().join(".local/share/app.airgate.desktop")
    }
}

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to its end, bounded by [`RUN_TIMEOUT`].
pub async fn run(mut command: Command) -> Run {
    let child = command.spawn().expect("airgate starts");
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("airgate did not finish within {RUN_TIMEOUT:?}"))
        .expect("airgate output read");
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// The port in `... on 127.0.0.1:PORT`.
pub fn announced_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("127.0.0.1:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
