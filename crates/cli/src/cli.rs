use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use airgate_discovery::{AccessMode, Discovery, Environment, FailureKind, SourceFailure};
use airgate_launch::open::{Launch, OpenRequest};
use airgate_launch::{Browsers, OpenProgress, OpenStep, OpenTarget, StepState};
use airgate_tunnel::{BastionSpec, ForwardTo, TunnelSpec, TunnelState, Tunnels};
use clap::{Parser, Subcommand};

use crate::error::{Error, Result};

/// Reach Apache Airflow on Amazon MWAA: list environments, open them logged in, open tunnels
/// through bastions.
#[derive(Debug, Parser)]
#[command(
    name = "airgate",
    version,
    after_help = "`airgate envs` exits with 2 when a profile or file could not be listed (the rest is printed)."
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// How a route reaches its bastion and checks host keys: the same for connect, open, forward.
#[derive(Debug, clap::Args)]
struct Hops {
    /// Private key file to log in to a bastion given as an address (and to its --jump hosts).
    #[arg(long, requires = "bastion")]
    key: Option<PathBuf>,
    /// Read a stored key's passphrase from standard input (one line) instead of the terminal.
    #[arg(long)]
    passphrase_stdin: bool,
    /// A jump host to go through first ([user@]host[:port], as `ssh -J`); repeat for a chain,
    /// first hop first. Each logs in with --key.
    #[arg(long = "jump")]
    jump: Vec<String>,
    /// known_hosts file(s) to check the bastion's host key against [default: Airgate's own,
    /// then ~/.ssh/known_hosts].
    #[arg(long = "known-hosts")]
    known_hosts: Vec<PathBuf>,
    /// Never ask: an unknown host key is refused (as without a terminal).
    #[arg(long)]
    batch: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List MWAA environments of every AWS profile and region.
    ///
    /// At a terminal, a role that needs an MFA code (`mfa_serial`) asks for it first (Enter
    /// skips it); its credentials are kept in memory only, for this run.
    Envs {
        /// Print JSON (environments and per-profile failures) instead of a table.
        #[arg(long)]
        json: bool,
        /// Only this profile's environments (and failures).
        #[arg(long)]
        profile: Option<String>,
        /// Only this region's environments (and failures).
        #[arg(long)]
        region: Option<String>,
    },
    /// Open a SOCKS tunnel (SOCKS5, 4, 4a) to a private environment through a bastion; runs
    /// until Ctrl-C.
    Connect {
        /// Environment name.
        env: String,
        /// Profile that sees the environment, when the name is in several.
        #[arg(long)]
        profile: Option<String>,
        /// Region of the environment, when the name is in several.
        #[arg(long)]
        region: Option<String>,
        /// The bastion: a saved one's name, or [user@]host[:port] with --key (user defaults to
        /// ec2-user, port to 22).
        #[arg(long)]
        bastion: String,
        #[command(flatten)]
        hops: Hops,
        /// Local SOCKS port on 127.0.0.1 (0 picks a free one) [default: the environment's
        /// remembered port, else a free one, then remembered].
        #[arg(long)]
        port: Option<u16>,
    },
    /// Forward a local port to a host behind a bastion (`ssh -L`), e.g. a self-hosted Airflow
    /// or a database; runs until Ctrl-C. Needs no AWS account.
    Forward {
        /// Where to: host:port as the bastion sees it (the bastion resolves the name).
        #[arg(long)]
        to: String,
        /// The bastion: a saved one's name, or [user@]host[:port] with --key (user defaults to
        /// ec2-user, port to 22).
        #[arg(long)]
        bastion: String,
        #[command(flatten)]
        hops: Hops,
        /// Local port on 127.0.0.1 [default: the one this forward had last time, else a free
        /// one, then remembered].
        #[arg(long)]
        port: Option<u16>,
    },
    /// Open an environment's Airflow UI, logged in, in a browser of its own (through a tunnel
    /// when it is private; the tunnel stays up until Ctrl-C).
    Open {
        /// Environment name.
        env: String,
        /// Profile that sees the environment, when the name is in several.
        #[arg(long)]
        profile: Option<String>,
        /// Region of the environment, when the name is in several.
        #[arg(long)]
        region: Option<String>,
        /// For a private environment, the bastion: a saved one's name, or [user@]host[:port]
        /// with --key.
        #[arg(long)]
        bastion: Option<String>,
        #[command(flatten)]
        hops: Hops,
        /// Local SOCKS port on 127.0.0.1 (0 picks a free one) [default: the environment's
        /// remembered port, else a free one, then remembered].
        #[arg(long)]
        port: Option<u16>,
        /// The browser: a name (chromium, chrome, edge, brave, firefox) or a path
        /// [default: the settings' choice, else the first one found].
        #[arg(long, env = "AIRGATE_BROWSER")]
        browser: Option<String>,
        /// Print the login URL instead of starting a browser (it logs in once, within 60 s).
        #[arg(long)]
        print_url: bool,
        /// Use the tunnel even when the web server answers directly (VPN, inside the VPC).
        #[arg(long)]
        force_tunnel: bool,
    },
    /// Sign in to IAM Identity Center (SSO) for a profile's session, as `aws sso login
    /// --use-device-code` does: prints the page to open and its code, waits for the approval,
    /// and saves the token where the AWS CLI keeps it (one sign-in serves every profile of the
    /// session). Airgate opens no browser for it: open the page printed.
    Login {
        /// The profile whose SSO session to sign in [default: AWS_PROFILE, else default].
        #[arg(conflicts_with = "sso_session")]
        profile: Option<String>,
        /// Sign in the [sso-session NAME] of the config instead.
        #[arg(long)]
        sso_session: Option<String>,
        /// Accepted as `aws sso login --no-browser` is: only the page is printed either way.
        #[arg(long)]
        no_browser: bool,
    },
    /// SSH keys kept in the keyring (shared with the desktop app).
    Keys {
        #[command(subcommand)]
        command: crate::saved::KeysCommand,
    },
    /// Saved bastions (shared with the desktop app).
    Bastions {
        #[command(subcommand)]
        command: crate::saved::BastionsCommand,
    },
    /// Airflow connections in the keyring, as AIRFLOW_CONN_<ID> for Airflow and scripts.
    Conns {
        #[command(subcommand)]
        command: crate::conns::ConnsCommand,
    },
}

pub async fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Envs {
            json,
            profile,
            region,
        } => envs(json, profile.as_deref(), region.as_deref()).await,
        Command::Connect {
            env,
            profile,
            region,
            bastion,
            hops,
            port,
        } => {
            let found = discover(profile.as_deref()).await;
            let env = &pick(&found, &env, profile.as_deref(), region.as_deref())?;
            let port = port_of(env, port)?;
            let spec = tunnel_spec(&bastion, &hops, port)?;
            connect(env, spec, hops.batch).await
        }
        Command::Forward {
            to,
            bastion,
            hops,
            port,
        } => {
            let to = ForwardTo::parse(&to).ok_or(Error::BadTarget(to))?;
            let id = to.tunnel_id();
            let port = match port {
                Some(port) => port,
                None => {
                    let data_dir = airgate_launch::settings::data_dir().ok_or(Error::NoHome)?;
                    airgate_launch::ports::of(&data_dir, &id)?.unwrap_or(0)
                }
            };
            let mut spec = tunnel_spec(&bastion, &hops, port)?;
            spec.forward = Some(to);
            forward(&id, spec, hops.batch).await
        }
        Command::Open {
            env,
            profile,
            region,
            bastion,
            hops,
            port,
            browser,
            print_url,
            force_tunnel,
        } => {
            let found = discover(profile.as_deref()).await;
            let env = &pick(&found, &env, profile.as_deref(), region.as_deref())?;
            let tunnel = match bastion {
                Some(bastion) => {
                    let port = port_of(env, port)?;
                    Some(tunnel_spec(&bastion, &hops, port)?)
                }
                None => None,
            };
            trusting(hops.batch, tunnel.as_ref(), |tunnel| {
                open(env, tunnel, browser.clone(), print_url, force_tunnel)
            })
            .await
        }
        Command::Login {
            profile,
            sso_session,
            no_browser: _,
        } => crate::login::login(profile, sso_session).await,
        Command::Keys { command } => crate::saved::keys(command),
        Command::Bastions { command } => crate::saved::bastions(command),
        Command::Conns { command } => crate::conns::run(command).await,
    }
}

/// `--port`, else the port remembered for the environment's tunnel (shared with the desktop
/// app), else 0 (any free port; remembered once connected).
fn port_of(env: &Environment, port: Option<u16>) -> Result<u16> {
    if let Some(port) = port {
        return Ok(port);
    }
    let data_dir = airgate_launch::settings::data_dir().ok_or(Error::NoHome)?;
    Ok(airgate_launch::ports::of(&data_dir, &env.id())?.unwrap_or(0))
}

/// Remembers the port a tunnel got, for its next Connect.
fn remember_port(id: &str, port: u16) {
    let remembered = airgate_launch::settings::data_dir()
        .map(|dir| airgate_launch::ports::remember(&dir, id, port));
    if let Some(Err(err)) = remembered {
        tracing::warn!(cause = %err, "cannot remember the tunnel's port");
    }
}

/// The tunnel the route options describe: `--bastion` (a saved bastion, or an address with
/// `--key`), `--jump`, `--known-hosts`, `--port`.
fn tunnel_spec(bastion: &str, hops: &Hops, port: u16) -> Result<TunnelSpec> {
    let bastion =
        match hops.key.clone() {
            Some(key) => {
                let mut bastion = parse_bastion(bastion, key.clone())?;
                bastion.jump = hops
                    .jump
                    .iter()
                    .map(|hop| parse_bastion(hop, key.clone()))
                    .collect::<Result<_>>()?;
                bastion
            }
            None if !hops.jump.is_empty() => return Err(Error::NeedsKey(bastion.to_owned())),
            None => crate::saved::bastion_spec(bastion, hops.batch, hops.passphrase_stdin)
                .map_err(|e| match e {
                    Error::Open(airgate_launch::Error::NoSuchBastion { .. })
                        if bastion.contains(['@', ':', '.']) =>
                    {
                        Error::NeedsKey(bastion.to_owned())
                    }
                    other => other,
                })?,
        };
    Ok(TunnelSpec {
        bastion,
        known_hosts: default_known_hosts(hops.known_hosts.clone())?,
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        forward: None,
    })
}

/// `--known-hosts`, else what the desktop app checks too: Airgate's own known_hosts (where
/// "trust always" writes), then `~/.ssh/known_hosts`.
fn default_known_hosts(known_hosts: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    if !known_hosts.is_empty() {
        return Ok(known_hosts);
    }
    let data_dir = airgate_launch::settings::data_dir().ok_or(Error::NoHome)?;
    Ok(airgate_paths::Platform::current().known_hosts_files(&data_dir))
}

fn own_known_hosts(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join(airgate_paths::KNOWN_HOSTS_FILE)
}

/// The unknown host key an error is about, if it is one.
fn unknown_key(err: &Error) -> Option<&airgate_tunnel::Error> {
    let tunnel = match err {
        Error::Tunnel(e) | Error::Open(airgate_launch::Error::Tunnel(e)) => e,
        _ => return None,
    };
    matches!(tunnel, airgate_tunnel::Error::UnknownHostKey { .. }).then_some(tunnel)
}

/// The answer to "trust this host key?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    Once,
    Always,
    No,
}

/// Reads the answer: `o`/`once`, `a`/`always`; anything else (and an empty line) is no.
fn parse_trust(answer: &str) -> Trust {
    match answer.trim().to_ascii_lowercase().as_str() {
        "o" | "once" => Trust::Once,
        "a" | "always" => Trust::Always,
        _ => Trust::No,
    }
}

/// Runs `attempt` with the route `tunnel`; when the bastion's host key is unknown and a person
/// is at the terminal (and not `batch`), asks whether to trust it once or always, then runs it
/// again (trusting that very key, once, or from Airgate's known_hosts).
async fn trusting<T, F, Fut>(batch: bool, tunnel: Option<&TunnelSpec>, mut attempt: F) -> Result<T>
where
    F: FnMut(Option<TunnelSpec>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    use std::io::{BufRead, IsTerminal, Write};
    let err = match attempt(tunnel.cloned()).await {
        Err(err) => err,
        ok => return ok,
    };
    let Some(airgate_tunnel::Error::UnknownHostKey {
        host,
        port,
        key_type,
        fingerprint,
        public_key,
    }) = unknown_key(&err)
    else {
        return Err(err);
    };
    let Some(tunnel) = tunnel else {
        return Err(err);
    };
    if batch || !std::io::stdin().is_terminal() {
        return Err(err);
    }
    eprintln!("The bastion {host}:{port} presents a host key Airgate has never seen:");
    eprintln!("  {key_type} {fingerprint}");
    eprintln!("Compare it with the fingerprint the bastion's owner gives you before you trust it.");
    eprint!("Trust it [o]nce, [a]lways, or [N]o? ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(Error::Signal)?;
    let mut again = tunnel.clone();
    match parse_trust(&answer) {
        Trust::No => return Err(err),
        Trust::Once => again.bastion.trust_once = Some(fingerprint.clone()),
        Trust::Always => {
            let data_dir = airgate_launch::settings::data_dir().ok_or(Error::NoHome)?;
            let file = own_known_hosts(&data_dir);
            airgate_tunnel::trust_host_key(&file, host, *port, public_key)?;
            eprintln!("Added to {}.", file.display());
            if !again.known_hosts.contains(&file) {
                again.known_hosts.insert(0, file);
            }
        }
    }
    attempt(Some(again)).await
}

async fn open(
    env: &Environment,
    tunnel: Option<TunnelSpec>,
    browser: Option<String>,
    print_url: bool,
    tunnel_forced: bool,
) -> Result<ExitCode> {
    let data_dir = airgate_launch::settings::data_dir().ok_or(Error::NoHome)?;
    let settings = airgate_launch::settings::load(&data_dir)?;
    let force_tunnel = settings.force_tunnel || tunnel_forced;
    let launch = if print_url {
        Launch::PrintUrl
    } else {
        // The environment's own browser, unless it is the desktop app's window: then the
        // default one.
        let own = Some(settings.browser_for(&env.id()))
            .flatten()
            .filter(|c| !airgate_launch::browser::is_in_app(Some(c)))
            .map(str::to_owned);
        let choice = browser.or(own).or(settings.browser.clone());
        Launch::Browser {
            browser: airgate_launch::browser::choose(choice.as_deref())?,
            profiles: data_dir.join("browsers"),
            extra_args: settings.browser_args,
        }
    };
    let target = OpenTarget::from(env);
    let id = target.id.clone();
    let private = target.private;
    let request = OpenRequest {
        target,
        tunnel,
        aws: airgate_discovery::aws_files(),
        launch,
        force_tunnel,
    };
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let browsers = Browsers::default();
    eprintln!("Opening {}…", env.name);
    let report = |progress: OpenProgress| {
        let step = match progress.step {
            OpenStep::Route => "route",
            OpenStep::Token => "token",
            OpenStep::Browser => "browser",
        };
        match progress.state {
            StepState::Running => {}
            StepState::Done { detail } => eprintln!("  ok   {step:<8} {detail}"),
            // The reason follows once, as the error.
            StepState::Failed { .. } => eprintln!("  FAIL {step}"),
        }
    };
    let opened = match airgate_launch::open(request, &tunnels, &browsers, &report).await {
        Ok(opened) => opened,
        Err(err) => {
            tunnels.shutdown().await;
            return Err(err.into());
        }
    };
    if let Some(url) = &opened.url {
        println!("{url}");
    }
    eprintln!("Opened in {} ms.", opened.elapsed.as_millis());
    let Some(port) = opened.socks_port.filter(|_| private) else {
        return Ok(ExitCode::SUCCESS);
    };
    remember_port(&id, port);
    let mut interrupt = Interrupt::listen().map_err(Error::Signal)?;
    eprintln!(
        "The tunnel stays up on 127.0.0.1:{port} (SOCKS5) while the browser uses it. Press Ctrl-C to disconnect."
    );
    hold(&tunnels, &mut events, &id, &mut interrupt).await
}

/// Runs the local forward `spec` until Ctrl-C.
async fn forward(id: &str, spec: TunnelSpec, batch: bool) -> Result<ExitCode> {
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let to = spec.forward.clone();
    eprintln!(
        "Connecting to {}@{}:{}…",
        spec.bastion.user, spec.bastion.host, spec.bastion.port
    );
    let port = trusting(batch, Some(&spec), |spec| {
        let (tunnels, id) = (tunnels.clone(), id.to_owned());
        async move {
            let Some(spec) = spec else {
                return Err(Error::Tunnel(airgate_tunnel::Error::Stopped));
            };
            Ok(tunnels.connect(&id, spec).await?)
        }
    })
    .await?;
    remember_port(id, port);
    let mut interrupt = Interrupt::listen().map_err(Error::Signal)?;
    if let Some(to) = to {
        println!(
            "Forwarding 127.0.0.1:{port} to {}:{} through the bastion",
            to.host, to.port
        );
    }
    println!("Press Ctrl-C to stop.");
    hold(&tunnels, &mut events, id, &mut interrupt).await
}

/// Every environment, in the regions the settings (shared with the app) add to each profile's.
/// In a terminal, a profile whose role needs an MFA code (`profile`, or every one) asks for it
/// first.
pub(crate) async fn discover(profile: Option<&str>) -> Discovery {
    let options = airgate_launch::settings::data_dir()
        .and_then(|dir| airgate_launch::settings::load(&dir).ok())
        .unwrap_or_default()
        .discover_options();
    let files = airgate_discovery::aws_files();
    ask_mfa_codes(&files, profile).await;
    airgate_discovery::discover_with(&files, &options).await
}

/// Asks on the terminal for the code of each MFA profile without live credentials (Enter skips
/// one; a wrong code is asked again, up to 3 times). Without a terminal nothing is asked: those
/// profiles are then listed as failures saying so.
async fn ask_mfa_codes(files: &airgate_discovery::AwsFiles, only: Option<&str>) {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        return;
    }
    for mfa in airgate_discovery::mfa_profiles(files).await {
        if mfa.signed_in || only.is_some_and(|p| !mfa.used_by.iter().any(|u| u == p)) {
            continue;
        }
        for _ in 0..3 {
            eprint!(
                "MFA code for profile {} ({}), Enter to skip: ",
                mfa.profile, mfa.serial
            );
            let line = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).map(|_| line)
            })
            .await;
            let Ok(Ok(code)) = line else { return };
            if code.trim().is_empty() {
                break;
            }
            match airgate_discovery::mfa_sign_in(files, &mfa.profile, &code).await {
                Ok(signed_in) => {
                    eprintln!(
                        "Profile {} can be used until {}.",
                        mfa.profile,
                        signed_in.expires_at_utc()
                    );
                    break;
                }
                Err(
                    err @ (airgate_discovery::MfaError::BadCode
                    | airgate_discovery::MfaError::WrongCode { .. }),
                ) => eprintln!("{err}"),
                Err(err) => {
                    eprintln!("warning: {}: {err}", mfa.profile);
                    break;
                }
            }
        }
    }
}

/// `airgate envs` exits with this when some profile or file could not be listed (what could be
/// listed is still printed).
pub const EXIT_PARTIAL: u8 = 2;

async fn envs(json: bool, profile: Option<&str>, region: Option<&str>) -> Result<ExitCode> {
    let mut found = discover(profile).await;
    found.environments.retain(|env| {
        profile.is_none_or(|p| env.profile == p || env.also_seen_by.iter().any(|a| a == p))
            && region.is_none_or(|r| env.region == r)
    });
    // A file that cannot be read concerns every profile; a source's failure only its own.
    found.failures.retain(|f| {
        f.kind == FailureKind::Config
            || f.kind == FailureKind::NoProfiles
            || (profile.is_none_or(|p| f.profile == p)
                && region.is_none_or(|r| f.region.as_deref().is_none_or(|fr| fr == r)))
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        let no_profiles = found
            .failures
            .iter()
            .any(|f| f.kind == FailureKind::NoProfiles);
        if !no_profiles {
            print!("{}", table(&found.environments));
        }
        warn_failures(&found.failures);
    }
    Ok(if found.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    })
}

/// One `warning: profile/region: message` line on stderr per source that could not be listed.
fn warn_failures(failures: &[SourceFailure]) {
    for failure in failures {
        let place = match &failure.region {
            Some(region) => format!("{}/{}", failure.profile, region),
            None => failure.profile.clone(),
        };
        eprintln!("warning: {place}: {}", failure.message);
    }
}

fn access_label(access: AccessMode) -> &'static str {
    match access {
        AccessMode::Public => "Public",
        AccessMode::PrivateVpce => "Private · vpce",
    }
}

fn table(envs: &[Environment]) -> String {
    if envs.is_empty() {
        return "No MWAA environments found. Check your profiles in ~/.aws/config.\n".to_owned();
    }
    let header = ["NAME", "PROFILE", "REGION", "STATUS", "AIRFLOW", "ACCESS"];
    let rows: Vec<[String; 6]> = envs
        .iter()
        .map(|env| {
            [
                env.name.clone(),
                std::iter::once(&env.profile)
                    .chain(&env.also_seen_by)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                env.region.clone(),
                env.status.clone(),
                env.airflow_version
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                access_label(env.access).to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

/// The environment `name` (narrowed by `profile` and `region`), seen through `profile` when
/// it is given (its credentials are then the ones used).
pub(crate) fn pick(
    found: &Discovery,
    name: &str,
    profile: Option<&str>,
    region: Option<&str>,
) -> Result<Environment> {
    let sees =
        |env: &Environment, p: &str| env.profile == p || env.also_seen_by.iter().any(|a| a == p);
    let matches: Vec<&Environment> = found
        .environments
        .iter()
        .filter(|env| env.name == name)
        .filter(|env| profile.is_none_or(|p| sees(env, p)))
        .filter(|env| region.is_none_or(|r| env.region == r))
        .collect();
    let seen_through = |env: &Environment| {
        let mut env = env.clone();
        if let Some(p) = profile
            && env.profile != p
        {
            env.also_seen_by.retain(|a| a != p);
            env.also_seen_by
                .push(std::mem::replace(&mut env.profile, p.to_owned()));
        }
        env
    };
    match matches.as_slice() {
        [] => {
            warn_failures(&found.failures);
            Err(Error::NoSuchEnvironment {
                name: name.to_owned(),
            })
        }
        [env] => Ok(seen_through(env)),
        // The same environment seen through two profiles of one account is still one.
        [first, rest @ ..]
            if rest
                .iter()
                .all(|env| env.arn.is_some() && env.arn == first.arn) =>
        {
            Ok(seen_through(first))
        }
        _ => Err(Error::ambiguous(name, &matches)),
    }
}

fn parse_bastion(value: &str, key_path: PathBuf) -> Result<BastionSpec> {
    let bad = || Error::BadBastion {
        value: value.to_owned(),
    };
    let (user, rest) = match value.split_once('@') {
        Some((user, rest)) if !user.is_empty() => (user.to_owned(), rest),
        Some(_) => return Err(bad()),
        None => ("ec2-user".to_owned(), value),
    };
    let parse_port = |port: &str| port.parse::<u16>().map_err(|_| bad());
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        // [IPv6] or [IPv6]:port
        let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (host, 22),
            _ => (host, parse_port(after.strip_prefix(':').ok_or_else(bad)?)?),
        }
    } else {
        match rest.split_once(':') {
            // More than one colon: a bare IPv6 address, default port.
            Some((_, port)) if port.contains(':') => (rest, 22),
            Some((host, port)) => (host, parse_port(port)?),
            None => (rest, 22),
        }
    };
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(BastionSpec {
        host: host.to_owned(),
        port,
        user,
        key: airgate_tunnel::KeySource::File(key_path),
        keepalive: airgate_tunnel::Keepalive::default(),
        trust_once: None,
        host_key: None,
        jump: Vec::new(),
    })
}

async fn connect(env: &Environment, spec: TunnelSpec, batch: bool) -> Result<ExitCode> {
    let host = env
        .webserver_host
        .clone()
        .ok_or_else(|| Error::NoWebserver {
            name: env.name.clone(),
            status: env.status.clone(),
        })?;
    let tunnels = Tunnels::new();
    let mut events = tunnels.subscribe();
    let id = env.id();
    eprintln!(
        "Connecting to {} through {}@{}:{}…",
        env.name, spec.bastion.user, spec.bastion.host, spec.bastion.port
    );
    let port = trusting(batch, Some(&spec), |spec| {
        let (tunnels, id) = (tunnels.clone(), id.clone());
        async move {
            let Some(spec) = spec else {
                return Err(Error::Tunnel(airgate_tunnel::Error::Stopped));
            };
            Ok(tunnels.connect(&id, spec).await?)
        }
    })
    .await?;
    remember_port(&id, port);
    // Listen before saying so: a Ctrl-C right after the announcement must disconnect cleanly.
    let mut interrupt = Interrupt::listen().map_err(Error::Signal)?;
    println!("SOCKS5 proxy for {} on 127.0.0.1:{port}", env.name);
    println!(
        "Open https://{host}/ in a browser started with --proxy-server=socks5://127.0.0.1:{port}"
    );
    println!("Press Ctrl-C to disconnect.");
    hold(&tunnels, &mut events, &id, &mut interrupt).await
}

/// Keeps the tunnel `id` up until Ctrl-C (success) or until it fails (failure), then closes
/// every tunnel.
async fn hold(
    tunnels: &Tunnels,
    events: &mut tokio::sync::broadcast::Receiver<airgate_tunnel::TunnelEvent>,
    id: &str,
    interrupt: &mut Interrupt,
) -> Result<ExitCode> {
    use tokio::sync::broadcast::error::RecvError;
    let mut lost = false;
    let code = loop {
        tokio::select! {
            () = interrupt.recv() => break ExitCode::SUCCESS,
            event = events.recv() => match event {
                Ok(event) if event.id == id => match event.state {
                    TunnelState::Failed { reason } => {
                        eprintln!("error: tunnel failed: {reason}");
                        break ExitCode::FAILURE;
                    }
                    TunnelState::Reconnecting { port, attempt, next_try_secs, last_error } => {
                        lost = true;
                        eprintln!(
                            "Reconnecting (attempt {attempt}, in {next_try_secs} s; port {port} \
                             stays open): {last_error}"
                        );
                    }
                    TunnelState::Connected { port } if lost => {
                        lost = false;
                        eprintln!("Connected again on 127.0.0.1:{port}.");
                    }
                    _ => {}
                },
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break ExitCode::FAILURE,
            }
        }
    };
    tunnels.shutdown().await;
    eprintln!("Disconnected.");
    Ok(code)
}

/// Ctrl-C (on Unix also SIGTERM), caught from the moment it is created, so a signal that comes
/// before the first wait is not lost.
#[derive(Debug)]
struct Interrupt {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(not(unix))]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Interrupt {
    fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {
                ctrl_c: tokio::signal::windows::ctrl_c()?,
            })
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = self.ctrl_c.recv().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_answers() {
        assert_eq!(parse_trust("o\n"), Trust::Once);
        assert_eq!(parse_trust(" Always "), Trust::Always);
        assert_eq!(parse_trust("\n"), Trust::No);
        assert_eq!(
            parse_trust("yes"),
            Trust::No,
            "only what the prompt offers trusts"
        );
    }

    #[test]
    fn bastion_forms() {
        let key = PathBuf::from("k");
        let spec = parse_bastion("admin@bastion.example:2222", key.clone()).expect("valid");
        assert_eq!(
            (spec.user.as_str(), spec.host.as_str(), spec.port),
            ("admin", "bastion.example", 2222)
        );
        let spec = parse_bastion("10.0.0.5", key.clone()).expect("valid");
        assert_eq!(
            (spec.user.as_str(), spec.host.as_str(), spec.port),
            ("ec2-user", "10.0.0.5", 22)
        );
        let spec = parse_bastion("u@[::1]:2222", key.clone()).expect("valid");
        assert_eq!((spec.host.as_str(), spec.port), ("::1", 2222));
        let spec = parse_bastion("[fd00::5]", key.clone()).expect("valid");
        assert_eq!((spec.host.as_str(), spec.port), ("fd00::5", 22));
        let spec = parse_bastion("fd00::5", key.clone()).expect("valid");
        assert_eq!((spec.host.as_str(), spec.port), ("fd00::5", 22));
        for bad in [
            "@host", "u@host:x", "u@", "u@host:0", "u@[::1", "u@[::1]x", "u@[]:22",
        ] {
            let err = parse_bastion(bad, key.clone()).expect_err(bad);
            assert!(err.to_string().contains("[user@]host[:port]"), "{err}");
        }
    }

    fn env(name: &str, profile: &str, access: AccessMode) -> Environment {
        Environment {
            name: name.to_owned(),
            profile: profile.to_owned(),
            region: "eu-west-1".to_owned(),
            status: "AVAILABLE".to_owned(),
            airflow_version: Some("2.10.3".to_owned()),
            access,
            webserver_host: Some(format!("{name}.example")),
            arn: Some(format!(
                "arn:aws:airflow:eu-west-1:{profile}:environment/{name}"
            )),
            security_group_ids: vec![],
            ..Environment::default()
        }
    }

    #[test]
    fn table_shows_access_in_words() {
        let out = table(&[
            env("orders-prod", "prod", AccessMode::PrivateVpce),
            env("dev", "dev", AccessMode::Public),
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAME"));
        assert!(
            lines[1].starts_with("orders-prod") && lines[1].ends_with("Private · vpce"),
            "{out}"
        );
        assert!(
            lines[2].starts_with("dev") && lines[2].ends_with("Public"),
            "{out}"
        );
    }

    #[test]
    fn pick_asks_to_disambiguate() {
        let found = Discovery {
            environments: vec![
                env("etl", "a", AccessMode::Public),
                env("etl", "b", AccessMode::Public),
            ],
            failures: vec![],
            identities: Vec::new(),
        };
        let err = pick(&found, "etl", None, None).expect_err("two accounts");
        assert!(
            err.to_string().contains("a/eu-west-1, b/eu-west-1"),
            "{err}"
        );
        assert_eq!(
            pick(&found, "etl", Some("b"), None).expect("one").profile,
            "b"
        );
        assert!(matches!(
            pick(&found, "nope", None, None),
            Err(Error::NoSuchEnvironment { .. })
        ));
    }
}
