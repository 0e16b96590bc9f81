//! One SSH session to a bastion: TCP with timeouts, host key checked against known_hosts,
//! public key authentication, keepalives.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use russh::client::{self, DisconnectReason, Handle};
use russh::keys::{Algorithm, HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelId, ChannelOpenFailure, Disconnect, Preferred, cipher};
use tokio::net::TcpStream;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, info, instrument, warn};

use crate::keys::LoginKey;
use crate::known_hosts::{self, Verdict};
use crate::{BastionSpec, Error, KeySource, Result};

/// How long the TCP connection to the bastion may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the SSH key exchange may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long authentication may take.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(15);

/// With AES instructions: AES-GCM first, then chacha20-poly1305. (Strict key exchange against
/// Terrapin is russh's default; no CBC, no arcfour, no 3DES.)
const CIPHERS: &[cipher::Name] = &[
    cipher::AES_128_GCM,
    cipher::AES_256_GCM,
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_CTR,
    cipher::AES_192_CTR,
    cipher::AES_128_CTR,
];
/// Without them: chacha20-poly1305 first.
const CIPHERS_SOFTWARE: &[cipher::Name] = &[
    cipher::CHACHA20_POLY1305,
    cipher::AES_128_GCM,
    cipher::AES_256_GCM,
    cipher::AES_256_CTR,
    cipher::AES_192_CTR,
    cipher::AES_128_CTR,
];

/// An authenticated SSH session to a bastion. Cheap to clone; every clone drives the same
/// session.
#[derive(Clone)]
pub struct BastionSession {
    inner: Arc<Inner>,
}

struct Inner {
    handle: Handle<ClientHandler>,
    label: String,
    closed: CancellationToken,
    end_reason: Arc<Mutex<Option<String>>>,
    /// The jump hosts' sessions this one runs through, first hop first.
    via: Vec<BastionSession>,
}

impl fmt::Debug for BastionSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BastionSession")
            .field("bastion", &self.inner.label)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl BastionSession {
    /// Connects and logs in to `bastion`, whose host key must be in one of `known_hosts`: over
    /// TCP, or through its jump hosts in order (`ssh -J`), each hop an SSH session inside a
    /// `direct-tcpip` channel of the one before, with its own key and host-key check.
    #[instrument(skip_all, fields(bastion = %format_args!("{}@{}:{}", bastion.user, bastion.host, bastion.port)))]
    pub async fn connect(bastion: &BastionSpec, known_hosts: &[PathBuf]) -> Result<BastionSession> {
        let (host, port) = (bastion.host.clone(), bastion.port);
        let hops: Vec<&BastionSpec> = bastion.jump.iter().chain([bastion]).collect();
        // Files are read off the async executor: a slow disk or a network home never stalls
        // other tunnels.
        let key_sources: Vec<KeySource> = hops.iter().map(|hop| hop.key.clone()).collect();
        let files = known_hosts.to_vec();
        let (keys, known) = tokio::task::spawn_blocking(move || {
            let keys = key_sources
                .iter()
                .map(KeySource::load)
                .collect::<Result<Vec<_>>>()?;
            Ok::<_, Error>((keys, known_hosts::load(&files)?))
        })
        .await
        .map_err(|e| Error::Ssh {
            host: host.clone(),
            port,
            reason: format!("reading the keys and known_hosts stopped: {e}"),
        })??;

        let mut previous: Option<BastionSession> = None;
        for (hop, key) in hops.into_iter().zip(keys) {
            let trust_once = bastion.trust_once.clone();
            let session = match previous.take() {
                None => {
                    let stream = connect_tcp(&hop.host, hop.port).await?;
                    if let Err(e) = stream.set_nodelay(true) {
                        debug!(cause = %e, "could not set TCP_NODELAY");
                    }
                    let stream = crate::quickack::QuickAck(stream);
                    Self::login(hop, key, &known, trust_once, stream, Vec::new()).await?
                }
                Some(via) => {
                    let next = format!("{}:{}", hop.host, hop.port);
                    let origin = SocketAddr::from(([127, 0, 0, 1], 0));
                    let failed = |reason: String| Error::JumpFailed {
                        jump: via.bastion().to_owned(),
                        next: next.clone(),
                        reason,
                    };
                    let channel = tokio::time::timeout(
                        CONNECT_TIMEOUT,
                        via.open_direct_tcpip(&hop.host, hop.port, origin),
                    )
                    .await
                    .map_err(|_| {
                        failed(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))
                    })?
                    .map_err(|e| failed(e.to_string()))?;
                    let mut kept = via.inner.via.clone();
                    kept.push(via);
                    Self::login(hop, key, &known, trust_once, channel.into_stream(), kept).await?
                }
            };
            previous = Some(session);
        }
        previous.ok_or_else(|| Error::Ssh {
            host,
            port,
            reason: "no hop to connect to".to_owned(),
        })
    }

    /// The key exchange (host key checked) and public key login of one hop over `stream`;
    /// `via` are the sessions it goes through (kept alive as long as this one).
    async fn login<S>(
        hop: &BastionSpec,
        key: LoginKey,
        known: &known_hosts::Loaded,
        trust_once: Option<String>,
        stream: S,
        via: Vec<BastionSession>,
    ) -> Result<BastionSession>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (host, port) = (hop.host.clone(), hop.port);
        let config = client_config(&host, port, known, hop.keepalive);
        let rejection = Arc::new(Mutex::new(None));
        let end_reason = Arc::new(Mutex::new(None));
        let closed = CancellationToken::new();
        let handler = ClientHandler {
            host: host.clone(),
            port,
            known_hosts: known.clone(),
            rejection: rejection.clone(),
            end_reason: end_reason.clone(),
            keepalive: hop.keepalive,
            trust_once,
            pinned: hop.host_key.clone(),
            _closed: closed.clone().drop_guard(),
        };
        let handshake = client::connect_stream(config, stream, handler);
        let mut handle = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Err(_) => {
                return Err(timeout_error(
                    &host,
                    port,
                    "exchanging keys",
                    HANDSHAKE_TIMEOUT,
                ));
            }
            Ok(Err(e)) => {
                // russh reports a refused host key as a generic error: ours says why.
                let refused = rejection
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                return Err(refused.unwrap_or_else(|| Error::Ssh {
                    host: host.clone(),
                    port,
                    reason: e.to_string(),
                }));
            }
            Ok(Ok(handle)) => handle,
        };

        let (key_name, auth) = match key {
            LoginKey::Private(key) => {
                let key_name = format!(
                    "{} ({})",
                    hop.key.label(),
                    key.public_key().fingerprint(HashAlg::Sha256)
                );
                let auth = async {
                    let hash = if key.algorithm().is_rsa() {
                        handle.best_supported_rsa_hash().await?.flatten()
                    } else {
                        None
                    };
                    handle
                        .authenticate_publickey(
                            &hop.user,
                            PrivateKeyWithHashAlg::new(Arc::new(*key), hash),
                        )
                        .await
                };
                (
                    key_name,
                    tokio::time::timeout(AUTH_TIMEOUT, auth)
                        .await
                        .map_err(|_| timeout_error(&host, port, "authenticating", AUTH_TIMEOUT))?
                        .map_err(|e| Error::Ssh {
                            host: host.clone(),
                            port,
                            reason: e.to_string(),
                        })?,
                )
            }
            LoginKey::Agent(path) => {
                let agent = hop.key.label();
                let auth = agent_login(&mut handle, &hop.user, &path, &agent);
                let (tried, auth) = tokio::time::timeout(AUTH_TIMEOUT, auth)
                    .await
                    .map_err(|_| timeout_error(&host, port, "authenticating", AUTH_TIMEOUT))??;
                (format!("{agent} ({tried} tried)"), auth)
            }
        };
        if let client::AuthResult::Failure {
            remaining_methods,
            partial_success,
        } = auth
        {
            let detail = if partial_success {
                "the key was accepted but the bastion wants a second factor, which is not supported"
                    .to_owned()
            } else {
                let methods: Vec<&str> = remaining_methods.iter().map(<&str>::from).collect();
                format!(
                    "the key is not authorized (the bastion allows: {})",
                    methods.join(", ")
                )
            };
            let _ = handle.disconnect(Disconnect::ByApplication, "", "en").await;
            return Err(Error::AuthRejected {
                user: hop.user.clone(),
                host,
                port,
                key: key_name,
                detail,
            });
        }
        let mut label = format!("{}@{}:{}", hop.user, hop.host, hop.port);
        if let Some(last) = via.last() {
            label.push_str(&format!(" via {}", last.bastion()));
        }
        info!(hop = %label, "connected");
        Ok(BastionSession {
            inner: Arc::new(Inner {
                handle,
                label,
                closed,
                end_reason,
                via,
            }),
        })
    }

    /// `user@host:port` of the bastion.
    pub fn bastion(&self) -> &str {
        &self.inner.label
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled() || self.inner.handle.is_closed()
    }

    /// Whether the bastion answers a keepalive within `limit`: the session still carries.
    pub async fn answers_within(&self, limit: Duration) -> bool {
        matches!(
            tokio::time::timeout(limit, self.inner.handle.send_ping()).await,
            Ok(Ok(()))
        ) && !self.is_closed()
    }

    /// Waits until the session ends, and says why.
    pub async fn closed(&self) -> String {
        self.inner.closed.cancelled().await;
        self.inner
            .end_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "the SSH connection ended".to_owned())
    }

    /// Says goodbye to the bastion and waits (briefly) for the session to end.
    pub async fn close(&self) {
        let bye = self
            .inner
            .handle
            .disconnect(Disconnect::ByApplication, "", "en");
        if tokio::time::timeout(Duration::from_secs(3), bye)
            .await
            .is_err()
        {
            warn!(bastion = %self.inner.label, "bastion did not take the disconnect in time");
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), self.inner.closed.cancelled()).await;
    }

    /// Opens a `direct-tcpip` channel to `host:port` as seen from the bastion. `host` may be a
    /// name: the bastion resolves it.
    pub(crate) async fn open_direct_tcpip(
        &self,
        host: &str,
        port: u16,
        originator: SocketAddr,
    ) -> Result<russh::Channel<client::Msg>, russh::Error> {
        let channel = self
            .inner
            .handle
            .channel_open_direct_tcpip(
                host,
                u32::from(port),
                originator.ip().to_string(),
                u32::from(originator.port()),
            )
            .await?;
        // sshd does not set TCP_NODELAY on a forward-only connection: it holds the channel's
        // first data until the confirmation is acknowledged, and this side's kernel delays that
        // ACK by up to 40 ms. A small packet now carries the ACK at once. It matters when the
        // server speaks first (banners, streams), and for every small request (measured: 41 ms
        // to the first byte without it). It asks for no reply: a reply is one more small packet
        // from sshd, which again holds the channel's first data until this side's delayed ACK
        // (the same 41 ms). (On Linux the quick acknowledgements do it too; macOS and Windows
        // have only this.)
        if let Err(err) = self.inner.handle.send_keepalive(false).await {
            debug!(bastion = %self.inner.label, cause = %err, "could not nudge the bastion");
        }
        Ok(channel)
    }
}

/// Logs in with each key the agent at `path` holds, in its order, until one is accepted (as
/// `ssh` does); how many were tried, and the last answer.
async fn agent_login(
    handle: &mut Handle<ClientHandler>,
    user: &str,
    path: &std::path::Path,
    agent: &str,
) -> Result<(usize, client::AuthResult)> {
    use russh::keys::agent::AgentIdentity;
    let unavailable = |reason: String| Error::AgentUnavailable {
        agent: agent.to_owned(),
        reason,
    };
    #[cfg(unix)]
    let mut client = russh::keys::agent::client::AgentClient::connect_uds(path)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    #[cfg(windows)]
    let mut client = russh::keys::agent::client::AgentClient::connect_named_pipe(path)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let keys: Vec<_> = client
        .request_identities()
        .await
        .map_err(|e| unavailable(e.to_string()))?
        .into_iter()
        .filter_map(|identity| match identity {
            AgentIdentity::PublicKey { key, .. } => Some(key),
            AgentIdentity::Certificate { .. } => None,
        })
        .collect();
    if keys.is_empty() {
        return Err(Error::AgentEmpty {
            agent: agent.to_owned(),
        });
    }
    let mut last = None;
    for (tried, key) in keys.into_iter().enumerate() {
        let hash = if key.algorithm().is_rsa() {
            handle
                .best_supported_rsa_hash()
                .await
                .map_err(|e| unavailable(e.to_string()))?
                .flatten()
        } else {
            None
        };
        let answer = handle
            .authenticate_publickey_with(user, key, hash, &mut client)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if answer.success() {
            return Ok((tried + 1, answer));
        }
        last = Some((tried + 1, answer));
    }
    last.ok_or_else(|| Error::AgentEmpty {
        agent: agent.to_owned(),
    })
}

fn timeout_error(host: &str, port: u16, step: &'static str, after: Duration) -> Error {
    Error::Timeout {
        host: host.to_owned(),
        port,
        step,
        seconds: after.as_secs(),
    }
}

/// Resolves `host` and tries each address in turn, each within [`CONNECT_TIMEOUT`]; the error
/// names every address tried and what happened.
async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream> {
    let unreachable = |reason: String| Error::BastionUnreachable {
        host: host.to_owned(),
        port,
        reason,
    };
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| timeout_error(host, port, "looking up its address", CONNECT_TIMEOUT))?
            .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?
            .collect();
    // What went wrong with each address: `None` when it did not answer in time.
    let mut failures: Vec<(SocketAddr, Option<std::io::Error>)> = Vec::new();
    for addr in &addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => failures.push((*addr, Some(e))),
            Err(_) => failures.push((*addr, None)),
        }
    }
    let said = |e: &Option<std::io::Error>| match e {
        Some(e) => e.to_string(),
        None => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
    };
    match failures.as_slice() {
        [] => Err(unreachable(format!("{host} has no address"))),
        [(_, None)] => Err(timeout_error(host, port, "connecting", CONNECT_TIMEOUT)),
        [(_, error)] => Err(unreachable(said(error))),
        many => {
            let tried: Vec<String> = many
                .iter()
                .map(|(a, e)| format!("{a}: {}", said(e)))
                .collect();
            Err(unreachable(format!("tried {}", tried.join("; "))))
        }
    }
}

/// The cipher order: AES-GCM first where the CPU has AES instructions (fastest there),
/// ChaCha20-Poly1305 first where it has not (faster in software, and constant-time).
fn ciphers() -> &'static [cipher::Name] {
    if cpu_has_aes() {
        CIPHERS
    } else {
        CIPHERS_SOFTWARE
    }
}

fn cpu_has_aes() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

fn client_config(
    host: &str,
    port: u16,
    known_hosts: &known_hosts::Loaded,
    keepalive: crate::Keepalive,
) -> Arc<client::Config> {
    // Ask first for the host key types known_hosts can verify, as `ssh` does. RSA with SHA-1
    // signatures (`ssh-rsa`) is left out, as OpenSSH does since 8.8.
    let known = known_hosts::known_algorithms(host, port, known_hosts);
    let mut keys: Vec<Algorithm> = Preferred::DEFAULT
        .key
        .iter()
        .filter(|a| !matches!(a, Algorithm::Rsa { hash: None }))
        .cloned()
        .collect();
    keys.sort_by_key(|a| !known.iter().any(|k| known_hosts::same_family(k, a)));
    // Offer host certificates only where a CA is named for this host, as `ssh` does (a revoked
    // one too: its certificate is then refused as revoked, not taken for an unknown key).
    let certificates: Vec<Algorithm> = if !known_hosts::names_an_authority(host, port, known_hosts)
    {
        Vec::new()
    } else {
        keys.clone()
    };
    Arc::new(client::Config {
        nodelay: true,
        keepalive_interval: Some(keepalive.interval),
        keepalive_max: keepalive.max as usize,
        inactivity_timeout: None,
        preferred: Preferred {
            host_key_certificates: Cow::Owned(certificates),
            cipher: Cow::Borrowed(ciphers()),
            key: Cow::Owned(keys),
            ..Preferred::DEFAULT
        },
        ..client::Config::default()
    })
}

/// Checks the host key and records why a session ended. Dropped when the session task ends,
/// which cancels `closed`.
struct ClientHandler {
    host: String,
    port: u16,
    known_hosts: known_hosts::Loaded,
    rejection: Arc<Mutex<Option<Error>>>,
    end_reason: Arc<Mutex<Option<String>>>,
    keepalive: crate::Keepalive,
    /// The SHA256 fingerprint of an unknown host key the user trusted for this tunnel only.
    trust_once: Option<String>,
    /// The fingerprint the saved bastion pins: then known_hosts is not asked.
    pinned: Option<String>,
    _closed: DropGuard,
}

impl ClientHandler {
    /// A host certificate is trusted when an `@cert-authority` line for this host names the key
    /// that signed it, it is a host certificate, valid now, for this host name, with no
    /// critical option (none exists for hosts) — as `ssh` checks it.
    fn verify_certificate(&self, cert: &russh::keys::Certificate) -> Result<()> {
        let (host, port) = (self.host.clone(), self.port);
        let invalid = |reason: String| Error::HostCertificateInvalid {
            host: host.clone(),
            port,
            reason,
        };
        // Revocation first: a revoked CA is refused as revoked, whatever else is listed.
        if known_hosts::is_revoked(&host, port, cert.signature_key(), &self.known_hosts) {
            return Err(invalid(format!(
                "the CA that signed it ({}) is marked @revoked in known_hosts",
                cert.signature_key().fingerprint(HashAlg::Sha256)
            )));
        }
        if known_hosts::is_revoked(&host, port, cert.public_key(), &self.known_hosts) {
            return Err(invalid(format!(
                "its key ({}) is marked @revoked in known_hosts",
                cert.public_key().fingerprint(HashAlg::Sha256)
            )));
        }
        if !known_hosts::names_an_authority(&host, port, &self.known_hosts) {
            return Err(Error::HostCertificate { host, port });
        }
        let authorities = known_hosts::authorities(&host, port, &self.known_hosts);
        let fingerprints: Vec<russh::keys::ssh_key::Fingerprint> = authorities
            .iter()
            .map(|ca| ca.fingerprint(HashAlg::Sha256))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        cert.validate_at(now, &fingerprints).map_err(|_| {
            invalid(
                "it is not signed by an @cert-authority key of known_hosts, or it is expired or \
                 not valid yet"
                    .to_owned(),
            )
        })?;
        if cert.cert_type() != russh::keys::ssh_key::certificate::CertType::Host {
            return Err(invalid(
                "it is a user certificate, not a host certificate".to_owned(),
            ));
        }
        let name = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let principals = cert.valid_principals();
        if !principals.is_empty() && !principals.iter().any(|p| p.to_ascii_lowercase() == name) {
            return Err(invalid(format!(
                "it is for {}, not {name}",
                principals.join(", ")
            )));
        }
        if !cert.critical_options().is_empty() {
            return Err(invalid(
                "it carries critical options a host certificate never has".to_owned(),
            ));
        }
        info!(ca = %cert.signature_key().fingerprint(HashAlg::Sha256), "host certificate trusted");
        Ok(())
    }

    fn verify(&self, server_key: &PublicKeyOrCertificate) -> Result<()> {
        let (host, port) = (self.host.clone(), self.port);
        if let Some(pinned) = &self.pinned {
            // The saved bastion names its key: that one and no other, whatever known_hosts says.
            let fingerprint = match server_key {
                PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256),
                PublicKeyOrCertificate::Certificate(cert) => {
                    cert.public_key().fingerprint(HashAlg::Sha256)
                }
            }
            .to_string();
            if &fingerprint == pinned {
                debug!(%fingerprint, "host key pinned");
                return Ok(());
            }
            return Err(Error::HostKeyNotPinned {
                host,
                port,
                fingerprint,
                pinned: pinned.clone(),
            });
        }
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(cert) => return self.verify_certificate(cert),
        };
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        match known_hosts::check_loaded(&host, port, key, &self.known_hosts) {
            Verdict::Trusted => {
                debug!(%fingerprint, "host key known");
                Ok(())
            }
            Verdict::Unknown if self.trust_once.as_deref() == Some(fingerprint.as_str()) => {
                info!(%fingerprint, "host key trusted once, for this tunnel");
                Ok(())
            }
            Verdict::Unknown => Err(Error::UnknownHostKey {
                host,
                port,
                key_type: key.algorithm().to_string(),
                fingerprint,
                public_key: key.to_openssh().unwrap_or_default(),
            }),
            Verdict::Changed { path, line, known } => Err(Error::HostKeyChanged {
                host,
                port,
                fingerprint,
                known,
                known_hosts: path,
                line,
            }),
            Verdict::Revoked { path, line } => Err(Error::HostKeyRevoked {
                host,
                port,
                fingerprint,
                known_hosts: path,
                line,
            }),
        }
    }
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match self.verify(server_public_key) {
            Ok(()) => Ok(true),
            Err(refused) => {
                warn!(cause = %refused, "host key refused");
                // The first refusal says why (a refused certificate, not what follows it).
                self.rejection
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(refused);
                Ok(false)
            }
        }
    }

    async fn channel_open_failure(
        &mut self,
        channel: ChannelId,
        reason: ChannelOpenFailure,
        description: &str,
        _language: &str,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        debug!(%channel, ?reason, description, "bastion could not open the forward");
        Ok(())
    }

    async fn disconnected(
        &mut self,
        reason: DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let (text, result) = match reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                let message = if info.message.is_empty() {
                    format!("{:?}", info.reason_code)
                } else {
                    info.message.clone()
                };
                (
                    format!("the bastion closed the session ({message})"),
                    Ok(()),
                )
            }
            DisconnectReason::Error(russh::Error::KeepaliveTimeout) => (
                format!(
                    "the bastion stopped answering ({} keepalives unanswered, one every {} s)",
                    self.keepalive.max,
                    self.keepalive.interval.as_secs_f32()
                ),
                Err(russh::Error::KeepaliveTimeout),
            ),
            DisconnectReason::Error(e) => (format!("the SSH connection was lost: {e}"), Err(e)),
        };
        debug!(reason = %text, "session ended");
        let mut slot = self
            .end_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(text);
        result
    }
}
