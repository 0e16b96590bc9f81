use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop a tunnel, each with what happened and what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error(
        "Host key of {host}:{port} is not known ({key_type} {fingerprint}). Refusing to connect: check the fingerprint with the bastion's owner, then trust it (or add it to known_hosts)."
    )]
    UnknownHostKey {
        host: String,
        port: u16,
        /// e.g. `ssh-ed25519`.
        key_type: String,
        fingerprint: String,
        /// The key as OpenSSH writes it (`type base64`), for trusting it.
        public_key: String,
    },

    #[error(
        "Host key for {host}:{port} changed since last connect: it is now {fingerprint}, and {} line {line} holds {known}. Refusing to connect (nothing was sent to it): someone may be intercepting the connection. If the bastion was rebuilt, confirm the new fingerprint with its owner, then replace that line.",
        known_hosts.display()
    )]
    HostKeyChanged {
        host: String,
        port: u16,
        fingerprint: String,
        /// The fingerprint of the key known_hosts holds.
        known: String,
        known_hosts: PathBuf,
        line: usize,
    },

    #[error(
        "{host}:{port} presented the host key {fingerprint}, but its saved bastion pins {pinned}. Refusing to connect (nothing was sent to it). If the bastion was rebuilt, confirm the new fingerprint with its owner, then edit the bastion's pinned key."
    )]
    HostKeyNotPinned {
        host: String,
        port: u16,
        fingerprint: String,
        pinned: String,
    },

    #[error(
        "The jump host {jump} could not reach {next}: {reason}. Check that {next} is the address the jump host sees, and that the jump host allows TCP forwarding."
    )]
    JumpFailed {
        jump: String,
        next: String,
        reason: String,
    },

    #[error("Could not add the host key to {}: {reason}.", path.display())]
    KnownHostsWrite { path: PathBuf, reason: String },

    #[error(
        "Host key of {host}:{port} ({fingerprint}) is marked @revoked in {} line {line}. Refusing to connect.",
        known_hosts.display()
    )]
    HostKeyRevoked {
        host: String,
        port: u16,
        fingerprint: String,
        known_hosts: PathBuf,
        line: usize,
    },

    #[error(
        "{host}:{port} presented a host certificate, and no @cert-authority line in known_hosts names a CA for it. Add the CA's key as `@cert-authority {host} <key>`, or ask the bastion's owner for its plain host key."
    )]
    HostCertificate { host: String, port: u16 },

    #[error("The host certificate of {host}:{port} is refused: {reason}. Refusing to connect.")]
    HostCertificateInvalid {
        host: String,
        port: u16,
        reason: String,
    },

    #[error("Could not read known_hosts file {}: {source}. Check that it exists and is readable.", path.display())]
    KnownHostsUnreadable {
        path: PathBuf,
        source: std::sync::Arc<std::io::Error>,
    },

    #[error("The {key} is passphrase protected: enter its passphrase.")]
    KeyPassphraseNeeded {
        key: String,
        /// The stored key's name, when it is one (the window asks for its passphrase).
        stored: Option<String>,
    },

    #[error("Wrong passphrase for the {key}. Check it, then try again.")]
    KeyPassphraseWrong { key: String, stored: Option<String> },

    #[error(
        "{key} is a public key. Give the private key instead: the file without `.pub` (its first line is -----BEGIN … PRIVATE KEY-----)."
    )]
    KeyIsPublic { key: String },

    #[error(
        "Could not use the {agent}: {reason}. Start ssh-agent (and add your key with ssh-add), or pick a stored key."
    )]
    AgentUnavailable { agent: String, reason: String },

    #[error("The {agent} holds no key. Add yours with `ssh-add`, or pick a stored key.")]
    AgentEmpty { agent: String },

    #[error("Could not load the {key}: {reason}.")]
    KeyUnreadable { key: String, reason: String },

    #[error(
        "The bastion {host}:{port} refused key {key} for user {user}: {detail}. Check the user name, and that the key's public half is in ~{user}/.ssh/authorized_keys on the bastion."
    )]
    AuthRejected {
        user: String,
        host: String,
        port: u16,
        key: String,
        detail: String,
    },

    #[error(
        "Could not reach bastion {host}:{port}: {reason}. Check the address and port, and your network or VPN."
    )]
    BastionUnreachable {
        host: String,
        port: u16,
        reason: String,
    },

    #[error(
        "Bastion {host}:{port} did not answer within {seconds} s while {step}. Check that it is an SSH server and that nothing in between drops the connection."
    )]
    Timeout {
        host: String,
        port: u16,
        step: &'static str,
        seconds: u64,
    },

    #[error("SSH with bastion {host}:{port} failed: {reason}.")]
    Ssh {
        host: String,
        port: u16,
        reason: String,
    },

    #[error(
        "Refusing to listen on {addr}: the SOCKS port must be on loopback (127.0.0.1 or ::1) so that no one else can use the tunnel."
    )]
    NotLoopback { addr: SocketAddr },

    #[error(
        "Port {} on {} is already in use{}. Close that program, or pick another port for this tunnel.",
        addr.port(), addr.ip(), holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default()
    )]
    PortInUse {
        addr: SocketAddr,
        /// The process holding it, where the OS says.
        holder: Option<String>,
    },

    #[error("Could not listen on {addr}: {source}.")]
    Listen {
        addr: SocketAddr,
        source: std::sync::Arc<std::io::Error>,
    },

    #[error("Tunnel {id} is already open or opening; disconnect it first.")]
    AlreadyOpen { id: String },

    #[error("There is no tunnel {id}.")]
    NoSuchTunnel { id: String },

    #[error("Tunnel {id} was closed while it was connecting.")]
    Cancelled { id: String },

    #[error("The tunnel manager has stopped; restart Airgate.")]
    Stopped,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
