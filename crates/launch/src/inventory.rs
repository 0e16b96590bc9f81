//! The last list of environments, kept in `inventory.json` in the data directory so the window
//! shows it at once on start while a fresh sweep runs. It holds what lists show (names,
//! statuses, hosts, ARNs), nothing secret.
//!
//! A file that cannot be read is moved aside (`inventory.json.unreadable`), never overwritten;
//! writes are atomic.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use airgate_discovery::{Discovery, Environment, Identity};
use serde::{Deserialize, Serialize};

use crate::settings::write_atomically;

/// The cache file's name inside the data directory.
pub const INVENTORY_FILE: &str = "inventory.json";
const FORMAT: u32 = 1;

/// The environments of the last sweep, and when it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// Milliseconds since the Unix epoch (a JavaScript time: exact far beyond this century).
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub saved_at_ms: u64,
    pub environments: Vec<Environment>,
    /// Who each profile was.
    #[serde(default)]
    pub identities: Vec<Identity>,
}

#[derive(Serialize, Deserialize)]
struct File {
    format: u32,
    #[serde(flatten)]
    inventory: Inventory,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(INVENTORY_FILE)
}

/// The cached inventory; `None` when there is none, or when the file could not be read (it is
/// then moved aside, and a warning logged: the cache is only a head start).
pub fn load(data_dir: &Path) -> Option<Inventory> {
    let path = path(data_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => {
            tracing::warn!(path = %path.display(), cause = %err, "cannot read the cached environments");
            return None;
        }
    };
    match serde_json::from_slice::<File>(&bytes) {
        Ok(file) if file.format == FORMAT => Some(file.inventory),
        Ok(file) => {
            tracing::info!(
                format = file.format,
                "cached environments of another format: not used"
            );
            None
        }
        Err(err) => {
            let aside = path.with_extension("json.unreadable");
            tracing::warn!(
                path = %path.display(),
                kept = %aside.display(),
                cause = %err,
                "the cached environments cannot be read: kept aside"
            );
            let _ = std::fs::rename(&path, &aside);
            None
        }
    }
}

/// Saves what `discovery` found. The environments of sources that failed this time are kept
/// from the cache being replaced (a profile whose SSO session ended still shows what it had), so
/// one failing source never empties the cache of its rows. A cache that cannot be read is moved
/// aside by [`load`] first, never overwritten.
pub fn save(data_dir: &Path, discovery: &Discovery) -> std::io::Result<Inventory> {
    let target = path(data_dir);
    let previous = load(data_dir);
    if previous.is_none() && target.exists() {
        return Err(std::io::Error::other(format!(
            "{} is not Airgate's: kept as it is",
            target.display()
        )));
    }
    let file = File {
        format: FORMAT,
        inventory: merge(discovery, previous.as_ref(), now_ms()),
    };
    let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    write_atomically(&target, &bytes)?;
    Ok(file.inventory)
}

fn merge(discovery: &Discovery, previous: Option<&Inventory>, saved_at_ms: u64) -> Inventory {
    let failed: BTreeSet<(&str, Option<&str>)> = discovery
        .failures
        .iter()
        .map(|f| (f.profile.as_str(), f.region.as_deref()))
        .collect();
    let mut environments = discovery.environments.clone();
    if let Some(previous) = previous {
        environments.extend(
            previous
                .environments
                .iter()
                .filter(|env| {
                    failed.contains(&(env.profile.as_str(), Some(env.region.as_str())))
                        || failed.contains(&(env.profile.as_str(), None))
                })
                .cloned(),
        );
    }
    environments
        .sort_by(|a, b| (&a.profile, &a.region, &a.name).cmp(&(&b.profile, &b.region, &b.name)));
    environments.dedup_by(|a, b| a.id() == b.id());
    // A profile that could not tell who it is this time keeps what it was.
    let mut identities = discovery.identities.clone();
    if let Some(previous) = previous {
        for identity in &previous.identities {
            if !identities.iter().any(|i| i.profile == identity.profile) {
                identities.push(identity.clone());
            }
        }
    }
    identities.sort_by(|a, b| a.profile.cmp(&b.profile));
    Inventory {
        saved_at_ms,
        environments,
        identities,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use airgate_discovery::{AccessMode, FailureKind, SourceFailure};

    use super::*;

    fn env(profile: &str, region: &str, name: &str) -> Environment {
        Environment {
            name: name.to_owned(),
            profile: profile.to_owned(),
            region: region.to_owned(),
            status: "AVAILABLE".to_owned(),
            airflow_version: Some("2.10.3".to_owned()),
            access: AccessMode::PrivateVpce,
            webserver_host: Some(format!("{name}-vpce.c1.{region}.airflow.amazonaws.com")),
            arn: Some(format!(
                "arn:aws:airflow:{region}:111111111111:environment/{name}"
            )),
            security_group_ids: vec!["sg-1".to_owned()],
            ..Environment::default()
        }
    }

    fn identity(profile: &str, account: &str) -> Identity {
        Identity {
            profile: profile.to_owned(),
            account: account.to_owned(),
            arn: format!("arn:aws:iam::{account}:user/{profile}"),
        }
    }

    fn failure(profile: &str, region: Option<&str>) -> SourceFailure {
        SourceFailure {
            profile: profile.to_owned(),
            region: region.map(str::to_owned),
            kind: FailureKind::Credentials,
            message: "expired".to_owned(),
            sso: true,
        }
    }

    #[test]
    fn the_last_list_comes_back_and_a_failing_source_keeps_its_rows() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(load(dir.path()), None, "no cache yet");
        let first = Discovery {
            environments: vec![
                env("prod", "eu-west-1", "orders"),
                env("sso", "us-east-1", "ml"),
            ],
            failures: Vec::new(),
            identities: vec![
                identity("prod", "111111111111"),
                identity("sso", "222222222222"),
            ],
        };
        let saved = save(dir.path(), &first).expect("saved");
        assert_eq!(load(dir.path()).as_ref(), Some(&saved));
        assert_eq!(saved.environments, first.environments);
        assert!(saved.saved_at_ms > 1_700_000_000_000);

        // The SSO profile fails next time and orders is gone: ml stays, orders goes.
        let second = Discovery {
            environments: vec![env("prod", "eu-west-1", "reports")],
            failures: vec![failure("sso", None)],
            identities: vec![identity("prod", "111111111111")],
        };
        let merged = save(dir.path(), &second).expect("saved");
        let names: Vec<&str> = merged
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["reports", "ml"]);
        // Who the failing profile was is kept as well.
        assert_eq!(merged.identities, first.identities);
        // A region that failed keeps its rows too.
        let third = Discovery {
            environments: Vec::new(),
            failures: vec![failure("prod", Some("eu-west-1")), failure("sso", None)],
            identities: Vec::new(),
        };
        let kept = save(dir.path(), &third).expect("saved");
        assert_eq!(kept.environments, merged.environments);
        assert!(
            !std::fs::read_to_string(dir.path().join(INVENTORY_FILE))
                .expect("file")
                .contains("secret"),
        );
    }

    #[test]
    fn an_unreadable_cache_is_kept_aside_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(INVENTORY_FILE), "{ not json").expect("write");
        assert_eq!(load(dir.path()), None);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("inventory.json.unreadable")).expect("kept"),
            "{ not json"
        );
        let found = Discovery {
            environments: vec![env("prod", "eu-west-1", "orders")],
            failures: Vec::new(),
            identities: Vec::new(),
        };
        save(dir.path(), &found).expect("a new cache beside the kept file");
        assert_eq!(
            load(dir.path()).expect("cache").environments,
            found.environments
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("inventory.json.unreadable")).expect("kept"),
            "{ not json"
        );
    }
}
