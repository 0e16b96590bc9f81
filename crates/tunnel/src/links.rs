//! One SSH session per bastion, shared by every tunnel and forward that goes through it.
//!
//! A [`Link`] is a task that keeps one session to one bastion up: it connects, and when the
//! session is lost it connects again with backoff ([`reconnect`]) until it is back, refused
//! for good, or no tunnel needs it any more. Tunnels hold an `Arc<Link>`; when the last one is
//! dropped the link says goodbye to the bastion and ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::reconnect::{self, Backoff, Change, Waited};
use crate::session::BastionSession;
use crate::{BastionSpec, Error};

/// How long the bastion has to answer after the network changed or the machine woke up.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a link is doing, as the tunnels on it see it.
#[derive(Debug, Clone)]
pub(crate) enum LinkState {
    Connecting,
    Up(BastionSession),
    /// The session was lost; attempt `attempt` starts in `next_try_secs`.
    Reconnecting {
        attempt: u32,
        next_try_secs: u32,
        last_error: String,
    },
    /// Refused for good: the first connect failed with `error`, or a reconnect was refused
    /// (`reason` says both why the session was lost and why it could not come back).
    Failed {
        error: Error,
        reason: String,
    },
}

impl LinkState {
    fn session(&self) -> Option<BastionSession> {
        match self {
            LinkState::Up(session) => Some(session.clone()),
            _ => None,
        }
    }
}

/// One bastion session shared by the tunnels through it.
pub(crate) struct Link {
    state: watch::Receiver<LinkState>,
    sessions: watch::Receiver<Option<BastionSession>>,
    /// Ends the link's task when the last tunnel lets go of it.
    _stop: DropGuard,
}

impl Link {
    /// Its state, now and later.
    pub(crate) fn state(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    /// The session while it is up, `None` while connecting or reconnecting.
    pub(crate) fn sessions(&self) -> watch::Receiver<Option<BastionSession>> {
        self.sessions.clone()
    }

    fn is_over(&self) -> bool {
        matches!(*self.state.borrow(), LinkState::Failed { .. })
            || self.state.has_changed().is_err()
    }
}

/// Which bastion sessions a tunnel may share: same hops, keys, keepalive and known_hosts. A
/// fingerprint trusted once only matters to the connect that meets that key, so it is left out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LinkKey {
    bastion: BastionSpec,
    known_hosts: Vec<PathBuf>,
}

impl LinkKey {
    fn new(bastion: &BastionSpec, known_hosts: &[PathBuf]) -> Self {
        Self {
            bastion: BastionSpec {
                trust_once: None,
                ..bastion.clone()
            },
            known_hosts: known_hosts.to_vec(),
        }
    }
}

/// The links of one [`Tunnels`](crate::Tunnels) actor, by bastion.
#[derive(Default)]
pub(crate) struct Links {
    links: HashMap<LinkKey, Weak<Link>>,
}

impl Links {
    /// The running link to `bastion`, or a new one started under `parent`.
    pub(crate) fn get_or_start(
        &mut self,
        bastion: &BastionSpec,
        known_hosts: &[PathBuf],
        parent: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Arc<Link> {
        self.links.retain(|_, link| link.strong_count() > 0);
        let key = LinkKey::new(bastion, known_hosts);
        if let Some(link) = self.links.get(&key).and_then(Weak::upgrade)
            && !link.is_over()
        {
            debug!(bastion = %bastion.host, "sharing the session to the bastion");
            return link;
        }
        let link = Arc::new(start(
            bastion.clone(),
            known_hosts.to_vec(),
            parent,
            tracker,
        ));
        self.links.insert(key, Arc::downgrade(&link));
        link
    }
}

fn start(
    bastion: BastionSpec,
    known_hosts: Vec<PathBuf>,
    parent: &CancellationToken,
    tracker: &TaskTracker,
) -> Link {
    let stop = parent.child_token();
    let (state, state_receiver) = watch::channel(LinkState::Connecting);
    let (sessions, sessions_receiver) = watch::channel(None);
    let span = info_span!("bastion", bastion = %format_args!("{}@{}:{}", bastion.user, bastion.host, bastion.port));
    tracker.spawn(
        run(
            bastion,
            known_hosts,
            stop.clone(),
            Publish { state, sessions },
        )
        .instrument(span),
    );
    Link {
        state: state_receiver,
        sessions: sessions_receiver,
        _stop: stop.drop_guard(),
    }
}

struct Publish {
    state: watch::Sender<LinkState>,
    sessions: watch::Sender<Option<BastionSession>>,
}

impl Publish {
    fn send(&self, state: LinkState) {
        self.sessions.send_replace(state.session());
        self.state.send_replace(state);
    }
}

/// Keeps the session up until `stop`.
async fn run(
    bastion: BastionSpec,
    known_hosts: Vec<PathBuf>,
    stop: CancellationToken,
    publish: Publish,
) {
    let first = tokio::select! {
        () = stop.cancelled() => return,
        first = BastionSession::connect(&bastion, &known_hosts) => first,
    };
    let mut session = match first {
        Ok(session) => session,
        Err(error) => {
            let reason = error.to_string();
            return publish.send(LinkState::Failed { error, reason });
        }
    };
    info!("bastion session open");
    publish.send(LinkState::Up(session.clone()));
    loop {
        let reason = tokio::select! {
            () = stop.cancelled() => {
                session.close().await;
                info!("bastion session closed: no tunnel uses it");
                return;
            }
            reason = session.closed() => reason,
            change = reconnect::changed() => {
                // Another network, or a machine that slept, may have left the connection dead
                // long before the keepalives could tell: ask the bastion now.
                let answered = tokio::select! {
                    // Stopped meanwhile: the next turn of the loop closes the session.
                    () = stop.cancelled() => continue,
                    answered = session.answers_within(PROBE_TIMEOUT) => answered,
                };
                if answered {
                    debug!(?change, "the bastion still answers");
                    continue;
                }
                session.close().await;
                let after = match change {
                    Change::Network => "the network changed",
                    Change::Resumed => "the machine woke up",
                };
                format!(
                    "{after} and it did not answer within {} s",
                    PROBE_TIMEOUT.as_secs()
                )
            }
        };
        let reason = format!(
            "Lost the SSH session to bastion {}: {reason}.",
            session.bastion()
        );
        warn!(%reason, "bastion session lost; reconnecting");
        match reconnect(&bastion, &known_hosts, &stop, &publish, reason).await {
            Some(again) => {
                session = again;
                info!("bastion session open again");
                publish.send(LinkState::Up(session.clone()));
            }
            None => return,
        }
    }
}

/// Opens a new session after a loss, publishing each wait as `Reconnecting`; `None` when
/// stopped or refused for good (published as `Failed`).
async fn reconnect(
    bastion: &BastionSpec,
    known_hosts: &[PathBuf],
    stop: &CancellationToken,
    publish: &Publish,
    mut last_error: String,
) -> Option<BastionSession> {
    let mut backoff = Backoff::default();
    for attempt in 1u32.. {
        let wait = backoff.next_wait(reconnect::jitter_seed());
        publish.send(LinkState::Reconnecting {
            attempt,
            next_try_secs: wait.as_secs_f64().ceil() as u32,
            last_error: last_error.clone(),
        });
        match reconnect::wait(wait, stop).await {
            Waited::Cancelled => return None,
            Waited::Resumed => info!("the machine woke up: reconnecting now"),
            Waited::NetworkChanged => {
                info!("the network changed: reconnecting now");
                // A new network is a fresh start: the next wait is short again.
                backoff = Backoff::default();
            }
            Waited::Elapsed => {}
        }
        let attempted = tokio::select! {
            () = stop.cancelled() => return None,
            attempted = BastionSession::connect(bastion, known_hosts) => attempted,
        };
        match attempted {
            Ok(session) => return Some(session),
            Err(error) if !reconnect::is_retryable(&error) => {
                warn!(cause = %error, "reconnecting refused for good");
                let reason = format!("{last_error} Reconnecting failed: {error}");
                publish.send(LinkState::Failed { error, reason });
                return None;
            }
            Err(e) => {
                debug!(attempt, cause = %e, "reconnect attempt failed");
                last_error = e.to_string();
            }
        }
    }
    None
}
