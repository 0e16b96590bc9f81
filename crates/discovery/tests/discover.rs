//! Discovery across profiles and regions against the MWAA test server, through the real SDK.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use airgate_discovery::{
    AccessMode, AwsFiles, Discovery, Error, FailureKind, discover_with, load_profiles,
};
use airgate_peers::mwaa::{AwsProfile, ErrorCode, FaultRule, Operation, SeedEnvironment};
use common::{ACCOUNT_A, ACCOUNT_B, ACCOUNT_C, options, server, write_files};

fn found(discovery: &Discovery) -> Vec<(String, String, String)> {
    discovery
        .environments
        .iter()
        .map(|e| (e.profile.clone(), e.region.clone(), e.name.clone()))
        .collect()
}

fn triple(profile: &str, region: &str, name: &str) -> (String, String, String) {
    (profile.to_owned(), region.to_owned(), name.to_owned())
}

#[tokio::test]
async fn every_page_is_followed() {
    let server = server().await;
    for i in 0..27 {
        server.seed(
            ACCOUNT_A,
            "eu-west-1",
            SeedEnvironment::new(format!("env-{i:02}")),
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[AwsProfile::new("prod", "AKIAA", "eu-west-1")],
    );
    let discovery = discover_with(&files, &options()).await;
    assert!(discovery.failures.is_empty(), "{:?}", discovery.failures);
    assert_eq!(discovery.environments.len(), 27);
    assert_eq!(discovery.environments[0].name, "env-00");
    assert_eq!(discovery.environments[26].name, "env-26");
    // The server's default page holds 10 names.
    assert_eq!(server.calls(Operation::ListEnvironments), 3);
    assert_eq!(server.calls(Operation::GetEnvironment), 27);
}

#[tokio::test]
async fn three_accounts_two_regions_each_see_their_own() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("a-private"));
    server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("a-public").public(),
    );
    server.seed(ACCOUNT_A, "us-east-1", SeedEnvironment::new("a-us"));
    server.seed(
        ACCOUNT_B,
        "eu-west-1",
        SeedEnvironment::new("b-env").airflow_version("3.0.6"),
    );
    server.seed(
        ACCOUNT_C,
        "us-east-1",
        SeedEnvironment::new("c-env").public(),
    );
    // Profile c does not look in eu-west-1.
    server.seed(ACCOUNT_C, "eu-west-1", SeedEnvironment::new("c-hidden"));
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[
            AwsProfile::new("alpha", "AKIAA", "eu-west-1").set("airgate_regions", "us-east-1"),
            AwsProfile::new("beta", "AKIAB", "eu-west-1"),
            AwsProfile::new("gamma", "AKIAC", "us-east-1"),
        ],
    );
    let discovery = discover_with(&files, &options()).await;
    assert!(discovery.failures.is_empty(), "{:?}", discovery.failures);
    assert_eq!(
        found(&discovery),
        [
            triple("alpha", "eu-west-1", "a-private"),
            triple("alpha", "eu-west-1", "a-public"),
            triple("alpha", "us-east-1", "a-us"),
            triple("beta", "eu-west-1", "b-env"),
            triple("gamma", "us-east-1", "c-env"),
        ]
    );
    for env in &discovery.environments {
        let host = env
            .webserver_host
            .as_deref()
            .expect("available: has a host");
        match env.access {
            AccessMode::PrivateVpce => assert!(host.contains("-vpce."), "{host}"),
            AccessMode::Public => assert!(!host.contains("-vpce"), "{host}"),
        }
        assert!(host.ends_with(&format!(".{}.airflow.amazonaws.com", env.region)));
        assert_eq!(env.status, "AVAILABLE");
    }
    let by_name = |name: &str| {
        discovery
            .environments
            .iter()
            .find(|e| e.name == name)
            .expect("listed")
    };
    assert_eq!(by_name("a-private").access, AccessMode::PrivateVpce);
    assert_eq!(by_name("a-public").access, AccessMode::Public);
    assert_eq!(by_name("c-env").access, AccessMode::Public);
    assert_eq!(by_name("b-env").airflow_version.as_deref(), Some("3.0.6"));
    assert_eq!(
        by_name("b-env").arn.as_deref(),
        Some("arn:aws:airflow:eu-west-1:222222222222:environment/b-env")
    );
    // Who each profile is, from STS (answered by the same server, by access key).
    let identities: Vec<(&str, &str, &str)> = discovery
        .identities
        .iter()
        .map(|i| (i.profile.as_str(), i.account.as_str(), i.arn.as_str()))
        .collect();
    assert_eq!(
        identities,
        [
            ("alpha", ACCOUNT_A, "arn:aws:iam::111111111111:user/AKIAA"),
            ("beta", ACCOUNT_B, "arn:aws:iam::222222222222:user/AKIAB"),
            ("gamma", ACCOUNT_C, "arn:aws:iam::333333333333:user/AKIAC"),
        ]
    );
}

#[tokio::test]
async fn an_environment_deleted_between_list_and_get_is_skipped() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("doomed"));
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("stays"));
    // Each GetEnvironment waits before it reads the state: time to delete one after listing.
    server
        .faults()
        .set_latency(Operation::GetEnvironment, Duration::from_millis(700));
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[AwsProfile::new("prod", "AKIAA", "eu-west-1")],
    );
    let sweep = tokio::spawn({
        let files = files.clone();
        async move { discover_with(&files, &options()).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.calls(Operation::ListEnvironments) == 0 {
        assert!(Instant::now() < deadline, "ListEnvironments never came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(server.remove(ACCOUNT_A, "eu-west-1", "doomed"));
    let discovery = sweep.await.expect("sweep ran");
    assert!(discovery.failures.is_empty(), "{:?}", discovery.failures);
    assert_eq!(found(&discovery), [triple("prod", "eu-west-1", "stays")]);
    assert_eq!(server.calls(Operation::GetEnvironment), 2);
}

#[tokio::test]
async fn throttled_once_then_retried() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("prod"));
    server
        .faults()
        .throttle_next(Operation::ListEnvironments, 1);
    server.faults().throttle_next(Operation::GetEnvironment, 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[AwsProfile::new("prod", "AKIAA", "eu-west-1")],
    );
    let discovery = discover_with(&files, &options()).await;
    assert!(discovery.failures.is_empty(), "{:?}", discovery.failures);
    assert_eq!(found(&discovery), [triple("prod", "eu-west-1", "prod")]);
    assert_eq!(server.calls(Operation::ListEnvironments), 2);
    assert_eq!(server.calls(Operation::GetEnvironment), 2);
}

#[tokio::test]
async fn persistent_throttling_fails_only_that_source() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("a-env"));
    server.seed(ACCOUNT_B, "eu-west-1", SeedEnvironment::new("b-env"));
    server.seed(ACCOUNT_C, "eu-west-1", SeedEnvironment::new("c-env"));
    server.faults().fail(
        FaultRule::new(ErrorCode::ThrottlingException)
            .account(ACCOUNT_B)
            .op(Operation::ListEnvironments),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[
            AwsProfile::new("alpha", "AKIAA", "eu-west-1"),
            AwsProfile::new("beta", "AKIAB", "eu-west-1"),
            AwsProfile::new("gamma", "AKIAC", "eu-west-1"),
        ],
    );
    let discovery = discover_with(&files, &options()).await;
    assert_eq!(
        found(&discovery),
        [
            triple("alpha", "eu-west-1", "a-env"),
            triple("gamma", "eu-west-1", "c-env"),
        ]
    );
    assert_eq!(discovery.failures.len(), 1, "{:?}", discovery.failures);
    let failure = &discovery.failures[0];
    assert_eq!(failure.profile, "beta");
    assert_eq!(failure.region.as_deref(), Some("eu-west-1"));
    assert_eq!(failure.kind, FailureKind::Throttled);
    assert!(failure.message.contains("try again"), "{}", failure.message);
    // The SDK retried before giving up.
    assert_eq!(server.calls(Operation::ListEnvironments), 2 + 3);
}

#[tokio::test]
async fn access_denied_and_refused_keys_are_told_apart() {
    let server = airgate_peers::mwaa::MwaaServer::start(airgate_peers::mwaa::MwaaConfig {
        strict_access_keys: true,
        ..airgate_peers::mwaa::MwaaConfig::default()
            .access_key("AKIAA", ACCOUNT_A)
            .access_key("AKIAB", ACCOUNT_B)
    })
    .await
    .expect("server starts");
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("a-env"));
    server
        .faults()
        .fail(FaultRule::new(ErrorCode::AccessDeniedException).account(ACCOUNT_B));
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[
            AwsProfile::new("alpha", "AKIAA", "eu-west-1"),
            AwsProfile::new("beta", "AKIAB", "eu-west-1"),
            AwsProfile::new("stale", "AKIAOLD", "eu-west-1"),
        ],
    );
    let discovery = discover_with(&files, &options()).await;
    assert_eq!(found(&discovery), [triple("alpha", "eu-west-1", "a-env")]);
    let kinds: Vec<(&str, FailureKind)> = discovery
        .failures
        .iter()
        .map(|f| (f.profile.as_str(), f.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("beta", FailureKind::AccessDenied),
            ("stale", FailureKind::Credentials)
        ]
    );
    assert!(
        discovery.failures[0]
            .message
            .contains("airflow:ListEnvironments")
    );
    assert!(
        discovery.failures[1]
            .message
            .contains("UnrecognizedClientException")
    );
}

#[tokio::test]
async fn profiles_without_region_or_credentials_fail_alone() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("prod"));
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[
            AwsProfile::new("good", "AKIAA", "eu-west-1"),
            AwsProfile::new("nowhere", "AKIAB", "eu-west-1").without_region(),
            AwsProfile::new("broken-process", "AKIAC", "eu-west-1")
                .without_keys()
                .set(
                    "credential_process",
                    "sh -c 'echo token service down >&2; exit 3'",
                ),
        ],
    );
    let discovery = discover_with(&files, &options()).await;
    assert_eq!(found(&discovery), [triple("good", "eu-west-1", "prod")]);
    assert_eq!(discovery.failures.len(), 2, "{:?}", discovery.failures);
    let process = &discovery.failures[0];
    assert_eq!(process.profile, "broken-process");
    assert_eq!(process.kind, FailureKind::Credentials);
    assert_eq!(process.region, None);
    assert!(
        process
            .message
            .contains("credential_process of profile broken-process failed"),
        "{}",
        process.message
    );
    let nowhere = &discovery.failures[1];
    assert_eq!(nowhere.profile, "nowhere");
    assert_eq!(nowhere.kind, FailureKind::NoRegion);
    assert_eq!(nowhere.region, None);
    assert!(
        nowhere
            .message
            .starts_with("Profile nowhere has no region: set `region`"),
        "{}",
        nowhere.message
    );
    // Neither failing profile reached the service.
    assert_eq!(server.calls(Operation::ListEnvironments), 1);
}

#[tokio::test]
async fn a_broken_config_file_is_named_and_the_credentials_file_still_works() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("prod"));
    let dir = tempfile::tempdir().expect("temp dir");
    let files = AwsFiles {
        config: dir.path().join("config"),
        credentials: dir.path().join("credentials"),
    };
    std::fs::write(
        &files.config,
        "[profile other]\nregion = us-east-1\nthis line has no equals sign\n",
    )
    .expect("config written");
    std::fs::write(
        &files.credentials,
        format!(
            "[solo]\naws_access_key_id = AKIAA\naws_secret_access_key = s\n\
             region = eu-west-1\nendpoint_url = {}\n",
            server.endpoint()
        ),
    )
    .expect("credentials written");

    let err = load_profiles(&files).await.expect_err("config is broken");
    assert!(matches!(err, Error::ParseConfig { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&files.config.display().to_string()), "{text}");
    assert!(text.contains("line 3"), "{text}");

    let discovery = discover_with(&files, &options()).await;
    assert_eq!(found(&discovery), [triple("solo", "eu-west-1", "prod")]);
    assert_eq!(discovery.failures.len(), 1, "{:?}", discovery.failures);
    let failure = &discovery.failures[0];
    assert_eq!(failure.kind, FailureKind::Config);
    assert_eq!(failure.profile, "other");
    assert!(failure.message.contains("line 3"), "{}", failure.message);
    assert!(
        failure
            .message
            .contains(&files.config.display().to_string()),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn one_broken_line_skips_its_profile_only() {
    let server = server().await;
    for (account, name) in [
        (ACCOUNT_A, "env-a"),
        (ACCOUNT_B, "env-b"),
        (ACCOUNT_C, "env-c"),
    ] {
        server.seed(account, "eu-west-1", SeedEnvironment::new(name));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[
            AwsProfile::new("a", "AKIAA", "eu-west-1"),
            AwsProfile::new("b", "AKIAB", "eu-west-1"),
            AwsProfile::new("c", "AKIAC", "eu-west-1"),
        ],
    );
    // A stray line without `=` inside profile b, as a hand edit leaves it.
    let config = std::fs::read_to_string(&files.config).expect("config");
    let broken = config.replacen("[profile b]\n", "[profile b]\nthis line is broken\n", 1);
    assert_ne!(broken, config, "profile b is in the config:\n{config}");
    std::fs::write(&files.config, &broken).expect("config written");
    let line = broken
        .lines()
        .position(|l| l == "this line is broken")
        .expect("the stray line")
        + 1;

    let discovery = discover_with(&files, &options()).await;

    assert_eq!(
        found(&discovery),
        [
            triple("a", "eu-west-1", "env-a"),
            triple("c", "eu-west-1", "env-c")
        ]
    );
    assert_eq!(discovery.failures.len(), 1, "{:?}", discovery.failures);
    let failure = &discovery.failures[0];
    assert_eq!(
        (failure.profile.as_str(), failure.kind),
        ("b", FailureKind::Config)
    );
    assert!(
        failure.message.starts_with(&format!(
            "Profile b in {} is broken at line {line} (",
            files.config.display()
        )),
        "{}",
        failure.message
    );
    // The user's file is left as it was.
    assert_eq!(
        std::fs::read_to_string(&files.config).expect("config"),
        broken
    );
}

#[tokio::test]
async fn no_profiles_at_all_says_where_airgate_looked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = AwsFiles {
        config: dir.path().join("config"),
        credentials: dir.path().join("credentials"),
    };
    let discovery = discover_with(&files, &options()).await;
    assert!(discovery.environments.is_empty());
    assert_eq!(discovery.failures.len(), 1, "{:?}", discovery.failures);
    let failure = &discovery.failures[0];
    assert_eq!(failure.kind, FailureKind::NoProfiles);
    for path in [&files.config, &files.credentials] {
        assert!(
            failure
                .message
                .contains(&format!("{}, missing", path.display())),
            "{}",
            failure.message
        );
    }
    assert!(
        failure.message.contains("aws configure sso"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn load_profiles_lists_both_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        "http://127.0.0.1:9",
        &[
            AwsProfile::new("default", "AKIAA", "eu-west-1"),
            AwsProfile::new("multi", "AKIAB", "eu-west-1")
                .set("airgate_regions", "us-east-1, eu-west-1, ap-south-1"),
        ],
    );
    let profiles = load_profiles(&files).await.expect("profiles load");
    let listed: Vec<(&str, Vec<&str>)> = profiles
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.regions.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("default", vec!["eu-west-1"]),
            ("multi", vec!["eu-west-1", "us-east-1", "ap-south-1"]),
        ]
    );
    // Missing files are empty, as for the AWS CLI.
    let none = AwsFiles {
        config: dir.path().join("absent-config"),
        credentials: dir.path().join("absent-credentials"),
    };
    assert!(load_profiles(&none).await.expect("no files").is_empty());
}

#[tokio::test]
async fn unreachable_endpoints_fail_in_bounded_time() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("prod"));
    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    // A listener that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("temp dir");
    let good = write_files(
        &dir.path().join("good"),
        &server.endpoint(),
        &[AwsProfile::new("good", "AKIAA", "eu-west-1")],
    );
    let good_config = std::fs::read_to_string(&good.config).expect("read");
    let good_credentials = std::fs::read_to_string(&good.credentials).expect("read");
    let files = AwsFiles {
        config: dir.path().join("config"),
        credentials: dir.path().join("credentials"),
    };
    std::fs::write(
        &files.config,
        format!(
            "{good_config}\n[profile refused]\nregion = eu-west-1\nendpoint_url = http://{closed}\n\n\
             [profile silent]\nregion = eu-west-1\nendpoint_url = http://{silent_addr}\n"
        ),
    )
    .expect("config");
    std::fs::write(
        &files.credentials,
        format!(
            "{good_credentials}\n[refused]\naws_access_key_id = AKIAB\naws_secret_access_key = s\n\n\
             [silent]\naws_access_key_id = AKIAC\naws_secret_access_key = s\n"
        ),
    )
    .expect("credentials");

    let mut opts = options();
    opts.attempt_timeout = Duration::from_millis(800);
    opts.operation_timeout = Duration::from_secs(3);
    let started = Instant::now();
    let discovery = discover_with(&files, &opts).await;
    let took = started.elapsed();
    drop(silent);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert_eq!(found(&discovery), [triple("good", "eu-west-1", "prod")]);
    let kinds: Vec<(&str, FailureKind)> = discovery
        .failures
        .iter()
        .map(|f| (f.profile.as_str(), f.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("refused", FailureKind::Unreachable),
            ("silent", FailureKind::Unreachable)
        ]
    );
    assert!(
        discovery.failures[0].message.contains(&closed.to_string()),
        "{}",
        discovery.failures[0].message
    );
}

#[tokio::test]
async fn endpoint_from_a_services_section() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("prod"));
    let dir = tempfile::tempdir().expect("temp dir");
    let files = AwsFiles {
        config: dir.path().join("config"),
        credentials: dir.path().join("credentials"),
    };
    std::fs::write(
        &files.config,
        format!(
            "[profile svc]\nregion = eu-west-1\nservices = local\n\n\
             [services local]\nmwaa =\n  endpoint_url = {}\n",
            server.endpoint()
        ),
    )
    .expect("config");
    std::fs::write(
        &files.credentials,
        "[svc]\naws_access_key_id = AKIAA\naws_secret_access_key = s\n",
    )
    .expect("credentials");
    let discovery = discover_with(&files, &options()).await;
    assert!(discovery.failures.is_empty(), "{:?}", discovery.failures);
    assert_eq!(found(&discovery), [triple("svc", "eu-west-1", "prod")]);
    // MWAA has an endpoint of its own and STS none: STS (AWS's) is not asked who it is.
    assert!(
        discovery.identities.is_empty(),
        "{:?}",
        discovery.identities
    );
    assert_eq!(server.calls(Operation::GetCallerIdentity), 0);
}

#[tokio::test]
async fn each_source_is_told_as_soon_as_it_answers_while_a_silent_one_is_still_waited_for() {
    use std::sync::{Arc, Mutex};

    use airgate_discovery::{SourceFound, discover_streaming};
    use airgate_peers::mwaa::AwsProfileFiles;

    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("orders-prod"));
    server.seed(ACCOUNT_B, "eu-west-1", SeedEnvironment::new("ml-training"));
    // A server that accepts connections and never answers: the profile behind it is slow.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let written = AwsProfileFiles::write(
        dir.path(),
        None,
        &[
            AwsProfile::new("prod", "AKIAA", "eu-west-1").set("endpoint_url", server.endpoint()),
            AwsProfile::new("data", "AKIAB", "eu-west-1").set("endpoint_url", server.endpoint()),
            AwsProfile::new("far", "AKIAC", "eu-west-1").set("endpoint_url", &silent_url),
            AwsProfile::new("noregion", "AKIAC", "eu-west-1").without_region(),
        ],
    )
    .expect("AWS files written");
    let files = AwsFiles {
        config: written.config,
        credentials: written.credentials,
    };
    let started = Instant::now();
    let told: Arc<Mutex<Vec<(Duration, SourceFound)>>> = Arc::default();
    let sink = Arc::clone(&told);
    let options = airgate_discovery::DiscoverOptions {
        max_attempts: 1,
        ..options()
    };
    let discovery = discover_streaming(&files, &options, &move |source| {
        sink.lock().unwrap().push((started.elapsed(), source));
    })
    .await;
    let total = started.elapsed();
    held.abort();

    let told = told.lock().unwrap();
    let when = |profile: &str| {
        told.iter()
            .find(|(_, s)| s.profile == profile && s.identity.is_none())
            .unwrap_or_else(|| panic!("{profile} told: {told:?}"))
    };
    let (prod_at, prod) = when("prod");
    assert_eq!(prod.region.as_deref(), Some("eu-west-1"));
    assert_eq!(prod.environments.len(), 1);
    assert_eq!(prod.environments[0].name, "orders-prod");
    assert!(prod.failure.is_none());
    let (noregion_at, noregion) = when("noregion");
    assert_eq!(noregion.region, None);
    assert_eq!(
        noregion.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::NoRegion)
    );
    let (far_at, far) = when("far");
    assert_eq!(
        far.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::Unreachable),
        "{far:?}"
    );
    // The answering sources were told while the silent one was still being waited for.
    assert!(
        *far_at >= Duration::from_secs(2),
        "the silent source waits out its attempt: {far_at:?}"
    );
    for at in [prod_at, noregion_at, &when("data").0] {
        assert!(
            *at + Duration::from_secs(1) < *far_at,
            "{at:?} vs {far_at:?}"
        );
    }
    // Each profile that answered also said who it is (STS at the same endpoint).
    let identities: Vec<(&str, &str)> = told
        .iter()
        .filter_map(|(_, s)| s.identity.as_ref())
        .map(|i| (i.profile.as_str(), i.account.as_str()))
        .collect();
    assert_eq!(identities.len(), 2, "{identities:?}");
    assert!(identities.contains(&("prod", ACCOUNT_A)));
    assert!(identities.contains(&("data", ACCOUNT_B)));
    assert_eq!(told.len(), 6, "{told:?}");
    // And the whole sweep says the same as the sources did.
    assert_eq!(
        found(&discovery),
        [
            triple("data", "eu-west-1", "ml-training"),
            triple("prod", "eu-west-1", "orders-prod"),
        ]
    );
    assert_eq!(discovery.failures.len(), 2, "{:?}", discovery.failures);
    assert!(total >= *far_at);
}

#[tokio::test]
async fn regions_chosen_for_every_profile_are_listed_and_a_region_not_enabled_is_no_error() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("own-region"));
    server.seed(
        ACCOUNT_A,
        "us-east-1",
        SeedEnvironment::new("chosen-region"),
    );
    server.seed(
        ACCOUNT_B,
        "us-east-1",
        SeedEnvironment::new("no-region-profile"),
    );
    // An opt-in region the accounts have not enabled refuses their keys.
    server.faults().fail(
        FaultRule::new(ErrorCode::UnrecognizedClientException)
            .region("ap-east-1")
            .message("The security token included in the request is invalid."),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[
            AwsProfile::new("prod", "AKIAA", "eu-west-1"),
            AwsProfile::new("data", "AKIAB", "eu-west-1").without_region(),
            // Its own region refuses it: that stays an error.
            AwsProfile::new("far", "AKIAC", "ap-east-1"),
        ],
    );
    let options = airgate_discovery::DiscoverOptions {
        extra_regions: vec!["us-east-1".to_owned(), "ap-east-1".to_owned()],
        ..options()
    };
    let discovery = discover_with(&files, &options).await;
    assert_eq!(
        found(&discovery),
        [
            triple("data", "us-east-1", "no-region-profile"),
            triple("prod", "eu-west-1", "own-region"),
            triple("prod", "us-east-1", "chosen-region"),
        ]
    );
    let failed: Vec<(&str, Option<&str>, FailureKind)> = discovery
        .failures
        .iter()
        .map(|f| (f.profile.as_str(), f.region.as_deref(), f.kind))
        .collect();
    assert_eq!(
        failed,
        [("far", Some("ap-east-1"), FailureKind::Credentials)],
        "{:?}",
        discovery.failures
    );
}

#[tokio::test]
async fn details_come_with_each_environment_and_every_status_is_kept() {
    use airgate_discovery::EndpointManagement;
    use airgate_peers::mwaa::EnvironmentStatus as S;
    let server = server().await;
    let statuses = [
        S::Available,
        S::CreateFailed,
        S::Creating,
        S::CreatingSnapshot,
        S::Deleted,
        S::Deleting,
        S::Maintenance,
        S::Pending,
        S::RollingBack,
        S::Unavailable,
        S::UpdateFailed,
        S::Updating,
    ];
    for status in statuses {
        server.seed(
            ACCOUNT_A,
            "eu-west-1",
            SeedEnvironment::new(format!("s-{}", status.as_str().to_lowercase())).status(status),
        );
    }
    server.seed(
        ACCOUNT_B,
        "eu-west-1",
        SeedEnvironment::new("shared-vpc")
            .customer_endpoints()
            .tag("team", "data")
            .tag("stage", "prod")
            .failed_update("INCORRECT_CONFIGURATION", "Subnet subnet-1 has no route."),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[
            AwsProfile::new("alpha", "AKIAA", "eu-west-1"),
            AwsProfile::new("beta", "AKIAB", "eu-west-1"),
        ],
    );
    let discovery = discover_with(&files, &options()).await;
    assert!(discovery.failures.is_empty(), "{:?}", discovery.failures);
    let mut seen: Vec<&str> = discovery
        .environments
        .iter()
        .filter(|e| e.profile == "alpha")
        .map(|e| e.status.as_str())
        .collect();
    seen.sort_unstable();
    let mut expected: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected);

    let env = discovery
        .environments
        .iter()
        .find(|e| e.name == "shared-vpc")
        .expect("listed");
    assert_eq!(env.endpoint_management, Some(EndpointManagement::Customer));
    assert_eq!(env.environment_class.as_deref(), Some("mw1.small"));
    assert_eq!(
        env.execution_role_arn.as_deref(),
        Some("arn:aws:iam::222222222222:role/service-role/AmazonMWAA-shared-vpc")
    );
    assert_eq!(env.subnet_ids.len(), 2, "{:?}", env.subnet_ids);
    assert!(env.subnet_ids.iter().all(|s| s.starts_with("subnet-")));
    assert!(env.security_group_ids.iter().all(|s| s.starts_with("sg-")));
    let service = env
        .webserver_vpc_endpoint_service
        .as_deref()
        .expect("a private web server has an endpoint service");
    assert!(
        service.starts_with("com.amazonaws.vpce.eu-west-1.vpce-svc-"),
        "{service}"
    );
    assert_eq!(env.tags.get("team").map(String::as_str), Some("data"));
    assert_eq!(env.tags.get("stage").map(String::as_str), Some("prod"));
    let update = env.last_update.as_ref().expect("last update told");
    assert_eq!(update.status, "FAILED");
    assert_eq!(
        update.error_code.as_deref(),
        Some("INCORRECT_CONFIGURATION")
    );
    assert_eq!(
        update.error_message.as_deref(),
        Some("Subnet subnet-1 has no route.")
    );
    assert!(
        update
            .created_at
            .as_deref()
            .is_some_and(|at| at.contains('T'))
    );
    assert_eq!(
        env.console_url(),
        "https://eu-west-1.console.aws.amazon.com/mwaa/home?region=eu-west-1#environments/shared-vpc"
    );
    let available = discovery
        .environments
        .iter()
        .find(|e| e.name == "s-available")
        .expect("listed");
    assert_eq!(
        available.endpoint_management,
        Some(EndpointManagement::Service)
    );
    assert_eq!(
        available.last_update.as_ref().map(|u| u.status.as_str()),
        Some("SUCCESS")
    );
}

#[tokio::test]
async fn a_role_whose_source_profile_is_missing_says_so_and_the_others_list() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("orders"));
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_files(
        dir.path(),
        &server.endpoint(),
        &[
            AwsProfile::new("prod", "AKIAA", "eu-west-1"),
            AwsProfile::new("ops", "AKIAA", "eu-west-1")
                .without_keys()
                .set("role_arn", "arn:aws:iam::111111111111:role/ops")
                .set("source_profile", "gone"),
        ],
    );
    let discovery = discover_with(&files, &options()).await;
    assert_eq!(found(&discovery), [triple("prod", "eu-west-1", "orders")]);
    assert_eq!(discovery.failures.len(), 1, "{:?}", discovery.failures);
    let failure = &discovery.failures[0];
    assert_eq!(failure.profile, "ops");
    assert_eq!(failure.kind, FailureKind::Config);
    assert!(
        failure
            .message
            .starts_with("Profile ops refers to missing source_profile gone"),
        "{}",
        failure.message
    );
    assert!(
        failure
            .message
            .contains(&files.config.display().to_string()),
        "{}",
        failure.message
    );
}
