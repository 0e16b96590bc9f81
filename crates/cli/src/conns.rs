//! `airgate conns`: Airflow connections in the keyring (shared with the desktop app), as
//! `AIRFLOW_CONN_<ID>` variables for Airflow, scripts and local DAG runs.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

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

pub fn run(command: ConnsCommand) -> Result<ExitCode> {
    let vault = crate::saved::vault()?;
    match command {
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
