/// Everything that can go wrong with the keyring or the records kept in it. Messages say what
/// happened and what to do; none of them ever carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// There is no keyring to talk to (no Secret Service, no session bus, ...). `reason` is a
    /// full sentence naming what is missing and what to start.
    #[error("{reason}")]
    NoStore { reason: String },

    /// The keyring (or the item) is locked, or the unlock prompt was dismissed.
    #[error("The keyring is locked ({detail}): unlock it and retry.")]
    Locked { detail: String },

    /// An entry holds data this version cannot read. The entry is left untouched.
    #[error(
        "The keyring entry {entry} cannot be read: {reason}. It was left untouched: repair or \
         delete that entry in your keyring app, then retry."
    )]
    Corrupt { entry: String, reason: String },

    /// The records were written by a newer Airgate. They are left untouched.
    #[error(
        "The keyring entry {entry} holds records in format version {found}, newer than this \
         Airgate understands (version {supported}). Update Airgate; the records were left \
         untouched."
    )]
    UnsupportedVersion {
        entry: String,
        found: u64,
        supported: u64,
    },

    /// A bastion record that cannot be saved as it is.
    #[error("Cannot save the bastion: {problem}.")]
    InvalidBastion { problem: String },

    /// An Airflow connection or token that cannot be saved as it is.
    #[error("Cannot save the connection: {problem}.")]
    InvalidConnection { problem: String },

    /// No connection or token has that name.
    #[error("There is no stored {what} {name:?}.")]
    NotStored { what: &'static str, name: String },

    /// A key name that cannot be used.
    #[error("Cannot use that key name: {problem}.")]
    InvalidKeyName { problem: String },

    /// No stored key has that name.
    #[error("There is no stored key {name:?}: import or generate it under Keys.")]
    NoSuchKey { name: String },

    /// Another stored key already has that name.
    #[error("A stored key is already named {name:?}: choose another name.")]
    KeyExists { name: String },

    /// A self-hosted Airflow record that cannot be saved as it is.
    #[error("Cannot save the Airflow web server: {problem}.")]
    InvalidSelfHosted { problem: String },

    /// A secret key that cannot name a keyring entry.
    #[error("Invalid secret key {key:?}: {problem}.")]
    InvalidKey { key: String, problem: String },

    /// A stored secret is not UTF-8 text.
    #[error("The secret {key:?} is not text (not valid UTF-8): save it again.")]
    NotText { key: String },

    /// The keyring refused a value or a name because of its size.
    #[error(
        "The keyring entry {entry} is too long for this keyring ({what} is limited to {limit} \
         bytes)."
    )]
    TooLong {
        entry: String,
        what: String,
        limit: u32,
    },

    /// Several keyring items match one entry (e.g. copies made by another tool).
    #[error(
        "The keyring holds {count} items for {entry}: remove the duplicates in your keyring app, \
         then retry."
    )]
    Ambiguous { entry: String, count: usize },

    /// Any other failure of the keyring itself.
    #[error("The keyring failed to {action} {entry}: {detail}")]
    Keyring {
        action: &'static str,
        entry: String,
        detail: String,
    },

    /// The file that serializes writes between processes cannot be used.
    #[error("Cannot lock {} to save safely: {source}. Check the data directory's permissions.", path.display())]
    LockFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The records could not be encoded (a bug: records always encode).
    #[error("Could not encode the records for {entry}: {source}")]
    Encode {
        entry: String,
        source: serde_json::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
