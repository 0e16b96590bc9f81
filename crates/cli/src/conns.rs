//! `airgate conns`: Airflow connections in the keyring (shared with the desktop app), as
//! `AIRFLOW_CONN_<ID>` variables for Airflow, scripts and local DAG runs.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use airgate_discovery::{
    ConnectionsPrefix, DEFAULT_CONNECTIONS_PREFIX, PrefixSource, SECRETS_MANAGER_BACKEND,
    SecretsManager, Written,
};
use airgate_launch::airflow_conn::AirflowConnection;
use clap::Subcommand;

use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum ConnsCommand {
    /// List the stored connections (no password, no extra).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Store a connection; its password is asked for (no echo) with --password, or read from
    /// stdin with --password-stdin.
    Add {
        conn_id: String,
        #[arg(long = "type")]
        conn_type: String,
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        schema: Option<String>,
        #[arg(long)]
        login: Option<String>,
        /// The extra field, a JSON object.
        #[arg(long)]
        extra: Option<String>,
        /// Ask for the password at the terminal.
        #[arg(long, conflicts_with = "password_stdin")]
        password: bool,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Store connections from a `.env` file of AIRFLOW_CONN_<ID>=<URI or JSON> lines (`-`:
    /// standard input), or with --uri one connection from a URI or its JSON form.
    Import {
        /// The file, or `-`.
        #[arg(required_unless_present = "uri")]
        file: Option<PathBuf>,
        /// CONN_ID and its URI (or JSON) instead of a file.
        #[arg(long, num_args = 2, value_names = ["CONN_ID", "URI"], conflicts_with = "file")]
        uri: Option<Vec<String>>,
    },
    /// Print AIRFLOW_CONN_<ID>='...' lines (for a .env file), every connection when none is
    /// named. These hold the passwords: redirect them to a file only you can read.
    Export {
        conn_ids: Vec<String>,
        /// The JSON form instead of the URI (Airflow 2.3 and later read it).
        #[arg(long)]
        json: bool,
    },
    /// Write stored connections (every one when none is named) to AWS Secrets Manager, where
    /// an MWAA environment's Airflow reads them (secret `<prefix>/<conn_id>`, the prefix from
    /// the environment's secrets.backend_kwargs); secrets that do not exist are created.
    Push {
        conn_ids: Vec<String>,
        #[command(flatten)]
        target: SecretsTarget,
        /// Write the JSON form even where the URI reads back unchanged (Airflow 2.3 and later
        /// read it; the URI form is read by every version).
        #[arg(long)]
        json: bool,
    },
    /// Store connections read from AWS Secrets Manager (every one under the prefix when none is
    /// named), as the environment's Airflow reads them.
    Pull {
        conn_ids: Vec<String>,
        #[command(flatten)]
        target: SecretsTarget,
        /// Replace connections of the same id stored already (by default they are kept).
        #[arg(long)]
        replace: bool,
    },
    /// Delete a stored connection.
    Delete { conn_id: String },
    /// Run COMMAND with AIRFLOW_CONN_<ID> set for the chosen connections (every one by
    /// default); nothing is written to a file. Exits with the command's status.
    Exec {
        /// A connection to pass (repeat); every stored one when none.
        #[arg(long = "conn")]
        conn_ids: Vec<String>,
        #[arg(trailing_var_arg = true, required = true, num_args = 1..)]
        command: Vec<String>,
    },
}

/// Where `push` and `pull` go: an environment (its profile, region and prefix), or a profile
/// and region with a prefix.
#[derive(Debug, clap::Args)]
pub struct SecretsTarget {
    /// The MWAA environment whose Airflow reads the connections.
    #[arg(long = "env", value_name = "NAME", required_unless_present = "prefix")]
    environment: Option<String>,
    /// The profile that sees the environment (needed without --env).
    #[arg(long, required_unless_present = "environment")]
    profile: Option<String>,
    /// The region of the environment (needed without --env).
    #[arg(long, required_unless_present = "environment")]
    region: Option<String>,
    /// The secrets' name prefix [default: the environment's connections_prefix, else
    /// airflow/connections].
    #[arg(long)]
    prefix: Option<String>,
}

/// Secrets Manager for the target, and the prefix its connections live under.
async fn secrets_target(target: SecretsTarget) -> Result<(SecretsManager, ConnectionsPrefix)> {
    let files = airgate_discovery::aws_files();
    let (profile, region) = match (&target.environment, target.profile, target.region) {
        (_, Some(profile), Some(region)) => (profile, region),
        (Some(name), profile, region) => {
            let found = crate::cli::discover(profile.as_deref()).await;
            let env = crate::cli::pick(&found, name, profile.as_deref(), region.as_deref())?;
            (env.profile.clone(), env.region.clone())
        }
        (None, _, _) => return Err(Error::NoSecretsTarget),
    };
    let found = match (target.prefix, &target.environment) {
        (None, Some(name)) => {
            SecretsManager::for_environment(&files, &profile, &region, name).await
        }
        (prefix, _) => SecretsManager::new(&files, &profile, &region)
            .await
            .map(|manager| {
                let prefix = prefix.as_deref().unwrap_or(DEFAULT_CONNECTIONS_PREFIX);
                (manager, ConnectionsPrefix::chosen(prefix))
            }),
    };
    let (manager, prefix) = found.map_err(airgate_launch::Error::from)?;
    if let Some(name) = &target.environment
        && prefix.source == PrefixSource::NotConfigured
    {
        eprintln!(
            "warning: {name} has no secrets backend configured: its Airflow reads Secrets \
             Manager only once secrets.backend is {SECRETS_MANAGER_BACKEND}. Using {}.",
            prefix.prefix
        );
    }
    Ok((manager, prefix))
}

pub async fn run(command: ConnsCommand) -> Result<ExitCode> {
    let vault = crate::saved::vault()?;
    match command {
        ConnsCommand::Push {
            conn_ids,
            target,
            json,
        } => {
            let values = airgate_launch::connections::push_values(&vault, &conn_ids, json)?;
            if values.is_empty() {
                eprintln!("No stored connection to push.");
                return Ok(ExitCode::SUCCESS);
            }
            let (manager, prefix) = secrets_target(target).await?;
            let report = airgate_launch::connections::push(&manager, &prefix, &values).await;
            drop(values);
            for pushed in &report.pushed {
                let verb = match pushed.written {
                    Written::Created => "created",
                    Written::Updated => "updated",
                };
                eprintln!("Pushed {} to {} ({verb}).", pushed.conn_id, pushed.secret);
            }
            return Ok(partial(&report.problems));
        }
        ConnsCommand::Pull {
            conn_ids,
            target,
            replace,
        } => {
            let (manager, prefix) = secrets_target(target).await?;
            let (connections, mut problems) =
                airgate_launch::connections::fetch(&manager, &prefix, &conn_ids).await?;
            let report = airgate_launch::connections::store_pulled(&vault, &connections, replace)?;
            for id in &report.saved {
                eprintln!("Stored {id} from {}.", prefix.secret_name(id));
            }
            problems.extend(report.problems);
            if report.saved.is_empty() && problems.is_empty() {
                eprintln!("No connection under {}.", prefix.list_prefix());
            }
            return Ok(partial(&problems));
        }
        ConnsCommand::List { json } => {
            let connections = vault.connections()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&connections)?);
            } else if connections.is_empty() {
                eprintln!(
                    "No stored connection. Add one with `airgate conns add ID --type T` or `airgate conns import FILE`."
                );
            } else {
                for c in connections {
                    let host = c.host.unwrap_or_default();
                    let port = c.port.map(|p| format!(":{p}")).unwrap_or_default();
                    println!(
                        "{}\t{}\t{host}{port}\t{}",
                        c.conn_id,
                        c.conn_type,
                        c.login.unwrap_or_default()
                    );
                }
            }
        }
        ConnsCommand::Add {
            conn_id,
            conn_type,
            host,
            port,
            schema,
            login,
            extra,
            password,
            password_stdin,
        } => {
            let password = if password || password_stdin {
                let prompt = format!("Password for {conn_id}: ");
                Some(
                    crate::saved::read_secret(&prompt, password_stdin)?
                        .expose()
                        .to_owned(),
                )
            } else {
                None
            };
            let conn = AirflowConnection {
                conn_id,
                conn_type,
                host,
                schema,
                login,
                password,
                port,
                extra,
                description: None,
            };
            let saved = airgate_launch::connections::store(&vault, &conn)?;
            eprintln!("Stored {}.", saved.conn_id);
        }
        ConnsCommand::Import { file, uri } => {
            if let Some([conn_id, value]) = uri.as_deref() {
                let saved = airgate_launch::connections::import_value(&vault, conn_id, value)?;
                eprintln!("Stored {}.", saved.conn_id);
                return Ok(ExitCode::SUCCESS);
            }
            let file = file.unwrap_or_else(|| PathBuf::from("-"));
            let text = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(Error::Terminal)?;
                text
            } else {
                std::fs::read_to_string(&file).map_err(|source| Error::ReadFile {
                    path: file.clone(),
                    source,
                })?
            };
            let report = airgate_launch::connections::import_env(&vault, &text)?;
            for id in &report.saved {
                eprintln!("Stored {id}.");
            }
            for problem in &report.problems {
                eprintln!("warning: {problem}");
            }
            if !report.problems.is_empty() {
                return Ok(ExitCode::from(crate::cli::EXIT_PARTIAL));
            }
        }
        ConnsCommand::Export { conn_ids, json } => {
            if std::io::stdout().is_terminal() {
                eprintln!("# These lines hold passwords.");
            }
            for (name, value) in airgate_launch::connections::environment(&vault, &conn_ids, json)?
            {
                println!("{name}='{}'", value.expose().replace('\'', "'\\''"));
            }
        }
        ConnsCommand::Delete { conn_id } => {
            if !vault.delete_connection(&conn_id)? {
                return Err(airgate_launch::Error::NoSuchConnection { conn_id }.into());
            }
            eprintln!("Deleted {conn_id}.");
        }
        ConnsCommand::Exec { conn_ids, command } => {
            let env = airgate_launch::connections::environment(&vault, &conn_ids, false)?;
            let (program, args) = command.split_first().ok_or(Error::NoCommand)?;
            let status = std::process::Command::new(program)
                .args(args)
                .envs(env.iter().map(|(name, value)| (name, value.expose())))
                .status()
                .map_err(|source| Error::Exec {
                    program: program.clone(),
                    source,
                })?;
            drop(env);
            return Ok(ExitCode::from(
                status
                    .code()
                    .and_then(|c| u8::try_from(c).ok())
                    .unwrap_or(1),
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints each problem as a warning; [`crate::cli::EXIT_PARTIAL`] when there is one.
fn partial(problems: &[String]) -> ExitCode {
    for problem in problems {
        eprintln!("warning: {problem}");
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::cli::EXIT_PARTIAL)
    }
}
