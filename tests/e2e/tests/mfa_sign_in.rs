//! A role profile behind an MFA code: its row says it needs the code and takes it; a short code
//! is refused in the row, the right one is sent to STS (moto's) with the role's serial, and the
//! role's environments appear.

use std::time::Duration;

use airgate_e2e::{
    TauriDriver, app_binary, click_when_ready, display_or_skip, fill, row_selector, wait_for_text,
};
use airgate_peers::moto::Moto;
use airgate_peers::mwaa::SeedEnvironment;
use airgate_sandbox::{ACCOUNTS, Sandbox, Topology};
use fantoccini::Locator;

const ROLE_ACCOUNT: &str = "444455556666";
const SERIAL: &str = "arn:aws:iam::111111111111:mfa/priya";

#[tokio::test(flavor = "multi_thread")]
async fn a_role_behind_mfa_takes_its_code_in_its_row() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let moto = Moto::start().expect("moto starts");
    sandbox.mwaa().accept_session_keys(ROLE_ACCOUNT);
    sandbox.mwaa().seed(
        ROLE_ACCOUNT,
        "eu-west-1",
        SeedEnvironment::new("admin-pipelines").public(),
    );
    let env = sandbox.app_env();
    airgate_e2e::append_to_aws_config(
        &env,
        &format!(
            "\n[profile corp-admin]\nrole_arn = arn:aws:iam::{ROLE_ACCOUNT}:role/admin\n\
         source_profile = {source}\nmfa_serial = {SERIAL}\nregion = eu-west-1\n\
         services = corp-servers\n\n\
         [services corp-servers]\nmwaa =\n  endpoint_url = {mwaa}\nsts =\n  endpoint_url = {sts}\n",
            source = ACCOUNTS[0].profile,
            mwaa = sandbox.mwaa().endpoint(),
            sts = moto.endpoint(),
        ),
    );

    let driver = TauriDriver::start(&env).expect("tauri-driver");
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    let failure = r#"[data-testid="source-failure"][data-profile="corp-admin"]"#;
    wait_for_text(&client, failure, &["MFA code", SERIAL]).await;

    // A short code: said in the row, nothing sent.
    fill(&client, "mfa-form", "code", "12345").await;
    click_when_ready(&client, &format!("{failure} [data-testid=\"mfa-submit\"]")).await;
    wait_for_text(
        &client,
        &format!("{failure} [role=\"alert\"]"),
        &["6 digits"],
    )
    .await;
    assert!(moto.bodies_of("AssumeRole").is_empty());

    // The right one: the role is assumed with it, and its environment is listed.
    fill(&client, "mfa-form", "code", "246810").await;
    click_when_ready(&client, &format!("{failure} [data-testid=\"mfa-submit\"]")).await;
    let row = row_selector("admin-pipelines", "corp-admin", "eu-west-1");
    airgate_e2e::wait_for_element(&client, &row, Duration::from_secs(60)).await;
    assert!(
        client.find(Locator::Css(failure)).await.is_err(),
        "the MFA row is gone"
    );
    let sent = moto.bodies_of("AssumeRole");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("TokenCode=246810"), "{}", sent[0]);
    assert!(
        sent[0].contains("SerialNumber=arn%3Aaws%3Aiam%3A%3A111111111111%3Amfa%2Fpriya"),
        "{}",
        sent[0]
    );
    client.close().await.expect("close the app");
    drop(driver);
}
