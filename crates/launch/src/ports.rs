//! The local SOCKS port of each environment's tunnel, kept in `ports.json` in the data
//! directory: picked once (any free port), then the same on every Connect, across restarts, so
//! that a proxy setting pointing at it keeps working. Editable; nothing secret.
//!
//! A file that cannot be read is kept as it is and reported; nothing is recorded over it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::settings::{read_json, write_json};
use crate::{Error, Result};

/// The ports file's name inside the data directory.
pub const PORTS_FILE: &str = "ports.json";

/// Ports below this are refused as fixed ports (they need privileges, or belong to services).
pub const LOWEST_PORT: u16 = 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PortsFile {
    ports: BTreeMap<String, u16>,
}

/// Every remembered port, by tunnel id.
pub fn all(data_dir: &Path) -> Result<BTreeMap<String, u16>> {
    Ok(load(data_dir)?.ports)
}

/// The port of the tunnel `id`, when one was remembered.
pub fn of(data_dir: &Path, id: &str) -> Result<Option<u16>> {
    Ok(load(data_dir)?.ports.get(id).copied())
}

/// Where the tunnel `id` listens: its remembered port on 127.0.0.1, else any free one.
pub fn listen_addr(data_dir: &Path, id: &str) -> Result<std::net::SocketAddr> {
    let port = of(data_dir, id)?.unwrap_or(0);
    Ok(std::net::SocketAddr::from((
        std::net::Ipv4Addr::LOCALHOST,
        port,
    )))
}

/// Remembers `port` for `id` (after its first Connect), unless another port is remembered.
pub fn remember(data_dir: &Path, id: &str, port: u16) -> Result<()> {
    if load(data_dir)?.ports.contains_key(id) {
        return Ok(());
    }
    update(data_dir, |file| {
        file.ports.entry(id.to_owned()).or_insert(port);
        Ok(())
    })
    .map(drop)
}

/// Sets the port of `id` (`None`: forget it; the next Connect picks a free one again). A port
/// below [`LOWEST_PORT`], or one another tunnel has, is refused.
pub fn set(data_dir: &Path, id: &str, port: Option<u16>) -> Result<BTreeMap<String, u16>> {
    update(data_dir, |file| {
        match port {
            None => {
                file.ports.remove(id);
            }
            Some(port) if port < LOWEST_PORT => {
                return Err(Error::PortRefused {
                    port,
                    reason: format!("ports below {LOWEST_PORT} need privileges"),
                });
            }
            Some(port) => {
                if let Some((other, _)) = file.ports.iter().find(|(o, p)| **p == port && *o != id) {
                    return Err(Error::PortRefused {
                        port,
                        reason: format!("the tunnel {other} has it"),
                    });
                }
                file.ports.insert(id.to_owned(), port);
            }
        }
        Ok(())
    })
    .map(|file| file.ports)
}

fn load(data_dir: &Path) -> Result<PortsFile> {
    read_json(&data_dir.join(PORTS_FILE))
}

fn update(data_dir: &Path, change: impl FnOnce(&mut PortsFile) -> Result<()>) -> Result<PortsFile> {
    let mut file = load(data_dir)?;
    change(&mut file)?;
    write_json(&data_dir.join(PORTS_FILE), &file)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_remembered_once_and_can_be_changed_or_forgotten() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(of(dir.path(), "p/r/a").expect("none yet"), None);
        remember(dir.path(), "p/r/a", 41080).expect("remember");
        remember(dir.path(), "p/r/a", 50000).expect("a later Connect does not move it");
        assert_eq!(of(dir.path(), "p/r/a").expect("read"), Some(41080));
        set(dir.path(), "p/r/a", Some(8157)).expect("edit");
        assert_eq!(of(dir.path(), "p/r/a").expect("read"), Some(8157));
        set(dir.path(), "p/r/a", None).expect("forget");
        assert_eq!(all(dir.path()).expect("read"), BTreeMap::new());
    }

    #[test]
    fn privileged_and_taken_ports_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        remember(dir.path(), "p/r/a", 41080).expect("remember");
        let taken = set(dir.path(), "p/r/b", Some(41080)).expect_err("taken");
        assert!(
            taken.to_string().contains("the tunnel p/r/a has it"),
            "{taken}"
        );
        let low = set(dir.path(), "p/r/b", Some(80)).expect_err("privileged");
        assert!(low.to_string().contains("below 1024"), "{low}");
        assert_eq!(of(dir.path(), "p/r/b").expect("read"), None);
    }

    #[test]
    fn a_broken_file_is_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(PORTS_FILE);
        std::fs::write(&path, "{ports").expect("write");
        remember(dir.path(), "p/r/a", 41080).expect_err("broken");
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "{ports");
    }
}
