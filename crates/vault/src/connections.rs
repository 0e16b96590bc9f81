//! Airflow connections and plain secret tokens kept in the keyring. What lists show (the
//! record) holds no secret; a connection's password and extra (which often holds keys) and a
//! token's value are secrets of their own.

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Sensitive};

/// A stored connection's secrets.
#[derive(Debug, Default)]
pub struct ConnectionSecrets {
    pub password: Option<Sensitive<String>>,
    /// The extra field's JSON text.
    pub extra: Option<Sensitive<String>>,
}

/// An Airflow connection as lists show it: no password, no extra.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRecord {
    pub conn_id: String,
    pub conn_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a password is stored.
    pub has_password: bool,
    /// Whether an extra is stored.
    pub has_extra: bool,
}

/// The secret part of a connection, stored as one JSON secret.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConnectionSecret {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<String>,
}

/// A plain secret token (an Airflow 3 API or agent token, ...) as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub name: String,
    #[serde(default)]
    pub note: String,
}

pub(crate) fn connection_secret(conn_id: &str) -> String {
    format!("airflow-conn/{conn_id}")
}

pub(crate) fn token_secret(name: &str) -> String {
    format!("token/{name}")
}

/// A connection id as Airflow accepts it: not empty, no whitespace or control characters.
pub fn conn_id(id: &str) -> Result<String> {
    let id = id.trim();
    let invalid = |problem: String| Err(Error::InvalidConnection { problem });
    if id.is_empty() {
        return invalid("its conn_id is empty".to_owned());
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid(format!(
            "its conn_id {id:?} contains spaces or control characters"
        ));
    }
    if id.len() > 100 {
        return invalid(format!("its conn_id {id:?} is longer than 100 bytes"));
    }
    Ok(id.to_owned())
}
