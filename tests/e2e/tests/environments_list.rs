//! The environments list as a user narrows it and looks into one environment: rows grouped by
//! account and region; a search by tag value or part of a name, the Private filter and Clear
//! filters change the rows and the count; legacy-etl's details say why its last update failed,
//! show its network and role, copy its web server's URL, ask the shell for its AWS console page,
//! and Esc gives the focus back to its row.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use airgate_e2e::{
    TauriDriver, app_binary, click_when_ready, display_or_skip, focused, press, row_selector,
    wait_for_focus, wait_for_text, wait_until_gone,
};
use airgate_peers::mwaa::SeedEnvironment;
use airgate_sandbox::{ACCOUNTS, Sandbox, Topology};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::Value;

const DRAWER: &str = r#"[data-testid="env-details"][data-state="open"]"#;

/// A second profile with the keys of sandbox-dev: it reaches the same account.
const SECOND_PROFILE: &str = "sandbox-dev-readonly";

/// Adds [`SECOND_PROFILE`] to the sandbox's AWS files, next to sandbox-dev.
fn add_second_profile(app_env: &[(String, String)], sandbox: &Sandbox) {
    let file = |name: &str| {
        app_env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("the sandbox's {name}"))
    };
    let dev = &ACCOUNTS[2];
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE");
    let mut text = std::fs::read_to_string(&credentials).expect("credentials");
    let section: String = text
        .split("\n\n")
        .find(|s| s.trim_start().starts_with(&format!("[{}]", dev.profile)))
        .expect("sandbox-dev's keys")
        .replacen(dev.profile, SECOND_PROFILE, 1);
    text.push_str(&format!("\n{section}\n"));
    std::fs::write(&credentials, text).expect("credentials written");
    let config = file("AWS_CONFIG_FILE");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "\n[profile {SECOND_PROFILE}]\nregion = {}\nendpoint_url = {}\n",
        dev.regions[0],
        sandbox.mwaa().endpoint()
    ));
    std::fs::write(&config, text).expect("config written");
}

/// Starts the app on the sandbox with no browser to open pages in (the app logs them instead).
async fn launch(sandbox: &Sandbox) -> (TauriDriver, Client) {
    let mut env = sandbox.app_env();
    add_second_profile(&env, sandbox);
    env.push(("AIRGATE_NO_BROWSER".to_owned(), "1".to_owned()));
    let driver = TauriDriver::start(&env).expect("tauri-driver");
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    (driver, client)
}

/// Waits (10 s at most) until the rows shown are exactly `wanted` (any order).
async fn wait_for_rows(client: &Client, wanted: &[&str], what: &str) {
    let wanted: BTreeSet<String> = wanted.iter().map(|s| (*s).to_owned()).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now: BTreeSet<String> = airgate_e2e::row_names(client).await.into_iter().collect();
        if now == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: rows {now:?}, want {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(client: &Client) -> String {
    client
        .find(Locator::Css(r#"[data-testid="env-count"]"#))
        .await
        .expect("the count")
        .text()
        .await
        .expect("count text")
}

async fn search(client: &Client, text: &str) {
    let input = client
        .find(Locator::Css(r#"[data-testid="env-search"]"#))
        .await
        .expect("the search box");
    input.clear().await.expect("clear");
    if text.is_empty() {
        // Esc in the search box empties it, as a user does.
        input.send_keys("x").await.expect("type");
        input
            .send_keys(&char::from(Key::Escape).to_string())
            .await
            .expect("Esc");
    } else {
        input.send_keys(text).await.expect("type");
    }
}

/// Each account group as shown: (account, its heading, [(region, [names under it])]).
async fn groups(client: &Client) -> Vec<(String, String, Vec<(String, Vec<String>)>)> {
    let found = client
        .execute(
            r#"return [...document.querySelectorAll('[data-testid="account-group"]')].map((g) => {
                const regions = [];
                for (const tr of g.querySelectorAll("tr")) {
                    if (tr.dataset.testid === "region-heading") regions.push([tr.dataset.region, []]);
                    if (tr.dataset.testid === "env-row") regions.at(-1)[1].push(tr.dataset.envName);
                }
                return [g.dataset.account,
                    g.querySelector('[data-testid="account-heading"]').textContent, regions];
            });"#,
            Vec::new(),
        )
        .await
        .expect("groups");
    serde_json::from_value(found).expect("groups as arrays")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_list_is_grouped_by_account_and_region_and_narrowed_by_search_and_filters() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = launch(&sandbox).await;
    let all: Vec<&str> = sandbox.environments().iter().map(|e| e.name).collect();
    let total = all.len();
    wait_for_rows(&client, &all, "every seeded environment").await;
    assert_eq!(count(&client).await, format!("{total} found"));
    airgate_e2e::screenshot(&client, "environments-grouped").await;

    // One group per account, headed by its id and the profiles that reach it (sandbox-dev's
    // account by two), with each environment under its region.
    let shown = groups(&client).await;
    assert_eq!(shown.len(), ACCOUNTS.len(), "{shown:?}");
    for account in ACCOUNTS {
        let (_, heading, regions) = shown
            .iter()
            .find(|(id, _, _)| id == account.id)
            .unwrap_or_else(|| panic!("no group for account {}: {shown:?}", account.id));
        assert!(
            heading.contains(account.id) && heading.contains(account.profile),
            "heading of {}: {heading:?}",
            account.id
        );
        assert_eq!(
            heading.contains(SECOND_PROFILE),
            account.profile == ACCOUNTS[2].profile,
            "heading of {}: {heading:?}",
            account.id
        );
        let mut want: Vec<(String, Vec<String>)> = Vec::new();
        for region in account.regions {
            let mut names: Vec<String> = sandbox
                .environments()
                .iter()
                .filter(|e| e.profile == account.profile && e.region == *region)
                .map(|e| e.name.to_owned())
                .collect();
            names.sort();
            if !names.is_empty() {
                want.push(((*region).to_owned(), names));
            }
        }
        want.sort();
        assert_eq!(regions, &want, "account {}", account.id);
    }

    // Its environments are listed once, with both profiles.
    let dev = ACCOUNTS[2];
    for env in sandbox
        .environments()
        .iter()
        .filter(|e| e.profile == dev.profile)
    {
        wait_for_text(
            &client,
            &format!(
                r#"{} [data-testid="env-profiles"]"#,
                row_selector(env.name, env.profile, env.region)
            ),
            &[&format!("{}, {SECOND_PROFILE}", dev.profile)],
        )
        .await;
    }

    // A tag value, in capitals: "dev" is the stage tag of ml-features and reporting (nothing
    // else of theirs says dev) and the profile of the sandbox-dev environments.
    search(&client, "DEV").await;
    wait_for_rows(
        &client,
        &[
            "ml-features",
            "reporting",
            "dev-playground",
            "ingest-staging",
            "legacy-etl",
        ],
        "search DEV",
    )
    .await;
    assert_eq!(count(&client).await, format!("5 of {total}"));

    // Part of a name.
    search(&client, "etl").await;
    wait_for_rows(&client, &["legacy-etl"], "search etl").await;
    assert_eq!(count(&client).await, format!("1 of {total}"));

    // Private only: every private environment, each with its Private badge.
    search(&client, "").await;
    click_when_ready(
        &client,
        r#"[data-testid="access-filter"] [data-value="private"]"#,
    )
    .await;
    let private: Vec<&str> = sandbox
        .environments()
        .iter()
        .filter(|e| e.private)
        .map(|e| e.name)
        .collect();
    wait_for_rows(&client, &private, "Private").await;
    assert_eq!(
        count(&client).await,
        format!("{} of {total}", private.len())
    );
    let badges = client
        .execute(
            r#"return [...document.querySelectorAll('[data-testid="access-badge"]')]
                .map((b) => b.textContent.trim());"#,
            Vec::new(),
        )
        .await
        .expect("badges");
    assert!(
        badges
            .as_array()
            .expect("badges")
            .iter()
            .all(|b| b == "Private · vpce"),
        "{badges}"
    );

    // The filter is still there after a visit to another screen.
    click_when_ready(&client, r#"[data-testid="nav-keys"]"#).await;
    click_when_ready(&client, r#"[data-testid="nav-environments"]"#).await;
    wait_for_rows(&client, &private, "Private, after Keys").await;

    // Nothing matches: the list says so and Clear filters brings every row back.
    search(&client, "zzz").await;
    wait_for_text(
        &client,
        r#"[data-testid="no-match"]"#,
        &["No environment matches", "zzz", "private"],
    )
    .await;
    assert_eq!(count(&client).await, format!("0 of {total}"));
    airgate_e2e::screenshot(&client, "environments-no-match").await;
    click_when_ready(&client, r#"[data-testid="no-match"] button"#).await;
    wait_for_rows(&client, &all, "after Clear filters").await;
    assert_eq!(count(&client).await, format!("{total} found"));
    let value = client
        .execute(
            r#"return document.querySelector('[data-testid="env-search"]').value;"#,
            Vec::new(),
        )
        .await
        .expect("search value");
    assert_eq!(value, Value::from(""), "the search box is empty again");

    // `/` goes to the search box from the list.
    client
        .execute(
            r#"document.querySelector('[data-testid="env-row"]').focus();"#,
            Vec::new(),
        )
        .await
        .expect("focus a row");
    press(&client, &[], '/').await;
    assert_eq!(
        wait_for_focus(&client, "input#env-search").await,
        "input#env-search"
    );

    client.close().await.expect("close the app");
    drop(driver);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environments_details_show_its_failed_update_network_and_console_page() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    // In a shared VPC: its endpoints are the account's own.
    let shared = "shared-vpc";
    sandbox.mwaa().seed(
        ACCOUNTS[2].id,
        ACCOUNTS[2].regions[0],
        SeedEnvironment::new(shared).customer_endpoints(),
    );
    let (driver, client) = launch(&sandbox).await;
    let legacy = sandbox.environment("legacy-etl").expect("seeded").clone();
    let row = row_selector(legacy.name, legacy.profile, legacy.region);
    let account = ACCOUNTS
        .iter()
        .find(|a| a.profile == legacy.profile)
        .expect("its account");

    // The shared-VPC environment's row says whose its endpoints are; the others say nothing.
    let shared_row = row_selector(shared, ACCOUNTS[2].profile, ACCOUNTS[2].regions[0]);
    wait_for_text(
        &client,
        &format!(r#"{shared_row} [data-testid="endpoint-badge"]"#),
        &["Customer endpoints"],
    )
    .await;
    let badges = client
        .find_all(Locator::Css(r#"[data-testid="endpoint-badge"]"#))
        .await
        .expect("badges");
    assert_eq!(badges.len(), 1, "one Customer endpoints badge");

    // A click on the row's name opens its details.
    click_when_ready(
        &client,
        &format!(r#"{row} [data-testid="env-details-button"]"#),
    )
    .await;
    let text = wait_for_text(
        &client,
        DRAWER,
        &[
            "legacy-etl",
            "Last update failed",
            "INCORRECT_CONFIGURATION",
            "The scheduler cannot reach the metadata database",
        ],
    )
    .await;
    for wanted in [
        "subnet-0a1b2c3d4e5f60001".to_owned(),
        "subnet-0a1b2c3d4e5f60002".to_owned(),
        "sg-0a1b2c3d4e5f60001".to_owned(),
        format!(
            "arn:aws:iam::{}:role/service-role/AmazonMWAA-legacy-etl",
            account.id
        ),
        format!(
            "arn:aws:airflow:{}:{}:environment/legacy-etl",
            legacy.region, account.id
        ),
        "mw1.small".to_owned(),
        "team: sandbox-dev".to_owned(),
        "stage: dev".to_owned(),
        format!("{}, {SECOND_PROFILE}", legacy.profile),
    ] {
        assert!(text.contains(&wanted), "the details lack {wanted}: {text}");
    }
    let host = legacy.webserver_host.clone().expect("a web server");
    let url = format!("https://{host}");
    let webserver = wait_for_text(
        &client,
        &format!(r#"{DRAWER} [data-testid="detail-webserver"]"#),
        &[&url],
    )
    .await;
    assert!(webserver.contains("Copy URL"), "{webserver}");
    // The focus is in the drawer, not behind it.
    let inside = client
        .execute(
            r#"return !!document.activeElement.closest('[data-testid="env-details"]');"#,
            Vec::new(),
        )
        .await
        .expect("focus");
    assert_eq!(inside, Value::Bool(true), "the drawer has the focus");
    airgate_e2e::screenshot(&client, "environment-details").await;

    // Copy puts the web server's URL on the clipboard, as another application pastes it.
    click_when_ready(
        &client,
        &format!(r#"{DRAWER} [data-testid="copy-webserver"]"#),
    )
    .await;
    wait_for_text(
        &client,
        &format!(r#"{DRAWER} [data-testid="copy-webserver"]"#),
        &["Copied"],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut clipboard = None;
    while clipboard.as_deref() != Some(url.as_str()) && Instant::now() < deadline {
        clipboard = arboard::Clipboard::new()
            .ok()
            .and_then(|mut c| c.get_text().ok());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(clipboard.as_deref(), Some(url.as_str()), "the clipboard");

    // Open in AWS console: the shell is asked for the environment's console page (with no
    // browser here, it logs the page instead of opening it).
    click_when_ready(
        &client,
        &format!(r#"{DRAWER} [data-testid="open-console"]"#),
    )
    .await;
    wait_for_text(
        &client,
        &format!(r#"{DRAWER} [data-testid="console-status"]"#),
        &["Opened in your browser"],
    )
    .await;
    let page = format!(
        "https://{region}.console.aws.amazon.com/mwaa/home?region={region}#environments/legacy-etl",
        region = legacy.region
    );
    let log = std::fs::read_to_string(sandbox.data_dir().join("airgate.log")).expect("app log");
    assert!(
        log.lines()
            .any(|l| l.contains("opening the AWS console page") && l.contains(&page)),
        "no console page {page} in the log:\n{log}"
    );

    // Esc closes the drawer; the focus is back on the row, and the arrows go on from there,
    // across groups: legacy-etl is the last of its account, orders-prod above it the last of
    // the account before.
    press(&client, &[], Key::Escape.into()).await;
    wait_until_gone(&client, DRAWER).await;
    assert_eq!(
        wait_for_focus(&client, "tr#env-row[legacy-etl]").await,
        "tr#env-row[legacy-etl]"
    );
    for name in ["ingest-staging", "dev-playground", "orders-prod"] {
        press(&client, &[], Key::Up.into()).await;
        assert_eq!(focused(&client).await, format!("tr#env-row[{name}]"));
    }

    // The row's menu (Shift+F10) has Show details; orders-prod's are its own.
    press(&client, &[Key::Shift], Key::F10.into()).await;
    click_when_ready(
        &client,
        r#"[data-testid="row-menu"] [data-testid="menu-details"]"#,
    )
    .await;
    let orders = wait_for_text(
        &client,
        DRAWER,
        &[
            "orders-prod",
            "Managed by MWAA",
            "com.amazonaws.vpce.us-east-1.vpce-svc-",
        ],
    )
    .await;
    assert!(
        !orders.contains("Last update failed"),
        "orders-prod's update did not fail: {orders}"
    );
    click_when_ready(
        &client,
        &format!(r#"{DRAWER} [data-testid="details-close"]"#),
    )
    .await;
    wait_until_gone(&client, DRAWER).await;
    assert_eq!(
        wait_for_focus(&client, "tr#env-row[orders-prod]").await,
        "tr#env-row[orders-prod]"
    );

    // The palette shows them too.
    press(&client, &[Key::Control], 'k').await;
    assert_eq!(
        wait_for_focus(&client, "input#palette-input").await,
        "input#palette-input"
    );
    client
        .active_element()
        .await
        .expect("the palette's field")
        .send_keys("details reporting")
        .await
        .expect("type");
    let selected = r#"
        const item = document.querySelector('[data-testid="palette"] [data-selected]');
        return item ? item.dataset.action : null;
    "#;
    let reporting = sandbox.environment("reporting").expect("seeded");
    let want = format!(
        "details {}/{}/{}",
        reporting.profile, reporting.region, reporting.name
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while client
        .execute(selected, Vec::new())
        .await
        .expect("selected")
        != want.as_str()
    {
        assert!(
            Instant::now() < deadline,
            "the palette did not select {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    press(&client, &[], Key::Enter.into()).await;
    wait_for_text(&client, DRAWER, &["reporting", "Public", "stage: dev"]).await;

    client.close().await.expect("close the app");
    drop(driver);
}
