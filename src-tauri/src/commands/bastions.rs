use airgate_vault::BastionRecord;
use tauri::State;

use crate::error::{CmdResult, Error};
use crate::state::AppState;

/// The saved bastions.
#[tauri::command]
#[specta::specta]
pub async fn list_bastions(state: State<'_, AppState>) -> CmdResult<Vec<BastionRecord>> {
    Ok(state
        .with_vault("Reading saved bastions", |vault| vault.bastions())
        .await?)
}

/// Saves `bastion` (replacing the one with the same name) and returns every saved bastion.
#[tauri::command]
#[specta::specta]
pub async fn save_bastion(
    state: State<'_, AppState>,
    bastion: BastionRecord,
) -> CmdResult<Vec<BastionRecord>> {
    let bastion = validate(bastion)?;
    Ok(state
        .with_vault("Saving the bastion", move |vault| {
            vault.save_bastion(&bastion)?;
            vault.bastions()
        })
        .await?)
}

/// Trims the fields and checks what a user can get wrong in the form.
fn validate(mut b: BastionRecord) -> Result<BastionRecord, Error> {
    b.name = b.name.trim().to_owned();
    b.host = b.host.trim().to_owned();
    b.user = b.user.trim().to_owned();
    let missing = [("name", &b.name), ("host", &b.host), ("user", &b.user)]
        .into_iter()
        .find(|(_, v)| v.is_empty());
    if let Some((field, _)) = missing {
        return Err(Error::InvalidInput(format!(
            "The bastion's {field} is empty. Fill it in, then save again."
        )));
    }
    if b.port == 0 {
        return Err(Error::InvalidInput(
            "Port 0 is not a port. SSH usually listens on 22.".to_owned(),
        ));
    }
    if !b.key_path.is_file() {
        return Err(Error::InvalidInput(format!(
            "No key file at {}. Give the path of the private key you log in to the bastion with.",
            b.key_path.display()
        )));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key_path: &std::path::Path) -> BastionRecord {
        BastionRecord {
            name: " jump ".into(),
            host: "bastion.example".into(),
            port: 22,
            user: "ec2-user".into(),
            key_path: key_path.to_path_buf(),
        }
    }

    #[test]
    fn a_missing_key_file_is_refused_with_its_path() {
        let err = validate(record(std::path::Path::new("/nonexistent/id_ed25519")))
            .expect_err("a key that does not exist is refused");
        assert_eq!(
            err.to_string(),
            "No key file at /nonexistent/id_ed25519. Give the path of the private key you log in \
             to the bastion with."
        );
    }

    #[test]
    fn fields_are_trimmed_and_empty_ones_named() {
        let key = tempfile::NamedTempFile::new().expect("temp key file");
        assert_eq!(validate(record(key.path())).expect("valid").name, "jump");
        let mut no_host = record(key.path());
        no_host.host = "  ".into();
        let err = validate(no_host).expect_err("an empty host is refused");
        assert!(
            err.to_string().starts_with("The bastion's host is empty"),
            "{err}"
        );
    }
}
