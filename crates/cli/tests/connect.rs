//! `airgate connect` through a real OpenSSH bastion on loopback, environments listed by the
//! MWAA test server, as a user runs it: wait for the SOCKS port, browse through it, press Ctrl-C.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use airgate_peers::airflow_web::{AirflowWeb, Page};
use airgate_peers::bastion::{Bastion, fingerprint};
use airgate_peers::mwaa::{AwsProfile, SeedEnvironment};
use airgate_peers::socks_client;
use common::{ACCOUNT_A, Home, announced_port, mwaa_server, run};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// How long `airgate connect` may take to announce its SOCKS port.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it may take to exit after Ctrl-C.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// `airgate connect ENV --bastion user@127.0.0.1:PORT --key K --known-hosts F`.
fn connect_args(env: &str, bastion: &Bastion, known_hosts: &std::path::Path) -> Vec<String> {
    vec![
        "connect".to_owned(),
        env.to_owned(),
        "--bastion".to_owned(),
        format!("{}@{}:{}", bastion.user(), bastion.host(), bastion.port()),
        "--key".to_owned(),
        bastion.user_key().display().to_string(),
        "--known-hosts".to_owned(),
        known_hosts.display().to_string(),
    ]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A home whose profile `prod` sees the private environment `orders-prod`; returns its host too.
async fn one_private_environment() -> (airgate_peers::mwaa::MwaaServer, Home, String) {
    let server = mwaa_server().await;
    let seeded = server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("orders-prod").private(),
    );
    let host = seeded.webserver_host.expect("available: has a host");
    let home = Home::new(
        Some(&server.endpoint()),
        &[AwsProfile::new("prod", "AKIAA", "eu-west-1")],
    );
    (server, home, host)
}

#[tokio::test]
async fn connect_opens_a_socks_proxy_until_ctrl_c() {
    let (_server, home, private_host) = one_private_environment().await;
    let bastion = Bastion::start().expect("start sshd");
    let known_hosts = home.file("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .expect("write known_hosts");
    let web = AirflowWeb::start_local().await.expect("start web server");

    let mut child = home
        .airgate(&strs(&connect_args("orders-prod", &bastion, &known_hosts)))
        .spawn()
        .expect("airgate starts");
    let pid = child.id().expect("running: has a pid");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped")).lines();

    // Read until the line naming the SOCKS port.
    let mut seen = Vec::new();
    let port = tokio::time::timeout(ANNOUNCE_TIMEOUT, async {
        loop {
            match stdout.next_line().await.expect("read stdout") {
                Some(line) => {
                    let port = announced_port(&line);
                    seen.push(line);
                    if let Some(port) = port {
                        break Some(port);
                    }
                }
                None => break None,
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no SOCKS port announced within {ANNOUNCE_TIMEOUT:?}: {seen:?}"));
    let Some(port) = port else {
        let status = child.wait().await.expect("airgate exits");
        panic!(
            "airgate ended ({status}) without a SOCKS port: {seen:?}\n{}",
            stderr.await.expect("stderr read")
        );
    };
    assert_ne!(port, 0);
    let first_line = seen.last().expect("the announcement");
    assert!(first_line.contains("orders-prod"), "{first_line}");

    // The next line tells where to point a browser: the private web server's hostname.
    let hint = tokio::time::timeout(ANNOUNCE_TIMEOUT, stdout.next_line())
        .await
        .expect("a browser hint in time")
        .expect("read stdout")
        .expect("a browser hint");
    assert!(
        hint.contains(&format!("https://{private_host}/"))
            && hint.contains(&format!("socks5://127.0.0.1:{port}")),
        "{hint}"
    );

    // Browse through the proxy, the name resolved on the far side (by the bastion).
    let socks = SocketAddr::from(([127, 0, 0, 1], port));
    let web_port = web.addr().port();
    let page = socks_client::http_get(socks, "localhost", web_port, "/dags/etl/grid")
        .await
        .expect("page through the tunnel");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        Page::parse(&page.body),
        Some(Page::new(format!("localhost:{web_port}"), "/dags/etl/grid")),
        "{page:?}"
    );

    // Ctrl-C.
    let kill = tokio::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .await
        .expect("run kill");
    assert!(kill.success(), "kill -INT {pid}: {kill}");
    let status = tokio::time::timeout(EXIT_TIMEOUT, child.wait())
        .await
        .unwrap_or_else(|_| panic!("airgate still runs {EXIT_TIMEOUT:?} after Ctrl-C"))
        .expect("airgate exits");
    let stderr = tokio::time::timeout(EXIT_TIMEOUT, stderr)
        .await
        .expect("stderr closed")
        .expect("stderr read");
    assert_eq!(status.code(), Some(0), "{status}\n{stderr}");
    assert!(stderr.contains("Disconnected."), "{stderr}");
    TcpListener::bind(socks).unwrap_or_else(|err| panic!("port {port} is free again: {err}"));
}

#[tokio::test]
async fn an_unknown_host_key_is_refused_with_its_fingerprint() {
    let (_server, home, _host) = one_private_environment().await;
    let bastion = Bastion::start().expect("start sshd");
    let known_hosts = home.file("known_hosts");
    std::fs::write(&known_hosts, "").expect("empty known_hosts");

    let out = run(home.airgate(&strs(&connect_args("orders-prod", &bastion, &known_hosts)))).await;

    assert!(!out.status.success(), "{out:?}");
    let expected = fingerprint(bastion.host_public_key_path()).expect("host key fingerprint");
    assert!(expected.starts_with("SHA256:"), "{expected}");
    assert!(
        out.stderr.contains(&format!(
            "Host key of {}:{} is not known (ssh-ed25519 {expected})",
            bastion.host(),
            bastion.port()
        )),
        "without a terminal it refuses, never asks: {out:?}"
    );
    assert!(
        !out.stdout.contains("127.0.0.1:"),
        "no proxy announced: {out:?}"
    );
    let untouched = std::fs::read_to_string(&known_hosts).expect("read known_hosts");
    assert_eq!(untouched, "", "nothing trusted behind the user's back");
}

#[tokio::test]
async fn an_unknown_environment_points_to_airgate_envs() {
    let (_server, home, _host) = one_private_environment().await;
    let known_hosts = home.file("known_hosts");
    std::fs::write(&known_hosts, "").expect("empty known_hosts");

    let out = run(home.airgate(&[
        "connect",
        "no-such-env",
        "--bastion",
        "ec2-user@127.0.0.1:22",
        "--key",
        &home.file("id_ed25519").display().to_string(),
        "--known-hosts",
        &known_hosts.display().to_string(),
    ]))
    .await;

    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr
            .contains("No environment named no-such-env in any profile."),
        "{out:?}"
    );
    assert!(out.stderr.contains("`airgate envs`"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[tokio::test]
async fn at_a_terminal_an_unknown_host_key_is_asked_about_and_trusted_always() {
    use tokio::io::AsyncWriteExt;
    let (_server, home, _host) = one_private_environment().await;
    let bastion = Bastion::start().expect("start sshd");
    let expected = fingerprint(bastion.host_public_key_path()).expect("host key fingerprint");
    // No --known-hosts: Airgate's own file, then ~/.ssh/known_hosts (both empty here).
    let mut args = connect_args("orders-prod", &bastion, std::path::Path::new("-"));
    args.truncate(args.len() - 2);
    let mut child = home
        .airgate_in_terminal(&strs(&args))
        .spawn()
        .expect("script starts");
    let mut input = child.stdin.take().expect("stdin");
    let mut output = child.stdout.take().expect("stdout");
    let mut seen = String::new();
    let read_until =
        async |seen: &mut String, output: &mut tokio::process::ChildStdout, wanted: &str| {
            let mut buffer = [0u8; 4096];
            while !seen.contains(wanted) {
                let n = tokio::time::timeout(Duration::from_secs(30), output.read(&mut buffer))
                    .await
                    .unwrap_or_else(|_| panic!("no {wanted:?} within 30 s: {seen}"))
                    .expect("read");
                assert!(n > 0, "ended before {wanted:?}: {seen}");
                seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        };
    read_until(
        &mut seen,
        &mut output,
        "Trust it [o]nce, [a]lways, or [N]o?",
    )
    .await;
    assert!(
        seen.contains(&expected),
        "the prompt shows the fingerprint: {seen}"
    );
    input.write_all(b"a\n").await.expect("answer");
    read_until(
        &mut seen,
        &mut output,
        "SOCKS5 proxy for orders-prod on 127.0.0.1:",
    )
    .await;
    let own = std::fs::read_to_string(home.data_dir().join("known_hosts")).expect("trusted");
    let key = bastion
        .host_public_key()
        .split_whitespace()
        .nth(1)
        .expect("key");
    assert!(own.contains(key), "{own}");
    let _ = child.kill().await;
}

#[tokio::test]
async fn forward_serves_a_host_behind_the_bastion_with_no_aws_account() {
    // A home with no AWS files at all: forward needs none.
    let home = Home::new(None, &[]);
    let bastion = Bastion::start().expect("start sshd");
    let known_hosts = home.file("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .expect("write known_hosts");
    let web = AirflowWeb::start_local().await.expect("start web server");
    let to = format!("localhost:{}", web.addr().port());
    let mut child = home
        .airgate(&[
            "forward",
            "--to",
            &to,
            "--bastion",
            &format!("{}@{}:{}", bastion.user(), bastion.host(), bastion.port()),
            "--key",
            &bastion.user_key().display().to_string(),
            "--known-hosts",
            &known_hosts.display().to_string(),
        ])
        .spawn()
        .expect("airgate starts");
    let pid = child.id().expect("a pid");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(ANNOUNCE_TIMEOUT, stdout.next_line())
        .await
        .expect("an announcement in time")
        .expect("read")
        .expect("a line");
    assert!(
        line.starts_with("Forwarding 127.0.0.1:") && line.contains(&to),
        "{line}"
    );
    let port = announced_port(&line).expect("the local port");

    // A plain HTTP client on the local port reaches the web server behind the bastion.
    let response = socks_client::direct_get(([127, 0, 0, 1], port).into(), "/dags/etl/grid")
        .await
        .expect("through the forward");
    assert_eq!(response.status, 200, "{response:?}");
    assert!(response.body.contains("/dags/etl/grid"), "{response:?}");

    let kill = tokio::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .await
        .expect("kill");
    assert!(kill.success());
    let status = tokio::time::timeout(EXIT_TIMEOUT, child.wait())
        .await
        .expect("ends after Ctrl-C")
        .expect("exit status");
    assert_eq!(status.code(), Some(0));
    let ports = std::fs::read_to_string(home.data_dir().join("ports.json")).expect("remembered");
    assert!(
        ports.contains(&format!("\"forward:{to}\": {port}")),
        "{ports}"
    );
}

#[tokio::test]
async fn forward_goes_through_a_jump_host_with_jump() {
    let home = Home::new(None, &[]);
    let jump = Bastion::start().expect("start the jump host");
    let target = Bastion::start().expect("start the bastion behind it");
    // One key for both hops, as --key gives: the bastion behind accepts the jump host's user key.
    let public =
        std::fs::read_to_string(format!("{}.pub", jump.user_key().display())).expect("pub");
    let authorized = target.dir().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).expect("authorized_keys");
    keys.push_str(&public);
    std::fs::write(&authorized, keys).expect("authorize");
    let known_hosts = home.file("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("{}{}", jump.known_hosts_line(), target.known_hosts_line()),
    )
    .expect("known_hosts");
    let web = AirflowWeb::start_local().await.expect("start web server");
    let to = format!("localhost:{}", web.addr().port());
    let mut child = home
        .airgate(&[
            "forward",
            "--to",
            &to,
            "--bastion",
            &format!("{}@{}:{}", target.user(), target.host(), target.port()),
            "--jump",
            &format!("{}@{}:{}", jump.user(), jump.host(), jump.port()),
            "--key",
            &jump.user_key().display().to_string(),
            "--known-hosts",
            &known_hosts.display().to_string(),
        ])
        .spawn()
        .expect("airgate starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(ANNOUNCE_TIMEOUT, stdout.next_line())
        .await
        .expect("an announcement in time")
        .expect("read")
        .unwrap_or_default();
    let Some(port) = announced_port(&line) else {
        let _ = child.kill().await;
        let out = child.wait_with_output().await.expect("output");
        panic!(
            "no forward: {line:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let response = socks_client::direct_get(([127, 0, 0, 1], port).into(), "/health")
        .await
        .expect("through the forward");
    assert_eq!(response.status, 200, "{response:?}");
    assert!(
        jump.log().contains("Accepted publickey"),
        "went through the jump host"
    );
    assert!(
        target.log().contains("Accepted publickey"),
        "logged in behind it"
    );
    let _ = child.kill().await;
}
