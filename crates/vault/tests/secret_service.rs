//! The vault against a real Secret Service: gnome-keyring on a private D-Bus session, started
//! per test by `airgate_peers::secret_service`.
//!
//! The keyring client finds the bus through `DBUS_SESSION_BUS_ADDRESS`, which a running test
//! cannot set for itself (changing the environment of a live process is `unsafe`). Each test
//! therefore starts its peer, then runs itself again in a child process with the peer's
//! environment (`rerun_test`); the child (`is_rerun()`) runs the body. The parent fails unless
//! the child ran exactly that test and it passed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use airgate_peers::secret_service::{
    SecretService, SessionBus, is_rerun, keyring_dir_of, rerun_current_test,
};
use airgate_vault::{BastionKey, BastionRecord, Error, Sensitive, Vault};

/// A key file that exists, for bastions that log in with a file.
static KEY_FILE: std::sync::LazyLock<tempfile::NamedTempFile> =
    std::sync::LazyLock::new(|| tempfile::NamedTempFile::new().expect("temp key file"));

const TIMEOUT: Duration = Duration::from_secs(120);
const NS: &str = "app.airgate.itest";

/// Runs `body` in a child process whose session has a fresh, unlocked gnome-keyring.
fn on_a_fresh_secret_service(test: &str, body: impl FnOnce()) {
    if is_rerun() {
        body();
        return;
    }
    let service = SecretService::start().expect("gnome-keyring starts on a private bus");
    let output = service
        .rerun_test(test, TIMEOUT)
        .unwrap_or_else(|err| panic!("{err}"));
    println!("{output}");
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .expect("the peer sets HOME")
}

fn secret_tool(args: &[&str], stdin: &str) -> String {
    // The re-run child already has the peer's bus in its environment.
    let output =
        airgate_peers::secret_service::secret_tool(Command::new("secret-tool"), args, stdin);
    // `secret-tool search` prints the attributes on stderr, the rest on stdout.
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    printed
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn bastion(name: &str, host: &str, port: u16) -> BastionRecord {
    BastionRecord {
        keepalive_secs: None,
        name: name.to_owned(),
        host: host.to_owned(),
        port,
        user: "ec2-user".to_owned(),
        key: BastionKey::File {
            path: KEY_FILE.path().to_owned(),
        },
        jump: Vec::new(),
        host_key: None,
        serves: Vec::new(),
    }
}

#[test]
fn a_bastion_saved_by_one_vault_is_read_by_a_fresh_vault() {
    on_a_fresh_secret_service(
        "a_bastion_saved_by_one_vault_is_read_by_a_fresh_vault",
        || {
            let first = Vault::open(NS).expect("the Secret Service is reachable");
            assert_eq!(first.bastions().expect("empty keyring"), vec![]);
            let prod = bastion("prod", "bastion.prod.example", 22);
            let dev = bastion("dev", "10.1.0.9", 2222);
            first.save_bastion(&prod).expect("save prod");
            first.save_bastion(&dev).expect("save dev");
            drop(first);

            let second = Vault::open(NS).expect("a new connection");
            assert_eq!(
                second.bastions().expect("list"),
                vec![prod.clone(), dev.clone()]
            );
            let moved = bastion("prod", "bastion2.prod.example", 22);
            second.save_bastion(&moved).expect("replace prod");
            assert!(second.delete_bastion("dev").expect("delete dev"));

            let third = Vault::open(NS).expect("another connection");
            assert_eq!(third.bastions().expect("list"), vec![moved]);
            let other = Vault::open("app.airgate.other").expect("another namespace");
            assert_eq!(
                other.bastions().expect("list"),
                vec![],
                "namespaces are separate"
            );

            let found = secret_tool(
                &["search", "--all", "service", NS, "username", "records"],
                "",
            );
            assert!(found.contains("bastion2.prod.example"), "{found}");
        },
    );
}

#[test]
fn a_secret_round_trips_is_found_by_secret_tool_and_is_never_written_in_clear() {
    on_a_fresh_secret_service(
        "a_secret_round_trips_is_found_by_secret_tool_and_is_never_written_in_clear",
        || {
            let keyring_file = keyring_dir_of(&home()).join("login.keyring");
            let size_before = fs::metadata(&keyring_file)
                .map(|meta| meta.len())
                .unwrap_or(0);
            // Larger than one Windows entry: the Secret Service stores it whole.
            let value = format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nairgate-itest-{}\n-----END OPENSSH PRIVATE KEY-----\n",
                "Zm9vYmFyYmF6cXV4".repeat(200)
            );
            Vault::open(NS)
                .expect("open")
                .set_secret("ssh-key/prod", Sensitive::new(value.clone()))
                .expect("store the key");

            let read = Vault::open(NS)
                .expect("a new connection")
                .secret("ssh-key/prod");
            assert_eq!(read.expect("read").expect("present").expose(), &value);

            let found = secret_tool(&["search", "--all", "service", NS], "");
            assert!(
                found.contains("attribute.username = secret:ssh-key/prod"),
                "{found}"
            );
            assert!(
                found.contains("airgate-itest-Zm9vYmFy"),
                "secret-tool reads the value"
            );

            let size_after = fs::metadata(&keyring_file)
                .expect("login.keyring is written")
                .len();
            assert!(
                size_after > size_before + 3000,
                "{size_before} -> {size_after} bytes"
            );
            let files = files_under(&home());
            assert!(!files.is_empty());
            for file in files {
                let bytes = fs::read(&file).expect("readable file");
                assert!(
                    !contains(&bytes, b"airgate-itest-Zm9vYmFy"),
                    "{} holds the secret in clear",
                    file.display()
                );
            }

            let vault = Vault::open(NS).expect("open");
            assert!(vault.delete_secret("ssh-key/prod").expect("delete"));
            assert!(vault.secret("ssh-key/prod").expect("read").is_none());
            assert!(!vault.delete_secret("ssh-key/prod").expect("delete again"));
            let found = secret_tool(&["search", "--all", "service", NS], "");
            assert!(!found.contains("secret:ssh-key/prod"), "{found}");
        },
    );
}

#[test]
fn a_secret_split_in_parts_round_trips_and_leaves_nothing_behind() {
    on_a_fresh_secret_service(
        "a_secret_split_in_parts_round_trips_and_leaves_nothing_behind",
        || {
            let vault = Vault::open(NS)
                .expect("open")
                .with_max_entry_len(Some(1000));
            let value = "passphrase-part ".repeat(200);
            vault
                .set_secret("ssh-key/split", Sensitive::new(value.clone()))
                .expect("store in parts");
            let found = secret_tool(&["search", "--all", "service", NS], "");
            assert_eq!(
                found.matches("attribute.username = part:1:").count(),
                4,
                "{found}"
            );

            let fresh = Vault::open(NS)
                .expect("open")
                .with_max_entry_len(Some(1000));
            let read = fresh
                .secret("ssh-key/split")
                .expect("read")
                .expect("present");
            assert_eq!(read.expose(), &value);

            assert!(fresh.delete_secret("ssh-key/split").expect("delete"));
            let found = secret_tool(&["search", "--all", "service", NS], "");
            assert!(
                !found.contains("attribute.username"),
                "nothing left: {found}"
            );
        },
    );
}

#[test]
fn records_that_cannot_be_read_are_kept_and_reported() {
    on_a_fresh_secret_service("records_that_cannot_be_read_are_kept_and_reported", || {
        secret_tool(
            &[
                "store",
                "--label=edited by hand",
                "service",
                NS,
                "username",
                "records",
            ],
            "{\"version\": 1, \"bastions\": [",
        );
        let vault = Vault::open(NS).expect("open");
        let err = vault.bastions().expect_err("unreadable records");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("account \"records\""), "{err}");
        let err = vault
            .save_bastion(&bastion("prod", "h", 22))
            .expect_err("refused");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        let kept = secret_tool(&["lookup", "service", NS, "username", "records"], "");
        assert_eq!(kept, "{\"version\": 1, \"bastions\": [");
    });
}

#[test]
fn without_a_session_bus_open_says_what_to_start() {
    if is_rerun() {
        let err = Vault::open(NS).expect_err("no bus");
        assert!(matches!(err, Error::NoStore { .. }), "{err:?}");
        let message = err.to_string();
        println!("{message}");
        assert!(
            message.starts_with("No D-Bus session bus is reachable"),
            "{message}"
        );
        assert!(message.contains("then retry"), "{message}");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-bus");
    let envs = [
        (
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", missing.display()),
        ),
        ("HOME", dir.path().display().to_string()),
        ("XDG_RUNTIME_DIR", dir.path().display().to_string()),
    ];
    let output = rerun_current_test(
        "without_a_session_bus_open_says_what_to_start",
        envs,
        TIMEOUT,
    )
    .unwrap_or_else(|err| panic!("{err}"));
    println!("{output}");
}

#[test]
fn a_session_without_secret_service_says_what_to_start() {
    if is_rerun() {
        let err = Vault::open(NS).expect_err("no Secret Service");
        assert!(matches!(err, Error::NoStore { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "No Secret Service on the D-Bus session bus: start gnome-keyring or KeePassXC's \
             Secret Service, then retry."
        );
        return;
    }
    let bus = SessionBus::start().expect("a bare session bus");
    let output = bus
        .rerun_test(
            "a_session_without_secret_service_says_what_to_start",
            TIMEOUT,
        )
        .unwrap_or_else(|err| panic!("{err}"));
    println!("{output}");
}

#[test]
fn a_locked_keyring_says_to_unlock_it() {
    on_a_fresh_secret_service("a_locked_keyring_says_to_unlock_it", || {
        let vault = Vault::open(NS).expect("open");
        vault
            .save_bastion(&bastion("prod", "h", 22))
            .expect("save while unlocked");
        let locked = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--reply-timeout=5000",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ])
            .output()
            .expect("dbus-send runs");
        assert!(locked.status.success(), "{locked:?}");

        // No prompter can run in this session: the unlock prompt fails and the vault says so.
        let err = Vault::open(NS)
            .expect("open")
            .bastions()
            .expect_err("locked");
        assert!(matches!(err, Error::Locked { .. }), "{err:?}");
        let message = err.to_string();
        println!("{message}");
        assert!(message.starts_with("The keyring is locked"), "{message}");
        assert!(message.ends_with("unlock it and retry."), "{message}");
    });
}
