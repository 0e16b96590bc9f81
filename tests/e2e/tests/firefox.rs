//! Firefox, for real: a self-hosted Airflow behind the bastion, set to open in Firefox (a
//! per-environment browser choice). Open starts the tunnel and a Firefox of its own (`-profile`
//! under Airgate's data directory, `-no-remote`, SOCKS 5 with remote DNS from its `user.js`),
//! and the private web server logs Firefox's request by the private name only the bastion
//! resolves.

use airgate_e2e::{click_when_ready, display_or_skip, now_ms, wait_for_open};
use airgate_launch::BrowserKind;
use airgate_sandbox::{BASTION_NAME, SELF_HOSTED_HOST};
use airgate_vault::{AirflowMajor, SelfHostedRecord, Vault};

const NAME: &str = "lab-firefox";

/// The command lines of running processes whose program's path contains `program`.
fn command_lines(program: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let words: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        if words.first().is_some_and(|w| w.contains(program)) {
            out.push(words.join(" "));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_self_hosted_airflow_opens_in_its_own_firefox_through_the_tunnel() {
    if !display_or_skip() {
        return;
    }
    let Some(firefox) = airgate_launch::browser::detect()
        .into_iter()
        .find(|b| b.kind == BrowserKind::Firefox)
    else {
        assert!(
            std::env::var("AIRGATE_REQUIRE_GUI").as_deref() != Ok("1"),
            "no Firefox here (scripts/bootstrap.sh installs firefox-esr)"
        );
        eprintln!("SKIPPED: no Firefox installed");
        return;
    };
    let Some(sandbox) = airgate_e2e::private_sandbox_or_skip().await else {
        return;
    };
    let id = airgate_launch::self_hosted_id(NAME);
    let path = firefox.path.display().to_string();
    sandbox
        .write_settings_with(&[], |settings| {
            settings.browser_overrides.insert(id.clone(), path.clone());
        })
        .expect("settings");
    sandbox.save_bastion().expect("save the bastion");
    Vault::open(&sandbox.vault_namespace())
        .and_then(|vault| {
            vault.save_self_hosted(&SelfHostedRecord {
                name: NAME.to_owned(),
                url: format!("http://{SELF_HOSTED_HOST}"),
                airflow: AirflowMajor::Three,
                bastion: Some(BASTION_NAME.to_owned()),
            })
        })
        .expect("save the self-hosted Airflow");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;

    let row = format!(r#"[data-testid="self-hosted-row"][data-name="{NAME}"]"#);
    let clicked = now_ms();
    click_when_ready(&client, &format!(r#"{row} [data-testid="open"]"#)).await;
    let shown = wait_for_open(
        &client,
        &format!(r#"[data-testid="open-row"][data-name="{NAME}"]"#),
    )
    .await
    .unwrap_or_else(|steps| panic!("Open in Firefox failed: {steps:?}"));
    assert!(shown[0].2.contains("tunnel started"), "{shown:?}");
    assert!(shown[2].2.contains("Firefox opened"), "{shown:?}");

    let landed = airgate_e2e::wait_for_request(sandbox.web_log(), SELF_HOSTED_HOST, clicked).await;
    assert_eq!(landed.path, "/", "Airflow 3's UI: {landed:?}");

    let profile = sandbox
        .data_dir()
        .join("browsers")
        .join(airgate_launch::browser::profile_dir_name(&id));
    let user_js = std::fs::read_to_string(profile.join("user.js")).expect("its user.js");
    assert!(
        user_js.contains("user_pref(\"network.proxy.socks_remote_dns\", true);"),
        "{user_js}"
    );
    let started = command_lines("firefox");
    let wanted = format!("-profile {}", profile.display());
    assert!(
        started
            .iter()
            .any(|c| c.contains(&wanted) && c.contains("-no-remote")),
        "Firefox runs on its own profile: {started:?}"
    );

    client.close().await.expect("close the app");
    drop(driver);
    let _ = std::process::Command::new("pkill")
        .args(["-f", &profile.display().to_string()])
        .status();
    sandbox.forget_bastion().expect("forget the bastion");
}
