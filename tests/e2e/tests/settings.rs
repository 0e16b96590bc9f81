//! A user picks the browser Open starts and forces the tunnel in Settings; the choice is saved
//! in the app's settings file and the screen lists the browsers found on this machine.

use std::time::{Duration, Instant};

use airgate_e2e::{TauriDriver, app_binary, display_or_skip};
use airgate_sandbox::{Sandbox, Topology};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread")]
async fn the_browser_and_route_choice_are_saved() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    // Start from the defaults: no browser chosen, tunnel not forced.
    std::fs::remove_file(sandbox.data_dir().join("settings.json")).expect("no settings yet");
    let chromium = airgate_launch::browser::detect()
        .into_iter()
        .find(|b| b.kind == airgate_launch::BrowserKind::Chromium)
        .expect("a Chromium-family browser (scripts/bootstrap.sh installs chromium)");
    let driver = TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");

    let nav = client
        .find(Locator::XPath("//nav//button[contains(., 'Settings')]"))
        .await
        .expect("a Settings entry in the sidebar");
    nav.click().await.expect("open Settings");
    let deadline = Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let found = client
            .find_all(Locator::Css(r#"[data-testid="detected-browser"]"#))
            .await
            .unwrap_or_default();
        if !found.is_empty() {
            break found;
        }
        assert!(Instant::now() < deadline, "no browser listed in Settings");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut texts = Vec::new();
    for item in &listed {
        texts.push(item.text().await.unwrap_or_default());
    }
    let path = chromium.path.display().to_string();
    assert!(texts.iter().any(|t| t.contains(&path)), "{texts:?}");

    let select = client
        .find(Locator::Css(r#"[data-testid="browser-choice"]"#))
        .await
        .expect("browser choice");
    select
        .select_by_value(&path)
        .await
        .expect("choose Chromium");
    client
        .find(Locator::Css(r#"[data-testid="force-tunnel"]"#))
        .await
        .expect("force tunnel")
        .click()
        .await
        .expect("tick force tunnel");
    // Regions every profile also looks in.
    let regions = client
        .find(Locator::Css(r#"[data-testid="regions"]"#))
        .await
        .expect("regions field");
    regions
        .send_keys("ap-southeast-2, ca-central-1")
        .await
        .expect("type regions");
    // The list refreshes by itself every 15 minutes unless chosen otherwise.
    let refresh = client
        .find(Locator::Css(r#"[data-testid="refresh-minutes"]"#))
        .await
        .expect("refresh interval");
    let shown = client
        .execute(
            "const s = document.querySelector('[data-testid=\"refresh-minutes\"]'); \
             return s.options[s.selectedIndex].text;",
            vec![],
        )
        .await
        .expect("selected interval");
    assert_eq!(shown.as_str(), Some("Every 15 minutes"));
    refresh
        .select_by_value("60")
        .await
        .expect("choose every hour");
    client
        .find(Locator::Css(r#"[data-testid="save-settings"]"#))
        .await
        .expect("save")
        .click()
        .await
        .expect("click Save");

    let deadline = Instant::now() + Duration::from_secs(10);
    let saved = loop {
        if let Ok(settings) = airgate_launch::settings::load(sandbox.data_dir())
            && settings.force_tunnel
        {
            break settings;
        }
        assert!(Instant::now() < deadline, "the settings were not saved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(saved.browser.as_deref(), Some(path.as_str()));
    assert_eq!(saved.regions, ["ap-southeast-2", "ca-central-1"]);
    assert!(!saved.all_regions);
    assert_eq!(saved.refresh_minutes, Some(60));
    let chosen = client
        .find(Locator::Css(r#"[data-testid="chosen-browser"]"#))
        .await
        .expect("chosen browser")
        .text()
        .await
        .expect("text");
    assert!(chosen.contains(&path), "{chosen}");
    client.close().await.expect("close the app");
}
