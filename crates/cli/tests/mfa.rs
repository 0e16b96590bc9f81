//! A role behind an MFA code from the terminal: `airgate envs` asks for the code and calls
//! AssumeRole (moto's STS) with it; without a terminal it says what is needed and asks nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::time::Duration;

use airgate_peers::moto::Moto;
use airgate_peers::mwaa::{AwsProfile, SeedEnvironment};
use common::{ACCOUNT_A, Home, mwaa_server, run};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SERIAL: &str = "arn:aws:iam::111111111111:mfa/priya";

/// `base` has keys (account A); `admin` assumes a role from them with an MFA code.
fn home(mwaa: &str, sts: &str) -> Home {
    let home = Home::new(
        None,
        &[
            AwsProfile::new("base", "AKIAA", "eu-west-1").set("services", "local"),
            AwsProfile::new("admin", "AKIAA", "eu-west-1")
                .without_keys()
                .set("role_arn", "arn:aws:iam::444455556666:role/admin")
                .set("source_profile", "base")
                .set("mfa_serial", SERIAL)
                .set("services", "local"),
        ],
    );
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&home.aws.config)
        .expect("config file");
    write!(
        config,
        "\n[services local]\nmwaa =\n  endpoint_url = {mwaa}\nsts =\n  endpoint_url = {sts}\n"
    )
    .expect("services section");
    home
}

fn assume_role_codes(moto: &Moto) -> Vec<String> {
    moto.bodies_of("AssumeRole")
        .into_iter()
        .filter_map(|body| {
            body.split('&')
                .find_map(|p| p.strip_prefix("TokenCode=").map(str::to_owned))
        })
        .collect()
}

#[tokio::test]
async fn at_a_terminal_the_code_is_asked_for_and_without_one_the_profile_says_it_needs_it() {
    let mwaa = mwaa_server().await;
    mwaa.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("orders-dev"));
    let moto = Moto::start().expect("moto starts");
    let home = home(&mwaa.endpoint(), moto.endpoint());

    // No terminal: nothing is asked, the profile fails with what it needs, the exit says partial.
    let out = run(home.airgate(&["envs", "--profile", "admin"])).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("needs an MFA code") && out.stderr.contains(SERIAL),
        "{out:?}"
    );
    assert!(assume_role_codes(&moto).is_empty());

    // `login` is for SSO: it says where the code is asked instead.
    let out = run(home.airgate(&["login", "admin"])).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("MFA code"), "{out:?}");

    // At a terminal: asked, a short code refused and asked again, the right one used.
    let mut child = home
        .airgate_in_terminal(&["envs", "--profile", "admin"])
        .spawn()
        .expect("script starts");
    let mut input = child.stdin.take().expect("stdin");
    let mut output = child.stdout.take().expect("stdout");
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    // Where the last thing waited for ended: the next one is looked for after it.
    let mut cursor = 0;
    for (wanted, answer) in [
        ("Enter to skip: ", "12345\n"),
        ("6 digits", ""),
        ("Enter to skip: ", "654321\n"),
    ] {
        while !seen[cursor..].contains(wanted) {
            let n = tokio::time::timeout(Duration::from_secs(30), output.read(&mut buffer))
                .await
                .unwrap_or_else(|_| panic!("no {wanted:?} within 30 s: {seen}"))
                .expect("read");
            assert!(n > 0, "ended before {wanted:?}: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
        cursor += seen[cursor..].find(wanted).unwrap_or_default() + wanted.len();
        if !answer.is_empty() {
            input.write_all(answer.as_bytes()).await.expect("answer");
        }
    }
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(60), output.read_to_string(&mut rest))
        .await
        .expect("envs ends")
        .expect("read");
    seen.push_str(&rest);
    let status = child.wait().await.expect("script ends");
    assert!(
        seen.contains(&format!("MFA code for profile admin ({SERIAL})")),
        "{seen}"
    );
    assert!(seen.contains("Profile admin can be used until"), "{seen}");
    assert!(!seen.contains("needs an MFA code"), "{seen}");
    assert!(status.success(), "{seen}");
    assert_eq!(assume_role_codes(&moto), ["654321"]);
}
