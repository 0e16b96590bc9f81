//! moto's server on loopback: a real AWS Secrets Manager API (`moto[server]` from PyPI, in the
//! venv `scripts/python-venv.sh moto` makes) for the connection push and pull tests.
//!
//! ```no_run
//! # fn demo() -> std::io::Result<()> {
//! let moto = airgate_peers::moto::Moto::start()?;
//! println!("AWS_ENDPOINT_URL_SECRETS_MANAGER={}", moto.endpoint());
//! # Ok(())
//! # }
//! ```

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::bastion::{kill_tree, output_bounded};

/// Making the venv (a pip install from PyPI) the first time.
const VENV_TIMEOUT: Duration = Duration::from_secs(600);
/// From start to "Running on".
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `moto_server`; killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    endpoint: String,
    /// Holds `requests.jsonl`, moto's record of every request it was sent.
    dir: tempfile::TempDir,
}

/// One request moto was sent, as its recorder kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub url: String,
    /// The body as text (a form body of the query protocol: `Action=AssumeRole&...`).
    pub body: String,
}

impl Moto {
    /// Starts `moto_server` on a free loopback port (making its venv first if needed).
    pub fn start() -> io::Result<Self> {
        let python = venv_python()?;
        let server = python.with_file_name("moto_server");
        let dir = tempfile::Builder::new().prefix("airgate-moto-").tempdir()?;
        let mut command = Command::new(&server);
        command
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("PYTHONUNBUFFERED", "1")
            // Every request is recorded, so a test can check what a client sent.
            .env("MOTO_ENABLE_RECORDING", "1")
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("requests.jsonl"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|err| {
            io::Error::new(err.kind(), format!("start {}: {err}", server.display()))
        })?;
        // Werkzeug says where it listens on stderr: `* Running on http://127.0.0.1:PORT`.
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut said = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("Running on ").nth(1) {
                    let _ = tx.send(Ok(url.trim().to_owned()));
                } else if said.len() < 50 {
                    said.push(line);
                }
            }
            let _ = tx.send(Err(said.join("\n")));
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(endpoint)) => Ok(Self {
                child,
                endpoint,
                dir,
            }),
            Ok(Err(said)) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(format!("moto_server ended: {said}")))
            }
            Err(_) => {
                kill_tree(child.id());
                let _ = child.wait();
                Err(io::Error::other(format!(
                    "moto_server did not listen within {START_TIMEOUT:?}"
                )))
            }
        }
    }

    /// `http://127.0.0.1:PORT`, for `endpoint_url` (no host prefix: Secrets Manager has none).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every request moto was sent so far, oldest first.
    pub fn requests(&self) -> io::Result<Vec<Recorded>> {
        let text = match std::fs::read_to_string(self.dir.path().join("requests.jsonl")) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let entry: Value = serde_json::from_str(line).map_err(io::Error::other)?;
                let field = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
                let raw = field("body");
                let body = if entry["body_encoded"].as_bool() == Some(true) {
                    let bytes = data_encoding::BASE64
                        .decode(raw.as_bytes())
                        .map_err(io::Error::other)?;
                    String::from_utf8_lossy(&bytes).into_owned()
                } else {
                    raw
                };
                Ok(Recorded {
                    method: field("method"),
                    url: field("url"),
                    body,
                })
            })
            .collect()
    }

    /// The form bodies of the query-protocol requests (STS, IAM) for `action` moto was sent so
    /// far, oldest first: `bodies_of("AssumeRole")`.
    ///
    /// # Panics
    /// When moto's record cannot be read.
    pub fn bodies_of(&self, action: &str) -> Vec<String> {
        let wanted = format!("Action={action}&");
        self.requests()
            .expect("moto's record of requests")
            .into_iter()
            .filter(|r| format!("{}&", r.body).contains(&wanted))
            .map(|r| r.body)
            .collect()
    }

    /// Calls a Secrets Manager operation through boto3 (what Airflow's own backend uses), e.g.
    /// `call("eu-west-1", "get_secret_value", &json!({"SecretId": "airflow/connections/x"}))`,
    /// and returns the answer's JSON (an error answer as `{"Error": {"Code": ...}}`).
    pub fn call(&self, region: &str, operation: &str, body: &Value) -> io::Result<Value> {
        let python = venv_python()?;
        // boto3 is in moto's venv: the same client a Python user has.
        let script = "import json, sys, boto3, botocore.exceptions as e\n\
            c = boto3.client('secretsmanager', endpoint_url=sys.argv[1], region_name=sys.argv[2], \
            aws_access_key_id='testing', aws_secret_access_key='testing')\n\
            op = getattr(c, sys.argv[3])\n\
            try:\n  r = op(**json.loads(sys.argv[4]))\n  r.pop('ResponseMetadata', None)\n\
            except e.ClientError as err:\n  r = {'Error': err.response['Error']}\n\
            print(json.dumps(r, default=str))\n";
        let output = output_bounded(
            Command::new(&python).args([
                "-c",
                script,
                &self.endpoint,
                region,
                operation,
                &body.to_string(),
            ]),
            Duration::from_secs(60),
        )?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "boto3 {operation} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        serde_json::from_slice(&output.stdout).map_err(io::Error::other)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        kill_tree(self.child.id());
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The moto venv's python (with boto3 and botocore, as a Python user has them), made once per
/// process by `scripts/python-venv.sh moto`.
pub fn python() -> io::Result<PathBuf> {
    venv_python()
}

fn venv_python() -> io::Result<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let script = repo_root().join("scripts/python-venv.sh");
            let output =
                output_bounded(Command::new("bash").arg(&script).arg("moto"), VENV_TIMEOUT)
                    .map_err(|err| format!("scripts/python-venv.sh moto: {err}"))?;
            let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            if !output.status.success() || path.is_empty() {
                return Err(format!(
                    "scripts/python-venv.sh moto failed ({}): python3 with venv and pip is \
                     needed (Debian: apt-get install python3-venv): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            Ok(PathBuf::from(path))
        })
        .clone()
        .map_err(io::Error::other)
}
