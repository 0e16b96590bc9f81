/// Everything that can stop a tunnel, each with what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Host key of {host}:{port} is not known ({fingerprint}). Refusing to connect: check the fingerprint with the bastion's owner, then add it to known_hosts."
    )]
    UnknownHostKey { host: String, port: u16, fingerprint: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
