//! `airgate login` against the project's IAM Identity Center server (SSO OIDC and the portal):
//! the device code is shown, approved (or denied) on the server as a person would in the
//! browser, and the token lands in the shared SSO cache in the AWS CLI's format: botocore reads
//! it, and `airgate envs` lists the profile's environments with it.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use airgate_peers::mwaa::SeedEnvironment;
use airgate_peers::sso::{SsoConfig, SsoOperation, SsoServer};
use common::{ACCOUNT_A, Home, mwaa_server, run};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// sha1("corp"): the token file of `[sso-session corp]`, as the AWS CLI names it.
const CORP_TOKEN_FILE: &str = ".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json";
const ROLE_KEY: &str = "ASIASSODEV1";
/// How long a login may wait for the code to be shown.
const CODE_TIMEOUT: Duration = Duration::from_secs(30);

async fn sso_server(config: SsoConfig) -> SsoServer {
    SsoServer::start(config.role(ACCOUNT_A, "Developer", ROLE_KEY))
        .await
        .expect("SSO test server starts")
}

/// A home whose config has two profiles of `[sso-session corp]` and one that is not SSO, with
/// MWAA, SSO OIDC and the SSO portal at the test servers through a `services` section.
fn sso_home(mwaa: &str, sso: &str) -> Home {
    let home = Home::new(None, &[]);
    let config = format!(
        "[profile corp-dev]\nsso_session = corp\nsso_account_id = {ACCOUNT_A}\n\
         sso_role_name = Developer\nregion = eu-west-1\nservices = test-servers\n\n\
         [profile corp-prod]\nsso_session = corp\nsso_account_id = {ACCOUNT_A}\n\
         sso_role_name = Admin\nregion = eu-west-1\nservices = test-servers\n\n\
         [profile keys]\nregion = eu-west-1\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.example/start\n\
         sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n\
         [services test-servers]\nmwaa =\n  endpoint_url = {mwaa}\n\
         sso_oidc =\n  endpoint_url = {sso}\nsso =\n  endpoint_url = {sso}\n"
    );
    std::fs::write(&home.aws.config, config).expect("config written");
    home
}

/// A running `airgate login`, with what it printed up to its code.
struct Login {
    child: Child,
    code: String,
    url: String,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

/// Starts `airgate ARGS` and reads its output until it shows the code and the page.
async fn start_login(home: &Home, args: &[&str]) -> Login {
    let mut command = home.airgate(args);
    command.stdout(Stdio::piped());
    let mut child = command.spawn().expect("airgate starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut said = Vec::new();
    let found = tokio::time::timeout(CODE_TIMEOUT, async {
        let mut code = None;
        while let Some(line) = stdout.next_line().await.expect("stdout read") {
            said.push(line.clone());
            if let Some(rest) = line.split("shows the code ").nth(1) {
                code = Some(rest.trim_end_matches(':').to_owned());
            } else if let Some(code) = &code
                && line.trim_start().starts_with("http")
            {
                return Some((code.clone(), line.trim().to_owned()));
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some((code, url))) => Login {
            child,
            code,
            url,
            stdout,
        },
        other => {
            let _ = child.kill().await;
            let output = child.wait_with_output().await.expect("output");
            panic!(
                "no code shown ({other:?}): {said:?} {}",
                String::from_utf8_lossy(&output.stderr)
            )
        }
    }
}

impl Login {
    /// Waits for the end; returns the exit code, the rest of stdout, and stderr.
    async fn finish(mut self) -> (Option<i32>, String, String) {
        let mut rest = String::new();
        let read = async {
            while let Ok(Some(line)) = self.stdout.next_line().await {
                rest.push_str(&line);
                rest.push('\n');
            }
        };
        tokio::time::timeout(common::RUN_TIMEOUT, read)
            .await
            .expect("airgate login ends");
        let output = tokio::time::timeout(common::RUN_TIMEOUT, self.child.wait_with_output())
            .await
            .expect("airgate login ends")
            .expect("output");
        (
            output.status.code(),
            rest,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// Waits (bounded) until `ready` holds.
async fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// botocore (boto3 from PyPI, in the moto venv) resolving `profile`'s credentials from the
/// shared files and SSO cache of `home`, the portal at `sso`.
async fn botocore_credentials(home: &Home, profile: &str, sso: &str) -> serde_json::Value {
    let python = airgate_peers::moto::python().expect("the moto venv (boto3) is made");
    let script = "import json, sys, boto3\n\
        c = boto3.Session(profile_name=sys.argv[1]).get_credentials().get_frozen_credentials()\n\
        print(json.dumps({'access_key': c.access_key, 'secret_key': c.secret_key, \
        'token': c.token}))\n";
    let mut command = tokio::process::Command::new(python);
    command
        .args(["-c", script, profile])
        .env_clear()
        .env("HOME", home.path())
        .envs(home.aws.env_vars())
        .env("AWS_ENDPOINT_URL_SSO", sso)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("botocore answers within 60 s")
        .expect("python runs");
    assert!(
        output.status.success(),
        "botocore could not resolve {profile}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON credentials")
}

#[tokio::test]
async fn login_writes_the_aws_cli_s_token_that_botocore_and_envs_use() {
    let mwaa = mwaa_server().await;
    mwaa.map_access_key(ROLE_KEY, ACCOUNT_A);
    mwaa.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("orders-dev").public(),
    );
    let sso = sso_server(SsoConfig::default()).await;
    let home = sso_home(&mwaa.endpoint(), &sso.endpoint());

    // Before: no token, so discovery says the profile needs a sign-in.
    let before = run(home.airgate(&["envs", "--json"])).await;
    assert!(
        before.stdout.contains("SSO session for profile corp-dev"),
        "{}",
        before.stdout
    );

    let login = start_login(&home, &["login", "corp-dev", "--no-browser"]).await;
    assert!(
        login.url.contains(&login.code),
        "{} shows {}",
        login.url,
        login.code
    );
    assert_eq!(sso.pending_user_codes(), std::slice::from_ref(&login.code));
    assert!(
        sso.approve(&login.code),
        "the code shown is the pending one"
    );
    let (code, stdout, stderr) = login.finish().await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Signed in to sso-session corp until"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Profiles it covers: corp-dev, corp-prod."),
        "{stdout}"
    );

    // The token file: the AWS CLI v2's name, fields and time format, readable by the user only.
    let path = home.file(CORP_TOKEN_FILE);
    let text = std::fs::read_to_string(&path).expect("token file written");
    let token: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut keys: Vec<&str> = token
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accessToken",
            "clientId",
            "clientSecret",
            "expiresAt",
            "refreshToken",
            "region",
            "registrationExpiresAt",
            "startUrl"
        ]
    );
    assert_eq!(token["startUrl"], "https://corp.awsapps.example/start");
    assert_eq!(token["region"], "us-east-1");
    let issued = sso.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(token["accessToken"], issued[0].access_token.as_str());
    assert_eq!(token["clientId"], issued[0].client_id.as_str());
    for field in ["expiresAt", "registrationExpiresAt"] {
        let time = token[field].as_str().expect("a string");
        let shape: String = time
            .chars()
            .map(|c| if c.is_ascii_digit() { 'D' } else { c })
            .collect();
        assert_eq!(shape, "DDDD-DD-DDTDD:DD:DDZ", "{field}: {time}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for secret in ["accessToken", "clientSecret", "refreshToken"] {
        let value = token[secret].as_str().expect("a string");
        assert!(
            !stdout.contains(value) && !stderr.contains(value),
            "{secret} printed"
        );
    }

    // botocore reads it and gets the role's credentials from the portal.
    let credentials = botocore_credentials(&home, "corp-dev", &sso.endpoint()).await;
    assert_eq!(credentials["access_key"], ROLE_KEY);
    assert_eq!(
        credentials["secret_key"],
        SsoServer::secret_for(ROLE_KEY).as_str()
    );
    let portal_calls = sso.calls(SsoOperation::GetRoleCredentials);
    assert_eq!(portal_calls, 1);

    // And so does aws-config: `airgate envs` lists what the role sees.
    let after = run(home.airgate(&["envs", "--json"])).await;
    let listed: serde_json::Value = serde_json::from_str(&after.stdout).expect("JSON");
    let names: Vec<(&str, &str)> = listed["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .map(|e| {
            (
                e["profile"].as_str().unwrap_or_default(),
                e["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        names.contains(&("corp-dev", "orders-dev")),
        "{}",
        after.stdout
    );
    assert!(sso.calls(SsoOperation::GetRoleCredentials) > portal_calls);

    // A second sign-in reuses the client registration the first one cached.
    let again = start_login(&home, &["login", "--sso-session", "corp"]).await;
    assert!(sso.approve(&again.code));
    let (code, stdout, stderr) = again.finish().await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(sso.calls(SsoOperation::RegisterClient), 1);
    let renewed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("token file")).expect("JSON");
    assert_ne!(renewed["accessToken"], token["accessToken"]);
}

#[tokio::test]
async fn a_denied_sign_in_says_so() {
    let sso = sso_server(SsoConfig::default()).await;
    let home = sso_home("http://127.0.0.1:9", &sso.endpoint());
    let login = start_login(&home, &["login", "corp-prod"]).await;
    assert!(sso.deny(&login.code));
    let (code, stdout, stderr) = login.finish().await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("The sign-in was denied in the browser"),
        "{stderr}"
    );
    assert!(!home.file(CORP_TOKEN_FILE).exists());
}

#[tokio::test]
async fn an_expired_code_says_to_try_again() {
    let sso = sso_server(SsoConfig {
        code_lifetime: Duration::from_secs(3),
        ..SsoConfig::default()
    })
    .await;
    let home = sso_home("http://127.0.0.1:9", &sso.endpoint());
    let started = Instant::now();
    let login = start_login(&home, &["login", "corp-dev"]).await;
    let (code, stdout, stderr) = login.finish().await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("The sign-in code expired before it was approved"),
        "{stderr}"
    );
    assert!(stderr.contains("try again"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "gave up on time: {:?}",
        started.elapsed()
    );
    assert!(!home.file(CORP_TOKEN_FILE).exists());
}

#[tokio::test]
async fn polling_keeps_to_the_interval_and_slows_down_when_asked() {
    let sso = sso_server(SsoConfig::default()).await;
    let home = sso_home("http://127.0.0.1:9", &sso.endpoint());
    let login = start_login(&home, &["login", "corp-dev"]).await;
    // Two polls at the interval (1 s), then the service asks to slow down once.
    wait_for("two polls", || sso.token_polls().len() >= 2).await;
    sso.slow_down_next(1);
    wait_for("the slowed-down poll", || sso.token_polls().len() >= 3).await;
    assert!(sso.approve(&login.code));
    let (code, stdout, stderr) = login.finish().await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let polls = sso.token_polls();
    assert_eq!(polls.len(), 4, "one poll after the slow-down got the token");
    let gaps: Vec<Duration> = polls.windows(2).map(|w| w[1] - w[0]).collect();
    let slack = Duration::from_millis(100);
    assert!(gaps[0] + slack >= Duration::from_secs(1), "{gaps:?}");
    assert!(gaps[1] + slack >= Duration::from_secs(1), "{gaps:?}");
    // slow_down: 5 s more than the interval before the next poll.
    assert!(gaps[2] + slack >= Duration::from_secs(6), "{gaps:?}");
    assert!(gaps[2] < Duration::from_secs(9), "{gaps:?}");
    assert_eq!(sso.polls_too_fast(), 0);
}

#[tokio::test]
async fn a_profile_without_sso_is_told_so() {
    let sso = sso_server(SsoConfig::default()).await;
    let home = sso_home("http://127.0.0.1:9", &sso.endpoint());
    let result = run(home.airgate(&["login", "keys"])).await;
    assert_eq!(result.status.code(), Some(1));
    assert!(
        result
            .stderr
            .contains("Profile keys does not sign in with IAM Identity Center"),
        "{}",
        result.stderr
    );
    assert_eq!(sso.calls(SsoOperation::RegisterClient), 0);
}
