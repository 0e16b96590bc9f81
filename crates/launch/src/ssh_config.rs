//! Bastions from `~/.ssh/config`: every concrete `Host` (no wildcard, no negation), with what
//! OpenSSH would use for it (`HostName`, `User`, `Port`, `IdentityFile`, `ProxyJump`, with
//! `Include` and `Host *` defaults applied, by the `ssh2-config` parser), to preview and import.
//!
//! Importing saves chosen hosts as bastions; a key named by `IdentityFile` goes into the keyring
//! only when asked (and only an unencrypted one: an encrypted key is imported under Keys, where
//! its passphrase is asked for), else the bastion keeps using the file. A host without
//! `IdentityFile` logs in with the SSH agent, as `ssh` would try it first.
//!
//! The front ends read the file `airgate_paths::Platform::ssh_config` names, or one the user
//! gives.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use airgate_vault::{BastionKey, BastionRecord, Vault};
use serde::Serialize;
use ssh2_config::{ParseRule, SshConfig};

use crate::{Error, Result};

/// One `Host` of the file, as it would be saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SshHost {
    /// The `Host` alias: the bastion's name.
    pub name: String,
    /// `HostName`, else the alias.
    pub host: String,
    pub port: u16,
    /// `User`, else the local user name.
    pub user: String,
    /// The first `IdentityFile` that exists.
    pub identity_file: Option<PathBuf>,
    /// `ProxyJump` hops, as written (aliases or `[user@]host[:port]`).
    pub jump: Vec<String>,
    /// `ServerAliveInterval`, in seconds, when set (0, OpenSSH's "off", is left out).
    pub keepalive_secs: Option<u32>,
    /// A saved bastion already has this name.
    pub saved: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SshImport {
    /// Bastions saved, by name.
    pub saved: Vec<String>,
    /// Keys put in the keyring, by name.
    pub keys: Vec<String>,
    /// Hosts not saved, or saved with their key file, and why (full sentences).
    pub notes: Vec<String>,
}

/// The concrete hosts of the ssh config file `config` (`Include`s and `~` resolved against
/// `home`); no file is none.
pub fn read(vault: &Vault, config: &Path, home: &Path) -> Result<Vec<SshHost>> {
    let file = match std::fs::File::open(config) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::SshConfig {
                path: config.to_owned(),
                reason: source.to_string(),
            });
        }
    };
    let parsed = SshConfig::default()
        .home_dir(home)
        .parse(
            &mut BufReader::new(file),
            ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
        )
        .map_err(|e| Error::SshConfig {
            path: config.to_owned(),
            reason: e.to_string(),
        })?;
    let saved = vault.bastions()?;
    let mut hosts: Vec<SshHost> = Vec::new();
    for host in parsed.get_hosts() {
        for clause in &host.pattern {
            let alias = &clause.pattern;
            let concrete = !clause.negated && !alias.contains(['*', '?', '!']);
            if !concrete || hosts.iter().any(|h| &h.name == alias) {
                continue;
            }
            let params = parsed.query(alias);
            let identity_file = params
                .identity_file
                .unwrap_or_default()
                .into_iter()
                .find(|path| path.is_file());
            let jump = params
                .proxy_jump
                .unwrap_or_default()
                .into_iter()
                .filter(|hop| !hop.eq_ignore_ascii_case("none"))
                .collect();
            hosts.push(SshHost {
                name: alias.clone(),
                host: params.host_name.unwrap_or_else(|| alias.clone()),
                port: params.port.unwrap_or(22),
                user: params.user.unwrap_or_else(local_user),
                identity_file,
                jump,
                keepalive_secs: params
                    .server_alive_interval
                    .and_then(|d| u32::try_from(d.as_secs()).ok())
                    .filter(|secs| *secs > 0),
                saved: saved.iter().any(|b| &b.name == alias),
            });
        }
    }
    Ok(hosts)
}

/// Saves the hosts of `hosts` named in `chosen` as bastions (jump hosts first), putting their
/// keys in the keyring when `import_keys`.
pub fn import(
    vault: &Vault,
    hosts: &[SshHost],
    chosen: &[String],
    import_keys: bool,
) -> Result<SshImport> {
    let mut report = SshImport::default();
    let mut pending: Vec<&SshHost> = hosts.iter().filter(|h| chosen.contains(&h.name)).collect();
    let mut known: Vec<String> = vault.bastions()?.into_iter().map(|b| b.name).collect();
    // Jump hosts first: each round saves the hosts whose hops are all known.
    while !pending.is_empty() {
        let (ready, waiting): (Vec<&SshHost>, Vec<&SshHost>) = pending
            .iter()
            .partition(|h| h.jump.iter().all(|hop| known.contains(hop)));
        if ready.is_empty() {
            for host in waiting {
                let missing: Vec<&str> = host
                    .jump
                    .iter()
                    .filter(|hop| !known.contains(hop))
                    .map(String::as_str)
                    .collect();
                report.notes.push(format!(
                    "{} was not saved: its ProxyJump {} is not a saved bastion nor a chosen Host. \
                     Choose that Host too, or add it as a bastion first.",
                    host.name,
                    missing.join(", ")
                ));
            }
            break;
        }
        for host in ready {
            let key = key_for(vault, host, import_keys, &mut report)?;
            let record = BastionRecord {
                keepalive_secs: host.keepalive_secs.map(|secs| {
                    secs.clamp(
                        *airgate_vault::KEEPALIVE_SECS.start(),
                        *airgate_vault::KEEPALIVE_SECS.end(),
                    )
                }),
                name: host.name.clone(),
                host: host.host.clone(),
                port: host.port,
                user: host.user.clone(),
                key,
                jump: host.jump.clone(),
                host_key: None,
                serves: Vec::new(),
            };
            match vault.save_bastion(&record) {
                Ok(()) => {
                    known.push(host.name.clone());
                    report.saved.push(host.name.clone());
                }
                Err(e) => report
                    .notes
                    .push(format!("{} was not saved: {e}", host.name)),
            }
        }
        pending = waiting;
    }
    Ok(report)
}

/// The key a host's bastion logs in with: its `IdentityFile` (in the keyring when asked and
/// possible), else the agent.
fn key_for(
    vault: &Vault,
    host: &SshHost,
    import_keys: bool,
    report: &mut SshImport,
) -> Result<BastionKey> {
    let Some(path) = &host.identity_file else {
        return Ok(BastionKey::Agent);
    };
    let file = BastionKey::File { path: path.clone() };
    if !import_keys {
        return Ok(file);
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => airgate_tunnel::SecretText::new(text),
        Err(e) => {
            report.notes.push(format!(
                "{}: its key {} cannot be read ({e}); it keeps the file.",
                host.name,
                path.display()
            ));
            return Ok(file);
        }
    };
    let info = match airgate_tunnel::keys::inspect(&path.display().to_string(), &text, None) {
        Ok(info) => info,
        Err(airgate_tunnel::Error::KeyPassphraseNeeded { .. }) => {
            report.notes.push(format!(
                "{}: its key {} is passphrase protected, so it keeps the file; import it under \
                 Keys (its passphrase is asked there) and pick it for the bastion.",
                host.name,
                path.display()
            ));
            return Ok(file);
        }
        Err(e) => {
            report
                .notes
                .push(format!("{}: {e} It keeps the file.", host.name));
            return Ok(file);
        }
    };
    let stored = vault.keys()?;
    if let Some(same) = stored.iter().find(|k| k.fingerprint == info.fingerprint) {
        return Ok(BastionKey::Stored {
            name: same.name.clone(),
        });
    }
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| host.name.clone());
    let name = (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|candidate| !stored.iter().any(|k| &k.name == candidate))
        .unwrap_or(base);
    let record = crate::keys::import_key_file(vault, Some(&name), path, None, false)?;
    report.keys.push(record.name.clone());
    Ok(BastionKey::Stored { name: record.name })
}

fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "ec2-user".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use keyring_core::{CredentialStore, mock};

    use super::*;

    fn vault() -> Vault {
        let store: Arc<CredentialStore> = mock::Store::new().expect("mock store");
        Vault::with_store(store, "app.airgate.test")
    }

    fn keygen(path: &Path, passphrase: &str) {
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-f"])
            .arg(path)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
    }

    /// The `~/.ssh/config` of the test home `home`.
    fn config_in(home: &Path) -> PathBuf {
        home.join(".ssh").join("config")
    }

    /// A home whose config includes another file, with `Host *` defaults and a jump host.
    fn home() -> tempfile::TempDir {
        let home = tempfile::tempdir().expect("temp home");
        let ssh = home.path().join(".ssh");
        std::fs::create_dir_all(ssh.join("config.d")).expect("dirs");
        keygen(&ssh.join("id_prod"), "");
        keygen(&ssh.join("id_locked"), "secret");
        std::fs::write(
            ssh.join("config"),
            "Include config.d/*\n\
             \n\
             Host prod-bastion\n  HostName bastion.prod.example\n  IdentityFile ~/.ssh/id_prod\n\
             \n\
             Host prod-db-jump\n  HostName 10.0.4.5\n  Port 2222\n  ProxyJump prod-bastion\n  \
             IdentityFile ~/.ssh/id_locked\n\
             \n\
             Host lonely\n  ProxyJump nowhere.example\n\
             \n\
             Host *.internal !secret.internal\n  User admin\n\
             \n\
             Host *\n  User ec2-user\n  ServerAliveInterval 15\n",
        )
        .expect("config");
        std::fs::write(
            ssh.join("config.d").join("lab"),
            "Host lab\n  HostName lab.example\n  User ubuntu\n",
        )
        .expect("included file");
        home
    }

    #[test]
    fn concrete_hosts_are_read_with_includes_and_defaults() {
        let home = home();
        let vault = vault();
        let hosts = read(&vault, &config_in(home.path()), home.path()).expect("read");
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["lab", "prod-bastion", "prod-db-jump", "lonely"]);
        let lab = &hosts[0];
        assert_eq!(
            (lab.host.as_str(), lab.user.as_str()),
            ("lab.example", "ubuntu")
        );
        let prod = &hosts[1];
        assert_eq!(prod.user, "ec2-user", "from Host *");
        assert_eq!(
            prod.identity_file.as_deref(),
            Some(home.path().join(".ssh/id_prod").as_path()),
            "~ expanded"
        );
        let jump = &hosts[2];
        assert_eq!(
            (jump.port, jump.jump.clone()),
            (2222, vec!["prod-bastion".to_owned()])
        );
        assert!(hosts.iter().all(|h| !h.saved));
        assert!(
            hosts.iter().all(|h| h.keepalive_secs == Some(15)),
            "ServerAliveInterval of Host *"
        );
    }

    #[test]
    fn chosen_hosts_are_saved_jump_hosts_first_with_keys_in_the_keyring() {
        let home = home();
        let vault = vault();
        let hosts = read(&vault, &config_in(home.path()), home.path()).expect("read");
        let chosen: Vec<String> = ["prod-db-jump", "prod-bastion", "lonely", "lab"]
            .map(str::to_owned)
            .to_vec();
        let report = import(&vault, &hosts, &chosen, true).expect("import");
        assert_eq!(report.saved, ["lab", "prod-bastion", "prod-db-jump"]);
        assert_eq!(report.keys, ["id_prod"]);
        assert_eq!(report.notes.len(), 2, "{report:?}");
        assert!(
            report.notes[0].contains("id_locked is passphrase protected"),
            "{report:?}"
        );
        assert!(
            report.notes[1].starts_with("lonely was not saved"),
            "{report:?}"
        );

        let saved = vault.bastions().expect("bastions");
        let by_name = |name: &str| saved.iter().find(|b| b.name == name).expect(name).clone();
        assert_eq!(
            by_name("prod-bastion").key,
            BastionKey::Stored {
                name: "id_prod".to_owned()
            }
        );
        assert_eq!(
            by_name("lab").key,
            BastionKey::Agent,
            "no IdentityFile: the agent"
        );
        let jump = by_name("prod-db-jump");
        assert_eq!(jump.jump, ["prod-bastion"]);
        assert!(matches!(jump.key, BastionKey::File { .. }));
        assert!(vault.key_secret("id_prod").expect("read").is_some());

        // Read again: now listed as saved; a second import reuses the stored key.
        let again = read(&vault, &config_in(home.path()), home.path()).expect("read");
        assert!(again.iter().find(|h| h.name == "lab").expect("lab").saved);
        let report = import(&vault, &again, &["prod-bastion".to_owned()], true).expect("again");
        assert!(report.keys.is_empty(), "the same key is not stored twice");
    }

    #[test]
    fn no_config_file_is_no_host_and_a_broken_one_is_named() {
        let home = tempfile::tempdir().expect("temp home");
        let vault = vault();
        assert!(
            read(&vault, &config_in(home.path()), home.path())
                .expect("none")
                .is_empty()
        );
        std::fs::create_dir_all(home.path().join(".ssh")).expect("dir");
        std::fs::write(config_in(home.path()), "Host a\n  Port notaport\n").expect("write");
        let err = read(&vault, &config_in(home.path()), home.path()).expect_err("broken");
        assert!(err.to_string().contains(".ssh/config"), "{err}");
    }
}
