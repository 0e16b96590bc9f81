//! Airgate's tunnel in a process of its own, as `ssh -D` is one: `tunnel-bench serve-tunnel`
//! runs the same [`Tunnels`] the app uses (on the same multi-threaded tokio runtime), prints its
//! SOCKS port and the negotiated cipher, and serves until its standard input closes. Its CPU
//! time is read from `/proc` exactly like `ssh`'s, and the tunnel does not share a runtime or a
//! process with the benchmark's own client and sources.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use airgate_tunnel::{BastionSpec, TunnelSpec, Tunnels};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use crate::negotiated::KexCapture;
use crate::openssh::SshTarget;
use crate::{Error, Result, TUNNEL_TIMEOUT};

/// The first word of the line the tunnel process prints once its SOCKS port accepts.
const READY: &str = "airgate-tunnel-ready";

/// What the tunnel process needs to log in to the bastion: the `serve-tunnel` arguments.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ServeArgs {
    /// The bastion's address (an IP literal or a name).
    #[arg(long)]
    pub host: String,
    #[arg(long)]
    pub port: u16,
    #[arg(long)]
    pub user: String,
    /// The private key to log in with.
    #[arg(long)]
    pub key: PathBuf,
    /// A known_hosts file that holds the bastion's host key.
    #[arg(long)]
    pub known_hosts: PathBuf,
}

impl ServeArgs {
    /// Logs in as `ssh` does for the OpenSSH sides.
    pub fn for_target(target: &SshTarget) -> ServeArgs {
        ServeArgs {
            host: target.host.clone(),
            port: target.port,
            user: target.user.clone(),
            key: target.key.clone(),
            known_hosts: target.known_hosts.clone(),
        }
    }

    /// The arguments after `serve-tunnel`.
    fn to_args(&self) -> Vec<OsString> {
        vec![
            "--host".into(),
            self.host.clone().into(),
            "--port".into(),
            self.port.to_string().into(),
            "--user".into(),
            self.user.clone().into(),
            "--key".into(),
            self.key.clone().into(),
            "--known-hosts".into(),
            self.known_hosts.clone().into(),
        ]
    }

    /// A SOCKS tunnel on a free loopback port, as the app opens one.
    fn tunnel_spec(&self) -> TunnelSpec {
        TunnelSpec {
            bastion: BastionSpec {
                host: self.host.clone(),
                port: self.port,
                user: self.user.clone(),
                key: airgate_tunnel::KeySource::File(self.key.clone()),
                keepalive: airgate_tunnel::Keepalive::default(),
                trust_once: None,
                host_key: None,
                jump: Vec::new(),
            },
            known_hosts: vec![self.known_hosts.clone()],
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            forward: None,
        }
    }
}

/// The tunnel process's side: opens the tunnel, prints `airgate-tunnel-ready port=P cipher=C`
/// on standard output, and serves until standard input closes (the benchmark ends it, or went
/// away), then shuts the tunnel down.
pub async fn serve_tunnel(args: &ServeArgs) -> Result<()> {
    let capture = KexCapture::install();
    let tunnels = Tunnels::new();
    let connected = timeout(TUNNEL_TIMEOUT, tunnels.connect("bench", args.tunnel_spec())).await;
    let cipher = capture.and_then(|c| {
        c.stop();
        c.cipher()
    });
    let port = match connected {
        Ok(Ok(port)) => port,
        Ok(Err(e)) => {
            tunnels.shutdown().await;
            return Err(e.into());
        }
        Err(_) => {
            tunnels.shutdown().await;
            return Err(Error::TunnelTimeout(TUNNEL_TIMEOUT));
        }
    };
    let mut stdout = std::io::stdout().lock();
    let announced = writeln!(
        stdout,
        "{READY} port={port} cipher={}",
        cipher.as_deref().unwrap_or("unknown")
    )
    .and_then(|()| stdout.flush());
    drop(stdout);
    if announced.is_ok() {
        let mut stdin = tokio::io::stdin();
        let mut sink = [0u8; 256];
        while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
    }
    tunnels.shutdown().await;
    Ok(())
}

/// A running tunnel process; killed on drop.
#[derive(Debug)]
pub struct AirgateSocks {
    /// Its standard input stays open (a pipe) for as long as it should serve.
    child: Child,
    addr: SocketAddr,
    cipher: Option<String>,
}

impl AirgateSocks {
    /// Starts `program serve-tunnel ...` (`program` is `tunnel-bench`) and waits until it
    /// reports its SOCKS port. Blocks: call off the async executor.
    pub fn start(program: &Path, target: &SshTarget) -> Result<AirgateSocks> {
        let stderr = target.scratch.join("airgate-tunnel.log");
        let spawn_error = |source| Error::TunnelSpawn {
            program: program.to_owned(),
            source,
        };
        let log = fs::File::create(&stderr).map_err(spawn_error)?;
        let mut child = Command::new(program)
            .arg("serve-tunnel")
            .args(ServeArgs::for_target(target).to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(spawn_error)?;
        match wait_ready(&mut child, &stderr) {
            Ok((addr, cipher)) => Ok(AirgateSocks {
                child,
                addr,
                cipher,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// The SOCKS proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process to read the CPU time of.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The cipher russh negotiated with the bastion, when the process could tell.
    pub fn negotiated_cipher(&self) -> Option<String> {
        self.cipher.clone()
    }
}

impl Drop for AirgateSocks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the ready line within [`TUNNEL_TIMEOUT`]; the process's log tells why when it ends
/// without one.
fn wait_ready(child: &mut Child, stderr: &Path) -> Result<(SocketAddr, Option<String>)> {
    let stdout = child.stdout.take().ok_or_else(|| Error::TunnelExited {
        status: "no standard output".to_owned(),
        stderr: String::new(),
    })?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(read.map(|_| line));
    });
    let log = || fs::read_to_string(stderr).unwrap_or_default();
    match rx.recv_timeout(TUNNEL_TIMEOUT) {
        Ok(Ok(line)) => parse_ready(&line).ok_or_else(|| {
            let status = child
                .wait()
                .map_or_else(|e| e.to_string(), |s| s.to_string());
            Error::TunnelExited {
                status,
                stderr: format!("{}{line}", log()),
            }
        }),
        Ok(Err(e)) => Err(Error::TunnelExited {
            status: format!("unreadable output ({e})"),
            stderr: log(),
        }),
        Err(_) => Err(Error::TunnelTimeout(TUNNEL_TIMEOUT)),
    }
}

/// `airgate-tunnel-ready port=P cipher=C` (`cipher=unknown` when it could not be told).
fn parse_ready(line: &str) -> Option<(SocketAddr, Option<String>)> {
    let mut words = line.split_whitespace();
    if words.next()? != READY {
        return None;
    }
    let port: u16 = words.next()?.strip_prefix("port=")?.parse().ok()?;
    let cipher = words
        .next()
        .and_then(|w| w.strip_prefix("cipher="))
        .filter(|c| *c != "unknown")
        .map(str::to_owned);
    Some((SocketAddr::from((Ipv4Addr::LOCALHOST, port)), cipher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ready_line() {
        assert_eq!(
            parse_ready("airgate-tunnel-ready port=4321 cipher=aes128-gcm@openssh.com\n"),
            Some((
                SocketAddr::from((Ipv4Addr::LOCALHOST, 4321)),
                Some("aes128-gcm@openssh.com".to_owned())
            ))
        );
        assert_eq!(
            parse_ready("airgate-tunnel-ready port=4321 cipher=unknown"),
            Some((SocketAddr::from((Ipv4Addr::LOCALHOST, 4321)), None))
        );
        assert_eq!(parse_ready(""), None);
        assert_eq!(parse_ready("airgate-tunnel-ready port=x"), None);
    }

    #[test]
    fn serve_args_round_trip_through_the_command_line() {
        use clap::Parser;

        #[derive(Debug, Parser)]
        struct Line {
            #[command(flatten)]
            args: ServeArgs,
        }
        let args = ServeArgs {
            host: "127.0.0.1".to_owned(),
            port: 2222,
            user: "priya".to_owned(),
            key: PathBuf::from("/tmp/key"),
            known_hosts: PathBuf::from("/tmp/known hosts"),
        };
        let line = Line::parse_from(std::iter::once(OsString::from("x")).chain(args.to_args()));
        assert_eq!(line.args, args);
    }
}
