#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("No keyring is available: {reason}")]
    NoStore { reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
