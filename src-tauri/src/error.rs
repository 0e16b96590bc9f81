//! Errors of the desktop shell, and the `{ code, message }` shape the UI receives.

use serde::Serialize;

/// Everything a command can fail with. Each message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OS keyring could not be opened or used.
    #[error("{0}")]
    Vault(#[from] airgate_vault::Error),

    /// A tunnel could not be opened or closed; the core's message, verbatim.
    #[error("{0}")]
    Tunnel(#[from] airgate_tunnel::Error),

    /// Open could not finish; the message names the step and what to do.
    #[error("{0}")]
    Open(#[from] airgate_launch::Error),

    /// An IAM Identity Center sign-in did not finish; the message says why and what to do.
    #[error("{0}")]
    Sso(#[from] airgate_discovery::SsoError),

    /// An MFA code did not get the role's credentials; the message says why.
    #[error("{0}")]
    Mfa(#[from] airgate_discovery::MfaError),

    #[error("Airgate no longer lists {0}. Refresh the list of environments, then try again.")]
    EnvironmentNotFound(String),

    /// The user's browser could not be started for a page (the AWS console).
    #[error("Cannot open {url} in your browser ({cause}). Copy the address and open it yourself.")]
    Browser { url: String, cause: String },

    #[error("No saved bastion is named \"{0}\". Add it first, or pick another one.")]
    BastionNotFound(String),

    #[error("{0}")]
    InvalidInput(String),

    /// A core task stopped without an answer (a bug): the UI must not wait forever.
    #[error(
        "{what} stopped unexpectedly ({cause}). Try again; if it keeps happening, restart Airgate."
    )]
    Internal { what: &'static str, cause: String },

    #[error(
        "Cannot use the data directory {path}: {source}. Check its permissions or set AIRGATE_DATA_DIR."
    )]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the UI can branch on. A code exists only when the UI treats it differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// The keyring is missing or locked: saved bastions are unavailable.
    Keyring,
    /// The tunnel failed: shown in the environment's row.
    Tunnel,
    /// The request was wrong (unknown bastion, bad field): shown next to the form.
    InvalidInput,
    /// Open stopped at a step: shown in the environment's step list.
    Open,
    /// Anything else: shown as a banner.
    Internal,
}

/// An error as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
    /// The bastion presented a host key no known_hosts file knows: the window asks whether to
    /// trust it (once, or always), then tries again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_host_key: Option<UnknownHostKey>,
    /// Set when a stored key needs its passphrase (or was given a wrong one): the window asks
    /// for it, then retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_passphrase: Option<KeyPassphrase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyPassphrase {
    /// The stored key's name.
    pub key: String,
    /// Whether the passphrase given was wrong (else none was known).
    pub wrong: bool,
}

impl KeyPassphrase {
    fn of(err: &Error) -> Option<Self> {
        match tunnel_error(err)? {
            airgate_tunnel::Error::KeyPassphraseNeeded {
                stored: Some(key), ..
            } => Some(Self {
                key: key.clone(),
                wrong: false,
            }),
            airgate_tunnel::Error::KeyPassphraseWrong {
                stored: Some(key), ..
            } => Some(Self {
                key: key.clone(),
                wrong: true,
            }),
            _ => None,
        }
    }
}

/// A host key to ask about (all of it public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UnknownHostKey {
    pub host: String,
    pub port: u16,
    pub key_type: String,
    /// `SHA256:...`, as `ssh` shows it.
    pub fingerprint: String,
    /// OpenSSH `type base64`, written to Airgate's known_hosts when trusted always.
    pub public_key: String,
}

/// The tunnel's error inside `err`, if it is one.
fn tunnel_error(err: &Error) -> Option<&airgate_tunnel::Error> {
    match err {
        Error::Tunnel(e) | Error::Open(airgate_launch::Error::Tunnel(e)) => Some(e),
        _ => None,
    }
}

impl UnknownHostKey {
    fn of(err: &Error) -> Option<Self> {
        match tunnel_error(err)? {
            airgate_tunnel::Error::UnknownHostKey {
                host,
                port,
                key_type,
                fingerprint,
                public_key,
            } => Some(Self {
                host: host.clone(),
                port: *port,
                key_type: key_type.clone(),
                fingerprint: fingerprint.clone(),
                public_key: public_key.clone(),
            }),
            _ => None,
        }
    }
}

impl From<Error> for IpcError {
    fn from(err: Error) -> Self {
        use airgate_launch::Error as Launch;
        use airgate_vault::Error as Vault;
        let code = match &err {
            // What the user typed or picked: the form says what to fix.
            Error::Vault(
                Vault::InvalidBastion { .. }
                | Vault::InvalidSelfHosted { .. }
                | Vault::InvalidKeyName { .. }
                | Vault::NoSuchKey { .. }
                | Vault::KeyExists { .. },
            )
            | Error::Open(
                Launch::NoSuchBastion { .. }
                | Launch::KeyFile { .. }
                | Launch::Tunnel(
                    airgate_tunnel::Error::KeyPassphraseNeeded { .. }
                    | airgate_tunnel::Error::KeyPassphraseWrong { .. }
                    | airgate_tunnel::Error::KeyIsPublic { .. }
                    | airgate_tunnel::Error::KeyUnreadable { .. },
                )
                | Launch::Vault(
                    Vault::InvalidKeyName { .. }
                    | Vault::NoSuchKey { .. }
                    | Vault::KeyExists { .. },
                ),
            ) => ErrorCode::InvalidInput,
            Error::Open(Launch::Vault(_)) => ErrorCode::Keyring,
            Error::Vault(_) => ErrorCode::Keyring,
            Error::Tunnel(_) => ErrorCode::Tunnel,
            Error::BastionNotFound(_) | Error::InvalidInput(_) => ErrorCode::InvalidInput,
            Error::Open(_) | Error::EnvironmentNotFound(_) => ErrorCode::Open,
            Error::Internal { .. } | Error::DataDir { .. } | Error::Sso(_) => ErrorCode::Internal,
            Error::Browser { .. } => ErrorCode::Internal,
            // A wrong or short code: said next to the code field.
            Error::Mfa(_) => ErrorCode::InvalidInput,
        };
        Self {
            code,
            unknown_host_key: UnknownHostKey::of(&err),
            key_passphrase: KeyPassphrase::of(&err),
            message: err.to_string(),
        }
    }
}

/// What commands return.
pub type CmdResult<T> = std::result::Result<T, IpcError>;

/// Turns a panic or cancellation of a spawned core task into an error the UI can show.
pub(crate) fn join_error(what: &'static str, err: tauri::Error) -> Error {
    Error::Internal {
        what,
        cause: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_receives_code_and_message() {
        let err = IpcError::from(Error::BastionNotFound("jump".into()));
        let json = serde_json::to_value(&err).expect("IpcError serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "code": "invalidInput",
                "message": "No saved bastion is named \"jump\". Add it first, or pick another one."
            })
        );
    }
}
