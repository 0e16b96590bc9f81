//! `airgate envs` against the MWAA test server through the real SDK, as a user runs it.

mod common;

use airgate_peers::mwaa::{
    AwsProfile, EnvironmentStatus, MwaaServer, Operation, SeedEnvironment, SeededEnvironment,
};
use common::{ACCOUNT_A, ACCOUNT_B, Home, closed_port, mwaa_server, run};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const HEADER: [&str; 6] = ["NAME", "PROFILE", "REGION", "STATUS", "AIRFLOW", "ACCESS"];

/// Two accounts; account A in two regions.
struct Fleet {
    orders: SeededEnvironment,
    reports: SeededEnvironment,
    training: SeededEnvironment,
}

fn seed_fleet(server: &MwaaServer) -> Fleet {
    Fleet {
        orders: server.seed(
            ACCOUNT_A,
            "eu-west-1",
            SeedEnvironment::new("orders-prod").private(),
        ),
        reports: server.seed(
            ACCOUNT_A,
            "us-east-1",
            SeedEnvironment::new("reports")
                .public()
                .airflow_version("2.9.2"),
        ),
        training: server.seed(
            ACCOUNT_B,
            "eu-west-1",
            SeedEnvironment::new("ml-training")
                .private()
                .status(EnvironmentStatus::Updating)
                .airflow_version("3.0.6"),
        ),
    }
}

/// Profile `prod` (account A) looks in eu-west-1 and us-east-1, profile `data` (account B) in
/// eu-west-1.
fn fleet_profiles() -> Vec<AwsProfile> {
    vec![
        AwsProfile::new("prod", "AKIAA", "eu-west-1")
            .set("airgate_regions", "eu-west-1, us-east-1"),
        AwsProfile::new("data", "AKIAB", "eu-west-1"),
    ]
}

/// The table's rows as cells, cut at the columns where the header's titles start (as the eye
/// reads an aligned table). The header itself is checked, then left out.
fn table_rows(stdout: &str) -> Vec<Vec<String>> {
    let mut lines = stdout.lines();
    let header = lines.next().expect("a header line");
    let starts: Vec<usize> = HEADER
        .iter()
        .map(|title| {
            header
                .find(title)
                .unwrap_or_else(|| panic!("header has {title}: {header:?}"))
        })
        .map(|byte| header[..byte].chars().count())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] < w[1]),
        "columns in order: {header:?}"
    );
    lines
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            starts
                .iter()
                .enumerate()
                .map(|(i, &start)| {
                    let end = starts.get(i + 1).copied().unwrap_or(chars.len());
                    let cell: String = chars
                        .get(start.min(chars.len())..end.min(chars.len()))
                        .unwrap_or_default()
                        .iter()
                        .collect();
                    cell.trim().to_owned()
                })
                .collect()
        })
        .collect()
}

fn row(cells: [&str; 6]) -> Vec<String> {
    cells.map(str::to_owned).to_vec()
}

#[tokio::test]
async fn the_table_lists_every_profile_and_region() {
    let server = mwaa_server().await;
    seed_fleet(&server);
    let home = Home::new(Some(&server.endpoint()), &fleet_profiles());

    let out = run(home.airgate(&["envs"])).await;

    assert!(out.status.success(), "{out:?}");
    assert!(!out.stderr.contains("warning:"), "{out:?}");
    let mut rows = table_rows(&out.stdout);
    rows.sort();
    assert_eq!(
        rows,
        [
            row([
                "ml-training",
                "data",
                "eu-west-1",
                "UPDATING",
                "3.0.6",
                "Private · vpce"
            ]),
            row([
                "orders-prod",
                "prod",
                "eu-west-1",
                "AVAILABLE",
                "2.10.3",
                "Private · vpce"
            ]),
            row([
                "reports",
                "prod",
                "us-east-1",
                "AVAILABLE",
                "2.9.2",
                "Public"
            ]),
        ],
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn json_has_environments_and_failures_in_camel_case() {
    let server = mwaa_server().await;
    let fleet = seed_fleet(&server);
    let mut profiles = fleet_profiles();
    profiles.push(AwsProfile::new("lost", "AKIAA", "eu-west-1").without_region());
    let home = Home::new(Some(&server.endpoint()), &profiles);

    let out = run(home.airgate(&["envs", "--json"])).await;

    // A profile could not be listed: the exit status says so, the rest is printed.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let json: Value = serde_json::from_str(&out.stdout).expect("stdout is JSON");
    let envs = json["environments"].as_array().expect("environments array");
    assert_eq!(envs.len(), 3, "{json:#}");
    let by_name = |name: &str| {
        envs.iter()
            .find(|env| env["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {json:#}"))
    };
    for env in envs {
        for key in [
            "name",
            "profile",
            "region",
            "status",
            "airflowVersion",
            "access",
            "webserverHost",
        ] {
            assert!(env.get(key).is_some(), "{key} in {env}");
        }
        for snake in ["airflow_version", "webserver_host"] {
            assert!(env.get(snake).is_none(), "no {snake} in {env}");
        }
    }

    let orders = by_name("orders-prod");
    assert_eq!(orders["profile"], "prod");
    assert_eq!(orders["region"], "eu-west-1");
    assert_eq!(orders["status"], "AVAILABLE");
    assert_eq!(orders["airflowVersion"], "2.10.3");
    assert_eq!(orders["access"], "PrivateVpce");
    let orders_host = fleet.orders.webserver_host.as_deref().expect("has a host");
    assert!(orders_host.contains("-vpce."), "{orders_host}");
    assert_eq!(orders["webserverHost"], orders_host);

    let reports = by_name("reports");
    assert_eq!(reports["region"], "us-east-1");
    assert_eq!(reports["access"], "Public");
    assert_eq!(
        reports["webserverHost"],
        fleet.reports.webserver_host.as_deref().expect("has a host")
    );

    let training = by_name("ml-training");
    assert_eq!(training["profile"], "data");
    assert_eq!(training["status"], "UPDATING");
    assert_eq!(training["airflowVersion"], "3.0.6");
    assert_eq!(
        training["webserverHost"],
        fleet
            .training
            .webserver_host
            .as_deref()
            .expect("has a host")
    );

    let failures = json["failures"].as_array().expect("failures array");
    assert_eq!(failures.len(), 1, "{json:#}");
    assert_eq!(failures[0]["profile"], "lost");
    assert_eq!(failures[0]["region"], Value::Null);
    assert_eq!(failures[0]["kind"], "NoRegion");
    let message = failures[0]["message"].as_str().expect("a message");
    assert!(message.contains("has no region"), "{message}");
}

#[tokio::test]
async fn broken_profiles_are_reported_and_the_others_still_list() {
    let server = mwaa_server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("orders-prod"));
    server.seed(ACCOUNT_B, "eu-west-1", SeedEnvironment::new("hidden"));
    let down = format!("http://127.0.0.1:{}", closed_port());
    // Each profile names its own endpoint: one of them refuses connections.
    let home = Home::new(
        None,
        &[
            AwsProfile::new("prod", "AKIAA", "eu-west-1").set("endpoint_url", server.endpoint()),
            AwsProfile::new("noregion", "AKIAA", "eu-west-1")
                .without_region()
                .set("endpoint_url", server.endpoint()),
            AwsProfile::new("down", "AKIAB", "eu-west-1").set("endpoint_url", &down),
        ],
    );

    let out = run(home.airgate(&["envs"])).await;

    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let rows = table_rows(&out.stdout);
    assert_eq!(
        rows,
        [row([
            "orders-prod",
            "prod",
            "eu-west-1",
            "AVAILABLE",
            "2.10.3",
            "Private · vpce"
        ])],
        "{}",
        out.stdout
    );
    // Each broken source is said once, as a warning line, and nothing else is printed.
    let warnings: Vec<&str> = out.stderr.lines().filter(|line| !line.is_empty()).collect();
    assert!(
        warnings.iter().all(|line| line.starts_with("warning: ")),
        "{}",
        out.stderr
    );
    assert_eq!(warnings.len(), 2, "{}", out.stderr);
    assert!(
        warnings.iter().any(|line| line
            .starts_with("warning: noregion: Profile noregion has no region: set `region`")),
        "{}",
        out.stderr
    );
    assert!(
        warnings.iter().any(|line| line.starts_with(&format!(
            "warning: down/eu-west-1: Cannot reach MWAA at {down} for profile down in eu-west-1"
        ))),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn endpoint_from_the_environment_variable() {
    let server = mwaa_server().await;
    let seeded = server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("orders-prod"));
    // No endpoint_url in the profile: without the variable the SDK would go to AWS itself.
    let home = Home::new(None, &[AwsProfile::new("prod", "AKIAA", "eu-west-1")]);
    let config = std::fs::read_to_string(&home.aws.config).expect("config written");
    assert!(!config.contains("endpoint_url"), "{config}");

    let mut command = home.airgate(&["envs", "--json"]);
    command.env("AWS_ENDPOINT_URL_MWAA", server.endpoint());
    let out = run(command).await;

    assert!(out.status.success(), "{out:?}");
    let json: Value = serde_json::from_str(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["failures"], Value::Array(vec![]), "{json:#}");
    let envs = json["environments"].as_array().expect("environments array");
    assert_eq!(envs.len(), 1, "{json:#}");
    assert_eq!(envs[0]["name"], "orders-prod");
    assert_eq!(
        envs[0]["webserverHost"],
        seeded.webserver_host.as_deref().expect("has a host")
    );
    assert_eq!(server.calls(Operation::ListEnvironments), 1);
}

/// Counts the connections made to a loopback listener standing in for the instance metadata
/// service.
async fn fake_metadata_service() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, hits)
}

#[tokio::test]
async fn credentials_come_only_from_profiles_never_from_instance_metadata() {
    let server = mwaa_server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("orders-prod"));
    let (metadata, hits) = fake_metadata_service().await;
    let endpoint = server.endpoint();
    // Three profiles for which the SDK's default chains would ask the instance metadata service:
    // no region, an instance role as credential source, no credentials at all.
    let home = Home::new(
        Some(&endpoint),
        &[
            AwsProfile::new("prod", "AKIAA", "eu-west-1"),
            AwsProfile::new("noregion", "AKIAA", "eu-west-1").without_region(),
            AwsProfile::new("instance-role", "AKIAA", "eu-west-1")
                .without_keys()
                .set("credential_source", "Ec2InstanceMetadata")
                .set("role_arn", "arn:aws:iam::111111111111:role/airflow-viewer"),
            AwsProfile::new("nokeys", "AKIAA", "eu-west-1").without_keys(),
        ],
    );

    let mut command = home.airgate(&["envs", "--json"]);
    // The metadata service is enabled and points at the counting listener; STS at a closed
    // port, so that nothing could ever leave the machine.
    command
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata)
        .env(
            "AWS_ENDPOINT_URL_STS",
            format!("http://127.0.0.1:{}", closed_port()),
        );
    let out = run(command).await;

    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let json: Value = serde_json::from_str(&out.stdout).expect("stdout is JSON");
    let names: Vec<&str> = json["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .filter_map(|env| env["name"].as_str())
        .collect();
    assert_eq!(names, ["orders-prod"], "{json:#}");
    let mut failed: Vec<(&str, &str)> = json["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| {
            (
                f["profile"].as_str().unwrap_or(""),
                f["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            ("instance-role", "Credentials"),
            ("nokeys", "Credentials"),
            ("noregion", "NoRegion")
        ],
        "{json:#}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the instance metadata service was contacted"
    );
}

#[tokio::test]
async fn a_broken_line_in_one_profile_leaves_the_others_listed_and_fails_the_exit_status() {
    let server = mwaa_server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("env-a"));
    server.seed(ACCOUNT_B, "eu-west-1", SeedEnvironment::new("env-b"));
    let home = Home::new(
        Some(&server.endpoint()),
        &[
            AwsProfile::new("a", "AKIAA", "eu-west-1"),
            AwsProfile::new("b", "AKIAB", "eu-west-1"),
            AwsProfile::new("c", "AKIAA", "eu-west-1"),
        ],
    );
    let config = std::fs::read_to_string(&home.aws.config).expect("config");
    let broken = config.replacen("[profile b]\n", "[profile b]\nthis line is broken\n", 1);
    std::fs::write(&home.aws.config, &broken).expect("config written");

    let out = run(home.airgate(&["envs"])).await;

    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let rows = table_rows(&out.stdout);
    let profiles: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    // a and c reach the same account: its environment once, seen by both; b is skipped.
    assert_eq!(profiles, ["a, c"], "{}", out.stdout);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning, for the broken profile: {out:?}"
    );
    assert!(warnings[0].contains("Profile b in "), "{out:?}");
    assert!(warnings[0].contains("is broken at line"), "{out:?}");
    assert!(
        !out.stderr.contains("has no region"),
        "no misleading follow-up: {out:?}"
    );
}

#[tokio::test]
async fn no_aws_files_at_all_say_where_airgate_looked() {
    let home = Home::new(None, &[]);
    std::fs::remove_file(&home.aws.config).expect("remove config");
    let _ = std::fs::remove_file(&home.aws.credentials);

    let out = run(home.airgate(&["envs"])).await;

    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        !out.stdout.contains("No MWAA environments found"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("No AWS profiles found. Airgate looked in"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("{}", home.aws.config.display())),
        "{out:?}"
    );
    assert!(out.stderr.contains("aws configure sso"), "{out:?}");
}

#[tokio::test]
async fn an_environment_two_profiles_see_is_listed_once_and_filters_narrow_the_list() {
    let server = mwaa_server().await;
    seed_fleet(&server);
    // `prod-readonly` reaches account A too (another role, the same environments).
    let mut profiles = fleet_profiles();
    profiles.push(
        AwsProfile::new("prod-readonly", "AKIAA", "eu-west-1")
            .set("airgate_regions", "eu-west-1, us-east-1"),
    );
    let home = Home::new(Some(&server.endpoint()), &profiles);

    let out = run(home.airgate(&["envs"])).await;
    assert!(out.status.success(), "{out:?}");
    let mut rows = table_rows(&out.stdout);
    rows.sort();
    let names: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("ml-training", "data"),
            ("orders-prod", "prod, prod-readonly"),
            ("reports", "prod, prod-readonly"),
        ],
        "{}",
        out.stdout
    );

    let json = run(home.airgate(&["envs", "--json"])).await;
    let found: Value = serde_json::from_str(&json.stdout).expect("JSON");
    let orders = found["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .find(|e| e["name"] == "orders-prod")
        .expect("orders-prod");
    assert_eq!(orders["profile"], "prod");
    assert_eq!(orders["alsoSeenBy"], serde_json::json!(["prod-readonly"]));

    // Filters: a profile (its environments, also those listed under another profile) and a
    // region.
    let readonly = run(home.airgate(&[
        "envs",
        "--profile",
        "prod-readonly",
        "--region",
        "us-east-1",
    ]))
    .await;
    assert!(readonly.status.success(), "{readonly:?}");
    let rows = table_rows(&readonly.stdout);
    assert_eq!(rows.len(), 1, "{}", readonly.stdout);
    assert_eq!(rows[0][0], "reports");
    let data = run(home.airgate(&["envs", "--profile", "data", "--json"])).await;
    let found: Value = serde_json::from_str(&data.stdout).expect("JSON");
    let names: Vec<&str> = found["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["ml-training"]);
}
