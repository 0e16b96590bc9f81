//! Keys from the window: import an encrypted key (its passphrase checked), delete the file,
//! save a bastion that logs in with the stored key, connect a private environment through it
//! (the window asks for the passphrase: a wrong one is refused, the right one connects), then
//! edit the bastion and delete it (asked first). The list of keys moves by keyboard like the
//! others: one Tab stop, arrows, Enter shows a key's public key, the Menu key its own menu.

use std::time::{Duration, Instant};

use airgate_e2e::{
    click_when_ready, display_or_skip, fill, focused, press, row_selector, wait_for_focus,
    wait_for_text, wait_for_tunnel, wait_until_gone,
};
use airgate_peers::bastion::generate_key;
use airgate_sandbox::{Sandbox, Topology};
use airgate_vault::{Sensitive, Vault};
use fantoccini::Locator;
use fantoccini::key::Key;

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_key_logs_in_once_its_passphrase_is_given() {
    if !display_or_skip() {
        return;
    }
    let Some(sandbox) = airgate_e2e::private_sandbox_or_skip().await else {
        return;
    };
    let key_file = sandbox.dir().join("team_ed25519");
    generate_key(&key_file, Some("correct horse")).expect("ssh-keygen");
    let public = std::fs::read_to_string(key_file.with_extension("pub")).expect("public key");
    sandbox
        .bastion()
        .authorize(&public)
        .expect("authorize the team key");
    // The app logs everything (debug) to its log file, scanned for secrets at the end.
    sandbox.save_bastion().expect("save the sandbox bastion");
    let log = sandbox.data_dir().join("airgate.log");
    let mut env = sandbox.app_env();
    env.push(("RUST_LOG".to_owned(), "debug".to_owned()));
    let driver = airgate_e2e::TauriDriver::start(&env).expect("tauri-driver");
    let client = driver
        .launch(&airgate_e2e::app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    let key_text = std::fs::read_to_string(&key_file).expect("key text");

    // Keys → Import: a wrong passphrase is refused, the right one imports.
    click_when_ready(&client, r#"[data-testid="nav-keys"]"#).await;
    click_when_ready(&client, r#"[data-testid="import-key"]"#).await;
    fill(
        &client,
        "import-key-form",
        "path",
        &key_file.display().to_string(),
    )
    .await;
    fill(&client, "import-key-form", "name", "team").await;
    fill(&client, "import-key-form", "passphrase", "wrong").await;
    click_when_ready(
        &client,
        r#"[data-testid="import-key-form"] button[type="submit"]"#,
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="key-error"]"#,
        &["Wrong passphrase"],
    )
    .await;
    fill(&client, "import-key-form", "passphrase", "correct horse").await;
    click_when_ready(
        &client,
        r#"[data-testid="import-key-form"] button[type="submit"]"#,
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="key-team"]"#,
        &["ssh-ed25519", "Passphrase asked when needed", "SHA256:"],
    )
    .await;
    click_when_ready(
        &client,
        r#"[data-testid="key-team"] [data-testid="show-public-key"]"#,
    )
    .await;
    let listed = wait_for_text(
        &client,
        r#"[data-testid="key-team"] [data-testid="key-public-key"]"#,
        &["ssh-ed25519"],
    )
    .await;
    assert!(
        listed.contains(public.split_whitespace().nth(1).expect("base64")),
        "the public key is shown: {listed}"
    );
    std::fs::remove_file(&key_file).expect("the original file is not needed");

    // Bastions → Add, logging in with the stored key.
    let record = sandbox.bastion_record();
    click_when_ready(&client, r#"[data-testid="nav-bastions"]"#).await;
    click_when_ready(&client, r#"[data-testid="add-bastion"]"#).await;
    fill(&client, "bastion-form", "name", "team-bastion").await;
    fill(&client, "bastion-form", "host", &record.host).await;
    fill(&client, "bastion-form", "port", &record.port.to_string()).await;
    fill(&client, "bastion-form", "user", &record.user).await;
    click_when_ready(
        &client,
        r#"[data-testid="bastion-form"] [name="key"] option[value="team"]"#,
    )
    .await;
    // It serves orders-prod: preselected there, ahead of the sandbox's own bastion.
    let env = sandbox.environment("orders-prod").expect("seeded");
    let env_id = format!("{}/{}/{}", env.profile, env.region, env.name);
    click_when_ready(
        &client,
        &format!(r#"[data-testid="bastion-form"] [name="serves"][value="{env_id}"]"#),
    )
    .await;
    click_when_ready(
        &client,
        r#"[data-testid="bastion-form"] button[type="submit"]"#,
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="bastion-team-bastion"]"#,
        &["Keyring", "team"],
    )
    .await;

    // Connect orders-prod through it (preselected): the passphrase is asked for.
    let row = row_selector(env.name, env.profile, env.region);
    click_when_ready(&client, r#"[data-testid="nav-environments"]"#).await;
    let select = format!(r#"{row} [data-testid="bastion-select"]"#);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let chosen = match client.find(Locator::Css(&select)).await {
            Ok(select) => select.prop("value").await.ok().flatten(),
            Err(_) => None,
        };
        if chosen.as_deref() == Some("team-bastion") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orders-prod's bastion is {chosen:?}, not the one that serves it"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    click_when_ready(&client, &airgate_e2e::connect_selector(&row)).await;
    wait_for_text(
        &client,
        r#"[data-testid="passphrase-dialog"]"#,
        &["Passphrase for the key team", "passphrase protected"],
    )
    .await;
    fill(&client, "passphrase-dialog", "passphrase", "nope").await;
    click_when_ready(&client, r#"[data-testid="unlock"]"#).await;
    wait_for_text(
        &client,
        r#"[data-testid="passphrase-error"]"#,
        &["Wrong passphrase"],
    )
    .await;
    fill(&client, "passphrase-dialog", "passphrase", "correct horse").await;
    click_when_ready(&client, r#"[data-testid="unlock"]"#).await;
    // The row said why it stopped ("enter its passphrase") until the retry starts.
    wait_until_gone(
        &client,
        r#"[data-testid="passphrase-dialog"][data-state="open"]"#,
    )
    .await;
    let state = wait_for_tunnel(&client, &row, "connected").await;
    let port: u16 = state
        .attr("data-port")
        .await
        .expect("data-port")
        .expect("a port")
        .parse()
        .expect("a number");
    let web = sandbox.private_web_addr().expect("private web server");
    let env_host = env.webserver_host.clone().expect("a web server host");
    let page = airgate_peers::socks_client::http_get(
        ([127, 0, 0, 1], port).into(),
        &env_host,
        web.port(),
        "/health",
    )
    .await
    .expect("through the tunnel");
    assert_eq!(page.status, 200, "{page:?}");
    let logins = sandbox.bastion().log();
    assert!(
        logins.contains("Accepted publickey"),
        "logged in with the stored key"
    );

    // Edit the bastion (rename), then delete it: asked first.
    click_when_ready(&client, r#"[data-testid="nav-bastions"]"#).await;
    click_when_ready(
        &client,
        r#"[data-testid="bastion-team-bastion"] [data-testid="edit-bastion"]"#,
    )
    .await;
    fill(&client, "bastion-form", "name", "team-jump").await;
    click_when_ready(
        &client,
        r#"[data-testid="bastion-form"] button[type="submit"]"#,
    )
    .await;
    wait_for_text(&client, r#"[data-testid="bastion-team-jump"]"#, &["team"]).await;
    assert!(
        client
            .find(Locator::Css(r#"[data-testid="bastion-team-bastion"]"#))
            .await
            .is_err(),
        "renamed, not copied"
    );
    click_when_ready(
        &client,
        r#"[data-testid="bastion-team-jump"] [data-testid="delete-bastion"]"#,
    )
    .await;
    wait_for_text(
        &client,
        r#"[data-testid="confirm-delete-bastion"]"#,
        &["Delete the bastion team-jump?"],
    )
    .await;
    assert!(
        client
            .find(Locator::Css(r#"[data-testid="bastion-team-jump"]"#))
            .await
            .is_ok(),
        "nothing deleted before the answer"
    );
    click_when_ready(
        &client,
        r#"[data-testid="confirm-delete-bastion"] [data-testid="confirm-delete"]"#,
    )
    .await;
    wait_until_gone(&client, r#"[data-testid="bastion-team-jump"]"#).await;
    client.close().await.expect("close the app");
    drop(driver);

    // Leak check: neither the passphrase nor any line of the key's text is in the app's log or
    // in any file under its data directory.
    let secrets: Vec<&str> = std::iter::once("correct horse")
        .chain(
            key_text
                .lines()
                .filter(|line| !line.starts_with("-----") && line.len() > 16),
        )
        .collect();
    let mut files = Vec::new();
    let mut dirs = vec![sandbox.data_dir().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let logged = std::fs::read_to_string(&log).expect("the app's log");
    assert!(
        logged.contains("stored an SSH key"),
        "the log is the app's: {logged:.300}"
    );
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for secret in &secrets {
            assert!(
                !text.contains(secret),
                "{} holds secret material",
                file.display()
            );
        }
    }
}

/// Presses Down in the open row menu until `item` (its `menu-…` test id) has the focus.
async fn arrow_to_menu_item(client: &fantoccini::Client, item: &str) {
    let wanted = format!("div#menu-{item}");
    for _ in 0..8 {
        if focused(client).await == wanted {
            return;
        }
        press(client, &[], Key::Down.into()).await;
    }
    assert_eq!(focused(client).await, wanted, "no {item} in the menu");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_keys_list_moves_by_keyboard_and_each_key_has_its_own_menu() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    // Two stored keys: alpha without a passphrase, bravo with one the keyring remembers.
    let vault = Vault::open(&sandbox.vault_namespace()).expect("the vault");
    for (name, passphrase) in [("alpha", None), ("bravo", Some("bravo pass"))] {
        let file = sandbox.dir().join(format!("{name}_ed25519"));
        generate_key(&file, passphrase).expect("ssh-keygen");
        airgate_launch::keys::import_key_file(
            &vault,
            Some(name),
            &file,
            passphrase.map(|p| Sensitive::new(p.to_owned())),
            passphrase.is_some(),
        )
        .expect("store the key");
    }
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    click_when_ready(&client, r#"[data-testid="nav-keys"]"#).await;
    wait_for_text(
        &client,
        r#"[data-testid="key-list"]"#,
        &["alpha", "bravo", "Passphrase remembered"],
    )
    .await;
    assert_eq!(
        wait_for_focus(&client, "button#nav-keys").await,
        "button#nav-keys"
    );

    // Tab reaches the list at its first key (after the screen's two buttons); the arrows move
    // between keys.
    let mut stops = Vec::new();
    while stops.len() < 6 {
        press(&client, &[], Key::Tab.into()).await;
        stops.push(focused(&client).await);
        if stops.last().is_some_and(|s| s.starts_with("li#")) {
            break;
        }
    }
    assert_eq!(
        stops,
        [
            "button#import-key",
            "button#generate-key",
            "li#key-alpha[alpha]"
        ]
    );
    press(&client, &[], Key::Down.into()).await;
    assert_eq!(focused(&client).await, "li#key-bravo[bravo]");
    press(&client, &[], Key::Up.into()).await;
    assert_eq!(focused(&client).await, "li#key-alpha[alpha]");
    press(&client, &[], Key::Down.into()).await;
    assert_eq!(focused(&client).await, "li#key-bravo[bravo]");

    // Enter shows bravo's public key; the focus stays on its row.
    press(&client, &[], Key::Enter.into()).await;
    wait_for_text(
        &client,
        r#"[data-testid="key-bravo"] [data-testid="key-public-key"]"#,
        &["ssh-ed25519"],
    )
    .await;
    assert_eq!(focused(&client).await, "li#key-bravo[bravo]");

    // The Menu key (Shift+F10) shows bravo's own menu, its first item focused; Esc gives the
    // focus back to the row.
    press(&client, &[Key::Shift], Key::F10.into()).await;
    let menu = wait_for_text(
        &client,
        r#"[data-testid="row-menu"]"#,
        &[
            "Hide public key",
            "Copy public key",
            "Copy fingerprint",
            "Rename",
            "Forget passphrase",
            "Delete",
        ],
    )
    .await;
    assert!(!menu.contains("Open"), "{menu}");
    assert_eq!(
        wait_for_focus(&client, "div#menu-public-key").await,
        "div#menu-public-key"
    );
    press(&client, &[], Key::Down.into()).await;
    assert_eq!(focused(&client).await, "div#menu-copy-public-key");
    press(&client, &[], Key::Escape.into()).await;
    wait_until_gone(&client, r#"[data-testid="row-menu"]"#).await;
    assert_eq!(
        wait_for_focus(&client, "li#key-bravo[bravo]").await,
        "li#key-bravo[bravo]"
    );

    // Rename… from the menu: its field takes the focus; Enter renames, and the row under its
    // new name keeps the focus.
    press(&client, &[Key::Shift], Key::F10.into()).await;
    wait_for_text(&client, r#"[data-testid="row-menu"]"#, &["Rename"]).await;
    arrow_to_menu_item(&client, "rename").await;
    press(&client, &[], Key::Enter.into()).await;
    assert_eq!(
        wait_for_focus(&client, "input[bravo]").await,
        "input[bravo]"
    );
    for c in "charlie".chars() {
        press(&client, &[], c).await;
    }
    press(&client, &[], Key::Enter.into()).await;
    wait_for_text(&client, r#"[data-testid="key-charlie"]"#, &["charlie"]).await;
    assert_eq!(
        wait_for_focus(&client, "li#key-charlie[charlie]").await,
        "li#key-charlie[charlie]"
    );

    // Forget passphrase from the menu: said on the row, which keeps the focus.
    press(&client, &[Key::Shift], Key::F10.into()).await;
    wait_for_text(
        &client,
        r#"[data-testid="row-menu"]"#,
        &["Forget passphrase"],
    )
    .await;
    arrow_to_menu_item(&client, "forget-passphrase").await;
    press(&client, &[], Key::Enter.into()).await;
    wait_for_text(
        &client,
        r#"[data-testid="key-charlie"]"#,
        &["Passphrase asked when needed"],
    )
    .await;
    assert_eq!(
        wait_for_focus(&client, "li#key-charlie[charlie]").await,
        "li#key-charlie[charlie]"
    );

    // alpha has no passphrase to forget: its menu does not offer it.
    press(&client, &[], Key::Up.into()).await;
    assert_eq!(focused(&client).await, "li#key-alpha[alpha]");
    press(&client, &[Key::Shift], Key::F10.into()).await;
    let menu = wait_for_text(&client, r#"[data-testid="row-menu"]"#, &["Delete"]).await;
    assert!(!menu.contains("Forget passphrase"), "{menu}");
    press(&client, &[], Key::Escape.into()).await;
    wait_until_gone(&client, r#"[data-testid="row-menu"]"#).await;

    client.close().await.expect("close the app");
    drop(driver);
}
