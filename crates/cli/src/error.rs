use airgate_discovery::Environment;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("No environment named {name} in any profile. Run `airgate envs` to list them.")]
    NoSuchEnvironment { name: String },
    #[error("{name} exists in several places ({places}). Pick one with --profile and --region.")]
    Ambiguous { name: String, places: String },
    #[error("{name} has no web server hostname yet (status {status}).")]
    NoWebserver { name: String, status: String },
    #[error("Bad --bastion {value:?}: expected [user@]host[:port].")]
    BadBastion { value: String },
    #[error("Bad --to {0:?}: expected host:port (or [ipv6]:port), the port from 1 to 65535.")]
    BadTarget(String),
    #[error("No home directory: pass --known-hosts.")]
    NoHome,
    #[error(transparent)]
    Tunnel(#[from] airgate_tunnel::Error),
    #[error(transparent)]
    Open(#[from] airgate_launch::Error),
    #[error(transparent)]
    Vault(#[from] airgate_vault::Error),
    #[error(transparent)]
    Sso(#[from] airgate_discovery::SsoError),
    #[error(
        "Profile {profile} assumes its role with an MFA code from {serial}, not with an SSO \
         sign-in: Airgate asks for the code when a command needs the profile in a terminal \
         (`airgate envs --profile {profile}`), and keeps the role's credentials in memory only."
    )]
    MfaLogin { profile: String, serial: String },
    #[error("{} has no Host {name}. Run `airgate bastions import-ssh-config` to list its hosts.", config.display())]
    NotInSshConfig {
        name: String,
        config: std::path::PathBuf,
    },
    #[error("Cannot read {}: {source}.", path.display())]
    ReadFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "No command to run: put it after --, e.g. `airgate conns exec -- airflow dags test etl`."
    )]
    NoCommand,
    #[error("Cannot run {program}: {source}.")]
    Exec {
        program: String,
        source: std::io::Error,
    },
    #[error("Cannot read from the terminal: {0}")]
    Terminal(std::io::Error),
    #[error(
        "A passphrase is needed and there is no terminal to ask at: pass --stdin and write it to standard input."
    )]
    NoTerminal,
    #[error(
        "--key is needed with --bastion {0:?} as an address; without --key, --bastion names a saved bastion (`airgate bastions list`)."
    )]
    NeedsKey(String),
    #[error(
        "Bad --serve {0:?}: give an environment as profile/region/name, or a rule as account=ID,region=REGION."
    )]
    BadServe(String),
    #[error("Say how the bastion logs in: --key NAME (a stored key), --key-file PATH or --agent.")]
    NoLogin,
    #[error(
        "Where to? Name the environment with --env NAME, or give --profile, --region and --prefix."
    )]
    NoSecretsTarget,
    #[error("Cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("Cannot wait for Ctrl-C: {0}")]
    Signal(std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn ambiguous(name: &str, matches: &[&Environment]) -> Self {
        let places = matches
            .iter()
            .map(|env| format!("{}/{}", env.profile, env.region))
            .collect::<Vec<_>>()
            .join(", ");
        Error::Ambiguous {
            name: name.to_owned(),
            places,
        }
    }
}
