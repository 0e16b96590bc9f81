//! OpenSSH's own SOCKS proxy, `ssh -N -D`, as the peer to measure against.

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use airgate_peers::bastion::Bastion;

use crate::{Error, Result};

/// How long `ssh` may take to log in and open its SOCKS port.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How many free ports to try when another process takes the chosen one first.
const ATTEMPTS: usize = 3;

/// What `ssh` needs to log in to the bastion; owned, so it can move to a blocking task.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    /// Where `ssh`'s stderr goes.
    pub scratch: PathBuf,
}

impl SshTarget {
    /// Logs in as the bastion's user with its key; `known_hosts` holds only its host key.
    pub fn for_bastion(bastion: &Bastion, known_hosts: &Path) -> SshTarget {
        SshTarget {
            host: bastion.host().to_owned(),
            port: bastion.port(),
            user: bastion.user().to_owned(),
            key: bastion.user_key().to_owned(),
            known_hosts: known_hosts.to_owned(),
            scratch: bastion.dir().to_owned(),
        }
    }
}

/// A running `ssh -N -D 127.0.0.1:PORT`; killed on drop.
#[derive(Debug)]
pub struct OpenSshSocks {
    child: Child,
    addr: SocketAddr,
    stderr: PathBuf,
}

impl OpenSshSocks {
    /// Starts `ssh -N -D` with `cipher` (`None`: OpenSSH's default order) and waits until its
    /// SOCKS port accepts, which it opens only once logged in. `verbose` adds `-v`, whose log
    /// names the negotiated cipher (see [`negotiated_cipher`](Self::negotiated_cipher)).
    pub fn start(target: &SshTarget, cipher: Option<&str>, verbose: bool) -> Result<OpenSshSocks> {
        let label = label(cipher);
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .map_err(Error::Source)?
                .port();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let stderr = target.scratch.join(format!("ssh-D-{port}-{attempt}.log"));
            let log = fs::File::create(&stderr).map_err(Error::Source)?;
            let mut command = Command::new("ssh");
            command
                .args(["-F", "none", "-N", "-D"])
                .arg(addr.to_string())
                .arg("-i")
                .arg(&target.key)
                .arg("-p")
                .arg(target.port.to_string())
                .arg("-o")
                .arg(format!(
                    "UserKnownHostsFile={}",
                    target.known_hosts.display()
                ))
                .args([
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    "ExitOnForwardFailure=yes",
                    "-o",
                    "ConnectTimeout=10",
                ]);
            if let Some(cipher) = cipher {
                command.args(["-c", cipher]);
            }
            if verbose {
                command.arg("-v");
            }
            command
                .arg(format!("{}@{}", target.user, target.host))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            let child = command.spawn().map_err(Error::SshMissing)?;
            let mut socks = OpenSshSocks {
                child,
                addr,
                stderr,
            };
            match socks.wait_ready(&label) {
                Ok(()) => return Ok(socks),
                // Another process may have bound the port first: ExitOnForwardFailure ends ssh.
                Err(e @ Error::SshExited { .. }) if socks.log().contains("forwarding") => {
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Source(io::Error::other("no free port for ssh -D"))))
    }

    /// The SOCKS proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `ssh` process, to read its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The cipher `ssh -v` logged as negotiated (server to client, the download direction).
    pub fn negotiated_cipher(&self) -> Option<String> {
        parse_negotiated_cipher(&self.log())
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_ready(&mut self, label: &str) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::SshExited {
                    label: label.to_owned(),
                    status,
                    stderr: self.log(),
                });
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::SshNotReady {
                    label: label.to_owned(),
                    addr: self.addr,
                    timeout: START_TIMEOUT,
                    stderr: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OpenSshSocks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the benchmark names an `ssh -D` run.
pub fn label(cipher: Option<&str>) -> String {
    match cipher {
        Some(cipher) => format!("OpenSSH ssh -D -c {cipher}"),
        None => "OpenSSH ssh -D".to_owned(),
    }
}

/// `debug1: kex: server->client cipher: NAME MAC: ...` from `ssh -v`.
fn parse_negotiated_cipher(log: &str) -> Option<String> {
    log.lines()
        .find_map(|line| line.split_once("kex: server->client cipher: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(str::to_owned)
}

/// `ssh -V`'s version line (OpenSSH prints it on stderr).
pub fn version() -> Result<String> {
    let out = Command::new("ssh")
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .map_err(Error::SshMissing)?;
    let text = String::from_utf8_lossy(&out.stderr);
    Ok(text.split(',').next().unwrap_or_default().trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_negotiated_cipher_from_the_verbose_log() {
        let log = "debug1: kex: algorithm: sntrup761x25519-sha512@openssh.com\n\
                   debug1: kex: server->client cipher: chacha20-poly1305@openssh.com MAC: <implicit> compression: none\n\
                   debug1: kex: client->server cipher: chacha20-poly1305@openssh.com MAC: <implicit> compression: none\n";
        assert_eq!(
            parse_negotiated_cipher(log).as_deref(),
            Some("chacha20-poly1305@openssh.com")
        );
        assert_eq!(parse_negotiated_cipher("debug1: Authenticated\n"), None);
    }
}
