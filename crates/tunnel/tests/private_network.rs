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

    let bastion = net.bastion();
    let known_hosts = bastion.dir().join("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .expect("known_hosts");
    let spec = TunnelSpec {
        bastion: BastionSpec {
            host: bastion.host().to_owned(),
            port: bastion.port(),
            user: bastion.user().to_owned(),
            key_path: bastion.user_key().to_owned(),
        },
        known_hosts: vec![known_hosts],
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
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
