//! `airgate.exe` under Wine against the real peers on loopback, as a Windows user runs it:
//! environments from the profiles in `%USERPROFILE%\.aws`, a key generated into the Windows
//! Credential Manager and used to log in, and a SOCKS tunnel through an OpenSSH bastion stopped
//! with Ctrl-C.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use airgate_peers::airflow_web::{AirflowWeb, Page};
use airgate_peers::bastion::{Bastion, fingerprint};
use airgate_peers::mwaa::{
    AwsProfile, AwsProfileFiles, EnvironmentStatus, MwaaConfig, MwaaServer, SeedEnvironment,
};
use airgate_peers::socks_client;
use airgate_wine::{MAX_CREDENTIAL_LEN, Wine, run};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";

/// How long a running `airgate.exe` may take to print the line a test waits for.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it may take to exit after Ctrl-C.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

/// A fresh Wine prefix for the Windows exe; fails the test, saying why, when there is none.
async fn wine() -> Wine {
    Wine::start()
        .await
        .unwrap_or_else(|err| panic!("no Wine prefix: {err}"))
}

async fn mwaa_server() -> MwaaServer {
    MwaaServer::start(
        MwaaConfig::default()
            .access_key("AKIAA", ACCOUNT_A)
            .access_key("AKIAB", ACCOUNT_B),
    )
    .await
    .expect("MWAA test server starts")
}

/// `~/.aws/config` and `credentials` where the AWS CLI writes them on Windows: in
/// `%USERPROFILE%\.aws`, found without any variable naming them.
fn write_aws_files(wine: &Wine, endpoint: &str, profiles: &[AwsProfile]) {
    AwsProfileFiles::write(&wine.profile().join(".aws"), Some(endpoint), profiles)
        .expect("AWS files written");
}

/// Reads lines until one satisfies `wanted`, for at most [`LINE_TIMEOUT`] in all; `None` when
/// the output ends or the time is up first.
async fn line_where(
    lines: &mut Lines<BufReader<ChildStdout>>,
    seen: &mut Vec<String>,
    wanted: impl Fn(&str) -> bool,
) -> Option<String> {
    let found = tokio::time::timeout(LINE_TIMEOUT, async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            seen.push(line.clone());
            if wanted(&line) {
                return Some(line);
            }
        }
        None
    });
    found.await.ok().flatten()
}

/// Fails the test with what a running `airgate.exe` printed, after ending it.
async fn fail_with_output(
    mut child: Child,
    stderr: tokio::task::JoinHandle<String>,
    seen: &[String],
    what: &str,
) -> ! {
    let _ = child.start_kill();
    let status = tokio::time::timeout(EXIT_TIMEOUT, child.wait()).await;
    let stderr = tokio::time::timeout(EXIT_TIMEOUT, stderr).await;
    panic!(
        "{what} within {LINE_TIMEOUT:?} ({status:?}); stdout: {seen:?}\nstderr: {}",
        match stderr {
            Ok(Ok(text)) => text,
            _ => "<not closed>".to_owned(),
        }
    );
}

/// The port in `... 127.0.0.1:PORT...`.
fn announced_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("127.0.0.1:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Collects a child's stderr until it closes.
fn stderr_of(child: &mut Child) -> tokio::task::JoinHandle<String> {
    let mut stderr = child.stderr.take().expect("stderr piped");
    tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    })
}

#[tokio::test]
async fn envs_lists_the_environments_of_the_profiles_in_the_users_aws_folder() {
    let wine = wine().await;
    let server = mwaa_server().await;
    let orders = server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("orders-prod").private(),
    );
    let reports = server.seed(
        ACCOUNT_A,
        "us-east-1",
        SeedEnvironment::new("reports")
            .public()
            .airflow_version("2.9.2"),
    );
    let training = server.seed(
        ACCOUNT_B,
        "eu-west-1",
        SeedEnvironment::new("ml-training")
            .private()
            .status(EnvironmentStatus::Updating)
            .airflow_version("3.0.6"),
    );
    write_aws_files(
        &wine,
        &server.endpoint(),
        &[
            AwsProfile::new("prod", "AKIAA", "eu-west-1")
                .set("airgate_regions", "eu-west-1, us-east-1"),
            AwsProfile::new("data", "AKIAB", "eu-west-1"),
        ],
    );

    let out = run(wine.airgate(&["envs", "--json"])).await;

    assert!(out.status.success(), "{out:?}");
    let json: Value = serde_json::from_str(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["failures"], json!([]), "{json:#}");
    let mut listed: Vec<[&str; 7]> = json["environments"]
        .as_array()
        .expect("environments array")
        .iter()
        .map(|env| {
            [
                "name",
                "profile",
                "region",
                "status",
                "airflowVersion",
                "access",
                "webserverHost",
            ]
            .map(|key| env[key].as_str().unwrap_or("<missing>"))
        })
        .collect();
    listed.sort_unstable();
    let host = |seeded: &airgate_peers::mwaa::SeededEnvironment| {
        seeded.webserver_host.clone().expect("has a host")
    };
    let (orders_host, reports_host, training_host) =
        (host(&orders), host(&reports), host(&training));
    assert_eq!(
        listed,
        [
            [
                "ml-training",
                "data",
                "eu-west-1",
                "UPDATING",
                "3.0.6",
                "PrivateVpce",
                training_host.as_str()
            ],
            [
                "orders-prod",
                "prod",
                "eu-west-1",
                "AVAILABLE",
                "2.10.3",
                "PrivateVpce",
                orders_host.as_str()
            ],
            [
                "reports",
                "prod",
                "us-east-1",
                "AVAILABLE",
                "2.9.2",
                "Public",
                reports_host.as_str()
            ],
        ],
        "{json:#}"
    );
}

#[tokio::test]
async fn a_generated_rsa_key_is_kept_in_the_credential_manager_in_parts_and_logs_in() {
    let wine = wine().await;

    let generated = run(wine.airgate(&[
        "keys",
        "generate",
        "deploy",
        "--type",
        "rsa4096",
        "--comment",
        "deploy@windows",
    ]))
    .await;
    assert!(generated.status.success(), "{generated:?}");
    let public = generated.stdout.trim().to_owned();
    assert!(
        public.starts_with("ssh-rsa ") && public.ends_with(" deploy@windows"),
        "an authorized_keys line: {generated:?}"
    );
    let public_file = wine.profile().join("deploy.pub");
    std::fs::write(&public_file, format!("{public}\n")).expect("public key written");
    let expected_fingerprint = fingerprint(&public_file).expect("ssh-keygen -lf");
    assert!(
        generated.stderr.contains(&expected_fingerprint),
        "{generated:?}"
    );

    let listed = run(wine.airgate(&["keys", "list", "--json"])).await;
    assert!(listed.status.success(), "{listed:?}");
    let keys: Value = serde_json::from_str(&listed.stdout).expect("stdout is JSON");
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys:#}");
    assert_eq!(keys[0]["name"], "deploy", "{keys:#}");
    assert_eq!(keys[0]["algorithm"], "ssh-rsa", "{keys:#}");
    assert_eq!(keys[0]["fingerprint"], expected_fingerprint.as_str());
    assert_eq!(keys[0]["publicKey"], public.as_str());
    assert_eq!(keys[0]["encrypted"], false, "{keys:#}");
    let printed = run(wine.airgate(&["keys", "public", "deploy"])).await;
    assert_eq!(printed.stdout.trim(), public, "{printed:?}");

    // The private key is more than one credential holds: its credential names the parts that
    // hold it, each within the limit.
    let credentials = wine
        .credentials()
        .await
        .unwrap_or_else(|err| panic!("the Credential Manager read: {err}"));
    let secret = "secret:ssh-key/deploy";
    let head = credentials
        .iter()
        .find(|c| c.user_name == secret)
        .unwrap_or_else(|| panic!("a credential for {secret}: {credentials:?}"));
    let parts: Vec<usize> = credentials
        .iter()
        .filter(|c| {
            c.user_name.starts_with("part:") && c.user_name.ends_with(&format!(":{secret}"))
        })
        .map(|c| c.secret_len)
        .collect();
    assert!(parts.len() >= 2, "{credentials:?}");
    assert!(
        parts.iter().all(|&len| len <= MAX_CREDENTIAL_LEN),
        "{credentials:?}"
    );
    assert!(
        parts.iter().sum::<usize>() > MAX_CREDENTIAL_LEN,
        "{credentials:?}"
    );
    assert!(head.secret_len < 64, "only a list of parts: {head:?}");

    // Read back joined, the key logs in: a forward through a saved bastion that uses it.
    let bastion = Bastion::start().expect("start sshd");
    bastion.authorize(&public).expect("authorize");
    let known_hosts = wine.profile().join("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .expect("known_hosts written");
    let saved = run(wine.airgate(&[
        "bastions",
        "add",
        "jump",
        "--host",
        bastion.host(),
        "--port",
        &bastion.port().to_string(),
        "--user",
        bastion.user(),
        "--key",
        "deploy",
    ]))
    .await;
    assert!(saved.status.success(), "{saved:?}");
    let web = AirflowWeb::start_local().await.expect("web server");
    let to = format!("localhost:{}", web.addr().port());
    let mut child = wine
        .airgate(&[
            "forward",
            "--to",
            &to,
            "--bastion",
            "jump",
            "--known-hosts",
            &wine.windows_path(&known_hosts),
        ])
        .spawn()
        .expect("wine starts airgate.exe");
    let stderr = stderr_of(&mut child);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout piped")).lines();
    let mut seen = Vec::new();
    let forwarding = |l: &str| l.starts_with("Forwarding 127.0.0.1:");
    let Some(line) = line_where(&mut lines, &mut seen, forwarding).await else {
        fail_with_output(child, stderr, &seen, "no forward announced").await;
    };
    let port = announced_port(&line).expect("the local port");
    let page = socks_client::direct_get(([127, 0, 0, 1], port).into(), "/health")
        .await
        .expect("a page through the forward");
    assert_eq!(page.status, 200, "{page:?}");
    let log = bastion.log();
    let login = format!("Accepted publickey for {} from 127.0.0.1", bastion.user());
    let key = format!("RSA {expected_fingerprint}");
    assert!(
        log.lines().any(|l| l.contains(&login) && l.contains(&key)),
        "sshd let the generated key in: {log}"
    );
    let _ = child.kill().await;
}

#[tokio::test]
async fn connect_serves_a_socks_proxy_through_the_bastion_until_ctrl_c() {
    let wine = wine().await;
    let server = mwaa_server().await;
    let seeded = server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("orders-prod").private(),
    );
    let private_host = seeded.webserver_host.expect("available: has a host");
    write_aws_files(
        &wine,
        &server.endpoint(),
        &[AwsProfile::new("prod", "AKIAA", "eu-west-1")],
    );
    let bastion = Bastion::start().expect("start sshd");
    // The key and the host key where OpenSSH for Windows keeps them: %USERPROFILE%\.ssh.
    let ssh = wine.profile().join(".ssh");
    std::fs::create_dir_all(&ssh).expect(".ssh");
    bastion
        .write_known_hosts(&ssh.join("known_hosts"))
        .expect("known_hosts written");
    let key = ssh.join("id_ed25519");
    std::fs::copy(bastion.user_key(), &key).expect("key copied");
    let web = AirflowWeb::start_local().await.expect("web server");

    let key_arg = wine.windows_path(&key);
    let mut child = wine
        .airgate(&[
            "connect",
            "orders-prod",
            "--bastion",
            &format!("{}@{}:{}", bastion.user(), bastion.host(), bastion.port()),
            "--key",
            &key_arg,
        ])
        .spawn()
        .expect("wine starts airgate.exe");
    let pid = child.id().expect("running: has a pid");
    let stderr = stderr_of(&mut child);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout piped")).lines();
    let mut seen = Vec::new();
    let socks_port = |l: &str| announced_port(l).is_some();
    let Some(announced) = line_where(&mut lines, &mut seen, socks_port).await else {
        fail_with_output(child, stderr, &seen, "no SOCKS port announced").await;
    };
    assert!(announced.contains("orders-prod"), "{announced}");
    let port = announced_port(&announced).expect("the SOCKS port");
    let Some(hint) = line_where(&mut lines, &mut seen, |_| true).await else {
        fail_with_output(child, stderr, &seen, "no browser hint").await;
    };
    assert!(
        hint.contains(&format!("https://{private_host}/"))
            && hint.contains(&format!("socks5://127.0.0.1:{port}")),
        "{hint}"
    );

    // From the Linux side, as a browser would: the name resolved by the bastion.
    let socks = SocketAddr::from(([127, 0, 0, 1], port));
    let web_port = web.addr().port();
    let page = socks_client::http_get(socks, "localhost", web_port, "/dags/etl/grid")
        .await
        .expect("a page through the tunnel");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        Page::parse(&page.body),
        Some(Page::new(format!("localhost:{web_port}"), "/dags/etl/grid")),
        "{page:?}"
    );

    // Ctrl-C: Wine turns SIGINT into the console's CTRL_C_EVENT.
    let kill = tokio::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .await
        .expect("run kill");
    assert!(kill.success(), "kill -INT {pid}: {kill}");
    let status = tokio::time::timeout(EXIT_TIMEOUT, child.wait())
        .await
        .unwrap_or_else(|_| panic!("airgate.exe still runs {EXIT_TIMEOUT:?} after Ctrl-C"))
        .expect("airgate.exe exits");
    let stderr = tokio::time::timeout(EXIT_TIMEOUT, stderr)
        .await
        .expect("stderr closed")
        .expect("stderr read");
    assert_eq!(status.code(), Some(0), "{status}\n{stderr}");
    assert!(stderr.contains("Disconnected."), "{stderr}");
    TcpListener::bind(socks).unwrap_or_else(|err| panic!("port {port} is free again: {err}"));
}
