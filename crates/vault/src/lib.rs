//! Secrets in the OS keyring (macOS Keychain, Windows Credential Manager, Secret Service) and
//! the records that name them.
//!
//! # Where things live
//! Everything is kept in the keyring, never in plain files. One namespace (see [`namespace`])
//! is the keyring's *service*; inside it:
//! - account `records`: one versioned JSON document,
//!   `{"version": 2, "bastions": [...], "selfHosted": [...]}`, holding every saved
//!   [`BastionRecord`] and [`SelfHostedRecord`] (no secret in either); version 1 (bastions only)
//!   is read too, and written back as version 2;
//! - account `secret:<key>`: one secret each (SSH private keys, passphrases).
//!
//! A value larger than the platform allows in one entry (Windows: 2,560 bytes, so a 4096-bit
//! RSA key does not fit) is stored in parts, in the accounts `part:<generation>:<index>:<account>`;
//! the split is invisible to callers.
//!
//! # Rules
//! - No entry is `Ok(empty)` / `Ok(None)`, never an error.
//! - A records document this version cannot read is kept as it is: reads report
//!   [`Error::Corrupt`] (or [`Error::UnsupportedVersion`]) naming the entry, and writes are
//!   refused so that nothing is lost.
//! - Writes of one [`Vault`] (and its clones) are serialized; two processes writing records at
//!   the same moment may lose one of the two updates.
//! - Calls block on the keyring (D-Bus, Keychain, Credential Manager), and may wait for an
//!   unlock prompt: call them from a blocking thread in async code.
//! - Secret values are never logged, never part of an error, never `Serialize`d.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use keyring_core::CredentialStore;
use serde::{Deserialize, Serialize};

mod entries;
mod error;
mod namespace;
mod platform;
mod self_hosted;
mod sensitive;

pub use error::{Error, Result};
pub use namespace::namespace;
pub use self_hosted::{AirflowMajor, BaseUrl, SelfHostedRecord};
pub use sensitive::Sensitive;

use entries::Entries;

/// The records document format this version reads and writes.
pub const RECORDS_VERSION: u64 = 2;
const RECORDS_ACCOUNT: &str = "records";
const SECRET_PREFIX: &str = "secret:";
const MAX_KEY_LEN: usize = 128;

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

impl BastionRecord {
    /// Checks what a bastion needs before it is saved: a name, a host, a user and a port.
    pub fn validate(&self) -> Result<()> {
        let invalid = |problem: String| Err(Error::InvalidBastion { problem });
        let name = &self.name;
        if name.trim().is_empty() {
            return invalid("its name is empty: give the bastion a name".to_owned());
        }
        if name.chars().any(char::is_control) {
            return invalid(format!("its name {name:?} contains control characters"));
        }
        if self.host.trim().is_empty() {
            return invalid(format!(
                "bastion {name:?} has no host: enter its host name or address"
            ));
        }
        if self
            .host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return invalid(format!(
                "the host {:?} of bastion {name:?} contains spaces: enter a host name or address",
                self.host
            ));
        }
        if self.user.trim().is_empty() {
            return invalid(format!(
                "bastion {name:?} has no user: enter the SSH user name"
            ));
        }
        if self.port == 0 {
            return invalid(format!(
                "bastion {name:?} has port 0: use a port between 1 and 65535 (SSH usually listens \
                 on 22)"
            ));
        }
        Ok(())
    }
}

/// The records document stored under the account `records`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Records {
    version: u64,
    #[serde(default)]
    bastions: Vec<BastionRecord>,
    /// Since version 2.
    #[serde(default)]
    self_hosted: Vec<SelfHostedRecord>,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}

/// Records and secrets of one namespace in one keyring store.
#[derive(Debug, Clone)]
pub struct Vault {
    entries: Entries,
    writes: Arc<Mutex<()>>,
}

impl Vault {
    /// The OS keyring of this platform; a clear error when none is available.
    pub fn open(namespace: &str) -> Result<Self> {
        let store = platform::open_store()?;
        tracing::info!(store = %store.vendor(), namespace, "opened the keyring");
        Ok(Self::with_store(store, namespace))
    }

    /// A vault over any keyring store, e.g. `keyring_core::mock::Store` in tests.
    pub fn with_store(store: Arc<CredentialStore>, namespace: &str) -> Self {
        Self {
            entries: Entries::new(store, namespace, platform::MAX_ENTRY_LEN),
            writes: Arc::new(Mutex::new(())),
        }
    }

    /// Stores values longer than `max_len` bytes in parts (the platform default is only needed
    /// on Windows: 2,560 bytes); `None` stores every value in one entry.
    pub fn with_max_entry_len(mut self, max_len: Option<usize>) -> Self {
        self.entries.set_max_len(max_len);
        self
    }

    pub fn namespace(&self) -> &str {
        self.entries.namespace()
    }

    pub fn bastions(&self) -> Result<Vec<BastionRecord>> {
        Ok(self.load_records()?.bastions)
    }

    /// Saves `record`, replacing the one with the same name.
    pub fn save_bastion(&self, record: &BastionRecord) -> Result<()> {
        record.validate()?;
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut records = self.load_records()?;
        match records
            .bastions
            .iter_mut()
            .find(|saved| saved.name == record.name)
        {
            Some(saved) => *saved = record.clone(),
            None => records.bastions.push(record.clone()),
        }
        self.store_records(&records)?;
        tracing::info!(namespace = self.namespace(), bastion = %record.name, "saved a bastion");
        Ok(())
    }

    /// Removes the bastion `name`; `false` when there was none.
    pub fn delete_bastion(&self, name: &str) -> Result<bool> {
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut records = self.load_records()?;
        let before = records.bastions.len();
        records.bastions.retain(|saved| saved.name != name);
        if records.bastions.len() == before {
            return Ok(false);
        }
        self.store_records(&records)?;
        tracing::info!(namespace = self.namespace(), bastion = %name, "deleted a bastion");
        Ok(true)
    }

    /// The self-hosted Airflow web servers added by hand.
    pub fn self_hosted(&self) -> Result<Vec<SelfHostedRecord>> {
        Ok(self.load_records()?.self_hosted)
    }

    /// Saves `record`, replacing the one with the same name.
    pub fn save_self_hosted(&self, record: &SelfHostedRecord) -> Result<()> {
        record.validate()?;
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut records = self.load_records()?;
        match records
            .self_hosted
            .iter_mut()
            .find(|saved| saved.name == record.name)
        {
            Some(saved) => *saved = record.clone(),
            None => records.self_hosted.push(record.clone()),
        }
        self.store_records(&records)?;
        tracing::info!(namespace = self.namespace(), airflow = %record.name, "saved a self-hosted Airflow");
        Ok(())
    }

    /// Removes the self-hosted Airflow `name`; `false` when there was none.
    pub fn delete_self_hosted(&self, name: &str) -> Result<bool> {
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut records = self.load_records()?;
        let before = records.self_hosted.len();
        records.self_hosted.retain(|saved| saved.name != name);
        if records.self_hosted.len() == before {
            return Ok(false);
        }
        self.store_records(&records)?;
        tracing::info!(namespace = self.namespace(), airflow = %name, "deleted a self-hosted Airflow");
        Ok(true)
    }

    /// Stores the secret `key` (e.g. `ssh-key/prod-bastion`), replacing any previous value.
    pub fn set_secret(&self, key: &str, value: Sensitive<String>) -> Result<()> {
        let account = secret_account(key)?;
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        self.entries.write(&account, value.expose().as_bytes())?;
        tracing::info!(namespace = self.namespace(), key, "stored a secret");
        Ok(())
    }

    /// The secret `key`; `None` when there is none.
    pub fn secret(&self, key: &str) -> Result<Option<Sensitive<String>>> {
        let account = secret_account(key)?;
        let Some(bytes) = self.entries.read(&account)? else {
            return Ok(None);
        };
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Some(Sensitive::new(text))),
            Err(_) => Err(Error::NotText {
                key: key.to_owned(),
            }),
        }
    }

    /// Deletes the secret `key`; `false` when there was none.
    pub fn delete_secret(&self, key: &str) -> Result<bool> {
        let account = secret_account(key)?;
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let existed = self.entries.delete(&account)?;
        tracing::info!(
            namespace = self.namespace(),
            key,
            existed,
            "deleted a secret"
        );
        Ok(existed)
    }

    fn load_records(&self) -> Result<Records> {
        let Some(bytes) = self.entries.read(RECORDS_ACCOUNT)? else {
            return Ok(Records {
                version: RECORDS_VERSION,
                bastions: Vec::new(),
                self_hosted: Vec::new(),
            });
        };
        let entry = || self.entries.describe(RECORDS_ACCOUNT);
        let corrupt = |reason: String| Error::Corrupt {
            entry: entry(),
            reason,
        };
        let version = serde_json::from_slice::<VersionOnly>(&bytes)
            .map_err(|err| corrupt(format!("it is not a records document ({err})")))?
            .version;
        if version > RECORDS_VERSION {
            return Err(Error::UnsupportedVersion {
                entry: entry(),
                found: version,
                supported: RECORDS_VERSION,
            });
        }
        if version == 0 {
            return Err(corrupt("its format version 0 does not exist".to_owned()));
        }
        let records: Records = serde_json::from_slice(&bytes).map_err(|err| {
            corrupt(format!(
                "its records do not match version {version} ({err})"
            ))
        })?;
        tracing::debug!(
            namespace = self.namespace(),
            bastions = records.bastions.len(),
            self_hosted = records.self_hosted.len(),
            "read the records"
        );
        Ok(records)
    }

    fn store_records(&self, records: &Records) -> Result<()> {
        let document = Records {
            version: RECORDS_VERSION,
            bastions: records.bastions.clone(),
            self_hosted: records.self_hosted.clone(),
        };
        let bytes = serde_json::to_vec(&document).map_err(|source| Error::Encode {
            entry: self.entries.describe(RECORDS_ACCOUNT),
            source,
        })?;
        self.entries.write(RECORDS_ACCOUNT, &bytes)
    }
}

fn secret_account(key: &str) -> Result<String> {
    let invalid = |problem: &str| {
        Err(Error::InvalidKey {
            key: key.to_owned(),
            problem: problem.to_owned(),
        })
    };
    if key.is_empty() {
        return invalid("it is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return invalid("it is longer than 128 bytes");
    }
    if key.chars().any(char::is_control) {
        return invalid("it contains control characters");
    }
    Ok(format!("{SECRET_PREFIX}{key}"))
}

#[cfg(test)]
mod tests;
