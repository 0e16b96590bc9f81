//! `airgate keys` and `airgate bastions`: the keyring the desktop app uses (same namespace), and
//! saved bastions as routes for `connect`, `open` and `forward`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airgate_launch::keys::Passphrases;
use airgate_tunnel::{BastionSpec, KeyKind, SecretText};
use airgate_vault::{BastionKey, BastionRecord, KeyRecord, Sensitive, ServeRule, Vault};
use clap::Subcommand;

use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the stored keys: name, type, fingerprint, passphrase.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Import a private key file (OpenSSH or PEM) into the keyring; the file is not needed
    /// afterwards. An encrypted key's passphrase is asked for (without echo) and checked.
    Import {
        file: PathBuf,
        /// Its name in Airgate [default: the file's name].
        #[arg(long)]
        name: Option<String>,
        /// Keep the passphrase in the keyring too (else it is asked for at each connect).
        #[arg(long)]
        remember: bool,
        /// Read the passphrase from standard input (one line) instead of the terminal.
        #[arg(long)]
        stdin: bool,
    },
    /// Make a new key in the keyring and print its public key (an authorized_keys line).
    Generate {
        name: String,
        #[arg(long = "type", value_enum, default_value_t = KeyType::Ed25519)]
        kind: KeyType,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Print a stored key's public key (an authorized_keys line).
    Public { name: String },
    /// Rename a stored key; the bastions using it follow.
    Rename { from: String, to: String },
    /// Delete a stored key (asks when bastions use it, unless --yes).
    Delete {
        name: String,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KeyType {
    Ed25519,
    Rsa4096,
}

#[derive(Debug, Subcommand)]
pub enum BastionsCommand {
    /// List the saved bastions.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Save a bastion (replacing one with the same name).
    Add {
        name: String,
        /// Host name or address.
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 22)]
        port: u16,
        #[arg(long, default_value = "ec2-user")]
        user: String,
        /// A stored key (see `airgate keys list`).
        #[arg(long, group = "login", required_unless_present_any = ["key_file", "agent"])]
        key: Option<String>,
        /// A private key file instead of a stored key.
        #[arg(long, group = "login")]
        key_file: Option<PathBuf>,
        /// The keys of your SSH agent (SSH_AUTH_SOCK) instead of a stored key.
        #[arg(long, group = "login")]
        agent: bool,
        /// A saved bastion to go through first; repeat for a chain.
        #[arg(long)]
        jump: Vec<String>,
        /// Pin the bastion's host key (SHA256:... as `ssh-keygen -lf` prints it): that key and
        /// no other, whatever known_hosts says.
        #[arg(long)]
        host_key: Option<String>,
        /// Environments it serves (Open and Connect pick it for them): `profile/region/name`,
        /// or a rule `account=ID,region=REGION` (either part alone too); repeat.
        #[arg(long, value_name = "SPEC")]
        serve: Vec<String>,
        /// Seconds between keepalives (ServerAliveInterval) [default: 15].
        #[arg(long, value_name = "SECS")]
        keepalive: Option<u32>,
    },
    /// Change a saved bastion: only what is given changes.
    Edit {
        name: String,
        /// A new name (what jumps through it or routes through it follows).
        #[arg(long)]
        rename: Option<String>,
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        user: Option<String>,
        /// Log in with this stored key.
        #[arg(long, group = "login")]
        key: Option<String>,
        /// Log in with this private key file.
        #[arg(long, group = "login")]
        key_file: Option<PathBuf>,
        /// Log in with the keys of your SSH agent.
        #[arg(long, group = "login")]
        agent: bool,
        /// The jump chain, replacing the saved one; repeat.
        #[arg(long, conflicts_with = "no_jump")]
        jump: Vec<String>,
        /// Connect directly, without jump hosts.
        #[arg(long)]
        no_jump: bool,
        /// Pin this host key fingerprint.
        #[arg(long, conflicts_with = "no_host_key")]
        host_key: Option<String>,
        /// Forget the pinned host key (known_hosts decides again).
        #[arg(long)]
        no_host_key: bool,
        /// What it serves, replacing the saved rules (as for `add`); repeat.
        #[arg(long, value_name = "SPEC", conflicts_with = "no_serve")]
        serve: Vec<String>,
        /// Serve no environment in particular.
        #[arg(long)]
        no_serve: bool,
        /// Seconds between keepalives (ServerAliveInterval; 0: back to the default, 15).
        #[arg(long, value_name = "SECS")]
        keepalive: Option<u32>,
    },
    /// Delete a saved bastion.
    Delete { name: String },
    /// Print a saved bastion as an `ssh -N -D` command line, or with --config as a
    /// ~/.ssh/config block (jump hosts included; no secret).
    Export {
        name: String,
        #[arg(long)]
        config: bool,
        /// The SOCKS port of the command line.
        #[arg(long, default_value_t = 8157)]
        port: u16,
    },
    /// Save hosts of ~/.ssh/config as bastions (Include and Host * defaults applied); with no
    /// NAME and no --all, list what it would save.
    ImportSshConfig {
        /// `Host` aliases to import.
        names: Vec<String>,
        /// Every concrete Host.
        #[arg(long, conflicts_with = "names")]
        all: bool,
        /// Put unencrypted keys named by IdentityFile in the keyring (else the bastions keep
        /// using the files).
        #[arg(long)]
        import_keys: bool,
        /// Another ssh config file.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

/// The keyring namespace the desktop app uses with the same data directory.
pub fn vault() -> Result<Vault> {
    let chosen = airgate_launch::settings::chosen_data_dir();
    let namespace =
        airgate_vault::namespace(airgate_launch::settings::APP_IDENTIFIER, chosen.as_deref());
    let vault = Vault::open(&namespace)?;
    Ok(match airgate_launch::settings::data_dir() {
        Some(dir) => vault.with_lock_file(dir.join(airgate_launch::settings::VAULT_LOCK)),
        None => vault,
    })
}

pub fn keys(command: KeysCommand) -> Result<ExitCode> {
    let vault = vault()?;
    match command {
        KeysCommand::List { json } => {
            let keys = vault.keys()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else if keys.is_empty() {
                eprintln!("No stored key. Import one with `airgate keys import FILE`.");
            } else {
                for key in keys {
                    println!(
                        "{}\t{}\t{}\t{}",
                        key.name,
                        key.algorithm,
                        key.fingerprint,
                        passphrase_state(&key)
                    );
                }
            }
        }
        KeysCommand::Import {
            file,
            name,
            remember,
            stdin,
        } => {
            let record = import(&vault, &file, name.as_deref(), remember, stdin)?;
            eprintln!(
                "Imported {} ({} {}); {}. The file {} is no longer needed.",
                record.name,
                record.algorithm,
                record.fingerprint,
                passphrase_state(&record).to_lowercase(),
                file.display()
            );
        }
        KeysCommand::Generate {
            name,
            kind,
            comment,
        } => {
            let kind = match kind {
                KeyType::Ed25519 => KeyKind::Ed25519,
                KeyType::Rsa4096 => KeyKind::Rsa4096,
            };
            let record = airgate_launch::keys::generate_key(&vault, &name, kind, &comment)?;
            eprintln!(
                "Generated {} ({}). Add this line to ~/.ssh/authorized_keys on the bastion:",
                record.name, record.fingerprint
            );
            println!("{}", record.public_key);
        }
        KeysCommand::Public { name } => {
            let key = find_key(&vault, &name)?;
            println!("{}", key.public_key);
        }
        KeysCommand::Rename { from, to } => {
            let record = vault.rename_key(&from, &to)?;
            eprintln!("Renamed {from} to {}.", record.name);
        }
        KeysCommand::Delete { name, yes } => {
            find_key(&vault, &name)?;
            let users = vault.key_users(&name)?;
            if !users.is_empty() && !yes {
                let using = format!(
                    "{} {} in with {name}",
                    users.join(", "),
                    if users.len() == 1 { "logs" } else { "log" }
                );
                if !std::io::stdin().is_terminal() {
                    eprintln!("{using}: kept it. Pass --yes to delete it anyway.");
                    return Ok(ExitCode::FAILURE);
                }
                if !confirm(&format!("{using}. Delete it anyway? [y/N] "))? {
                    eprintln!("Kept {name}.");
                    return Ok(ExitCode::FAILURE);
                }
            }
            vault.delete_key(&name)?;
            eprintln!("Deleted {name}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn bastions(command: BastionsCommand) -> Result<ExitCode> {
    let vault = vault()?;
    match command {
        BastionsCommand::List { json } => {
            let bastions = vault.bastions()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&bastions)?);
            } else if bastions.is_empty() {
                eprintln!(
                    "No saved bastion. Add one with `airgate bastions add NAME --host H --key K`."
                );
            } else {
                for b in bastions {
                    let key = match &b.key {
                        BastionKey::Stored { name } => format!("key {name}"),
                        BastionKey::File { path } => format!("key file {}", path.display()),
                        BastionKey::Agent => "the SSH agent".to_owned(),
                    };
                    let jump = if b.jump.is_empty() {
                        String::new()
                    } else {
                        format!("\tvia {}", b.jump.join(","))
                    };
                    println!("{}\t{}@{}:{}\t{key}{jump}", b.name, b.user, b.host, b.port);
                }
            }
        }
        BastionsCommand::Add {
            name,
            host,
            port,
            user,
            key,
            key_file,
            agent,
            jump,
            host_key,
            serve,
            keepalive,
        } => {
            let key = login_key(key, key_file, agent).ok_or(Error::NoLogin)?;
            let record = BastionRecord {
                keepalive_secs: keepalive,
                name,
                host,
                port,
                user,
                key,
                jump,
                host_key,
                serves: serve
                    .iter()
                    .map(|spec| serve_rule(spec))
                    .collect::<Result<_>>()?,
            }
            .trimmed();
            vault.save_bastion(&record)?;
            eprintln!("Saved {}.", record.name);
        }
        BastionsCommand::Edit {
            name,
            rename,
            host,
            port,
            user,
            key,
            key_file,
            agent,
            jump,
            no_jump,
            host_key,
            no_host_key,
            serve,
            no_serve,
            keepalive,
        } => {
            let mut record = vault
                .bastions()?
                .into_iter()
                .find(|b| b.name == name)
                .ok_or_else(|| airgate_launch::Error::NoSuchBastion { name: name.clone() })?;
            if let Some(new) = rename {
                record.name = new;
            }
            if let Some(host) = host {
                record.host = host;
            }
            if let Some(port) = port {
                record.port = port;
            }
            if let Some(user) = user {
                record.user = user;
            }
            if let Some(key) = login_key(key, key_file, agent) {
                record.key = key;
            }
            if no_jump {
                record.jump.clear();
            } else if !jump.is_empty() {
                record.jump = jump;
            }
            if no_host_key {
                record.host_key = None;
            } else if host_key.is_some() {
                record.host_key = host_key;
            }
            if no_serve {
                record.serves.clear();
            } else if !serve.is_empty() {
                record.serves = serve
                    .iter()
                    .map(|spec| serve_rule(spec))
                    .collect::<Result<_>>()?;
            }
            if let Some(secs) = keepalive {
                record.keepalive_secs = Some(secs).filter(|secs| *secs > 0);
            }
            let record = record.trimmed();
            vault.replace_bastion(&record, &name)?;
            if record.name == name {
                eprintln!("Saved {name}.");
            } else {
                eprintln!("Saved {name} as {}.", record.name);
            }
        }
        BastionsCommand::ImportSshConfig {
            names,
            all,
            import_keys,
            file,
        } => {
            let platform = airgate_paths::Platform::current();
            let home = platform.home.clone().ok_or(Error::NoHome)?;
            let config = match file {
                Some(file) => file,
                None => platform.ssh_config().ok_or(Error::NoHome)?,
            };
            let hosts = airgate_launch::ssh_config::read(&vault, &config, &home)?;
            if names.is_empty() && !all {
                if hosts.is_empty() {
                    eprintln!("{} names no host.", config.display());
                }
                for h in &hosts {
                    let key = h
                        .identity_file
                        .as_ref()
                        .map_or("the SSH agent".to_owned(), |p| p.display().to_string());
                    let jump = if h.jump.is_empty() {
                        String::new()
                    } else {
                        format!("\tvia {}", h.jump.join(","))
                    };
                    let saved = if h.saved {
                        "\t(saved: replaced on import)"
                    } else {
                        ""
                    };
                    println!(
                        "{}\t{}@{}:{}\t{key}{jump}{saved}",
                        h.name, h.user, h.host, h.port
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let chosen: Vec<String> = if all {
                hosts.iter().map(|h| h.name.clone()).collect()
            } else {
                names
            };
            if let Some(unknown) = chosen.iter().find(|n| !hosts.iter().any(|h| &h.name == *n)) {
                return Err(Error::NotInSshConfig {
                    name: unknown.clone(),
                    config,
                });
            }
            let report = airgate_launch::ssh_config::import(&vault, &hosts, &chosen, import_keys)?;
            for name in &report.saved {
                eprintln!("Saved {name}.");
            }
            for key in &report.keys {
                eprintln!("Stored key {key}.");
            }
            for note in &report.notes {
                eprintln!("warning: {note}");
            }
            if report.saved.len() < chosen.len() {
                return Ok(ExitCode::from(crate::cli::EXIT_PARTIAL));
            }
        }
        BastionsCommand::Export { name, config, port } => {
            let export = airgate_launch::keys::export_bastion(&vault, &name, port)?;
            if config {
                print!("{}", export.config);
            } else {
                println!("{}", export.command);
            }
        }
        BastionsCommand::Delete { name } => {
            let users = vault.bastion_users(&name)?;
            if !vault.delete_bastion(&name)? {
                return Err(airgate_launch::Error::NoSuchBastion { name }.into());
            }
            if users.is_empty() {
                eprintln!("Deleted {name}.");
            } else {
                eprintln!(
                    "Deleted {name}; {} went through it and need another route.",
                    users.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The saved bastion `name` as a route: its stored key's passphrase asked for at the terminal
/// (or read from stdin with `passphrase_stdin`) when the keyring does not keep it.
pub fn bastion_spec(name: &str, batch: bool, passphrase_stdin: bool) -> Result<BastionSpec> {
    let vault = vault()?;
    let mut passphrases = Passphrases::new();
    for key in airgate_launch::keys::passphrases_needed(&vault, name)? {
        let passphrase = ask_passphrase(&vault, &key, batch, passphrase_stdin)?;
        passphrases.insert(key, passphrase);
    }
    Ok(airgate_launch::keys::bastion_spec(
        &vault,
        name,
        None,
        &passphrases,
    )?)
}

fn import(
    vault: &Vault,
    file: &Path,
    name: Option<&str>,
    remember: bool,
    stdin: bool,
) -> Result<KeyRecord> {
    let first = airgate_launch::keys::import_key_file(vault, name, file, None, false);
    match first {
        Err(airgate_launch::Error::Tunnel(airgate_tunnel::Error::KeyPassphraseNeeded {
            ..
        })) => {}
        other => return Ok(other?),
    }
    for _ in 0..3 {
        let passphrase = read_secret(&format!("Passphrase for {}: ", file.display()), stdin)?;
        match airgate_launch::keys::import_key_file(
            vault,
            name,
            file,
            Some(Sensitive::new(passphrase.expose().to_owned())),
            remember,
        ) {
            Err(airgate_launch::Error::Tunnel(
                e @ airgate_tunnel::Error::KeyPassphraseWrong { .. },
            )) if !stdin => eprintln!("{e}"),
            other => return Ok(other?),
        }
    }
    Err(Error::Tunnel(airgate_tunnel::Error::KeyPassphraseWrong {
        key: file.display().to_string(),
        stored: None,
    }))
}

fn ask_passphrase(vault: &Vault, key: &str, batch: bool, stdin: bool) -> Result<SecretText> {
    if batch && !stdin {
        return Err(Error::Tunnel(airgate_tunnel::Error::KeyPassphraseNeeded {
            key: format!("stored key {key:?}"),
            stored: Some(key.to_owned()),
        }));
    }
    for _ in 0..3 {
        let passphrase = read_secret(&format!("Passphrase for the stored key {key}: "), stdin)?;
        match airgate_launch::keys::check_passphrase(vault, key, &passphrase) {
            Ok(()) => return Ok(passphrase),
            Err(airgate_launch::Error::Tunnel(
                e @ airgate_tunnel::Error::KeyPassphraseWrong { .. },
            )) if !stdin => {
                eprintln!("{e}");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Tunnel(airgate_tunnel::Error::KeyPassphraseWrong {
        key: format!("stored key {key:?}"),
        stored: Some(key.to_owned()),
    }))
}

/// A secret from the terminal without echo, or one line of standard input.
pub fn read_secret(prompt: &str, stdin: bool) -> Result<SecretText> {
    if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(Error::Terminal)?;
        let line = line.trim_end_matches(['\n', '\r']).to_owned();
        return Ok(SecretText::new(line));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::NoTerminal);
    }
    let text = rpassword::prompt_password(prompt).map_err(Error::Terminal)?;
    Ok(SecretText::new(text))
}

fn confirm(question: &str) -> Result<bool> {
    eprint!("{question}");
    std::io::stderr().flush().map_err(Error::Terminal)?;
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(Error::Terminal)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn find_key(vault: &Vault, name: &str) -> Result<KeyRecord> {
    vault
        .keys()?
        .into_iter()
        .find(|k| k.name == name)
        .ok_or_else(|| {
            airgate_vault::Error::NoSuchKey {
                name: name.to_owned(),
            }
            .into()
        })
}

fn passphrase_state(key: &KeyRecord) -> &'static str {
    match (key.encrypted, key.passphrase_saved) {
        (false, _) => "No passphrase",
        (true, true) => "Passphrase remembered",
        (true, false) => "Passphrase asked when needed",
    }
}

/// The login a bastion's options name, if any.
fn login_key(key: Option<String>, key_file: Option<PathBuf>, agent: bool) -> Option<BastionKey> {
    match (key, key_file) {
        (Some(name), _) => Some(BastionKey::Stored { name }),
        (None, Some(path)) => Some(BastionKey::File { path }),
        (None, None) if agent => Some(BastionKey::Agent),
        (None, None) => None,
    }
}

/// `profile/region/name` (one environment) or `account=ID,region=REGION` (a rule).
fn serve_rule(spec: &str) -> Result<ServeRule> {
    let bad = || Error::BadServe(spec.to_owned());
    if !spec.contains('=') {
        return match spec.split('/').collect::<Vec<_>>().as_slice() {
            [profile, region, name] if [profile, region, name].iter().all(|p| !p.is_empty()) => {
                Ok(ServeRule {
                    environment: Some(spec.to_owned()),
                    account: None,
                    region: None,
                })
            }
            _ => Err(bad()),
        };
    }
    let mut rule = ServeRule {
        environment: None,
        account: None,
        region: None,
    };
    for part in spec.split(',') {
        match part.trim().split_once('=') {
            Some(("account", id)) if !id.is_empty() => rule.account = Some(id.to_owned()),
            Some(("region", region)) if !region.is_empty() => rule.region = Some(region.to_owned()),
            _ => return Err(bad()),
        }
    }
    Ok(rule)
}
