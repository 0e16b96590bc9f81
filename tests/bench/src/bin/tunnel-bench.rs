//! `tunnel-bench [--mib N] [--rounds R] [--ttfb-requests K]`: Airgate's SOCKS tunnel against
//! OpenSSH's `ssh -D`, through the same OpenSSH bastion on loopback. Prints a table of median
//! throughputs, times to first byte, and Airgate's ratio to each OpenSSH run.
//!
//! Run it as a release build (`make bench`): debug builds measure the debug build.

use std::process::ExitCode;

use airgate_bench::BenchConfig;
use clap::Parser;

/// Airgate's SOCKS tunnel against OpenSSH's `ssh -D`, through a local OpenSSH bastion.
#[derive(Debug, Parser)]
#[command(name = "tunnel-bench")]
struct Args {
    /// MiB per download.
    #[arg(long, default_value_t = BenchConfig::default().mib, value_parser = clap::value_parser!(u64).range(1..=65536))]
    mib: u64,
    /// Measured downloads per side (the order of the sides alternates).
    #[arg(long, default_value_t = BenchConfig::default().rounds, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Small requests per side for the time to first byte.
    #[arg(long, default_value_t = BenchConfig::default().ttfb_requests, value_parser = clap::value_parser!(u32).range(1..=10000))]
    ttfb_requests: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; its numbers are not meaningful. Run `make bench` \
             (cargo run --release)."
        );
    }
    let config = BenchConfig {
        mib: args.mib,
        rounds: args.rounds,
        ttfb_requests: args.ttfb_requests,
    };
    eprintln!(
        "tunnel-bench: {} MiB x {} rounds per side, {} small requests per side...",
        config.mib, config.rounds, config.ttfb_requests
    );
    match airgate_bench::run(&config).await {
        Ok(report) => {
            print!("{}", report.table());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tunnel-bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
