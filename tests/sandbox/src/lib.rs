//! The sandbox: everything Airgate needs to show its work without an AWS account.
//!
//! - an MWAA server seeded with three accounts, four regions and seven environments, public and
//!   private, in several statuses and Airflow versions;
//! - a temporary AWS config and credentials file with one profile per account, plus one whose keys
//!   the server refuses (its failure is shown, the others still list);
//! - an OpenSSH bastion inside a private network namespace, next to an Airflow-like web server that
//!   the host cannot reach, whose `-vpce` hostnames resolve only inside the namespace (when
//!   namespaces are unavailable, a loopback bastion instead);
//! - a data directory for the app, with the bastion's host key in its `known_hosts`, and the
//!   bastion saved in the vault of that data directory.
//!
//! The `airgate-sandbox` binary starts it and then the desktop app; the GUI tests start the same.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use airgate_peers::bastion::Bastion;
use airgate_peers::mwaa::{
    AwsProfile, AwsProfileFiles, EnvironmentStatus, MwaaConfig, MwaaServer, SeedEnvironment,
    WebserverAccessMode,
};
use airgate_peers::netns::{self, PrivateNetwork};
use airgate_vault::{BastionRecord, Vault};

/// The desktop app's identifier; its vault namespace derives from it.
pub const APP_IDENTIFIER: &str = "app.airgate.desktop";
/// Name of the bastion the sandbox saves in the app's vault.
pub const BASTION_NAME: &str = "sandbox-bastion";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot prepare the sandbox's files: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot start the private network: {0}")]
    Network(#[from] netns::Error),
    #[error("cannot save the sandbox bastion in the keyring: {0}")]
    SaveBastion(#[source] airgate_vault::Error),
    #[error("cannot remove the sandbox bastion from the keyring: {0}")]
    ForgetBastion(#[source] airgate_vault::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether to put the bastion and the private web server in a network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Namespace, or an error when it cannot be made.
    PrivateNetwork,
    /// Namespace when possible (root), else a bastion on loopback.
    PreferPrivate,
    Loopback,
}

/// One AWS account of the sandbox, with the profile that reaches it.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    pub profile: &'static str,
    pub id: &'static str,
    pub access_key: &'static str,
    pub regions: &'static [&'static str],
}

pub const ACCOUNTS: [Account; 3] = [
    Account {
        profile: "sandbox-data-prod",
        id: "111111111111",
        access_key: "AKIASANDBOX000000001",
        regions: &["us-east-1", "eu-west-1"],
    },
    Account {
        profile: "sandbox-analytics",
        id: "222222222222",
        access_key: "AKIASANDBOX000000002",
        regions: &["eu-central-1"],
    },
    Account {
        profile: "sandbox-dev",
        id: "333333333333",
        access_key: "AKIASANDBOX000000003",
        regions: &["us-west-2"],
    },
];

/// A profile whose keys the MWAA server does not know, as after a key rotation: the app shows its
/// failure and still lists every other profile.
pub const REFUSED_PROFILE: Account = Account {
    profile: "sandbox-rotated-keys",
    id: "444444444444",
    access_key: "AKIASANDBOXROTATED04",
    regions: &["us-east-1"],
};

/// One seeded environment, as a user should see it in the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxEnvironment {
    pub name: &'static str,
    pub profile: &'static str,
    pub region: &'static str,
    pub status: &'static str,
    pub airflow_version: &'static str,
    pub private: bool,
    /// Web server hostname (`None` while the status has none, e.g. `CREATING`).
    pub webserver_host: Option<String>,
}

struct Seed {
    account: usize,
    region: &'static str,
    name: &'static str,
    status: EnvironmentStatus,
    version: &'static str,
    private: bool,
}

const SEEDS: [Seed; 7] = [
    Seed {
        account: 0,
        region: "us-east-1",
        name: "orders-prod",
        status: EnvironmentStatus::Available,
        version: "2.10.3",
        private: true,
    },
    Seed {
        account: 0,
        region: "eu-west-1",
        name: "billing-prod",
        status: EnvironmentStatus::Available,
        version: "2.9.2",
        private: true,
    },
    Seed {
        account: 1,
        region: "eu-central-1",
        name: "ml-features",
        status: EnvironmentStatus::Updating,
        version: "3.0.6",
        private: true,
    },
    Seed {
        account: 1,
        region: "eu-central-1",
        name: "reporting",
        status: EnvironmentStatus::Available,
        version: "2.10.3",
        private: false,
    },
    Seed {
        account: 2,
        region: "us-west-2",
        name: "dev-playground",
        status: EnvironmentStatus::Available,
        version: "3.0.6",
        private: false,
    },
    Seed {
        account: 2,
        region: "us-west-2",
        name: "ingest-staging",
        status: EnvironmentStatus::Creating,
        version: "2.10.3",
        private: false,
    },
    Seed {
        account: 2,
        region: "us-west-2",
        name: "legacy-etl",
        status: EnvironmentStatus::Unavailable,
        version: "2.7.2",
        private: true,
    },
];

/// A running sandbox; everything stops and is removed on drop.
#[derive(Debug)]
pub struct Sandbox {
    environments: Vec<SandboxEnvironment>,
    files: AwsProfileFiles,
    data_dir: PathBuf,
    // Dropped in this order: network (bastion, web), loopback bastion, server, files.
    network: Option<PrivateNetwork>,
    loopback: Option<Bastion>,
    mwaa: MwaaServer,
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub async fn start(topology: Topology) -> Result<Sandbox> {
        let dir = tempfile::Builder::new()
            .prefix("airgate-sandbox-")
            .tempdir()?;
        let mut config = MwaaConfig::default();
        for account in ACCOUNTS {
            config = config.access_key(account.access_key, account.id);
        }
        config.strict_access_keys = true;
        let mwaa = MwaaServer::start(config).await?;

        let mut environments = Vec::new();
        for seed in &SEEDS {
            let account = ACCOUNTS[seed.account];
            let seeded = mwaa.seed(
                account.id,
                seed.region,
                SeedEnvironment {
                    name: seed.name.to_owned(),
                    status: seed.status,
                    airflow_version: seed.version.to_owned(),
                    webserver_access_mode: if seed.private {
                        WebserverAccessMode::PrivateOnly
                    } else {
                        WebserverAccessMode::PublicOnly
                    },
                    ..SeedEnvironment::default()
                },
            );
            environments.push(SandboxEnvironment {
                name: seed.name,
                profile: account.profile,
                region: seed.region,
                status: seed.status.as_str(),
                airflow_version: seed.version,
                private: seed.private,
                webserver_host: seeded.webserver_host,
            });
        }

        let profiles: Vec<AwsProfile> = ACCOUNTS
            .iter()
            .chain([&REFUSED_PROFILE])
            .map(|account| {
                let profile =
                    AwsProfile::new(account.profile, account.access_key, account.regions[0]);
                if account.regions.len() > 1 {
                    profile.set("airgate_regions", account.regions.join(", "))
                } else {
                    profile
                }
            })
            .collect();
        let files = AwsProfileFiles::write(dir.path(), Some(&mwaa.endpoint()), &profiles)?;

        let private_hosts: Vec<&str> = environments
            .iter()
            .filter(|env| env.private)
            .filter_map(|env| env.webserver_host.as_deref())
            .collect();
        let network = match topology {
            Topology::PrivateNetwork => Some(PrivateNetwork::start(&private_hosts)?),
            Topology::PreferPrivate => match PrivateNetwork::start(&private_hosts) {
                Ok(network) => Some(network),
                Err(netns::Error::Unavailable(why)) => {
                    eprintln!("Private network unavailable ({why}): using a bastion on loopback.");
                    None
                }
                Err(err) => return Err(err.into()),
            },
            Topology::Loopback => None,
        };
        let loopback = match network {
            Some(_) => None,
            None => Some(Bastion::start()?),
        };

        let data_dir = dir.path().join("airgate");
        std::fs::create_dir_all(&data_dir)?;
        let sandbox = Sandbox {
            environments,
            files,
            data_dir,
            network,
            loopback,
            mwaa,
            dir,
        };
        sandbox
            .bastion()
            .write_known_hosts(&sandbox.data_dir.join("known_hosts"))?;
        Ok(sandbox)
    }

    /// The seeded environments, in seeding order.
    pub fn environments(&self) -> &[SandboxEnvironment] {
        &self.environments
    }

    pub fn environment(&self, name: &str) -> Option<&SandboxEnvironment> {
        self.environments.iter().find(|env| env.name == name)
    }

    pub fn mwaa(&self) -> &MwaaServer {
        &self.mwaa
    }

    pub fn bastion(&self) -> &Bastion {
        match (&self.network, &self.loopback) {
            (Some(network), _) => network.bastion(),
            (None, Some(bastion)) => bastion,
            (None, None) => unreachable!("a sandbox always has a bastion"),
        }
    }

    /// The private network, when the sandbox runs in one.
    pub fn network(&self) -> Option<&PrivateNetwork> {
        self.network.as_ref()
    }

    /// The private web server's address (only reachable through the bastion).
    pub fn private_web_addr(&self) -> Option<SocketAddr> {
        self.network.as_ref().map(PrivateNetwork::web_addr)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The vault namespace the app uses for this sandbox's data directory.
    pub fn vault_namespace(&self) -> String {
        airgate_vault::namespace(APP_IDENTIFIER, Some(&self.data_dir))
    }

    /// The bastion as the app should know it.
    pub fn bastion_record(&self) -> BastionRecord {
        let bastion = self.bastion();
        BastionRecord {
            name: BASTION_NAME.to_owned(),
            host: bastion.host().to_owned(),
            port: bastion.port(),
            user: bastion.user().to_owned(),
            key_path: bastion.user_key().to_path_buf(),
        }
    }

    /// Saves the bastion in the app's vault (the OS keyring of this session).
    pub fn save_bastion(&self) -> Result<()> {
        Vault::open(&self.vault_namespace())
            .and_then(|vault| vault.save_bastion(&self.bastion_record()))
            .map_err(Error::SaveBastion)
    }

    /// Removes what [`Self::save_bastion`] saved.
    pub fn forget_bastion(&self) -> Result<()> {
        Vault::open(&self.vault_namespace())
            .and_then(|vault| vault.delete_bastion(BASTION_NAME))
            .map(drop)
            .map_err(Error::ForgetBastion)
    }

    /// The environment the desktop app (or the CLI) needs to run on this sandbox.
    pub fn app_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .files
            .env_vars()
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        env.push((
            "AIRGATE_DATA_DIR".to_owned(),
            self.data_dir.display().to_string(),
        ));
        env
    }
}
