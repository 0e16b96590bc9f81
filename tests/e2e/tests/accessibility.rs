//! An accessibility audit of every screen of the real window: axe-core (the UI's dev
//! dependency, from ui/node_modules) injected through WebDriver, WCAG 2.x A and AA rules.

use std::path::PathBuf;
use std::time::Duration;

use airgate_e2e::{click_when_ready, connect_selector, display_or_skip, row_selector};
use airgate_sandbox::{Sandbox, Topology};
use fantoccini::Client;
use serde_json::Value;

fn axe_source() -> Option<String> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).ok()
}

/// The violations axe finds in the window as it is: `rule (impact): target …` lines.
async fn audit(client: &Client, axe: &str) -> Vec<String> {
    let script = format!(
        r#"
        const done = arguments[arguments.length - 1];
        if (!window.axe) {{ {axe} }}
        window.axe
            .run(document, {{ runOnly: {{ type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }} }})
            .then((r) => done(r.passes.length < 10 ? ["axe checked almost nothing: "
                + r.passes.length + " rules passed"] : r.violations.map((v) => v.id + " (" + v.impact + "): "
                + v.nodes.slice(0, 3).map((n) => n.target.join(" ") + " " + n.failureSummary
                    .replace(/\s+/g, " ")).join(" | "))))
            .catch((e) => done(["axe failed: " + e]));
        "#
    );
    let found = client
        .execute_async(&script, Vec::new())
        .await
        .expect("run axe");
    found
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec![format!("unexpected answer: {found}")])
}

/// axe-core, or `None` (after saying why) where the UI's dev dependencies are not installed.
fn axe_or_skip() -> Option<String> {
    if !display_or_skip() {
        return None;
    }
    let axe = axe_source();
    if axe.is_none() {
        assert!(
            std::env::var("AIRGATE_REQUIRE_GUI").as_deref() != Ok("1"),
            "axe-core is missing: `cd ui && npm ci`"
        );
        eprintln!("SKIPPED: axe-core not installed (`cd ui && npm ci`)");
    }
    axe
}

/// Whether the window's page is in the dark theme (its CSS follows the OS's preference).
async fn dark(client: &Client) -> bool {
    client
        .execute(
            r#"return matchMedia("(prefers-color-scheme: dark)").matches;"#,
            Vec::new(),
        )
        .await
        .expect("the colour scheme")
        == Value::Bool(true)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_passes_an_axe_audit() {
    let Some(axe) = axe_or_skip() else {
        return;
    };
    let problems = audit_every_screen(&axe, &[("GTK_THEME", "Adwaita")], false).await;
    assert!(problems.is_empty(), "axe found:\n{}", problems.join("\n"));
}

/// GTK_THEME=Adwaita:dark is what makes WebKitGTK report `prefers-color-scheme: dark` (as a
/// dark desktop does), so the page takes its dark colours.
#[tokio::test(flavor = "multi_thread")]
async fn every_screen_passes_an_axe_audit_in_the_dark_theme() {
    let Some(axe) = axe_or_skip() else {
        return;
    };
    let problems = audit_every_screen(&axe, &[("GTK_THEME", "Adwaita:dark")], true).await;
    assert!(
        problems.is_empty(),
        "axe found, in the dark theme:\n{}",
        problems.join("\n")
    );
}

/// Audits every screen (with a tunnel up), a form, a row's menu, the palette and the details
/// drawer in the window of an app started with `extra_env`, in the dark theme when `want_dark`
/// (checked); the violations found, each named by where.
async fn audit_every_screen(axe: &str, extra_env: &[(&str, &str)], want_dark: bool) -> Vec<String> {
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    sandbox.save_bastion().expect("save the sandbox bastion");
    let mut app_env = sandbox.app_env();
    app_env.extend(
        extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let driver = airgate_e2e::TauriDriver::start(&app_env).expect("tauri-driver");
    let client = driver
        .launch(&airgate_e2e::app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    assert_eq!(
        dark(&client).await,
        want_dark,
        "the window's theme with {extra_env:?}"
    );
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let row = row_selector(env.name, env.profile, env.region);
    airgate_e2e::wait_for_element(&client, &connect_selector(&row), Duration::from_secs(45)).await;
    click_when_ready(&client, &connect_selector(&row)).await;
    airgate_e2e::wait_for_tunnel(&client, &row, "connected").await;

    let mut problems = Vec::new();
    for section in airgate_e2e::SECTIONS {
        airgate_e2e::show_section(&client, section).await;
        for found in audit(&client, axe).await {
            problems.push(format!("{section}: {found}"));
        }
    }
    // A form open, then a row's menu.
    click_when_ready(&client, r#"[data-testid="nav-environments"]"#).await;
    click_when_ready(&client, r#"[data-testid="add-self-hosted"]"#).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for found in audit(&client, axe).await {
        problems.push(format!("Airflow form: {found}"));
    }
    client
        .execute(
            r#"document.querySelector(arguments[0]).focus();"#,
            vec![row.clone().into()],
        )
        .await
        .expect("focus the row");
    airgate_e2e::press(
        &client,
        &[fantoccini::key::Key::Shift],
        fantoccini::key::Key::F10.into(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for found in audit(&client, axe).await {
        problems.push(format!("row menu: {found}"));
    }
    airgate_e2e::press(&client, &[], fantoccini::key::Key::Escape.into()).await;

    // The palette, open.
    click_when_ready(&client, r#"[data-testid="open-palette"]"#).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for found in audit(&client, axe).await {
        problems.push(format!("palette: {found}"));
    }
    airgate_e2e::press(&client, &[], fantoccini::key::Key::Escape.into()).await;

    // An environment's details drawer, open on one whose last update failed.
    let legacy = sandbox.environment("legacy-etl").expect("seeded");
    let legacy_row = row_selector(legacy.name, legacy.profile, legacy.region);
    click_when_ready(
        &client,
        &format!(r#"{legacy_row} [data-testid="env-details-button"]"#),
    )
    .await;
    airgate_e2e::wait_for_text(
        &client,
        r#"[data-testid="env-details"][data-state="open"]"#,
        &["Last update failed"],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for found in audit(&client, axe).await {
        problems.push(format!("details drawer: {found}"));
    }
    if want_dark {
        airgate_e2e::screenshot(&client, "details-dark").await;
    }
    client.close().await.expect("close the app");
    drop(driver);
    problems
}
