//! The MWAA test server as a process, for scripts and the sandbox.
//!
//! ```text
//! mwaa-server [--listen 127.0.0.1:0] [--seed seed.json] [--strict-access-keys]
//!             [--create-delay-ms N] [--delete-delay-ms N] [--page-size N]
//! ```
//! Prints `MWAA_ENDPOINT=http://127.0.0.1:PORT` on one stdout line once it listens, then serves
//! until SIGINT/SIGTERM (or stdin closing, with `--exit-on-stdin-eof`).

use std::process::ExitCode;
use std::time::Duration;

use airgate_peers::mwaa::{MwaaConfig, MwaaServer, SeedFile};
use tokio::io::AsyncReadExt;

const USAGE: &str = "usage: mwaa-server [--listen 127.0.0.1:0] [--seed seed.json] \
[--strict-access-keys] [--create-delay-ms N] [--delete-delay-ms N] [--page-size N] \
[--exit-on-stdin-eof]";

struct Args {
    config: MwaaConfig,
    seed: Option<std::path::PathBuf>,
    exit_on_stdin_eof: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        config: MwaaConfig::default(),
        seed: None,
        exit_on_stdin_eof: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                args.config.listen = v
                    .parse()
                    .map_err(|err| format!("--listen {v}: {err} (use e.g. 127.0.0.1:0)"))?;
            }
            "--seed" => args.seed = Some(value("--seed")?.into()),
            "--strict-access-keys" => args.config.strict_access_keys = true,
            "--create-delay-ms" => {
                args.config.create_delay = Duration::from_millis(number(&value(&arg)?, &arg)?);
            }
            "--delete-delay-ms" => {
                args.config.delete_delay = Duration::from_millis(number(&value(&arg)?, &arg)?);
            }
            "--page-size" => {
                let n = number(&value(&arg)?, &arg)?;
                args.config.default_page_size = usize::try_from(n).unwrap_or(25);
            }
            "--exit-on-stdin-eof" => args.exit_on_stdin_eof = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn number(raw: &str, name: &str) -> Result<u64, String> {
    raw.parse()
        .map_err(|err| format!("{name} {raw}: {err} (a whole number)"))
}

async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let seed = match &args.seed {
        None => SeedFile::default(),
        Some(path) => {
            let parsed = std::fs::read(path)
                .map_err(|err| err.to_string())
                .and_then(|raw| serde_json::from_slice(&raw).map_err(|err| err.to_string()));
            match parsed {
                Ok(seed) => seed,
                Err(err) => {
                    eprintln!("cannot read seed file {}: {err}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
    };
    let server = match MwaaServer::start(args.config).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("cannot start the MWAA server: {err}");
            return ExitCode::FAILURE;
        }
    };
    server.seed_file(seed);
    println!("MWAA_ENDPOINT={}", server.endpoint());

    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            eprintln!("cannot listen for SIGTERM: {err}");
            return ExitCode::FAILURE;
        }
    };
    let stdin_eof = async {
        if args.exit_on_stdin_eof {
            stdin_closed().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        () = stdin_eof => {}
    }
    server.shutdown().await;
    ExitCode::SUCCESS
}
