//! Shared set-up of the integration tests: the MWAA test server and shared AWS files.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use airgate_discovery::{AwsFiles, DiscoverOptions, LoopbackHostPrefix};
use airgate_peers::mwaa::{AwsProfile, AwsProfileFiles, MwaaConfig, MwaaServer};
use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_types::region::Region;

pub const ACCOUNT_A: &str = "111111111111";
pub const ACCOUNT_B: &str = "222222222222";
pub const ACCOUNT_C: &str = "333333333333";

/// A server knowing the access keys `AKIAA`, `AKIAB`, `AKIAC` (accounts A, B, C).
pub async fn server() -> MwaaServer {
    MwaaServer::start(
        MwaaConfig::default()
            .access_key("AKIAA", ACCOUNT_A)
            .access_key("AKIAB", ACCOUNT_B)
            .access_key("AKIAC", ACCOUNT_C),
    )
    .await
    .expect("MWAA test server starts")
}

/// Short limits, so that failing sources fail fast.
pub fn options() -> DiscoverOptions {
    DiscoverOptions {
        connect_timeout: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(3),
        operation_timeout: Duration::from_secs(8),
        initial_backoff: Duration::from_millis(50),
        ..DiscoverOptions::default()
    }
}

pub fn write_files(dir: &Path, endpoint: &str, profiles: &[AwsProfile]) -> AwsFiles {
    let files = AwsProfileFiles::write(dir, Some(endpoint), profiles).expect("AWS files written");
    AwsFiles {
        config: files.config,
        credentials: files.credentials,
    }
}

/// The real SDK client, with static keys, against the test server.
pub fn sdk_client(endpoint: &str, access_key_id: &str, region: &str) -> aws_sdk_mwaa::Client {
    let config = aws_sdk_mwaa::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            access_key_id,
            "secret",
            None,
            None,
            "test",
        ))
        .interceptor(LoopbackHostPrefix)
        .build();
    aws_sdk_mwaa::Client::from_conf(config)
}
