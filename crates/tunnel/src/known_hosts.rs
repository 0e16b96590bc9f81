//! Host key verification against OpenSSH known_hosts files.
//!
//! Supports what `ssh` itself reads: comma-separated host patterns with `*`/`?` wildcards and
//! `!` negation, `[host]:port` for non-standard ports, hashed names (`|1|salt|hash`, as written
//! by `HashKnownHosts yes`), `@revoked` keys, `@cert-authority` keys (host certificates they
//! signed are checked in `session.rs`), comments. A missing file is treated as empty, like `ssh`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{Algorithm, PublicKey};
use sha1::Sha1;

use crate::{Error, Result};

/// What known_hosts says about a key a bastion presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A line for this host holds exactly this key.
    Trusted,
    /// No line names this host.
    Unknown,
    /// Lines for this host hold other keys (of this type or another: a host that changes key
    /// type is treated as a changed key, never as an unknown one); the first one is named.
    Changed {
        path: PathBuf,
        line: usize,
        /// The SHA256 fingerprint of the key that line holds.
        known: String,
    },
    /// The key is listed as `@revoked`.
    Revoked { path: PathBuf, line: usize },
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    line: usize,
    revoked: bool,
    /// An `@cert-authority` line: the key signs host certificates, it is no host key itself.
    authority: bool,
    key: PublicKey,
}

/// The text of known_hosts files, read once (off the async executor) before a connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Loaded(Vec<(PathBuf, String)>);

/// Reads `files`, in order; a missing file is empty (as for `ssh`), and bytes that are not
/// UTF-8 (a stray byte in a comment) are replaced, so the other lines still count.
pub(crate) fn load(files: &[PathBuf]) -> Result<Loaded> {
    let mut loaded = Vec::new();
    for path in files {
        match std::fs::read(path) {
            Ok(bytes) => loaded.push((path.clone(), String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::KnownHostsUnreadable {
                    path: path.clone(),
                    source: source.into(),
                });
            }
        }
    }
    Ok(Loaded(loaded))
}

/// Checks `key`, presented by `host:port`, against `files` in order.
#[cfg(test)]
pub(crate) fn check(host: &str, port: u16, key: &PublicKey, files: &[PathBuf]) -> Result<Verdict> {
    Ok(check_loaded(host, port, key, &load(files)?))
}

/// Checks `key`, presented by `host:port`, against the `loaded` files in order.
pub(crate) fn check_loaded(host: &str, port: u16, key: &PublicKey, loaded: &Loaded) -> Verdict {
    let entries: Vec<Entry> = entries_of(host, port, loaded)
        .into_iter()
        .filter(|e| !e.authority)
        .collect();
    if let Some(e) = entries
        .iter()
        .find(|e| e.revoked && e.key.key_data() == key.key_data())
    {
        return Verdict::Revoked {
            path: e.path.clone(),
            line: e.line,
        };
    }
    let recorded: Vec<&Entry> = entries.iter().filter(|e| !e.revoked).collect();
    if recorded.iter().any(|e| e.key.key_data() == key.key_data()) {
        return Verdict::Trusted;
    }
    // Name a line with a key of the same type first, as `ssh` does; any other key still counts.
    let same_type = |e: &&&Entry| same_family(&e.key.algorithm(), &key.algorithm());
    match recorded.iter().find(same_type).or(recorded.first()) {
        Some(e) => Verdict::Changed {
            path: e.path.clone(),
            line: e.line,
            known: e.key.fingerprint(russh::keys::HashAlg::Sha256).to_string(),
        },
        None => Verdict::Unknown,
    }
}

/// Key algorithms known_hosts records for `host:port`, so the key exchange can ask the bastion
/// for a key type we can verify (as `ssh` orders its HostKeyAlgorithms).
pub(crate) fn known_algorithms(host: &str, port: u16, loaded: &Loaded) -> Vec<Algorithm> {
    entries_of(host, port, loaded)
        .into_iter()
        .filter(|e| !e.revoked && !e.authority)
        .map(|e| e.key.algorithm())
        .collect()
}

/// The `@cert-authority` keys trusted to sign host certificates for `host:port` (less any
/// that is `@revoked`).
pub(crate) fn authorities(host: &str, port: u16, loaded: &Loaded) -> Vec<PublicKey> {
    let entries = entries_of(host, port, loaded);
    let revoked = |key: &PublicKey| {
        entries
            .iter()
            .any(|e| e.revoked && e.key.key_data() == key.key_data())
    };
    entries
        .iter()
        .filter(|e| e.authority && !revoked(&e.key))
        .map(|e| e.key.clone())
        .collect()
}

/// Whether any `@cert-authority` line names `host:port` (even a revoked one: the certificate
/// is then asked for, and refused with the reason).
pub(crate) fn names_an_authority(host: &str, port: u16, loaded: &Loaded) -> bool {
    entries_of(host, port, loaded).iter().any(|e| e.authority)
}

/// Whether `key` (a host key or a CA) is `@revoked` for `host:port`.
pub(crate) fn is_revoked(
    host: &str,
    port: u16,
    key: &russh::keys::ssh_key::public::KeyData,
    loaded: &Loaded,
) -> bool {
    entries_of(host, port, loaded)
        .iter()
        .any(|e| e.revoked && e.key.key_data() == key)
}

/// Adds `host:port`'s `key` (OpenSSH `type base64`) to the known_hosts file `path` (created
/// when missing, written atomically, other lines kept as they are).
pub fn trust_host_key(path: &Path, host: &str, port: u16, key: &str) -> Result<()> {
    let parsed = key
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|blob| russh::keys::parse_public_key_base64(blob).ok())
        .ok_or_else(|| Error::KnownHostsWrite {
            path: path.to_owned(),
            reason: "the key is not an OpenSSH public key".to_owned(),
        })?;
    let write_error = |reason: String| Error::KnownHostsWrite {
        path: path.to_owned(),
        reason,
    };
    // The other lines are kept byte for byte, whatever they hold.
    let mut text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(write_error(e.to_string())),
    };
    if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    let line = parsed
        .to_openssh()
        .map_err(|e| write_error(e.to_string()))?;
    text.extend_from_slice(format!("{} {line}\n", lookup_name(host, port)).as_bytes());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| write_error(e.to_string()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            write_error(e.to_string())
        })
}

/// RSA keys sign with several hashes; they are one family.
pub(crate) fn same_family(a: &Algorithm, b: &Algorithm) -> bool {
    (a.clone().is_rsa() && b.clone().is_rsa()) || a == b
}

/// The name known_hosts uses for `host:port`.
fn lookup_name(host: &str, port: u16) -> String {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

fn entries_of(host: &str, port: u16, loaded: &Loaded) -> Vec<Entry> {
    let name = lookup_name(host, port);
    loaded
        .0
        .iter()
        .flat_map(|(path, text)| parse_matching(text, &name, path))
        .collect()
}

fn parse_matching(text: &str, name: &str, path: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_ascii_whitespace();
        let mut first = fields.next();
        let (mut revoked, mut authority) = (false, false);
        match first {
            Some("@revoked") => {
                revoked = true;
                first = fields.next();
            }
            Some("@cert-authority") => {
                authority = true;
                first = fields.next();
            }
            Some(marker) if marker.starts_with('@') => continue,
            _ => {}
        }
        let (Some(patterns), Some(_key_type), Some(blob)) = (first, fields.next(), fields.next())
        else {
            continue;
        };
        if !host_matches(name, patterns) {
            continue;
        }
        // A line `ssh` could not read either is skipped, as `ssh` does.
        if let Ok(key) = russh::keys::parse_public_key_base64(blob) {
            entries.push(Entry {
                path: path.to_owned(),
                line: index + 1,
                revoked,
                authority,
                key,
            });
        }
    }
    entries
}

/// Whether `name` matches a comma-separated pattern list: some positive pattern matches and no
/// negated one does.
fn host_matches(name: &str, patterns: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(hashed) = pattern.strip_prefix("|1|") {
            matched |= hashed_matches(name, hashed);
        } else if let Some(negated) = pattern.strip_prefix('!') {
            if glob(&negated.to_ascii_lowercase(), name) {
                return false;
            }
        } else if glob(&pattern.to_ascii_lowercase(), name) {
            matched = true;
        }
    }
    matched
}

fn hashed_matches(name: &str, salt_and_hash: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(name.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

/// `*` matches any run of characters, `?` exactly one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::process::Command;

    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOR3C+1fZl4HmeTSo020rA6K1X/FKxtuFyWbr41Lm78K";
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAICTROy99WR1a1ukAaxtb6vBkDps5MrGZNBMSJdIznaM1";

    fn key(blob: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(blob).unwrap()
    }

    fn file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn globs() {
        assert!(glob("*.example.com", "bastion.example.com"));
        assert!(glob("bastion-?", "bastion-1"));
        assert!(!glob("bastion-?", "bastion-12"));
        assert!(glob("*", ""));
        assert!(!glob("*.example.com", "example.org"));
        assert!(glob("[10.0.0.*]:2222", "[10.0.0.5]:2222"));
    }

    #[test]
    fn plain_port_and_pattern_lines() {
        let dir = tempfile::tempdir().unwrap();
        let files = [file(
            &dir,
            &format!(
                "# comment\n\nother ssh-ed25519 {ED_B}\n[bastion.example]:2222 ssh-ed25519 {ED_A} c\n\
                 *.corp,!evil.corp ssh-ed25519 {ED_A}\n"
            ),
        )];
        let check = |host, port, k| check(host, port, &key(k), &files).unwrap();
        assert_eq!(check("bastion.example", 2222, ED_A), Verdict::Trusted);
        assert_eq!(check("BASTION.example", 2222, ED_A), Verdict::Trusted);
        // Same host on port 22 is another entry: not known.
        assert_eq!(check("bastion.example", 22, ED_A), Verdict::Unknown);
        assert_eq!(check("jump.corp", 22, ED_A), Verdict::Trusted);
        assert_eq!(check("evil.corp", 22, ED_A), Verdict::Unknown);
        assert_eq!(
            check("bastion.example", 2222, ED_B),
            Verdict::Changed {
                path: files[0].clone(),
                line: 4,
                known: key(ED_A)
                    .fingerprint(russh::keys::HashAlg::Sha256)
                    .to_string(),
            }
        );
    }

    #[test]
    fn any_matching_line_trusts_and_revoked_wins() {
        let dir = tempfile::tempdir().unwrap();
        let files = [file(
            &dir,
            &format!("h ssh-ed25519 {ED_B}\nh ssh-ed25519 {ED_A}\n@revoked * ssh-ed25519 {ED_B}\n"),
        )];
        assert_eq!(
            check("h", 22, &key(ED_A), &files).unwrap(),
            Verdict::Trusted
        );
        assert_eq!(
            check("h", 22, &key(ED_B), &files).unwrap(),
            Verdict::Revoked {
                path: files[0].clone(),
                line: 3
            }
        );
    }

    #[test]
    fn missing_files_are_empty() {
        let files = [PathBuf::from("/nonexistent/airgate/known_hosts")];
        assert_eq!(
            check("h", 22, &key(ED_A), &files).unwrap(),
            Verdict::Unknown
        );
    }

    #[test]
    fn hashed_entries_written_by_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            &format!("[bastion.example]:2222 ssh-ed25519 {ED_A}\n"),
        );
        let status = Command::new("ssh-keygen")
            .arg("-q")
            .arg("-H")
            .arg("-f")
            .arg(&path)
            .status();
        assert!(status.unwrap().success(), "ssh-keygen -H failed");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("|1|"), "not hashed: {text}");
        let files = [path];
        assert_eq!(
            check("bastion.example", 2222, &key(ED_A), &files).unwrap(),
            Verdict::Trusted
        );
        assert_eq!(
            check("other.example", 2222, &key(ED_A), &files).unwrap(),
            Verdict::Unknown
        );
    }
}
