//! SSH private keys kept in the keyring: what the list shows of each (no secret), and the
//! names of the secrets that hold the key's text and, when remembered, its passphrase.

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Sensitive};

/// A stored SSH key as lists show it: nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub name: String,
    /// e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// `SHA256:...`.
    pub fingerprint: String,
    /// The public half as an `authorized_keys` line.
    pub public_key: String,
    pub comment: String,
    /// Whether the key is passphrase protected.
    pub encrypted: bool,
    /// Whether its passphrase is kept in the keyring too (else it is asked for when needed).
    pub passphrase_saved: bool,
}

/// A stored key's secrets, as a connect needs them.
#[derive(Debug)]
pub struct KeySecret {
    /// The key's text as imported (OpenSSH or PEM, encrypted or not).
    pub text: Sensitive<String>,
    /// Its passphrase, when remembered.
    pub passphrase: Option<Sensitive<String>>,
}

/// The secret holding the text of key `name`.
pub(crate) fn text_secret(name: &str) -> String {
    format!("ssh-key/{name}")
}

/// The secret holding the passphrase of key `name`.
pub(crate) fn passphrase_secret(name: &str) -> String {
    format!("ssh-key-passphrase/{name}")
}

/// A key's name as typed, trimmed; refused when empty, too long or with control characters.
pub fn key_name(name: &str) -> Result<String> {
    let name = name.trim();
    let invalid = |problem: String| Err(Error::InvalidKeyName { problem });
    if name.is_empty() {
        return invalid("it is empty: give the key a name".to_owned());
    }
    if name.chars().any(char::is_control) {
        return invalid(format!("{name:?} contains control characters"));
    }
    if name.len() > 64 {
        return invalid(format!("{name:?} is longer than 64 bytes"));
    }
    Ok(name.to_owned())
}
