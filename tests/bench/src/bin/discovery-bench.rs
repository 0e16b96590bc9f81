//! Discovery against the same calls made one after another, as a script looping over
//! `aws mwaa list-environments` and `get-environment` does: 20 profiles (20 accounts) x 4
//! regions x 5 environments, with a fixed latency added to every MWAA call by the test server.
//! Prints wall times and ratios; nothing is asserted.

use std::time::{Duration, Instant};

use airgate_discovery::{AwsFiles, DiscoverOptions, LoopbackHostPrefix, discover_with};
use airgate_peers::mwaa::{
    AwsProfile, AwsProfileFiles, MwaaConfig, MwaaServer, Operation, SeedEnvironment,
};
use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_types::region::Region;
use clap::Parser;

const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"];

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 20)]
    profiles: usize,
    #[arg(long, default_value_t = 5)]
    environments: usize,
    /// Latency added to every MWAA call, in milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Rounds of Airgate's refresh (the median is shown).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

fn key(i: usize) -> String {
    format!("AKIABENCH{i:011}")
}

fn account(i: usize) -> String {
    format!("{:012}", 100_000_000_000 + i)
}

fn client(endpoint: &str, key: &str, region: &str) -> aws_sdk_mwaa::Client {
    let config = aws_sdk_mwaa::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            key,
            format!("secret-{key}"),
            None,
            None,
            "bench",
        ))
        .interceptor(LoopbackHostPrefix)
        .build();
    aws_sdk_mwaa::Client::from_conf(config)
}

/// What the loop does: every source's List, then every Get, one call at a time.
async fn sequential(endpoint: &str, profiles: usize) -> (Duration, usize) {
    let started = Instant::now();
    let mut found = 0;
    for i in 0..profiles {
        for region in REGIONS {
            let client = client(endpoint, &key(i), region);
            let listed = client.list_environments().send().await.expect("list");
            for name in listed.environments {
                client
                    .get_environment()
                    .name(name)
                    .send()
                    .await
                    .expect("get");
                found += 1;
            }
        }
    }
    (started.elapsed(), found)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut config = MwaaConfig::default();
    for i in 0..args.profiles {
        config = config.access_key(key(i), account(i));
    }
    let server = MwaaServer::start(config).await.expect("MWAA test server");
    for i in 0..args.profiles {
        for region in REGIONS {
            for e in 0..args.environments {
                server.seed(
                    &account(i),
                    region,
                    SeedEnvironment::new(format!("env-{i}-{e}")),
                );
            }
        }
    }
    let latency = Duration::from_millis(args.latency_ms);
    server
        .faults()
        .set_latency(Operation::ListEnvironments, latency);
    server
        .faults()
        .set_latency(Operation::GetEnvironment, latency);

    let dir = tempfile::tempdir().expect("temp dir");
    let profiles: Vec<AwsProfile> = (0..args.profiles)
        .map(|i| {
            AwsProfile::new(format!("p{i:02}"), key(i), REGIONS[0])
                .set("airgate_regions", REGIONS.join(", "))
        })
        .collect();
    let written =
        AwsProfileFiles::write(dir.path(), Some(&server.endpoint()), &profiles).expect("AWS files");
    let files = AwsFiles {
        config: written.config,
        credentials: written.credentials,
    };
    let expected = args.profiles * REGIONS.len() * args.environments;

    // One List and one Get, one after the other: the floor of any refresh.
    let one = client(&server.endpoint(), &key(0), REGIONS[0]);
    let started = Instant::now();
    one.list_environments().send().await.expect("list");
    one.get_environment()
        .name("env-0-0")
        .send()
        .await
        .expect("get");
    let round_trip = started.elapsed();

    let mut refreshes = Vec::new();
    for _ in 0..args.rounds {
        let started = Instant::now();
        let found = discover_with(&files, &DiscoverOptions::default()).await;
        refreshes.push(started.elapsed());
        assert_eq!(found.environments.len(), expected, "{:?}", found.failures);
    }
    refreshes.sort();
    let refresh = refreshes[refreshes.len() / 2];
    let (looped, found) = sequential(&server.endpoint(), args.profiles).await;
    assert_eq!(found, expected);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "discovery: {} profiles x {} regions x {} environments, {} ms per MWAA call",
        args.profiles,
        REGIONS.len(),
        args.environments,
        args.latency_ms
    );
    println!("  one List + Get round trip   {:>9.0} ms", ms(round_trip));
    println!(
        "  Airgate refresh (median {}) {:>9.0} ms  ({:.1}x the round trip)",
        args.rounds,
        ms(refresh),
        ms(refresh) / ms(round_trip)
    );
    println!(
        "  the same calls in a loop    {:>9.0} ms  (Airgate {:.1}x faster)",
        ms(looped),
        ms(looped) / ms(refresh)
    );
}
