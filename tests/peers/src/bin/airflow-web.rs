//! `airflow-web [--listen ADDR] [--tls-listen ADDR --tls-cert FILE --tls-key FILE]
//! [--token-key HEX] [--log FILE] [--exit-with-stdin]`: an Airflow-like web server for tests.
//!
//! Prints `listening on ADDR[, ADDR]` on stdout once it accepts connections. With
//! `--exit-with-stdin` it stops when its standard input closes, so it never outlives the
//! process that started it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use airgate_peers::airflow_web::{WebConfig, router_with, serve_tls};
use airgate_peers::web_token::TokenKey;
use tokio::io::AsyncReadExt;

const USAGE: &str = "usage: airflow-web [--listen ADDR] [--tls-listen ADDR --tls-cert FILE \
                     --tls-key FILE] [--token-key HEX] [--log FILE] [--exit-with-stdin]";

#[derive(Default)]
struct Args {
    listen: Option<SocketAddr>,
    tls_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    config: WebConfig,
    exit_with_stdin: bool,
}

fn parse() -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut args = std::env::args().skip(1);
    let addr = |value: Option<String>, flag: &str| {
        value
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("{flag} needs an address like 127.0.0.1:8080"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => parsed.listen = Some(addr(args.next(), "--listen")?),
            "--tls-listen" => parsed.tls_listen = Some(addr(args.next(), "--tls-listen")?),
            "--tls-cert" => parsed.tls_cert = args.next().map(PathBuf::from),
            "--tls-key" => parsed.tls_key = args.next().map(PathBuf::from),
            "--token-key" => {
                parsed.config.token_key = Some(
                    args.next()
                        .and_then(|k| TokenKey::from_hex(&k))
                        .ok_or("--token-key needs 64 hex digits")?,
                );
            }
            "--log" => parsed.config.log = args.next().map(PathBuf::from),
            "--exit-with-stdin" => parsed.exit_with_stdin = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if parsed.listen.is_none() && parsed.tls_listen.is_none() {
        return Err("nothing to listen on".to_owned());
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("{why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let app = router_with(args.config.clone());
    let mut servers = tokio::task::JoinSet::new();
    let mut bound = Vec::new();
    if let Some(listen) = args.listen {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("airflow-web: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        bound.push(listener.local_addr().unwrap_or(listen));
        let app = app.clone();
        servers.spawn(async move { axum::serve(listener, app).await });
    }
    if let Some(listen) = args.tls_listen {
        let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
            eprintln!("--tls-listen needs --tls-cert and --tls-key\n{USAGE}");
            return ExitCode::from(2);
        };
        let tls = match airgate_peers::tls::server_config(cert, key) {
            Ok(tls) => tls,
            Err(e) => {
                eprintln!("airflow-web: cannot load the certificate: {e}");
                return ExitCode::FAILURE;
            }
        };
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("airflow-web: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        bound.push(listener.local_addr().unwrap_or(listen));
        servers.spawn(serve_tls(listener, tls, app));
    }
    let mut stdout = std::io::stdout();
    let shown: Vec<String> = bound.iter().map(ToString::to_string).collect();
    let _ = writeln!(stdout, "listening on {}", shown.join(", "));
    let _ = stdout.flush();

    let exit_with_stdin = args.exit_with_stdin;
    let shutdown = async move {
        if exit_with_stdin {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 256];
            // Returns on EOF or error: the parent is gone.
            while let Ok(n) = stdin.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        } else {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    // Stops at once on the signal, without waiting for open connections to finish.
    tokio::select! {
        Some(served) = servers.join_next() => match served {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => {
                eprintln!("airflow-web: {e}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("airflow-web: {e}");
                ExitCode::FAILURE
            }
        },
        () = shutdown => ExitCode::SUCCESS,
    }
}
