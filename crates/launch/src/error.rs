use std::path::PathBuf;

use crate::open::OpenStep;

/// Everything that can stop an Open; each message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{name} is {status}: MWAA serves its Airflow UI only while it is AVAILABLE. Open it once its status is AVAILABLE."
    )]
    NotAvailable { name: String, status: String },

    #[error("{name} has no web server yet ({status}).")]
    NoWebserver { name: String, status: String },

    #[error(
        "{name} is private: its web server is only reachable inside its VPC. Pick a saved bastion in that VPC (or add one), then Open again."
    )]
    NeedsBastion { name: String },

    #[error("{0}")]
    Tunnel(#[from] airgate_tunnel::Error),

    #[error("The tunnel of {name} stopped before it was up: {reason}")]
    TunnelStopped { name: String, reason: String },

    #[error("The bastion cannot reach {name} at {host}:{port} ({reason}): allow the bastion's security group in {groups} on {port}.", groups = group_list(.security_groups))]
    Route {
        name: String,
        host: String,
        port: u16,
        reason: String,
        security_groups: Vec<String>,
    },

    #[error("{0}")]
    Token(#[from] airgate_discovery::TokenError),

    #[error(
        "No browser found: install Chrome, Chromium, Edge, Brave or Firefox, or name one (a path) in Settings."
    )]
    NoBrowser,

    #[error("No browser called \"{name}\" here (found: {}). Pick one of those, or give the path of its program.", if detected.is_empty() { "none".to_owned() } else { detected.join(", ") })]
    UnknownBrowser { name: String, detected: Vec<String> },

    #[error("No browser at {}: check the path in Settings.", path.display())]
    BrowserMissing { path: PathBuf },

    #[error(
        "The Airgate window exists in the desktop app only: name a browser here (--browser, or AIRGATE_BROWSER)."
    )]
    InAppOnly,

    #[error("The Airgate window could not open the environment: {0}")]
    Window(String),

    #[error("Could not start {browser} ({}): {source}.", path.display())]
    Launch {
        browser: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("Cannot prepare the browser profile {}: {source}. Check the data directory's permissions.", path.display())]
    Profile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{browser} did not open the login URL within {secs} s. Close its window for this environment and Open again{}.", if log.is_empty() { String::new() } else { format!(" (it said: {log})") })]
    BrowserSilent {
        browser: String,
        secs: u64,
        log: String,
    },

    #[error("{browser} ended ({status}) before opening the login URL{}.", if log.is_empty() { String::new() } else { format!(": {log}") })]
    BrowserEnded {
        browser: String,
        status: String,
        log: String,
    },

    #[error("Cannot hand the login URL to the browser: {0}.")]
    Handoff(#[source] std::io::Error),

    #[error(
        "Port {port} cannot be this tunnel's: {reason}. Pick a port from 1024 to 65535 that nothing else uses."
    )]
    PortRefused { port: u16, reason: String },

    #[error("{0}")]
    Vault(#[from] airgate_vault::Error),

    #[error("{0}.")]
    Connection(crate::airflow_conn::ConnError),

    #[error(
        "There is no stored Airflow connection {conn_id:?}. List them with `airgate conns list`."
    )]
    NoSuchConnection { conn_id: String },

    #[error("{0}")]
    Secrets(#[from] airgate_discovery::SecretsError),

    #[error("No saved bastion is named {name:?}. Add it under Bastions, or pick another one.")]
    NoSuchBastion { name: String },

    #[error(
        "Bastion {bastion:?} logs in with the stored key {key:?}, which was deleted. Edit the bastion and pick another key."
    )]
    StoredKeyMissing { bastion: String, key: String },

    #[error(
        "Bastion {bastion:?} logs in with the SSH agent, and none is running (SSH_AUTH_SOCK is not set). Start ssh-agent and add your key with ssh-add, or pick a stored key."
    )]
    NoAgent { bastion: String },

    #[error("The jump hosts go round in a circle ({}). Edit the bastions so that each hop leads on.", chain.join(" → "))]
    JumpLoop { chain: Vec<String> },

    #[error(
        "Bastion {bastion:?} jumps through {hop:?}, which has jump hosts of its own. List every hop on {bastion:?} instead, in order."
    )]
    NestedJump { bastion: String, hop: String },

    #[error("Cannot read the ssh config file {}: {reason}. Fix that line, then read it again.", path.display())]
    SshConfig { path: PathBuf, reason: String },

    #[error("Cannot read the key file {}: {source}. Check the path and that you may read it.", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("The settings file {} cannot be read ({reason}); it was left as it is. Fix or remove it.", path.display())]
    SettingsUnreadable { path: PathBuf, reason: String },

    #[error("Cannot save the settings to {}: {source}.", path.display())]
    SettingsWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn group_list(groups: &[String]) -> String {
    match groups {
        [] => "the environment's security group".to_owned(),
        [one] => format!("{one} (the environment's)"),
        many => format!("one of {} (the environment's)", many.join(", ")),
    }
}

impl Error {
    /// The step of Open this error stops.
    pub fn step(&self) -> OpenStep {
        match self {
            Error::NotAvailable { .. }
            | Error::NoWebserver { .. }
            | Error::NeedsBastion { .. }
            | Error::Tunnel(_)
            | Error::TunnelStopped { .. }
            | Error::Route { .. }
            | Error::PortRefused { .. }
            | Error::Vault(_)
            | Error::NoSuchBastion { .. }
            | Error::StoredKeyMissing { .. }
            | Error::NoAgent { .. }
            | Error::JumpLoop { .. }
            | Error::NestedJump { .. }
            | Error::KeyFile { .. }
            | Error::SshConfig { .. }
            | Error::Connection(_)
            | Error::NoSuchConnection { .. }
            | Error::Secrets(_) => OpenStep::Route,
            Error::Token(_) => OpenStep::Token,
            Error::NoBrowser
            | Error::UnknownBrowser { .. }
            | Error::BrowserMissing { .. }
            | Error::InAppOnly
            | Error::Window(_)
            | Error::Launch { .. }
            | Error::Profile { .. }
            | Error::Handoff(_)
            | Error::BrowserSilent { .. }
            | Error::BrowserEnded { .. }
            | Error::SettingsUnreadable { .. }
            | Error::SettingsWrite { .. } => OpenStep::Browser,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
