//! Secrets in the OS keyring (macOS Keychain, Windows Credential Manager, Secret Service) and
//! the records that name them.
//!
//! # Where things live
//! Everything is kept in the keyring, never in plain files. One namespace (see [`namespace`])
//! is the keyring's *service*; inside it:
//! - account `records`: one versioned JSON document,
//!   `{"version": 3, "bastions": [...], "selfHosted": [...], "keys": [...]}`, holding every
//!   saved [`BastionRecord`], [`SelfHostedRecord`] and [`KeyRecord`] (no secret in any);
//!   versions 1 (bastions with a key file only) and 2 (plus self-hosted) are read too, and
//!   written back as version 3;
//! - account `secret:<key>`: one secret each: `ssh-key/<name>` the text of a stored SSH key,
//!   `ssh-key-passphrase/<name>` its passphrase when the user asked to remember it.
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
//! - Writes of one [`Vault`] (and its clones) are serialized; with
//!   [`Vault::with_lock_file`], so are writes of every process using the same lock file (the
//!   app and the CLI), and no update is lost.
//! - Calls block on the keyring (D-Bus, Keychain, Credential Manager), and may wait for an
//!   unlock prompt: call them from a blocking thread in async code.
//! - Secret values are never logged, never part of an error, never `Serialize`d.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use keyring_core::CredentialStore;
use serde::{Deserialize, Serialize};

mod connections;
mod entries;
mod error;
mod keys;
mod namespace;
mod platform;
mod self_hosted;
mod sensitive;

pub use connections::{ConnectionRecord, ConnectionSecrets, TokenRecord, conn_id};

pub use error::{Error, Result};
pub use keys::{KeyRecord, KeySecret, key_name};
pub use namespace::namespace;
pub use self_hosted::{AirflowMajor, BaseUrl, SelfHostedRecord};
pub use sensitive::Sensitive;

use entries::Entries;

/// The records document format this version reads and writes.
pub const RECORDS_VERSION: u64 = 3;
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
    pub key: BastionKey,
    /// Saved bastions to go through first, in order (`ssh -J`), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jump: Vec<String>,
    /// The SHA256 fingerprint (`SHA256:...`) of the only host key this bastion may present;
    /// known_hosts is then not consulted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    /// Which environments it serves: Open and Connect preselect it for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serves: Vec<ServeRule>,
    /// Seconds between keepalives (`ServerAliveInterval`; `None`: 15). Three unanswered in a
    /// row mean the bastion is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_secs: Option<u32>,
}

/// The keepalive intervals a bastion may have, in seconds.
pub const KEEPALIVE_SECS: std::ops::RangeInclusive<u32> = 5..=3600;

/// Environments a bastion serves: one environment, or every environment of an account and/or
/// region. A rule matches when every field it has matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ServeRule {
    /// One environment: `profile/region/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// An AWS account id (12 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// An AWS region (`eu-west-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl ServeRule {
    /// How well the rule names the environment `id` (`profile/region/name`) of `account` in
    /// `region`: 2 for the environment itself, 1 for its account and/or region, else 0.
    pub fn matches(&self, id: &str, account: Option<&str>, region: &str) -> u8 {
        if let Some(environment) = &self.environment {
            return if environment == id { 2 } else { 0 };
        }
        let account_ok = self.account.as_deref().is_none_or(|a| Some(a) == account);
        let region_ok = self.region.as_deref().is_none_or(|r| r == region);
        let names_something = self.account.is_some() || self.region.is_some();
        u8::from(names_something && account_ok && region_ok)
    }
}

/// The private key a bastion logs in with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum BastionKey {
    /// A key kept in the keyring, by name.
    Stored { name: String },
    /// A private key file on this machine.
    File { path: PathBuf },
    /// The keys the user's SSH agent holds (`SSH_AUTH_SOCK`; OpenSSH's agent on Windows).
    Agent,
}

impl BastionRecord {
    /// The record as a user meant it: names, host and user trimmed.
    pub fn trimmed(mut self) -> Self {
        self.name = self.name.trim().to_owned();
        self.host = self.host.trim().to_owned();
        self.user = self.user.trim().to_owned();
        if let BastionKey::Stored { name } = &mut self.key {
            *name = name.trim().to_owned();
        }
        self.jump = self.jump.iter().map(|j| j.trim().to_owned()).collect();
        self.host_key = self
            .host_key
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        self
    }

    /// Checks what a bastion needs before it is saved: a name, a host, a user, a port and a
    /// key that exists.
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
        if let Some(secs) = self.keepalive_secs
            && !KEEPALIVE_SECS.contains(&secs)
        {
            return invalid(format!(
                "the keepalive of bastion {name:?} is {secs} s: use {} to {} s",
                KEEPALIVE_SECS.start(),
                KEEPALIVE_SECS.end()
            ));
        }
        if self.port == 0 {
            return invalid(format!(
                "bastion {name:?} has port 0: use a port between 1 and 65535 (SSH usually listens \
                 on 22)"
            ));
        }
        match &self.key {
            BastionKey::File { path } if !path.is_file() => invalid(format!(
                "there is no key file at {}: give the path of the private key you log in with, \
                 or import it under Keys",
                path.display()
            )),
            BastionKey::Stored { name: key } if key.is_empty() => {
                invalid(format!("bastion {name:?} has no key: pick one"))
            }
            _ if self.jump.iter().any(|j| j == name) => {
                invalid(format!("bastion {name:?} cannot jump through itself"))
            }
            _ if self
                .serves
                .iter()
                .any(|r| r.environment.is_none() && r.account.is_none() && r.region.is_none()) =>
            {
                invalid(format!(
                    "a rule of bastion {name:?} names no environment, account or region"
                ))
            }
            _ if self.serves.iter().any(|r| {
                r.account
                    .as_deref()
                    .is_some_and(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
            }) =>
            {
                invalid(format!(
                    "bastion {name:?} serves an account that is not 12 digits"
                ))
            }
            _ if self.host_key.as_deref().is_some_and(|k| !is_fingerprint(k)) => invalid(format!(
                "the pinned host key of bastion {name:?} is not a SHA256 fingerprint: give it as \
                 `ssh-keygen -lf` prints it, SHA256: and 43 characters"
            )),
            _ => Ok(()),
        }
    }
}

/// `SHA256:` and 43 unpadded base64 characters.
fn is_fingerprint(value: &str) -> bool {
    value.strip_prefix("SHA256:").is_some_and(|b64| {
        b64.len() == 43
            && b64
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    })
}

/// A bastion as format versions 1 and 2 wrote it: a key file only.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyBastion {
    name: String,
    host: String,
    port: u16,
    user: String,
    key_path: PathBuf,
}

impl From<LegacyBastion> for BastionRecord {
    fn from(old: LegacyBastion) -> Self {
        BastionRecord {
            keepalive_secs: None,
            name: old.name,
            host: old.host,
            port: old.port,
            user: old.user,
            key: BastionKey::File { path: old.key_path },
            jump: Vec::new(),
            host_key: None,
            serves: Vec::new(),
        }
    }
}

/// Records of format versions 1 and 2.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyRecords {
    #[serde(default)]
    bastions: Vec<LegacyBastion>,
    #[serde(default)]
    self_hosted: Vec<SelfHostedRecord>,
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
    /// Since version 3.
    #[serde(default)]
    keys: Vec<KeyRecord>,
    /// Since version 3.
    #[serde(default)]
    connections: Vec<ConnectionRecord>,
    /// Since version 3.
    #[serde(default)]
    tokens: Vec<TokenRecord>,
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
    /// A file other processes lock too (the app and the CLI), so that writes from two
    /// processes are one after the other and none is lost.
    lock_file: Option<PathBuf>,
}

/// Held while writing: this process's other writers and, with a lock file, other processes
/// wait.
struct Writing<'a> {
    _here: std::sync::MutexGuard<'a, ()>,
    _file: Option<std::fs::File>,
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
            lock_file: None,
        }
    }

    /// Serializes writes with every process that uses the same `path` (e.g. the app's and the
    /// CLI's data directory's `vault.lock`): a read-modify-write of the records is never
    /// interleaved with another one, so no update is lost.
    pub fn with_lock_file(mut self, path: PathBuf) -> Self {
        self.lock_file = Some(path);
        self
    }

    fn writing(&self) -> Result<Writing<'_>> {
        let here = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let file = match &self.lock_file {
            None => None,
            Some(path) => {
                let failed = |source: std::io::Error| Error::LockFile {
                    path: path.clone(),
                    source,
                };
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(failed)?;
                }
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(path)
                    .map_err(failed)?;
                file.lock().map_err(failed)?;
                Some(file)
            }
        };
        Ok(Writing {
            _here: here,
            _file: file,
        })
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
        let _writing = self.writing()?;
        let mut records = self.load_records()?;
        if let BastionKey::Stored { name } = &record.key
            && !records.keys.iter().any(|k| &k.name == name)
        {
            return Err(Error::NoSuchKey { name: name.clone() });
        }
        if let Some(missing) = record
            .jump
            .iter()
            .find(|j| !records.bastions.iter().any(|b| &b.name == *j))
        {
            return Err(Error::InvalidBastion {
                problem: format!("its jump host {missing:?} is not a saved bastion"),
            });
        }
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

    /// Saves `record` in place of the bastion `old` (an edit that may rename it): what used
    /// `old` (self-hosted routes, jump hosts) then uses the new name.
    pub fn replace_bastion(&self, record: &BastionRecord, old: &str) -> Result<()> {
        self.save_bastion(record)?;
        if old != record.name {
            self.rename_bastion_users(old, &record.name)?;
            self.delete_bastion(old)?;
        }
        Ok(())
    }

    /// Removes the bastion `name`; `false` when there was none.
    pub fn delete_bastion(&self, name: &str) -> Result<bool> {
        let _writing = self.writing()?;
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

    /// What uses the bastion `name`: the self-hosted Airflow web servers routed through it and
    /// the bastions that jump through it, by name.
    pub fn bastion_users(&self, name: &str) -> Result<Vec<String>> {
        let records = self.load_records()?;
        let airflows = records
            .self_hosted
            .iter()
            .filter(|r| r.bastion.as_deref() == Some(name))
            .map(|r| r.name.clone());
        let bastions = records
            .bastions
            .iter()
            .filter(|b| b.jump.iter().any(|j| j == name))
            .map(|b| b.name.clone());
        Ok(airflows.chain(bastions).collect())
    }

    /// Points what used the bastion `from` (self-hosted Airflow routes, jump hosts) at `to`.
    pub fn rename_bastion_users(&self, from: &str, to: &str) -> Result<()> {
        let _writing = self.writing()?;
        let mut records = self.load_records()?;
        let mut changed = false;
        for airflow in &mut records.self_hosted {
            if airflow.bastion.as_deref() == Some(from) {
                airflow.bastion = Some(to.to_owned());
                changed = true;
            }
        }
        for bastion in &mut records.bastions {
            for hop in &mut bastion.jump {
                if hop == from {
                    *hop = to.to_owned();
                    changed = true;
                }
            }
        }
        if changed {
            self.store_records(&records)?;
        }
        Ok(())
    }

    /// The self-hosted Airflow web servers added by hand.
    pub fn self_hosted(&self) -> Result<Vec<SelfHostedRecord>> {
        Ok(self.load_records()?.self_hosted)
    }

    /// Saves `record`, replacing the one with the same name.
    pub fn save_self_hosted(&self, record: &SelfHostedRecord) -> Result<()> {
        record.validate()?;
        let _writing = self.writing()?;
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
        let _writing = self.writing()?;
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
        let _writing = self.writing()?;
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
        let _writing = self.writing()?;
        let existed = self.entries.delete(&account)?;
        tracing::info!(
            namespace = self.namespace(),
            key,
            existed,
            "deleted a secret"
        );
        Ok(existed)
    }

    /// The stored SSH keys.
    pub fn keys(&self) -> Result<Vec<KeyRecord>> {
        Ok(self.load_records()?.keys)
    }

    /// Stores the key `record` describes: its `text` and, when given, its `passphrase` in
    /// secrets of their own, then the record (`passphrase_saved` set from `passphrase`). A key
    /// with the same name is replaced.
    pub fn save_key(
        &self,
        record: &KeyRecord,
        text: &Sensitive<String>,
        passphrase: Option<&Sensitive<String>>,
    ) -> Result<KeyRecord> {
        let name = key_name(&record.name)?;
        let record = KeyRecord {
            name: name.clone(),
            passphrase_saved: passphrase.is_some(),
            ..record.clone()
        };
        let _writing = self.writing()?;
        self.entries.write(
            &secret_account(&keys::text_secret(&name))?,
            text.expose().as_bytes(),
        )?;
        self.store_passphrase(&name, passphrase)?;
        let mut records = self.load_records()?;
        match records.keys.iter_mut().find(|k| k.name == name) {
            Some(saved) => *saved = record.clone(),
            None => records.keys.push(record.clone()),
        }
        self.store_records(&records)?;
        tracing::info!(namespace = self.namespace(), key = %name, "stored an SSH key");
        Ok(record)
    }

    /// The text of the stored key `name` and its passphrase when remembered; `None` when no
    /// key has that name.
    pub fn key_secret(&self, name: &str) -> Result<Option<KeySecret>> {
        if !self.load_records()?.keys.iter().any(|k| k.name == name) {
            return Ok(None);
        }
        let Some(text) = self.secret(&keys::text_secret(name))? else {
            return Err(Error::Corrupt {
                entry: self
                    .entries
                    .describe(&secret_account(&keys::text_secret(name))?),
                reason: format!("the key {name:?} is listed but its text is missing"),
            });
        };
        Ok(Some(KeySecret {
            text,
            passphrase: self.secret(&keys::passphrase_secret(name))?,
        }))
    }

    /// Remembers (`Some`) or forgets (`None`) the passphrase of the stored key `name`.
    pub fn set_key_passphrase(
        &self,
        name: &str,
        passphrase: Option<&Sensitive<String>>,
    ) -> Result<KeyRecord> {
        let _writing = self.writing()?;
        let mut records = self.load_records()?;
        let Some(record) = records.keys.iter_mut().find(|k| k.name == name) else {
            return Err(Error::NoSuchKey {
                name: name.to_owned(),
            });
        };
        record.passphrase_saved = passphrase.is_some();
        let record = record.clone();
        self.store_passphrase(name, passphrase)?;
        self.store_records(&records)?;
        Ok(record)
    }

    /// The saved bastions that log in with the stored key `name`.
    pub fn key_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .load_records()?
            .bastions
            .into_iter()
            .filter(|b| matches!(&b.key, BastionKey::Stored { name: k } if k == name))
            .map(|b| b.name)
            .collect())
    }

    /// Renames the stored key `from` to `to`, and the bastions that use it follow.
    pub fn rename_key(&self, from: &str, to: &str) -> Result<KeyRecord> {
        let to = key_name(to)?;
        let _writing = self.writing()?;
        let mut records = self.load_records()?;
        if from != to && records.keys.iter().any(|k| k.name == to) {
            return Err(Error::KeyExists { name: to });
        }
        let Some(record) = records.keys.iter_mut().find(|k| k.name == from) else {
            return Err(Error::NoSuchKey {
                name: from.to_owned(),
            });
        };
        record.name = to.clone();
        let record = record.clone();
        if from == to {
            return Ok(record);
        }
        // Copies first: an interrupted rename leaves the key readable under its old name.
        for secret in [keys::text_secret, keys::passphrase_secret] {
            let (old, new) = (
                secret_account(&secret(from))?,
                secret_account(&secret(&to))?,
            );
            if let Some(bytes) = self.entries.read(&old)? {
                let bytes = Sensitive::new(bytes);
                self.entries.write(&new, bytes.expose())?;
            }
        }
        for bastion in &mut records.bastions {
            if let BastionKey::Stored { name } = &mut bastion.key
                && name == from
            {
                *name = to.clone();
            }
        }
        self.store_records(&records)?;
        for secret in [keys::text_secret, keys::passphrase_secret] {
            self.entries.delete(&secret_account(&secret(from))?)?;
        }
        tracing::info!(namespace = self.namespace(), from, to = %to, "renamed an SSH key");
        Ok(record)
    }

    /// Deletes the stored key `name` (its text and passphrase); `false` when there was none.
    /// Bastions that used it keep its name, and say so when they connect.
    pub fn delete_key(&self, name: &str) -> Result<bool> {
        let _writing = self.writing()?;
        let mut records = self.load_records()?;
        let before = records.keys.len();
        records.keys.retain(|k| k.name != name);
        let existed = records.keys.len() != before;
        if existed {
            self.store_records(&records)?;
        }
        for secret in [keys::text_secret, keys::passphrase_secret] {
            self.entries.delete(&secret_account(&secret(name))?)?;
        }
        tracing::info!(namespace = self.namespace(), key = %name, existed, "deleted an SSH key");
        Ok(existed)
    }

    /// The stored Airflow connections (no password, no extra).
    pub fn connections(&self) -> Result<Vec<ConnectionRecord>> {
        Ok(self.load_records()?.connections)
    }

    /// Stores a connection: `record` as lists show it, `password` and `extra` as one secret. A
    /// connection with the same conn_id is replaced.
    pub fn save_connection(
        &self,
        record: &ConnectionRecord,
        password: Option<&Sensitive<String>>,
        extra: Option<&Sensitive<String>>,
    ) -> Result<ConnectionRecord> {
        let id = conn_id(&record.conn_id)?;
        if record.conn_type.trim().is_empty() {
            return Err(Error::InvalidConnection {
                problem: format!("{id} has no conn_type (e.g. postgres, http, aws)"),
            });
        }
        let record = ConnectionRecord {
            conn_id: id.clone(),
            conn_type: record.conn_type.trim().to_owned(),
            has_password: password.is_some(),
            has_extra: extra.is_some(),
            ..record.clone()
        };
        let secret = connections::ConnectionSecret {
            password: password.map(|p| p.expose().clone()),
            extra: extra.map(|e| e.expose().clone()),
        };
        let bytes =
            Sensitive::new(serde_json::to_vec(&secret).map_err(|source| Error::Encode {
                entry: self.entries.describe(&connections::connection_secret(&id)),
                source,
            })?);
        let _writing = self.writing()?;
        self.entries.write(
            &secret_account(&connections::connection_secret(&id))?,
            bytes.expose(),
        )?;
        let mut records = self.load_records()?;
        match records.connections.iter_mut().find(|c| c.conn_id == id) {
            Some(saved) => *saved = record.clone(),
            None => records.connections.push(record.clone()),
        }
        self.store_records(&records)?;
        tracing::info!(namespace = self.namespace(), conn_id = %id, "stored an Airflow connection");
        Ok(record)
    }

    /// The stored connection `conn_id` (its record) and its password and extra; `None` when
    /// there is none.
    pub fn connection(
        &self,
        conn_id: &str,
    ) -> Result<Option<(ConnectionRecord, ConnectionSecrets)>> {
        let Some(record) = self
            .load_records()?
            .connections
            .into_iter()
            .find(|c| c.conn_id == conn_id)
        else {
            return Ok(None);
        };
        let account = secret_account(&connections::connection_secret(conn_id))?;
        let Some(bytes) = self.entries.read(&account)? else {
            return Ok(Some((record, ConnectionSecrets::default())));
        };
        let bytes = Sensitive::new(bytes);
        let secret: connections::ConnectionSecret = serde_json::from_slice(bytes.expose())
            .map_err(|_| Error::Corrupt {
                entry: self.entries.describe(&account),
                reason: "it is not a connection's password and extra".to_owned(),
            })?;
        let secrets = ConnectionSecrets {
            password: secret.password.map(Sensitive::new),
            extra: secret.extra.map(Sensitive::new),
        };
        Ok(Some((record, secrets)))
    }

    /// Deletes the stored connection `conn_id`; `false` when there was none.
    pub fn delete_connection(&self, conn_id: &str) -> Result<bool> {
        let _writing = self.writing()?;
        let mut records = self.load_records()?;
        let before = records.connections.len();
        records.connections.retain(|c| c.conn_id != conn_id);
        let existed = records.connections.len() != before;
        if existed {
            self.store_records(&records)?;
        }
        self.entries
            .delete(&secret_account(&connections::connection_secret(conn_id))?)?;
        Ok(existed)
    }

    /// The stored tokens (names and notes).
    pub fn tokens(&self) -> Result<Vec<TokenRecord>> {
        Ok(self.load_records()?.tokens)
    }

    /// Stores the token `record.name` with `value`, replacing one of the same name.
    pub fn save_token(&self, record: &TokenRecord, value: &Sensitive<String>) -> Result<()> {
        let name = conn_id(&record.name).map_err(|_| Error::InvalidConnection {
            problem: format!("the token name {:?} is empty or has spaces", record.name),
        })?;
        let record = TokenRecord {
            name: name.clone(),
            note: record.note.trim().to_owned(),
        };
        let _writing = self.writing()?;
        self.entries.write(
            &secret_account(&connections::token_secret(&name))?,
            value.expose().as_bytes(),
        )?;
        let mut records = self.load_records()?;
        match records.tokens.iter_mut().find(|t| t.name == name) {
            Some(saved) => *saved = record,
            None => records.tokens.push(record),
        }
        self.store_records(&records)?;
        tracing::info!(namespace = self.namespace(), token = %name, "stored a token");
        Ok(())
    }

    /// The value of the token `name`; `None` when there is none.
    pub fn token(&self, name: &str) -> Result<Option<Sensitive<String>>> {
        if !self.load_records()?.tokens.iter().any(|t| t.name == name) {
            return Ok(None);
        }
        self.secret(&connections::token_secret(name))
    }

    /// Deletes the token `name`; `false` when there was none.
    pub fn delete_token(&self, name: &str) -> Result<bool> {
        let _writing = self.writing()?;
        let mut records = self.load_records()?;
        let before = records.tokens.len();
        records.tokens.retain(|t| t.name != name);
        let existed = records.tokens.len() != before;
        if existed {
            self.store_records(&records)?;
        }
        self.entries
            .delete(&secret_account(&connections::token_secret(name))?)?;
        Ok(existed)
    }

    fn store_passphrase(&self, name: &str, passphrase: Option<&Sensitive<String>>) -> Result<()> {
        let account = secret_account(&keys::passphrase_secret(name))?;
        match passphrase {
            Some(passphrase) => self.entries.write(&account, passphrase.expose().as_bytes()),
            None => self.entries.delete(&account).map(|_| ()),
        }
    }

    fn load_records(&self) -> Result<Records> {
        let Some(bytes) = self.entries.read(RECORDS_ACCOUNT)? else {
            return Ok(Records {
                version: RECORDS_VERSION,
                bastions: Vec::new(),
                self_hosted: Vec::new(),
                keys: Vec::new(),
                connections: Vec::new(),
                tokens: Vec::new(),
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
        let mismatch = |err: serde_json::Error| {
            corrupt(format!(
                "its records do not match version {version} ({err})"
            ))
        };
        let records: Records = if version < 3 {
            let old: LegacyRecords = serde_json::from_slice(&bytes).map_err(mismatch)?;
            Records {
                version,
                bastions: old.bastions.into_iter().map(Into::into).collect(),
                self_hosted: old.self_hosted,
                keys: Vec::new(),
                connections: Vec::new(),
                tokens: Vec::new(),
            }
        } else {
            serde_json::from_slice(&bytes).map_err(mismatch)?
        };
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
            keys: records.keys.clone(),
            connections: records.connections.clone(),
            tokens: records.tokens.clone(),
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
