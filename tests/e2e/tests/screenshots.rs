//! Every screen (Environments, Tunnels, Keys, Bastions, Airflow connections, Settings, and an
//! environment's details drawer) at the window's default size, at its minimum size and on a
//! 1920 x 1080 screen, in the light and the dark theme: each shows its heading and never scrolls
//! sideways. With `AIRGATE_SCREENSHOTS` set, each is saved there as
//! `<screen>-<width>x<height>-<theme>.png` (CI keeps them; the README's screenshot is
//! `environments-1220x760-light.png`: orders-prod opened, with its steps).

use std::time::{Duration, Instant};

use airgate_e2e::{
    click_when_ready, connect_selector, display_or_skip, press, row_selector, wait_for_text,
    wait_for_tunnel, wait_until_gone,
};
use airgate_peers::bastion::generate_key;
use airgate_sandbox::{Sandbox, Topology};
use airgate_vault::{ConnectionRecord, Sensitive, Vault};
use fantoccini::Client;
use fantoccini::key::Key;
use serde_json::Value;

/// The window's size at first start (tauri.conf.json), then the smallest it can be, then a
/// large screen.
const SIZES: [(u32, u32); 3] = [(1220, 760), (720, 480), (1920, 1080)];

/// Each section of the sidebar and the heading its screen shows.
const SCREENS: [(&str, &str); 6] = [
    ("environments", "Environments"),
    ("tunnels", "Tunnels"),
    ("keys", "Keys"),
    ("bastions", "Bastions"),
    ("connections", "Airflow connections"),
    ("settings", "Settings"),
];

const DRAWER: &str = r#"[data-testid="env-details"][data-state="open"]"#;

/// What a user checks on a screen: the heading at `css` (its text, whether it is inside the
/// window and the topmost thing where it is) and how far the page scrolls sideways.
const LOOK: &str = r#"
    const doc = document.documentElement;
    const heading = document.querySelector(arguments[0]);
    let shown = false;
    if (heading) {
        const r = heading.getBoundingClientRect();
        const inside = r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= doc.clientWidth
            && r.bottom <= innerHeight;
        const top = inside
            ? document.elementFromPoint(r.left + Math.min(r.width, 40) / 2, r.top + r.height / 2)
            : null;
        shown = !!top && (top === heading || heading.contains(top));
    }
    return {
        heading: heading ? heading.textContent.trim() : null,
        shown,
        overflow: doc.scrollWidth - doc.clientWidth,
        width: innerWidth,
    };
"#;

async fn look(client: &Client, heading: &str) -> Value {
    client
        .execute(LOOK, vec![heading.into()])
        .await
        .expect("look at the screen")
}

/// Waits (up to 10 s) until the screen shows `text` as its visible heading at `css`, without
/// sideways scrolling; then saves it as `name`.
async fn check_and_save(client: &Client, css: &str, text: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = look(client, css).await;
        if now["heading"] == text && now["shown"] == true && now["overflow"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the heading {text:?} is not shown, or the page scrolls sideways: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Transitions and the layout settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    airgate_e2e::screenshot(client, name).await;
}

async fn resize(client: &Client, width: u32, height: u32) {
    client
        .set_window_size(width, height)
        .await
        .expect("resize the window");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = look(client, "main h1").await;
        let seen = now["width"].as_u64().unwrap_or(0);
        if seen <= u64::from(width) && seen + 40 >= u64::from(width) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the window did not take {width}x{height}: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// A stored key and an Airflow connection, so their screens show a row.
fn seed(sandbox: &Sandbox) {
    let vault = Vault::open(&sandbox.vault_namespace()).expect("the vault");
    let file = sandbox.dir().join("team_ed25519");
    generate_key(&file, None).expect("ssh-keygen");
    airgate_launch::keys::import_key_file(&vault, Some("team"), &file, None, false)
        .expect("store the key");
    let warehouse = ConnectionRecord {
        conn_id: "warehouse".to_owned(),
        conn_type: "postgres".to_owned(),
        host: Some("warehouse.internal".to_owned()),
        schema: Some("analytics".to_owned()),
        login: Some("airflow".to_owned()),
        port: Some(5432),
        description: None,
        has_password: true,
        has_extra: false,
    };
    vault
        .save_connection(&warehouse, Some(&Sensitive::new("pw".to_owned())), None)
        .expect("store the connection");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_in_the_light_theme_at_each_size() {
    every_screen("light", "Adwaita").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_in_the_dark_theme_at_each_size() {
    every_screen("dark", "Adwaita:dark").await;
}

/// Starts the app on the sandbox in `gtk_theme`, brings orders-prod's tunnel up (in the light
/// theme by Open, its steps shown, where the private network exists), then checks and saves
/// every screen at every size.
async fn every_screen(theme: &str, gtk_theme: &str) {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::PreferPrivate)
        .await
        .expect("sandbox");
    sandbox.save_bastion().expect("save the sandbox bastion");
    sandbox
        .write_settings(&["--disable-gpu"])
        .expect("browser settings");
    seed(&sandbox);
    let mut env = sandbox.app_env();
    env.push(("GTK_THEME".to_owned(), gtk_theme.to_owned()));
    let driver = airgate_e2e::TauriDriver::start(&env).expect("tauri-driver");
    let client = driver
        .launch(&airgate_e2e::app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    let dark = client
        .execute(
            r#"return matchMedia("(prefers-color-scheme: dark)").matches;"#,
            Vec::new(),
        )
        .await
        .expect("the colour scheme");
    assert_eq!(dark, Value::Bool(theme == "dark"), "the window's theme");

    let orders = sandbox.environment("orders-prod").expect("seeded").clone();
    let row = row_selector(orders.name, orders.profile, orders.region);
    airgate_e2e::wait_for_element(&client, &connect_selector(&row), Duration::from_secs(45)).await;
    if theme == "light" && sandbox.network().is_some() {
        click_when_ready(&client, &format!(r#"{row} [data-testid="open"]"#)).await;
        let steps = format!(
            r#"[data-testid="open-row"][data-env-name="{}"]"#,
            orders.name
        );
        airgate_e2e::wait_for_open(&client, &steps)
            .await
            .unwrap_or_else(|steps| panic!("Open failed: {steps:?}"));
    } else {
        click_when_ready(&client, &connect_selector(&row)).await;
    }
    wait_for_tunnel(&client, &row, "connected").await;

    for (width, height) in SIZES {
        resize(&client, width, height).await;
        for (section, heading) in SCREENS {
            click_when_ready(&client, &format!(r#"[data-testid="nav-{section}"]"#)).await;
            let name = format!("{section}-{width}x{height}-{theme}");
            check_and_save(&client, "main h1", heading, &name).await;
        }
        // orders-prod's details drawer, over the Environments screen.
        click_when_ready(&client, r#"[data-testid="nav-environments"]"#).await;
        click_when_ready(
            &client,
            &format!(r#"{row} [data-testid="env-details-button"]"#),
        )
        .await;
        wait_for_text(&client, DRAWER, &["orders-prod"]).await;
        let name = format!("details-{width}x{height}-{theme}");
        check_and_save(
            &client,
            &format!("{DRAWER} .drawer-title"),
            orders.name,
            &name,
        )
        .await;
        press(&client, &[], Key::Escape.into()).await;
        wait_until_gone(&client, DRAWER).await;
    }

    client.close().await.expect("close the app");
    drop(driver);
}
