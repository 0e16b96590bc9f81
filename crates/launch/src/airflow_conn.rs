//! Airflow connections as Airflow itself reads them: `AIRFLOW_CONN_<ID>` in URI or JSON form.
//!
//! [`AirflowConnection`] holds one connection with Airflow's fields. Its codecs do what Airflow's
//! own `Connection` does (`airflow-core/src/airflow/models/connection.py` and the Task SDK's
//! `airflow/sdk/definitions/connection.py`, checked against Airflow 3.3 by
//! `crates/launch/tests/airflow_conn.rs`), down to Python's `urllib.parse` and `json` details:
//!
//! - [`AirflowConnection::to_uri`] is `Connection.get_uri()`.
//! - [`AirflowConnection::from_uri`] is `Connection(conn_id=..., uri=...)`; Airflow's two parsers
//!   differ, so [`AirflowConnection::from_uri_with`] takes a [`Parser`].
//! - [`AirflowConnection::to_json`] is `Connection.as_json()`, [`AirflowConnection::from_json`] is
//!   `Connection.from_json()` (the JSON form of `AIRFLOW_CONN_*`, Airflow 2.3 and later).
//! - [`AirflowConnection::from_env_value`] reads an `AIRFLOW_CONN_*` value as Airflow's secrets
//!   backends do (JSON when it starts with `{`, else a URI); [`AirflowConnection::to_env_value`]
//!   writes the URI when both of Airflow's parsers read it back unchanged, else the JSON form;
//!   [`AirflowConnection::to_env_line`] a whole `AIRFLOW_CONN_<ID>='...'` line.
//! - [`parse_env_file`] reads a shell or `.env` file of `AIRFLOW_CONN_*` lines.
//!
//! What a URI cannot carry, and Airflow's parsers change, is worth knowing:
//! - A URI has no `description`, and drops port 0 and a login that is empty with no password.
//! - Airflow lower-cases a URI's host up to its first percent-escape (`urlsplit().hostname`),
//!   unless the decoded host has a `/` in it.
//! - A URI's host and schema come back as empty strings, never `None`, when absent.
//! - A conn_type's `-` become `_` and `postgresql` becomes `postgres`; the scheme is lower case.
//! - Airflow core cannot hold an empty password (its Fernet setter skips `""`): from a URI or
//!   JSON it has none, and writes none. The Task SDK keeps `""`.
//! - Airflow core (the scheduler, API server and CLI) decodes each query value that parses as
//!   JSON, so `?timeout=5` is the number 5 there, while the Task SDK (tasks and hooks in
//!   Airflow 3) and Airflow 2 keep the text `"5"`. `get_uri()` writes string extras as query
//!   values, so an extra `{"timeout": "5"}` comes back as 5 from core. [`AirflowConnection::to_env_value`]
//!   picks the JSON form whenever the URI would not come back unchanged.
//!
//! Known differences from Python, all on input no Airflow writes: a JSON `\ud800` escape with no
//! pair (Python keeps a lone surrogate; Rust strings cannot hold one) is refused, and the NFKC
//! check `urlsplit` makes on a non-ASCII netloc is not made.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The prefix of the environment variables Airflow reads connections from
/// (`airflow.secrets.environment_variables.CONN_ENV_PREFIX`).
pub const CONN_ENV_PREFIX: &str = "AIRFLOW_CONN_";

/// The longest conn_id Airflow accepts (`CONN_ID_MAX_LEN`).
pub const CONN_ID_MAX_LEN: usize = 250;

/// The query key Airflow uses for an extra that cannot be written as plain query parameters.
const EXTRA_KEY: &str = "__extra__";

/// One Airflow connection, with the fields of Airflow's `Connection`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AirflowConnection {
    /// The connection's id, as tasks name it (`postgres_default`).
    pub conn_id: String,
    /// The connection type (`postgres`, `aws`, `http`): the hook that uses it.
    pub conn_type: String,
    /// The host; may carry a protocol (`https://example.com`).
    pub host: Option<String>,
    /// The schema (for databases, the database name).
    pub schema: Option<String>,
    /// The login (user name).
    pub login: Option<String>,
    /// The password. Secret: never in `Debug`.
    pub password: Option<String>,
    /// The port.
    pub port: Option<u16>,
    /// The extra field as Airflow stores it: a JSON text (an object for Airflow core), or None.
    pub extra: Option<String>,
    /// A free-text description (JSON form only: a URI has no place for it).
    pub description: Option<String>,
}

impl fmt::Debug for AirflowConnection {
    /// Shows every field but the secret ones: the password, and the extra (where keys and tokens
    /// live; Airflow masks it too), which show as `<redacted>` when set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| Redacted);
        f.debug_struct("AirflowConnection")
            .field("conn_id", &self.conn_id)
            .field("conn_type", &self.conn_type)
            .field("host", &self.host)
            .field("schema", &self.schema)
            .field("login", &self.login)
            .field("password", &redacted(&self.password))
            .field("port", &self.port)
            .field("extra", &redacted(&self.extra))
            .field("description", &self.description)
            .finish()
    }
}

/// Stands for a secret in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Which of Airflow's two readers to follow; they differ in query values and empty passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Parser {
    /// Airflow core's `Connection` (scheduler, API server, CLI): a URI's query value that parses
    /// as JSON becomes that JSON value (`?timeout=5` gives the number 5), and an empty password
    /// is none (its Fernet setter ignores `""`).
    #[default]
    Core,
    /// The Task SDK's `Connection` (what tasks and hooks read in Airflow 3), like Airflow 2's:
    /// query values stay strings, an empty password stays empty.
    TaskSdk,
}

/// Why a connection could not be read or is not one Airflow accepts. No message quotes a
/// password or a whole URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    /// The conn_id is not one Airflow accepts.
    #[error(
        "Connection id {conn_id:?} is not valid: {reason} (Airflow allows 1 to 250 letters, digits and _ # ! ( ) - . : / \\)"
    )]
    InvalidConnId {
        /// The id given.
        conn_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The conn_type is empty.
    #[error(
        "The connection type (conn_type) is empty: Airflow needs one (postgres, aws, http, ...)"
    )]
    NoConnType,
    /// A URI with no scheme.
    #[error("Not an Airflow connection URI: it has no scheme (conn_type://...)")]
    NoScheme,
    /// A URI Airflow (or Python's `urlsplit`) refuses.
    #[error("Not a valid Airflow connection URI: {0}")]
    InvalidUri(String),
    /// A port that is not a number from 0 to 65535.
    #[error("Bad port: {0}")]
    BadPort(String),
    /// A JSON value that does not parse.
    #[error("Not valid JSON: {0}")]
    BadJson(String),
    /// JSON that is not an object.
    #[error(
        "An Airflow connection in JSON form is a JSON object ({{\"conn_type\": ...}}), not {0}"
    )]
    NotJsonObject(String),
    /// A field of the JSON form with the wrong type, or a key Airflow does not take.
    #[error("The connection's {field}: {reason}")]
    BadField {
        /// The field (key) at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An extra that is not a JSON object.
    #[error("The extra field must be a JSON object ({{\"key\": \"value\"}}): {0}")]
    BadExtra(String),
    /// An empty value.
    #[error(
        "The value is empty: an Airflow connection is a URI (conn_type://...) or JSON ({{...}})"
    )]
    Empty,
}

/// The environment variable Airflow reads connection `conn_id` from:
/// `CONN_ENV_PREFIX + conn_id.upper()`, so `my_db` is read from `AIRFLOW_CONN_MY_DB`.
pub fn env_var(conn_id: &str) -> String {
    format!("{CONN_ENV_PREFIX}{}", conn_id.to_uppercase())
}

/// The conn_id an environment variable holds, or why it holds none Airflow would read.
///
/// Airflow looks connection `id` up as `AIRFLOW_CONN_` + `id.upper()`, so the id is the lower
/// case of the name's suffix, and a name that is not in upper case is never read.
pub fn conn_id_from_env_var(name: &str) -> Result<String, ConnError> {
    let suffix = name
        .strip_prefix(CONN_ENV_PREFIX)
        .ok_or_else(|| ConnError::InvalidConnId {
            conn_id: name.to_owned(),
            reason: format!("the variable's name does not start with {CONN_ENV_PREFIX}"),
        })?;
    let conn_id = suffix.to_lowercase();
    if conn_id.to_uppercase() != suffix {
        return Err(ConnError::InvalidConnId {
            conn_id,
            reason: format!(
                "Airflow never reads {name}: it looks connections up in upper case ({})",
                env_var(&suffix.to_lowercase())
            ),
        });
    }
    validate_conn_id(&conn_id)?;
    Ok(conn_id)
}

/// Checks a conn_id as Airflow's `sanitize_conn_id` does: 1 to 250 letters, digits and
/// `_ # ! ( ) - . : / \`. (Airflow quietly leaves a connection with another id without one.)
pub fn validate_conn_id(conn_id: &str) -> Result<(), ConnError> {
    let invalid = |reason: String| ConnError::InvalidConnId {
        conn_id: conn_id.to_owned(),
        reason,
    };
    if conn_id.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    let chars = conn_id.chars().count();
    if chars > CONN_ID_MAX_LEN {
        return Err(invalid(format!("it is {chars} characters long")));
    }
    if let Some(c) = conn_id
        .chars()
        .find(|&c| !(c.is_alphanumeric() || "_#!()-.:/\\".contains(c)))
    {
        let what = if c.is_whitespace() {
            "a space".to_owned()
        } else if c.is_control() {
            format!("the control character U+{:04X}", u32::from(c))
        } else {
            format!("{c:?}")
        };
        return Err(invalid(format!("it has {what}")));
    }
    Ok(())
}

impl AirflowConnection {
    /// A connection with only an id and a type.
    pub fn new(conn_id: impl Into<String>, conn_type: impl Into<String>) -> Self {
        Self {
            conn_id: conn_id.into(),
            conn_type: conn_type.into(),
            host: None,
            schema: None,
            login: None,
            password: None,
            port: None,
            extra: None,
            description: None,
        }
    }

    /// Checks what Airflow checks, and what Airgate needs: a valid conn_id ([`validate_conn_id`]),
    /// a conn_type, and an extra that, when set and not empty, is a JSON object (Airflow core's
    /// `_validate_extra`).
    pub fn validate(&self) -> Result<(), ConnError> {
        validate_conn_id(&self.conn_id)?;
        if self.conn_type.is_empty() {
            return Err(ConnError::NoConnType);
        }
        if let Some(extra) = self.extra.as_deref().filter(|extra| !extra.is_empty()) {
            match pyjson::loads(extra) {
                Ok(pyjson::Value::Dict(_)) => {}
                Ok(other) => return Err(ConnError::BadExtra(format!("it is {}", other.kind()))),
                Err(e) => return Err(ConnError::BadExtra(e)),
            }
        }
        Ok(())
    }

    /// The connection as a URI, exactly as Airflow's `Connection.get_uri()` writes it:
    /// `conn-type://login:password@host:port/schema?extra`, each part percent-encoded
    /// (`quote(..., safe="")`), a host's own protocol written before the login
    /// (`http://https://host`), and the extra as query parameters when all its values are
    /// strings, else as `?__extra__=<the JSON>`.
    pub fn to_uri(&self) -> String {
        let mut uri = if self.conn_type.is_empty() {
            "//".to_owned()
        } else {
            format!("{}://", self.conn_type.to_lowercase().replace('_', "-"))
        };

        let host = self.host.as_deref().unwrap_or("");
        let (host_to_use, protocol_to_add) = match host.split_once("://") {
            Some((protocol, _)) if protocol == self.conn_type => (host, ""),
            Some((protocol, rest)) => (rest, protocol),
            None => (host, ""),
        };
        if !protocol_to_add.is_empty() {
            uri.push_str(protocol_to_add);
            uri.push_str("://");
        }

        let mut authority = String::new();
        if let Some(login) = &self.login {
            authority.push_str(&pyurl::quote(login));
        }
        if let Some(password) = &self.password {
            authority.push(':');
            authority.push_str(&pyurl::quote(password));
        }
        if !authority.is_empty() {
            authority.push('@');
            uri.push_str(&authority);
        }

        let mut host_block = pyurl::quote(host_to_use);
        if let Some(port) = self.port.filter(|&port| port != 0) {
            if host_block.is_empty() && authority.is_empty() {
                host_block.push('@');
            }
            host_block.push_str(&format!(":{port}"));
        }
        let schema = self.schema.as_deref().unwrap_or("");
        if !schema.is_empty() {
            host_block.push('/');
            host_block.push_str(&pyurl::quote(schema));
        }
        uri.push_str(&host_block);

        if let Some(extra) = self.extra.as_deref().filter(|extra| !extra.is_empty()) {
            uri.push_str(if schema.is_empty() { "/?" } else { "?" });
            match flat_query(extra) {
                Some(query) => uri.push_str(&query),
                None => uri.push_str(&pyurl::urlencode([(EXTRA_KEY, extra)])),
            }
        }
        uri
    }

    /// Reads a URI as Airflow core's `Connection(conn_id=..., uri=...)` does
    /// ([`Parser::Core`]); see [`AirflowConnection::from_uri_with`].
    pub fn from_uri(conn_id: &str, uri: &str) -> Result<Self, ConnError> {
        Self::from_uri_with(conn_id, uri, Parser::Core)
    }

    /// Reads a URI as Airflow does (`_parse_from_uri`, or the Task SDK's `from_uri`): the scheme
    /// is the conn_type (`-` read as `_`, `postgresql` as `postgres`); login, password, host and
    /// schema are percent-decoded; a second `://` makes the host's protocol; the query is the
    /// extra (`__extra__` holds it whole). Then [`AirflowConnection::validate`]s the result.
    pub fn from_uri_with(conn_id: &str, uri: &str, parser: Parser) -> Result<Self, ConnError> {
        validate_conn_id(conn_id)?;
        let mut conn = parse_uri(conn_id, uri, parser)?;
        if parser == Parser::Core && conn.password.as_deref() == Some("") {
            conn.password = None;
        }
        if conn.conn_type.is_empty() {
            return Err(ConnError::NoScheme);
        }
        conn.validate()?;
        Ok(conn)
    }

    /// The connection in Airflow's JSON form, exactly as `Connection.as_json()` writes it: keys
    /// `conn_type`, `description`, `host`, `login`, `password`, `schema`, `port` (a number) and
    /// `extra` (the parsed JSON), each left out when unset (the extra also when empty).
    pub fn to_json(&self) -> String {
        use pyjson::Value;
        let mut fields = vec![("conn_type".to_owned(), Value::Str(self.conn_type.clone()))];
        for (key, value) in [
            ("description", &self.description),
            ("host", &self.host),
            ("login", &self.login),
            ("password", &self.password),
            ("schema", &self.schema),
        ] {
            if let Some(value) = value {
                fields.push((key.to_owned(), Value::Str(value.clone())));
            }
        }
        if let Some(port) = self.port {
            fields.push(("port".to_owned(), Value::Int(port.to_string())));
        }
        if let Some(extra) = self.extra.as_deref().filter(|extra| !extra.is_empty()) {
            // `extra_dejson`: the parsed extra, nothing when it does not parse.
            if let Ok(extra) = pyjson::loads(extra)
                && extra.truthy()
            {
                fields.push(("extra".to_owned(), extra));
            }
        }
        pyjson::dumps(&Value::Dict(fields))
    }

    /// Reads Airflow's JSON form as Airflow core's `Connection.from_json(value, conn_id)` does
    /// ([`Parser::Core`]); see [`AirflowConnection::from_json_with`].
    pub fn from_json(conn_id: &str, text: &str) -> Result<Self, ConnError> {
        Self::from_json_with(conn_id, text, Parser::Core)
    }

    /// Reads Airflow's JSON form as `Connection.from_json(value, conn_id)` does: `extra` may be
    /// an object or a JSON text, `port` a number or a numeric string, a `uri` key stands for
    /// the URI fields, and empty values (`""`, `0`, `{}`, `null`) count as absent for `extra`,
    /// `conn_type`, `port` and `uri`. Then [`AirflowConnection::validate`]s the result.
    pub fn from_json_with(conn_id: &str, text: &str, parser: Parser) -> Result<Self, ConnError> {
        use pyjson::Value;
        validate_conn_id(conn_id)?;
        let fields = match pyjson::loads(text).map_err(ConnError::BadJson)? {
            Value::Dict(fields) => fields,
            other => return Err(ConnError::NotJsonObject(other.kind().to_owned())),
        };
        let mut conn = Self::new(conn_id, "");
        let mut uri = None;
        // The Task SDK takes a uri with no other key at all, Airflow core with a description.
        let mut beside_uri = false;
        for (key, value) in fields {
            let text_field = |value: Value| match value {
                Value::Null => Ok(None),
                Value::Str(text) => Ok(Some(text)),
                other => Err(ConnError::BadField {
                    field: key.clone(),
                    reason: format!("must be a string or null, not {}", other.kind()),
                }),
            };
            let truthy = value.truthy();
            match key.as_str() {
                "extra" | "conn_type" | "port" if !truthy => continue,
                "uri" => {
                    uri = text_field(value)?;
                    continue;
                }
                _ => {}
            }
            if key != "description" || parser == Parser::TaskSdk {
                beside_uri = true;
            }
            match key.as_str() {
                "extra" => {
                    conn.extra = Some(match value {
                        Value::Str(text) => text,
                        other => pyjson::dumps(&other),
                    });
                }
                "conn_type" => {
                    let conn_type = text_field(value)?.unwrap_or_default();
                    conn.conn_type = normalize_conn_type(&conn_type);
                }
                "port" => conn.port = Some(json_port(&value)?),
                "description" => conn.description = text_field(value)?,
                "host" => conn.host = text_field(value)?,
                "login" => conn.login = text_field(value)?,
                "password" => conn.password = text_field(value)?,
                "schema" => conn.schema = text_field(value)?,
                "conn_id" => {
                    return Err(ConnError::BadField {
                        field: key,
                        reason: "Airflow takes the id from the variable's name, not the JSON"
                            .to_owned(),
                    });
                }
                _ => {
                    return Err(ConnError::BadField {
                        field: key,
                        reason: "not a field Airflow knows (conn_type, description, host, login, password, schema, port, extra)".to_owned(),
                    });
                }
            }
        }
        if parser == Parser::Core {
            // Core tests the fields by truth, and an empty uri is none.
            uri = uri.filter(|uri| !uri.is_empty());
            beside_uri = !conn.conn_type.is_empty()
                || [
                    &conn.host,
                    &conn.login,
                    &conn.password,
                    &conn.schema,
                    &conn.extra,
                ]
                .iter()
                .any(|field| field.as_deref().is_some_and(|value| !value.is_empty()))
                || conn.port.is_some_and(|port| port != 0);
        }
        if let Some(uri) = uri {
            if beside_uri {
                return Err(ConnError::BadField {
                    field: "uri".to_owned(),
                    reason: "Airflow takes a uri or the separate fields, not both".to_owned(),
                });
            }
            let description = conn.description.take();
            conn = Self::from_uri_with(conn_id, &uri, parser)?;
            conn.description = description;
        }
        if parser == Parser::Core && conn.password.as_deref() == Some("") {
            conn.password = None;
        }
        conn.validate()?;
        Ok(conn)
    }

    /// Reads the value of an `AIRFLOW_CONN_*` variable as Airflow's secrets backends do
    /// (`_deserialize_connection_value`): surrounding whitespace stripped, JSON when it starts
    /// with `{`, else a URI read by Airflow core.
    pub fn from_env_value(conn_id: &str, value: &str) -> Result<Self, ConnError> {
        let value = py_strip(value);
        if value.is_empty() {
            return Err(ConnError::Empty);
        }
        if value.starts_with('{') {
            Self::from_json(conn_id, value)
        } else {
            Self::from_uri(conn_id, value)
        }
    }

    /// Reads a secret of AWS Secrets Manager as the Amazon provider's `SecretsManagerBackend`
    /// hands it to Airflow (`get_conn_value`): a JSON secret has its keys renamed to
    /// Airflow's (`user`/`username`/`user_name` for `login`, `pass`/`key` for `password`,
    /// `remote_host`/`server` for `host`, `database` for `schema`, `conn_id`/`connection_type`/
    /// `engine` for `conn_type`; the first key of the secret that matches wins, any other key is
    /// dropped), then it is read as [`AirflowConnection::from_env_value`] reads a value.
    pub fn from_secrets_manager(conn_id: &str, value: &str) -> Result<Self, ConnError> {
        use pyjson::Value;
        const WORDS: [(&str, &[&str]); 7] = [
            ("login", &["login", "user", "username", "user_name"]),
            ("password", &["password", "pass", "key"]),
            ("host", &["host", "remote_host", "server"]),
            ("port", &["port"]),
            ("schema", &["database", "schema"]),
            (
                "conn_type",
                &["conn_type", "conn_id", "connection_type", "engine"],
            ),
            ("extra", &["extra"]),
        ];
        let stripped = py_strip(value);
        if !stripped.starts_with('{') {
            return Self::from_env_value(conn_id, value);
        }
        let fields = match pyjson::loads(stripped).map_err(ConnError::BadJson)? {
            Value::Dict(fields) => fields,
            other => return Err(ConnError::NotJsonObject(other.kind().to_owned())),
        };
        let standard = WORDS
            .iter()
            .map(|(field, words)| {
                let value = fields
                    .iter()
                    .find(|(key, _)| words.contains(&key.as_str()))
                    .map_or(Value::Null, |(_, value)| value.clone());
                ((*field).to_owned(), value)
            })
            .collect();
        Self::from_env_value(conn_id, &pyjson::dumps(&Value::Dict(standard)))
    }

    /// Whether both of Airflow's URI parsers read [`AirflowConnection::to_uri`] back as this
    /// connection, as [`AirflowConnection::equivalent`] compares them.
    pub fn uri_round_trips(&self) -> bool {
        let uri = self.to_uri();
        [Parser::Core, Parser::TaskSdk].into_iter().all(|parser| {
            Self::from_uri_with(&self.conn_id, &uri, parser).is_ok_and(|back| back.equivalent(self))
        })
    }

    /// The value to set `AIRFLOW_CONN_<ID>` to: the URI when it reads back unchanged
    /// ([`AirflowConnection::uri_round_trips`]; any Airflow version reads it), else the JSON form
    /// (Airflow 2.3 and later).
    pub fn to_env_value(&self) -> String {
        if self.uri_round_trips() {
            self.to_uri()
        } else {
            self.to_json()
        }
    }

    /// A shell (and `.env`) line setting this connection: `AIRFLOW_CONN_<ID>='<value>'`, the
    /// value of [`AirflowConnection::to_env_value`] single-quoted. [`parse_env_file`] reads it back.
    /// (An id with `-`, `.` and the like makes a name Docker and `.env` files take but shells do
    /// not.)
    pub fn to_env_line(&self) -> String {
        format!(
            "{}='{}'",
            env_var(&self.conn_id),
            self.to_env_value().replace('\'', "'\\''")
        )
    }

    /// Whether two connections are the same to Airflow's hooks: an empty host, schema, login,
    /// password or description counts as unset (Airflow core itself cannot keep an empty
    /// password), port 0 as none, and the extras are compared as JSON values, `{}` as none.
    pub fn equivalent(&self, other: &Self) -> bool {
        let text = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
        let extra = |value: &Option<String>| {
            text(value)
                .map(|extra| pyjson::loads(&extra).map_err(|_| extra))
                .filter(|extra| extra != &Ok(pyjson::Value::Dict(Vec::new())))
        };
        self.conn_id == other.conn_id
            && self.conn_type == other.conn_type
            && text(&self.host) == text(&other.host)
            && text(&self.schema) == text(&other.schema)
            && text(&self.login) == text(&other.login)
            && text(&self.password) == text(&other.password)
            && self.port.filter(|&port| port != 0) == other.port.filter(|&port| port != 0)
            && extra(&self.extra) == extra(&other.extra)
            && text(&self.description) == text(&other.description)
    }
}

/// The extra as query parameters, as `get_uri()` writes it when it can: a JSON object whose
/// values are all strings, not empty, that `parse_qsl` reads back the same.
fn flat_query(extra: &str) -> Option<String> {
    let pyjson::Value::Dict(fields) = pyjson::loads(extra).ok()? else {
        return None;
    };
    let mut pairs = Vec::with_capacity(fields.len());
    for (key, value) in &fields {
        match value {
            pyjson::Value::Str(value) => pairs.push((key.as_str(), value.as_str())),
            _ => return None,
        }
    }
    let query = pyurl::urlencode(pairs.iter().copied());
    if query.is_empty() {
        return None;
    }
    let mut back = pyurl::dict(pyurl::parse_qsl(&query));
    back.sort();
    let mut want: Vec<(String, String)> = pairs
        .iter()
        .map(|&(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    want.sort();
    (back == want).then_some(query)
}

/// Airflow's `_normalize_conn_type`: `postgresql` is `postgres`, `-` is `_`.
fn normalize_conn_type(conn_type: &str) -> String {
    if conn_type == "postgresql" {
        "postgres".to_owned()
    } else {
        conn_type.replace('-', "_")
    }
}

/// Python's `int(port)` in `from_json`, then the range a port has.
fn json_port(value: &pyjson::Value) -> Result<u16, ConnError> {
    use pyjson::Value;
    let out_of_range =
        |number: &dyn fmt::Display| ConnError::BadPort(format!("{number} is not from 0 to 65535"));
    let number: i128 = match value {
        Value::Bool(true) => 1,
        Value::Int(digits) => digits.parse().map_err(|_| out_of_range(digits))?,
        Value::Float(f) if f.is_finite() => f.trunc() as i128,
        Value::Str(text) => py_int(text).ok_or_else(|| {
            ConnError::BadPort(format!(
                "Expected integer value for `port`, but got {text:?} instead."
            ))
        })?,
        other => {
            return Err(ConnError::BadPort(format!(
                "a port is a whole number, not {}",
                match other {
                    Value::Float(f) => pyjson::float_repr(*f),
                    other => other.kind().to_owned(),
                }
            )));
        }
    };
    u16::try_from(number).map_err(|_| out_of_range(&number))
}

/// Python's `int(text)` for base 10: surrounding whitespace, a sign, and `_` between digits.
fn py_int(text: &str) -> Option<i128> {
    let text = py_strip(text);
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut number: i128 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        let digit = c.to_digit(10)?;
        number = number.checked_mul(10)?.checked_add(i128::from(digit))?;
    }
    Some(if negative { -number } else { number })
}

/// Python's `str.strip()`: Unicode whitespace, and the separators U+001C to U+001F.
fn py_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// `Connection._parse_from_uri` (core) and `Connection.from_uri` (Task SDK), step by step.
fn parse_uri(conn_id: &str, uri: &str, parser: Parser) -> Result<AirflowConnection, ConnError> {
    let schemes = uri.matches("://").count();
    if schemes > 2 {
        return Err(ConnError::InvalidUri(
            "it has more than two '://' (Invalid connection string)".to_owned(),
        ));
    }
    let host_with_protocol = schemes == 2;
    let first = pyurl::urlsplit(uri).map_err(ConnError::InvalidUri)?;
    let conn_type = normalize_conn_type(&first.scheme);
    let rest = uri.replace(
        &format!("{}://", first.scheme),
        if host_with_protocol { "" } else { "//" },
    );
    if host_with_protocol {
        let protocol = rest
            .split_once("://")
            .map_or(rest.as_str(), |(head, _)| head);
        if protocol.contains('@') || protocol.contains(':') {
            return Err(ConnError::InvalidUri(
                "the host's protocol has '@' or ':' in it (Invalid connection string)".to_owned(),
            ));
        }
    }
    let parts = pyurl::urlsplit(&rest).map_err(ConnError::InvalidUri)?;
    let mut host = parts
        .hostname()
        .map(|host| pyurl::unquote(&host))
        .unwrap_or_default();
    if host.contains('/') {
        let mut netloc = parts.netloc.as_str();
        if let Some((_, after)) = netloc.rsplit_once('@') {
            netloc = after;
        }
        if let Some((before, _)) = netloc.split_once(':') {
            netloc = before;
        }
        host = pyurl::unquote(netloc);
    }
    if host_with_protocol && !host.is_empty() && !parts.scheme.is_empty() {
        host = format!("{}://{host}", parts.scheme);
    }
    let mut schema_chars = parts.path.chars();
    schema_chars.next();
    let schema = pyurl::unquote(schema_chars.as_str());
    let (login, password) = parts.userinfo();
    let port = parts.port().map_err(ConnError::BadPort)?;

    let mut extra = None;
    if !parts.query.is_empty() {
        let query = pyurl::dict(pyurl::parse_qsl(&parts.query));
        if let Some((_, whole)) = query.iter().find(|(key, _)| key == EXTRA_KEY) {
            extra = Some(whole.clone());
        } else {
            let fields = query
                .into_iter()
                .map(|(key, value)| {
                    let value = match parser {
                        Parser::Core if !value.is_empty() => {
                            pyjson::loads(&value).unwrap_or(pyjson::Value::Str(value))
                        }
                        _ => pyjson::Value::Str(value),
                    };
                    (key, value)
                })
                .collect();
            extra = Some(pyjson::dumps(&pyjson::Value::Dict(fields)));
        }
    }

    Ok(AirflowConnection {
        conn_id: conn_id.to_owned(),
        conn_type,
        host: Some(host),
        schema: Some(schema),
        login: login.map(|login| pyurl::unquote(&login)),
        password: password.map(|password| pyurl::unquote(&password)),
        port,
        extra,
        description: None,
    })
}

/// Reads a shell or `.env` file of connections: `AIRFLOW_CONN_<ID>=<value>` lines, each
/// optionally after `export `, the value a URI or JSON, with `#` comments and blank lines. Other
/// variables are skipped. A value that starts with a quote is read as a shell word (`'single'`
/// quotes literal, `\` escaping `" \ $ \`` in `"double"` quotes and any character outside
/// them, parts run together; `$VAR` is not expanded); any other value is the rest of the line
/// as `.env` files and Docker take it, up to a ` #` comment, spaces around it trimmed.
///
/// Gives the connections read, in order (a conn_id set twice keeps its later value), and one
/// message per line that was not read, `line N: ...`; the other lines are read all the same.
pub fn parse_env_file(text: &str) -> (Vec<AirflowConnection>, Vec<String>) {
    let mut connections: Vec<(usize, AirflowConnection)> = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        match parse_env_line(line) {
            Ok(None) => {}
            Ok(Some(conn)) => {
                if let Some(position) = connections
                    .iter()
                    .position(|(_, earlier)| earlier.conn_id == conn.conn_id)
                {
                    let (earlier_line, _) = connections.remove(position);
                    problems.push(format!(
                        "line {number}: {} was already set on line {earlier_line}; the later value is used",
                        env_var(&conn.conn_id)
                    ));
                }
                connections.push((number, conn));
            }
            Err(problem) => problems.push(format!("line {number}: {problem}")),
        }
    }
    (
        connections.into_iter().map(|(_, conn)| conn).collect(),
        problems,
    )
}

/// One line of [`parse_env_file`]: a connection, nothing (blank, comment, another variable), or
/// what is wrong with it.
fn parse_env_line(line: &str) -> Result<Option<AirflowConnection>, String> {
    let line = line.strip_suffix('\r').unwrap_or(line).trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let line = match line.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
        _ => line,
    };
    let Some((name, value)) = line.split_once('=') else {
        return Err("not a NAME=value line".to_owned());
    };
    let name = name.trim_end();
    if !name.starts_with(CONN_ENV_PREFIX) {
        return Ok(None);
    }
    if name.contains(char::is_whitespace) {
        return Err(format!("{name:?} is not a variable name"));
    }
    let conn_id = conn_id_from_env_var(name).map_err(|e| format!("{name}: {e}"))?;
    let value = shell_value(value.trim_start()).map_err(|e| format!("{name}: {e}"))?;
    AirflowConnection::from_env_value(&conn_id, &value)
        .map(Some)
        .map_err(|e| format!("{name}: {e}"))
}

/// A value: a shell word when quoted, else the rest of the line less a ` #` comment.
fn shell_value(text: &str) -> Result<String, String> {
    if !text.starts_with(['\'', '"']) {
        let end = text
            .char_indices()
            .find(|&(i, c)| c == '#' && text[..i].ends_with(char::is_whitespace))
            .map_or(text.len(), |(i, _)| i);
        return Ok(text[..end].trim_end().to_owned());
    }
    let mut value = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err("the value's single quote is not closed".to_owned()),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\' | '$' | '`')) => value.push(c),
                        Some(c) => {
                            value.push('\\');
                            value.push(c);
                        }
                        None => return Err("the value's double quote is not closed".to_owned()),
                    },
                    Some(c) => value.push(c),
                    None => return Err("the value's double quote is not closed".to_owned()),
                }
            },
            '\\' => match chars.next() {
                Some(c) => value.push(c),
                None => return Err("the value ends with a lone backslash".to_owned()),
            },
            c if c.is_whitespace() => {
                let rest: String = chars.collect();
                let rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    break;
                }
                return Err("text after the value: quote a value that has spaces in it".to_owned());
            }
            c => value.push(c),
        }
    }
    Ok(value)
}

/// Python's `urllib.parse` as Airflow uses it (Python 3.11 and later).
mod pyurl {
    /// Python's `quote(text, safe="")`: every UTF-8 byte but `A-Z a-z 0-9 _ . - ~` as `%XX`.
    pub(super) fn quote(text: &str) -> String {
        quote_bytes(text, false)
    }

    /// Python's `quote_plus(text)`: as [`quote`], with a space as `+`.
    fn quote_plus(text: &str) -> String {
        quote_bytes(text, true)
    }

    fn quote_bytes(text: &str, plus: bool) -> String {
        let mut out = String::with_capacity(text.len());
        for &byte in text.as_bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    out.push(char::from(byte));
                }
                b' ' if plus => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    }

    /// Python's `urlencode(pairs)` of string pairs: `key=value` joined by `&`, `quote_plus`ed.
    pub(super) fn urlencode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        pairs
            .into_iter()
            .map(|(key, value)| format!("{}={}", quote_plus(key), quote_plus(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Python's `unquote(text)`: `%XX` decoded in each run of ASCII, the bytes read as UTF-8
    /// with U+FFFD for what is not; a `%` without two hex digits stays.
    pub(super) fn unquote(text: &str) -> String {
        if !text.contains('%') {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut run: Vec<u8> = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let byte = bytes[i];
            if !byte.is_ascii() {
                out.push_str(&String::from_utf8_lossy(&run));
                run.clear();
                // Copy this non-ASCII character whole.
                let len = text[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&text[i..i + len]);
                i += len;
                continue;
            }
            if byte == b'%'
                && let (Some(high), Some(low)) = (
                    bytes.get(i + 1).and_then(|&b| hex(b)),
                    bytes.get(i + 2).and_then(|&b| hex(b)),
                )
            {
                run.push(high << 4 | low);
                i += 3;
                continue;
            }
            run.push(byte);
            i += 1;
        }
        out.push_str(&String::from_utf8_lossy(&run));
        out
    }

    fn hex(byte: u8) -> Option<u8> {
        char::from(byte)
            .to_digit(16)
            .and_then(|digit| u8::try_from(digit).ok())
    }

    /// Python's `parse_qsl(query, keep_blank_values=True)`: `&`-separated `name=value`, `+` a
    /// space, each unquoted; an empty field skipped, one without `=` a blank value.
    pub(super) fn parse_qsl(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|field| !field.is_empty())
            .map(|field| {
                let (name, value) = field.split_once('=').unwrap_or((field, ""));
                (
                    unquote(&name.replace('+', " ")),
                    unquote(&value.replace('+', " ")),
                )
            })
            .collect()
    }

    /// Python's `dict(pairs)`: a repeated key keeps its first place and its last value.
    pub(super) fn dict(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            match out.iter_mut().find(|(existing, _)| *existing == key) {
                Some(entry) => entry.1 = value,
                None => out.push((key, value)),
            }
        }
        out
    }

    /// What Python's `urlsplit` gives.
    #[derive(Debug, Default, PartialEq, Eq)]
    pub(super) struct SplitResult {
        pub(super) scheme: String,
        pub(super) netloc: String,
        pub(super) path: String,
        pub(super) query: String,
    }

    /// Python's `urlsplit(url)`, errors included (a bad bracketed host, `[` without `]`).
    pub(super) fn urlsplit(url: &str) -> Result<SplitResult, String> {
        let url = url.trim_start_matches(|c: char| c <= ' ');
        let url: String = url
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect();
        let mut result = SplitResult::default();
        let mut rest = url.as_str();
        if let Some(colon) = rest.find(':')
            && colon > 0
            && rest.as_bytes()[0].is_ascii_alphabetic()
            && rest[..colon]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            result.scheme = rest[..colon].to_ascii_lowercase();
            rest = &rest[colon + 1..];
        }
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            result.netloc = after[..end].to_owned();
            rest = &after[end..];
            let netloc = &result.netloc;
            if netloc.contains('[') != netloc.contains(']') {
                return Err("Invalid IPv6 URL".to_owned());
            }
            if let Some((_, after_open)) = netloc.split_once('[') {
                let bracketed = after_open
                    .split_once(']')
                    .map_or(after_open, |(host, _)| host);
                check_bracketed_host(bracketed)?;
            }
        }
        if let Some((before, _fragment)) = rest.split_once('#') {
            rest = before;
        }
        if let Some((before, query)) = rest.split_once('?') {
            result.query = query.to_owned();
            rest = before;
        }
        result.path = rest.to_owned();
        Ok(result)
    }

    impl SplitResult {
        /// `.username` and `.password`.
        pub(super) fn userinfo(&self) -> (Option<String>, Option<String>) {
            match self.netloc.rsplit_once('@') {
                Some((userinfo, _)) => match userinfo.split_once(':') {
                    Some((user, password)) => (Some(user.to_owned()), Some(password.to_owned())),
                    None => (Some(userinfo.to_owned()), None),
                },
                None => (None, None),
            }
        }

        /// `._hostinfo`: the host and the port text.
        fn hostinfo(&self) -> (&str, Option<&str>) {
            let hostinfo = self
                .netloc
                .rsplit_once('@')
                .map_or(self.netloc.as_str(), |(_, h)| h);
            let (host, port) = match hostinfo.split_once('[') {
                Some((_, bracketed)) => {
                    let (host, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
                    (host, after.split_once(':').map_or("", |(_, port)| port))
                }
                None => hostinfo.split_once(':').unwrap_or((hostinfo, "")),
            };
            (host, Some(port).filter(|port| !port.is_empty()))
        }

        /// `.hostname`: None when empty; lower case up to the first `%` (an IPv6 zone keeps
        /// its case).
        pub(super) fn hostname(&self) -> Option<String> {
            let (host, _) = self.hostinfo();
            if host.is_empty() {
                return None;
            }
            Some(match host.split_once('%') {
                Some((head, zone)) => format!("{}%{zone}", head.to_lowercase()),
                None => host.to_lowercase(),
            })
        }

        /// `.port`, with Python's two errors.
        pub(super) fn port(&self) -> Result<Option<u16>, String> {
            let Some(port) = self.hostinfo().1 else {
                return Ok(None);
            };
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "Port could not be cast to integer value as {port:?}"
                ));
            }
            let digits = port.trim_start_matches('0');
            if digits.len() > 5 {
                return Err("Port out of range 0-65535".to_owned());
            }
            let number: u32 = if digits.is_empty() {
                0
            } else {
                digits
                    .parse()
                    .map_err(|_| "Port out of range 0-65535".to_owned())?
            };
            u16::try_from(number)
                .map(Some)
                .map_err(|_| "Port out of range 0-65535".to_owned())
        }
    }

    /// `urllib.parse._check_bracketed_host`: an IPv6 address (with a zone or not) or an
    /// IPvFuture `vX.Y`; an IPv4 address in brackets is refused.
    fn check_bracketed_host(host: &str) -> Result<(), String> {
        if let Some(future) = host.strip_prefix('v') {
            let digits = future.bytes().take_while(u8::is_ascii_hexdigit).count();
            let valid = digits > 0
                && future[digits..]
                    .strip_prefix('.')
                    .is_some_and(|tail| !tail.is_empty() && !tail.contains('\n'));
            return if valid {
                Ok(())
            } else {
                Err("IPvFuture address is invalid".to_owned())
            };
        }
        if is_ipv4(host) {
            return Err("An IPv4 address cannot be in brackets".to_owned());
        }
        if is_ipv6(host) {
            return Ok(());
        }
        Err(format!(
            "{host:?} does not appear to be an IPv4 or IPv6 address"
        ))
    }

    /// Python's `IPv4Address` parser: four decimal octets, no leading zeros.
    fn is_ipv4(text: &str) -> bool {
        let octets: Vec<&str> = text.split('.').collect();
        octets.len() == 4
            && octets.iter().all(|octet| {
                !octet.is_empty()
                    && octet.len() <= 3
                    && octet.bytes().all(|b| b.is_ascii_digit())
                    && (*octet == "0" || !octet.starts_with('0'))
                    && octet.parse::<u16>().is_ok_and(|n| n <= 255)
            })
    }

    /// Python's `IPv6Address` parser (`_ip_int_from_string`), with a `%zone`.
    fn is_ipv6(text: &str) -> bool {
        if text.contains('/') {
            return false;
        }
        let address = match text.split_once('%') {
            Some((_, zone)) if zone.is_empty() || zone.contains('%') => return false,
            Some((address, _)) => address,
            None => text,
        };
        let mut parts: Vec<&str> = address.split(':').collect();
        if parts.len() < 3 {
            return false;
        }
        if parts.last().is_some_and(|last| last.contains('.')) {
            if !parts.pop().is_some_and(is_ipv4) {
                return false;
            }
            // Its two hextets, valid by now.
            parts.extend(["0", "0"]);
        }
        let len = parts.len();
        if len > 9 {
            return false;
        }
        let mut skip_index = None;
        for (i, part) in parts.iter().enumerate().take(len - 1).skip(1) {
            if part.is_empty() {
                if skip_index.is_some() {
                    return false; // more than one `::`
                }
                skip_index = Some(i);
            }
        }
        let (hi, lo) = match skip_index {
            Some(skip) => {
                let (mut hi, mut lo) = (skip, len - skip - 1);
                if parts[0].is_empty() {
                    hi -= 1;
                    if hi != 0 {
                        return false; // a leading `:` needs `::`
                    }
                }
                if parts[len - 1].is_empty() {
                    lo -= 1;
                    if lo != 0 {
                        return false; // a trailing `:` needs `::`
                    }
                }
                if hi + lo >= 8 {
                    return false; // `::` stands for no hextet
                }
                (hi, lo)
            }
            None if len != 8 => return false,
            None => (len, 0),
        };
        let hextet = |part: &&str| {
            !part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_hexdigit())
        };
        parts[..hi].iter().all(hextet) && parts[len - lo..].iter().all(hextet)
    }
}

/// Python's `json.loads` and `json.dumps` (default options) as Airflow uses them: objects keep
/// their order, integers any size, floats printed as Python's `repr`, non-ASCII as `\uXXXX`,
/// `NaN` and `Infinity` accepted.
mod pyjson {
    /// A Python value that JSON gives.
    #[derive(Debug, Clone, PartialEq)]
    pub(super) enum Value {
        Null,
        Bool(bool),
        /// An integer's decimal digits, `-` first when negative (never `-0`).
        Int(String),
        Float(f64),
        Str(String),
        List(Vec<Value>),
        /// In order; a repeated key keeps its first place and its last value.
        Dict(Vec<(String, Value)>),
    }

    impl Value {
        /// Python's `bool(value)`.
        pub(super) fn truthy(&self) -> bool {
            match self {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Int(digits) => digits != "0",
                Value::Float(f) => *f != 0.0,
                Value::Str(text) => !text.is_empty(),
                Value::List(items) => !items.is_empty(),
                Value::Dict(fields) => !fields.is_empty(),
            }
        }

        /// What kind of JSON value this is, for messages.
        pub(super) fn kind(&self) -> &'static str {
            match self {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Int(_) | Value::Float(_) => "a number",
                Value::Str(_) => "a string",
                Value::List(_) => "an array",
                Value::Dict(_) => "an object",
            }
        }
    }

    /// Python's nesting limit is its recursion limit (1000); stop well before the stack does.
    const MAX_DEPTH: usize = 500;
    /// Python refuses to convert integers longer than this (`sys.get_int_max_str_digits()`).
    const MAX_INT_DIGITS: usize = 4300;

    /// Python's `json.loads(text)`, with Python's error messages.
    pub(super) fn loads(text: &str) -> Result<Value, String> {
        let mut parser = Scanner {
            text,
            bytes: text.as_bytes(),
            at: 0,
            depth: 0,
        };
        if text.starts_with('\u{feff}') {
            return Err(parser.error("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0));
        }
        parser.skip_whitespace();
        let value = parser.value()?;
        parser.skip_whitespace();
        if parser.at != parser.bytes.len() {
            return Err(parser.error("Extra data", parser.at));
        }
        Ok(value)
    }

    struct Scanner<'a> {
        text: &'a str,
        bytes: &'a [u8],
        at: usize,
        depth: usize,
    }

    impl Scanner<'_> {
        /// `msg: line L column C (char N)`, counted in characters as Python does.
        fn error(&self, message: &str, at: usize) -> String {
            let before = &self.text[..at.min(self.text.len())];
            let char_index = before.chars().count();
            let line = before.matches('\n').count() + 1;
            let column = match before.rfind('\n') {
                Some(newline) => before[newline + 1..].chars().count() + 1,
                None => char_index + 1,
            };
            format!("{message}: line {line} column {column} (char {char_index})")
        }

        fn skip_whitespace(&mut self) {
            while self
                .bytes
                .get(self.at)
                .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            {
                self.at += 1;
            }
        }

        fn peek(&self) -> Option<u8> {
            self.bytes.get(self.at).copied()
        }

        fn literal(&mut self, word: &str) -> bool {
            if self.bytes[self.at..].starts_with(word.as_bytes()) {
                self.at += word.len();
                true
            } else {
                false
            }
        }

        fn value(&mut self) -> Result<Value, String> {
            let expecting = self.error("Expecting value", self.at);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    self.string().map(Value::Str)
                }
                Some(b'{') => self.nested(Self::object),
                Some(b'[') => self.nested(Self::array),
                Some(b'n') if self.literal("null") => Ok(Value::Null),
                Some(b't') if self.literal("true") => Ok(Value::Bool(true)),
                Some(b'f') if self.literal("false") => Ok(Value::Bool(false)),
                Some(b'N') if self.literal("NaN") => Ok(Value::Float(f64::NAN)),
                Some(b'I') if self.literal("Infinity") => Ok(Value::Float(f64::INFINITY)),
                Some(b'-') if self.bytes[self.at..].starts_with(b"-Infinity") => {
                    self.at += "-Infinity".len();
                    Ok(Value::Float(f64::NEG_INFINITY))
                }
                Some(b'-' | b'0'..=b'9') => self.number()?.ok_or(expecting),
                _ => Err(expecting),
            }
        }

        fn nested(
            &mut self,
            parse: fn(&mut Self) -> Result<Value, String>,
        ) -> Result<Value, String> {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.error("maximum recursion depth exceeded", self.at));
            }
            self.at += 1;
            let value = parse(self);
            self.depth -= 1;
            value
        }

        /// A number as Python's scanner matches it: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`.
        fn number(&mut self) -> Result<Option<Value>, String> {
            let start = self.at;
            let mut at = start;
            let digits_from = |at: usize, bytes: &[u8]| {
                bytes[at..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count()
            };
            if self.bytes.get(at) == Some(&b'-') {
                at += 1;
            }
            match self.bytes.get(at) {
                Some(b'0') => at += 1,
                Some(b'1'..=b'9') => at += digits_from(at, self.bytes),
                _ => return Ok(None),
            }
            let int_end = at;
            let mut is_float = false;
            if self.bytes.get(at) == Some(&b'.') && digits_from(at + 1, self.bytes) > 0 {
                at += 1 + digits_from(at + 1, self.bytes);
                is_float = true;
            }
            if matches!(self.bytes.get(at), Some(b'e' | b'E')) {
                let mut exp = at + 1;
                if matches!(self.bytes.get(exp), Some(b'+' | b'-')) {
                    exp += 1;
                }
                let digits = digits_from(exp, self.bytes);
                if digits > 0 {
                    at = exp + digits;
                    is_float = true;
                }
            }
            self.at = at;
            let text = &self.text[start..at];
            if is_float {
                let value: f64 = text
                    .parse()
                    .map_err(|_| self.error("Invalid number", start))?;
                return Ok(Some(Value::Float(value)));
            }
            let digits = self.text[start..int_end].trim_start_matches('-');
            if digits.len() > MAX_INT_DIGITS {
                return Err(self.error(
                    "Exceeds the limit (4300 digits) for integer string conversion",
                    start,
                ));
            }
            Ok(Some(Value::Int(
                if text.starts_with('-') && digits != "0" {
                    text.to_owned()
                } else {
                    digits.to_owned()
                },
            )))
        }

        /// The rest of a string, after its opening quote.
        fn string(&mut self) -> Result<String, String> {
            let start = self.at - 1;
            let mut out = String::new();
            loop {
                let run_start = self.at;
                while let Some(&b) = self.bytes.get(self.at) {
                    if b == b'"' || b == b'\\' || b < 0x20 {
                        break;
                    }
                    self.at += 1;
                }
                out.push_str(&self.text[run_start..self.at]);
                match self.peek() {
                    None => return Err(self.error("Unterminated string starting at", start)),
                    Some(b'"') => {
                        self.at += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        let escape_at = self.at;
                        self.at += 1;
                        let Some(kind) = self.peek() else {
                            return Err(self.error("Unterminated string starting at", start));
                        };
                        self.at += 1;
                        match kind {
                            b'"' => out.push('"'),
                            b'\\' => out.push('\\'),
                            b'/' => out.push('/'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'n' => out.push('\n'),
                            b'r' => out.push('\r'),
                            b't' => out.push('\t'),
                            b'u' => out.push(self.unicode_escape(escape_at)?),
                            _ => return Err(self.error("Invalid \\escape", escape_at)),
                        }
                    }
                    Some(_) => return Err(self.error("Invalid control character at", self.at)),
                }
            }
        }

        fn hex4(&self, at: usize) -> Option<u32> {
            let digits = self.bytes.get(at..at + 4)?;
            digits.iter().try_fold(0u32, |n, &b| {
                char::from(b).to_digit(16).map(|digit| n << 4 | digit)
            })
        }

        /// After `\u`: four hex digits, and a low surrogate's after a high one.
        fn unicode_escape(&mut self, escape_at: usize) -> Result<char, String> {
            let invalid = |parser: &Self| parser.error("Invalid \\uXXXX escape", escape_at);
            let first = self.hex4(self.at).ok_or_else(|| invalid(self))?;
            self.at += 4;
            if (0xd800..=0xdbff).contains(&first) && self.bytes[self.at..].starts_with(b"\\u") {
                let second = self.hex4(self.at + 2).ok_or_else(|| invalid(self))?;
                if (0xdc00..=0xdfff).contains(&second) {
                    self.at += 6;
                    let code = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                    return char::from_u32(code).ok_or_else(|| invalid(self));
                }
            }
            char::from_u32(first).ok_or_else(|| {
                self.error(
                    "A lone surrogate escape (\\ud800-\\udfff) is not supported",
                    escape_at,
                )
            })
        }

        /// After `{`.
        fn object(&mut self) -> Result<Value, String> {
            let mut fields: Vec<(String, Value)> = Vec::new();
            self.skip_whitespace();
            if self.peek() == Some(b'}') {
                self.at += 1;
                return Ok(Value::Dict(fields));
            }
            loop {
                if self.peek() != Some(b'"') {
                    return Err(
                        self.error("Expecting property name enclosed in double quotes", self.at)
                    );
                }
                self.at += 1;
                let key = self.string()?;
                self.skip_whitespace();
                if self.peek() != Some(b':') {
                    return Err(self.error("Expecting ':' delimiter", self.at));
                }
                self.at += 1;
                self.skip_whitespace();
                let value = self.value()?;
                match fields.iter_mut().find(|(existing, _)| *existing == key) {
                    Some(entry) => entry.1 = value,
                    None => fields.push((key, value)),
                }
                self.skip_whitespace();
                match self.peek() {
                    Some(b'}') => {
                        self.at += 1;
                        return Ok(Value::Dict(fields));
                    }
                    Some(b',') => {
                        self.at += 1;
                        self.skip_whitespace();
                    }
                    _ => return Err(self.error("Expecting ',' delimiter", self.at)),
                }
            }
        }

        /// After `[`.
        fn array(&mut self) -> Result<Value, String> {
            let mut items = Vec::new();
            self.skip_whitespace();
            if self.peek() == Some(b']') {
                self.at += 1;
                return Ok(Value::List(items));
            }
            loop {
                items.push(self.value()?);
                self.skip_whitespace();
                match self.peek() {
                    Some(b']') => {
                        self.at += 1;
                        return Ok(Value::List(items));
                    }
                    Some(b',') => {
                        self.at += 1;
                        self.skip_whitespace();
                    }
                    _ => return Err(self.error("Expecting ',' delimiter", self.at)),
                }
            }
        }
    }

    /// Python's `json.dumps(value)`: `", "` and `": "` separators, ASCII only.
    pub(super) fn dumps(value: &Value) -> String {
        let mut out = String::new();
        dump(value, &mut out);
        out
    }

    fn dump(value: &Value, out: &mut String) {
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Int(digits) => out.push_str(digits),
            Value::Float(f) => out.push_str(&float_repr(*f)),
            Value::Str(text) => dump_str(text, out),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    dump(item, out);
                }
                out.push(']');
            }
            Value::Dict(fields) => {
                out.push('{');
                for (i, (key, item)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    dump_str(key, out);
                    out.push_str(": ");
                    dump(item, out);
                }
                out.push('}');
            }
        }
    }

    /// `encode_basestring_ascii`: `\"`, `\\`, `\n` and the like, every other character outside
    /// space to `~` as `\uxxxx` (UTF-16, lower-case hex).
    fn dump_str(text: &str, out: &mut String) {
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
    }

    /// Python's `repr(float)` as `json.dumps` writes it: the shortest digits that read back,
    /// in exponent form below 1e-4 and from 1e16, `NaN` and `Infinity` for the others.
    pub(super) fn float_repr(f: f64) -> String {
        if f.is_nan() {
            return "NaN".to_owned();
        }
        if f.is_infinite() {
            return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
        }
        let sign = if f.is_sign_negative() { "-" } else { "" };
        if f == 0.0 {
            return format!("{sign}0.0");
        }
        // Rust's `{:e}` gives the same shortest round-trip digits: `d.ddde±x`.
        let scientific = format!("{:e}", f.abs());
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let point = exponent + 1; // digits are 0.ddd × 10^point
        let body = if point <= -4 || point > 16 {
            let (first, rest) = digits.split_at(1);
            let dot = if rest.is_empty() {
                String::new()
            } else {
                format!(".{rest}")
            };
            let exp_sign = if exponent < 0 { '-' } else { '+' };
            format!("{first}{dot}e{exp_sign}{:02}", exponent.unsigned_abs())
        } else if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else {
            let point = point.unsigned_abs() as usize;
            if point >= digits.len() {
                format!("{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        };
        format!("{sign}{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(conn_type: &str) -> AirflowConnection {
        AirflowConnection::new("x", conn_type)
    }

    fn with(edit: impl FnOnce(&mut AirflowConnection)) -> AirflowConnection {
        let mut c = conn("postgres");
        edit(&mut c);
        c
    }

    // The expected URIs and JSON below are what Airflow 3.3's `get_uri()` and `as_json()` write.

    #[test]
    fn a_secrets_manager_secret_is_read_with_the_backends_own_field_names() {
        let legacy = AirflowConnection::from_secrets_manager(
            "legacy",
            r#" {"engine": "mysql", "username": "app", "user": "second", "key": "pw", "server": "db", "port": "3306", "database": "shop", "description": "dropped", "note": "dropped", "extra": {"ssl": true}}"#,
        )
        .expect("the backend reads it");
        assert_eq!(legacy.conn_type, "mysql");
        // The first matching key of the secret wins, as the backend takes it.
        assert_eq!(legacy.login.as_deref(), Some("app"));
        assert_eq!(legacy.password.as_deref(), Some("pw"));
        assert_eq!(legacy.host.as_deref(), Some("db"));
        assert_eq!(legacy.port, Some(3306));
        assert_eq!(legacy.schema.as_deref(), Some("shop"));
        assert_eq!(legacy.description, None);
        assert_eq!(legacy.extra.as_deref(), Some(r#"{"ssl": true}"#));

        // Airflow's own JSON form and URIs read as from AIRFLOW_CONN_*.
        let c = with(|c| {
            c.host = Some("db".into());
            c.password = Some("p@ss".into());
        });
        assert!(
            AirflowConnection::from_secrets_manager("x", &c.to_uri())
                .is_ok_and(|back| back.equivalent(&c))
        );
        assert_eq!(
            AirflowConnection::from_secrets_manager("x", &c.to_json()),
            Ok(c)
        );
        assert!(AirflowConnection::from_secrets_manager("x", "[1]").is_err());
        assert!(AirflowConnection::from_secrets_manager("x", "plain words").is_err());
    }

    #[test]
    fn special_characters_in_login_and_password_are_percent_encoded() {
        let c = with(|c| {
            c.host = Some("db".into());
            c.login = Some("us@er:/?#%+ ".into());
            c.password = Some("p@ss:w/rd?#%+ é😀".into());
            c.port = Some(5432);
            c.schema = Some("a/b".into());
        });
        let uri = c.to_uri();
        assert_eq!(
            uri,
            "postgres://us%40er%3A%2F%3F%23%25%2B%20:p%40ss%3Aw%2Frd%3F%23%25%2B%20%C3%A9%F0%9F%98%80@db:5432/a%2Fb"
        );
        assert_eq!(
            c.to_json(),
            r#"{"conn_type": "postgres", "host": "db", "login": "us@er:/?#%+ ", "password": "p@ss:w/rd?#%+ \u00e9\ud83d\ude00", "schema": "a/b", "port": 5432}"#
        );
        let back = AirflowConnection::from_uri("x", &uri).expect("parses");
        assert_eq!(back.login, c.login);
        assert_eq!(back.password, c.password);
        assert_eq!(back.schema.as_deref(), Some("a/b"));
        assert!(c.uri_round_trips());
        assert_eq!(AirflowConnection::from_json("x", &c.to_json()), Ok(c));
    }

    #[test]
    fn a_host_with_a_protocol_goes_before_the_login() {
        let other = with(|c| {
            c.conn_type = "http".into();
            c.host = Some("https://api.example.com".into());
            c.port = Some(443);
        });
        assert_eq!(other.to_uri(), "http://https://api.example.com:443");
        let back = AirflowConnection::from_uri("x", &other.to_uri()).expect("parses");
        assert_eq!(back.host.as_deref(), Some("https://api.example.com"));
        assert_eq!(back.port, Some(443));

        // The conn_type's own protocol is kept in the host, encoded.
        let same = with(|c| {
            c.conn_type = "http".into();
            c.host = Some("http://api.example.com".into());
        });
        assert_eq!(same.to_uri(), "http://http%3A%2F%2Fapi.example.com");
        let back = AirflowConnection::from_uri("x", &same.to_uri()).expect("parses");
        assert_eq!(back.host, same.host);

        let bad = AirflowConnection::from_uri("x", "http://u:p@https://x");
        assert!(matches!(bad, Err(ConnError::InvalidUri(_))), "{bad:?}");
        let bad = AirflowConnection::from_uri("x", "a://b://c://d");
        assert!(matches!(bad, Err(ConnError::InvalidUri(_))), "{bad:?}");
    }

    #[test]
    fn ipv6_hosts() {
        let c = with(|c| {
            c.host = Some("[::1]".into());
            c.port = Some(5432);
        });
        assert_eq!(c.to_uri(), "postgres://%5B%3A%3A1%5D:5432");
        assert!(c.uri_round_trips());
        // A URI written by hand has the brackets bare: Airflow keeps the address only.
        let hand =
            AirflowConnection::from_uri("x", "postgres://u:p@[::1]:5432/db").expect("parses");
        assert_eq!(hand.host.as_deref(), Some("::1"));
        assert_eq!(hand.port, Some(5432));
        let zone = AirflowConnection::from_uri("x", "postgres://[FE80::1%25Eth0]").expect("parses");
        assert_eq!(zone.host.as_deref(), Some("fe80::1%Eth0"));
        for bad in [
            "postgres://[::1/db",
            "postgres://[1.2.3.4]/db",
            "postgres://[nope]/db",
        ] {
            let result = AirflowConnection::from_uri("x", bad);
            assert!(
                matches!(result, Err(ConnError::InvalidUri(_))),
                "{bad}: {result:?}"
            );
        }
        assert!(AirflowConnection::from_uri("x", "postgres://[v1.x]/db").is_ok());
        assert!(AirflowConnection::from_uri("x", "postgres://[::ffff:1.2.3.4]/db").is_ok());
        assert!(AirflowConnection::from_uri("x", "postgres://[1::2::3]/db").is_err());
    }

    #[test]
    fn an_empty_password_is_not_no_password() {
        let empty = with(|c| {
            c.host = Some("h".into());
            c.login = Some("u".into());
            c.password = Some(String::new());
        });
        let none = with(|c| {
            c.host = Some("h".into());
            c.login = Some("u".into());
        });
        assert_eq!(empty.to_uri(), "postgres://u:@h");
        assert_eq!(none.to_uri(), "postgres://u@h");
        let sdk = |uri: &str| AirflowConnection::from_uri_with("x", uri, Parser::TaskSdk);
        assert_eq!(
            sdk(&empty.to_uri()).expect("parses").password.as_deref(),
            Some("")
        );
        assert_eq!(sdk(&none.to_uri()).expect("parses").password, None);
        // Airflow core cannot hold an empty password.
        let core = AirflowConnection::from_uri("x", &empty.to_uri()).expect("parses");
        assert_eq!(core.password, None);
        assert!(core.equivalent(&empty));
        assert_eq!(
            empty.to_json(),
            r#"{"conn_type": "postgres", "host": "h", "login": "u", "password": ""}"#
        );
    }

    #[test]
    fn extras_with_other_than_strings_go_whole_in_extra() {
        let c = with(|c| {
            c.conn_type = "aws".into();
            c.extra = Some(
                r#"{"region_name": "eu-west-1", "config": {"retries": 5}, "verify": false}"#.into(),
            );
        });
        let uri = c.to_uri();
        assert_eq!(
            uri,
            "aws:///?__extra__=%7B%22region_name%22%3A+%22eu-west-1%22%2C+%22config%22%3A+%7B%22retries%22%3A+5%7D%2C+%22verify%22%3A+false%7D"
        );
        assert_eq!(
            AirflowConnection::from_uri("x", &uri)
                .expect("parses")
                .extra,
            c.extra
        );
        assert_eq!(
            c.to_json(),
            r#"{"conn_type": "aws", "extra": {"region_name": "eu-west-1", "config": {"retries": 5}, "verify": false}}"#
        );
        // An empty object is not flattened either.
        let empty = with(|c| {
            c.conn_type = "x".into();
            c.extra = Some("{}".into());
        });
        assert_eq!(empty.to_uri(), "x:///?__extra__=%7B%7D");
        assert_eq!(empty.to_json(), r#"{"conn_type": "x"}"#);
    }

    #[test]
    fn string_only_extras_are_query_parameters() {
        let c = with(|c| {
            c.conn_type = "aws".into();
            c.schema = Some("s".into());
            c.extra = Some(r#"{"a b": "c&d=e", "x": "é"}"#.into());
        });
        assert_eq!(c.to_uri(), "aws:///s?a+b=c%26d%3De&x=%C3%A9");
        let back = AirflowConnection::from_uri("x", &c.to_uri()).expect("parses");
        assert_eq!(
            back.extra.as_deref(),
            Some(r#"{"a b": "c&d=e", "x": "\u00e9"}"#)
        );
        assert!(c.uri_round_trips());

        let gcp = with(|c| {
            c.conn_type = "google_cloud_platform".into();
            c.extra = Some(r#"{"project": "p", "key_path": "/k.json"}"#.into());
        });
        assert_eq!(
            gcp.to_uri(),
            "google-cloud-platform:///?project=p&key_path=%2Fk.json"
        );
        let back = AirflowConnection::from_uri("x", &gcp.to_uri()).expect("parses");
        assert_eq!(back.conn_type, "google_cloud_platform");
    }

    #[test]
    fn core_decodes_json_looking_query_values_the_task_sdk_does_not() {
        let uri = "postgres://HoSt%20Name/db?timeout=5&verify=false&name=abc&e=";
        let core = AirflowConnection::from_uri("x", uri).expect("parses");
        assert_eq!(
            core.extra.as_deref(),
            Some(r#"{"timeout": 5, "verify": false, "name": "abc", "e": ""}"#)
        );
        // Lower case up to the first escape, as `urlsplit().hostname` does.
        assert_eq!(core.host.as_deref(), Some("host Name"));
        let sdk = AirflowConnection::from_uri_with("x", uri, Parser::TaskSdk).expect("parses");
        assert_eq!(
            sdk.extra.as_deref(),
            Some(r#"{"timeout": "5", "verify": "false", "name": "abc", "e": ""}"#)
        );
        // So a string "5" does not survive a URI: the environment value is JSON.
        let c = with(|c| c.extra = Some(r#"{"timeout": "5"}"#.into()));
        assert!(!c.uri_round_trips());
        assert_eq!(c.to_env_value(), c.to_json());
    }

    #[test]
    fn schemes_and_conn_types() {
        let c = conn("google_cloud_platform");
        assert_eq!(c.to_uri(), "google-cloud-platform://");
        assert_eq!(
            AirflowConnection::from_uri("x", "postgresql://h")
                .expect("parses")
                .conn_type,
            "postgres"
        );
        assert_eq!(
            AirflowConnection::from_uri("x", "My-Type://h")
                .expect("parses")
                .conn_type,
            "my_type"
        );
        assert_eq!(
            AirflowConnection::from_uri("x", "//host/db"),
            Err(ConnError::NoScheme)
        );
        assert_eq!(
            AirflowConnection::from_uri("x", "no scheme at all"),
            Err(ConnError::NoScheme)
        );
        assert_eq!(conn("x").with_port(8080).to_uri(), "x://@:8080");
    }

    #[test]
    fn ports() {
        let parse = |uri: &str| AirflowConnection::from_uri("x", uri).map(|c| c.port);
        assert_eq!(parse("p://h:5432"), Ok(Some(5432)));
        assert_eq!(parse("p://h:0080"), Ok(Some(80)));
        assert_eq!(parse("p://h:"), Ok(None));
        assert!(matches!(parse("p://h:port"), Err(ConnError::BadPort(_))));
        assert!(matches!(parse("p://h:70000"), Err(ConnError::BadPort(_))));
        let json = |port: &str| {
            AirflowConnection::from_json("x", &format!(r#"{{"conn_type": "p", "port": {port}}}"#))
                .map(|c| c.port)
        };
        assert_eq!(json("5432"), Ok(Some(5432)));
        assert_eq!(json(r#"" 5_432 ""#), Ok(Some(5432)));
        assert_eq!(json("80.9"), Ok(Some(80)));
        assert_eq!(json("0"), Ok(None));
        assert_eq!(json(r#""""#), Ok(None));
        assert!(matches!(json(r#""abc""#), Err(ConnError::BadPort(_))));
        assert!(matches!(json("70000"), Err(ConnError::BadPort(_))));
        assert!(matches!(json("[1]"), Err(ConnError::BadPort(_))));
    }

    #[test]
    fn json_form() {
        let text = r#"{"conn_type": "postgresql", "host": "h", "port": "5432", "description": "d",
            "extra": {"a": 1.0, "b": 1E400, "c": 12345678901234567890123, "d": [true, null]}}"#;
        let c = AirflowConnection::from_json("x", text).expect("parses");
        assert_eq!(c.conn_type, "postgres");
        assert_eq!(c.port, Some(5432));
        assert_eq!(c.description.as_deref(), Some("d"));
        assert_eq!(
            c.extra.as_deref(),
            Some(r#"{"a": 1.0, "b": Infinity, "c": 12345678901234567890123, "d": [true, null]}"#)
        );
        assert_eq!(
            c.to_json(),
            r#"{"conn_type": "postgres", "description": "d", "host": "h", "port": 5432, "extra": {"a": 1.0, "b": Infinity, "c": 12345678901234567890123, "d": [true, null]}}"#
        );
        // A text extra is kept as written.
        let c = AirflowConnection::from_json("x", r#"{"conn_type": "x", "extra": "{\"a\":1}"}"#)
            .expect("parses");
        assert_eq!(c.extra.as_deref(), Some(r#"{"a":1}"#));
        // A uri key.
        let c =
            AirflowConnection::from_json("x", r#"{"uri": "p://u:pw@h:1/s", "description": "d"}"#)
                .expect("parses");
        assert_eq!((c.login.as_deref(), c.port), (Some("u"), Some(1)));
        assert_eq!(c.description.as_deref(), Some("d"));

        let error = |text: &str| AirflowConnection::from_json("x", text).expect_err(text);
        assert!(matches!(error("[]"), ConnError::NotJsonObject(_)));
        assert!(matches!(error("{}"), ConnError::NoConnType));
        assert!(matches!(
            error(r#"{"conn_type": "x", "bogus": 1}"#),
            ConnError::BadField { .. }
        ));
        assert!(matches!(
            error(r#"{"conn_type": "x", "host": 5}"#),
            ConnError::BadField { .. }
        ));
        assert!(matches!(
            error(r#"{"conn_type": "x", "extra": "[1]"}"#),
            ConnError::BadExtra(_)
        ));
        assert_eq!(
            error(r#"{"conn_type": "x",}"#).to_string(),
            "Not valid JSON: Expecting property name enclosed in double quotes: line 1 column 19 (char 18)"
        );
    }

    #[test]
    fn python_json_details() {
        use pyjson::{Value, dumps, float_repr, loads};
        for (f, repr) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (-0.0, "-0.0"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (123.456, "123.456"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(float_repr(f), repr);
        }
        assert_eq!(
            dumps(&loads(r#"{"a":"é😀\u0001\"\\/\t\u007f","b":[],"c":{},"a":-0}"#).expect("json")),
            r#"{"a": 0, "b": [], "c": {}}"#
        );
        assert_eq!(
            dumps(&Value::Str("é😀\u{1}\"\\/\t\u{7f}".into())),
            r#""\u00e9\ud83d\ude00\u0001\"\\/\t\u007f""#
        );
        assert_eq!(loads(" 1 ").expect("json"), Value::Int("1".into()));
        assert!(loads("01").is_err());
        assert!(loads("[1,]").is_err());
        assert!(loads("\"\\ud800\"").is_err());
        assert!(loads(&"[".repeat(1000)).is_err());
    }

    #[test]
    fn python_url_details() {
        assert_eq!(
            pyurl::unquote("a%41%zz%%41%C3%28é%C3%A9"),
            "aA%zz%A\u{fffd}(éé"
        );
        assert_eq!(pyurl::quote("a b/~é"), "a%20b%2F~%C3%A9");
        assert_eq!(
            pyurl::parse_qsl("a=1&&b&c=+%2B&a=2"),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), " +".to_owned()),
                ("a".to_owned(), "2".to_owned()),
            ]
        );
        let split = pyurl::urlsplit("  HTTP://u:p@Host:80/p\tath?q=1#f?x").expect("splits");
        assert_eq!(split.scheme, "http");
        assert_eq!(split.netloc, "u:p@Host:80");
        assert_eq!(split.path, "/path");
        assert_eq!(split.query, "q=1");
        assert_eq!(split.hostname().as_deref(), Some("host"));
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var("my_db"), "AIRFLOW_CONN_MY_DB");
        assert_eq!(env_var("Straße.1"), "AIRFLOW_CONN_STRASSE.1");
        assert_eq!(
            conn_id_from_env_var("AIRFLOW_CONN_MY_DB"),
            Ok("my_db".to_owned())
        );
        assert!(conn_id_from_env_var("AIRFLOW_CONN_my_db").is_err());
        assert!(conn_id_from_env_var("AIRFLOW_CONN_").is_err());
        assert!(conn_id_from_env_var("OTHER").is_err());
    }

    #[test]
    fn conn_ids_are_checked_as_airflow_does() {
        for good in ["x", "my_db", "a-b.c:d/e\\f#g!(h)", "daten_ü"] {
            assert_eq!(validate_conn_id(good), Ok(()), "{good}");
        }
        for bad in ["", "a b", "a\nb", "a\u{7}b", "a@b", "a$b", &"x".repeat(251)] {
            assert!(validate_conn_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            AirflowConnection::new("x", "").validate(),
            Err(ConnError::NoConnType)
        );
        assert!(AirflowConnection::from_uri("bad id", "p://h").is_err());
    }

    #[test]
    fn env_files() {
        let text = concat!(
            "# connections\n",
            "\n",
            "export AIRFLOW_CONN_PG='postgres://u:p%40ss@db:5432/warehouse'\n",
            "AIRFLOW_CONN_API=\"{\\\"conn_type\\\": \\\"http\\\", \\\"host\\\": \\\"https://x\\\"}\" # api\n",
            "AIRFLOW_CONN_BARE=aws://?region_name=eu-west-1\r\n",
            "AIRFLOW__CORE__LOAD_EXAMPLES=False\n",
            "AIRFLOW_CONN_NOSCHEME=just-text\n",
            "AIRFLOW_CONN_lower=p://h\n",
            "AIRFLOW_CONN_OPEN='p://h\n",
            "AIRFLOW_CONN_JSON={\"conn_type\": \"p\", \"port\": \"x\"}\n",
            "AIRFLOW_CONN_SPACED='p://h' more\n",
            "not a line\n",
            "AIRFLOW_CONN_EMPTY=\n",
            "AIRFLOW_CONN_PG=p://again\n",
        );
        let (connections, problems) = parse_env_file(text);
        let ids: Vec<&str> = connections.iter().map(|c| c.conn_id.as_str()).collect();
        assert_eq!(ids, ["api", "bare", "pg"]);
        assert_eq!(connections[0].host.as_deref(), Some("https://x"));
        assert_eq!(
            connections[1].extra.as_deref(),
            Some(r#"{"region_name": "eu-west-1"}"#)
        );
        assert_eq!(connections[2].host.as_deref(), Some("again"));
        let lines: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            lines,
            [
                "line 7", "line 8", "line 9", "line 10", "line 11", "line 12", "line 13", "line 14"
            ],
            "{problems:#?}"
        );
        assert!(problems[0].contains("no scheme"), "{problems:?}");
        assert!(problems[1].contains("AIRFLOW_CONN_LOWER"), "{problems:?}");
        assert!(problems[3].contains("Bad port"), "{problems:?}");
        assert!(
            problems[7].contains("already set on line 3"),
            "{problems:?}"
        );
    }

    #[test]
    fn env_lines_read_back() {
        let c = with(|c| {
            c.conn_id = "my_db".into();
            c.password = Some("it's a \"secret\" $HOME `x` \\".into());
            c.description = Some("needs JSON".into());
        });
        let line = c.to_env_line();
        assert!(line.starts_with("AIRFLOW_CONN_MY_DB='{"), "{line}");
        let (connections, problems) = parse_env_file(&line);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(connections, [c]);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = with(|c| {
            c.password = Some("hunter2".into());
            c.extra = Some(r#"{"token": "t0ps3cret"}"#.into());
        });
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("t0ps3cret"),
            "{debug}"
        );
        assert!(debug.contains("password: Some(<redacted>)"), "{debug}");
    }

    impl AirflowConnection {
        fn with_port(mut self, port: u16) -> Self {
            self.port = Some(port);
            self
        }
    }
}
