//! A user adds a self-hosted Airflow that only the bastion reaches: a URL without a scheme is
//! refused inline and nothing is saved; once saved it is listed beside the MWAA environments,
//! and Open starts its tunnel, mints no token and lands a real Chromium on Airflow's own login
//! page by its private name; the tray offers it; Remove closes its tunnel and forgets it.

use std::time::{Duration, Instant};

use airgate_e2e::{click_when_ready, display_or_skip, now_ms, tray_menu, wait_for_open};
use airgate_sandbox::{BASTION_NAME, SELF_HOSTED_HOST};
use fantoccini::{Client, Locator};

const NAME: &str = "analytics";
const ROW: &str = r#"[data-testid="self-hosted-row"][data-name="analytics"]"#;

async fn fill(client: &Client, field: &str, value: &str) {
    let input = client
        .find(Locator::Css(&format!(
            r#"[data-testid="self-hosted-form"] [name="{field}"]"#
        )))
        .await
        .unwrap_or_else(|err| panic!("the form's {field} field: {err}"));
    input.clear().await.expect("clear");
    input.send_keys(value).await.expect("type");
}

async fn text_of(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(found) = client.find(Locator::Css(css)).await
            && let Ok(text) = found.text().await
        {
            return text;
        }
        assert!(Instant::now() < deadline, "nothing at {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_self_hosted_airflow_opens_on_its_own_login_page_through_the_bastion() {
    if !display_or_skip() {
        return;
    }
    let Some(sandbox) = airgate_e2e::private_sandbox_or_skip().await else {
        return;
    };
    sandbox
        .write_settings(&["--disable-gpu"])
        .expect("browser settings");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;

    click_when_ready(&client, r#"[data-testid="add-self-hosted"]"#).await;
    fill(&client, "name", NAME).await;
    fill(&client, "url", SELF_HOSTED_HOST).await;
    // The bastions arrive with the window: pick the sandbox's once it is offered.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let select = client
            .find(Locator::Css(r#"[data-testid="route-select"]"#))
            .await
            .expect("route picker");
        if select.select_by_value(BASTION_NAME).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the bastion is not offered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    click_when_ready(
        &client,
        r#"[data-testid="self-hosted-form"] button[type="submit"]"#,
    )
    .await;
    let refused = text_of(&client, r#"[data-testid="self-hosted-error"]"#).await;
    assert!(
        refused.contains("does not start with https:// or http://"),
        "{refused}"
    );
    assert!(
        client.find(Locator::Css(ROW)).await.is_err(),
        "nothing is saved from a refused form"
    );

    let url = format!("https://{SELF_HOSTED_HOST}");
    fill(&client, "url", &url).await;
    click_when_ready(
        &client,
        r#"[data-testid="self-hosted-form"] button[type="submit"]"#,
    )
    .await;
    let row = text_of(&client, ROW).await;
    assert!(row.contains(&url) && row.contains(BASTION_NAME), "{row}");
    let saved = airgate_vault::Vault::open(&sandbox.vault_namespace())
        .and_then(|vault| vault.self_hosted())
        .expect("read the vault");
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(
        (saved[0].url.as_str(), saved[0].bastion.as_deref()),
        (url.as_str(), Some(BASTION_NAME))
    );

    let clicked = now_ms();
    click_when_ready(&client, &format!(r#"{ROW} [data-testid="open"]"#)).await;
    let open_row = r#"[data-testid="open-row"][data-name="analytics"]"#;
    let shown = wait_for_open(&client, open_row)
        .await
        .unwrap_or_else(|steps| panic!("Open failed: {steps:?}"));
    assert!(shown[0].2.contains("tunnel started"), "{shown:?}");
    assert!(shown[1].2.contains("No token"), "{shown:?}");
    assert!(
        sandbox.mwaa().issued_tokens().is_empty(),
        "a self-hosted Airflow gets no MWAA token"
    );
    let landed = airgate_e2e::wait_for_request(sandbox.web_log(), SELF_HOSTED_HOST, clicked).await;
    assert_eq!(
        landed.path, "/login/",
        "Airflow 2's own login page: {landed:?}"
    );
    let tunnel = text_of(&client, &format!(r#"{ROW} [data-testid="tunnel-state"]"#)).await;
    assert!(tunnel.starts_with("Connected"), "{tunnel}");
    driver.wait_for_tray("1 connected").await;
    airgate_e2e::screenshot(&client, "self-hosted").await;
    let labels: Vec<String> = tray_menu(driver.app_pid())
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert!(
        labels.iter().any(|l| l == "Open analytics"),
        "the tray offers it: {labels:?}"
    );

    // Remove asks first, then closes the tunnel and forgets the record.
    click_when_ready(&client, &format!(r#"{ROW} [data-testid="remove"]"#)).await;
    click_when_ready(&client, &format!(r#"{ROW} [data-testid="confirm-remove"]"#)).await;
    driver.wait_for_tray("").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.find(Locator::Css(ROW)).await.is_ok() {
        assert!(Instant::now() < deadline, "the row stays after Remove");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let saved = airgate_vault::Vault::open(&sandbox.vault_namespace())
        .and_then(|vault| vault.self_hosted())
        .expect("read the vault");
    assert!(saved.is_empty(), "{saved:?}");
    sandbox.forget_bastion().expect("forget the bastion");
}
