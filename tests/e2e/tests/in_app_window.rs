//! The "Airgate window" browser choice, set for one environment only: Open on the private
//! environment starts its tunnel and shows its web server in a window of Airgate itself, proxied
//! through the tunnel, which signs in (the page's script posts the token) and lands on a
//! logged-in `/home` by the `-vpce` name; a second Open reuses that window. No external browser
//! is started for it.

use std::time::{Duration, Instant};

use airgate_e2e::{click_in, display_or_skip, now_ms, row_selector, wait_for_open, x_windows};
use airgate_peers::airflow_web::read_log;
use airgate_sandbox::Sandbox;
use fantoccini::{Client, Locator};

const ENV: &str = "orders-prod";

async fn click_open(client: &Client, sandbox: &Sandbox) {
    let env = sandbox.environment(ENV).expect("seeded");
    let selector = row_selector(env.name, env.profile, env.region);
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        // The bastion list arrives after the rows: Open needs it while the tunnel is down.
        let ready = format!(
            r#"{selector} [data-testid="bastion-select"], {selector} [data-testid="tunnel-state"][data-state="connected"]"#
        );
        if client.find(Locator::Css(&ready)).await.is_ok()
            && let Ok(row) = client.find(Locator::Css(&selector)).await
        {
            click_in(&row, "open").await;
            return;
        }
        assert!(Instant::now() < deadline, "no row for {ENV}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for a logged-in `/home` of `env` logged after `since`; returns the log since then.
async fn wait_for_home(sandbox: &Sandbox, since: u64) -> Vec<airgate_peers::airflow_web::LogEntry> {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let log: Vec<_> = read_log(sandbox.web_log())
            .into_iter()
            .filter(|e| e.at_ms >= since)
            .collect();
        if log
            .iter()
            .any(|e| e.event == "home" && e.env.as_deref() == Some(ENV) && e.user.is_some())
        {
            return log;
        }
        assert!(Instant::now() < deadline, "no logged-in /home: {log:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_opens_logged_in_in_an_airgate_window_through_its_tunnel() {
    if !display_or_skip() {
        return;
    }
    let Some(sandbox) = airgate_e2e::private_sandbox_or_skip().await else {
        return;
    };
    let env = sandbox.environment(ENV).expect("seeded").clone();
    let id = format!("{}/{}/{}", env.profile, env.region, env.name);
    sandbox
        .write_settings_with(&[], |settings| {
            settings.browser_overrides.insert(
                id.clone(),
                airgate_launch::browser::IN_APP_WINDOW.to_owned(),
            );
        })
        .expect("settings");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let host = env.webserver_host.clone().expect("a web server");

    let since = now_ms();
    click_open(&client, &sandbox).await;
    let open_row = format!(r#"[data-testid="open-row"][data-env-name="{ENV}"]"#);
    let shown = wait_for_open(&client, &open_row)
        .await
        .unwrap_or_else(|steps| panic!("Open failed: {steps:?}"));
    assert!(shown[0].2.contains("tunnel started"), "{shown:?}");
    assert!(
        shown[2].2.contains("Airgate opened a window of its own"),
        "{shown:?}"
    );
    let log = wait_for_home(&sandbox, since).await;
    let first = log.iter().find(|e| e.host == host).expect("a request");
    assert_eq!(first.path, "/aws_mwaa/aws-console-sso", "{log:?}");
    let login = log.iter().find(|e| e.event == "login").expect("a sign-in");
    assert_eq!(login.ok, Some(true), "the token was accepted: {login:?}");
    let title = format!("{ENV} · Airflow");
    assert_eq!(
        x_windows(driver.app_pid(), &title, true).len(),
        1,
        "one Airgate window for {ENV}"
    );
    let profiles = sandbox.data_dir().join("browsers");
    assert!(
        !profiles.exists(),
        "no external browser was started: {}",
        profiles.display()
    );

    // Open again: the same window signs in again with a fresh token.
    let again = now_ms();
    click_open(&client, &sandbox).await;
    let shown = wait_for_open(&client, &open_row)
        .await
        .unwrap_or_else(|steps| panic!("second Open failed: {steps:?}"));
    assert!(shown[2].2.contains("its window again"), "{shown:?}");
    wait_for_home(&sandbox, again).await;
    assert_eq!(x_windows(driver.app_pid(), &title, true).len(), 1);

    client.close().await.expect("close the app");
    drop(driver);
    sandbox.forget_bastion().expect("forget the bastion");
}
