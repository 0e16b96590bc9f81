//! The sandbox: everything Airgate needs to show its work without an AWS account.
//!
//! - an MWAA server seeded with three accounts, four regions and seven environments, public and
//!   private, in several statuses and Airflow versions;
//! - a temporary AWS config and credentials file with one profile per account, plus one whose keys
//!   the server refuses (its failure is shown, the others still list);
//! - an OpenSSH bastion inside a private network namespace, next to an Airflow-like web server that
//!   the host cannot reach, whose `-vpce` hostnames resolve only inside the namespace (when
//!   namespaces are unavailable, a loopback bastion instead);
//! - the web servers speak HTTPS with the sandbox's own certificate and MWAA's console sign-in:
//!   they check the web login tokens the MWAA server signs (minted for that environment,
//!   unexpired, used once). Public environments are served on loopback under `*.localhost`
//!   names (which browsers resolve to loopback themselves, so no name is looked up anywhere);
//!   every request lands in one log ([`Sandbox::web_log`]);
//! - a data directory for the app, with the bastion's host key in its `known_hosts`, the bastion
//!   saved in the vault of that data directory, and Open's settings: a Chromium-family browser
//!   when one is installed, trusting the sandbox's certificate in its own profiles only (pinned
//!   by its key), never in the user's browser.
//!
//! The `airgate-sandbox` binary starts it and then the desktop app; the GUI tests start the same.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use airgate_launch::OpenSettings;
use airgate_peers::airflow_web::{AirflowWeb, WebConfig};
use airgate_peers::bastion::Bastion;
use airgate_peers::mwaa::{
    AwsProfile, AwsProfileFiles, EnvironmentStatus, MwaaConfig, MwaaServer, SeedEnvironment,
    SeedUpdateError, WebserverAccessMode,
};
use airgate_peers::netns::{self, PrivateNetwork, WebOptions};
use airgate_peers::tls::SelfSigned;
use airgate_vault::{BastionRecord, Vault};

/// The desktop app's identifier; its vault namespace derives from it.
pub use airgate_launch::settings::APP_IDENTIFIER;
/// Name of the bastion the sandbox saves in the app's vault.
pub const BASTION_NAME: &str = "sandbox-bastion";
/// The host name of the self-hosted Airflow inside the private network (the private web server
/// answers by it too; only the bastion resolves it).
pub const SELF_HOSTED_HOST: &str = "airflow.lab.internal";
/// Name of the self-hosted Airflow the demo saves.
pub const SELF_HOSTED_NAME: &str = "lab-airflow";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot prepare the sandbox's files: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot start the private network: {0}")]
    Network(#[from] netns::Error),
    #[error("cannot save the sandbox bastion in the keyring: {0}")]
    SaveBastion(#[source] airgate_vault::Error),
    #[error("cannot save the sandbox's self-hosted Airflow in the keyring: {0}")]
    SaveSelfHosted(#[source] airgate_vault::Error),
    #[error("cannot remove the sandbox bastion from the keyring: {0}")]
    ForgetBastion(#[source] airgate_vault::Error),
    #[error("cannot write the app's settings: {0}")]
    Settings(#[from] airgate_launch::Error),
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

/// The stage a sandbox environment's name says it is (its `stage` tag).
fn stage(name: &str) -> &'static str {
    if name.ends_with("-prod") {
        "prod"
    } else if name.contains("staging") {
        "staging"
    } else {
        "dev"
    }
}

/// A running sandbox; everything stops and is removed on drop.
#[derive(Debug)]
pub struct Sandbox {
    environments: Vec<SandboxEnvironment>,
    files: AwsProfileFiles,
    data_dir: PathBuf,
    certificate: SelfSigned,
    web_log: PathBuf,
    // Dropped in this order: network (bastion, web), public web, loopback bastion, server, files.
    network: Option<PrivateNetwork>,
    public_web: AirflowWeb,
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

        // Public web servers answer on loopback, under names only browsers resolve (to
        // loopback, by themselves); private ones get MWAA's derived `-vpce` names.
        let public_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let public_port = public_listener.local_addr()?.port();
        drop(public_listener);
        let public_host = |seed: &Seed| {
            format!(
                "{}.{}.airflow.localhost:{public_port}",
                seed.name, seed.region
            )
        };

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
                    webserver_url: (!seed.private).then(|| public_host(seed)),
                    tags: [
                        ("team".to_owned(), account.profile.to_owned()),
                        ("stage".to_owned(), stage(seed.name).to_owned()),
                    ]
                    .into(),
                    last_update_error: (seed.status == EnvironmentStatus::Unavailable).then(|| {
                        SeedUpdateError {
                            error_code: "INCORRECT_CONFIGURATION".to_owned(),
                            error_message: "The scheduler cannot reach the metadata database: \
                                            check the security group's rules."
                                .to_owned(),
                        }
                    }),
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

        let names: Vec<String> = environments
            .iter()
            .filter_map(|env| env.webserver_host.clone())
            .chain(SEEDS.iter().filter(|s| !s.private).map(public_host))
            .chain([SELF_HOSTED_HOST.to_owned()])
            .collect();
        let certificate = SelfSigned::new(&names)?;
        let (cert_path, key_path) = certificate.write(dir.path())?;
        let web_log = dir.path().join("web.log");
        std::fs::write(&web_log, "")?;
        let web_config = WebConfig {
            token_key: Some(mwaa.token_key()),
            log: Some(web_log.clone()),
        };
        let public_web = AirflowWeb::start_tls(
            std::net::SocketAddr::from(([127, 0, 0, 1], public_port)),
            web_config.clone(),
            airgate_peers::tls::server_config(&cert_path, &key_path)?,
        )
        .await?;
        let web_options = WebOptions {
            tls: Some((cert_path, key_path)),
            token_key: web_config.token_key.clone(),
            log: web_config.log.clone(),
        };

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
            .chain([SELF_HOSTED_HOST])
            .collect();
        let network = match topology {
            Topology::PrivateNetwork => {
                Some(PrivateNetwork::start_with(&private_hosts, web_options)?)
            }
            Topology::PreferPrivate => {
                match PrivateNetwork::start_with(&private_hosts, web_options) {
                    Ok(network) => Some(network),
                    Err(netns::Error::Unavailable(why)) => {
                        eprintln!(
                            "Private network unavailable ({why}): using a bastion on loopback."
                        );
                        None
                    }
                    Err(err) => return Err(err.into()),
                }
            }
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
            certificate,
            web_log,
            network,
            public_web,
            loopback,
            mwaa,
            dir,
        };
        sandbox
            .bastion()
            .write_known_hosts(&sandbox.data_dir.join("known_hosts"))?;
        sandbox.write_settings(&[])?;
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
            keepalive_secs: None,
            name: BASTION_NAME.to_owned(),
            host: bastion.host().to_owned(),
            port: bastion.port(),
            user: bastion.user().to_owned(),
            key: airgate_vault::BastionKey::File {
                path: bastion.user_key().to_path_buf(),
            },
            jump: Vec::new(),
            host_key: None,
            serves: Vec::new(),
        }
    }

    /// Saves the bastion in the app's vault (the OS keyring of this session).
    pub fn save_bastion(&self) -> Result<()> {
        Vault::open(&self.vault_namespace())
            .and_then(|vault| vault.save_bastion(&self.bastion_record()))
            .map_err(Error::SaveBastion)
    }

    /// The self-hosted Airflow of the private network, reached through the sandbox's bastion.
    pub fn self_hosted_record(&self) -> airgate_vault::SelfHostedRecord {
        airgate_vault::SelfHostedRecord {
            name: SELF_HOSTED_NAME.to_owned(),
            url: format!("https://{SELF_HOSTED_HOST}"),
            airflow: airgate_vault::AirflowMajor::Two,
            bastion: Some(BASTION_NAME.to_owned()),
        }
    }

    /// Saves [`Self::self_hosted_record`] in the app's vault; only a private network has it.
    pub fn save_self_hosted(&self) -> Result<()> {
        if self.network.is_none() {
            return Ok(());
        }
        Vault::open(&self.vault_namespace())
            .and_then(|vault| vault.save_self_hosted(&self.self_hosted_record()))
            .map_err(Error::SaveSelfHosted)
    }

    /// Removes what [`Self::save_bastion`] saved.
    pub fn forget_bastion(&self) -> Result<()> {
        Vault::open(&self.vault_namespace())
            .and_then(|vault| vault.delete_bastion(BASTION_NAME))
            .map(drop)
            .map_err(Error::ForgetBastion)
    }

    /// Every request the sandbox's web servers (private and public) received, one JSON line
    /// each ([`airgate_peers::airflow_web::read_log`]).
    pub fn web_log(&self) -> &Path {
        &self.web_log
    }

    /// The SPKI pin of the sandbox's certificate (base64 SHA-256), for a browser of a test.
    pub fn certificate_pin(&self) -> &str {
        &self.certificate.spki_sha256
    }

    /// The public web servers' address on loopback.
    pub fn public_web_addr(&self) -> SocketAddr {
        self.public_web.addr()
    }

    /// Writes the app's Open settings: the first Chromium-family browser installed (when there
    /// is one), trusting the sandbox's certificate in its own profiles (and Airgate windows)
    /// only, plus `extra` args.
    pub fn write_settings(&self, extra: &[&str]) -> Result<()> {
        self.write_settings_with(extra, |_| {})
    }

    /// [`Self::write_settings`], then `change` on them before they are saved.
    pub fn write_settings_with(
        &self,
        extra: &[&str],
        change: impl FnOnce(&mut OpenSettings),
    ) -> Result<()> {
        let browser = airgate_launch::browser::detect()
            .into_iter()
            .find(|b| b.kind == airgate_launch::BrowserKind::Chromium);
        let mut browser_args = vec![
            format!(
                "--ignore-certificate-errors-spki-list={}",
                self.certificate.spki_sha256
            ),
            // This machine's network is closed: no background traffic from the sandbox's browser.
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
        ];
        if is_root() {
            // Chromium refuses to run as root with its sandbox on.
            browser_args.push("--no-sandbox".to_owned());
        }
        browser_args.extend(extra.iter().map(|a| (*a).to_owned()));
        let mut settings = OpenSettings {
            browser: browser.map(|b| b.path.display().to_string()),
            browser_args,
            // The Airgate window accepts the sandbox's certificate from the sandbox's hosts.
            window_certificates: vec![self.dir.path().join("cert.pem")],
            // The private names are the sandbox's own: never looked up on this machine.
            force_tunnel: true,
            // Any free port: the sandbox's app runs beside yours.
            pac_port: Some(0),
            ..OpenSettings::default()
        };
        change(&mut settings);
        airgate_launch::settings::save(&self.data_dir, &settings)?;
        Ok(())
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
            airgate_launch::settings::DATA_DIR_ENV.to_owned(),
            self.data_dir.display().to_string(),
        ));
        env
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
