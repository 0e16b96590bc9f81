//! A bastion reached through a chain of saved bastions (ProxyJump order): the form adds jump
//! hosts in turn, moves and removes them by keyboard-reachable buttons with the focus where
//! the user is, offers only bastions that are reached directly, and saves the chain in order;
//! the list and the export show it, the form shows it again on Edit, and a tunnel connects
//! through every hop.

use std::time::{Duration, Instant};

use airgate_e2e::{
    click_when_ready, connect_selector, display_or_skip, fill, focused, row_selector,
    wait_for_text, wait_for_tunnel, wait_until_gone,
};
use airgate_sandbox::{Sandbox, Topology};
use airgate_vault::Vault;
use fantoccini::Client;

/// The jump hosts the form shows, in order.
async fn hops(client: &Client) -> Vec<String> {
    let found = client
        .execute(
            r#"return [...document.querySelectorAll('[data-testid="jump-hops"] li')]
                   .map((li) => li.dataset.name);"#,
            Vec::new(),
        )
        .await
        .expect("the hops");
    serde_json::from_value(found).expect("names")
}

/// The saved bastions the form offers as the next jump host.
async fn offered(client: &Client) -> Vec<String> {
    let found = client
        .execute(
            r#"return [...document.querySelectorAll('[data-testid="bastion-form"] select[name="jump"] option')]
                   .map((o) => o.value).filter((v) => v);"#,
            Vec::new(),
        )
        .await
        .expect("the choices");
    serde_json::from_value(found).expect("names")
}

async fn add_hop(client: &Client, name: &str) {
    click_when_ready(
        client,
        &format!(r#"[data-testid="bastion-form"] select[name="jump"] option[value="{name}"]"#),
    )
    .await;
    click_when_ready(client, r#"[data-testid="add-jump"]"#).await;
}

async fn click_hop(client: &Client, hop: &str, button: &str) {
    click_when_ready(
        client,
        &format!(r#"[data-testid="jump-{hop}"] [data-testid="{button}"]"#),
    )
    .await;
}

fn logins(sandbox: &Sandbox) -> usize {
    sandbox
        .bastion()
        .log()
        .matches("Accepted publickey")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bastion_is_reached_through_a_chain_of_saved_bastions_in_order() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    // Two more names for the sandbox's bastion (each hop reaches the next on loopback), and one
    // that jumps itself (never offered: the core refuses a hop that jumps).
    let vault = Vault::open(&sandbox.vault_namespace()).expect("the vault");
    let record = sandbox.bastion_record();
    for (name, jump) in [
        ("edge-a", vec![]),
        ("edge-b", vec![]),
        ("nested", vec!["edge-a".to_owned()]),
    ] {
        let mut hop = record.clone();
        hop.name = name.to_owned();
        hop.jump = jump;
        vault.save_bastion(&hop).expect("save a hop");
    }
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;

    click_when_ready(&client, r#"[data-testid="nav-bastions"]"#).await;
    wait_for_text(
        &client,
        r#"[data-testid="bastion-list"]"#,
        &["edge-a", "edge-b", "nested"],
    )
    .await;
    click_when_ready(&client, r#"[data-testid="add-bastion"]"#).await;
    fill(&client, "bastion-form", "name", "inner").await;
    fill(&client, "bastion-form", "host", &record.host).await;
    fill(&client, "bastion-form", "port", &record.port.to_string()).await;
    fill(&client, "bastion-form", "user", &record.user).await;
    let airgate_vault::BastionKey::File { path } = &record.key else {
        panic!("the sandbox's bastion logs in with a key file");
    };
    fill(
        &client,
        "bastion-form",
        "keyPath",
        &path.display().to_string(),
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="jump-chain"]"#,
        &["connects to inner directly"],
    )
    .await;
    assert_eq!(
        offered(&client).await,
        ["edge-a", "edge-b", "sandbox-bastion"],
        "only bastions reached directly"
    );

    // edge-b, then edge-a: added in turn, the select keeps the focus for the next one.
    add_hop(&client, "edge-b").await;
    assert_eq!(focused(&client).await, "select");
    add_hop(&client, "edge-a").await;
    assert_eq!(hops(&client).await, ["edge-b", "edge-a"]);
    assert_eq!(offered(&client).await, ["sandbox-bastion"]);

    // edge-a earlier: first now, so its Earlier is off and its Later has the focus.
    click_hop(&client, "edge-a", "jump-earlier").await;
    assert_eq!(hops(&client).await, ["edge-a", "edge-b"]);
    assert_eq!(focused(&client).await, "button#jump-later[edge-a]");
    wait_for_text(
        &client,
        r#"[data-testid="jump-chain"]"#,
        &["First edge-a", "Then edge-b", "edge-a → edge-b → inner"],
    )
    .await;

    // A third hop, removed again: the focus goes to the Remove of the hop before it.
    add_hop(&client, "sandbox-bastion").await;
    assert_eq!(hops(&client).await, ["edge-a", "edge-b", "sandbox-bastion"]);
    click_hop(&client, "sandbox-bastion", "jump-remove").await;
    assert_eq!(hops(&client).await, ["edge-a", "edge-b"]);
    assert_eq!(focused(&client).await, "button#jump-remove[edge-b]");

    click_when_ready(
        &client,
        r#"[data-testid="bastion-form"] button[type="submit"]"#,
    )
    .await;
    wait_until_gone(&client, r#"[data-testid="bastion-form"]"#).await;
    let row = wait_for_text(
        &client,
        r#"[data-testid="bastion-inner"]"#,
        &["edge-a → edge-b"],
    )
    .await;
    assert!(!row.contains("sandbox-bastion"), "{row}");
    let saved = Vault::open(&sandbox.vault_namespace())
        .and_then(|v| v.bastions())
        .expect("saved bastions");
    let inner = saved.iter().find(|b| b.name == "inner").expect("saved");
    assert_eq!(inner.jump, ["edge-a", "edge-b"], "saved in order");

    // Export: OpenSSH is told the same chain.
    click_when_ready(
        &client,
        r#"[data-testid="bastion-inner"] [data-testid="export-bastion"]"#,
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="bastion-export"]"#,
        &["ProxyJump edge-a,edge-b"],
    )
    .await;
    // Its long ssh command wraps: the list does not scroll sideways.
    let overflow = client
        .execute(
            r#"const m = document.querySelector("main"); return m.scrollWidth - m.clientWidth;"#,
            Vec::new(),
        )
        .await
        .expect("measure");
    assert_eq!(overflow, 0, "the export makes the list scroll sideways");

    // Edit shows the chain as saved.
    click_when_ready(
        &client,
        r#"[data-testid="bastion-inner"] [data-testid="edit-bastion"]"#,
    )
    .await;
    wait_for_text(&client, r#"[data-testid="bastion-form"]"#, &["Edit inner"]).await;
    assert_eq!(hops(&client).await, ["edge-a", "edge-b"]);
    click_when_ready(&client, r#"[data-testid="bastion-form"] [data-cancel]"#).await;
    wait_until_gone(&client, r#"[data-testid="bastion-form"]"#).await;

    // Connect orders-prod through inner: one login per hop and one at inner itself.
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let env_row = row_selector(env.name, env.profile, env.region);
    click_when_ready(&client, r#"[data-testid="nav-environments"]"#).await;
    click_when_ready(
        &client,
        &format!(r#"{env_row} [data-testid="bastion-select"] option[value="inner"]"#),
    )
    .await;
    let before = logins(&sandbox);
    click_when_ready(&client, &connect_selector(&env_row)).await;
    wait_for_tunnel(&client, &env_row, "connected").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while logins(&sandbox) < before + 3 {
        assert!(
            Instant::now() < deadline,
            "not three logins (edge-a, edge-b, inner): {}",
            logins(&sandbox) - before
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    client.close().await.expect("close the app");
    drop(driver);
}
