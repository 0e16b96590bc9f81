//! SSH private keys: where a session gets its key (a file, or text kept in the keyring), what a
//! key is (type, fingerprint, public half), and new keys.
//!
//! OpenSSH (`BEGIN OPENSSH PRIVATE KEY`) and PEM (PKCS#1 `BEGIN RSA PRIVATE KEY`, PKCS#8
//! `BEGIN PRIVATE KEY` / `BEGIN ENCRYPTED PRIVATE KEY`, legacy encrypted PEM) are read, encrypted
//! or not.

use std::fmt;
use std::path::PathBuf;

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData, RsaKeypair};
use russh::keys::{HashAlg, PrivateKey};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The text of a private key, or a passphrase: `Debug` prints `<redacted>`, the memory is
/// zeroed when dropped, and it is not `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

impl std::hash::Hash for SecretText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

impl SecretText {
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a session's private key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// A private key file, read at each connect.
    File(PathBuf),
    /// A key kept in the keyring: its name, its text as imported, and its passphrase when the
    /// key is encrypted and the passphrase is known (remembered, or just typed).
    Stored {
        name: String,
        text: SecretText,
        passphrase: Option<SecretText>,
    },
    /// The keys an SSH agent holds, at this socket (Unix) or named pipe (Windows), tried in
    /// turn as `ssh` does.
    Agent(PathBuf),
}

/// A key ready for login: decoded, or the agent to ask.
pub(crate) enum LoginKey {
    Private(Box<PrivateKey>),
    Agent(PathBuf),
}

impl KeySource {
    /// How errors name the key: its path, or "stored key NAME".
    pub fn label(&self) -> String {
        match self {
            KeySource::File(path) => path.display().to_string(),
            KeySource::Stored { name, .. } => format!("stored key {name:?}"),
            KeySource::Agent(path) => format!("SSH agent at {}", path.display()),
        }
    }

    /// Reads and decodes the key (a file is read here: call off the async executor).
    pub(crate) fn load(&self) -> Result<LoginKey> {
        if let KeySource::Agent(path) = self {
            return Ok(LoginKey::Agent(path.clone()));
        }
        self.decode().map(|key| LoginKey::Private(Box::new(key)))
    }

    fn decode(&self) -> Result<PrivateKey> {
        match self {
            KeySource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::KeyUnreadable {
                    key: self.label(),
                    reason: e.to_string(),
                })?;
                decode(&self.label(), None, &SecretText::new(text), None)
            }
            KeySource::Stored {
                name,
                text,
                passphrase,
            } => decode(&self.label(), Some(name), text, passphrase.as_ref()),
            KeySource::Agent(_) => unreachable!("an agent holds its keys"),
        }
    }
}

/// Where this system's SSH agent is: `SSH_AUTH_SOCK` on Unix, OpenSSH's agent pipe on Windows
/// (`airgate-paths` computes it per platform).
pub fn default_agent() -> Option<PathBuf> {
    airgate_paths::Platform::current().ssh_agent()
}

/// What a user sees of a private key; nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`.
    pub algorithm: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The public half as an `authorized_keys` line (`type base64 comment`).
    pub public_key: String,
    pub comment: String,
    /// Whether the key's text is passphrase protected.
    pub encrypted: bool,
}

/// Checks that `text` is a private key, decrypting it with `passphrase` when it is encrypted;
/// `key` names it in errors (e.g. the file it came from).
pub fn inspect(key: &str, text: &SecretText, passphrase: Option<&SecretText>) -> Result<KeyInfo> {
    let encrypted = matches!(
        decode(key, None, text, None),
        Err(Error::KeyPassphraseNeeded { .. })
    );
    let private = decode(key, None, text, passphrase)?;
    Ok(info(&private, encrypted))
}

/// The kinds of key Airgate makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum KeyKind {
    Ed25519,
    /// For old bastions that take no ed25519.
    Rsa4096,
}

/// A new private key (OpenSSH format, not encrypted) with `comment`, and what it is.
pub fn generate(kind: KeyKind, comment: &str) -> Result<(SecretText, KeyInfo)> {
    let failed = |reason: String| Error::KeyUnreadable {
        key: "the new key".to_owned(),
        reason,
    };
    let data = match kind {
        KeyKind::Ed25519 => {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(|e| failed(e.to_string()))?;
            KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed))
        }
        KeyKind::Rsa4096 => KeypairData::Rsa(
            RsaKeypair::random(&mut rand::rng(), 4096).map_err(|e| failed(e.to_string()))?,
        ),
    };
    let private = PrivateKey::new(data, comment).map_err(|e| failed(e.to_string()))?;
    let text = private
        .to_openssh(LineEnding::LF)
        .map_err(|e| failed(e.to_string()))?;
    Ok((SecretText::new(text.to_string()), info(&private, false)))
}

fn info(private: &PrivateKey, encrypted: bool) -> KeyInfo {
    let public = private.public_key();
    KeyInfo {
        algorithm: public.algorithm().as_str().to_owned(),
        fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
        public_key: public.to_openssh().unwrap_or_default(),
        comment: private.comment().as_str_lossy().to_owned(),
        encrypted,
    }
}

/// Decodes `text`, named `key` in errors (`stored`: the name of the stored key it is).
fn decode(
    key: &str,
    stored: Option<&str>,
    text: &SecretText,
    passphrase: Option<&SecretText>,
) -> Result<PrivateKey> {
    let stored = stored.map(str::to_owned);
    let text = text.expose();
    let trimmed = text.trim_start();
    let public = [
        "ssh-",
        "ecdsa-",
        "sk-",
        "-----BEGIN SSH2 PUBLIC KEY",
        "-----BEGIN PUBLIC KEY",
    ];
    if public.iter().any(|p| trimmed.starts_with(p)) {
        return Err(Error::KeyIsPublic {
            key: key.to_owned(),
        });
    }
    let passphrase = passphrase.map(SecretText::expose).filter(|p| !p.is_empty());
    match russh::keys::decode_secret_key(text, passphrase) {
        Ok(private) => Ok(private),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(Error::KeyPassphraseNeeded {
            key: key.to_owned(),
            stored,
        }),
        Err(e) if passphrase.is_some() && is_decryption_failure(&e) => {
            Err(Error::KeyPassphraseWrong {
                key: key.to_owned(),
                stored,
            })
        }
        Err(russh::keys::Error::UnsupportedKeyType {
            key_type_string, ..
        }) => Err(Error::KeyUnreadable {
            key: key.to_owned(),
            reason: format!(
                "its type {key_type_string} is not supported (use ed25519, ECDSA or RSA)"
            ),
        }),
        Err(russh::keys::Error::CouldNotReadKey) => Err(Error::KeyUnreadable {
            key: key.to_owned(),
            reason: "it is not a private key (an OpenSSH or PEM private key starts with \
                     -----BEGIN … PRIVATE KEY-----)"
                .to_owned(),
        }),
        Err(e) => Err(Error::KeyUnreadable {
            key: key.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Whether decoding an encrypted key failed because the passphrase is wrong (the decrypted
/// bytes do not check out), rather than because the text is broken.
fn is_decryption_failure(error: &russh::keys::Error) -> bool {
    use russh::keys::ssh_key::Error as KeyError;
    match error {
        russh::keys::Error::SshKey(KeyError::Crypto | KeyError::Encoding(_)) => true,
        russh::keys::Error::SshKey(_) => false,
        other => {
            let text = other.to_string().to_ascii_lowercase();
            text.contains("decrypt") || text.contains("padding") || text.contains("password")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretText {
        SecretText::new(text.to_owned())
    }

    /// `ssh-keygen -t TYPE -N PASSPHRASE -m FORMAT`: the private key text and the public line.
    fn keygen(kind: &str, passphrase: &str, format: Option<&str>) -> (String, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("key");
        let mut command = std::process::Command::new("ssh-keygen");
        command
            .args([
                "-q",
                "-t",
                kind,
                "-N",
                passphrase,
                "-C",
                "priya@laptop",
                "-f",
            ])
            .arg(&path);
        if kind == "rsa" {
            command.args(["-b", "2048"]);
        }
        if let Some(format) = format {
            command.args(["-m", format]);
        }
        let status = command.status().expect("run ssh-keygen");
        assert!(status.success(), "ssh-keygen {kind} {format:?}");
        let private = std::fs::read_to_string(&path).expect("private key");
        let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
        (private, public.trim().to_owned())
    }

    fn without_comment(line: &str) -> String {
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn keys_of_every_type_and_format_are_read_with_their_public_half() {
        for (kind, format) in [
            ("ed25519", None),
            ("ecdsa", None),
            ("rsa", None),
            ("rsa", Some("PEM")),
            ("rsa", Some("PKCS8")),
            ("ecdsa", Some("PKCS8")),
        ] {
            let (private, public) = keygen(kind, "", format);
            let info = inspect("k", &secret(&private), None)
                .unwrap_or_else(|e| panic!("{kind} {format:?}: {e}"));
            assert_eq!(
                without_comment(&info.public_key),
                without_comment(&public),
                "{kind} {format:?}"
            );
            assert!(info.fingerprint.starts_with("SHA256:"), "{info:?}");
            assert!(!info.encrypted);
        }
    }

    #[test]
    fn an_encrypted_key_needs_its_passphrase_and_refuses_a_wrong_one() {
        for format in [None, Some("PKCS8")] {
            let (private, public) = keygen("ed25519", "correct horse", format);
            let text = secret(&private);
            if format.is_some() {
                // ssh-keygen writes ed25519 keys in OpenSSH format whatever -m says.
                assert!(private.contains("OPENSSH PRIVATE KEY"));
            }
            assert!(matches!(
                inspect("k", &text, None),
                Err(Error::KeyPassphraseNeeded { .. })
            ));
            assert!(
                matches!(
                    inspect("k", &text, Some(&secret("wrong"))),
                    Err(Error::KeyPassphraseWrong { .. })
                ),
                "{:?}",
                inspect("k", &text, Some(&secret("wrong")))
            );
            let info = inspect("k", &text, Some(&secret("correct horse"))).expect("decrypted");
            assert!(info.encrypted);
            assert_eq!(info.comment, "priya@laptop");
            assert_eq!(without_comment(&info.public_key), without_comment(&public));
        }
        let (private, _) = keygen("rsa", "correct horse", Some("PKCS8"));
        let text = secret(&private);
        assert!(private.contains("ENCRYPTED PRIVATE KEY"), "{private}");
        assert!(matches!(
            inspect("k", &text, Some(&secret("wrong"))),
            Err(Error::KeyPassphraseWrong { .. })
        ));
        assert!(inspect("k", &text, Some(&secret("correct horse"))).is_ok());
    }

    #[test]
    fn a_public_key_or_other_text_is_refused_saying_what_it_is() {
        let (_, public) = keygen("ed25519", "", None);
        let err = inspect("id_ed25519.pub", &secret(&public), None).expect_err("public key");
        assert!(matches!(err, Error::KeyIsPublic { .. }), "{err:?}");
        assert!(err.to_string().contains("public key"), "{err}");
        let err = inspect("notes.txt", &secret("hello"), None).expect_err("not a key");
        assert!(err.to_string().contains("not a private key"), "{err}");
    }

    #[test]
    fn generated_keys_are_read_back_and_have_their_comment() {
        let (text, info) = generate(KeyKind::Ed25519, "airgate prod").expect("ed25519");
        assert_eq!(info.algorithm, "ssh-ed25519");
        assert!(info.public_key.ends_with(" airgate prod"), "{info:?}");
        assert_eq!(inspect("k", &text, None).expect("reads back"), info);
        let (other, _) = generate(KeyKind::Ed25519, "").expect("another");
        assert_ne!(other, text, "every key is new");
    }

    #[test]
    fn a_generated_rsa_key_has_4096_bits() {
        let (text, info) = generate(KeyKind::Rsa4096, "old-bastion").expect("rsa");
        assert_eq!(info.algorithm, "ssh-rsa");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rsa.pub");
        std::fs::write(&path, &info.public_key).expect("write public key");
        let listed = std::process::Command::new("ssh-keygen")
            .arg("-lf")
            .arg(&path)
            .output()
            .expect("ssh-keygen -lf");
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(listed.starts_with("4096 "), "{listed}");
        assert_eq!(inspect("k", &text, None).expect("reads back"), info);
    }

    #[test]
    fn secret_text_never_shows_in_debug() {
        let source = KeySource::Stored {
            name: "prod".to_owned(),
            text: secret("-----BEGIN OPENSSH PRIVATE KEY-----"),
            passphrase: Some(secret("hunter2")),
        };
        let shown = format!("{source:?}");
        assert!(
            !shown.contains("BEGIN") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
