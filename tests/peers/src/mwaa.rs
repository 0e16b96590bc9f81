//! An Amazon MWAA REST server (restJson1, as `aws-sdk-mwaa` speaks it) for tests and the sandbox.
//!
//! No offline MWAA service exists, so this is the project's own. It answers the operations
//! Airgate uses, with the paths, JSON field names, status codes and error headers of the real
//! service:
//!
//! | Operation             | Request                                           |
//! |-----------------------|---------------------------------------------------|
//! | `ListEnvironments`    | `GET /environments?MaxResults=&NextToken=`         |
//! | `GetEnvironment`      | `GET /environments/{Name}`                         |
//! | `CreateEnvironment`   | `PUT /environments/{Name}`                         |
//! | `DeleteEnvironment`   | `DELETE /environments/{Name}`                      |
//! | `CreateWebLoginToken` | `POST /webtoken/{Name}`                            |

//! | `CreateCliToken`      | `POST /clitoken/{Name}`                            |
//! | STS `GetCallerIdentity` | `POST /` (query protocol, XML answer)            |
//!
//! Errors carry `x-amzn-ErrorType` and a `{"message": ...}` body: `ResourceNotFoundException`
//! (404), `ValidationException` (400), `ThrottlingException` (429), `AccessDeniedException`
//! (403), `InternalServerException` (500).
//!
//! # Who is calling
//! State is kept per (account, region).
//! - **Region**: the SigV4 credential scope of the `Authorization` header,
//!   `Credential=AKID/DATE/REGION/airflow/aws4_request`. Signatures are not verified.
//! - **Account**: the access key id is looked up in [`MwaaConfig::access_keys`]; an unknown
//!   key maps to [`default_account_for`]: the 64-bit FNV-1a hash of the key modulo 10¹²,
//!   as 12 digits. With [`MwaaConfig::strict_access_keys`], unknown keys are refused with
//!   `UnrecognizedClientException` instead.
//! - No `Authorization` header: 403 `MissingAuthenticationTokenException`; an unparsable one:
//!   400 `IncompleteSignatureException`; a scope for another service: 403
//!   `InvalidSignatureException`.
//!
//! # Environments
//! `CreateEnvironment` puts an environment in `CREATING`; it turns `AVAILABLE` once
//! [`MwaaConfig::create_delay`] has passed (checked at each read; zero: at the next read).
//! `DeleteEnvironment` puts it in `DELETING`; it is gone after [`MwaaConfig::delete_delay`].
//! [`MwaaServer::seed`] puts an environment in with any status, as is.
//! Web server hosts are derived from (account, region, name):
//! `<uuid>-vpce.c<N>.<region>.airflow.amazonaws.com` for `PRIVATE_ONLY`, the same without
//! `-vpce` for `PUBLIC_ONLY`.
//!
//! # Test controls
//! [`MwaaServer::faults`] injects latency, throttling and errors; the same is reachable over
//! HTTP under `/_airgate/` (a prefix no MWAA path uses), so the `mwaa-server` binary can be driven
//! by scripts:
//! - `GET /_airgate/health`
//! - `GET /_airgate/faults`, `POST /_airgate/faults` with a [`Fault`] as JSON
//!   (`{"kind":"throttle","op":"ListEnvironments","count":1}`,
//!   `{"kind":"latency","op":"GetEnvironment","millis":300}`,
//!   `{"kind":"fail","account":"111111111111","error":"AccessDeniedException"}`),
//!   `DELETE /_airgate/faults`
//! - `POST /_airgate/seed` with a [`SeedFile`]
//! - `GET /_airgate/calls`: calls received per operation.

mod faults;
mod http;
mod model;
mod profiles;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use faults::{ErrorCode, Fault, FaultRule, FaultSet, Faults, Operation};
pub use model::{
    EndpointManagement, EnvironmentStatus, SeedEntry, SeedEnvironment, SeedFile, SeedUpdateError,
    SeededEnvironment, WebserverAccessMode,
};
pub use profiles::{AwsProfile, AwsProfileFiles};

use model::EnvRecord;

use crate::web_token::TokenKey;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct MwaaConfig {
    /// Must be a loopback address; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Access key id → 12-digit account id.
    pub access_keys: BTreeMap<String, String>,
    /// Refuse access keys missing from [`Self::access_keys`] (`UnrecognizedClientException`).
    pub strict_access_keys: bool,
    /// How long an environment made by `CreateEnvironment` stays `CREATING`.
    pub create_delay: Duration,
    /// How long a deleted environment stays `DELETING` before it disappears.
    pub delete_delay: Duration,
    /// Page size of `ListEnvironments` without `MaxResults` (MWAA allows 1 to 25).
    pub default_page_size: usize,
    /// Signs web login tokens, so a web server holding the key can check them
    /// ([`crate::web_token`]).
    pub token_key: TokenKey,
}

impl Default for MwaaConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_keys: BTreeMap::new(),
            strict_access_keys: false,
            create_delay: Duration::ZERO,
            delete_delay: Duration::ZERO,
            default_page_size: 10,
            token_key: TokenKey::generate(),
        }
    }
}

impl MwaaConfig {
    /// Maps `access_key_id` to `account`.
    pub fn access_key(
        mut self,
        access_key_id: impl Into<String>,
        account: impl Into<String>,
    ) -> Self {
        self.access_keys
            .insert(access_key_id.into(), account.into());
        self
    }
}

/// The account an access key id belongs to when no map says otherwise: FNV-1a of the key
/// modulo 10¹², as 12 digits.
pub fn default_account_for(access_key_id: &str) -> String {
    let hash = model::fnv1a(&[access_key_id]);
    format!("{:012}", hash % 1_000_000_000_000)
}

/// A token handed out by `CreateWebLoginToken` or `CreateCliToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub operation: Operation,
    pub account: String,
    pub region: String,
    pub environment: String,
    pub token: String,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub envs: BTreeMap<(String, String), BTreeMap<String, EnvRecord>>,
    pub access_keys: BTreeMap<String, String>,
    /// Temporary credentials (a session token) of keys not in `access_keys` act here.
    pub session_account: Option<String>,
    pub calls: BTreeMap<Operation, u64>,
    pub tokens: Vec<IssuedToken>,
    pub token_counter: u64,
}

impl State {
    /// Applies due status changes (CREATING → AVAILABLE, DELETING → gone) in one (account, region).
    pub fn settle(&mut self, account: &str, region: &str) -> &mut BTreeMap<String, EnvRecord> {
        let now = Instant::now();
        let envs = self
            .envs
            .entry((account.to_owned(), region.to_owned()))
            .or_default();
        envs.retain(|_, rec| rec.remove_at.is_none_or(|at| at > now));
        for rec in envs.values_mut() {
            if rec.available_at.is_some_and(|at| at <= now) {
                rec.available_at = None;
                rec.seed.status = EnvironmentStatus::Available;
            }
        }
        envs
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub config: MwaaConfig,
    pub state: Mutex<State>,
    pub faults: Faults,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn account_for(&self, access_key_id: &str) -> Option<String> {
        let state = self.lock();
        match state.access_keys.get(access_key_id) {
            Some(account) => Some(account.clone()),
            None if self.config.strict_access_keys => None,
            None => Some(default_account_for(access_key_id)),
        }
    }

    pub fn seed(&self, account: &str, region: &str, seed: SeedEnvironment) -> SeededEnvironment {
        let record = EnvRecord::new(account, region, seed);
        let seeded = SeededEnvironment {
            arn: record.arn.clone(),
            webserver_host: record.webserver_host(),
        };
        self.lock()
            .settle(account, region)
            .insert(record.seed.name.clone(), record);
        seeded
    }
}

/// A running MWAA server on loopback. Dropping it stops it.
#[derive(Debug)]
pub struct MwaaServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    served: crate::served::Served,
}

impl MwaaServer {
    /// Binds `config.listen` (loopback only) and serves in the background.
    pub async fn start(config: MwaaConfig) -> io::Result<Self> {
        let listener = crate::served::bind_loopback(config.listen, "MWAA test server").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                access_keys: config.access_keys.clone(),
                ..State::default()
            }),
            config,
            faults: Faults::default(),
        });
        let served = crate::served::Served::start(listener, http::router(shared.clone()));
        tracing::debug!(%addr, "MWAA test server listening");
        Ok(Self {
            addr,
            shared,
            served,
        })
    }

    /// `http://127.0.0.1:PORT`, for `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Puts an environment into (account, region) with the seed's status, replacing any of
    /// the same name.
    pub fn seed(&self, account: &str, region: &str, seed: SeedEnvironment) -> SeededEnvironment {
        self.shared.seed(account, region, seed)
    }

    /// Seeds every environment of a seed file and adds its access keys.
    pub fn seed_file(&self, file: SeedFile) {
        self.shared.lock().access_keys.extend(file.access_keys);
        for entry in file.environments {
            self.shared
                .seed(&entry.account, &entry.region, entry.environment);
        }
    }

    /// Removes an environment at once (no `DELETING` phase). Returns whether it existed.
    pub fn remove(&self, account: &str, region: &str, name: &str) -> bool {
        self.shared
            .lock()
            .settle(account, region)
            .remove(name)
            .is_some()
    }

    /// Names of the environments in (account, region), sorted.
    pub fn environment_names(&self, account: &str, region: &str) -> Vec<String> {
        self.shared
            .lock()
            .settle(account, region)
            .keys()
            .cloned()
            .collect()
    }

    /// Maps an access key id to an account (also for a running server).
    pub fn map_access_key(&self, access_key_id: &str, account: &str) {
        self.shared
            .lock()
            .access_keys
            .insert(access_key_id.to_owned(), account.to_owned());
    }

    /// The account calls signed with `access_key_id` act in (`None`: refused).
    pub fn account_for(&self, access_key_id: &str) -> Option<String> {
        self.shared.account_for(access_key_id)
    }

    /// Accepts temporary credentials (signed with a session token) of keys it does not know, as
    /// acting in `account`: those another STS (moto's) handed out for a role of that account.
    pub fn accept_session_keys(&self, account: &str) {
        self.shared.lock().session_account = Some(account.to_owned());
    }

    /// Fault injection; the handle stays valid while the server runs.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Calls of `op` received so far (authenticated ones, failed or not).
    pub fn calls(&self, op: Operation) -> u64 {
        self.shared.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// The key web login tokens are signed with.
    pub fn token_key(&self) -> TokenKey {
        self.shared.config.token_key.clone()
    }

    /// Web login and CLI tokens handed out so far, oldest first.
    pub fn issued_tokens(&self) -> Vec<IssuedToken> {
        self.shared.lock().tokens.clone()
    }

    /// Stops accepting, lets open requests finish (bounded by 5 s), and returns.
    pub async fn shutdown(mut self) {
        self.served.shutdown().await;
    }
}
