//! Tunnels through a real OpenSSH bastion on loopback, to a local Airflow-like web server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use airgate_peers::airflow_web::{AirflowWeb, Page};
use airgate_peers::bastion::{Bastion, fingerprint, generate_key};
use airgate_peers::socks_client::{self, SocksError};
use airgate_tunnel::{
    BastionSession, BastionSpec, Error, ForwardTo, KeySource, SecretText, TunnelEvent, TunnelSpec,
    TunnelState, Tunnels, serve_socks,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A spec for `bastion` with its host key trusted and a free SOCKS port.
fn spec(bastion: &Bastion) -> TunnelSpec {
    let known_hosts = bastion.dir().join("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .expect("write known_hosts");
    TunnelSpec {
        bastion: BastionSpec {
            host: bastion.host().to_owned(),
            port: bastion.port(),
            user: bastion.user().to_owned(),
            key: airgate_tunnel::KeySource::File(bastion.user_key().to_owned()),
            keepalive: airgate_tunnel::Keepalive::default(),
            trust_once: None,
            host_key: None,
            jump: Vec::new(),
        },
        known_hosts: vec![known_hosts],
        listen: loopback(0),
        forward: None,
    }
}

async fn next_state(events: &mut broadcast::Receiver<TunnelEvent>, id: &str) -> TunnelState {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("a state change within 30 s")
            .expect("event stream open");
        if event.id == id {
            return event.state;
        }
    }
}

#[tokio::test]
async fn socks_reaches_a_local_web_server_by_name_and_by_ip() {
    let bastion = Bastion::start().expect("start sshd");
    let web = AirflowWeb::start_local().await.expect("start web server");
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();

    let port = tunnels
        .connect("dev", spec(&bastion))
        .await
        .expect("connect");
    assert_eq!(
        next_state(&mut events, "dev").await,
        TunnelState::Connecting
    );
    assert_eq!(
        next_state(&mut events, "dev").await,
        TunnelState::Connected { port }
    );
    assert_eq!(
        tunnels.states().await,
        vec![TunnelEvent {
            id: "dev".into(),
            state: TunnelState::Connected { port }
        }]
    );

    let socks = loopback(port);
    let web_port = web.addr().port();
    let by_name = socks_client::http_get(socks, "localhost", web_port, "/dags/etl/grid?tab=logs")
        .await
        .expect("page by name");
    assert_eq!(by_name.status, 200, "{by_name:?}");
    assert_eq!(
        Page::parse(&by_name.body),
        Some(Page::new(format!("localhost:{web_port}"), "/dags/etl/grid")),
        "{by_name:?}"
    );

    let by_ip = socks_client::http_get(socks, "127.0.0.1", web_port, "/health")
        .await
        .expect("by IP");
    assert_eq!(by_ip.status, 200);
    assert!(by_ip.body.contains("\"metadatabase\""), "{by_ip:?}");

    // Several clients at once share the session.
    let pages = futures_join(socks, web_port).await;
    assert!(pages.iter().all(|p| p.status == 200), "{pages:?}");

    tunnels.shutdown().await;
    assert_eq!(
        next_state(&mut events, "dev").await,
        TunnelState::Disconnected
    );
}

async fn futures_join(socks: SocketAddr, web_port: u16) -> Vec<socks_client::HttpResponse> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        tasks.spawn(async move {
            socks_client::http_get(socks, "localhost", web_port, &format!("/page/{i}")).await
        });
    }
    let mut pages = Vec::new();
    while let Some(page) = tasks.join_next().await {
        pages.push(page.expect("task").expect("page"));
    }
    pages
}

#[tokio::test]
async fn ipv6_targets_are_forwarded() {
    let bastion = Bastion::start().expect("start sshd");
    let web = AirflowWeb::start("[::1]:0".parse().expect("address"))
        .await
        .expect("web on ::1");
    let tunnels = Tunnels::new();
    let port = tunnels
        .connect("dev", spec(&bastion))
        .await
        .expect("connect");
    let page = socks_client::http_get(loopback(port), "::1", web.addr().port(), "/v6")
        .await
        .expect("page over IPv6");
    assert_eq!(
        Page::parse(&page.body),
        Some(Page::new(format!("[::1]:{}", web.addr().port()), "/v6")),
        "{page:?}"
    );
    tunnels.shutdown().await;
}

#[tokio::test]
async fn unknown_host_key_is_refused_with_its_fingerprint() {
    let bastion = Bastion::start().expect("start sshd");
    let mut spec = spec(&bastion);
    spec.known_hosts = vec![bastion.dir().join("empty_known_hosts")];
    let expected = fingerprint(bastion.host_public_key_path()).expect("ssh-keygen -lf");

    let tunnels = Tunnels::new();
    let error = tunnels
        .connect("prod", spec)
        .await
        .expect_err("unknown key must be refused");
    match &error {
        Error::UnknownHostKey {
            host,
            port,
            key_type,
            fingerprint,
            public_key,
        } => {
            assert_eq!((host.as_str(), *port), (bastion.host(), bastion.port()));
            assert_eq!(fingerprint, &expected);
            assert_eq!(key_type, "ssh-ed25519");
            let presented: Vec<&str> = bastion
                .host_public_key()
                .split_whitespace()
                .take(2)
                .collect();
            assert_eq!(
                public_key,
                &presented.join(" "),
                "the key itself, to trust it"
            );
        }
        other => panic!("expected UnknownHostKey, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&expected) && message.contains("Refusing"),
        "{message}"
    );
    match &tunnels.states().await[0].state {
        TunnelState::Failed { reason } => assert!(reason.contains(&expected), "{reason}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    // Nothing got as far as logging in.
    assert!(
        !bastion.log().contains("Accepted publickey"),
        "{}",
        bastion.log()
    );
}

#[tokio::test]
async fn an_unknown_key_trusted_once_connects_and_trusted_always_is_written() {
    let bastion = Bastion::start().expect("start sshd");
    let mut spec = spec(&bastion);
    let own = bastion.dir().join("airgate_known_hosts");
    spec.known_hosts = vec![own.clone()];
    let tunnels = Tunnels::new();
    let Error::UnknownHostKey {
        fingerprint,
        public_key,
        ..
    } = tunnels
        .connect("prod", spec.clone())
        .await
        .expect_err("unknown at first")
    else {
        panic!("expected an unknown key");
    };

    // Trusted once: this tunnel connects; nothing is written.
    let mut once = spec.clone();
    once.bastion.trust_once = Some(fingerprint.clone());
    tunnels.connect("prod", once).await.expect("trusted once");
    tunnels.disconnect("prod").await.expect("disconnect");
    assert!(!own.exists(), "trusting once writes nothing");
    // A different key than the one trusted once is still unknown.
    let mut wrong = spec.clone();
    wrong.bastion.trust_once = Some("SHA256:not-this-key".to_owned());
    assert!(matches!(
        tunnels.connect("prod", wrong).await,
        Err(Error::UnknownHostKey { .. })
    ));

    // Trusted always: written to Airgate's own known_hosts, then plain connects work.
    airgate_tunnel::trust_host_key(&own, bastion.host(), bastion.port(), &public_key)
        .expect("trust always");
    let written = std::fs::read_to_string(&own).expect("written");
    let name = airgate_peers::bastion::known_hosts_name(bastion.host(), bastion.port());
    assert!(
        written.starts_with(&format!("{name} ssh-ed25519 ")),
        "{written}"
    );
    tunnels.connect("prod", spec).await.expect("known now");
    tunnels.shutdown().await;
}

#[tokio::test]
async fn a_known_host_presenting_a_key_of_another_type_is_a_changed_key() {
    let bastion = Bastion::start().expect("start sshd");
    let mut spec = spec(&bastion);
    // known_hosts knows this host by an ECDSA key; the bastion presents ed25519.
    let ecdsa = bastion.dir().join("old_ecdsa_key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ecdsa", "-N", "", "-f"])
        .arg(&ecdsa)
        .status()
        .expect("ssh-keygen");
    assert!(made.success());
    let old_key =
        std::fs::read_to_string(format!("{}.pub", ecdsa.display())).expect("old public key");
    let known_hosts = bastion.dir().join("known_hosts_other_type");
    let name = airgate_peers::bastion::known_hosts_name(bastion.host(), bastion.port());
    std::fs::write(&known_hosts, format!("{name} {old_key}")).expect("write");
    spec.known_hosts = vec![known_hosts];
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("another key type is refused");
    match &error {
        Error::HostKeyChanged { known, .. } => {
            let old = fingerprint(&ecdsa.with_extension("pub")).expect("ssh-keygen -lf");
            assert_eq!(known, &old, "names the key known_hosts holds");
        }
        other => panic!("expected HostKeyChanged, never an unknown key: {other:?}"),
    }
    assert!(
        !bastion.log().contains("Accepted publickey") && !bastion.log().contains("userauth"),
        "no authentication reached sshd: {}",
        bastion.log()
    );
}

#[tokio::test]
async fn changed_host_key_is_refused() {
    let bastion = Bastion::start().expect("start sshd");
    let mut spec = spec(&bastion);
    // known_hosts holds another ed25519 key for this host:port.
    let impostor = bastion.dir().join("old_host_key");
    generate_key(&impostor, None).expect("ssh-keygen");
    let old_key =
        std::fs::read_to_string(format!("{}.pub", impostor.display())).expect("old public key");
    let known_hosts = bastion.dir().join("known_hosts_changed");
    std::fs::write(
        &known_hosts,
        format!(
            "# earlier\n[{}]:{} {}",
            bastion.host(),
            bastion.port(),
            old_key
        ),
    )
    .expect("write known_hosts");
    spec.known_hosts = vec![known_hosts.clone()];
    let expected = fingerprint(bastion.host_public_key_path()).expect("ssh-keygen -lf");

    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("changed key must be refused");
    match &error {
        Error::HostKeyChanged {
            fingerprint,
            known_hosts: path,
            line,
            ..
        } => {
            assert_eq!(fingerprint, &expected);
            assert_eq!((path, *line), (&known_hosts, 2));
        }
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }
    assert!(
        error.to_string().contains("changed since last connect"),
        "{error}"
    );
}

#[tokio::test]
async fn a_key_not_in_authorized_keys_is_refused_naming_the_user() {
    let mut bastion = Bastion::start().expect("start sshd");
    let mut spec = spec(&bastion);
    let stranger = bastion.generate_unauthorized_key().expect("second key");
    spec.bastion.key = KeySource::File(stranger.clone());

    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("unauthorized key must be refused");
    assert!(
        matches!(error, Error::AuthRejected { ref user, .. } if user == bastion.user()),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("for user {}", bastion.user())),
        "{message}"
    );
    assert!(
        message.contains(&stranger.display().to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn a_passphrase_protected_key_asks_for_its_passphrase_and_logs_in_with_it() {
    let bastion = Bastion::start().expect("start sshd");
    let web = AirflowWeb::start_local().await.expect("start web server");
    let mut spec = spec(&bastion);
    let file = bastion.dir().join("protected_key");
    generate_key(&file, Some("correct horse")).expect("ssh-keygen");
    let authorized = std::fs::read_to_string(file.with_extension("pub")).expect("public key");
    bastion.authorize(&authorized).expect("authorize the key");

    // A file: no passphrase to give, so it says what it needs.
    spec.bastion.key = KeySource::File(file.clone());
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("encrypted key without passphrase");
    assert!(
        matches!(error, Error::KeyPassphraseNeeded { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("enter its passphrase"),
        "{error}"
    );

    // The same key kept in memory (as the keyring gives it), the file gone.
    let text = SecretText::new(std::fs::read_to_string(&file).expect("key text"));
    std::fs::remove_file(&file).expect("remove the key file");
    let stored = |passphrase: Option<&str>| KeySource::Stored {
        name: "team".to_owned(),
        text: text.clone(),
        passphrase: passphrase.map(|p| SecretText::new(p.to_owned())),
    };
    spec.bastion.key = stored(Some("wrong"));
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("wrong passphrase");
    assert!(
        matches!(error, Error::KeyPassphraseWrong { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "Wrong passphrase for the stored key \"team\". Check it, then try again."
    );
    assert!(
        !bastion.log().contains("Accepted publickey"),
        "nothing logged in yet"
    );

    spec.bastion.key = stored(Some("correct horse"));
    let tunnels = Tunnels::new();
    let port = tunnels
        .connect("dev", spec)
        .await
        .expect("logged in with the stored key");
    let page = socks_client::http_get(loopback(port), "localhost", web.addr().port(), "/health")
        .await
        .expect("through the tunnel");
    assert_eq!(page.status, 200);
    tunnels.shutdown().await;
}

#[tokio::test]
async fn a_closed_target_port_gets_a_prompt_socks_failure() {
    let bastion = Bastion::start().expect("start sshd");
    let closed_port = {
        let probe = std::net::TcpListener::bind(loopback(0)).expect("probe port");
        probe.local_addr().expect("addr").port()
    };
    let tunnels = Tunnels::new();
    let port = tunnels
        .connect("dev", spec(&bastion))
        .await
        .expect("connect");

    let started = Instant::now();
    let outcome = socks_client::connect(loopback(port), "127.0.0.1", closed_port).await;
    let elapsed = started.elapsed();
    match outcome {
        Err(SocksError::Refused { code }) => {
            assert!(code == 0x05 || code == 0x01, "reply {code:#04x}")
        }
        other => panic!("expected a SOCKS failure reply, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");

    // The tunnel is still usable afterwards.
    let web = AirflowWeb::start_local().await.expect("web");
    let page = socks_client::http_get(loopback(port), "localhost", web.addr().port(), "/").await;
    assert_eq!(page.expect("page after failure").status, 200);
    tunnels.shutdown().await;
}

#[tokio::test]
async fn disconnect_frees_the_port_and_listen_addresses_are_checked() {
    let bastion = Bastion::start().expect("start sshd");
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();

    let port = tunnels
        .connect("dev", spec(&bastion))
        .await
        .expect("connect");
    let second = tunnels.connect("dev", spec(&bastion)).await;
    assert!(
        matches!(second, Err(Error::AlreadyOpen { .. })),
        "{second:?}"
    );
    tunnels.disconnect("dev").await.expect("disconnect");
    std::net::TcpListener::bind(loopback(port)).expect("port is free again after disconnect");
    let mut seen = Vec::new();
    while seen.last() != Some(&TunnelState::Disconnected) {
        seen.push(next_state(&mut events, "dev").await);
    }
    assert_eq!(
        seen,
        [
            TunnelState::Connecting,
            TunnelState::Connected { port },
            TunnelState::Disconnected
        ]
    );
    assert!(matches!(
        tunnels.disconnect("nope").await,
        Err(Error::NoSuchTunnel { .. })
    ));

    let mut everywhere = spec(&bastion);
    everywhere.listen = SocketAddr::from(([0, 0, 0, 0], 0));
    let refused = tunnels.connect("open", everywhere).await;
    assert!(
        matches!(refused, Err(Error::NotLoopback { .. })),
        "{refused:?}"
    );

    let taken = std::net::TcpListener::bind(loopback(0)).expect("hold a port");
    let mut clash = spec(&bastion);
    clash.listen = taken.local_addr().expect("addr");
    let error = tunnels
        .connect("clash", clash)
        .await
        .expect_err("port in use");
    assert!(matches!(error, Error::PortInUse { .. }), "{error:?}");
    assert!(error.to_string().contains("already in use"), "{error}");

    // Reconnecting the same id works and gets a port again.
    let again = tunnels
        .connect("dev", spec(&bastion))
        .await
        .expect("reconnect");
    assert_ne!(again, 0);
    tunnels.shutdown().await;
    assert!(matches!(
        tunnels.connect("late", spec(&bastion)).await,
        Err(Error::Stopped)
    ));
}

#[tokio::test]
async fn a_lost_bastion_is_reconnected_on_the_same_port_with_no_user_action() {
    let mut bastion = Bastion::start().expect("start sshd");
    let web = AirflowWeb::start_local().await.expect("start web server");
    let web_port = web.addr().port();
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let port = tunnels
        .connect("dev", spec(&bastion))
        .await
        .expect("connect");
    assert_eq!(
        next_state(&mut events, "dev").await,
        TunnelState::Connecting
    );
    assert_eq!(
        next_state(&mut events, "dev").await,
        TunnelState::Connected { port }
    );

    // The bastion goes down: the tunnel says so and keeps its port.
    bastion.kill();
    match next_state(&mut events, "dev").await {
        TunnelState::Reconnecting {
            port: same,
            attempt: 1,
            last_error,
            ..
        } => {
            assert_eq!(same, port);
            assert!(last_error.contains("Lost the SSH session"), "{last_error}");
            assert!(last_error.contains(bastion.host()), "{last_error}");
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    // Its first attempt finds nobody: attempt 2 says why.
    match next_state(&mut events, "dev").await {
        TunnelState::Reconnecting {
            attempt: 2,
            last_error,
            ..
        } => assert!(
            last_error.contains("Could not reach bastion"),
            "{last_error}"
        ),
        other => panic!("expected a second attempt, got {other:?}"),
    }
    // A browser's request meanwhile waits for the session instead of failing.
    let waiting = tokio::spawn(socks_client::http_get(
        loopback(port),
        "localhost",
        web_port,
        "/home",
    ));

    bastion.restart().expect("sshd back on the same port");
    let back = loop {
        match next_state(&mut events, "dev").await {
            TunnelState::Reconnecting { .. } => {}
            other => break other,
        }
    };
    assert_eq!(
        back,
        TunnelState::Connected { port },
        "connected again, same port"
    );
    let page = waiting
        .await
        .expect("request task")
        .expect("the waiting request went through once the session was back");
    assert_eq!(page.status, 200, "{page:?}");
    let page = socks_client::http_get(loopback(port), "localhost", web_port, "/health")
        .await
        .expect("a new request");
    assert_eq!(page.status, 200);

    // A tunnel the user stops while it reconnects is never restarted.
    bastion.kill();
    assert!(matches!(
        next_state(&mut events, "dev").await,
        TunnelState::Reconnecting { .. }
    ));
    tunnels.disconnect("dev").await.expect("disconnect");
    assert_eq!(
        next_state(&mut events, "dev").await,
        TunnelState::Disconnected
    );
    assert_eq!(
        tunnels.state("dev").await,
        None,
        "a stopped tunnel is forgotten"
    );
    std::net::TcpListener::bind(loopback(port)).expect("port freed after Disconnect");
    bastion.restart().expect("sshd back");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        tunnels.state("dev").await,
        None,
        "still disconnected once the bastion is back"
    );
    assert!(
        events.try_recv().is_err(),
        "no state change after Disconnect"
    );
}

/// How many times sshd let someone in, and how many sessions ended.
fn logins_and_logouts(bastion: &Bastion) -> (usize, usize) {
    let log = bastion.log();
    (
        log.matches("Accepted publickey").count(),
        log.matches("Received disconnect").count(),
    )
}

/// Waits (30 s at most) until tunnel `id` is in a state `want` accepts.
async fn wait_for_state(tunnels: &Tunnels, id: &str, want: impl Fn(&TunnelState) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = tunnels.state(id).await;
        if state.as_ref().is_some_and(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id}: still {state:?} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A page through each SOCKS port and through the forward.
async fn get_through_all(socks: [u16; 2], forward: u16, web_port: u16) {
    for port in socks {
        let page = socks_client::http_get(loopback(port), "localhost", web_port, "/health")
            .await
            .expect("through SOCKS");
        assert_eq!(page.status, 200, "{page:?}");
    }
    let page = socks_client::direct_get(loopback(forward), "/health")
        .await
        .expect("through the forward");
    assert_eq!(page.status, 200, "{page:?}");
}

#[tokio::test]
async fn tunnels_through_one_bastion_share_one_ssh_session() {
    let mut bastion = Bastion::start().expect("start sshd");
    let web = AirflowWeb::start_local().await.expect("start web server");
    let web_port = web.addr().port();
    let tunnels = Tunnels::new();
    let socks = spec(&bastion);
    let forward = TunnelSpec {
        forward: Some(ForwardTo {
            host: "localhost".to_owned(),
            port: web_port,
        }),
        ..socks.clone()
    };
    let a = tunnels.connect("a", socks.clone()).await.expect("a");
    let b = tunnels.connect("b", socks.clone()).await.expect("b");
    let f = tunnels.connect("f", forward).await.expect("forward");
    assert!(a != b && b != f && a != f, "three ports: {a} {b} {f}");
    get_through_all([a, b], f, web_port).await;
    assert_eq!(
        logins_and_logouts(&bastion),
        (1, 0),
        "one login for three tunnels"
    );

    // One of them stops: the others keep the session.
    tunnels.disconnect("a").await.expect("disconnect a");
    let page = socks_client::http_get(loopback(b), "localhost", web_port, "/health")
        .await
        .expect("b still up");
    assert_eq!(page.status, 200);
    assert_eq!(
        logins_and_logouts(&bastion),
        (1, 0),
        "the session is still open"
    );

    // The bastion goes away and comes back: every tunnel on it follows the one session.
    let a = tunnels.connect("a", socks.clone()).await.expect("a again");
    bastion.kill();
    for (id, port) in [("a", a), ("b", b), ("f", f)] {
        wait_for_state(
            &tunnels,
            id,
            |s| matches!(s, TunnelState::Reconnecting { port: same, .. } if *same == port),
        )
        .await;
    }
    bastion.restart().expect("sshd back");
    for (id, port) in [("a", a), ("b", b), ("f", f)] {
        wait_for_state(&tunnels, id, |s| *s == TunnelState::Connected { port }).await;
    }
    get_through_all([a, b], f, web_port).await;
    assert_eq!(
        logins_and_logouts(&bastion).0,
        2,
        "one new login for all three"
    );

    // The last one stops: the session ends.
    for id in ["a", "b", "f"] {
        tunnels.disconnect(id).await.expect("disconnect");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while logins_and_logouts(&bastion).1 < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        logins_and_logouts(&bastion),
        (2, 1),
        "the session said goodbye once its last tunnel stopped"
    );
    assert!(tunnels.states().await.is_empty(), "every tunnel forgotten");
}

#[tokio::test]
async fn a_changed_host_key_on_reconnect_fails_for_good() {
    let mut bastion = Bastion::start().expect("start sshd");
    let spec = spec(&bastion);
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let port = tunnels.connect("dev", spec.clone()).await.expect("connect");
    let _ = next_state(&mut events, "dev").await;
    let _ = next_state(&mut events, "dev").await;

    // While it is down, known_hosts learns another key for it: the bastion that comes back
    // no longer matches, and the tunnel must not retry (nor log in).
    bastion.kill();
    let other = bastion.dir().join("other_key");
    generate_key(&other, None).expect("another key");
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).expect("pub");
    let name = airgate_peers::bastion::known_hosts_name(bastion.host(), bastion.port());
    std::fs::write(&spec.known_hosts[0], format!("{name} {other_pub}")).expect("known_hosts");
    bastion.restart().expect("sshd back");
    let failed = loop {
        match next_state(&mut events, "dev").await {
            TunnelState::Reconnecting { .. } => {}
            other => break other,
        }
    };
    match failed {
        TunnelState::Failed { reason } => {
            assert!(reason.contains("changed"), "{reason}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(
        bastion.log().matches("Accepted publickey").count(),
        1,
        "no login to the bastion since its key changed: {}",
        bastion.log()
    );
    std::net::TcpListener::bind(loopback(port)).expect("port freed once it failed");
}

#[tokio::test]
async fn serve_socks_answers_unsupported_commands_and_stops_on_cancel() {
    let bastion = Bastion::start().expect("start sshd");
    let spec = spec(&bastion);
    let session = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect("session");
    let listener = tokio::net::TcpListener::bind(loopback(0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve_socks(listener, session.clone(), shutdown.clone()));

    // BIND (0x02) is not supported: reply 0x07.
    let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
    client.write_all(&[5, 1, 0]).await.expect("greeting");
    let mut choice = [0u8; 2];
    client.read_exact(&mut choice).await.expect("method");
    assert_eq!(choice, [5, 0]);
    client
        .write_all(&[5, 2, 0, 1, 127, 0, 0, 1, 0, 80])
        .await
        .expect("request");
    let mut reply = [0u8; 10];
    client.read_exact(&mut reply).await.expect("reply");
    assert_eq!(reply[..2], [5, 7]);

    // Only "no authentication" is offered: a client without it is turned away.
    let mut picky = tokio::net::TcpStream::connect(addr).await.expect("connect");
    picky.write_all(&[5, 1, 2]).await.expect("greeting");
    picky.read_exact(&mut choice).await.expect("method");
    assert_eq!(choice, [5, 0xFF]);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve_socks returns after cancel")
        .expect("no panic");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
    session.close().await;
    assert!(session.is_closed());
}

/// Serves `size` deterministic bytes to each connection on loopback; returns its port and the
/// SHA-256 of what it sends.
async fn bulk_source(size: usize) -> (u16, Vec<u8>) {
    use sha2::Digest;
    let mut data = vec![0u8; size];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    let digest = sha2::Sha256::digest(&data).to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let data = std::sync::Arc::new(data);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let data = data.clone();
            tokio::spawn(async move {
                let _ = stream.write_all(&data).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, digest)
}

async fn digest_of(mut stream: tokio::net::TcpStream) -> (usize, Vec<u8>) {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buffer).await.expect("read");
        if n == 0 {
            return (total, hasher.finalize().to_vec());
        }
        total += n;
        hasher.update(&buffer[..n]);
    }
}

/// A SOCKS4a CONNECT to `host:port` on `socks`, as `curl --socks4a` sends it.
async fn socks4a_connect(socks: SocketAddr, host: &str, port: u16) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(socks)
        .await
        .expect("connect");
    let mut request = vec![4, 1];
    request.extend(port.to_be_bytes());
    request.extend([0, 0, 0, 1]);
    request.extend(b"airgate\0");
    request.extend(host.as_bytes());
    request.push(0);
    stream.write_all(&request).await.expect("request");
    let mut reply = [0u8; 8];
    stream.read_exact(&mut reply).await.expect("reply");
    assert_eq!(reply[..2], [0, 0x5A], "SOCKS4a request granted");
    stream
}

#[tokio::test]
async fn a_hundred_megabytes_arrive_byte_exact_through_socks5_and_socks4a() {
    const SIZE: usize = 100 * 1024 * 1024;
    let bastion = Bastion::start().expect("start sshd");
    let (source, expected) = bulk_source(SIZE).await;
    let tunnels = Tunnels::new();
    let port = tunnels
        .connect("bulk", spec(&bastion))
        .await
        .expect("connect");
    let socks = loopback(port);

    // SOCKS5, by a name only the bastion resolves for us ("localhost" on the bastion).
    let five = socks_client::connect(socks, "localhost", source)
        .await
        .expect("SOCKS5 CONNECT");
    let (size, digest) = digest_of(five).await;
    assert_eq!(
        (size, &digest),
        (SIZE, &expected),
        "SOCKS5: every byte, in order"
    );

    let four = socks4a_connect(socks, "localhost", source).await;
    let (size, digest) = digest_of(four).await;
    assert_eq!(
        (size, &digest),
        (SIZE, &expected),
        "SOCKS4a: every byte, in order"
    );

    let stats = tunnels.stats().await;
    assert_eq!(stats.len(), 1, "{stats:?}");
    let carried = &stats[0];
    assert!(carried.bytes_in >= (2 * SIZE) as f64, "{carried:?}");
    assert_eq!(carried.total_connections, 2, "{carried:?}");
    assert!(carried.connected_since_ms > 0.0, "{carried:?}");
    tunnels.shutdown().await;
}

#[tokio::test]
async fn a_local_forward_carries_a_hundred_megabytes_byte_exact() {
    const SIZE: usize = 100 * 1024 * 1024;
    let bastion = Bastion::start().expect("start sshd");
    let (source, expected) = bulk_source(SIZE).await;
    let mut spec = spec(&bastion);
    spec.forward = Some(airgate_tunnel::ForwardTo {
        host: "localhost".to_owned(),
        port: source,
    });
    let tunnels = Tunnels::new();
    let port = tunnels.connect("to-db", spec).await.expect("forward");
    let stream = tokio::net::TcpStream::connect(loopback(port))
        .await
        .expect("connect to the forward");
    let (size, digest) = digest_of(stream).await;
    assert_eq!(
        (size, &digest),
        (SIZE, &expected),
        "-L: every byte, in order"
    );
    tunnels.shutdown().await;
}

fn bastion_spec(bastion: &Bastion) -> BastionSpec {
    spec(bastion).bastion
}

#[tokio::test]
async fn a_jump_host_carries_the_session_to_the_bastion_behind_it() {
    let mut jump = Bastion::start().expect("start the jump host");
    let target = Bastion::start().expect("start the bastion behind it");
    let web = AirflowWeb::start_local().await.expect("start web server");
    // One known_hosts file knowing both hops, each checked with its own host:port.
    let known_hosts = target.dir().join("both_known_hosts");
    std::fs::write(
        &known_hosts,
        format!("{}{}", jump.known_hosts_line(), target.known_hosts_line()),
    )
    .expect("known_hosts");
    let mut via = bastion_spec(&target);
    via.jump = vec![bastion_spec(&jump)];
    let spec = TunnelSpec {
        bastion: via,
        known_hosts: vec![known_hosts],
        listen: loopback(0),
        forward: None,
    };
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let port = tunnels
        .connect("jumped", spec)
        .await
        .expect("connect through the jump host");
    let page = socks_client::http_get(loopback(port), "localhost", web.addr().port(), "/health")
        .await
        .expect("a page through both hops");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        jump.log().contains("Accepted publickey"),
        "logged in to the jump host"
    );
    assert!(
        target.log().contains("Accepted publickey"),
        "and to the bastion behind it"
    );

    // The session runs through the jump host: when it goes, the tunnel notices, even though
    // the bastion behind it is still up.
    let _ = next_state(&mut events, "jumped").await;
    let _ = next_state(&mut events, "jumped").await;
    jump.kill();
    match next_state(&mut events, "jumped").await {
        TunnelState::Reconnecting { last_error, .. } => {
            assert!(last_error.contains("via"), "names the route: {last_error}");
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    tunnels.shutdown().await;
}

#[tokio::test]
async fn a_jump_host_that_cannot_reach_the_next_hop_is_named() {
    let jump = Bastion::start().expect("start the jump host");
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let closed_port = nobody.local_addr().expect("addr").port();
    drop(nobody);
    let mut via = bastion_spec(&jump);
    via.port = closed_port;
    via.jump = vec![bastion_spec(&jump)];
    let known_hosts = jump.dir().join("known_hosts");
    let error = BastionSession::connect(&via, &[known_hosts])
        .await
        .expect_err("nothing listens behind the jump host");
    match &error {
        Error::JumpFailed {
            jump: hop, next, ..
        } => {
            assert!(hop.contains(&jump.port().to_string()), "{error}");
            assert_eq!(next, &format!("127.0.0.1:{closed_port}"), "{error}");
        }
        other => panic!("expected JumpFailed, got {other:?}"),
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_short_connections_leave_no_descriptor_or_relay_behind() {
    const WARMUP: usize = 200;
    const CONNECTIONS: usize = 10_000;
    const AT_ONCE: usize = 16;
    let bastion = Bastion::start().expect("start sshd");
    let (source, _) = bulk_source(64).await;
    let tunnels = Tunnels::new();
    let port = tunnels
        .connect("many", spec(&bastion))
        .await
        .expect("connect");
    let socks = loopback(port);
    let round = |count: usize| async move {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..AT_ONCE {
            tasks.spawn(async move {
                for _ in (worker..count).step_by(AT_ONCE) {
                    let stream = socks_client::connect(socks, "127.0.0.1", source)
                        .await
                        .expect("CONNECT");
                    let (size, _) = digest_of(stream).await;
                    assert_eq!(size, 64);
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("worker");
        }
    };
    round(WARMUP).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (fds, rss) = (open_fds(), rss_kib());

    round(CONNECTIONS).await;
    // The last relays close their channels asynchronously: give them a moment, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while (open_fds() > fds || tunnels.stats().await[0].open_connections > 0)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = tunnels.stats().await;
    assert_eq!(stats[0].open_connections, 0, "{stats:?}");
    assert_eq!(
        stats[0].total_connections as usize,
        WARMUP + CONNECTIONS,
        "{stats:?}"
    );
    assert!(
        open_fds() <= fds,
        "descriptors: {} after, {fds} before",
        open_fds()
    );
    // Nothing is kept per connection: before russh was patched (vendor/README.md) each one
    // kept about 3.4 KiB, 33 MiB over these 10,000; now the whole round adds well under 1 MiB.
    let after = rss_kib();
    eprintln!("{CONNECTIONS} connections: RSS {rss} KiB -> {after} KiB");
    assert!(
        after.saturating_sub(rss) < 4 * 1024,
        "resident memory grew from {rss} KiB to {after} KiB over {CONNECTIONS} connections"
    );
    tunnels.shutdown().await;
}

/// A CA key pair in `dir`; returns the private key's path and the public key line.
fn certificate_authority(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String) {
    let key = dir.join(name);
    generate_key(&key, None).expect("CA key");
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("CA public key");
    (key, public.trim().to_owned())
}

#[tokio::test]
async fn a_host_certificate_is_checked_against_the_cert_authority() {
    let mut bastion = Bastion::start().expect("start sshd");
    let (ca, ca_public) = certificate_authority(bastion.dir(), "host_ca");
    let (_other_ca, other_public) = certificate_authority(bastion.dir(), "other_ca");
    let host = bastion.host().to_owned();
    bastion
        .use_host_certificate(&ca, &host)
        .expect("sshd presents a certificate");
    let name = airgate_peers::bastion::known_hosts_name(bastion.host(), bastion.port());
    let mut spec = spec(&bastion);
    let known_hosts = bastion.dir().join("ca_known_hosts");
    spec.known_hosts = vec![known_hosts.clone()];

    // Only the CA is known (no plain host key line): the certificate it signed is trusted.
    std::fs::write(
        &known_hosts,
        format!("@cert-authority {name} {ca_public}\n"),
    )
    .expect("write");
    BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect("a certificate signed by the trusted CA");

    // Another CA: refused, with the reason.
    std::fs::write(
        &known_hosts,
        format!("@cert-authority {name} {other_public}\n"),
    )
    .expect("write");
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("signed by a CA that is not trusted");
    assert!(
        matches!(error, Error::HostCertificateInvalid { .. })
            && error
                .to_string()
                .contains("not signed by an @cert-authority key"),
        "{error}"
    );

    // The trusted CA, revoked: refused (no login below).
    std::fs::write(
        &known_hosts,
        format!("@cert-authority {name} {ca_public}\n@revoked * {ca_public}\n"),
    )
    .expect("write");
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("a revoked CA vouches for nothing");
    let ca_fingerprint = russh::keys::PublicKey::from_openssh(ca_public.trim())
        .expect("the CA's public key")
        .fingerprint(russh::keys::HashAlg::Sha256)
        .to_string();
    assert!(
        error.to_string().contains(&format!(
            "the CA that signed it ({ca_fingerprint}) is marked @revoked"
        )),
        "{error}"
    );

    // A certificate for another name: refused.
    bastion
        .use_host_certificate(&ca, "other.example")
        .expect("re-sign for another name");
    std::fs::write(
        &known_hosts,
        format!("@cert-authority {name} {ca_public}\n"),
    )
    .expect("write");
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("a certificate for another host");
    assert!(
        error.to_string().contains("it is for other.example"),
        "{error}"
    );
    assert_eq!(
        bastion.log().matches("Accepted publickey").count(),
        1,
        "only the trusted certificate led to a login"
    );
}

/// An `ssh-agent` of this test's own (its socket in `dir`), with `keys` added.
struct Agent {
    child: std::process::Child,
    socket: std::path::PathBuf,
}

impl Agent {
    fn start(dir: &std::path::Path, keys: &[&std::path::Path]) -> Agent {
        let socket = dir.join("agent.sock");
        let child = std::process::Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        for key in keys {
            let added = std::process::Command::new("ssh-add")
                .arg(key)
                .env("SSH_AUTH_SOCK", &socket)
                .stderr(std::process::Stdio::null())
                .status()
                .expect("ssh-add runs");
            assert!(added.success(), "ssh-add {}", key.display());
        }
        Agent { child, socket }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_ssh_agent_logs_in_with_the_key_the_bastion_accepts() {
    let mut bastion = Bastion::start().expect("start sshd");
    let web = AirflowWeb::start_local().await.expect("start web server");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spec = spec(&bastion);

    // An empty agent says so, and nothing reaches sshd's authentication.
    let empty = Agent::start(dir.path(), &[]);
    spec.bastion.key = KeySource::Agent(empty.socket.clone());
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("no key in the agent");
    assert!(matches!(error, Error::AgentEmpty { .. }), "{error:?}");
    assert!(error.to_string().contains("ssh-add"), "{error}");
    drop(empty);

    // The agent holds a stranger key first, then the right one: both are tried, in order.
    let stranger = bastion.generate_unauthorized_key().expect("another key");
    let agent_dir = tempfile::tempdir().expect("temp dir");
    let agent = Agent::start(agent_dir.path(), &[&stranger, bastion.user_key()]);
    spec.bastion.key = KeySource::Agent(agent.socket.clone());
    let tunnels = Tunnels::new();
    let port = tunnels
        .connect("dev", spec.clone())
        .await
        .expect("logged in through the agent");
    let page = socks_client::http_get(loopback(port), "localhost", web.addr().port(), "/health")
        .await
        .expect("through the tunnel");
    assert_eq!(page.status, 200);
    tunnels.shutdown().await;

    // No agent at that path: a clear error.
    drop(agent);
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("the agent is gone");
    assert!(matches!(error, Error::AgentUnavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("Start ssh-agent"), "{error}");
}

#[tokio::test]
async fn a_pinned_host_key_wins_over_known_hosts_and_refuses_any_other() {
    let bastion = Bastion::start().expect("start sshd");
    let mut spec = spec(&bastion);
    let actual = fingerprint(bastion.host_public_key_path()).expect("ssh-keygen -lf");
    // known_hosts says the host has another key: the pin decides alone.
    let impostor = bastion.dir().join("pin_other_key");
    generate_key(&impostor, None).expect("ssh-keygen");
    let other = std::fs::read_to_string(impostor.with_extension("pub")).expect("other key");
    let known_hosts = bastion.dir().join("known_hosts_pinned");
    std::fs::write(
        &known_hosts,
        format!("[{}]:{} {other}", bastion.host(), bastion.port()),
    )
    .expect("write known_hosts");
    spec.known_hosts = vec![known_hosts];

    spec.bastion.host_key = Some(actual.clone());
    BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect("the pinned key is the bastion's")
        .close()
        .await;
    assert_eq!(bastion.log().matches("Accepted publickey").count(), 1);

    let wrong = fingerprint(&impostor.with_extension("pub")).expect("fingerprint");
    spec.bastion.host_key = Some(wrong.clone());
    let error = BastionSession::connect(&spec.bastion, &spec.known_hosts)
        .await
        .expect_err("another key than the pinned one");
    match &error {
        Error::HostKeyNotPinned {
            fingerprint,
            pinned,
            ..
        } => assert_eq!((fingerprint, pinned), (&actual, &wrong)),
        other => panic!("expected HostKeyNotPinned, got {other:?}"),
    }
    assert!(error.to_string().contains("nothing was sent"), "{error}");
    assert_eq!(
        bastion.log().matches("Accepted publickey").count(),
        1,
        "no second login"
    );
}
