//! Favourite and recently opened environments, for the tray's quick Open: `shortcuts.json` in
//! the data directory (ids only, nothing secret).
//!
//! A file that cannot be read is kept as it is and reported; nothing is recorded over it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::settings::{read_json, write_json};

/// The shortcuts file's name inside the data directory.
pub const SHORTCUTS_FILE: &str = "shortcuts.json";
/// How many recently opened environments are kept.
pub const RECENT_LIMIT: usize = 5;

/// Favourites (in the order they were starred) and recent Opens (latest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Shortcuts {
    pub favourites: Vec<String>,
    pub recent: Vec<Recent>,
}

/// An environment (by id) opened lately, and the bastion that Open went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recent {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bastion: Option<String>,
}

impl Shortcuts {
    /// Favourites first, then recent Opens, each id once.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for id in self
            .favourites
            .iter()
            .chain(self.recent.iter().map(|r| &r.id))
        {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }

    /// The bastion the last Open of `id` went through.
    pub fn bastion_of(&self, id: &str) -> Option<&str> {
        self.recent
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.bastion.as_deref())
    }
}

/// Reads the shortcuts of `data_dir`; a missing file gives none.
pub fn load(data_dir: &Path) -> Result<Shortcuts> {
    read_json(&data_dir.join(SHORTCUTS_FILE))
}

fn update(data_dir: &Path, change: impl FnOnce(&mut Shortcuts)) -> Result<Shortcuts> {
    let mut shortcuts = load(data_dir)?;
    change(&mut shortcuts);
    write_json(&data_dir.join(SHORTCUTS_FILE), &shortcuts)?;
    Ok(shortcuts)
}

/// Records an Open of `id` through `bastion` as the latest, keeping [`RECENT_LIMIT`].
pub fn record_open(data_dir: &Path, id: &str, bastion: Option<&str>) -> Result<Shortcuts> {
    update(data_dir, |shortcuts| {
        let previous = shortcuts.bastion_of(id).map(str::to_owned);
        shortcuts.recent.retain(|r| r.id != id);
        shortcuts.recent.insert(
            0,
            Recent {
                id: id.to_owned(),
                bastion: bastion.map(str::to_owned).or(previous),
            },
        );
        shortcuts.recent.truncate(RECENT_LIMIT);
    })
}

/// Stars (or unstars) `id`.
pub fn set_favourite(data_dir: &Path, id: &str, favourite: bool) -> Result<Shortcuts> {
    update(data_dir, |shortcuts| {
        let starred = shortcuts.favourites.iter().any(|f| f == id);
        if favourite && !starred {
            shortcuts.favourites.push(id.to_owned());
        } else if !favourite {
            shortcuts.favourites.retain(|f| f != id);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_opens_are_latest_first_limited_and_keep_their_bastion() {
        let dir = tempfile::tempdir().expect("temp dir");
        for n in 0..7 {
            record_open(dir.path(), &format!("p/r/env{n}"), Some("jump")).expect("record");
        }
        // Opened again through a tunnel already up (no bastion named): the bastion stays.
        let shortcuts = record_open(dir.path(), "p/r/env3", None).expect("record");
        let ids: Vec<&str> = shortcuts.recent.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["p/r/env3", "p/r/env6", "p/r/env5", "p/r/env4", "p/r/env2"]
        );
        assert_eq!(shortcuts.bastion_of("p/r/env3"), Some("jump"));
        assert_eq!(load(dir.path()).expect("load"), shortcuts);
    }

    #[test]
    fn favourites_come_first_each_id_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        record_open(dir.path(), "p/r/a", None).expect("record");
        record_open(dir.path(), "p/r/b", None).expect("record");
        set_favourite(dir.path(), "p/r/a", true).expect("star");
        set_favourite(dir.path(), "p/r/c", true).expect("star");
        set_favourite(dir.path(), "p/r/c", true).expect("star twice");
        assert_eq!(
            load(dir.path()).expect("load").ids(),
            ["p/r/a", "p/r/c", "p/r/b"]
        );
        let shortcuts = set_favourite(dir.path(), "p/r/a", false).expect("unstar");
        assert_eq!(shortcuts.favourites, ["p/r/c"]);
    }

    #[test]
    fn a_broken_file_is_kept_and_nothing_is_recorded_over_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(SHORTCUTS_FILE);
        std::fs::write(&path, "[oops").expect("write");
        let err = record_open(dir.path(), "p/r/a", None).expect_err("broken");
        assert!(err.to_string().contains("left as it is"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "[oops");
    }
}
