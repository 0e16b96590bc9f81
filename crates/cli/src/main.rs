//! `airgate`: MWAA environments and bastion tunnels from the command line, on the same core as
//! the desktop app.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod conns;
mod error;
mod login;
mod saved;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    // Failures a user must act on are printed as `warning:` / `error:` lines; the log adds
    // detail only when asked for (`AIRGATE_LOG=debug`), so each problem is said once.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIRGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
