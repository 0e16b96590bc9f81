//! A user opens Airgate on the sandbox's private network, sees every environment with the right
//! badge, connects a private one, reaches its web server through the shown SOCKS port, and
//! disconnects.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use airgate_e2e::{
    TauriDriver, app_binary, click_in, display_or_skip, row_selector, wait_for_tunnel,
};
use airgate_peers::airflow_web::Page;
use airgate_peers::socks_client;
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

const WAIT: Duration = Duration::from_secs(45);

async fn text_of(row: &Element, testid: &str) -> String {
    let css = format!(r#"[data-testid="{testid}"]"#);
    match row.find(Locator::Css(&css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_for_rows(client: &Client, count: usize) -> Vec<Element> {
    let deadline = Instant::now() + WAIT;
    loop {
        let rows = client
            .find_all(Locator::Css(r#"[data-testid="env-row"]"#))
            .await
            .expect("query rows");
        if rows.len() >= count || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn private_environment_connects_through_the_bastion_and_disconnects() {
    if !display_or_skip() {
        return;
    }
    let Some(sandbox) = airgate_e2e::private_sandbox_or_skip().await else {
        return;
    };
    sandbox
        .save_bastion()
        .expect("save the sandbox bastion in the keyring");
    let app = app_binary().expect("desktop binary");
    let driver = TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
    let client = driver.launch(&app).await.expect("launch the app");

    // Every seeded environment is listed once, with the badge in words.
    let rows = wait_for_rows(&client, sandbox.environments().len()).await;
    assert_eq!(
        rows.len(),
        sandbox.environments().len(),
        "one row per seeded environment"
    );
    for env in sandbox.environments() {
        let row = client
            .find(Locator::Css(&row_selector(
                env.name,
                env.profile,
                env.region,
            )))
            .await
            .unwrap_or_else(|_| panic!("row for {} ({}/{})", env.name, env.profile, env.region));
        let badge = text_of(&row, "access-badge").await;
        let expected = if env.private {
            "Private · vpce"
        } else {
            "Public"
        };
        assert_eq!(badge.trim(), expected, "badge of {}", env.name);
        let status = text_of(&row, "env-status")
            .await
            .to_uppercase()
            .replace(' ', "_");
        assert!(
            status.contains(env.status),
            "{}: status {status:?}, want {}",
            env.name,
            env.status
        );
        let has_connect = row
            .find(Locator::Css(r#"[data-testid="connect"]"#))
            .await
            .is_ok();
        assert_eq!(
            has_connect, env.private,
            "Connect shown only on private rows ({})",
            env.name
        );
    }

    // Connect the private orders-prod through the saved bastion.
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let host = env
        .webserver_host
        .clone()
        .expect("orders-prod has a web server");
    assert!(host.contains("-vpce."), "{host}");
    let selector = row_selector(env.name, env.profile, env.region);
    let row = client
        .find(Locator::Css(&selector))
        .await
        .expect("orders-prod row");
    let select = row
        .find(Locator::Css(r#"[data-testid="bastion-select"]"#))
        .await
        .expect("a bastion picker on a private row");
    assert!(
        select
            .text()
            .await
            .unwrap_or_default()
            .contains(airgate_sandbox::BASTION_NAME)
    );
    click_in(&row, "connect").await;
    let state = wait_for_tunnel(&client, &selector, "connected").await;
    let port: u16 = state
        .attr("data-port")
        .await
        .expect("read data-port")
        .expect("a connected tunnel shows its port")
        .parse()
        .expect("port is a number");
    let shown = state.text().await.expect("state text");
    assert!(
        shown.contains(&port.to_string()),
        "the row shows the port: {shown:?}"
    );

    // The host itself cannot reach the private web server...
    let web = sandbox.private_web_addr().expect("private network");
    assert!(
        TcpStream::connect_timeout(&web, Duration::from_secs(2)).is_err(),
        "{web} must not be reachable from the host"
    );
    // ...but a request through the SOCKS port, by the -vpce hostname, is answered from inside.
    let socks = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let path = "/dags/orders_daily/grid";
    let response = socks_client::http_get(socks, &host, web.port(), path)
        .await
        .expect("request through the tunnel");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        Page::parse(&response.body),
        Some(Page::new(host.as_str(), path)),
        "the private server saw the -vpce host and the path: {response:?}"
    );

    // The status line and the tray say connected.
    let status_line = client
        .find(Locator::Css(r#"[data-testid="status-line"]"#))
        .await
        .expect("status line")
        .text()
        .await
        .expect("status line text");
    assert!(
        status_line.contains(&port.to_string()),
        "status line: {status_line:?}"
    );
    driver.wait_for_tray("1 connected").await;

    airgate_e2e::screenshot(&client, "connected").await;

    // The Tunnels view counts what the tunnel carried: the one request, its bytes, uptime.
    airgate_e2e::click_when_ready(&client, r#"[data-testid="nav-tunnels"]"#).await;
    let id = format!("{}/{}/{}", env.profile, env.region, env.name);
    let stats_css = format!(
        r#"[data-testid="tunnel-item"][data-tunnel-id="{id}"] [data-testid="tunnel-stats"]"#
    );
    let deadline = Instant::now() + WAIT;
    let carried = loop {
        let text = match client.find(Locator::Css(&stats_css)).await {
            Ok(found) => found.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains("1 in all") {
            break text;
        }
        assert!(Instant::now() < deadline, "tunnel stats: {text:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(carried.starts_with("up "), "{carried}");
    assert!(carried.contains("0 open"), "the request is over: {carried}");
    assert!(!carried.contains("↓ 0 B"), "bytes came back: {carried}");
    airgate_e2e::screenshot(&client, "tunnels").await;
    airgate_e2e::click_when_ready(&client, r#"[data-testid="nav-environments"]"#).await;
    let row = client
        .find(Locator::Css(&selector))
        .await
        .expect("orders-prod row again");

    // Disconnect stops the tunnel and frees the port; the tray goes back to idle.
    click_in(&row, "disconnect").await;
    wait_for_tunnel(&client, &selector, "disconnected").await;
    driver.wait_for_tray("").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpListener::bind(socks).is_err() {
        assert!(
            Instant::now() < deadline,
            "port {port} still in use after Disconnect"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        socks_client::http_get(socks, &host, web.port(), path)
            .await
            .is_err(),
        "nothing answers on {socks} after Disconnect"
    );

    client.close().await.expect("close the app");
    drop(driver);
    sandbox
        .forget_bastion()
        .expect("forget the sandbox bastion");
}
