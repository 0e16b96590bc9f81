//! A local forward from the window (`ssh -L`): Tunnels → Local forward → through the sandbox's
//! bastion to a host only the bastion resolves; a plain HTTP client on the local port reaches
//! it; the tray offers Disconnect (and no Open) for it; Disconnect frees the port.

use std::time::{Duration, Instant};

use airgate_e2e::{click_when_ready, display_or_skip, tray_menu};
use airgate_peers::airflow_web::Page;
use airgate_sandbox::SELF_HOSTED_HOST;
use fantoccini::Locator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread")]
async fn a_local_forward_reaches_a_private_host_from_a_plain_client() {
    if !display_or_skip() {
        return;
    }
    let Some(sandbox) = airgate_e2e::private_sandbox_or_skip().await else {
        return;
    };
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    click_when_ready(&client, r#"[data-testid="nav-tunnels"]"#).await;
    let to = format!("{SELF_HOSTED_HOST}:80");
    let field = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(field) = client
                .find(Locator::Css(r#"[data-testid="forward-to"]"#))
                .await
            {
                break field;
            }
            assert!(
                Instant::now() < deadline,
                "no forward form (bastions not loaded?)"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    field.send_keys(&to).await.expect("type the target");
    click_when_ready(
        &client,
        r#"[data-testid="forward-form"] button[type="submit"]"#,
    )
    .await;

    let id = format!("forward:{to}");
    let state_css = format!(
        r#"[data-testid="tunnel-item"][data-tunnel-id="{id}"] [data-testid="tunnel-state"][data-state="connected"]"#
    );
    let deadline = Instant::now() + Duration::from_secs(45);
    let port: u16 = loop {
        if let Ok(state) = client.find(Locator::Css(&state_css)).await
            && let Ok(Some(port)) = state.attr("data-port").await
        {
            break port.parse().expect("a port");
        }
        assert!(Instant::now() < deadline, "the forward did not connect");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the forward");
    let request = format!(
        "GET /dags/lab/grid HTTP/1.1\r\nHost: {SELF_HOSTED_HOST}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    assert_eq!(
        Page::parse(body),
        Some(Page::new(SELF_HOSTED_HOST, "/dags/lab/grid")),
        "the private server answered: {response}"
    );

    let labels: Vec<String> = tray_menu(driver.app_pid())
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert!(labels.contains(&format!("Disconnect {to}")), "{labels:?}");
    assert!(
        !labels.contains(&format!("Open {to}")),
        "a forward has nothing to open: {labels:?}"
    );

    click_when_ready(
        &client,
        &format!(
            r#"[data-testid="tunnel-item"][data-tunnel-id="{id}"] [data-testid="disconnect"]"#
        ),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "port {port} still held after Disconnect"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.close().await.expect("close the app");
    drop(driver);
    sandbox.forget_bastion().expect("forget the bastion");
}
