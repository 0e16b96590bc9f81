//! The `airgate` CLI built for Windows (`x86_64-pc-windows-gnu`), run under Wine the way a
//! Windows user runs it: in a Wine prefix of its own (its own `C:\users\<user>`, registry and
//! Credential Manager), without a display, reaching nothing but loopback.
//!
//! `make wine` builds the exe and names it in [`EXE_ENV`].

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::process::Command;

/// Names the Windows build of `airgate` (`airgate.exe`) to run.
pub const EXE_ENV: &str = "AIRGATE_WINDOWS_EXE";

/// How long Wine may take to make its prefix, or one of its tools (`reg`) to run.
pub const WINE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long one `airgate` command that ends by itself may run (an RSA 4096 key is made in a few
/// seconds; Wine starts a process in well under one).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The most one Windows Credential Manager entry holds (`CRED_MAX_CREDENTIAL_BLOB_SIZE`).
pub const MAX_CREDENTIAL_LEN: usize = 2560;

const CREDENTIAL_MANAGER_KEY: &str = r"HKCU\Software\Wine\Credential Manager";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{EXE_ENV} is not set: run `make wine`, which builds airgate.exe for Windows and names it \
         there"
    )]
    NoExe,
    #[error(
        "{EXE_ENV}={0} is not a file: build it with `cargo build --target x86_64-pc-windows-gnu \
         -p airgate-cli --bin airgate`"
    )]
    ExeMissing(PathBuf),
    #[error("cannot run {what} ({hint}): {source}")]
    Spawn {
        what: String,
        hint: &'static str,
        source: std::io::Error,
    },
    #[error("{what} did not finish within {timeout:?}")]
    Timeout { what: String, timeout: Duration },
    #[error("{what} failed ({status}): {stderr}")]
    Failed {
        what: String,
        status: ExitStatus,
        stderr: String,
    },
    #[error("the Wine prefix has no user profile in {0}")]
    NoProfile(PathBuf),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Wine prefix made for one test, and the Windows `airgate.exe` to run in it. Dropping it ends
/// every Windows process of the prefix (`wineserver -k`), then deletes it.
#[derive(Debug)]
pub struct Wine {
    dir: TempDir,
    exe: PathBuf,
    user: String,
}

impl Wine {
    /// Makes a fresh prefix (`wineboot -i`) for the exe named in [`EXE_ENV`].
    pub async fn start() -> Result<Wine> {
        let exe = PathBuf::from(std::env::var_os(EXE_ENV).ok_or(Error::NoExe)?);
        if !exe.is_file() {
            return Err(Error::ExeMissing(exe));
        }
        let dir = tempfile::Builder::new().prefix("airgate-wine-").tempdir()?;
        std::fs::create_dir(dir.path().join("home"))?;
        let mut wine = Wine {
            dir,
            exe,
            user: String::new(),
        };
        output(
            wine.command("wineboot").arg("-i"),
            "wineboot -i",
            "install Wine: apt-get install wine wine64",
        )
        .await?;
        wine.user = windows_user(&wine.prefix().join("drive_c/users"))?;
        wine.provide_process_prng().await?;
        Ok(wine)
    }

    /// `airgate.exe ARGS`, started in the user's profile folder as a Windows terminal starts,
    /// its output piped; killed if the command is dropped while it runs.
    pub fn airgate(&self, args: &[&str]) -> Command {
        let mut command = self.command("wine");
        command
            .arg(&self.exe)
            .args(args)
            .current_dir(self.profile())
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    }

    /// The user's profile folder (`%USERPROFILE%`, `C:\users\<user>`) as seen from Linux.
    pub fn profile(&self) -> PathBuf {
        self.prefix().join("drive_c/users").join(&self.user)
    }

    /// `path` as a Windows program names it: `C:\...` inside the prefix's drive C, `Z:\...` (the
    /// Linux root) elsewhere.
    pub fn windows_path(&self, path: &Path) -> String {
        let (drive, rest) = match path.strip_prefix(self.prefix().join("drive_c")) {
            Ok(rest) => ("C:", Path::new("/").join(rest)),
            Err(_) => ("Z:", path.to_path_buf()),
        };
        format!("{drive}{}", rest.display()).replace('/', "\\")
    }

    /// The generic credentials in this prefix's Credential Manager. Wine keeps them in the
    /// registry, a key per credential, with each secret encrypted to the same length.
    pub async fn credentials(&self) -> Result<Vec<Credential>> {
        let out = output(
            self.command("wine")
                .args(["reg", "query", CREDENTIAL_MANAGER_KEY, "/s"]),
            "wine reg query",
            "Wine's reg.exe",
        )
        .await?;
        Ok(parse_credentials(&String::from_utf8_lossy(&out.stdout)))
    }

    fn prefix(&self) -> PathBuf {
        self.dir.path().join("prefix")
    }

    /// A Wine tool with this prefix and nothing of the caller's environment but `PATH`: no
    /// display, no debug channels, no Mono or Gecko installer (they would download), no menu
    /// entries in a home directory.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("WINEPREFIX", self.prefix())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=;winemenubuilder.exe=d")
            .env("HOME", self.dir.path().join("home"))
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

    /// Rust's standard library gets its random bytes from `ProcessPrng` in
    /// `bcryptprimitives.dll`, which Windows 10 and later have and Wine 8.0 lacks: without it
    /// no Rust exe starts. When the prefix has no such DLL, a stand-in built from
    /// `shim/bcryptprimitives.c` (over Wine's own BCryptGenRandom) goes in its system folder.
    async fn provide_process_prng(&self) -> Result<()> {
        let dll = self
            .prefix()
            .join("drive_c/windows/system32/bcryptprimitives.dll");
        if dll.exists() {
            return Ok(());
        }
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("shim/bcryptprimitives.c");
        output(
            Command::new("x86_64-w64-mingw32-gcc")
                .args(["-shared", "-O2", "-o"])
                .arg(&dll)
                .arg(&source)
                .arg("-lbcrypt")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true),
            "x86_64-w64-mingw32-gcc",
            "install MinGW: apt-get install gcc-mingw-w64-x86-64",
        )
        .await
        .map(drop)
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let killed = std::process::Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = killed {
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One generic credential: its account (the vault's entry name) and its secret's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub user_name: String,
    pub secret_len: usize,
}

/// `reg query /s` output: a `HKEY_...\Generic: <target>` line per credential, then its values as
/// `Name    REG_TYPE    data`, the secret as hex digits.
fn parse_credentials(text: &str) -> Vec<Credential> {
    let mut credentials = Vec::new();
    let mut current: Option<Credential> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("HKEY_") {
            credentials.extend(current.take());
            if line.contains(r"\Generic: ") {
                current = Some(Credential {
                    user_name: String::new(),
                    secret_len: 0,
                });
            }
            continue;
        }
        let Some(credential) = current.as_mut() else {
            continue;
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["UserName", "REG_SZ", name @ ..] => credential.user_name = name.join(" "),
            ["Password", "REG_BINARY", hex] => credential.secret_len = hex.len() / 2,
            _ => {}
        }
    }
    credentials.extend(current);
    credentials
}

/// The one user profile `wineboot` made besides `Public`: the Linux user's name.
fn windows_user(users: &Path) -> Result<String> {
    let names: Vec<String> = std::fs::read_dir(users)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name != "Public")
        .collect();
    match names.as_slice() {
        [name] => Ok(name.clone()),
        _ => Err(Error::NoProfile(users.to_path_buf())),
    }
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs an `airgate` command to its end, bounded by [`RUN_TIMEOUT`].
pub async fn run(mut command: Command) -> Run {
    let child = command.spawn().expect("wine starts airgate.exe");
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("airgate.exe did not finish within {RUN_TIMEOUT:?}"))
        .expect("airgate.exe output read");
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a helper to its end within [`WINE_TIMEOUT`]; a failure carries its stderr.
async fn output(
    command: &mut Command,
    what: &str,
    hint: &'static str,
) -> Result<std::process::Output> {
    let child = command.spawn().map_err(|source| Error::Spawn {
        what: what.to_owned(),
        hint,
        source,
    })?;
    let out = tokio::time::timeout(WINE_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| Error::Timeout {
            what: what.to_owned(),
            timeout: WINE_TIMEOUT,
        })??;
    if !out.status.success() {
        return Err(Error::Failed {
            what: what.to_owned(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_reg_query_output() {
        let text = "\r\nHKEY_CURRENT_USER\\Software\\Wine\\Credential Manager\r\n    \
            EncryptionKey    REG_BINARY    1AFA6B28675F8F5C\r\n\r\n\
            HKEY_CURRENT_USER\\Software\\Wine\\Credential Manager\\Generic: part:1:1:k.ns\r\n    \
            (Default)    REG_SZ    part:1:1:k.ns\r\n    Password    REG_BINARY    0A0B0C\r\n    \
            UserName    REG_SZ    part:1:1:k\r\n\r\n\
            HKEY_CURRENT_USER\\Software\\Wine\\Credential Manager\\Generic: k.ns\r\n    \
            Password    REG_BINARY    0A\r\n    UserName    REG_SZ    k\r\n";
        assert_eq!(
            parse_credentials(text),
            [
                Credential {
                    user_name: "part:1:1:k".to_owned(),
                    secret_len: 3
                },
                Credential {
                    user_name: "k".to_owned(),
                    secret_len: 1
                },
            ]
        );
    }
}
