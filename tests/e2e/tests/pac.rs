//! The proxy auto-config file: with orders-prod's tunnel up, Settings shows the PAC URL; the
//! file, evaluated by a real JavaScript engine (Node), sends orders-prod's host to the tunnel and
//! another host DIRECT; a Chromium that knows only the PAC URL reaches the private web server by
//! its `-vpce` name.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use airgate_e2e::{display_or_skip, row_selector};
use airgate_peers::airflow_web::read_log;
use fantoccini::Locator;

fn fetch(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (addr, path) = rest.split_once('/').expect("a path");
    let mut stream = TcpStream::connect(addr).expect("connect to the PAC server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or(out)
}

/// What the PAC script answers for `host`, evaluated by Node.
fn evaluate(script: &str, host: &str) -> String {
    let program = format!(
        "{script}\nprocess.stdout.write(FindProxyForURL('https://{host}/home', '{host}'));"
    );
    let out = Command::new("node")
        .args(["-e", &program])
        .output()
        .expect("node runs (the UI build needs it too)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pac_file_routes_private_hosts_through_their_tunnel() {
    if !display_or_skip() {
        return;
    }
    let Some(sandbox) = airgate_e2e::private_sandbox_or_skip().await else {
        return;
    };
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;

    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let host = env.webserver_host.clone().expect("a web server");
    let selector = row_selector(env.name, env.profile, env.region);
    let port = airgate_e2e::connect_row(&client, &selector).await;

    client
        .find(Locator::XPath("//nav//button[contains(., 'Settings')]"))
        .await
        .expect("Settings in the sidebar")
        .click()
        .await
        .expect("open Settings");
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = loop {
        if let Ok(element) = client
            .find(Locator::Css(r#"[data-testid="pac-url"]"#))
            .await
        {
            break element.text().await.expect("PAC URL text");
        }
        if Instant::now() > deadline {
            airgate_e2e::screenshot(&client, "pac-missing").await;
            let problem = match client
                .find(Locator::Css(r#"[data-testid="pac-problem"]"#))
                .await
            {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => "(no problem shown either)".to_owned(),
            };
            panic!("no PAC URL in Settings: {problem}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/proxy.pac"),
        "{url}"
    );

    let script = fetch(&url);
    assert_eq!(
        evaluate(&script, &host),
        format!("SOCKS5 127.0.0.1:{port}; SOCKS 127.0.0.1:{port}"),
        "{script}"
    );
    assert_eq!(evaluate(&script, "example.com"), "DIRECT", "{script}");

    // A browser that only knows the PAC URL reaches the private server through the tunnel.
    let chromium = airgate_launch::browser::detect()
        .into_iter()
        .find(|b| b.kind == airgate_launch::BrowserKind::Chromium)
        .expect("a Chromium-family browser (scripts/bootstrap.sh installs chromium)");
    let profile = tempfile::tempdir().expect("browser profile");
    let dom = tokio::task::spawn_blocking({
        let url = url.clone();
        let target = format!("https://{host}/pac-check");
        let pin = sandbox.certificate_pin().to_owned();
        move || {
            Command::new(&chromium.path)
                .args([
                    "--headless",
                    "--disable-gpu",
                    "--no-sandbox",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    // Nothing is looked up on this machine: names go to the proxy.
                    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                    &format!("--proxy-pac-url={url}"),
                    &format!("--ignore-certificate-errors-spki-list={pin}"),
                    &format!("--user-data-dir={}", profile.path().display()),
                    "--virtual-time-budget=10000",
                    "--dump-dom",
                    &target,
                ])
                .output()
                .expect("run chromium")
        }
    });
    let dom = tokio::time::timeout(Duration::from_secs(60), dom)
        .await
        .expect("chromium within 60 s")
        .expect("no panic");
    let page = String::from_utf8_lossy(&dom.stdout);
    assert!(page.contains("/pac-check"), "{page}");
    assert!(
        read_log(sandbox.web_log())
            .iter()
            .any(|e| e.host == host && e.path == "/pac-check"),
        "the private server saw the request by its -vpce name"
    );
    client.close().await.expect("close the app");
    drop(driver);
    sandbox
        .forget_bastion()
        .expect("forget the sandbox bastion");
}
