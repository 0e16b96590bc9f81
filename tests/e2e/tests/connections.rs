//! Airflow connections from the window: add one with a password, copy the password (it reaches
//! the X clipboard, never the page, and is cleared after the settings' delay), push it to AWS
//! Secrets Manager (moto's server) where the environment's Airflow reads it, and pull one
//! written there by someone else.

use std::time::{Duration, Instant};

use airgate_e2e::{click_when_ready, display_or_skip, fill, press, wait_for_text, wait_until_gone};
use airgate_peers::moto::Moto;
use airgate_sandbox::{Sandbox, Topology};
use fantoccini::key::Key;
use serde_json::json;

const PASSWORD: &str = "Pa55-w0rd:clip/board";

/// What the X clipboard (CLIPBOARD selection) holds, as another application pasting reads it.
fn clipboard_text() -> Option<String> {
    arboard::Clipboard::new().ok()?.get_text().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_is_copied_for_a_while_and_connections_sync_with_secrets_manager() {
    if !display_or_skip() {
        return;
    }
    let moto = Moto::start().expect("moto's server starts");
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    sandbox
        .write_settings_with(&[], |s| s.clipboard_clear_secs = Some(3))
        .expect("settings");
    let mut env = sandbox.app_env();
    env.push((
        "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(),
        moto.endpoint().to_owned(),
    ));
    env.push(("RUST_LOG".to_owned(), "debug".to_owned()));
    let driver = airgate_e2e::TauriDriver::start(&env).expect("tauri-driver");
    let client = driver
        .launch(&airgate_e2e::app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    let orders = sandbox.environment("orders-prod").expect("seeded");
    let region = orders.region;

    // Add a connection with a password.
    click_when_ready(&client, r#"[data-testid="nav-connections"]"#).await;
    click_when_ready(&client, r#"[data-testid="add-connection"]"#).await;
    fill(&client, "connection-form", "connId", "warehouse").await;
    fill(&client, "connection-form", "connType", "postgres").await;
    fill(&client, "connection-form", "host", "db.internal").await;
    fill(&client, "connection-form", "login", "etl").await;
    fill(&client, "connection-form", "password", PASSWORD).await;
    click_when_ready(
        &client,
        r#"[data-testid="connection-form"] button[type="submit"]"#,
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="connection-warehouse"]"#,
        &["postgres", "db.internal", "password"],
    )
    .await;

    // The list moves like the others: Enter on the row edits it, Esc closes the form, the
    // Menu key (Shift+F10) shows the row's own menu.
    let row = r#"[data-testid="connection-warehouse"]"#;
    client
        .execute(
            "document.querySelector(arguments[0]).focus();",
            vec![row.into()],
        )
        .await
        .expect("focus the row");
    press(&client, &[], Key::Enter.into()).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let editing = client
            .execute(
                r#"const f = document.querySelector('[data-testid="connection-form"] [name="connId"]');
                   return f ? f.value : null;"#,
                Vec::new(),
            )
            .await
            .expect("the form");
        if editing == "warehouse" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Enter did not edit warehouse: {editing}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    press(&client, &[], Key::Escape.into()).await;
    wait_until_gone(&client, r#"[data-testid="connection-form"]"#).await;
    client
        .execute(
            "document.querySelector(arguments[0]).focus();",
            vec![row.into()],
        )
        .await
        .expect("focus the row");
    press(&client, &[Key::Shift], Key::F10.into()).await;
    let menu = wait_for_text(
        &client,
        r#"[data-testid="row-menu"]"#,
        &["Edit", "Copy password", "Delete"],
    )
    .await;
    assert!(!menu.contains("Open"), "{menu}");
    press(&client, &[], Key::Escape.into()).await;
    wait_until_gone(&client, r#"[data-testid="row-menu"]"#).await;

    // Copy password: on the clipboard, said so, then gone after the 3 s of the settings.
    click_when_ready(&client, r#"[data-testid="copy-password-warehouse"]"#).await;
    wait_for_text(
        &client,
        r#"[data-testid="connections-notice"]"#,
        &["Password of warehouse copied", "3 s"],
    )
    .await;
    assert_eq!(clipboard_text().as_deref(), Some(PASSWORD));
    let copied_at = Instant::now();
    while clipboard_text().as_deref() == Some(PASSWORD) {
        assert!(
            copied_at.elapsed() < Duration::from_secs(15),
            "the password is still on the clipboard after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        copied_at.elapsed() >= Duration::from_secs(2),
        "cleared after the delay, not at once ({:?})",
        copied_at.elapsed()
    );

    // Push to orders-prod: its Airflow has no secrets backend configured, so the conventional
    // prefix, and the window says its Airflow does not read it yet.
    let env_id = format!("{}/{}/{}", orders.profile, orders.region, orders.name);
    click_when_ready(
        &client,
        &format!(r#"[data-testid="sync-environment"] option[value="{env_id}"]"#),
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="sync-prefix"]"#,
        &[
            "airflow/connections/<conn_id>",
            "no secrets backend configured",
        ],
    )
    .await;
    click_when_ready(&client, r#"[data-testid="push-connections"]"#).await;
    wait_for_text(
        &client,
        r#"[data-testid="connections-notice"]"#,
        &["Pushed 1 to orders-prod: 1 created, 0 updated."],
    )
    .await;
    let secret = moto
        .call(
            region,
            "get_secret_value",
            &json!({"SecretId": "airflow/connections/warehouse"}),
        )
        .expect("boto3 get_secret_value");
    let value = secret["SecretString"].as_str().expect("a secret string");
    assert!(
        value.starts_with("postgres://etl:") && value.ends_with("@db.internal"),
        "{value}"
    );

    // Someone else's secret, in the backend's own field names: pulled into the keyring.
    let made = moto
        .call(
            region,
            "create_secret",
            &json!({"Name": "airflow/connections/legacy", "SecretString": r#"{"engine": "mysql", "user": "app", "pass": "pw", "server": "mysql.internal"}"#}),
        )
        .expect("boto3 create_secret");
    assert!(made.get("Error").is_none(), "{made}");
    click_when_ready(&client, r#"[data-testid="pull-connections"]"#).await;
    wait_for_text(
        &client,
        r#"[data-testid="connections-notice"]"#,
        &["Stored 1 from orders-prod: legacy."],
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="connection-legacy"]"#,
        &["mysql", "mysql.internal", "app", "password"],
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="sync-problems"]"#,
        &["warehouse: a connection of that id is stored already"],
    )
    .await;

    // The password never reached the page.
    let page = client.source().await.expect("page source");
    assert!(!page.contains(PASSWORD), "the password is in the page");
    client.close().await.expect("close the app");
    drop(driver);
    let log = std::fs::read_to_string(sandbox.data_dir().join("airgate.log")).expect("app log");
    assert!(
        log.contains("the copied secret was cleared from the clipboard"),
        "{log:.300}"
    );
    assert!(!log.contains(PASSWORD), "the password is in the app's log");
}
