//! A tunnel keeps its port: Connect, Disconnect, Connect again gets the same port; a program
//! that took the port meanwhile is named in the error; a port set in the Tunnels view is used
//! from the next Connect on, and is kept in the data directory.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use airgate_e2e::{click_when_ready, connect_row, display_or_skip, row_selector, wait_for_tunnel};
use airgate_sandbox::{Sandbox, Topology};
use fantoccini::{Client, Locator};

async fn click(client: &Client, css: &str) {
    click_when_ready(client, css).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tunnel_keeps_its_port_and_says_who_took_it() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let env = sandbox.environment("orders-prod").expect("seeded");
    let id = format!("{}/{}/{}", env.profile, env.region, env.name);
    let row = row_selector(env.name, env.profile, env.region);

    let first = connect_row(&client, &row).await;
    click(&client, &format!(r#"{row} [data-testid="disconnect"]"#)).await;
    wait_for_tunnel(&client, &row, "disconnected").await;
    let again = connect_row(&client, &row).await;
    assert_eq!(again, first, "the second Connect gets the same port");
    let saved = std::fs::read_to_string(sandbox.data_dir().join("ports.json")).expect("saved");
    assert!(saved.contains(&format!("\"{id}\": {first}")), "{saved}");

    // Another program takes the port while the tunnel is down: the error names it.
    click(&client, &format!(r#"{row} [data-testid="disconnect"]"#)).await;
    wait_for_tunnel(&client, &row, "disconnected").await;
    let squatter =
        TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, first))).expect("take the port");
    click(&client, &airgate_e2e::connect_selector(&row)).await;
    wait_for_tunnel(&client, &row, "failed").await;
    // The row ends up saying why (the tunnel's own events may still be arriving a moment after
    // the Connect's answer).
    let me = format!("(pid {})", std::process::id());
    let wanted = format!("Port {first} on 127.0.0.1 is already in use by");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let reason = loop {
        let state = wait_for_tunnel(&client, &row, "failed").await;
        let text = state.text().await.unwrap_or_default();
        if text.contains(&wanted) || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        reason.contains(&format!("Port {first} on 127.0.0.1 is already in use by"))
            && reason.contains(&me),
        "{reason}"
    );
    drop(squatter);
    click(&client, &format!(r#"{row} [data-testid="disconnect"]"#)).await;
    wait_for_tunnel(&client, &row, "disconnected").await;

    // A port set in the Tunnels view applies from the next Connect.
    let chosen = {
        let free = TcpListener::bind("127.0.0.1:0").expect("a free port");
        free.local_addr().expect("addr").port()
    };
    click(&client, r#"[data-testid="nav-tunnels"]"#).await;
    let field = format!(r#"[data-testid="tunnel-port"][data-tunnel-id="{id}"] input"#);
    let deadline = Instant::now() + Duration::from_secs(20);
    let input = loop {
        if let Ok(input) = client.find(Locator::Css(&field)).await {
            break input;
        }
        assert!(Instant::now() < deadline, "no port field for {id}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    input.clear().await.expect("clear");
    input.send_keys(&chosen.to_string()).await.expect("type");
    click(
        &client,
        &format!(r#"[data-testid="tunnel-port"][data-tunnel-id="{id}"] button[type="submit"]"#),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(sandbox.data_dir().join("ports.json"))
        .unwrap_or_default()
        .contains(&format!("\"{id}\": {chosen}"))
    {
        assert!(Instant::now() < deadline, "the new port is saved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click(&client, r#"[data-testid="nav-environments"]"#).await;
    let moved = connect_row(&client, &row).await;
    assert_eq!(moved, chosen, "the next Connect uses the port set");

    client.close().await.expect("close the app");
    drop(driver);
    sandbox.forget_bastion().expect("forget the bastion");
}
