//! The second start shows the last list at once: with the MWAA server slowed down to 8 s per
//! ListEnvironments, the environments of the first start are on screen within a few seconds,
//! while the fresh listing is still running; when it answers, the list is the fresh one.

use std::time::{Duration, Instant};

use airgate_e2e::{TauriDriver, app_binary, display_or_skip, row_selector, wait_for_element};
use airgate_peers::mwaa::{Operation, SeedEnvironment};
use airgate_sandbox::{Sandbox, Topology};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread")]
async fn the_last_list_is_shown_at_once_while_a_slow_listing_runs() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let orders = sandbox.environment("orders-prod").expect("seeded");
    let orders_row = row_selector(orders.name, orders.profile, orders.region);

    // First start: the list comes from MWAA, and is kept.
    {
        let driver = TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
        let client = driver
            .launch(&app_binary().expect("desktop binary"))
            .await
            .expect("launch the app");
        wait_for_element(&client, &orders_row, Duration::from_secs(30)).await;
        // The listing's answer (and so the cache) follows the rows.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !sandbox.data_dir().join("inventory.json").exists() {
            assert!(
                Instant::now() < deadline,
                "no inventory.json after the listing"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        client.close().await.expect("close the app");
    }
    let cached = std::fs::read_to_string(sandbox.data_dir().join("inventory.json"))
        .expect("the cached list");
    assert!(cached.contains("orders-prod"), "{cached:.300}");

    // Meanwhile a new environment appears, and MWAA becomes slow.
    let fresh = sandbox.mwaa().seed(
        airgate_sandbox::ACCOUNTS[0].id,
        orders.region,
        SeedEnvironment::new("fresh-one").public(),
    );
    assert!(fresh.webserver_host.is_some());
    // Below one attempt's limit (10 s), so the slow listing still succeeds.
    let slow = Duration::from_secs(8);
    sandbox
        .mwaa()
        .faults()
        .set_latency(Operation::ListEnvironments, slow);

    // Second start: the cached rows are there long before MWAA answers.
    let driver = TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
    let started = Instant::now();
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    wait_for_element(&client, &orders_row, Duration::from_secs(10)).await;
    let shown_after = started.elapsed();
    eprintln!("cached rows shown {shown_after:?} after the launch");
    assert!(
        shown_after < slow - Duration::from_secs(2),
        "cached rows shown after {shown_after:?}, not before the slow listing"
    );
    let age = client
        .find(Locator::Css(r#"[data-testid="cache-age"]"#))
        .await
        .expect("the cached list says so")
        .text()
        .await
        .expect("its text");
    assert!(age.starts_with("Cached"), "{age:?}");
    // The fresh listing runs meanwhile.
    let button = client
        .find(Locator::Css(r#"[data-testid="refresh"]"#))
        .await
        .expect("the refresh button");
    let text = button.text().await.expect("its text");
    assert!(
        text.contains("Refreshing"),
        "the fresh listing runs while the cached rows are shown: {text:?}"
    );
    assert!(
        client
            .find(Locator::Css(&row_selector(
                "fresh-one",
                orders.profile,
                orders.region
            )))
            .await
            .is_err(),
        "the cache has no fresh-one yet"
    );

    // Then the fresh list replaces it.
    wait_for_element(
        &client,
        &row_selector("fresh-one", orders.profile, orders.region),
        Duration::from_secs(60),
    )
    .await;
    assert!(
        started.elapsed() >= slow,
        "fresh rows come with MWAA's answer"
    );
    client.close().await.expect("close the app");
    drop(driver);
}
