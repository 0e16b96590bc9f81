//! `tunnel-bench [--mib N] [--rounds R] [--ttfb-requests K] [--sequential S] [--simultaneous C]`:
//! Airgate's SOCKS tunnel against OpenSSH's `ssh -D`, through the same OpenSSH bastion on
//! loopback. Prints a table of median throughputs, the proxies' CPU time per GiB, times to first
//! byte, small HTTP requests one after another and at once, and Airgate's ratio to each OpenSSH
//! run.
//!
//! Run it as a release build (`make bench`): debug builds measure the debug build. Airgate's
//! tunnel runs in a second `tunnel-bench` process (the hidden `serve-tunnel` subcommand), as
//! `ssh -D` runs in its own.

use std::process::ExitCode;

use airgate_bench::BenchConfig;
use airgate_bench::airgate::{self, ServeArgs};
use clap::{Parser, Subcommand};

/// Airgate's SOCKS tunnel against OpenSSH's `ssh -D`, through a local OpenSSH bastion.
#[derive(Debug, Parser)]
#[command(name = "tunnel-bench")]
struct Args {
    #[command(subcommand)]
    command: Option<Hidden>,
    /// MiB per download.
    #[arg(long, default_value_t = BenchConfig::default().mib, value_parser = clap::value_parser!(u64).range(1..=65536))]
    mib: u64,
    /// Measured downloads per side (the order of the sides alternates).
    #[arg(long, default_value_t = BenchConfig::default().rounds, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Small requests per side for the time to first byte.
    #[arg(long, default_value_t = BenchConfig::default().ttfb_requests, value_parser = clap::value_parser!(u32).range(1..=10000))]
    ttfb_requests: u32,
    /// Milliseconds to wait before each of those small requests (0: none, one right after
    /// another, as a browser's).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    ttfb_pause_ms: u64,
    /// Small HTTP requests per side, one after another, each on a fresh SOCKS connection
    /// (0: skip).
    #[arg(long, default_value_t = BenchConfig::default().sequential, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    sequential: u32,
    /// Small HTTP requests per side, all started at once through the one proxy (0: skip).
    #[arg(long, default_value_t = BenchConfig::default().simultaneous, value_parser = clap::value_parser!(u32).range(0..=20_000))]
    simultaneous: u32,
}

#[derive(Debug, Subcommand)]
enum Hidden {
    /// Serves Airgate's tunnel alone until standard input closes: the benchmark's Airgate side.
    #[command(hide = true)]
    ServeTunnel(ServeArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Hidden::ServeTunnel(serve)) = &args.command {
        return match airgate::serve_tunnel(serve).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tunnel-bench serve-tunnel failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; its numbers are not meaningful. Run `make bench` \
             (cargo run --release)."
        );
    }
    // A burst holds a few descriptors per connection in this process, in ssh and in sshd,
    // which inherit the limit.
    if let Err(e) = airgate_bench::process::raise_open_files_limit() {
        eprintln!("warning: could not raise the limit of open files ({e}); a burst may fail");
    }
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(e) => {
            eprintln!("tunnel-bench failed: cannot tell its own executable ({e})");
            return ExitCode::FAILURE;
        }
    };
    let config = BenchConfig {
        mib: args.mib,
        rounds: args.rounds,
        ttfb_requests: args.ttfb_requests,
        ttfb_pause: std::time::Duration::from_millis(args.ttfb_pause_ms),
        sequential: args.sequential,
        simultaneous: args.simultaneous,
    };
    eprintln!(
        "tunnel-bench: {} MiB x {} rounds per side, {} small requests per side, {} HTTP \
         requests one after another and {} at once per side...",
        config.mib, config.rounds, config.ttfb_requests, config.sequential, config.simultaneous
    );
    match airgate_bench::run(&config, &program).await {
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
