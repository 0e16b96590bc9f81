//! A user clicks Open: on a private environment Airgate starts the tunnel, proves the route,
//! mints a login token and launches a real (headless) Chromium routed through the tunnel, and the
//! private web server logs the browser signing in by its `-vpce` name; the second Open reuses the
//! tunnel; an Airflow 3 public environment lands on its own path; a refused token and an
//! environment that is not AVAILABLE say why; the tray opens and disconnects all.

use std::time::{Duration, Instant};

use airgate_e2e::{
    click_in, click_tray_menu, display_or_skip, now_ms, row_selector, tray_menu, wait_for_tunnel,
};
use airgate_peers::airflow_web::{LogEntry, read_log};
use airgate_peers::mwaa::{ErrorCode, FaultRule, Operation};
use airgate_sandbox::Sandbox;
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

const WAIT: Duration = Duration::from_secs(45);

async fn row(client: &Client, sandbox: &Sandbox, name: &str) -> (Element, String) {
    let env = sandbox.environment(name).expect("seeded");
    let selector = row_selector(env.name, env.profile, env.region);
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(row) = client.find(Locator::Css(&selector)).await {
            return (row, selector);
        }
        assert!(Instant::now() < deadline, "no row for {name}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every step of `name`'s Open is done, or one failed (returned as Err).
async fn wait_for_open(
    client: &Client,
    name: &str,
) -> Result<Vec<(String, String, String)>, Vec<(String, String, String)>> {
    let css = format!(r#"[data-testid="open-row"][data-env-name="{name}"]"#);
    airgate_e2e::wait_for_open(client, &css).await
}

/// Waits for a logged-in `/home` on `env` logged after `since_ms`; returns the log from then on.
async fn wait_for_login(sandbox: &Sandbox, env: &str, since_ms: u64) -> Vec<LogEntry> {
    let deadline = Instant::now() + WAIT;
    loop {
        let entries: Vec<LogEntry> = read_log(sandbox.web_log())
            .into_iter()
            .filter(|e| e.at_ms >= since_ms)
            .collect();
        if entries
            .iter()
            .any(|e| e.event == "home" && e.env.as_deref() == Some(env) && e.user.is_some())
        {
            return entries;
        }
        assert!(
            Instant::now() < deadline,
            "no logged-in /home on {env}: {entries:?}\n{}",
            browser_logs(sandbox)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the browsers Airgate started printed (the last lines of each), for a failure message.
fn browser_logs(sandbox: &Sandbox) -> String {
    let mut out = String::new();
    let dir = sandbox.data_dir().join("browsers");
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let log = entry.path().join(airgate_launch::browser::BROWSER_LOG);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        out.push_str(&format!("{}:\n{tail}\n", log.display()));
    }
    if out.is_empty() {
        out = format!("no browser profile in {}", dir.display());
    }
    out
}

async fn click_open(row: &Element) {
    click_in(row, "open").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn open_logs_in_through_the_tunnel_in_an_isolated_browser() {
    if !display_or_skip() {
        return;
    }
    let Some(sandbox) = airgate_e2e::private_sandbox_or_skip().await else {
        return;
    };
    sandbox
        .write_settings(&["--disable-gpu"])
        .expect("browser settings");
    let begun = Instant::now();
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;

    // Private, Airflow 2: Open starts the tunnel and the browser logs in by the -vpce name.
    let orders = sandbox.environment("orders-prod").expect("seeded").clone();
    let host = orders.webserver_host.clone().expect("a web server");
    let (orders_row, selector) = row(&client, &sandbox, "orders-prod").await;
    let clicked = now_ms();
    click_open(&orders_row).await;
    let shown = wait_for_open(&client, "orders-prod")
        .await
        .unwrap_or_else(|steps| panic!("Open failed: {steps:?}"));
    assert!(shown[0].2.contains("tunnel started"), "{shown:?}");
    let log = wait_for_login(&sandbox, "orders-prod", clicked).await;
    let first = log.iter().find(|e| e.host == host).expect("a request");
    assert_eq!(
        (first.host.as_str(), first.path.as_str()),
        (host.as_str(), "/aws_mwaa/aws-console-sso"),
        "the browser asked the private server by its -vpce name: {log:?}"
    );
    let login = log.iter().find(|e| e.event == "login").expect("a login");
    assert_eq!(login.ok, Some(true), "{login:?}");
    let cold_ms = first.at_ms - clicked;
    wait_for_tunnel(&client, &selector, "connected").await;
    driver.wait_for_tray("1 connected").await;
    airgate_e2e::screenshot(&client, "opened").await;

    eprintln!("[{:>6} ms] warm", begun.elapsed().as_millis());
    // Open again: the tunnel is reused, a fresh token logs in again.
    let again = now_ms();
    click_open(&orders_row).await;
    let shown = wait_for_open(&client, "orders-prod")
        .await
        .unwrap_or_else(|steps| panic!("second Open failed: {steps:?}"));
    assert!(shown[0].2.contains("tunnel already up"), "{shown:?}");
    let log = wait_for_login(&sandbox, "orders-prod", again).await;
    let sso = log
        .iter()
        .find(|e| e.host == host && e.path == "/aws_mwaa/aws-console-sso")
        .expect("the sign-in page again");
    let warm_ms = sso.at_ms - again;
    eprintln!("Open → browser's first request: cold tunnel {cold_ms} ms, warm tunnel {warm_ms} ms");

    eprintln!("[{:>6} ms] public", begun.elapsed().as_millis());
    // Public, Airflow 3: no tunnel, and the login path of Airflow 3.
    let dev = sandbox
        .environment("dev-playground")
        .expect("seeded")
        .clone();
    let (dev_row, _) = row(&client, &sandbox, "dev-playground").await;
    let since = now_ms();
    click_open(&dev_row).await;
    let shown = wait_for_open(&client, "dev-playground")
        .await
        .unwrap_or_else(|steps| panic!("Open of a public environment failed: {steps:?}"));
    assert!(shown[0].2.contains("no tunnel needed"), "{shown:?}");
    let log = wait_for_login(&sandbox, "dev-playground", since).await;
    let dev_host = dev.webserver_host.clone().expect("a web server");
    let first = log.iter().find(|e| e.host == dev_host).expect("a request");
    assert_eq!(first.path, "/pluginsv2/aws_mwaa/aws-console-sso", "{log:?}");

    eprintln!("[{:>6} ms] not-available", begun.elapsed().as_millis());
    // Not AVAILABLE: Open is disabled, and the row says why.
    let (updating, _) = row(&client, &sandbox, "ml-features").await;
    let open = updating
        .find(Locator::Css(r#"[data-testid="open"]"#))
        .await
        .expect("Open on every row");
    assert!(
        !open.is_enabled().await.expect("enabled?"),
        "Open disabled while UPDATING"
    );
    let status = updating
        .find(Locator::Css(r#"[data-testid="env-status"]"#))
        .await
        .expect("status")
        .text()
        .await
        .expect("status text");
    assert!(
        status.contains("Updating") && status.contains("Open once available"),
        "{status:?}"
    );

    eprintln!("[{:>6} ms] refused", begun.elapsed().as_millis());
    // A refused token: the step list names the missing permission.
    sandbox.mwaa().faults().fail(
        FaultRule::new(ErrorCode::AccessDeniedException)
            .op(Operation::CreateWebLoginToken)
            .name("reporting"),
    );
    let (reporting, _) = row(&client, &sandbox, "reporting").await;
    click_open(&reporting).await;
    let failed = wait_for_open(&client, "reporting")
        .await
        .expect_err("the token is refused");
    let token = failed
        .iter()
        .find(|(step, _, _)| step == "token")
        .expect("token step");
    assert_eq!(token.1, "failed", "{failed:?}");
    assert!(
        token.2.contains("airflow:CreateWebLoginToken"),
        "{failed:?}"
    );
    airgate_e2e::screenshot(&client, "token-refused").await;

    eprintln!("[{:>6} ms] tray", begun.elapsed().as_millis());
    // The tray opens the running environment and the recent one (the refused Open is not
    // recent), then disconnects all.
    let pid = driver.app_pid();
    let labels = || -> Vec<String> { tray_menu(pid).into_iter().map(|(_, l)| l).collect() };
    assert_eq!(
        labels(),
        [
            "Open orders-prod",
            "Disconnect orders-prod",
            "Open dev-playground",
            "Disconnect all",
            "Show window",
            "Quit"
        ],
        "the tray menu"
    );
    let since = now_ms();
    assert!(
        click_tray_menu(pid, "Open orders-prod"),
        "click Open in the tray"
    );
    wait_for_login(&sandbox, "orders-prod", since).await;
    assert!(
        click_tray_menu(pid, "Disconnect all"),
        "click Disconnect all"
    );
    wait_for_tunnel(&client, &selector, "disconnected").await;
    eprintln!("[{:>6} ms] tray: disconnected", begun.elapsed().as_millis());
    driver.wait_for_tray("").await;

    // A star keeps an environment in the menu, first; a recent private one opens from the
    // tray through the bastion of its last Open, starting its tunnel again.
    let (reporting, _) = row(&client, &sandbox, "reporting").await;
    click_in(&reporting, "favourite").await;
    let deadline = Instant::now() + WAIT;
    let wanted = [
        "Open reporting",
        "Open orders-prod",
        "Open dev-playground",
        "Disconnect all",
        "Show window",
        "Quit",
    ];
    while labels() != wanted {
        assert!(Instant::now() < deadline, "the tray menu is {:?}", labels());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let since = now_ms();
    assert!(
        click_tray_menu(pid, "Open orders-prod"),
        "click a recent environment in the tray"
    );
    wait_for_login(&sandbox, "orders-prod", since).await;
    wait_for_tunnel(&client, &selector, "connected").await;
    driver.wait_for_tray("1 connected").await;

    eprintln!("[{:>6} ms] close", begun.elapsed().as_millis());
    client.close().await.expect("close the app");
    drop(driver);
    let _ = std::process::Command::new("pkill")
        .args(["-f", &sandbox.data_dir().display().to_string()])
        .status();
    sandbox
        .forget_bastion()
        .expect("forget the sandbox bastion");
}
