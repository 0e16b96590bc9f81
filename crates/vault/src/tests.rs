//! The vault over keyring-core's in-memory mock store.

use std::path::PathBuf;
use std::sync::Arc;

use keyring_core::{CredentialStore, mock};

use super::*;

const NS: &str = "app.airgate.test";

fn vault() -> (Arc<CredentialStore>, Vault) {
    let store: Arc<CredentialStore> = mock::Store::new().expect("mock store");
    (store.clone(), Vault::with_store(store, NS))
}

/// A key file that exists, for bastions that log in with a file.
static KEY_FILE: std::sync::LazyLock<tempfile::NamedTempFile> =
    std::sync::LazyLock::new(|| tempfile::NamedTempFile::new().expect("temp key file"));

fn bastion(name: &str, host: &str) -> BastionRecord {
    BastionRecord {
        keepalive_secs: None,
        name: name.to_owned(),
        host: host.to_owned(),
        port: 22,
        user: "ec2-user".to_owned(),
        key: BastionKey::File {
            path: KEY_FILE.path().to_owned(),
        },
        jump: Vec::new(),
        host_key: None,
        serves: Vec::new(),
    }
}

fn raw_records(store: &Arc<CredentialStore>) -> String {
    store
        .build(NS, "records", None)
        .expect("entry")
        .get_password()
        .expect("the records entry exists")
}

fn put_raw_records(store: &Arc<CredentialStore>, document: &str) {
    store
        .build(NS, "records", None)
        .expect("entry")
        .set_password(document)
        .expect("write raw records");
}

#[test]
fn a_new_vault_has_no_bastions() {
    let (_store, vault) = vault();
    assert_eq!(vault.bastions().expect("no entry is not an error"), vec![]);
    assert!(!vault.delete_bastion("nothing").expect("deleting nothing"));
}

#[test]
fn bastions_are_saved_listed_replaced_and_deleted() {
    let (store, vault) = vault();
    let prod = bastion("prod", "bastion.prod.example");
    let dev = bastion("dev", "10.0.0.5");
    vault.save_bastion(&prod).expect("save prod");
    vault.save_bastion(&dev).expect("save dev");
    assert_eq!(
        vault.bastions().expect("list"),
        vec![prod.clone(), dev.clone()]
    );

    let moved = BastionRecord {
        port: 2222,
        ..bastion("prod", "bastion2.prod.example")
    };
    vault.save_bastion(&moved).expect("replace prod");
    assert_eq!(
        vault.bastions().expect("list"),
        vec![moved.clone(), dev.clone()]
    );

    let document: serde_json::Value =
        serde_json::from_str(&raw_records(&store)).expect("the entry holds JSON");
    assert_eq!(document["version"], RECORDS_VERSION);
    assert_eq!(document["bastions"][0]["host"], "bastion2.prod.example");
    assert_eq!(
        document["bastions"][0]["key"],
        serde_json::json!({"kind": "file", "path": KEY_FILE.path()})
    );

    assert!(vault.delete_bastion("prod").expect("delete prod"));
    assert!(!vault.delete_bastion("prod").expect("delete prod again"));
    assert_eq!(vault.bastions().expect("list"), vec![dev]);
}

#[test]
fn invalid_bastions_are_refused_with_what_to_fix() {
    let (_store, vault) = vault();
    let cases = [
        (bastion(" ", "h"), "its name is empty"),
        (bastion("prod", ""), "bastion \"prod\" has no host"),
        (bastion("prod", "bad host"), "contains spaces"),
        (
            BastionRecord {
                user: String::new(),
                ..bastion("prod", "h")
            },
            "has no user",
        ),
        (
            BastionRecord {
                port: 0,
                ..bastion("prod", "h")
            },
            "use a port between 1 and 65535",
        ),
        (
            BastionRecord {
                key: BastionKey::File {
                    path: PathBuf::from("/nonexistent/id_ed25519"),
                },
                ..bastion("prod", "h")
            },
            "there is no key file at /nonexistent/id_ed25519",
        ),
        (
            BastionRecord {
                jump: vec!["prod".to_owned()],
                ..bastion("prod", "h")
            },
            "cannot jump through itself",
        ),
        (
            BastionRecord {
                host_key: Some("MD5:aa:bb".to_owned()),
                ..bastion("prod", "h")
            },
            "is not a SHA256 fingerprint",
        ),
        (
            BastionRecord {
                keepalive_secs: Some(1),
                ..bastion("prod", "h")
            },
            "the keepalive of bastion \"prod\" is 1 s: use 5 to 3600 s",
        ),
    ];
    for (record, expected) in cases {
        let err = vault.save_bastion(&record).expect_err("invalid record");
        assert!(matches!(err, Error::InvalidBastion { .. }), "{err:?}");
        assert!(
            err.to_string().contains(expected),
            "{err} should contain {expected:?}"
        );
    }
    assert_eq!(vault.bastions().expect("list"), vec![], "nothing was saved");
}

#[test]
fn an_unreadable_records_document_is_kept_and_reported() {
    let (store, vault) = vault();
    put_raw_records(&store, "{\"version\": 1, \"bastions\": [ {\"name\": ");

    let err = vault.bastions().expect_err("corrupt records");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("(service \"{NS}\", account \"records\")")),
        "{message}"
    );
    assert!(message.contains("left untouched"), "{message}");

    let err = vault
        .save_bastion(&bastion("prod", "h"))
        .expect_err("write refused");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    let err = vault.delete_bastion("prod").expect_err("delete refused");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");

    assert_eq!(
        raw_records(&store),
        "{\"version\": 1, \"bastions\": [ {\"name\": "
    );
}

#[test]
fn records_of_a_wrong_shape_are_kept_and_reported() {
    let (store, vault) = vault();
    let document = r#"{"version": 1, "bastions": [{"name": "prod"}]}"#;
    put_raw_records(&store, document);
    let err = vault
        .save_bastion(&bastion("dev", "h"))
        .expect_err("write refused");
    assert!(err.to_string().contains("do not match version 1"), "{err}");
    assert_eq!(raw_records(&store), document);
}

#[test]
fn records_from_a_newer_version_are_kept_and_reported() {
    let (store, vault) = vault();
    let document = r#"{"version": 4, "bastions": [], "jumpHosts": []}"#;
    put_raw_records(&store, document);
    let err = vault.bastions().expect_err("newer format");
    assert!(
        matches!(err, Error::UnsupportedVersion { found: 4, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Update Airgate"), "{err}");
    vault
        .save_bastion(&bastion("prod", "h"))
        .expect_err("write refused");
    assert_eq!(raw_records(&store), document);
}

#[test]
fn secrets_round_trip_and_delete() {
    let (store, vault) = vault();
    assert!(
        vault
            .secret("ssh-key/prod")
            .expect("no entry is not an error")
            .is_none()
    );

    vault
        .set_secret(
            "ssh-key/prod",
            Sensitive::new("-----BEGIN KEY-----\nabc".to_owned()),
        )
        .expect("store");
    let stored = store
        .build(NS, "secret:ssh-key/prod", None)
        .expect("entry")
        .get_password()
        .expect("stored under the namespace");
    assert_eq!(stored, "-----BEGIN KEY-----\nabc");
    let read = vault
        .secret("ssh-key/prod")
        .expect("read")
        .expect("present");
    assert_eq!(read.expose(), "-----BEGIN KEY-----\nabc");

    vault
        .set_secret("ssh-key/prod", Sensitive::new("new".to_owned()))
        .expect("replace");
    assert_eq!(
        vault
            .secret("ssh-key/prod")
            .expect("read")
            .expect("present")
            .expose(),
        "new"
    );

    assert!(vault.delete_secret("ssh-key/prod").expect("delete"));
    assert!(!vault.delete_secret("ssh-key/prod").expect("delete again"));
    assert!(vault.secret("ssh-key/prod").expect("read").is_none());
}

#[test]
fn a_secret_larger_than_one_entry_is_split_and_joined() {
    let (_store, vault) = vault();
    let vault = vault.with_max_entry_len(Some(2560));
    let key = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n",
        "b3BlbnNzaC1rZXktdjEA".repeat(170)
    );
    assert!(key.len() > 2560);
    vault
        .set_secret("ssh-key/big", Sensitive::new(key.clone()))
        .expect("store");
    assert_eq!(
        vault
            .secret("ssh-key/big")
            .expect("read")
            .expect("present")
            .expose(),
        &key
    );
    assert!(vault.delete_secret("ssh-key/big").expect("delete"));
    assert!(vault.secret("ssh-key/big").expect("read").is_none());
}

#[test]
fn invalid_secret_keys_are_refused() {
    let (_store, vault) = vault();
    for key in ["", "a\nb", &"k".repeat(129)] {
        let err = vault.secret(key).expect_err("invalid key");
        assert!(matches!(err, Error::InvalidKey { .. }), "{err:?}");
    }
}

#[test]
fn a_secret_that_is_not_text_is_reported() {
    let (store, vault) = vault();
    store
        .build(NS, "secret:blob", None)
        .expect("entry")
        .set_secret(&[0xff, 0xfe, 0x00])
        .expect("raw bytes");
    let err = vault.secret("blob").expect_err("not UTF-8");
    assert!(matches!(err, Error::NotText { .. }), "{err:?}");
}

#[test]
fn a_locked_keyring_says_to_unlock_it_and_never_shows_the_secret() {
    let (store, vault) = vault();
    let entry = store.build(NS, "secret:pass", None).expect("entry");
    let cred: &mock::Cred = entry.as_any().downcast_ref().expect("a mock credential");
    cred.set_error(keyring_core::Error::NoStorageAccess(Box::new(
        std::io::Error::other("collection is locked"),
    )));
    let err = vault
        .set_secret("pass", Sensitive::new("correct horse battery".to_owned()))
        .expect_err("locked");
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with("The keyring is locked"), "{message}");
    assert!(message.contains("unlock it and retry"), "{message}");
    assert!(!message.contains("correct horse"), "{message}");
    assert!(!format!("{err:?}").contains("correct horse"));
}

#[test]
fn the_vault_debug_output_holds_no_secret() {
    let (_store, vault) = vault();
    vault
        .set_secret("pass", Sensitive::new("correct horse battery".to_owned()))
        .expect("store");
    let secret = vault.secret("pass").expect("read").expect("present");
    assert_eq!(format!("{secret:?}"), "<redacted>");
    let debug = format!("{vault:?}");
    assert!(debug.contains(NS), "{debug}");
    assert!(!debug.contains("correct horse"), "{debug}");
}

fn self_hosted(name: &str, bastion: Option<&str>) -> SelfHostedRecord {
    SelfHostedRecord {
        name: name.to_owned(),
        url: "https://airflow.internal:8443".to_owned(),
        airflow: AirflowMajor::Three,
        bastion: bastion.map(str::to_owned),
    }
}

#[test]
fn self_hosted_airflows_are_saved_beside_bastions() {
    let (store, vault) = vault();
    vault
        .save_bastion(&bastion("prod", "h"))
        .expect("save bastion");
    let analytics = self_hosted("analytics", Some("prod"));
    vault.save_self_hosted(&analytics).expect("save");
    vault
        .save_self_hosted(&self_hosted("lab", None))
        .expect("save lab");
    let moved = SelfHostedRecord {
        url: "http://10.0.3.7:8080".into(),
        ..analytics.clone()
    };
    vault.save_self_hosted(&moved).expect("replace analytics");
    assert_eq!(
        vault.self_hosted().expect("list"),
        vec![moved, self_hosted("lab", None)]
    );
    assert_eq!(
        vault.bastions().expect("bastions kept"),
        vec![bastion("prod", "h")]
    );

    let document: serde_json::Value =
        serde_json::from_str(&raw_records(&store)).expect("the entry holds JSON");
    assert_eq!(document["selfHosted"][0]["airflow"], "3");
    assert_eq!(document["selfHosted"][0]["bastion"], "prod");
    assert!(
        document["selfHosted"][1].get("bastion").is_none(),
        "{document}"
    );

    assert!(vault.delete_self_hosted("lab").expect("delete"));
    assert!(!vault.delete_self_hosted("lab").expect("delete again"));
    assert_eq!(vault.self_hosted().expect("list").len(), 1);

    let err = vault
        .save_self_hosted(&SelfHostedRecord {
            url: "airflow.internal".into(),
            ..self_hosted("bad", None)
        })
        .expect_err("a URL without scheme");
    assert!(matches!(err, Error::InvalidSelfHosted { .. }), "{err:?}");
    assert_eq!(vault.self_hosted().expect("list").len(), 1, "nothing saved");
}

#[test]
fn version_1_records_are_read_and_upgraded_on_the_next_write() {
    let (store, vault) = vault();
    let v1 = r#"{"version": 1, "bastions": [{"name": "prod", "host": "h", "port": 22,
        "user": "ec2-user", "keyPath": "/home/priya/.ssh/prod.pem"}]}"#;
    put_raw_records(&store, v1);
    let prod = BastionRecord {
        key: BastionKey::File {
            path: PathBuf::from("/home/priya/.ssh/prod.pem"),
        },
        ..bastion("prod", "h")
    };
    assert_eq!(vault.bastions().expect("v1 read"), vec![prod]);
    assert_eq!(vault.self_hosted().expect("v1 has none"), vec![]);
    assert_eq!(vault.keys().expect("v1 has none"), vec![]);
    vault
        .save_self_hosted(&self_hosted("lab", None))
        .expect("save");
    let document: serde_json::Value = serde_json::from_str(&raw_records(&store)).expect("JSON");
    assert_eq!(document["version"], 3);
    assert_eq!(document["bastions"][0]["name"], "prod");
    assert_eq!(
        document["bastions"][0]["key"],
        serde_json::json!({"kind": "file", "path": "/home/priya/.ssh/prod.pem"})
    );
    assert_eq!(document["selfHosted"][0]["name"], "lab");
}

fn key_record(name: &str) -> KeyRecord {
    KeyRecord {
        name: name.to_owned(),
        algorithm: "ssh-ed25519".to_owned(),
        fingerprint: "SHA256:abc".to_owned(),
        public_key: "ssh-ed25519 AAAA team".to_owned(),
        comment: "team".to_owned(),
        encrypted: true,
        passphrase_saved: false,
    }
}

fn text(value: &str) -> Sensitive<String> {
    Sensitive::new(value.to_owned())
}

#[test]
fn keys_are_stored_with_or_without_their_passphrase() {
    let (store, vault) = vault();
    let saved = vault
        .save_key(&key_record(" team "), &text("PRIVATE"), None)
        .expect("save");
    assert_eq!(saved.name, "team", "trimmed");
    assert!(!saved.passphrase_saved);
    let secret = vault.key_secret("team").expect("read").expect("exists");
    assert_eq!(secret.text.expose(), "PRIVATE");
    assert!(secret.passphrase.is_none());

    let remembered = vault
        .set_key_passphrase("team", Some(&text("correct horse")))
        .expect("remember");
    assert!(remembered.passphrase_saved);
    let secret = vault.key_secret("team").expect("read").expect("exists");
    assert_eq!(
        secret.passphrase.expect("remembered").expose(),
        "correct horse"
    );
    assert_eq!(vault.keys().expect("list"), vec![remembered]);
    assert!(
        !raw_records(&store).contains("PRIVATE") && !raw_records(&store).contains("horse"),
        "the records hold no secret"
    );

    vault.set_key_passphrase("team", None).expect("forget");
    let secret = vault.key_secret("team").expect("read").expect("exists");
    assert!(secret.passphrase.is_none());
    assert!(vault.key_secret("other").expect("read").is_none());
    assert!(matches!(
        vault.set_key_passphrase("other", None),
        Err(Error::NoSuchKey { .. })
    ));
}

#[test]
fn a_bastion_names_a_stored_key_that_exists_and_follows_its_renames() {
    let (_store, vault) = vault();
    let with_key = |key: &str| BastionRecord {
        key: BastionKey::Stored {
            name: key.to_owned(),
        },
        ..bastion("prod", "h")
    };
    let err = vault
        .save_bastion(&with_key("team"))
        .expect_err("no such key");
    assert!(matches!(err, Error::NoSuchKey { .. }), "{err:?}");
    vault
        .save_key(&key_record("team"), &text("PRIVATE"), Some(&text("pass")))
        .expect("save key");
    vault.save_bastion(&with_key("team")).expect("save bastion");
    assert_eq!(vault.key_users("team").expect("users"), vec!["prod"]);

    vault
        .save_key(&key_record("other"), &text("OTHER"), None)
        .expect("another key");
    assert!(matches!(
        vault.rename_key("team", "other"),
        Err(Error::KeyExists { .. })
    ));
    let renamed = vault.rename_key("team", "prod-key").expect("rename");
    assert_eq!(renamed.name, "prod-key");
    assert_eq!(vault.bastions().expect("list"), vec![with_key("prod-key")]);
    let secret = vault.key_secret("prod-key").expect("read").expect("moved");
    assert_eq!(secret.text.expose(), "PRIVATE");
    assert_eq!(secret.passphrase.expect("moved too").expose(), "pass");
    assert!(vault.key_secret("team").expect("read").is_none());
    assert!(
        vault.secret("ssh-key/team").expect("read").is_none(),
        "the old name's secret is gone"
    );

    assert!(vault.delete_key("prod-key").expect("delete"));
    assert!(!vault.delete_key("prod-key").expect("deleted already"));
    assert!(vault.secret("ssh-key/prod-key").expect("read").is_none());
    assert!(
        vault
            .secret("ssh-key-passphrase/prod-key")
            .expect("read")
            .is_none()
    );
    assert_eq!(vault.keys().expect("list").len(), 1, "the other key stays");
}

#[test]
fn connections_and_tokens_keep_their_secrets_apart_from_the_records() {
    let (store, vault) = vault();
    let record = ConnectionRecord {
        conn_id: " warehouse ".to_owned(),
        conn_type: "postgres".to_owned(),
        host: Some("db.internal".to_owned()),
        schema: Some("analytics".to_owned()),
        login: Some("etl".to_owned()),
        port: Some(5432),
        description: None,
        has_password: false,
        has_extra: false,
    };
    let saved = vault
        .save_connection(
            &record,
            Some(&text("p@ss:w/rd")),
            Some(&text(r#"{"sslmode":"require"}"#)),
        )
        .expect("save");
    assert_eq!(saved.conn_id, "warehouse");
    assert!(saved.has_password && saved.has_extra);
    assert_eq!(vault.connections().expect("list"), vec![saved.clone()]);
    let (stored, secrets) = vault
        .connection("warehouse")
        .expect("read")
        .expect("stored");
    assert_eq!(stored, saved);
    assert_eq!(secrets.password.expect("password").expose(), "p@ss:w/rd");
    assert_eq!(
        secrets.extra.expect("extra").expose(),
        r#"{"sslmode":"require"}"#
    );
    let document = raw_records(&store);
    assert!(
        !document.contains("p@ss") && !document.contains("sslmode"),
        "{document}"
    );

    let bad = ConnectionRecord {
        conn_id: "two words".to_owned(),
        ..record.clone()
    };
    assert!(matches!(
        vault.save_connection(&bad, None, None),
        Err(Error::InvalidConnection { .. })
    ));

    vault
        .save_token(
            &TokenRecord {
                name: "agent".to_owned(),
                note: "Airflow 3 edge worker".to_owned(),
            },
            &text("tok-123"),
        )
        .expect("token");
    assert_eq!(
        vault
            .token("agent")
            .expect("read")
            .expect("stored")
            .expose(),
        "tok-123"
    );
    assert!(!raw_records(&store).contains("tok-123"));
    assert!(vault.delete_token("agent").expect("delete"));
    assert!(vault.token("agent").expect("read").is_none());
    assert!(vault.delete_connection("warehouse").expect("delete"));
    assert!(vault.connection("warehouse").expect("read").is_none());
    assert!(
        vault
            .secret("airflow-conn/warehouse")
            .expect("read")
            .is_none()
    );
}
