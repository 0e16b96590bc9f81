//! What a user sees when something is wrong: a profile AWS refuses is reported while every other
//! profile still lists, and a bastion whose host key is unknown stops the Connect with the key's
//! fingerprint to check; the window asks, and trusting once or always connects (always: written
//! to Airgate's own known_hosts, never asked again).

use airgate_e2e::{
    TauriDriver, app_binary, click_in, click_when_ready, display_or_skip, row_selector,
    wait_for_text, wait_for_tunnel,
};
use airgate_peers::bastion::{self, Bastion};
use airgate_sandbox::{REFUSED_PROFILE, Sandbox, Topology};
use airgate_vault::{BastionRecord, Vault};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread")]
async fn refused_profile_and_unknown_host_key_are_explained() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    sandbox.save_bastion().expect("save the sandbox bastion");
    // A second bastion whose host key the app has never seen.
    let stranger = Bastion::start().expect("second bastion");
    let vault = Vault::open(&sandbox.vault_namespace()).expect("keyring");
    vault
        .save_bastion(&BastionRecord {
            keepalive_secs: None,
            name: "unverified-bastion".to_owned(),
            host: stranger.host().to_owned(),
            port: stranger.port(),
            user: stranger.user().to_owned(),
            key: airgate_vault::BastionKey::File {
                path: stranger.user_key().to_path_buf(),
            },
            jump: Vec::new(),
            host_key: None,
            serves: Vec::new(),
        })
        .expect("save the second bastion");
    let fingerprint =
        bastion::fingerprint(stranger.host_public_key_path()).expect("ssh-keygen -lf");

    let driver = TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch");

    // The refused profile is explained; every environment of the other profiles is still listed.
    let failure = format!(
        r#"[data-testid="source-failure"][data-profile="{}"]"#,
        REFUSED_PROFILE.profile
    );
    let shown = wait_for_text(&client, &failure, &[REFUSED_PROFILE.profile, "refused"]).await;
    assert!(
        shown.contains("aws sso login") || shown.contains("keys"),
        "says what to do: {shown}"
    );
    let rows = client
        .find_all(Locator::Css(r#"[data-testid="env-row"]"#))
        .await
        .expect("rows");
    assert_eq!(
        rows.len(),
        sandbox.environments().len(),
        "the other profiles still list"
    );

    // Connecting through the bastion with the unknown host key stops, with its fingerprint in
    // the row, and the window asks whether to trust it.
    let env = sandbox.environment("billing-prod").expect("seeded");
    let row_css = row_selector(env.name, env.profile, env.region);
    let row = client
        .find(Locator::Css(&row_css))
        .await
        .expect("billing-prod row");
    row.find(Locator::Css(r#"[data-testid="bastion-select"]"#))
        .await
        .expect("bastion picker")
        .select_by_value("unverified-bastion")
        .await
        .expect("pick the unverified bastion");
    click_in(&row, "connect").await;
    let state_css = format!(r#"{row_css} [data-testid="tunnel-state"][data-state="failed"]"#);
    let failed = wait_for_text(&client, &state_css, &["not known", &fingerprint]).await;
    assert!(
        failed.contains(&stranger.port().to_string()),
        "names the bastion: {failed}"
    );
    let asked = wait_for_text(
        &client,
        r#"[data-testid="host-key-dialog"][data-state="open"] [data-testid="host-key-fingerprint"]"#,
        &[&fingerprint],
    )
    .await;
    assert_eq!(
        asked.trim(),
        fingerprint,
        "the dialog shows the fingerprint to compare"
    );
    airgate_e2e::screenshot(&client, "host-key").await;
    let own_known_hosts = sandbox.data_dir().join("known_hosts");
    let knows_it = || {
        std::fs::read_to_string(&own_known_hosts)
            .unwrap_or_default()
            .contains(
                stranger
                    .host_public_key()
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("?"),
            )
    };

    // Trust this time: connected, nothing written.
    click_when_ready(&client, r#"[data-testid="trust-once"]"#).await;
    wait_for_tunnel(&client, &row_css, "connected").await;
    assert!(!knows_it(), "trusting once writes nothing");
    click_when_ready(&client, &format!(r#"{row_css} [data-testid="disconnect"]"#)).await;
    wait_for_tunnel(&client, &row_css, "disconnected").await;

    // The next Connect asks again; Trust always writes Airgate's own known_hosts.
    click_when_ready(&client, &airgate_e2e::connect_selector(&row_css)).await;
    click_when_ready(
        &client,
        r#"[data-testid="host-key-dialog"][data-state="open"] [data-testid="trust-always"]"#,
    )
    .await;
    wait_for_tunnel(&client, &row_css, "connected").await;
    assert!(knows_it(), "trusted always: {}", own_known_hosts.display());
    click_when_ready(&client, &format!(r#"{row_css} [data-testid="disconnect"]"#)).await;
    wait_for_tunnel(&client, &row_css, "disconnected").await;

    // From then on it connects without asking.
    click_when_ready(&client, &airgate_e2e::connect_selector(&row_css)).await;
    wait_for_tunnel(&client, &row_css, "connected").await;
    assert!(
        client
            .find(Locator::Css(
                r#"[data-testid="host-key-dialog"][data-state="open"]"#
            ))
            .await
            .is_err(),
        "no question for a known key"
    );
    airgate_e2e::screenshot(&client, "failures").await;

    client.close().await.expect("close the app");
    drop(driver);
    sandbox
        .forget_bastion()
        .expect("forget the sandbox bastion");
    vault
        .delete_bastion("unverified-bastion")
        .expect("forget the second bastion");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_aws_profiles_says_where_airgate_looked() {
    if !display_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("aws-config");
    let credentials = dir.path().join("aws-credentials");
    let data = dir.path().join("airgate");
    let env = vec![
        ("AWS_CONFIG_FILE".to_owned(), config.display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
            credentials.display().to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        ("AIRGATE_DATA_DIR".to_owned(), data.display().to_string()),
    ];
    let driver = TauriDriver::start(&env).expect("tauri-driver");
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    let shown = wait_for_text(
        &client,
        r#"[data-testid="no-profiles"]"#,
        &["No AWS profiles found", "aws configure sso"],
    )
    .await;
    assert!(shown.contains(&config.display().to_string()), "{shown}");
    assert!(
        shown.contains(&credentials.display().to_string()),
        "{shown}"
    );
    client.close().await.expect("close the app");
}

#[tokio::test(flavor = "multi_thread")]
async fn open_on_a_private_environment_without_a_bastion_says_why_a_route_is_needed() {
    if !display_or_skip() {
        return;
    }
    // No bastion saved: the first Open of a private environment.
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let driver = TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    let env = sandbox.environment("orders-prod").expect("seeded");
    let selector = row_selector(env.name, env.profile, env.region);
    airgate_e2e::click_when_ready(&client, &format!(r#"{selector} [data-testid="open"]"#)).await;
    let hint = wait_for_text(
        &client,
        r#"[data-testid="route-hint"]"#,
        &[
            "orders-prod is private",
            "only reachable inside its VPC",
            "Add a bastion",
        ],
    )
    .await;
    assert!(!hint.is_empty());
    assert!(
        client.find(Locator::Css(".bastion-form")).await.is_ok(),
        "the Add bastion form is open"
    );
    assert!(
        sandbox.mwaa().issued_tokens().is_empty(),
        "no token is minted without a route"
    );
    client.close().await.expect("close the app");
}
