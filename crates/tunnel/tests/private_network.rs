//! A private MWAA-like web server inside a network namespace, reached through a bastion there.
//! Needs root; skipped (with a message) elsewhere unless AIRGATE_REQUIRE_NETNS=1.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use airgate_peers::airflow_web::Page;
use airgate_peers::netns::PrivateNetwork;
use airgate_peers::socks_client;
use airgate_tunnel::{BastionSpec, TunnelSpec, Tunnels};

const VPCE: &str = "f00ba5-vpce.c7.airflow.eu-west-1.airgate.test";

/// A SOCKS tunnel through the network's bastion, its host key trusted.
fn spec_for(net: &PrivateNetwork, keepalive: airgate_tunnel::Keepalive) -> TunnelSpec {
    let bastion = net.bastion();
    let known_hosts = bastion.dir().join("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .expect("known_hosts");
    TunnelSpec {
        bastion: BastionSpec {
            host: bastion.host().to_owned(),
            port: bastion.port(),
            user: bastion.user().to_owned(),
            key: airgate_tunnel::KeySource::File(bastion.user_key().to_owned()),
            keepalive,
            trust_once: None,
            host_key: None,
            jump: Vec::new(),
        },
        known_hosts: vec![known_hosts],
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        forward: None,
    }
}

#[tokio::test]
async fn a_private_web_server_is_reached_by_name_through_the_bastion() {
    let Some(net) = PrivateNetwork::start_or_skip(&[VPCE]) else {
        return;
    };

    // The host knows neither the name (its files; no DNS query leaves the machine)...
    let lookup = Command::new("getent")
        .args(["-s", "files", "hosts", VPCE])
        .output()
        .expect("getent");
    assert!(!lookup.status.success(), "the host resolves {VPCE}");
    // ...nor a route to the private address.
    assert!(TcpStream::connect_timeout(&net.web_addr(), Duration::from_secs(3)).is_err());

    let spec = spec_for(&net, airgate_tunnel::Keepalive::default());
    let tunnels = Tunnels::new();
    let port = tunnels
        .connect("orders-prod", spec)
        .await
        .expect("connect through the bastion");

    let socks = SocketAddr::from(([127, 0, 0, 1], port));
    let page = socks_client::http_get(socks, VPCE, net.web_addr().port(), "/home")
        .await
        .expect("page through the tunnel");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        Page::parse(&page.body),
        Some(Page::new(VPCE, "/home")),
        "{page:?}"
    );

    tunnels.shutdown().await;
}

/// How long the tunnel may take to notice a silent bastion: keepalives every second, two misses.
const KEEPALIVE: airgate_tunnel::Keepalive = airgate_tunnel::Keepalive {
    interval: Duration::from_secs(1),
    max: 2,
};

/// Connects `spec` as orders-prod, seeing Connecting then Connected; returns the port.
async fn connected(
    tunnels: &Tunnels,
    events: &mut tokio::sync::broadcast::Receiver<airgate_tunnel::TunnelEvent>,
    spec: TunnelSpec,
) -> u16 {
    let port = tunnels.connect("orders-prod", spec).await.expect("connect");
    assert_eq!(
        next_state(events).await,
        airgate_tunnel::TunnelState::Connecting
    );
    assert_eq!(
        next_state(events).await,
        airgate_tunnel::TunnelState::Connected { port }
    );
    port
}

async fn next_state(
    events: &mut tokio::sync::broadcast::Receiver<airgate_tunnel::TunnelEvent>,
) -> airgate_tunnel::TunnelState {
    let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
        .await
        .expect("a state change within 30 s")
        .expect("events");
    event.state
}

/// The first state after the `Reconnecting` ones.
async fn after_reconnecting(
    events: &mut tokio::sync::broadcast::Receiver<airgate_tunnel::TunnelEvent>,
) -> airgate_tunnel::TunnelState {
    loop {
        match next_state(events).await {
            airgate_tunnel::TunnelState::Reconnecting { .. } => {}
            other => return other,
        }
    }
}

/// Lets packets into the network again: the tunnel comes back by itself on `port`, and a page
/// loads through it.
async fn back_once_packets_flow(
    net: &PrivateNetwork,
    events: &mut tokio::sync::broadcast::Receiver<airgate_tunnel::TunnelEvent>,
    port: u16,
) {
    net.restore().expect("packets flow again");
    assert_eq!(
        after_reconnecting(events).await,
        airgate_tunnel::TunnelState::Connected { port }
    );
    let socks = SocketAddr::from(([127, 0, 0, 1], port));
    let page = socks_client::http_get(socks, VPCE, net.web_addr().port(), "/home")
        .await
        .expect("a page through the tunnel once it is back");
    assert_eq!(page.status, 200, "{page:?}");
}

#[tokio::test]
async fn a_silent_bastion_is_noticed_by_keepalives_and_the_tunnel_comes_back() {
    use airgate_tunnel::TunnelState;
    let Some(net) = PrivateNetwork::start_or_skip(&[VPCE]) else {
        return;
    };
    let spec = spec_for(&net, KEEPALIVE);
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let port = connected(&tunnels, &mut events, spec).await;

    // The link goes silent: no reset, no FIN; only the keepalives can tell.
    net.blackhole().expect("drop every packet into the network");
    let silent = std::time::Instant::now();
    let state = next_state(&mut events).await;
    let noticed = silent.elapsed();
    match state {
        TunnelState::Reconnecting {
            port: same,
            last_error,
            ..
        } => {
            assert_eq!(same, port, "the listener keeps its port");
            assert!(last_error.contains("keepalives unanswered"), "{last_error}");
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    // interval x max, plus one interval for the first keepalive to fall due, plus slack for a
    // busy machine.
    let bound = KEEPALIVE.interval * (KEEPALIVE.max + 3);
    assert!(
        noticed <= bound,
        "noticed after {noticed:?}, more than {bound:?}"
    );
    eprintln!("silent bastion noticed after {noticed:?} (keepalive 1 s x 2)");

    back_once_packets_flow(&net, &mut events, port).await;
    tunnels.shutdown().await;
}

/// A change of this test's own to the host's network (TEST-NET-2 addresses, reaching nothing),
/// undone on drop: `ip ARGS add ...`, then `ip ARGS del ...`.
struct TestChange(&'static [&'static str]);

impl TestChange {
    /// A route, which the routing tables show.
    fn route() -> TestChange {
        TestChange::make(&["route", "unreachable", "198.51.100.77/32"])
    }

    /// An address on the loopback interface: no route of the main table moves, only the
    /// interfaces' addresses tell (as on macOS and Windows, where they are all that is watched).
    fn address() -> TestChange {
        TestChange::make(&["addr", "198.51.100.78/32", "dev", "lo"])
    }

    fn make(what: &'static [&'static str]) -> TestChange {
        let added = Command::new("ip")
            .arg(what[0])
            .arg("add")
            .args(&what[1..])
            .status()
            .expect("ip add");
        assert!(added.success(), "ip {what:?} add");
        TestChange(what)
    }
}

impl Drop for TestChange {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .arg(self.0[0])
            .arg("del")
            .args(&self.0[1..])
            .status();
    }
}

#[tokio::test]
async fn a_new_route_ends_the_wait_before_the_next_try() {
    a_network_change_ends_the_wait(TestChange::route).await;
}

#[tokio::test]
async fn a_new_address_ends_the_wait_before_the_next_try() {
    a_network_change_ends_the_wait(TestChange::address).await;
}

async fn a_network_change_ends_the_wait(change: fn() -> TestChange) {
    use airgate_tunnel::TunnelState;
    let Some(mut net) = PrivateNetwork::start_or_skip(&[VPCE]) else {
        return;
    };
    let spec = spec_for(&net, KEEPALIVE);
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let port = connected(&tunnels, &mut events, spec).await;

    // The bastion goes down: each try is refused at once, and the waits grow.
    net.bastion_mut().kill();
    let long_wait = loop {
        match next_state(&mut events).await {
            TunnelState::Reconnecting { next_try_secs, .. } if next_try_secs >= 6 => {
                break Duration::from_secs(next_try_secs.into());
            }
            TunnelState::Reconnecting { .. } => {}
            other => panic!("expected Reconnecting, got {other:?}"),
        }
    };
    let waiting = std::time::Instant::now();
    net.bastion_mut().restart().expect("sshd back");
    // The network changes: the wait ends, the session is back long before the next try was due.
    let _change = change();
    let back = after_reconnecting(&mut events).await;
    let took = waiting.elapsed();
    assert_eq!(back, TunnelState::Connected { port });
    assert!(
        took + Duration::from_secs(2) < long_wait,
        "back after {took:?}; the next try was due after {long_wait:?}"
    );
    eprintln!("back {took:?} after the network changed (next try was due in {long_wait:?})");
    tunnels.shutdown().await;
}

#[tokio::test]
async fn after_a_network_change_the_bastion_is_asked_at_once_whether_it_still_answers() {
    use airgate_tunnel::TunnelState;
    let Some(net) = PrivateNetwork::start_or_skip(&[VPCE]) else {
        return;
    };
    // Keepalives a minute apart: alone, they would take minutes to notice a silent bastion.
    let slow = airgate_tunnel::Keepalive {
        interval: Duration::from_secs(60),
        max: 3,
    };
    let spec = spec_for(&net, slow);
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let port = connected(&tunnels, &mut events, spec).await;
    let socks = SocketAddr::from(([127, 0, 0, 1], port));

    // The network changes while the bastion still answers: the tunnel stays as it was.
    let change = TestChange::route();
    let quiet = tokio::time::timeout(Duration::from_secs(4), events.recv()).await;
    assert!(quiet.is_err(), "no state change: {quiet:?}");
    let page = socks_client::http_get(socks, VPCE, net.web_addr().port(), "/home")
        .await
        .expect("a page through the tunnel after the change");
    assert_eq!(page.status, 200, "{page:?}");
    drop(change);
    // Undoing the change is a change too, after a channel was opened and used; the bastion
    // answers it as well (longer than the 5 s it is given: an answer that never came would show).
    let quiet = tokio::time::timeout(Duration::from_secs(7), events.recv()).await;
    assert!(quiet.is_err(), "no state change: {quiet:?}");

    // The link goes silent, then the network changes: the bastion is asked, does not answer
    // within 5 s, and the tunnel reconnects long before the keepalives would have noticed.
    net.blackhole().expect("drop every packet into the network");
    let _change = TestChange::address();
    let changed = std::time::Instant::now();
    match next_state(&mut events).await {
        TunnelState::Reconnecting {
            port: same,
            last_error,
            ..
        } => {
            assert_eq!(same, port, "the listener keeps its port");
            assert!(
                last_error.contains("the network changed and it did not answer within 5 s"),
                "{last_error}"
            );
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    let noticed = changed.elapsed();
    assert!(
        noticed < Duration::from_secs(20),
        "noticed after {noticed:?}; keepalives alone take {:?}",
        slow.interval * slow.max
    );
    eprintln!("silent bastion noticed {noticed:?} after the network changed");

    back_once_packets_flow(&net, &mut events, port).await;
    tunnels.shutdown().await;
}
