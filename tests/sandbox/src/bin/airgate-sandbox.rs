//! Starts the sandbox, then the desktop app pointed at it; stops everything when the app exits
//! or on Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use airgate_sandbox::{Sandbox, Topology};
use clap::Parser;

/// Run Airgate on a local sandbox: MWAA server, AWS profiles, bastion, private web server.
#[derive(Debug, Parser)]
struct Args {
    /// The desktop app binary to start. Without it, the sandbox runs until Ctrl-C.
    #[arg(long)]
    app: Option<PathBuf>,
    /// Keep the bastion on loopback even when a private network namespace could be made.
    #[arg(long)]
    loopback: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.app.is_some() && cfg!(target_os = "linux") && !has_display() {
        eprintln!(
            "error: no display to show the app on. Run `make demo` in a desktop session, or try it \
             headless with `xvfb-run -a make demo`."
        );
        return ExitCode::FAILURE;
    }
    let topology = if args.loopback {
        Topology::Loopback
    } else {
        Topology::PreferPrivate
    };
    let sandbox = match Sandbox::start(topology).await {
        Ok(sandbox) => sandbox,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = sandbox.save_bastion() {
        eprintln!("warning: {err}. Add the bastion in the app by hand (below).");
    } else if let Err(err) = sandbox.save_self_hosted() {
        eprintln!("warning: {err}. Add the self-hosted Airflow in the app by hand.");
    }
    print_summary(&sandbox);

    let code = match &args.app {
        Some(app) => {
            let mut child = match tokio::process::Command::new(app)
                .envs(sandbox.app_env())
                .spawn()
            {
                Ok(child) => child,
                Err(err) => {
                    eprintln!("error: cannot start {}: {err}", app.display());
                    return ExitCode::FAILURE;
                }
            };
            tokio::select! {
                status = child.wait() => match status {
                    Ok(status) if status.success() => ExitCode::SUCCESS,
                    Ok(status) => {
                        eprintln!("The app exited with {status}.");
                        ExitCode::FAILURE
                    }
                    Err(err) => {
                        eprintln!("error: waiting for the app: {err}");
                        ExitCode::FAILURE
                    }
                },
                () = stop_signal() => {
                    let _ = child.kill().await;
                    ExitCode::SUCCESS
                }
            }
        }
        None => {
            println!("Press Ctrl-C to stop the sandbox.");
            stop_signal().await;
            ExitCode::SUCCESS
        }
    };
    if let Err(err) = sandbox.forget_bastion() {
        eprintln!("warning: {err}");
    }
    println!("Sandbox stopped.");
    code
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

/// Ctrl-C or SIGTERM: either way the sandbox tears down its network, bastion and files.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        Some(()) = async { term.as_mut()?.recv().await } => {}
    }
}

fn print_summary(sandbox: &Sandbox) {
    println!("Airgate sandbox");
    println!("  MWAA server   {}", sandbox.mwaa().endpoint());
    let bastion = sandbox.bastion();
    let place = if sandbox.network().is_some() {
        "in a private network"
    } else {
        "on loopback"
    };
    println!(
        "  bastion       {}@{}:{} ({place}), key {}",
        bastion.user(),
        bastion.host(),
        bastion.port(),
        bastion.user_key().display()
    );
    println!("  environments");
    for env in sandbox.environments() {
        println!(
            "    {:<16} {:<18} {:<13} {:<12} {:<7} {}",
            env.name,
            env.profile,
            env.region,
            env.status,
            env.airflow_version,
            if env.private {
                "Private · vpce"
            } else {
                "Public"
            }
        );
    }
    if sandbox.network().is_some() {
        let lab = sandbox.self_hosted_record();
        println!(
            "  self-hosted   {} at {}, through the bastion",
            lab.name, lab.url
        );
    }
    println!(
        "  web servers   HTTPS with the sandbox's own certificate (trusted only in the browser \
         profiles Airgate starts); public ones on {}",
        sandbox.public_web_addr()
    );
    println!("  web log       {}", sandbox.web_log().display());
    println!("  app environment");
    for (key, value) in sandbox.app_env() {
        println!("    {key}={value}");
    }
}
