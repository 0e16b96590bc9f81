//! Secrets in the OS keyring (macOS Keychain, Windows Credential Manager, Secret Service) and
//! the records that name them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod error;
pub use error::{Error, Result};

/// A saved bastion: how to reach it and which key to log in with. Holds no secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct BastionRecord {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key_path: PathBuf,
}

/// The keyring namespace for an app identifier; a custom data directory gets its own namespace so
/// a sandbox never mixes with real records.
pub fn namespace(_identifier: &str, _custom_data_dir: Option<&std::path::Path>) -> String {
    unimplemented!("namespace")
}

/// Records and secrets of one namespace in one keyring store.
#[derive(Debug, Clone)]
pub struct Vault {}

impl Vault {
    /// The OS keyring of this platform; a clear error when none is available.
    pub fn open(_namespace: &str) -> Result<Self> {
        unimplemented!("open")
    }

    pub fn bastions(&self) -> Result<Vec<BastionRecord>> {
        unimplemented!("bastions")
    }

    /// Saves `record`, replacing the one with the same name.
    pub fn save_bastion(&self, _record: &BastionRecord) -> Result<()> {
        unimplemented!("save_bastion")
    }

    /// Removes the bastion `name`; `false` when there was none.
    pub fn delete_bastion(&self, _name: &str) -> Result<bool> {
        unimplemented!("delete_bastion")
    }
}
