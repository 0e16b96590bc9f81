//! When and whether to try a lost session again: jittered exponential backoff (1 s doubling to
//! 60 s), cut short when the wall clock jumps (the machine slept) or the network changes (Linux:
//! the routing tables; another Wi-Fi, a VPN up or down, a cable), never for errors that a retry
//! cannot fix.

use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::Error;

/// The first wait after a loss.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A wall clock that moved this much more than the monotonic one means the machine slept.
const CLOCK_JUMP: Duration = Duration::from_secs(5);
/// How often a wait before the next try looks at the machine.
const TICK: Duration = Duration::from_millis(500);
/// How often a connected session's machine is looked at for sleep and network changes.
const WATCH_TICK: Duration = Duration::from_secs(1);

/// The delays between attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: FIRST_DELAY }
    }
}

impl Backoff {
    /// The wait before the next attempt: the current delay, less up to half of it at random
    /// (so many clients of one bastion do not retry in step), then the delay doubles.
    pub fn next_wait(&mut self, random: u32) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        let fraction = f64::from(random % 1000) / 1000.0;
        delay.mul_f64(1.0 - fraction / 2.0)
    }
}

/// A little randomness for the jitter (not for anything secret).
pub fn jitter_seed() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default()
}

/// Whether trying again could help: a refused or unknown host key, an unusable key or a
/// refused login stay refused (and retrying them would look like an attack to the bastion).
pub fn is_retryable(error: &Error) -> bool {
    !matches!(
        error,
        Error::UnknownHostKey { .. }
            | Error::HostKeyChanged { .. }
            | Error::HostKeyNotPinned { .. }
            | Error::HostKeyRevoked { .. }
            | Error::HostCertificate { .. }
            | Error::HostCertificateInvalid { .. }
            | Error::KnownHostsUnreadable { .. }
            | Error::KeyPassphraseNeeded { .. }
            | Error::KeyPassphraseWrong { .. }
            | Error::KeyIsPublic { .. }
            | Error::AgentEmpty { .. }
            | Error::KeyUnreadable { .. }
            | Error::AuthRejected { .. }
            | Error::NotLoopback { .. }
    )
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The whole wait passed.
    Elapsed,
    /// The wall clock jumped ahead (the machine slept): try now.
    Resumed,
    /// The network changed (routes or addresses): try now.
    NetworkChanged,
    Cancelled,
}

/// What this machine's network looks like: its interfaces and their addresses (what macOS and
/// Windows are watched by), and on Linux its routing tables too. It changes whenever an interface
/// comes or goes (another Wi-Fi, a VPN, a cable), gets another address, or the default route
/// moves; `None` when none of it can be read.
async fn network_state() -> Option<Vec<u8>> {
    tokio::task::spawn_blocking(|| match (addresses(), routes()) {
        (None, None) => None,
        (addresses, routes) => Some(
            [addresses, routes]
                .into_iter()
                .flatten()
                .flatten()
                .collect(),
        ),
    })
    .await
    .ok()
    .flatten()
}

/// Every interface with each of its addresses, in a stable order (the OS may list them in
/// another order each time).
fn addresses() -> Option<Vec<u8>> {
    let mut interfaces: Vec<String> = if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .map(|i| format!("{} {:?} {}\n", i.name, i.index, i.ip()))
        .collect();
    interfaces.sort();
    Some(interfaces.concat().into_bytes())
}

/// The IPv4 and IPv6 routing tables: a route can move with no address changing (a VPN's).
#[cfg(target_os = "linux")]
fn routes() -> Option<Vec<u8>> {
    let mut routes = std::fs::read("/proc/net/route").ok()?;
    routes.extend(std::fs::read("/proc/net/ipv6_route").unwrap_or_default());
    Some(routes)
}

#[cfg(not(target_os = "linux"))]
fn routes() -> Option<Vec<u8>> {
    None
}

/// What happened to a connected machine that may have left its sessions dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The wall clock jumped ahead (the machine slept).
    Resumed,
    /// The network changed (routes or addresses).
    Network,
}

/// Waits until the machine wakes from sleep or the network changes, looking every
/// [`WATCH_TICK`]. Never ends when neither can be told (the network cannot be read and the clock
/// never jumps).
pub async fn changed() -> Change {
    changed_every(WATCH_TICK).await
}

/// [`changed`], looking every `tick`.
async fn changed_every(tick: Duration) -> Change {
    let network = network_state().await;
    let mut start = Instant::now();
    let mut wall = SystemTime::now();
    loop {
        tokio::time::sleep(tick).await;
        let wall_elapsed = SystemTime::now().duration_since(wall).unwrap_or_default();
        if wall_elapsed > start.elapsed() + CLOCK_JUMP {
            return Change::Resumed;
        }
        // The clock may be set back or drift: measure each tick afresh.
        start = Instant::now();
        wall = SystemTime::now();
        if network.is_some() && network_state().await != network {
            return Change::Network;
        }
    }
}

/// Waits `wait`, unless `cancel` fires, the machine wakes from sleep or the network changes
/// first.
pub async fn wait(wait: Duration, cancel: &CancellationToken) -> Waited {
    tokio::select! {
        () = cancel.cancelled() => Waited::Cancelled,
        () = tokio::time::sleep(wait) => Waited::Elapsed,
        change = changed_every(TICK) => match change {
            Change::Resumed => Waited::Resumed,
            Change::Network => Waited::NetworkChanged,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_a_minute_with_at_most_half_taken_off() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..9).map(|_| backoff.next_wait(0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        let mut backoff = Backoff::default();
        let jittered = backoff.next_wait(999);
        assert!(
            jittered >= Duration::from_millis(500) && jittered < FIRST_DELAY,
            "{jittered:?}"
        );
    }

    #[test]
    fn host_key_and_login_refusals_are_never_retried() {
        let changed = Error::HostKeyChanged {
            host: "b".into(),
            port: 22,
            fingerprint: "SHA256:x".into(),
            known: "SHA256:y".into(),
            known_hosts: "/k".into(),
            line: 1,
        };
        assert!(!is_retryable(&changed));
        let down = Error::BastionUnreachable {
            host: "b".into(),
            port: 22,
            reason: "refused".into(),
        };
        assert!(is_retryable(&down));
    }

    #[test]
    fn the_addresses_are_read_in_a_stable_order() {
        let first = addresses().expect("this machine's addresses");
        let listed = String::from_utf8(first.clone()).expect("text");
        assert!(listed.contains(" 127.0.0.1\n"), "{listed}");
        assert_eq!(addresses(), Some(first), "the same network reads the same");
    }

    #[tokio::test]
    async fn a_wait_ends_early_when_cancelled() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(
            wait(Duration::from_secs(30), &cancel).await,
            Waited::Cancelled
        );
        let open = CancellationToken::new();
        assert_eq!(
            wait(Duration::from_millis(20), &open).await,
            Waited::Elapsed
        );
    }
}
