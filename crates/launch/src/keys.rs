//! Stored SSH keys and saved bastions, for the window and the CLI alike: import a key file
//! into the keyring, make a new key, and turn a saved bastion (its key, its jump hosts) into
//! what a tunnel needs.
//!
//! Vault calls block on the keyring: call these from a blocking thread in async code.

use std::collections::BTreeMap;
use std::path::Path;

use airgate_tunnel::{BastionSpec, Keepalive, KeyKind, KeySource, SecretText};
use airgate_vault::{BastionKey, BastionRecord, KeyRecord, Sensitive, Vault};

use crate::{Error, Result};

/// Passphrases typed for this connect only, by stored key name.
pub type Passphrases = BTreeMap<String, SecretText>;

/// Reads the private key at `path` and keeps it in the keyring as `name` (default: the file's
/// name). An encrypted key needs `passphrase`, which is checked, and kept too when `remember`.
/// After this the file is not needed: Airgate never reads it again.
pub fn import_key_file(
    vault: &Vault,
    name: Option<&str>,
    path: &Path,
    passphrase: Option<Sensitive<String>>,
    remember: bool,
) -> Result<KeyRecord> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    let text = SecretText::new(text);
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "key".to_owned()),
    };
    let name = airgate_vault::key_name(&name)?;
    if vault.keys()?.iter().any(|k| k.name == name) {
        return Err(airgate_vault::Error::KeyExists { name }.into());
    }
    let passphrase = passphrase.filter(|p| !p.expose().is_empty());
    let typed = passphrase
        .as_ref()
        .map(|p| SecretText::new(p.expose().clone()));
    let info = airgate_tunnel::keys::inspect(&path.display().to_string(), &text, typed.as_ref())?;
    let record = KeyRecord {
        name,
        algorithm: info.algorithm,
        fingerprint: info.fingerprint,
        public_key: info.public_key,
        comment: info.comment,
        encrypted: info.encrypted,
        passphrase_saved: false,
    };
    let kept = passphrase.filter(|_| remember && info.encrypted);
    let text = Sensitive::new(text.expose().to_owned());
    Ok(vault.save_key(&record, &text, kept.as_ref())?)
}

/// Makes a new key of `kind` with `comment` and keeps it in the keyring as `name`.
pub fn generate_key(vault: &Vault, name: &str, kind: KeyKind, comment: &str) -> Result<KeyRecord> {
    let name = airgate_vault::key_name(name)?;
    if vault.keys()?.iter().any(|k| k.name == name) {
        return Err(airgate_vault::Error::KeyExists { name }.into());
    }
    let (text, info) = airgate_tunnel::keys::generate(kind, comment.trim())?;
    let record = KeyRecord {
        name,
        algorithm: info.algorithm,
        fingerprint: info.fingerprint,
        public_key: info.public_key,
        comment: info.comment,
        encrypted: false,
        passphrase_saved: false,
    };
    Ok(vault.save_key(&record, &Sensitive::new(text.expose().to_owned()), None)?)
}

/// Checks `passphrase` against the stored key `name`, for a key whose passphrase is asked for.
pub fn check_passphrase(vault: &Vault, name: &str, passphrase: &SecretText) -> Result<()> {
    let secret = vault
        .key_secret(name)?
        .ok_or_else(|| airgate_vault::Error::NoSuchKey {
            name: name.to_owned(),
        })?;
    let text = SecretText::new(secret.text.expose().clone());
    airgate_tunnel::keys::inspect(&format!("stored key {name:?}"), &text, Some(passphrase))?;
    Ok(())
}

/// How to reach the saved bastion `name`: its key from the keyring (with the passphrase in
/// `passphrases`, else the remembered one) or its key file, and its jump hosts in order.
pub fn bastion_spec(
    vault: &Vault,
    name: &str,
    trust_once: Option<String>,
    passphrases: &Passphrases,
) -> Result<BastionSpec> {
    let saved = vault.bastions()?;
    let find = |name: &str| {
        saved
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| Error::NoSuchBastion {
                name: name.to_owned(),
            })
    };
    let record = find(name)?;
    let mut jump = Vec::new();
    let mut seen = vec![record.name.clone()];
    for hop in &record.jump {
        if seen.contains(hop) {
            seen.push(hop.clone());
            return Err(Error::JumpLoop { chain: seen });
        }
        seen.push(hop.clone());
        let hop = find(hop)?;
        if !hop.jump.is_empty() {
            return Err(Error::NestedJump {
                bastion: record.name.clone(),
                hop: hop.name.clone(),
            });
        }
        jump.push(spec_of(vault, hop, None, passphrases, Vec::new())?);
    }
    spec_of(vault, record, trust_once, passphrases, jump)
}

fn spec_of(
    vault: &Vault,
    record: &BastionRecord,
    trust_once: Option<String>,
    passphrases: &Passphrases,
    jump: Vec<BastionSpec>,
) -> Result<BastionSpec> {
    let key = match &record.key {
        BastionKey::File { path } => KeySource::File(path.clone()),
        BastionKey::Agent => {
            KeySource::Agent(airgate_tunnel::keys::default_agent().ok_or_else(|| {
                Error::NoAgent {
                    bastion: record.name.clone(),
                }
            })?)
        }
        BastionKey::Stored { name } => {
            let secret = vault
                .key_secret(name)?
                .ok_or_else(|| Error::StoredKeyMissing {
                    bastion: record.name.clone(),
                    key: name.clone(),
                })?;
            let passphrase = passphrases.get(name).cloned().or_else(|| {
                secret
                    .passphrase
                    .as_ref()
                    .map(|p| SecretText::new(p.expose().clone()))
            });
            KeySource::Stored {
                name: name.clone(),
                text: SecretText::new(secret.text.expose().clone()),
                passphrase,
            }
        }
    };
    Ok(BastionSpec {
        host: record.host.clone(),
        port: record.port,
        user: record.user.clone(),
        key,
        keepalive: Keepalive::default(),
        trust_once,
        host_key: record.host_key.clone(),
        jump,
    })
}
