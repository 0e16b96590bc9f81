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

pub type Result<T, E = Error> = std::result::Result<T, E>;
