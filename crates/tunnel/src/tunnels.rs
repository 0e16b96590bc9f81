//! The task that owns every tunnel, and the cloneable handle that talks to it.
//!
//! Architecture invariant: only the actor task changes tunnel state. Each tunnel runs on its
//! own task (bind, connect, serve) and reports state changes back to the actor, which
//! publishes them; callers get replies on oneshot channels.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};

use crate::links::{Link, LinkState, Links};
use crate::socks::serve_via;
use crate::stats::{Stats, TunnelStats};
use crate::{Error, Result, TunnelEvent, TunnelSpec, TunnelState};

/// How long [`Tunnels::shutdown`] waits for tunnels to close before giving up on them.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Handle to the task that owns every tunnel. Cloning it is cheap.
#[derive(Debug, Clone)]
pub struct Tunnels {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<TunnelEvent>,
}

impl Default for Tunnels {
    fn default() -> Self {
        Self::new()
    }
}

impl Tunnels {
    /// Starts the task owning the tunnels on the current runtime. It runs until
    /// [`shutdown`](Self::shutdown) or until every handle is dropped.
    ///
    /// # Panics
    /// Outside a Tokio runtime: use [`Tunnels::new_in`] there.
    pub fn new() -> Self {
        Self::new_in(&tokio::runtime::Handle::current())
    }

    /// Starts the task owning the tunnels on `runtime` (callable from any thread).
    pub fn new_in(runtime: &tokio::runtime::Handle) -> Self {
        let (commands, receiver) = mpsc::channel(64);
        let (events, _) = broadcast::channel(256);
        let (reports, report_receiver) = mpsc::unbounded_channel();
        let actor = Actor {
            entries: BTreeMap::new(),
            links: Links::default(),
            next_generation: 0,
            root: CancellationToken::new(),
            tracker: TaskTracker::new(),
            events: events.clone(),
            reports,
        };
        runtime.spawn(actor.run(receiver, report_receiver));
        Tunnels { commands, events }
    }

    /// Opens the tunnel `id`; returns the SOCKS port once connected.
    ///
    /// The state goes `Connecting`, then `Connected { port }` or `Failed { reason }`. A lost
    /// session goes `Reconnecting` (same port) until it is back (`Connected`), refused for good
    /// (`Failed`) or disconnected. A listen address off loopback is refused before anything
    /// starts.
    pub async fn connect(&self, id: &str, spec: TunnelSpec) -> Result<u16> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Connect {
            id: id.to_owned(),
            spec: Box::new(spec),
            reply,
        })
        .await?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    /// Closes the tunnel `id` and frees its port; its state becomes `Disconnected`.
    pub async fn disconnect(&self, id: &str) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Disconnect {
            id: id.to_owned(),
            reply,
        })
        .await?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    /// Every later state change of every tunnel.
    pub fn subscribe(&self) -> broadcast::Receiver<TunnelEvent> {
        self.events.subscribe()
    }

    /// The current state of every tunnel, by id.
    pub async fn states(&self) -> Vec<TunnelEvent> {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::States { reply }).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// What each tunnel carried: connected since, bytes each way, connections open and in all.
    pub async fn stats(&self) -> Vec<TunnelStats> {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Stats { reply }).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// The current state of the tunnel `id`, when it is known.
    pub async fn state(&self, id: &str) -> Option<TunnelState> {
        self.states()
            .await
            .into_iter()
            .find(|event| event.id == id)
            .map(|event| event.state)
    }

    /// Closes every tunnel and stops the task; later calls fail with [`Error::Stopped`].
    pub async fn shutdown(&self) {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Shutdown { reply }).await.is_ok() {
            let _ = answer.await;
        }
    }

    async fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .await
            .map_err(|_| Error::Stopped)
    }
}

enum Command {
    Connect {
        id: String,
        spec: Box<TunnelSpec>,
        reply: oneshot::Sender<Result<u16>>,
    },
    Disconnect {
        id: String,
        reply: oneshot::Sender<Result<()>>,
    },
    States {
        reply: oneshot::Sender<Vec<TunnelEvent>>,
    },
    Stats {
        reply: oneshot::Sender<Vec<TunnelStats>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// What a tunnel task tells the actor. `generation` tells reports of an earlier run of the
/// same id apart.
enum Report {
    State {
        id: String,
        generation: u64,
        state: TunnelState,
    },
    Finished {
        id: String,
        generation: u64,
    },
}

struct Entry {
    generation: u64,
    state: TunnelState,
    /// Set while the tunnel's task runs.
    cancel: Option<CancellationToken>,
    /// Disconnect callers waiting for the task to end.
    waiters: Vec<oneshot::Sender<Result<()>>>,
    /// What the tunnel's relays carried.
    stats: Arc<Stats>,
}

struct Actor {
    entries: BTreeMap<String, Entry>,
    /// One session per bastion, shared by the tunnels through it.
    links: Links,
    next_generation: u64,
    root: CancellationToken,
    tracker: TaskTracker,
    events: broadcast::Sender<TunnelEvent>,
    reports: mpsc::UnboundedSender<Report>,
}

impl Actor {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut reports: mpsc::UnboundedReceiver<Report>,
    ) {
        loop {
            tokio::select! {
                // Reports first: a state a task reported before replying is visible to the
                // caller's next command.
                biased;
                Some(report) = reports.recv() => self.on_report(report),
                command = commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => {
                        self.shutdown(&mut reports).await;
                        let _ = reply.send(());
                        return;
                    }
                    Some(command) => self.on_command(command),
                    None => break,
                },
            }
        }
        self.shutdown(&mut reports).await;
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Connect { id, spec, reply } => self.connect(id, *spec, reply),
            Command::Disconnect { id, reply } => self.disconnect(&id, reply),
            Command::States { reply } => {
                let states = self
                    .entries
                    .iter()
                    .map(|(id, e)| TunnelEvent {
                        id: id.clone(),
                        state: e.state.clone(),
                    })
                    .collect();
                let _ = reply.send(states);
            }
            Command::Stats { reply } => {
                let stats = self
                    .entries
                    .iter()
                    .filter(|(_, e)| e.cancel.is_some())
                    .map(|(id, e)| e.stats.snapshot(id))
                    .collect();
                let _ = reply.send(stats);
            }
            Command::Shutdown { .. } => unreachable!("handled by the run loop"),
        }
    }

    fn connect(&mut self, id: String, spec: TunnelSpec, reply: oneshot::Sender<Result<u16>>) {
        if !spec.listen.ip().is_loopback() {
            let _ = reply.send(Err(Error::NotLoopback { addr: spec.listen }));
            return;
        }
        if let Some(entry) = self.entries.get(&id)
            && let Some(cancel) = &entry.cancel
        {
            // A tunnel that failed may still be ending its task (its caller already has the
            // error): a new Connect replaces it; its later reports carry an old generation.
            if !matches!(entry.state, TunnelState::Failed { .. }) {
                let _ = reply.send(Err(Error::AlreadyOpen { id }));
                return;
            }
            cancel.cancel();
        }
        self.next_generation += 1;
        let generation = self.next_generation;
        let cancel = self.root.child_token();
        let stats = Arc::new(Stats::default());
        let link =
            self.links
                .get_or_start(&spec.bastion, &spec.known_hosts, &self.root, &self.tracker);
        self.entries.insert(
            id.clone(),
            Entry {
                generation,
                state: TunnelState::Connecting,
                cancel: Some(cancel.clone()),
                waiters: Vec::new(),
                stats: stats.clone(),
            },
        );
        self.publish(&id, TunnelState::Connecting);

        let reports = self.reports.clone();
        let span = info_span!("tunnel", env = %id, bastion = %spec.bastion.host);
        if let Some(to) = &spec.forward {
            info!(tunnel = %id, to = %format_args!("{}:{}", to.host, to.port), "a local forward");
        }
        let task = tokio::spawn(
            run_tunnel(
                Run {
                    id: id.clone(),
                    generation,
                    spec,
                    link,
                    cancel,
                    reports: reports.clone(),
                    stats,
                },
                reply,
            )
            .instrument(span),
        );
        self.tracker.spawn(async move {
            if let Err(e) = task.await {
                warn!(tunnel = %id, cause = %e, "tunnel task ended abnormally");
            }
            let _ = reports.send(Report::Finished { id, generation });
        });
    }

    fn disconnect(&mut self, id: &str, reply: oneshot::Sender<Result<()>>) {
        let Some(entry) = self.entries.get_mut(id) else {
            let _ = reply.send(Err(Error::NoSuchTunnel { id: id.to_owned() }));
            return;
        };
        match &entry.cancel {
            Some(cancel) => {
                // Answered when the task has ended and the port is free.
                cancel.cancel();
                entry.waiters.push(reply);
            }
            None => {
                // A failed tunnel, dismissed: forgotten.
                self.entries.remove(id);
                self.publish(id, TunnelState::Disconnected);
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn on_report(&mut self, report: Report) {
        match report {
            Report::State {
                id,
                generation,
                state,
            } => {
                let Some(entry) = self.entries.get_mut(&id) else {
                    return;
                };
                if entry.generation != generation || !entry.waiters.is_empty() {
                    return;
                }
                entry.state = state.clone();
                self.publish(&id, state);
            }
            Report::Finished { id, generation } => {
                let Some(entry) = self.entries.get_mut(&id) else {
                    return;
                };
                if entry.generation != generation {
                    return;
                }
                entry.cancel = None;
                let waiters = std::mem::take(&mut entry.waiters);
                if !waiters.is_empty() {
                    // Disconnected: its port is free, and the tunnel is forgotten.
                    self.entries.remove(&id);
                    self.publish(&id, TunnelState::Disconnected);
                    for waiter in waiters {
                        let _ = waiter.send(Ok(()));
                    }
                    return;
                }
                let state = if matches!(
                    entry.state,
                    TunnelState::Connecting
                        | TunnelState::Connected { .. }
                        | TunnelState::Reconnecting { .. }
                ) {
                    TunnelState::Failed {
                        reason: "The tunnel stopped unexpectedly.".to_owned(),
                    }
                } else {
                    return;
                };
                entry.state = state.clone();
                self.publish(&id, state);
            }
        }
    }

    async fn shutdown(&mut self, reports: &mut mpsc::UnboundedReceiver<Report>) {
        info!(tunnels = self.entries.len(), "closing every tunnel");
        self.root.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, self.tracker.wait())
            .await
            .is_err()
        {
            warn!("some tunnels did not close within {SHUTDOWN_TIMEOUT:?}");
        }
        // Every tunnel ends as Disconnected below, whatever its task last reported.
        while reports.try_recv().is_ok() {}
        for (id, entry) in std::mem::take(&mut self.entries) {
            for waiter in entry.waiters {
                let _ = waiter.send(Ok(()));
            }
            self.publish(&id, TunnelState::Disconnected);
        }
    }

    fn publish(&self, id: &str, state: TunnelState) {
        // No subscriber is fine.
        let _ = self.events.send(TunnelEvent {
            id: id.to_owned(),
            state,
        });
    }
}

/// What one tunnel's task needs.
struct Run {
    id: String,
    generation: u64,
    spec: TunnelSpec,
    link: Arc<Link>,
    cancel: CancellationToken,
    reports: mpsc::UnboundedSender<Report>,
    stats: Arc<Stats>,
}

/// One tunnel's life: bind, wait for its bastion's session, serve until cancelled, following
/// the session through losses and reconnects (the port stays bound).
async fn run_tunnel(run: Run, reply: oneshot::Sender<Result<u16>>) {
    let Run {
        id,
        generation,
        spec,
        link,
        cancel,
        reports,
        stats,
    } = run;
    let report = |state: TunnelState| {
        let _ = reports.send(Report::State {
            id: id.clone(),
            generation,
            state,
        });
    };
    let fail = |error: Error, reason: String, reply: Option<oneshot::Sender<Result<u16>>>| {
        warn!(cause = %reason, "tunnel failed");
        report(TunnelState::Failed { reason });
        if let Some(reply) = reply {
            let _ = reply.send(Err(error));
        }
    };

    let listener = match bind(spec.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            let reason = e.to_string();
            return fail(e, reason, Some(reply));
        }
    };
    let port = match listener.local_addr() {
        Ok(addr) => addr.port(),
        Err(source) => {
            let error = Error::Listen {
                addr: spec.listen,
                source: Arc::new(source),
            };
            let reason = error.to_string();
            return fail(error, reason, Some(reply));
        }
    };
    let mut states = link.state();
    let ready = |s: &LinkState| matches!(s, LinkState::Up(_) | LinkState::Failed { .. });
    let first = tokio::select! {
        () = cancel.cancelled() => None,
        first = states.wait_for(ready) => first.ok().map(|s| s.clone()),
    };
    match first {
        None if cancel.is_cancelled() => {
            let _ = reply.send(Err(Error::Cancelled { id: id.clone() }));
            return;
        }
        Some(LinkState::Up(_)) => {}
        Some(LinkState::Failed { error, reason }) => return fail(error, reason, Some(reply)),
        _ => {
            let error = Error::Stopped;
            let reason = error.to_string();
            return fail(error, reason, Some(reply));
        }
    }
    info!(port, "tunnel open");
    stats.set_connected(true);
    report(TunnelState::Connected { port });
    let _ = reply.send(Ok(port));

    let serving_stop = cancel.child_token();
    let serving = tokio::spawn(serve_via(
        listener,
        link.sessions(),
        stats.clone(),
        spec.forward.clone(),
        serving_stop.clone(),
    ));
    states.mark_unchanged();
    loop {
        let changed = tokio::select! {
            () = cancel.cancelled() => break,
            changed = states.changed() => changed,
        };
        if changed.is_err() {
            let error = Error::Stopped;
            let reason = error.to_string();
            fail(error, reason, None);
            break;
        }
        let state = states.borrow_and_update().clone();
        match state {
            LinkState::Connecting => {}
            LinkState::Up(_) => {
                stats.set_connected(true);
                info!(port, "tunnel open again");
                report(TunnelState::Connected { port });
            }
            LinkState::Reconnecting {
                attempt,
                next_try_secs,
                last_error,
            } => {
                stats.set_connected(false);
                report(TunnelState::Reconnecting {
                    port,
                    attempt,
                    next_try_secs,
                    last_error,
                });
            }
            LinkState::Failed { error, reason } => {
                stats.set_connected(false);
                fail(error, reason, None);
                break;
            }
        }
    }
    serving_stop.cancel();
    let _ = serving.await;
    info!("tunnel closed");
}

async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            Error::PortInUse {
                addr,
                holder: crate::holder_of(addr.port()),
            }
        } else {
            Error::Listen {
                addr,
                source: Arc::new(source),
            }
        }
    })
}
