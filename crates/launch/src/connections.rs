//! Airflow connections in the keyring, for the app and the CLI: store one (checked as Airflow
//! would), read one back whole, import a `.env` file or a value, give the `AIRFLOW_CONN_<ID>`
//! variables a command runs with, and push them to or pull them from AWS Secrets Manager where
//! an MWAA environment's Airflow reads them.
//!
//! Vault calls block on the keyring: call these from a blocking thread in async code (the
//! Secrets Manager calls are async and take no vault).

use airgate_discovery::{ConnectionsPrefix, SecretsManager, Written};
use airgate_vault::{ConnectionRecord, Sensitive, Vault};
use serde::Serialize;

use crate::airflow_conn::{self, AirflowConnection};
use crate::{Error, Result};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ConnImport {
    /// conn_ids stored.
    pub saved: Vec<String>,
    /// Lines or connections not stored, and why.
    pub problems: Vec<String>,
}

/// Stores `conn` (checked as Airflow reads connections): its password and extra as secrets.
pub fn store(vault: &Vault, conn: &AirflowConnection) -> Result<ConnectionRecord> {
    conn.validate().map_err(Error::Connection)?;
    let blank = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let record = ConnectionRecord {
        conn_id: conn.conn_id.clone(),
        conn_type: conn.conn_type.clone(),
        host: blank(&conn.host),
        schema: blank(&conn.schema),
        login: blank(&conn.login),
        port: conn.port,
        description: blank(&conn.description),
        has_password: false,
        has_extra: false,
    };
    let password = conn.password.clone().map(Sensitive::new);
    let extra = blank(&conn.extra).map(Sensitive::new);
    Ok(vault.save_connection(&record, password.as_ref(), extra.as_ref())?)
}

/// The stored connection `conn_id`, whole (with its password and extra).
pub fn load(vault: &Vault, conn_id: &str) -> Result<AirflowConnection> {
    let (record, secrets) = vault
        .connection(conn_id)?
        .ok_or_else(|| Error::NoSuchConnection {
            conn_id: conn_id.to_owned(),
        })?;
    Ok(AirflowConnection {
        conn_id: record.conn_id,
        conn_type: record.conn_type,
        host: record.host,
        schema: record.schema,
        login: record.login,
        password: secrets.password.map(Sensitive::into_inner),
        port: record.port,
        extra: secrets.extra.map(Sensitive::into_inner),
        description: record.description,
    })
}

/// Stores every connection of a `.env` text (`AIRFLOW_CONN_<ID>=<URI or JSON>` lines); the
/// lines it cannot read are reported, the others stored.
pub fn import_env(vault: &Vault, text: &str) -> Result<ConnImport> {
    let (connections, problems) = airflow_conn::parse_env_file(text);
    let mut report = ConnImport {
        saved: Vec::new(),
        problems,
    };
    for conn in connections {
        match store(vault, &conn) {
            Ok(saved) => report.saved.push(saved.conn_id),
            Err(e) => report.problems.push(format!("{}: {e}", conn.conn_id)),
        }
    }
    Ok(report)
}

/// Stores `value` (a connection URI or its JSON form, as `AIRFLOW_CONN_*` holds it) as `conn_id`.
pub fn import_value(vault: &Vault, conn_id: &str, value: &str) -> Result<ConnectionRecord> {
    let conn = AirflowConnection::from_env_value(conn_id, value).map_err(Error::Connection)?;
    store(vault, &conn)
}

/// `AIRFLOW_CONN_<ID>` and its value for each of `conn_ids` (every stored connection when
/// empty), in the form any Airflow reads back unchanged (with `json`, the JSON form).
pub fn environment(
    vault: &Vault,
    conn_ids: &[String],
    json: bool,
) -> Result<Vec<(String, Sensitive<String>)>> {
    ids_or_all(vault, conn_ids)?
        .iter()
        .map(|id| {
            let conn = load(vault, id)?;
            Ok((
                airflow_conn::env_var(id),
                Sensitive::new(if json {
                    conn.to_json()
                } else {
                    conn.to_env_value()
                }),
            ))
        })
        .collect()
}

/// One connection written to Secrets Manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Pushed {
    pub conn_id: String,
    /// The secret's name.
    pub secret: String,
    pub written: Written,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ConnPush {
    pub pushed: Vec<Pushed>,
    /// Connections not written, and why.
    pub problems: Vec<String>,
}

/// The secret strings to push for `conn_ids` (every stored connection when empty): the value
/// `AIRFLOW_CONN_<ID>` would hold, which Secrets Manager's backend reads the same way (the URI
/// when it reads back unchanged, which every Airflow version reads; else the JSON form; with
/// `json`, always the JSON form).
pub fn push_values(
    vault: &Vault,
    conn_ids: &[String],
    json: bool,
) -> Result<Vec<(String, Sensitive<String>)>> {
    ids_or_all(vault, conn_ids)?
        .into_iter()
        .map(|id| {
            let conn = load(vault, &id)?;
            let value = if json {
                conn.to_json()
            } else {
                conn.to_env_value()
            };
            Ok((id, Sensitive::new(value)))
        })
        .collect()
}

/// Writes each (conn_id, value) of [`push_values`] to its secret under `prefix`, creating the
/// secrets that do not exist. One that fails is reported; the others are still written.
pub async fn push(
    manager: &SecretsManager,
    prefix: &ConnectionsPrefix,
    values: &[(String, Sensitive<String>)],
) -> ConnPush {
    let mut report = ConnPush::default();
    for (conn_id, value) in values {
        let secret = prefix.secret_name(conn_id);
        match manager.put(&secret, value.expose()).await {
            Ok(written) => report.pushed.push(Pushed {
                conn_id: conn_id.clone(),
                secret,
                written,
            }),
            Err(err) => report.problems.push(format!("{conn_id}: {err}")),
        }
    }
    report
}

/// Reads `conn_ids` (every connection under `prefix` when empty) from Secrets Manager, as the
/// environment's Airflow reads them. Secrets that are missing or that Airflow could not read
/// are reported.
pub async fn fetch(
    manager: &SecretsManager,
    prefix: &ConnectionsPrefix,
    conn_ids: &[String],
) -> Result<(Vec<AirflowConnection>, Vec<String>)> {
    let ids: Vec<String> = if conn_ids.is_empty() {
        manager
            .names(&prefix.list_prefix())
            .await?
            .iter()
            .filter_map(|name| prefix.conn_id(name))
            .filter(|id| airflow_conn::validate_conn_id(id).is_ok())
            .map(str::to_owned)
            .collect()
    } else {
        conn_ids.to_vec()
    };
    let mut connections = Vec::new();
    let mut problems = Vec::new();
    for id in ids {
        let secret = prefix.secret_name(&id);
        match manager.get(&secret).await {
            Ok(Some(value)) => match AirflowConnection::from_secrets_manager(&id, &value) {
                Ok(conn) => connections.push(conn),
                Err(err) => problems.push(format!(
                    "{id}: the secret {secret} is not a connection Airflow reads ({err})"
                )),
            },
            Ok(None) => problems.push(format!("{id}: there is no secret {secret}")),
            Err(err) => problems.push(format!("{id}: {err}")),
        }
    }
    Ok((connections, problems))
}

/// Stores connections [`fetch`]ed; one already stored is kept unless `replace`.
pub fn store_pulled(
    vault: &Vault,
    connections: &[AirflowConnection],
    replace: bool,
) -> Result<ConnImport> {
    let stored: Vec<String> = vault
        .connections()?
        .into_iter()
        .map(|c| c.conn_id)
        .collect();
    let mut report = ConnImport::default();
    for conn in connections {
        if !replace && stored.contains(&conn.conn_id) {
            report.problems.push(format!(
                "{}: a connection of that id is stored already (kept; replace it to take the pulled one)",
                conn.conn_id
            ));
            continue;
        }
        match store(vault, conn) {
            Ok(saved) => report.saved.push(saved.conn_id),
            Err(e) => report.problems.push(format!("{}: {e}", conn.conn_id)),
        }
    }
    Ok(report)
}

fn ids_or_all(vault: &Vault, conn_ids: &[String]) -> Result<Vec<String>> {
    Ok(if conn_ids.is_empty() {
        vault
            .connections()?
            .into_iter()
            .map(|c| c.conn_id)
            .collect()
    } else {
        conn_ids.to_vec()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use keyring_core::{CredentialStore, mock};

    use super::*;

    #[test]
    fn an_env_file_is_stored_and_given_back_as_airflow_reads_it() {
        let store: Arc<CredentialStore> = mock::Store::new().expect("mock store");
        let vault = Vault::with_store(store, "app.airgate.test");
        let text = "# warehouse\n\
                    AIRFLOW_CONN_WAREHOUSE='postgres://etl:p%40ss@db.internal:5432/analytics?sslmode=require'\n\
                    export AIRFLOW_CONN_API='{\"conn_type\": \"http\", \"host\": \"api.internal\", \"extra\": {\"retries\": 3}}'\n\
                    AIRFLOW_CONN_BROKEN=no-scheme-here\n";
        let report = import_env(&vault, text).expect("import");
        assert_eq!(report.saved, ["warehouse", "api"]);
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert!(report.problems[0].starts_with("line 4"), "{report:?}");

        let warehouse = load(&vault, "warehouse").expect("stored");
        assert_eq!(warehouse.password.as_deref(), Some("p@ss"));
        assert_eq!(warehouse.login.as_deref(), Some("etl"));
        let listed = vault.connections().expect("list");
        assert!(listed.iter().all(|c| c.has_password || c.conn_id == "api"));

        let env = environment(&vault, &[], false).expect("environment");
        let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["AIRFLOW_CONN_WAREHOUSE", "AIRFLOW_CONN_API"]);
        let back =
            AirflowConnection::from_env_value("warehouse", env[0].1.expose()).expect("reads");
        assert_eq!(back, warehouse);
        assert!(matches!(
            load(&vault, "nope"),
            Err(Error::NoSuchConnection { .. })
        ));
    }
}
