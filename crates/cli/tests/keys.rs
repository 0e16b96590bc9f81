//! `airgate keys` and `airgate bastions` against the real keyring (gnome-keyring on the test's
//! D-Bus session), then a forward through the sshd bastion with the stored, encrypted key after
//! its file is gone.

mod common;

use std::process::Stdio;

use airgate_peers::airflow_web::AirflowWeb;
use airgate_peers::bastion::{Bastion, generate_key};
use airgate_peers::socks_client;
use common::{Home, announced_port, run};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Runs `airgate ARGS` with `input` on its standard input.
async fn run_with_input(home: &Home, args: &[&str], input: &str) -> common::Run {
    let mut command = home.airgate_with_keyring(args);
    command.stdin(Stdio::piped());
    let mut child = command.spawn().expect("airgate starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    let output = tokio::time::timeout(common::RUN_TIMEOUT, child.wait_with_output())
        .await
        .expect("airgate finishes")
        .expect("output");
    common::Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn keyring_or_skip() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no D-Bus session: run under scripts/with-keyring.sh"
    );
    eprintln!("SKIPPED: no D-Bus session (run under scripts/with-keyring.sh)");
    false
}

fn two_fields(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn an_encrypted_key_is_imported_checked_and_logs_in_after_its_file_is_gone() {
    if !keyring_or_skip() {
        return;
    }
    let home = Home::new(None, &[]);
    let bastion = Bastion::start().expect("start sshd");
    let known_hosts = home.file("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .expect("write known_hosts");
    let file = home.file("team_ed25519");
    generate_key(&file, Some("correct horse")).expect("ssh-keygen");
    let public = std::fs::read_to_string(file.with_extension("pub")).expect("public key");
    bastion.authorize(&public).expect("authorize");
    let file_arg = file.display().to_string();

    // A wrong passphrase: refused, nothing stored.
    let wrong = run_with_input(
        &home,
        &["keys", "import", &file_arg, "--name", "team", "--stdin"],
        "wrong\n",
    )
    .await;
    assert!(!wrong.status.success(), "{wrong:?}");
    assert!(wrong.stderr.contains("Wrong passphrase"), "{wrong:?}");
    let listed = run(home.airgate_with_keyring(&["keys", "list", "--json"])).await;
    assert_eq!(listed.stdout.trim(), "[]", "{listed:?}");

    // The right one: stored, the passphrase not (it is asked at each connect).
    let imported = run_with_input(
        &home,
        &["keys", "import", &file_arg, "--name", "team", "--stdin"],
        "correct horse\n",
    )
    .await;
    assert!(imported.status.success(), "{imported:?}");
    let listed = run(home.airgate_with_keyring(&["keys", "list", "--json"])).await;
    let keys: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert_eq!(keys[0]["name"], "team");
    assert_eq!(keys[0]["encrypted"], true);
    assert_eq!(keys[0]["passphraseSaved"], false);
    let printed = run(home.airgate_with_keyring(&["keys", "public", "team"])).await;
    assert_eq!(two_fields(&printed.stdout), two_fields(&public));
    std::fs::remove_file(&file).expect("the file is not needed any more");

    let saved = run(home.airgate_with_keyring(&[
        "bastions",
        "add",
        "team-bastion",
        "--host",
        bastion.host(),
        "--port",
        &bastion.port().to_string(),
        "--user",
        bastion.user(),
        "--key",
        "team",
    ]))
    .await;
    assert!(saved.status.success(), "{saved:?}");

    // A forward through the saved bastion: the passphrase from stdin unlocks the stored key.
    let web = AirflowWeb::start_local().await.expect("web server");
    let to = format!("localhost:{}", web.addr().port());
    let mut command = home.airgate_with_keyring(&[
        "forward",
        "--to",
        &to,
        "--bastion",
        "team-bastion",
        "--known-hosts",
        &known_hosts.display().to_string(),
        "--passphrase-stdin",
    ]);
    command.stdin(Stdio::piped());
    let mut child = command.spawn().expect("airgate starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"correct horse\n")
        .await
        .expect("passphrase");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(common::RUN_TIMEOUT, stdout.next_line())
        .await
        .expect("announced in time")
        .expect("read")
        .unwrap_or_default();
    assert!(line.starts_with("Forwarding 127.0.0.1:"), "{line:?}");
    let port = announced_port(&line).expect("the local port");
    let page = socks_client::direct_get(([127, 0, 0, 1], port).into(), "/health")
        .await
        .expect("through the forward");
    assert_eq!(page.status, 200, "{page:?}");
    let _ = child.kill().await;
    drop(stdin);

    // Deleting a key a bastion uses asks; without a terminal the answer is no.
    let kept = run(home.airgate_with_keyring(&["keys", "delete", "team"])).await;
    assert!(!kept.status.success(), "{kept:?}");
    assert!(
        kept.stderr.contains("team-bastion logs in with team"),
        "{kept:?}"
    );
    let deleted = run(home.airgate_with_keyring(&["keys", "delete", "team", "--yes"])).await;
    assert!(deleted.status.success(), "{deleted:?}");
    let listed = run(home.airgate_with_keyring(&["keys", "list", "--json"])).await;
    assert_eq!(listed.stdout.trim(), "[]");
    let dangling = run(home.airgate_with_keyring(&[
        "forward",
        "--to",
        &to,
        "--bastion",
        "team-bastion",
        "--batch",
    ]))
    .await;
    assert!(
        dangling
            .stderr
            .contains("logs in with the stored key \"team\", which was deleted"),
        "{dangling:?}"
    );
}

#[tokio::test]
async fn hosts_of_the_ssh_config_are_listed_then_imported_with_their_keys() {
    if !keyring_or_skip() {
        return;
    }
    let home = Home::new(None, &[]);
    let ssh = home.file(".ssh");
    std::fs::create_dir_all(&ssh).expect(".ssh");
    generate_key(&ssh.join("id_prod"), None).expect("ssh-keygen");
    std::fs::write(
        ssh.join("config"),
        "Host prod\n  HostName bastion.prod.example\n  User ubuntu\n  IdentityFile ~/.ssh/id_prod\n\
         Host *\n  Port 2222\n",
    )
    .expect("config");

    let listed = run(home.airgate_with_keyring(&["bastions", "import-ssh-config"])).await;
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        listed
            .stdout
            .starts_with("prod\tubuntu@bastion.prod.example:2222\t"),
        "{listed:?}"
    );
    let saved = run(home.airgate_with_keyring(&["bastions", "list", "--json"])).await;
    assert_eq!(saved.stdout.trim(), "[]", "listing saves nothing");

    let imported =
        run(home.airgate_with_keyring(&["bastions", "import-ssh-config", "prod", "--import-keys"]))
            .await;
    assert!(imported.status.success(), "{imported:?}");
    let saved = run(home.airgate_with_keyring(&["bastions", "list", "--json"])).await;
    let bastions: serde_json::Value = serde_json::from_str(&saved.stdout).expect("JSON");
    assert_eq!(bastions[0]["name"], "prod");
    assert_eq!(bastions[0]["port"], 2222);
    assert_eq!(
        bastions[0]["key"],
        serde_json::json!({"kind": "stored", "name": "id_prod"})
    );
    let unknown = run(home.airgate_with_keyring(&["bastions", "import-ssh-config", "nope"])).await;
    assert!(unknown.stderr.contains("has no Host nope"), "{unknown:?}");
}

#[tokio::test]
async fn processes_saving_at_the_same_moment_lose_no_update() {
    if !keyring_or_skip() {
        return;
    }
    let home = Home::new(None, &[]);
    // One write first, alone: the keyring's collection exists before the race starts.
    let first = run(home.airgate_with_keyring(&[
        "bastions",
        "add",
        "first",
        "--host",
        "bastion.example",
        "--agent",
    ]))
    .await;
    assert!(first.status.success(), "{first:?}");
    const WRITERS: usize = 8;
    let names: Vec<String> = (0..WRITERS).map(|i| format!("b{i}")).collect();
    let writers: Vec<_> = names
        .iter()
        .map(|name| {
            run(home.airgate_with_keyring(&[
                "bastions",
                "add",
                name,
                "--host",
                "bastion.example",
                "--agent",
            ]))
        })
        .collect();
    for done in futures_join_all(writers).await {
        assert!(done.status.success(), "{done:?}");
    }
    let listed = run(home.airgate_with_keyring(&["bastions", "list", "--json"])).await;
    let bastions: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    let mut saved: Vec<String> = bastions
        .as_array()
        .expect("a list")
        .iter()
        .map(|b| b["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    saved.sort();
    let mut expected = names.clone();
    expected.insert(0, "first".to_owned());
    expected.sort();
    assert_eq!(saved, expected, "every process's bastion is saved");
}

/// Runs the futures at once (each its own task) and waits for all.
async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn connections_are_imported_exported_and_passed_to_a_command_only() {
    if !keyring_or_skip() {
        return;
    }
    let home = Home::new(None, &[]);
    let env_file = home.file("airflow.env");
    std::fs::write(
        &env_file,
        "AIRFLOW_CONN_WAREHOUSE='postgres://etl:p%40ss%3Aw%2Frd@db.internal:5432/analytics'\n\
         AIRFLOW_CONN_BROKEN=nothing-here\n",
    )
    .expect("env file");
    let imported =
        run(home.airgate_with_keyring(&["conns", "import", &env_file.display().to_string()])).await;
    assert_eq!(
        imported.status.code(),
        Some(2),
        "one line is broken: {imported:?}"
    );
    assert!(
        imported.stderr.contains("Stored warehouse."),
        "{imported:?}"
    );
    assert!(imported.stderr.contains("line 2"), "{imported:?}");

    let listed = run(home.airgate_with_keyring(&["conns", "list", "--json"])).await;
    assert!(
        !listed.stdout.contains("p@ss"),
        "no password in the list: {listed:?}"
    );
    let conns: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert_eq!(conns[0]["connId"], "warehouse");
    assert_eq!(conns[0]["hasPassword"], true);

    let exported = run(home.airgate_with_keyring(&["conns", "export", "warehouse"])).await;
    assert_eq!(
        exported.stdout.trim(),
        "AIRFLOW_CONN_WAREHOUSE='postgres://etl:p%40ss%3Aw%2Frd@db.internal:5432/analytics'",
        "{exported:?}"
    );

    // The command gets the variable; the file system never does.
    let ran = run(home.airgate_with_keyring(&[
        "conns",
        "exec",
        "--",
        "sh",
        "-c",
        "printf %s \"$AIRFLOW_CONN_WAREHOUSE\"; exit 3",
    ]))
    .await;
    assert_eq!(ran.status.code(), Some(3), "the command's status: {ran:?}");
    assert_eq!(
        ran.stdout,
        "postgres://etl:p%40ss%3Aw%2Frd@db.internal:5432/analytics"
    );

    let deleted = run(home.airgate_with_keyring(&["conns", "delete", "warehouse"])).await;
    assert!(deleted.status.success(), "{deleted:?}");
    let listed = run(home.airgate_with_keyring(&["conns", "list", "--json"])).await;
    assert_eq!(listed.stdout.trim(), "[]");
}

#[tokio::test]
async fn a_saved_bastion_is_edited_in_place_and_a_rename_is_followed_by_what_jumps_through_it() {
    if !keyring_or_skip() {
        return;
    }
    let home = Home::new(None, &[]);
    let list = |home: &Home| {
        let command = home.airgate_with_keyring(&["bastions", "list", "--json"]);
        async move {
            let listed = run(command).await;
            assert!(listed.status.success(), "{listed:?}");
            serde_json::from_str::<serde_json::Value>(&listed.stdout).expect("JSON")
        }
    };
    for args in [
        &[
            "bastions",
            "add",
            "edge",
            "--host",
            "edge.example.com",
            "--agent",
        ][..],
        &[
            "bastions",
            "add",
            "inner",
            "--host",
            "10.0.1.5",
            "--agent",
            "--jump",
            "edge",
            "--serve",
            "account=111111111111,region=eu-west-1",
        ][..],
    ] {
        let added = run(home.airgate_with_keyring(args)).await;
        assert!(added.status.success(), "{added:?}");
    }

    let renamed = run(home.airgate_with_keyring(&[
        "bastions", "edit", "edge", "--rename", "gateway", "--port", "2222",
    ]))
    .await;
    assert!(renamed.status.success(), "{renamed:?}");
    assert!(
        renamed.stderr.contains("Saved edge as gateway."),
        "{}",
        renamed.stderr
    );
    let listed = list(&home).await;
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert_eq!(names, ["inner", "gateway"]);
    let inner = &listed[0];
    assert_eq!(inner["jump"], serde_json::json!(["gateway"]), "{inner}");
    assert_eq!(inner["serves"][0]["account"], "111111111111");
    assert_eq!(listed[1]["port"], 2222);
    assert_eq!(listed[1]["host"], "edge.example.com", "unchanged");

    let pinned = run(home.airgate_with_keyring(&[
        "bastions",
        "edit",
        "inner",
        "--no-jump",
        "--host-key",
        "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        "--serve",
        "prod/eu-west-1/orders-prod",
        "--keepalive",
        "30",
    ]))
    .await;
    assert!(pinned.status.success(), "{pinned:?}");
    let inner = &list(&home).await[0];
    assert_eq!(
        inner["jump"],
        serde_json::Value::Null,
        "no jump hosts: {inner}"
    );
    assert_eq!(
        inner["hostKey"],
        "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
    );
    assert_eq!(
        inner["serves"][0]["environment"],
        "prod/eu-west-1/orders-prod"
    );
    assert_eq!(inner["host"], "10.0.1.5");
    assert_eq!(inner["keepaliveSecs"], 30);

    // Bad input: nothing changes.
    let before = list(&home).await;
    for (args, said) in [
        (
            &["bastions", "edit", "nope", "--port", "1"][..],
            "No saved bastion is named \"nope\"",
        ),
        (
            &["bastions", "edit", "inner", "--serve", "orders-prod"][..],
            "Bad --serve",
        ),
        (
            &["bastions", "edit", "inner", "--jump", "missing"][..],
            "missing",
        ),
    ] {
        let refused = run(home.airgate_with_keyring(args)).await;
        assert!(!refused.status.success(), "{args:?}: {refused:?}");
        assert!(
            refused.stderr.contains(said),
            "{args:?}: {}",
            refused.stderr
        );
    }
    assert_eq!(list(&home).await, before, "a refused edit changes nothing");
}
