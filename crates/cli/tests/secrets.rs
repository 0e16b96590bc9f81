//! `airgate conns push` and `pull` against moto's Secrets Manager server (the real API, through
//! the real SDK), with the prefix read from the environment's `AirflowConfigurationOptions` on
//! the MWAA test server, and connections in the real keyring. Secrets are checked with boto3, the
//! client Airflow's own Secrets Manager backend uses.

mod common;

use std::io::Write as _;

use airgate_peers::moto::Moto;
use airgate_peers::mwaa::{AwsProfile, SeedEnvironment};
use common::{ACCOUNT_A, Home, mwaa_server, run};
use serde_json::{Value, json};

const REGION: &str = "eu-west-1";
const BACKEND: &str = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend";
const WAREHOUSE_URI: &str =
    "postgres://etl:p%40ss-w0rd%21@db.internal:5432/analytics?sslmode=require";
const API_JSON: &str = r#"{"conn_type": "http", "host": "api.internal", "password": "t0ken/with spaces", "extra": {"retries": 3, "headers": {"X-Team": "data"}}}"#;

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

/// A home whose profile `prod` (account A) reaches MWAA and Secrets Manager at their own
/// loopback endpoints, through a `services` section as the AWS CLI reads it.
fn home(mwaa: &str, secrets: &str) -> Home {
    let home = Home::new(
        None,
        &[AwsProfile::new("prod", "AKIAA", REGION).set("services", "local")],
    );
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&home.aws.config)
        .expect("config file");
    write!(
        config,
        "[services local]\nmwaa =\n  endpoint_url = {mwaa}\nsecrets_manager =\n  endpoint_url = {secrets}\n"
    )
    .expect("services section");
    home
}

fn secret_string(moto: &Moto, name: &str) -> Option<String> {
    let answer = moto
        .call(REGION, "get_secret_value", &json!({ "SecretId": name }))
        .expect("boto3 get_secret_value");
    answer["SecretString"].as_str().map(str::to_owned)
}

/// The `NAME='value'` lines of `airgate conns export`, as (name, value).
fn exported(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| {
            (
                name.to_owned(),
                value.trim_matches('\'').replace("'\\''", "'"),
            )
        })
        .collect()
}

#[tokio::test]
async fn connections_go_to_and_come_back_from_secrets_manager_under_the_environments_prefix() {
    if !keyring_or_skip() {
        return;
    }
    let moto = Moto::start().expect("moto's server starts");
    let mwaa = mwaa_server().await;
    mwaa.seed(
        ACCOUNT_A,
        REGION,
        SeedEnvironment::new("orders-prod")
            .airflow_option("secrets.backend", BACKEND)
            .airflow_option(
                "secrets.backend_kwargs",
                r#"{"connections_prefix" : "prod/airflow/connections", "variables_prefix" : "prod/airflow/variables"}"#,
            ),
    );
    mwaa.seed(ACCOUNT_A, REGION, SeedEnvironment::new("reports"));
    mwaa.seed(
        ACCOUNT_A,
        REGION,
        SeedEnvironment::new("sealed")
            .airflow_option("secrets.backend", BACKEND)
            .airflow_option("secrets.backend_kwargs", r#"{"connections_prefix": null}"#),
    );
    let laptop = home(&mwaa.endpoint(), moto.endpoint());

    for (id, value) in [("warehouse", WAREHOUSE_URI), ("api", API_JSON)] {
        let stored =
            run(laptop.airgate_with_keyring(&["conns", "import", "--uri", id, value])).await;
        assert!(stored.status.success(), "{stored:?}");
    }

    // Push: created under the prefix orders-prod's Airflow reads, with the value Airflow reads.
    let pushed = run(laptop.airgate_with_keyring(&["conns", "push", "--env", "orders-prod"])).await;
    assert!(pushed.status.success(), "{pushed:?}");
    assert!(
        pushed
            .stderr
            .contains("Pushed warehouse to prod/airflow/connections/warehouse (created)."),
        "{}",
        pushed.stderr
    );
    assert!(
        pushed
            .stderr
            .contains("Pushed api to prod/airflow/connections/api (created)."),
        "{}",
        pushed.stderr
    );
    assert_eq!(
        secret_string(&moto, "prod/airflow/connections/warehouse").as_deref(),
        Some(WAREHOUSE_URI)
    );
    // The secret holds what AIRFLOW_CONN_API would: the value any Airflow reads back unchanged.
    let export = run(laptop.airgate_with_keyring(&["conns", "export", "api"])).await;
    assert_eq!(
        exported(&export.stdout),
        [(
            "AIRFLOW_CONN_API".to_owned(),
            secret_string(&moto, "prod/airflow/connections/api").expect("api secret")
        )]
    );
    // With --json, the JSON form (what Airflow 2.3 and later read).
    let json_push = run(laptop.airgate_with_keyring(&[
        "conns",
        "push",
        "api",
        "--json",
        "--env",
        "orders-prod",
    ]))
    .await;
    assert!(json_push.status.success(), "{json_push:?}");
    let api: Value = serde_json::from_str(
        &secret_string(&moto, "prod/airflow/connections/api").expect("api secret"),
    )
    .expect("the api secret is JSON");
    assert_eq!(api["password"], "t0ken/with spaces");
    assert_eq!(api["extra"]["headers"]["X-Team"], "data");
    for run in [&pushed, &json_push] {
        assert!(
            !run.stderr.contains("p@ss") && !run.stderr.contains("t0ken"),
            "no password in the output: {}",
            run.stderr
        );
    }

    // A new password locally, pushed again: the same secret, updated.
    let changed = run(laptop.airgate_with_keyring(&[
        "conns",
        "import",
        "--uri",
        "warehouse",
        "postgres://etl:n3w@db.internal:5432/analytics",
    ]))
    .await;
    assert!(changed.status.success(), "{changed:?}");
    let again =
        run(laptop.airgate_with_keyring(&["conns", "push", "warehouse", "--env", "orders-prod"]))
            .await;
    assert!(again.status.success(), "{again:?}");
    assert!(again.stderr.contains("(updated)"), "{}", again.stderr);
    assert_eq!(
        secret_string(&moto, "prod/airflow/connections/warehouse").as_deref(),
        Some("postgres://etl:n3w@db.internal:5432/analytics")
    );

    // Secrets written by others: the backend's own field names, one that is no connection, and
    // one outside the prefix.
    for (name, value) in [
        (
            "prod/airflow/connections/legacy",
            r#"{"engine": "mysql", "user": "app", "pass": "pw", "server": "mysql.internal", "port": "3306", "database": "shop", "note": "dropped"}"#,
        ),
        ("prod/airflow/connections/broken", "not a connection"),
        ("team/other", "postgres://x@y/z"),
    ] {
        let made = moto
            .call(
                REGION,
                "create_secret",
                &json!({ "Name": name, "SecretString": value }),
            )
            .expect("boto3 create_secret");
        assert!(made.get("Error").is_none(), "{made}");
    }

    // Another machine pulls everything under the prefix.
    let desk = home(&mwaa.endpoint(), moto.endpoint());
    let pulled = run(desk.airgate_with_keyring(&["conns", "pull", "--env", "orders-prod"])).await;
    assert_eq!(
        pulled.status.code(),
        Some(2),
        "one secret is no connection: {pulled:?}"
    );
    for id in ["api", "legacy", "warehouse"] {
        assert!(
            pulled
                .stderr
                .contains(&format!("Stored {id} from prod/airflow/connections/{id}.")),
            "{}",
            pulled.stderr
        );
    }
    assert!(
        pulled
            .stderr
            .contains("warning: broken: the secret prod/airflow/connections/broken"),
        "{}",
        pulled.stderr
    );
    assert!(!pulled.stderr.contains("other"), "{}", pulled.stderr);
    let export = run(desk.airgate_with_keyring(&["conns", "export", "--json"])).await;
    assert!(export.status.success(), "{export:?}");
    let lines = exported(&export.stdout);
    let conn = |id: &str| -> Value {
        let name = format!("AIRFLOW_CONN_{}", id.to_uppercase());
        let value = &lines
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} exported: {lines:?}"))
            .1;
        serde_json::from_str(value).expect("JSON form")
    };
    assert_eq!(
        conn("legacy"),
        json!({"conn_type": "mysql", "host": "mysql.internal", "login": "app", "password": "pw", "schema": "shop", "port": 3306})
    );
    assert_eq!(conn("warehouse")["password"], "n3w");
    assert_eq!(conn("api")["extra"]["retries"], 3);

    // Pulled again: what is stored is kept unless replaced.
    let kept =
        run(desk.airgate_with_keyring(&["conns", "pull", "legacy", "--env", "orders-prod"])).await;
    assert_eq!(kept.status.code(), Some(2), "{kept:?}");
    assert!(kept.stderr.contains("stored already"), "{}", kept.stderr);
    let replaced = run(desk.airgate_with_keyring(&[
        "conns",
        "pull",
        "legacy",
        "--env",
        "orders-prod",
        "--replace",
    ]))
    .await;
    assert!(replaced.status.success(), "{replaced:?}");

    // An environment without a secrets backend: the conventional prefix, and a warning that its
    // Airflow does not read it yet.
    let plain =
        run(laptop.airgate_with_keyring(&["conns", "push", "api", "--env", "reports"])).await;
    assert!(plain.status.success(), "{plain:?}");
    assert!(
        plain
            .stderr
            .contains("reports has no secrets backend configured"),
        "{}",
        plain.stderr
    );
    assert!(secret_string(&moto, "airflow/connections/api").is_some());

    // A prefix of one's own, without an environment.
    let own = run(laptop.airgate_with_keyring(&[
        "conns",
        "push",
        "warehouse",
        "--profile",
        "prod",
        "--region",
        REGION,
        "--prefix",
        "team/conns/",
    ]))
    .await;
    assert!(own.status.success(), "{own:?}");
    assert!(secret_string(&moto, "team/conns/warehouse").is_some());

    // An environment whose Airflow looks up no connections there: refused, nothing written.
    let sealed = run(laptop.airgate_with_keyring(&["conns", "push", "--env", "sealed"])).await;
    assert!(!sealed.status.success(), "{sealed:?}");
    assert!(
        sealed
            .stderr
            .contains("sealed does not look up connections in Secrets Manager"),
        "{}",
        sealed.stderr
    );
    let listed = moto
        .call(REGION, "list_secrets", &json!({}))
        .expect("boto3 list_secrets");
    let names: Vec<&str> = listed["SecretList"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["Name"].as_str())
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
}

#[tokio::test]
async fn an_unreachable_secrets_manager_is_named_and_nothing_is_lost() {
    if !keyring_or_skip() {
        return;
    }
    let mwaa = mwaa_server().await;
    mwaa.seed(ACCOUNT_A, REGION, SeedEnvironment::new("orders-prod"));
    let closed = format!("http://127.0.0.1:{}", common::closed_port());
    let laptop = home(&mwaa.endpoint(), &closed);
    let stored =
        run(laptop.airgate_with_keyring(&["conns", "import", "--uri", "db", WAREHOUSE_URI])).await;
    assert!(stored.status.success(), "{stored:?}");

    let pushed = run(laptop.airgate_with_keyring(&["conns", "push", "--env", "orders-prod"])).await;
    assert_eq!(pushed.status.code(), Some(2), "{pushed:?}");
    assert!(
        pushed.stderr.contains(
            "Cannot reach Secrets Manager for profile prod in eu-west-1 (Connection refused"
        ),
        "{}",
        pushed.stderr
    );
    let pulled = run(laptop.airgate_with_keyring(&["conns", "pull", "--env", "orders-prod"])).await;
    assert!(!pulled.status.success(), "{pulled:?}");
    assert!(
        pulled.stderr.contains("Cannot reach Secrets Manager"),
        "{}",
        pulled.stderr
    );
    let export = run(laptop.airgate_with_keyring(&["conns", "export"])).await;
    assert_eq!(
        exported(&export.stdout),
        [("AIRFLOW_CONN_DB".to_owned(), WAREHOUSE_URI.to_owned())],
        "the stored connection is untouched"
    );
}
