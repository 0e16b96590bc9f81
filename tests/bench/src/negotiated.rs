//! Which cipher russh negotiated: russh logs the negotiated algorithms (`log` crate, debug level)
//! during the key exchange. A logger that keeps only that line is installed for the handshake
//! and switched off before anything is measured, so the data path logs nothing.

use std::sync::{Mutex, PoisonError};

use log::{LevelFilter, Log, Metadata, Record};

const NEEDLE: &str = "negotiated algorithms";

/// Keeps russh's "negotiated algorithms" lines.
#[derive(Debug, Default)]
pub struct KexCapture {
    lines: Mutex<Vec<String>>,
}

impl KexCapture {
    /// Installs the capture as the process's logger, at debug level. `None` when another
    /// logger is already installed (a process has only one).
    pub fn install() -> Option<&'static KexCapture> {
        let capture: &'static KexCapture = Box::leak(Box::default());
        log::set_logger(capture).ok()?;
        log::set_max_level(LevelFilter::Debug);
        Some(capture)
    }

    /// Stops all logging: every later log call returns at the level check.
    pub fn stop(&self) {
        log::set_max_level(LevelFilter::Off);
    }

    /// The cipher of the last key exchange seen.
    pub fn cipher(&self) -> Option<String> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().rev().find_map(|line| parse_cipher(line))
    }
}

impl Log for KexCapture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("russh") && metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = record.args().to_string();
        if text.contains(NEEDLE) {
            self.lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(text);
        }
    }

    fn flush(&self) {}
}

/// `cipher: Name("aes128-gcm@openssh.com")` in russh's `Names` debug output.
fn parse_cipher(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("cipher: Name(\"")?;
    let (name, _) = rest.split_once('"')?;
    Some(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cipher_from_russh_names() {
        let line = "negotiated algorithms: Names { kex: Name(\"curve25519-sha256\"), key: Ed25519, \
                    cipher: Name(\"aes128-gcm@openssh.com\"), client_mac: Name(\"none\"), .. }";
        assert_eq!(
            parse_cipher(line).as_deref(),
            Some("aes128-gcm@openssh.com")
        );
        assert_eq!(parse_cipher("negotiated algorithms: ?"), None);
    }
}
