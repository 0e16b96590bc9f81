//! `airflow-web --listen ADDR [--exit-with-stdin]`: an Airflow-like web server for tests.
//!
//! Prints `listening on ADDR` on stdout once it accepts connections. With `--exit-with-stdin`
//! it stops when its standard input closes, so it never outlives the process that started it.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::io::AsyncReadExt;

const USAGE: &str = "usage: airflow-web --listen ADDR [--exit-with-stdin]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut listen: Option<SocketAddr> = None;
    let mut exit_with_stdin = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => match args.next().map(|a| a.parse()) {
                Some(Ok(addr)) => listen = Some(addr),
                _ => {
                    eprintln!("--listen needs an address like 127.0.0.1:8080\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "--exit-with-stdin" => exit_with_stdin = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument {other}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(listen) = listen else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("airflow-web: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(listen);
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {bound}");
    let _ = stdout.flush();

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
        served = airgate_peers::airflow_web::serve(listener, std::future::pending()) => match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("airflow-web: {e}");
                ExitCode::FAILURE
            }
        },
        () = shutdown => ExitCode::SUCCESS,
    }
}
