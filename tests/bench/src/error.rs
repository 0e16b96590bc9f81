use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// What stopped a benchmark run, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Could not start the OpenSSH bastion (sshd on 127.0.0.1): {0}")]
    Bastion(#[source] io::Error),

    #[error("Could not start the source server on 127.0.0.1: {0}")]
    Source(#[source] io::Error),

    #[error(
        "Could not run `ssh` ({0}). Install OpenSSH's client (apt-get install openssh-client)."
    )]
    SshMissing(#[source] io::Error),

    #[error(
        "`ssh -D` ({label}) exited with {status} before its SOCKS port accepted connections:\n{stderr}"
    )]
    SshExited {
        label: String,
        status: ExitStatus,
        stderr: String,
    },

    #[error(
        "`ssh -D` ({label}) did not accept SOCKS connections on {addr} within {timeout:?}:\n{stderr}"
    )]
    SshNotReady {
        label: String,
        addr: SocketAddr,
        timeout: Duration,
        stderr: String,
    },

    #[error("Airgate could not open its tunnel through the bastion: {0}")]
    Tunnel(#[from] airgate_tunnel::Error),

    #[error("Airgate did not open its tunnel within {0:?}; see the bastion's log.")]
    TunnelTimeout(Duration),

    #[error("Could not start Airgate's tunnel process `{} serve-tunnel`: {source}", program.display())]
    TunnelSpawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Airgate's tunnel process ended ({status}) before its SOCKS port was ready:\n{stderr}")]
    TunnelExited { status: String, stderr: String },

    #[error("Could not read the machine's busy time from /proc/stat: {0}")]
    MachineCpu(#[source] io::Error),

    #[error("Could not read the CPU time of {side} (process {pid}) from /proc: {source}")]
    Cpu {
        side: String,
        pid: u32,
        #[source]
        source: io::Error,
    },

    #[error("{side} relayed an unexpected HTTP response: {detail}")]
    Http { side: String, detail: String },

    #[error("Connecting through the SOCKS proxy of {side} failed: {source}")]
    Socks {
        side: String,
        #[source]
        source: airgate_peers::socks_client::SocksError,
    },

    #[error("Sending through {side} failed after {sent} bytes: {source}")]
    Write {
        side: String,
        sent: u64,
        #[source]
        source: io::Error,
    },

    #[error("Reading through {side} failed after {got} bytes: {source}")]
    Read {
        side: String,
        got: u64,
        #[source]
        source: io::Error,
    },

    #[error(
        "Reading through {side} did not finish within {timeout:?} ({got} of {want} bytes); the tunnel may be stuck."
    )]
    ReadTimeout {
        side: String,
        got: u64,
        want: u64,
        timeout: Duration,
    },

    #[error(
        "{side} ended the stream after {got} of {want} bytes: the tunnel lost data or closed early."
    )]
    Short { side: String, got: u64, want: u64 },

    #[error("A blocking setup step stopped unexpectedly: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
