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
    let name = free_key_name(vault, &name)?;
    let passphrase = passphrase.filter(|p| !p.expose().is_empty());
    let typed = passphrase
        .as_ref()
        .map(|p| SecretText::new(p.expose().clone()));
    let info = airgate_tunnel::keys::inspect(&path.display().to_string(), &text, typed.as_ref())?;
    let kept = passphrase.filter(|_| remember && info.encrypted);
    let record = record_of(name, info);
    let text = Sensitive::new(text.expose().to_owned());
    Ok(vault.save_key(&record, &text, kept.as_ref())?)
}

/// Makes a new key of `kind` with `comment` and keeps it in the keyring as `name`.
pub fn generate_key(vault: &Vault, name: &str, kind: KeyKind, comment: &str) -> Result<KeyRecord> {
    let name = free_key_name(vault, name)?;
    let (text, info) = airgate_tunnel::keys::generate(kind, comment.trim())?;
    let record = record_of(name, info);
    Ok(vault.save_key(&record, &Sensitive::new(text.expose().to_owned()), None)?)
}

/// `name` as a key name, refused when a stored key has it already.
fn free_key_name(vault: &Vault, name: &str) -> Result<String> {
    let name = airgate_vault::key_name(name)?;
    if vault.keys()?.iter().any(|k| k.name == name) {
        return Err(airgate_vault::Error::KeyExists { name }.into());
    }
    Ok(name)
}

/// The record of a key `name` that `info` describes (its passphrase not saved yet).
fn record_of(name: String, info: airgate_tunnel::KeyInfo) -> KeyRecord {
    KeyRecord {
        name,
        algorithm: info.algorithm,
        fingerprint: info.fingerprint,
        public_key: info.public_key,
        comment: info.comment,
        encrypted: info.encrypted,
        passphrase_saved: false,
    }
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
    let find = |name: &str| find_bastion(&saved, name);
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

/// The stored keys the saved bastion `name` and its jump hosts log in with that are encrypted
/// and whose passphrase the keyring does not keep (in hop order, each once): what a connect
/// has to ask for.
pub fn passphrases_needed(vault: &Vault, name: &str) -> Result<Vec<String>> {
    let saved = vault.bastions()?;
    let record = find_bastion(&saved, name)?;
    let keys = vault.keys()?;
    let mut needed: Vec<String> = Vec::new();
    for hop in record.jump.iter().chain([&record.name]) {
        let Ok(hop) = find_bastion(&saved, hop) else {
            continue;
        };
        let BastionKey::Stored { name: key } = &hop.key else {
            continue;
        };
        let locked = keys
            .iter()
            .any(|k| &k.name == key && k.encrypted && !k.passphrase_saved);
        if locked && !needed.contains(key) {
            needed.push(key.clone());
        }
    }
    Ok(needed)
}

/// The saved bastion that serves the environment `id` (`profile/region/name`) of `account` in
/// `region` best: one naming it wins over one naming its account or region; first saved wins a
/// tie. `None` when no rule names it.
pub fn preferred_bastion<'a>(
    saved: &'a [BastionRecord],
    id: &str,
    account: Option<&str>,
    region: &str,
) -> Option<&'a str> {
    let mut best: Option<(u8, &str)> = None;
    for bastion in saved {
        let score = bastion
            .serves
            .iter()
            .map(|rule| rule.matches(id, account, region))
            .max()
            .unwrap_or(0);
        if score > 0 && best.is_none_or(|(top, _)| score > top) {
            best = Some((score, &bastion.name));
        }
    }
    best.map(|(_, name)| name)
}

/// The bastion `name` of `saved`.
fn find_bastion<'a>(saved: &'a [BastionRecord], name: &str) -> Result<&'a BastionRecord> {
    saved
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| Error::NoSuchBastion {
            name: name.to_owned(),
        })
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
        keepalive: record
            .keepalive_secs
            .map_or_else(Keepalive::default, |secs| Keepalive {
                interval: std::time::Duration::from_secs(u64::from(secs)),
                ..Keepalive::default()
            }),
        trust_once,
        host_key: record.host_key.clone(),
        jump,
    })
}

/// The saved bastion `name` (and its jump hosts) as OpenSSH would be told: an `ssh` command
/// line for a SOCKS proxy on `socks_port`, and a `~/.ssh/config` block. No secret: a stored key
/// is named in a comment (its public half is `airgate keys public NAME`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct BastionExport {
    pub command: String,
    pub config: String,
}

/// See [`BastionExport`].
pub fn export_bastion(vault: &Vault, name: &str, socks_port: u16) -> Result<BastionExport> {
    let saved = vault.bastions()?;
    let find = |name: &str| find_bastion(&saved, name);
    let record = find(name)?;
    let hops: Vec<&BastionRecord> = record
        .jump
        .iter()
        .map(|hop| find(hop))
        .collect::<Result<_>>()?;
    let destination = |b: &BastionRecord| {
        let port = if b.port == 22 {
            String::new()
        } else {
            format!(":{}", b.port)
        };
        format!("{}@{}{port}", b.user, b.host)
    };
    let mut command = vec!["ssh".to_owned(), "-N".to_owned(), "-D".to_owned()];
    command.push(socks_port.to_string());
    if let BastionKey::File { path } = &record.key {
        command.push("-i".to_owned());
        command.push(shell_word(&path.display().to_string()));
    }
    if !hops.is_empty() {
        command.push("-J".to_owned());
        command.push(
            hops.iter()
                .map(|h| destination(h))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    if record.port != 22 {
        command.push("-p".to_owned());
        command.push(record.port.to_string());
    }
    if let Some(secs) = record.keepalive_secs {
        command.push("-o".to_owned());
        command.push(format!("ServerAliveInterval={secs}"));
    }
    command.push(format!("{}@{}", record.user, record.host));

    let mut config = String::new();
    for b in hops.iter().copied().chain([record]) {
        config.push_str(&format!(
            "Host {}\n  HostName {}\n  User {}\n",
            b.name, b.host, b.user
        ));
        if b.port != 22 {
            config.push_str(&format!("  Port {}\n", b.port));
        }
        match &b.key {
            BastionKey::File { path } => {
                config.push_str(&format!("  IdentityFile {}\n", path.display()));
            }
            BastionKey::Stored { name } => config.push_str(&format!(
                "  # key: {name:?}, kept in Airgate's keyring (`airgate keys public {name}`)\n"
            )),
            BastionKey::Agent => config.push_str("  # key: the SSH agent's\n"),
        }
        if !b.jump.is_empty() {
            config.push_str(&format!("  ProxyJump {}\n", b.jump.join(",")));
        }
        if let Some(secs) = b.keepalive_secs {
            config.push_str(&format!("  ServerAliveInterval {secs}\n"));
        }
        config.push('\n');
    }
    Ok(BastionExport {
        command: command.join(" "),
        config: config.trim_end().to_owned() + "\n",
    })
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-~+:@%=,".contains(c));
    if plain && !word.is_empty() {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use keyring_core::{CredentialStore, mock};

    use super::*;

    #[test]
    fn a_bastion_exports_as_ssh_and_a_config_block_without_secrets() {
        let store: Arc<CredentialStore> = mock::Store::new().expect("mock store");
        let vault = Vault::with_store(store, "app.airgate.test");
        let key = tempfile::NamedTempFile::new().expect("key file");
        let jump = BastionRecord {
            keepalive_secs: None,
            name: "edge".to_owned(),
            host: "edge.example".to_owned(),
            port: 2222,
            user: "ops".to_owned(),
            key: BastionKey::Agent,
            jump: Vec::new(),
            host_key: None,
            serves: Vec::new(),
        };
        vault.save_bastion(&jump).expect("save edge");
        let inner = BastionRecord {
            keepalive_secs: Some(30),
            name: "prod".to_owned(),
            host: "10.0.1.5".to_owned(),
            port: 22,
            user: "ec2-user".to_owned(),
            key: BastionKey::File {
                path: PathBuf::from(key.path()),
            },
            jump: vec!["edge".to_owned()],
            host_key: None,
            serves: Vec::new(),
        };
        vault.save_bastion(&inner).expect("save prod");
        let export = export_bastion(&vault, "prod", 8157).expect("export");
        assert_eq!(
            export.command,
            format!(
                "ssh -N -D 8157 -i {} -J ops@edge.example:2222 -o ServerAliveInterval=30 \
                 ec2-user@10.0.1.5",
                key.path().display()
            )
        );
        assert_eq!(
            export.config,
            format!(
                "Host edge\n  HostName edge.example\n  User ops\n  Port 2222\n  # key: the SSH \
                 agent's\n\nHost prod\n  HostName 10.0.1.5\n  User ec2-user\n  IdentityFile {}\n  \
                 ProxyJump edge\n  ServerAliveInterval 30\n",
                key.path().display()
            )
        );
        assert_eq!(shell_word("/home/o'neil/key"), r"'/home/o'\''neil/key'");
        // Its tunnels ask every 30 s; a bastion without a keepalive of its own, every 15 s.
        let direct = |name: &str, keepalive_secs| BastionRecord {
            keepalive_secs,
            name: name.to_owned(),
            jump: Vec::new(),
            ..inner.clone()
        };
        for (name, secs) in [("slow", Some(30)), ("plain", None)] {
            vault.save_bastion(&direct(name, secs)).expect("save");
            let spec = bastion_spec(&vault, name, None, &Passphrases::new()).expect("spec");
            assert_eq!(
                spec.keepalive.interval,
                std::time::Duration::from_secs(secs.map_or(15, u64::from))
            );
        }
    }

    #[test]
    fn the_bastion_naming_an_environment_wins_over_one_for_its_account() {
        use airgate_vault::ServeRule;
        let rule =
            |environment: Option<&str>, account: Option<&str>, region: Option<&str>| ServeRule {
                environment: environment.map(str::to_owned),
                account: account.map(str::to_owned),
                region: region.map(str::to_owned),
            };
        let bastion = |name: &str, serves: Vec<ServeRule>| BastionRecord {
            keepalive_secs: None,
            name: name.to_owned(),
            host: "h".to_owned(),
            port: 22,
            user: "u".to_owned(),
            key: BastionKey::Agent,
            jump: Vec::new(),
            host_key: None,
            serves,
        };
        let saved = vec![
            bastion("plain", Vec::new()),
            bastion(
                "account-wide",
                vec![rule(None, Some("111111111111"), Some("eu-west-1"))],
            ),
            bastion(
                "orders",
                vec![rule(Some("prod/eu-west-1/orders-prod"), None, None)],
            ),
        ];
        let pick = |id: &str, account: &str, region: &str| {
            preferred_bastion(&saved, id, Some(account), region)
        };
        assert_eq!(
            pick("prod/eu-west-1/orders-prod", "111111111111", "eu-west-1"),
            Some("orders")
        );
        assert_eq!(
            pick("prod/eu-west-1/billing", "111111111111", "eu-west-1"),
            Some("account-wide")
        );
        assert_eq!(
            pick("prod/us-east-1/billing", "111111111111", "us-east-1"),
            None
        );
        assert_eq!(pick("dev/eu-west-1/x", "222222222222", "eu-west-1"), None);
    }
}
