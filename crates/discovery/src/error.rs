/// Errors of discovery that are not tied to one (profile, region): those are [`crate::SourceFailure`]s.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Cannot read AWS config file {path}: {source}. Check that it is a readable file.")]
    ReadConfig {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `detail` names the file and the line (`error parsing /home/me/.aws/config on line 3: ...`).
    #[error("AWS config file {path} is broken ({detail}). Fix that line, then try again.")]
    ParseConfig {
        path: std::path::PathBuf,
        detail: String,
    },
}

/// Why a profile cannot be used for a call (before any service is asked); each message says what
/// to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("No AWS profile named {profile} in {config}. Refresh the list of environments.")]
    NoProfile { profile: String, config: String },
    #[error("{message}")]
    Config { message: String },
    /// Missing, expired or refused credentials (an SSO session that ended, rotated keys).
    #[error("{message}")]
    Credentials { message: String, sso: bool },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
