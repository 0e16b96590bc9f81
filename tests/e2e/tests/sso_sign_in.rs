//! An IAM Identity Center profile with no sign-in yet: its row says so with a Sign in button;
//! the window shows the code while the person approves it (on the project's SSO server, as in
//! the browser), then lists the profile's environments with the new token.

use std::time::Duration;

use airgate_e2e::{
    TauriDriver, app_binary, click_when_ready, display_or_skip, row_selector, wait_for_text,
};
use airgate_peers::mwaa::SeedEnvironment;
use airgate_peers::sso::{SsoConfig, SsoServer};
use airgate_sandbox::{Sandbox, Topology};
use fantoccini::Locator;

const ACCOUNT: &str = "444444444444";
const ROLE_KEY: &str = "ASIASSOSANDBOX1";

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_needing_sign_in_is_signed_in_from_its_row() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let sso = SsoServer::start(SsoConfig::default().role(ACCOUNT, "Developer", ROLE_KEY))
        .await
        .expect("SSO test server");
    sandbox.mwaa().map_access_key(ROLE_KEY, ACCOUNT);
    sandbox.mwaa().seed(
        ACCOUNT,
        "eu-west-1",
        SeedEnvironment::new("sso-pipelines").public(),
    );

    let mut env = sandbox.app_env();
    airgate_e2e::append_to_aws_config(
        &env,
        &format!(
            "\n[profile corp-dev]\nsso_session = corp\nsso_account_id = {ACCOUNT}\n\
         sso_role_name = Developer\nregion = eu-west-1\nservices = corp-servers\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.example/start\n\
         sso_region = us-east-1\n\n\
         [services corp-servers]\nmwaa =\n  endpoint_url = {mwaa}\n\
         sso_oidc =\n  endpoint_url = {sso}\nsso =\n  endpoint_url = {sso}\n",
            mwaa = sandbox.mwaa().endpoint(),
            sso = sso.endpoint(),
        ),
    );
    // The SSO cache (~/.aws/sso/cache) is the sandbox's own, and no browser is started.
    let home = sandbox.dir().join("home");
    std::fs::create_dir_all(&home).expect("home");
    env.push(("HOME".to_owned(), home.display().to_string()));
    env.push(("AIRGATE_NO_BROWSER".to_owned(), "1".to_owned()));

    let driver = TauriDriver::start(&env).expect("tauri-driver");
    let client = driver
        .launch(&app_binary().expect("desktop binary"))
        .await
        .expect("launch the app");
    let failure = r#"[data-testid="source-failure"][data-profile="corp-dev"]"#;
    wait_for_text(&client, failure, &["SSO session for profile corp-dev"]).await;
    click_when_ready(&client, &format!("{failure} [data-testid=\"sign-in\"]")).await;

    // The code the window shows is the one waiting on the server; approving it signs in.
    let shown = wait_for_text(
        &client,
        &format!("{failure} [data-testid=\"sign-in-status\"]"),
        &["Approve code"],
    )
    .await;
    let pending = sso.pending_user_codes();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(shown.contains(&pending[0]), "{shown} vs {pending:?}");
    assert!(sso.approve(&pending[0]));

    let row = row_selector("sso-pipelines", "corp-dev", "eu-west-1");
    airgate_e2e::wait_for_element(&client, &row, Duration::from_secs(60)).await;
    assert!(
        client.find(Locator::Css(failure)).await.is_err(),
        "the sign-in row is gone"
    );
    let cache = home.join(".aws/sso/cache");
    let files: Vec<_> = std::fs::read_dir(&cache)
        .expect("the SSO cache")
        .flatten()
        .collect();
    assert!(!files.is_empty(), "a token file in {}", cache.display());
    client.close().await.expect("close the app");
    drop(driver);
}
