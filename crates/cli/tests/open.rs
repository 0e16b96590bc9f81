//! `airgate open` as a user runs it: the login URL for Airflow 2 and 3, a clear refusal for an
//! environment that is not available, and a private environment opened in a real headless
//! Chromium through a real OpenSSH bastion in a private network, logged in by the web server.

mod common;

use std::time::{Duration, Instant};

use airgate_peers::airflow_web::read_log;
use airgate_peers::mwaa::{AwsProfile, EnvironmentStatus, Operation, SeedEnvironment};
use airgate_peers::netns::{PrivateNetwork, WebOptions};
use airgate_peers::tls::SelfSigned;
use common::{ACCOUNT_A, Home, mwaa_server, run};
use tokio::io::{AsyncBufReadExt, BufReader};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);

fn home_for(server: &airgate_peers::mwaa::MwaaServer) -> Home {
    Home::new(
        Some(&server.endpoint()),
        &[AwsProfile::new("prod", "AKIAA", "eu-west-1")],
    )
}

#[tokio::test]
async fn print_url_gives_the_documented_login_urls_for_airflow_2_and_3() {
    let server = mwaa_server().await;
    let two = server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("reporting")
            .public()
            .airflow_version("2.10.3"),
    );
    let three = server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("features")
            .public()
            .airflow_version("3.0.6"),
    );
    let home = home_for(&server);

    for (name, seeded, path) in [
        ("reporting", &two, "/aws_mwaa/aws-console-sso"),
        ("features", &three, "/pluginsv2/aws_mwaa/aws-console-sso"),
    ] {
        let out = run(home.airgate(&["open", name, "--print-url"])).await;
        assert!(out.status.success(), "{out:?}");
        let token = server
            .issued_tokens()
            .into_iter()
            .rev()
            .find(|t| t.operation == Operation::CreateWebLoginToken && t.environment == name)
            .expect("a web login token was minted")
            .token;
        let host = seeded.webserver_host.clone().expect("a web server");
        assert_eq!(
            out.stdout.trim(),
            format!("https://{host}{path}?login=true#{token}"),
            "{out:?}"
        );
        assert!(
            !out.stderr.contains(&token),
            "the token is printed once, on stdout"
        );
    }
}

#[tokio::test]
async fn an_environment_that_is_not_available_is_not_opened() {
    let server = mwaa_server().await;
    server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("ml-features")
            .public()
            .status(EnvironmentStatus::Updating),
    );
    let home = home_for(&server);
    let out = run(home.airgate(&["open", "ml-features", "--print-url"])).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains(
            "ml-features is UPDATING: MWAA serves its Airflow UI only while it is AVAILABLE"
        ),
        "{out:?}"
    );
    assert_eq!(
        server.calls(Operation::CreateWebLoginToken),
        0,
        "no token minted"
    );
}

#[tokio::test]
async fn a_private_environment_opens_logged_in_through_the_bastion() {
    let server = mwaa_server().await;
    let seeded = server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("orders-prod").private(),
    );
    let host = seeded.webserver_host.expect("a web server");
    let home = home_for(&server);
    let cert = SelfSigned::new(std::slice::from_ref(&host)).expect("certificate");
    let (cert_path, key_path) = cert.write(home.path()).expect("write certificate");
    let log = home.file("web.log");
    let Some(net) = PrivateNetwork::start_or_skip_with(
        &[&host],
        WebOptions {
            tls: Some((cert_path, key_path)),
            token_key: Some(server.token_key()),
            log: Some(log.clone()),
        },
    ) else {
        return;
    };
    let chromium = chromium();
    let bastion = net.bastion();
    let known_hosts = home.file("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .expect("known_hosts");
    let data_dir = home.file("airgate");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    airgate_launch::settings::save(
        &data_dir,
        &airgate_launch::OpenSettings {
            browser: None,
            browser_args: headless_args(&cert),
            // The -vpce name is the test's own: never looked up on this machine.
            force_tunnel: true,
            pac_port: None,
            ..airgate_launch::OpenSettings::default()
        },
    )
    .expect("settings");

    let mut command = home.airgate(&[
        "open",
        "orders-prod",
        "--bastion",
        &format!("{}@{}:{}", bastion.user(), bastion.host(), bastion.port()),
        "--key",
        &bastion.user_key().display().to_string(),
        "--known-hosts",
        &known_hosts.display().to_string(),
        "--browser",
        &chromium.path.display().to_string(),
    ]);
    command.env("AIRGATE_DATA_DIR", &data_dir);
    let mut child = command.spawn().expect("airgate starts");
    let pid = child.id().expect("a pid");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut said = Vec::new();
    tokio::time::timeout(LOGIN_TIMEOUT, async {
        while let Some(line) = stderr.next_line().await.expect("read stderr") {
            let done = line.contains("Press Ctrl-C");
            said.push(line);
            if done {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("airgate did not open within {LOGIN_TIMEOUT:?}: {said:?}"));
    let said = said.join("\n");
    assert!(said.contains("ok   route"), "{said}");
    assert!(said.contains("ok   token"), "{said}");
    assert!(said.contains("ok   browser"), "{said}");

    // The private web server saw the browser come by its -vpce name, accepted the token and
    // served the logged-in home page.
    let deadline = Instant::now() + LOGIN_TIMEOUT;
    let entries = loop {
        let entries = read_log(&log);
        if entries
            .iter()
            .any(|e| e.event == "home" && e.user.is_some())
        {
            break entries;
        }
        assert!(
            Instant::now() < deadline,
            "no logged-in /home within {LOGIN_TIMEOUT:?}: {entries:?}\n{said}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let first = entries.first().expect("a request");
    assert_eq!(first.path, "/aws_mwaa/aws-console-sso", "{entries:?}");
    assert_eq!(first.host, host, "{entries:?}");
    let login = entries
        .iter()
        .find(|e| e.event == "login")
        .expect("a login");
    assert_eq!(
        (login.ok, login.env.as_deref()),
        (Some(true), Some("orders-prod")),
        "{login:?}"
    );
    let home_page = entries.iter().find(|e| e.event == "home").expect("home");
    assert_eq!(home_page.env.as_deref(), Some("orders-prod"));

    // The token never showed on a command line: the browser got a one-shot loopback URL.
    let token = server
        .issued_tokens()
        .into_iter()
        .find(|t| t.operation == Operation::CreateWebLoginToken)
        .expect("a token was minted")
        .token;
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(&token),
            "the login token is on the command line of process {:?}",
            entry.file_name()
        );
    }
    let _ = tokio::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("airgate exits after Ctrl-C")
        .expect("status");
    assert!(status.success(), "{status}");
    end_browsers(&data_dir).await;
}

#[tokio::test]
async fn a_private_web_server_that_answers_directly_opens_without_a_tunnel() {
    let server = mwaa_server().await;
    // Inside the VPC (or on a VPN) the private web server answers directly; here it is on
    // loopback, named by address so nothing is looked up.
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a free port");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let host = addr.to_string();
    server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("orders-prod")
            .private()
            .webserver_url(host.clone()),
    );
    let home = home_for(&server);
    let cert = SelfSigned::new(std::slice::from_ref(&host)).expect("certificate");
    let (cert_path, key_path) = cert.write(home.path()).expect("write certificate");
    let log = home.file("web.log");
    let _web = airgate_peers::airflow_web::AirflowWeb::start_tls(
        addr,
        airgate_peers::airflow_web::WebConfig {
            token_key: Some(server.token_key()),
            log: Some(log.clone()),
        },
        airgate_peers::tls::server_config(&cert_path, &key_path).expect("TLS config"),
    )
    .await
    .expect("web server");
    let data_dir = home.file("airgate");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    airgate_launch::settings::save(
        &data_dir,
        &airgate_launch::OpenSettings {
            browser: Some(chromium().path.display().to_string()),
            browser_args: headless_args(&cert),
            force_tunnel: false,
            pac_port: None,
            ..airgate_launch::OpenSettings::default()
        },
    )
    .expect("settings");

    // No bastion given: none is needed.
    let mut command = home.airgate(&["open", "orders-prod"]);
    command.env("AIRGATE_DATA_DIR", &data_dir);
    let out = run(command).await;
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.contains("Reachable directly"), "{out:?}");
    assert!(
        !out.stderr.contains("Press Ctrl-C"),
        "no tunnel to keep up: {out:?}"
    );
    let deadline = Instant::now() + LOGIN_TIMEOUT;
    while !read_log(&log)
        .iter()
        .any(|e| e.event == "home" && e.env.as_deref() == Some("orders-prod"))
    {
        assert!(
            Instant::now() < deadline,
            "no logged-in /home: {:?}",
            read_log(&log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    end_browsers(&data_dir).await;
}

fn chromium() -> airgate_launch::Browser {
    airgate_launch::browser::detect()
        .into_iter()
        .find(|b| b.kind == airgate_launch::BrowserKind::Chromium)
        .expect("a Chromium-family browser (scripts/bootstrap.sh installs chromium)")
}

/// A headless Chromium that trusts `cert` (pinned by its key) and stays off the network.
fn headless_args(cert: &SelfSigned) -> Vec<String> {
    [
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .map(str::to_owned)
    .into_iter()
    .chain([format!(
        "--ignore-certificate-errors-spki-list={}",
        cert.spki_sha256
    )])
    .collect()
}

#[tokio::test]
async fn a_browser_that_fails_to_start_is_named_with_its_exit_status() {
    let server = mwaa_server().await;
    server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("reporting").public(),
    );
    let home = home_for(&server);
    let mut command = home.airgate(&["open", "reporting", "--browser", "/bin/false"]);
    command.env("AIRGATE_DATA_DIR", home.file("airgate"));
    let out = run(command).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr
            .contains("false ended (exit status: 1) before opening the login URL"),
        "{out:?}"
    );
    assert!(out.stderr.contains("FAIL browser"), "{out:?}");
}

/// Ends the browsers the test's Airgate started (their command lines name its data directory),
/// and waits until they are gone.
async fn end_browsers(data_dir: &std::path::Path) {
    let pattern = data_dir.display().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let _ = tokio::process::Command::new("pkill")
            .args(["-KILL", "-f", &pattern])
            .status()
            .await;
        let left = tokio::process::Command::new("pgrep")
            .args(["-f", &pattern])
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !left {
            return;
        }
        assert!(Instant::now() < deadline, "browsers of {pattern} still run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
