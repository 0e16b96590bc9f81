//! The MWAA test server, driven by the real `aws-sdk-mwaa` client.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use airgate_peers::mwaa::{EnvironmentStatus, MwaaConfig, MwaaServer, Operation, SeedEnvironment};
use aws_sdk_mwaa::types::{
    EnvironmentStatus as SdkStatus, NetworkConfiguration, WebserverAccessMode,
};
use common::{ACCOUNT_A, ACCOUNT_B, sdk_client, server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn unknown_environment_is_resource_not_found() {
    let server = server().await;
    let client = sdk_client(&server.endpoint(), "AKIAA", "eu-west-1");
    let err = client
        .get_environment()
        .name("nope")
        .send()
        .await
        .expect_err("no such environment");
    let service = err.as_service_error().expect("a service error");
    assert!(service.is_resource_not_found_exception(), "{service:?}");
    assert_eq!(
        aws_sdk_mwaa::error::ProvideErrorMetadata::message(service),
        Some("Environment nope not found.")
    );
}

#[tokio::test]
async fn seeded_environment_reads_like_get_environment() {
    let server = server().await;
    let seeded = server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("prod")
            .airflow_version("2.10.3")
            .tag("team", "data"),
    );
    let env = sdk_client(&server.endpoint(), "AKIAA", "eu-west-1")
        .get_environment()
        .name("prod")
        .send()
        .await
        .expect("environment found")
        .environment
        .expect("environment in answer");
    assert_eq!(env.name.as_deref(), Some("prod"));
    assert_eq!(env.status, Some(SdkStatus::Available));
    assert_eq!(
        env.arn.as_deref(),
        Some("arn:aws:airflow:eu-west-1:111111111111:environment/prod")
    );
    assert_eq!(
        env.webserver_access_mode,
        Some(WebserverAccessMode::PrivateOnly)
    );
    let host = env.webserver_url.expect("web server URL");
    assert_eq!(Some(&host), seeded.webserver_host.as_ref());
    assert!(host.contains("-vpce.c") && host.ends_with(".eu-west-1.airflow.amazonaws.com"));
    assert!(
        env.webserver_vpc_endpoint_service
            .expect("private environments have an endpoint service")
            .starts_with("com.amazonaws.vpce.eu-west-1.vpce-svc-")
    );
    assert_eq!(env.airflow_version.as_deref(), Some("2.10.3"));
    assert!(env.created_at.is_some());
    let network = env.network_configuration.expect("network configuration");
    assert_eq!(network.subnet_ids.map(|s| s.len()), Some(2));
    assert_eq!(
        env.tags.expect("tags").get("team").map(String::as_str),
        Some("data")
    );
}

#[tokio::test]
async fn environments_are_per_account_and_region() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("a-eu"));
    server.seed(ACCOUNT_A, "us-east-1", SeedEnvironment::new("a-us"));
    server.seed(ACCOUNT_B, "eu-west-1", SeedEnvironment::new("b-eu"));
    let list = |key: &'static str, region: &'static str| {
        let client = sdk_client(&server.endpoint(), key, region);
        async move {
            client
                .list_environments()
                .send()
                .await
                .expect("listed")
                .environments
        }
    };
    assert_eq!(list("AKIAA", "eu-west-1").await, ["a-eu"]);
    assert_eq!(list("AKIAA", "us-east-1").await, ["a-us"]);
    assert_eq!(list("AKIAB", "eu-west-1").await, ["b-eu"]);
    assert!(list("AKIAB", "us-east-1").await.is_empty());
}

#[tokio::test]
async fn list_pages_with_next_token_and_validates_max_results() {
    let server = server().await;
    for i in 0..12 {
        server.seed(
            ACCOUNT_A,
            "eu-west-1",
            SeedEnvironment::new(format!("env-{i:02}")),
        );
    }
    let client = sdk_client(&server.endpoint(), "AKIAA", "eu-west-1");
    let first = client
        .list_environments()
        .max_results(5)
        .send()
        .await
        .expect("first page");
    assert_eq!(first.environments.len(), 5);
    assert!(first.next_token.is_some());
    let pages: Vec<_> = client
        .list_environments()
        .into_paginator()
        .page_size(5)
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 3);
    let names: Vec<String> = pages
        .into_iter()
        .flat_map(|page| page.expect("page").environments)
        .collect();
    assert_eq!(names.len(), 12);
    assert_eq!(names.first().map(String::as_str), Some("env-00"));
    assert_eq!(names.last().map(String::as_str), Some("env-11"));

    let err = client
        .list_environments()
        .max_results(26)
        .send()
        .await
        .expect_err("MaxResults above 25");
    assert!(
        err.as_service_error()
            .expect("service error")
            .is_validation_exception()
    );
}

#[tokio::test]
async fn create_then_available_then_delete() {
    let server = MwaaServer::start(MwaaConfig {
        create_delay: Duration::from_millis(300),
        ..MwaaConfig::default()
    })
    .await
    .expect("server starts");
    let client = sdk_client(&server.endpoint(), "AKIANEW", "us-east-1");
    let account = server.account_for("AKIANEW").expect("default account rule");
    assert_eq!(account.len(), 12);
    let created = client
        .create_environment()
        .name("fresh")
        .execution_role_arn(format!("arn:aws:iam::{account}:role/mwaa"))
        .source_bucket_arn("arn:aws:s3:::fresh-dags")
        .dag_s3_path("dags")
        .webserver_access_mode(WebserverAccessMode::PublicOnly)
        .network_configuration(
            NetworkConfiguration::builder()
                .subnet_ids("subnet-1")
                .subnet_ids("subnet-2")
                .security_group_ids("sg-1")
                .build(),
        )
        .send()
        .await
        .expect("created");
    assert_eq!(
        created.arn.as_deref(),
        Some(format!("arn:aws:airflow:us-east-1:{account}:environment/fresh").as_str())
    );
    let get = || async {
        client
            .get_environment()
            .name("fresh")
            .send()
            .await
            .expect("found")
            .environment
            .expect("environment")
    };
    let creating = get().await;
    assert_eq!(creating.status, Some(SdkStatus::Creating));
    assert_eq!(creating.webserver_url, None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let available = get().await;
    assert_eq!(available.status, Some(SdkStatus::Available));
    let host = available.webserver_url.expect("host once available");
    assert!(!host.contains("-vpce"), "{host}");

    client
        .delete_environment()
        .name("fresh")
        .send()
        .await
        .expect("deleted");
    let err = client
        .get_environment()
        .name("fresh")
        .send()
        .await
        .expect_err("gone");
    assert!(
        err.as_service_error()
            .expect("service error")
            .is_resource_not_found_exception()
    );
}

#[tokio::test]
async fn web_login_and_cli_tokens() {
    let server = server().await;
    let seeded = server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("prod"));
    server.seed(
        ACCOUNT_A,
        "eu-west-1",
        SeedEnvironment::new("baking").status(EnvironmentStatus::Creating),
    );
    let client = sdk_client(&server.endpoint(), "AKIAA", "eu-west-1");
    let web = client
        .create_web_login_token()
        .name("prod")
        .send()
        .await
        .expect("web token");
    let token = web.web_token.expect("token");
    assert_eq!(web.web_server_hostname, seeded.webserver_host);
    assert_eq!(
        web.iam_identity.as_deref(),
        Some("arn:aws:sts::111111111111:assumed-role/Airgate/AKIAA")
    );
    assert!(web.airflow_identity.is_some());
    let cli = client
        .create_cli_token()
        .name("prod")
        .send()
        .await
        .expect("cli token");
    assert_eq!(cli.web_server_hostname, seeded.webserver_host);
    let issued = server.issued_tokens();
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[0].token, token);
    assert_eq!(issued[0].operation, Operation::CreateWebLoginToken);
    assert_eq!(issued[1].operation, Operation::CreateCliToken);

    let err = client
        .create_web_login_token()
        .name("baking")
        .send()
        .await
        .expect_err("no web server while creating");
    assert!(
        err.as_service_error()
            .expect("service error")
            .is_validation_exception()
    );
    let err = client
        .create_cli_token()
        .name("nope")
        .send()
        .await
        .expect_err("unknown environment");
    assert!(
        err.as_service_error()
            .expect("service error")
            .is_resource_not_found_exception()
    );
}

#[tokio::test]
async fn throttled_once_is_retried_by_the_sdk() {
    let server = server().await;
    server.seed(ACCOUNT_A, "eu-west-1", SeedEnvironment::new("prod"));
    server
        .faults()
        .throttle_next(Operation::ListEnvironments, 1);
    let listed = sdk_client(&server.endpoint(), "AKIAA", "eu-west-1")
        .list_environments()
        .send()
        .await
        .expect("second attempt succeeds");
    assert_eq!(listed.environments, ["prod"]);
    assert_eq!(server.calls(Operation::ListEnvironments), 2);
}

#[tokio::test]
async fn strict_server_refuses_unknown_keys() {
    let server = MwaaServer::start(MwaaConfig {
        strict_access_keys: true,
        ..MwaaConfig::default().access_key("AKIAA", ACCOUNT_A)
    })
    .await
    .expect("server starts");
    let err = sdk_client(&server.endpoint(), "AKIAWHO", "eu-west-1")
        .list_environments()
        .send()
        .await
        .expect_err("unknown key");
    assert_eq!(
        aws_sdk_mwaa::error::ProvideErrorMetadata::code(&err),
        Some("UnrecognizedClientException")
    );
    assert!(
        sdk_client(&server.endpoint(), "AKIAA", "eu-west-1")
            .list_environments()
            .send()
            .await
            .is_ok()
    );
}

/// One raw HTTP/1.1 exchange; returns the whole response.
async fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn requests_without_signature_are_refused() {
    let server = server().await;
    let response = raw_http(
        server.local_addr(),
        "GET /environments HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("x-amzn-errortype: missingauthenticationtokenexception"),
        "{response}"
    );
    let response = raw_http(
        server.local_addr(),
        "GET /environments HTTP/1.1\r\nHost: localhost\r\nAuthorization: garbage\r\n\
         Connection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert_eq!(server.calls(Operation::ListEnvironments), 0);
}

#[tokio::test]
async fn admin_routes_drive_faults_and_seeds() {
    let server = server().await;
    let seed = r#"{"Environments":[{"Account":"111111111111","Region":"eu-west-1","Name":"seeded","WebserverAccessMode":"PUBLIC_ONLY"}]}"#;
    let response = raw_http(
        server.local_addr(),
        &format!(
            "POST /_airgate/seed HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{seed}",
            seed.len()
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(server.environment_names(ACCOUNT_A, "eu-west-1"), ["seeded"]);

    let fault = r#"{"kind":"fail","account":"111111111111","error":"AccessDeniedException"}"#;
    let response = raw_http(
        server.local_addr(),
        &format!(
            "POST /_airgate/faults HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{fault}",
            fault.len()
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let err = sdk_client(&server.endpoint(), "AKIAA", "eu-west-1")
        .list_environments()
        .send()
        .await
        .expect_err("denied");
    assert_eq!(
        aws_sdk_mwaa::error::ProvideErrorMetadata::code(&err),
        Some("AccessDeniedException")
    );
    let response = raw_http(
        server.local_addr(),
        "DELETE /_airgate/faults HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
    assert!(
        sdk_client(&server.endpoint(), "AKIAA", "eu-west-1")
            .list_environments()
            .send()
            .await
            .is_ok()
    );
}
