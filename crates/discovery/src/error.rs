/// Errors of discovery that are not tied to one (profile, region): those are [`crate::SourceFailure`]s.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read AWS config file {path}: {source}")]
    ReadConfig {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
