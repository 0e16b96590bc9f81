//! Airgate's Airflow connection codec against Apache Airflow itself: the Airflow pinned in
//! tests/airflow/requirements.txt, in the venv `scripts/python-venv.sh airflow` makes (minutes the first
//! time, instant after), driven by tests/airflow/conn_roundtrip.py.
//!
//! For many connections, hand-picked and generated, Airflow must read every field of what Airgate
//! writes (URI and JSON) back as Airgate does, write the same URI and JSON as Airgate, and
//! `AirflowConnection::uri_round_trips` must say truly whether the URI comes back unchanged.
//! Odd URIs and JSON texts Airflow did not write must be read by Airgate as by Airflow.
//!
//! Without python3 (or when the venv cannot be made) the tests print SKIPPED, or fail when `CI`
//! is set. Only PyPI is contacted, by pip, and only while the venv is made.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use airgate_launch::airflow_conn::{AirflowConnection, ConnError, Parser, env_var, parse_env_file};
use serde_json::{Value, json};

/// The first install downloads Airflow; give it this long.
const VENV_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// One run of the Python script over all the cases of a test.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fails in CI, else says SKIPPED.
fn skip_or_fail(why: &str) -> Option<PathBuf> {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}: the Airflow connection tests need python3 with venv and pip (Debian: apt-get install python3-venv python3-pip)"
    );
    eprintln!("SKIPPED: {why}");
    None
}

/// The venv's python, made by `scripts/python-venv.sh airflow`, or None (skipped).
fn airflow_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

fn make_venv() -> Option<PathBuf> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if Command::new(&python)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return skip_or_fail(&format!("{python} not found"));
    }
    let script = repo_root().join("scripts/python-venv.sh");
    let mut command = Command::new("bash");
    command
        .arg(&script)
        .arg("airflow")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().expect("start bash scripts/python-venv.sh");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for python-venv.sh airflow") {
            break status;
        }
        if started.elapsed() > VENV_TIMEOUT {
            // End the script and the pip it started: its process group.
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("scripts/python-venv.sh airflow did not finish in {VENV_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(
        &mut child.stdout.take().expect("script stdout"),
        &mut stdout,
    )
    .expect("read python-venv.sh airflow output");
    if !status.success() {
        return skip_or_fail(&format!(
            "scripts/python-venv.sh airflow failed ({status}); its output is above"
        ));
    }
    let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert!(
        path.is_file(),
        "python-venv.sh airflow printed {stdout:?}, not a python"
    );
    Some(path)
}

/// Runs the cases through Airflow: its answers by case id.
fn ask_airflow(python: &Path, cases: &[Value]) -> HashMap<String, Value> {
    let mut child = Command::new(python)
        .arg(repo_root().join("tests/airflow/conn_roundtrip.py"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start conn_roundtrip.py");
    let mut stdin = child.stdin.take().expect("stdin");
    let input: String = cases.iter().map(|case| format!("{case}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = sender.send(lines);
    });
    let Ok(lines) = receiver.recv_timeout(SCRIPT_TIMEOUT) else {
        let _ = child.kill();
        panic!("conn_roundtrip.py did not answer in {SCRIPT_TIMEOUT:?}");
    };
    writer.join().expect("writer").expect("write the cases");
    let output = child.wait_with_output().expect("conn_roundtrip.py ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "conn_roundtrip.py failed: {stderr}"
    );
    let answers: HashMap<String, Value> = lines
        .iter()
        .map(|line| {
            let answer: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("conn_roundtrip.py wrote {line:?}: {e}"));
            (answer["id"].as_str().expect("id").to_owned(), answer)
        })
        .collect();
    assert_eq!(answers.len(), cases.len(), "one answer a case: {stderr}");
    answers
}

/// A connection's fields as the Python script writes them.
fn fields(conn: &AirflowConnection) -> Value {
    json!({
        "conn_type": conn.conn_type,
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "password": conn.password,
        "port": conn.port,
        "extra": conn.extra,
        "description": conn.description,
    })
}

/// Airflow's parse as the same fields, or its error.
fn airflow_fields(answer: &Value) -> Result<Value, String> {
    if let Some(error) = answer.get("error") {
        return Err(error.as_str().unwrap_or_default().to_owned());
    }
    let mut fields = serde_json::Map::new();
    for key in [
        "conn_type",
        "host",
        "schema",
        "login",
        "password",
        "port",
        "extra",
        "description",
    ] {
        fields.insert(key.to_owned(), answer[key].clone());
    }
    Ok(Value::Object(fields))
}

/// What Airflow's hooks see (`AirflowConnection::equivalent`): an empty text as unset, port 0
/// as none, the extra as JSON with `{}` as none.
fn as_hooks_see(fields: &Value) -> Value {
    let text = |key: &str| match &fields[key] {
        Value::String(text) if text.is_empty() => Value::Null,
        other => other.clone(),
    };
    let extra = match &fields["extra"] {
        Value::String(text) if !text.is_empty() => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) if map.is_empty() => Value::Null,
            Ok(value) => value,
            Err(_) => Value::String(text.clone()),
        },
        _ => Value::Null,
    };
    json!({
        "conn_type": fields["conn_type"],
        "host": text("host"),
        "schema": text("schema"),
        "login": text("login"),
        "password": text("password"),
        "port": if fields["port"] == json!(0) { Value::Null } else { fields["port"].clone() },
        "extra": extra,
        "description": text("description"),
    })
}

/// Airflow's `_normalize_conn_type`.
fn normalized(conn: &AirflowConnection) -> AirflowConnection {
    let mut conn = conn.clone();
    conn.conn_type = if conn.conn_type == "postgresql" {
        "postgres".to_owned()
    } else {
        conn.conn_type.replace('-', "_")
    };
    conn
}

fn conn(conn_type: &str) -> AirflowConnection {
    AirflowConnection::new("x", conn_type)
}

/// Hand-picked connections: each must reach Airflow unchanged through its URI.
fn picked() -> Vec<(&'static str, AirflowConnection)> {
    let mut cases = Vec::new();
    let mut add = |name: &'static str, edit: &dyn Fn(&mut AirflowConnection)| {
        let mut c = conn("postgres");
        edit(&mut c);
        cases.push((name, c));
    };
    add("everything", &|c| {
        c.host = Some("db.example.com".into());
        c.schema = Some("analytics".into());
        c.login = Some("airflow".into());
        c.password = Some("s3cret".into());
        c.port = Some(5432);
        c.extra = Some(r#"{"sslmode": "require"}"#.into());
    });
    add("special characters in login and password", &|c| {
        c.host = Some("h".into());
        c.login = Some("us@er:/?#%+ &=".into());
        c.password = Some("p@ss:w/o?r#d%25+ &='\"\\".into());
    });
    add("unicode login and password", &|c| {
        c.host = Some("h".into());
        c.login = Some("jürgen-日本".into());
        c.password = Some("pässwörd😀\u{7f}\t\n".into());
    });
    add("empty password", &|c| {
        c.host = Some("h".into());
        c.login = Some("user".into());
        c.password = Some(String::new());
    });
    add("no password", &|c| {
        c.host = Some("h".into());
        c.login = Some("user".into());
    });
    add("password without login", &|c| {
        c.host = Some("h".into());
        c.password = Some("only".into());
    });
    add("port without host or login", &|c| c.port = Some(8080));
    add("host with another protocol", &|c| {
        c.conn_type = "http".into();
        c.host = Some("https://api.example.com".into());
        c.port = Some(443);
        c.login = Some("u".into());
    });
    add("host with the conn_type's protocol", &|c| {
        c.conn_type = "http".into();
        c.host = Some("http://api.example.com".into());
    });
    add("IPv6 host in brackets", &|c| {
        c.host = Some("[::1]".into());
        c.port = Some(5432);
    });
    add("IPv6 host bare", &|c| c.host = Some("fe80::1".into()));
    add("host with a path", &|c| {
        c.conn_type = "sqlite".into();
        c.host = Some("/tmp/airflow.db".into());
    });
    add("schema with slashes", &|c| {
        c.host = Some("h".into());
        c.schema = Some("a/b/c d?e#f".into());
    });
    add("conn_type with underscores", &|c| {
        c.conn_type = "google_cloud_platform".into();
        c.extra = Some(r#"{"project": "p", "key_path": "/k.json"}"#.into());
    });
    add("nested extras", &|c| {
        c.conn_type = "aws".into();
        c.extra = Some(
            r#"{"region_name": "eu-west-1", "config_kwargs": {"retries": {"max_attempts": 5}}, "verify": false, "tags": ["a", 1, null, 2.5]}"#
                .into(),
        );
    });
    add("string-only extras", &|c| {
        c.conn_type = "aws".into();
        c.extra = Some(r#"{"region_name": "eu-west-1", "role arn": "arn:aws:iam::1:role/r&x=y", "": "", "ü": "日本"}"#.into());
    });
    add("numbers in extras", &|c| {
        c.extra = Some(
            r#"{"i": 123456789012345678901234567890, "f": 0.1, "e": 1e16, "small": 1e-05, "neg": -0.0, "big": 1.7976931348623157e308, "edge": [1e15, 9999999999999998.0, 0.0001, 0.00009999, 5e-324, 0.30000000000000004]}"#
                .into(),
        );
    });
    add("empty extra object", &|c| c.extra = Some("{}".into()));
    add("empty host and schema", &|c| {
        c.host = Some(String::new());
        c.schema = Some(String::new());
        c.login = Some("u".into());
    });
    add("empty login alone", &|c| {
        c.host = Some("h".into());
        c.login = Some(String::new());
    });
    add("just a type", &|_| {});
    cases
}

/// Connections that lose something through a URI, as Airflow documents or does.
fn lossy() -> Vec<(&'static str, AirflowConnection)> {
    let mut cases = Vec::new();
    let mut add = |name: &'static str, edit: &dyn Fn(&mut AirflowConnection)| {
        let mut c = conn("postgres");
        edit(&mut c);
        cases.push((name, c));
    };
    add("upper-case host", &|c| {
        c.host = Some("DB.Example.COM".into())
    });
    add("description", &|c| {
        c.description = Some("the warehouse".into())
    });
    add("JSON-looking string extra (core decodes it)", &|c| {
        c.extra = Some(r#"{"timeout": "5", "flag": "true"}"#.into());
    });
    add("upper-case conn_type", &|c| c.conn_type = "MyType".into());
    add("dashed conn_type", &|c| c.conn_type = "my-type".into());
    add("postgresql", &|c| c.conn_type = "postgresql".into());
    cases
}

/// A deterministic generator (xorshift64*), so a failure can be run again.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn text(&mut self, max: usize) -> String {
        const PIECES: &[&str] = &[
            "a",
            "b",
            "Z",
            "0",
            "9",
            "@",
            ":",
            "/",
            "?",
            "#",
            "%",
            "%41",
            "%zz",
            "+",
            " ",
            "&",
            "=",
            "[",
            "]",
            "!",
            "$",
            "'",
            "(",
            ")",
            "*",
            ",",
            ";",
            "~",
            ".",
            "_",
            "-",
            "\\",
            "\"",
            "é",
            "日本",
            "😀",
            "\u{7f}",
            "\t",
            "\n",
            "://",
            "__extra__",
            "{",
            "}",
        ];
        let len = self.below(max + 1);
        (0..len).map(|_| self.pick(PIECES)).collect()
    }
    fn maybe_text(&mut self, max: usize) -> Option<String> {
        match self.below(5) {
            0 => None,
            1 => Some(String::new()),
            _ => Some(self.text(max)),
        }
    }
    fn json_value(&mut self, depth: usize) -> String {
        match self.below(if depth > 2 { 6 } else { 8 }) {
            0 => "null".into(),
            1 => self.pick(&["true", "false"]).into(),
            2 => self
                .pick(&["0", "-7", "42", "123456789012345678901234567890"])
                .into(),
            3 => self
                .pick(&[
                    "0.5",
                    "-2.25",
                    "1e16",
                    "1e15",
                    "1234567890123456.7",
                    "0.0001",
                    "0.00012",
                    "1.5e-7",
                    "3.0",
                    "100.0",
                    "1e300",
                    "5e-324",
                    "-0.0",
                    "0.1e1",
                    "2E+2",
                ])
                .into(),
            4 | 5 => serde_json::to_string(&self.text(6)).expect("a JSON string"),
            6 => format!(
                "[{}]",
                (0..self.below(3))
                    .map(|_| self.json_value(depth + 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => self.json_object(depth + 1, false),
        }
    }
    fn json_object(&mut self, depth: usize, strings_only: bool) -> String {
        let fields: Vec<String> = (0..self.below(4))
            .map(|_| {
                let key = serde_json::to_string(&self.text(5)).expect("a JSON key");
                let value = if strings_only {
                    serde_json::to_string(&self.text(8)).expect("a JSON string")
                } else {
                    self.json_value(depth)
                };
                format!("{key}: {value}")
            })
            .collect();
        format!("{{{}}}", fields.join(", "))
    }
    fn connection(&mut self) -> AirflowConnection {
        let mut c = conn(self.pick(&[
            "postgres",
            "aws",
            "http",
            "https",
            "google_cloud_platform",
            "my_type",
            "mysql",
            "MyType",
            "my-type",
            "a.b+c",
        ]));
        c.host = match self.below(6) {
            0 => None,
            1 => Some(format!(
                "{}://{}",
                self.pick(&["https", "http", "s3", "x y"]),
                self.text(8)
            )),
            2 => Some(
                self.pick(&["[::1]", "::1", "10.0.0.1", "[fe80::1%eth0]"])
                    .to_owned(),
            ),
            _ => self.maybe_text(10),
        };
        c.schema = self.maybe_text(8);
        c.login = self.maybe_text(8);
        c.password = self.maybe_text(12);
        c.port = match self.below(5) {
            0 | 1 => None,
            2 => Some(0),
            _ => Some(u16::try_from(self.below(65535) + 1).expect("a port")),
        };
        c.extra = match self.below(5) {
            0 => None,
            1 => Some(self.json_object(0, true)),
            _ => Some(self.json_object(0, false)),
        };
        if self.chance(15) {
            c.description = self.maybe_text(10);
        }
        c
    }
}

fn generated(count: usize) -> Vec<AirflowConnection> {
    let mut rng = Rng(0x5eed_a1f1_0e00_0001);
    (0..count).map(|_| rng.connection()).collect()
}

/// Everything Airflow says about one connection Airgate wrote, checked; the failures, if any.
fn check_written(name: &str, c: &AirflowConnection, answer: &Value, failures: &mut Vec<String>) {
    let mut fail = |what: String| failures.push(format!("{name} ({c:?}): {what}"));
    let uri = c.to_uri();
    let json_text = c.to_json();
    for side in ["core", "sdk"] {
        // Airflow core cannot hold an empty password: it writes what it holds, none.
        let (uri, json_text) = if side == "core" && c.password.as_deref() == Some("") {
            let without = AirflowConnection {
                password: None,
                ..c.clone()
            };
            (without.to_uri(), without.to_json())
        } else {
            (uri.clone(), json_text.clone())
        };
        if answer[format!("{side}_get_uri")] != json!(uri) {
            fail(format!(
                "{side} get_uri() is {}, Airgate's to_uri() {uri:?}",
                answer[format!("{side}_get_uri")]
            ));
        }
        if answer[format!("{side}_as_json")] != json!(json_text) {
            fail(format!(
                "{side} as_json() is {}, Airgate's to_json() {json_text:?}",
                answer[format!("{side}_as_json")]
            ));
        }
    }
    // Airgate reads the URI exactly as each of Airflow's parsers does.
    let mut uri_comes_back = true;
    for (side, parser) in [("core", Parser::Core), ("sdk", Parser::TaskSdk)] {
        let airflow = airflow_fields(&answer[format!("{side}_uri")]);
        let ours = AirflowConnection::from_uri_with("x", &uri, parser);
        match (&airflow, &ours) {
            (Ok(airflow), Ok(ours)) => {
                if *airflow != fields(ours) {
                    fail(format!(
                        "{side} read {uri:?} as {airflow}, Airgate as {}",
                        fields(ours)
                    ));
                }
            }
            // Airgate refuses an empty conn_type, or a non-object extra, that Airflow lets by.
            (Ok(airflow), Err(ConnError::NoScheme)) if airflow["conn_type"] == json!("") => {}
            (Ok(_), Err(ConnError::BadExtra(_))) if side == "sdk" => {}
            (Err(_), Err(_)) => {}
            _ => fail(format!(
                "{side} read {uri:?} as {airflow:?}, Airgate as {:?}",
                ours.as_ref().map(fields)
            )),
        }
        uri_comes_back &= airflow
            .as_ref()
            .is_ok_and(|airflow| as_hooks_see(airflow) == as_hooks_see(&fields(c)));
    }
    if c.uri_round_trips() != uri_comes_back {
        fail(format!(
            "uri_round_trips() says {}, Airflow says {uri_comes_back} for {uri:?}",
            c.uri_round_trips()
        ));
    }
    // The JSON form: Airflow reads it as Airgate does, and loses nothing of it.
    for (side, parser) in [("core", Parser::Core), ("sdk", Parser::TaskSdk)] {
        let airflow = airflow_fields(&answer[format!("{side}_json")]);
        match (
            &airflow,
            AirflowConnection::from_json_with("x", &json_text, parser),
        ) {
            (Ok(airflow), Ok(ours)) => {
                if *airflow != fields(&ours) {
                    fail(format!(
                        "{side} read {json_text:?} as {airflow}, Airgate as {}",
                        fields(&ours)
                    ));
                }
                if as_hooks_see(airflow) != as_hooks_see(&fields(&normalized(c))) {
                    fail(format!(
                        "{side} read {json_text:?} as {airflow}: not the connection"
                    ));
                }
            }
            (airflow, ours) => fail(format!(
                "{side} read {json_text:?} as {airflow:?}, Airgate as {:?}",
                ours.map(|ours| fields(&ours))
            )),
        }
    }
    // The environment variable: Airflow's own backend finds it and reads it back unchanged.
    let env = &answer["core_env"];
    match airflow_fields(env) {
        Ok(airflow) => {
            if as_hooks_see(&airflow) != as_hooks_see(&fields(&normalized(c))) {
                fail(format!(
                    "Airflow read {}={:?} as {airflow}",
                    env_var(&c.conn_id),
                    c.to_env_value()
                ));
            }
            if env["conn_id"] != json!(c.conn_id) {
                fail(format!("Airflow found it as {}", env["conn_id"]));
            }
        }
        Err(e) => fail(format!("Airflow did not read {}: {e}", env_var(&c.conn_id))),
    }
}

/// The case the Python script gets for a connection Airgate wrote.
fn written_case(id: &str, c: &AirflowConnection) -> Value {
    let mut expect = fields(c);
    expect.as_object_mut().expect("fields").remove("conn_id");
    json!({
        "id": id,
        "uri": c.to_uri(),
        "json": c.to_json(),
        "expect": expect,
        "env": {"name": env_var(&c.conn_id), "value": c.to_env_value(), "conn_id": c.conn_id},
    })
}

fn report(failures: &[String], checked: usize) {
    assert!(
        failures.is_empty(),
        "{} of {checked} checks against Airflow failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn airflow_reads_back_what_airgate_writes() {
    let Some(python) = airflow_python() else {
        return;
    };
    let mut named: Vec<(String, AirflowConnection)> = Vec::new();
    for (name, c) in picked().into_iter().chain(lossy()) {
        named.push((name.to_owned(), c));
    }
    for (i, mut c) in generated(400).into_iter().enumerate() {
        // Ids too: Airflow must find AIRFLOW_CONN_<ID> for them.
        c.conn_id = [
            "x",
            "my_db",
            "Warehouse.Prod",
            "a-b:c/d\\e#f!(g)",
            "daten_ü",
        ][i % 5]
            .into();
        named.push((format!("generated #{i}"), c));
    }
    let cases: Vec<Value> = named
        .iter()
        .map(|(name, c)| written_case(name, c))
        .collect();
    let answers = ask_airflow(&python, &cases);
    let mut failures = Vec::new();
    for (name, c) in &named {
        check_written(name, c, &answers[name.as_str()], &mut failures);
    }
    // Each hand-picked connection comes back whole through its URI; each lossy one does not,
    // so its environment value is the JSON form.
    for (name, c) in picked() {
        if !c.uri_round_trips() {
            failures.push(format!(
                "{name}: its URI {:?} should round-trip",
                c.to_uri()
            ));
        }
        if c.to_env_value() != c.to_uri() {
            failures.push(format!("{name}: its environment value should be its URI"));
        }
    }
    for (name, c) in lossy() {
        if c.uri_round_trips() || c.to_env_value() != c.to_json() {
            failures.push(format!(
                "{name}: its URI {:?} should not round-trip",
                c.to_uri()
            ));
        }
    }
    let round_trips = named.iter().filter(|(_, c)| c.uri_round_trips()).count();
    let whole_extra = named
        .iter()
        .filter(|(_, c)| c.to_uri().contains("__extra__="))
        .count();
    eprintln!(
        "{} connections checked against Airflow: {round_trips} come back whole through their URI, {whole_extra} URIs carry __extra__",
        named.len()
    );
    report(&failures, named.len());
}

/// URIs people write, odd ones included: Airgate reads each as Airflow does, or refuses it as
/// Airflow does.
#[test]
fn airgate_reads_uris_as_airflow_does() {
    let Some(python) = airflow_python() else {
        return;
    };
    let uris = [
        "postgres://user:pass@host:5432/db",
        "postgresql://user:pass@HOST.Example.com/DB",
        "my-conn-type://login:password@host:1234/schema?param1=val1&param2=val2",
        "mysql://u%40x:p%3Aw%2F@h/s?charset=utf8&x=",
        "aws://?region_name=eu-west-1&timeout=5&verify=false&cfg=%7B%22a%22%3A+1%7D&n=null",
        "aws://?__extra__=%7B%22a%22%3A+%5B1%2C+2%5D%7D",
        "aws://?__extra__=",
        "aws://?__extra__=%5B1%5D",
        "aws://?__extra__=not+json",
        "http://https://example.com:443/path",
        "http://example.com@x",
        "http://u:p@https://x",
        "a://b://c://d",
        "postgres://[::1]:5432/db",
        "postgres://user@[fe80::1%25eth0]:5432",
        "postgres://[1.2.3.4]/db",
        "postgres://[v1.x]/db",
        "postgres://[::1/db",
        "postgres://host:port/db",
        "postgres://host:70000/db",
        "postgres://host:/db",
        "postgres://host:0080/db",
        "postgres://My%20Host:5/db",
        "postgres://%2Ftmp%2Fsock/db",
        "postgres://u:p@%2Ftmp%2FSock:99/db",
        "postgres:///db",
        "postgres://",
        "postgres:",
        "host:5432",
        "//host/db",
        "no scheme at all",
        "  postgres://h/db",
        "post\tgres://h\n/db",
        "postgres://h/db#fragment?x=1",
        "postgres://h/db?a=1&a=2&b",
        "postgres://h/db?a=%zz&b=%C3%28&c=%E2%82&d=+plus+",
        "postgres://h/db?x=1e400&y=-0&z=NaN&w=%22quoted%22&v=%5B1%2C2%5D&u=01",
        "postgres://h/%E6%97%A5%E6%9C%AC?k=%F0%9F%98%80",
        "postgres://héllo:wörld@hôst/db",
        "postgres://@h",
        "postgres://:@h",
        "postgres://:pw@h",
        "postgres://u:p:q@h",
        "postgres://a@b@h",
        "postgres://h?x=1",
        "spark://spark-master:7077?deploy-mode=cluster&spark-binary=spark3-submit",
        "google-cloud-platform://?extra__google_cloud_platform__project=p",
        "HTTP://Example.COM",
    ];
    let cases: Vec<Value> = uris
        .iter()
        .enumerate()
        .map(|(i, uri)| json!({"id": i.to_string(), "uri": uri}))
        .collect();
    let answers = ask_airflow(&python, &cases);
    let mut failures = Vec::new();
    for (i, uri) in uris.iter().enumerate() {
        let answer = &answers[&i.to_string()];
        for (side, parser) in [("core", Parser::Core), ("sdk", Parser::TaskSdk)] {
            let airflow = airflow_fields(&answer[format!("{side}_uri")]);
            let ours = AirflowConnection::from_uri_with("x", uri, parser);
            let same = match (&airflow, &ours) {
                (Ok(airflow), Ok(ours)) => *airflow == fields(ours),
                (Ok(airflow), Err(ConnError::NoScheme)) => airflow["conn_type"] == json!(""),
                (Ok(_), Err(ConnError::BadExtra(_))) => side == "sdk",
                (Err(_), Err(_)) => true,
                _ => false,
            };
            if !same {
                failures.push(format!(
                    "{uri:?}: {side} reads {airflow:?}, Airgate {:?}",
                    ours.as_ref().map(fields)
                ));
            }
        }
    }
    report(&failures, uris.len());
}

/// JSON forms people write: Airgate reads each as Airflow does, or refuses it as Airflow does.
#[test]
fn airgate_reads_json_as_airflow_does() {
    let Some(python) = airflow_python() else {
        return;
    };
    let texts = [
        r#"{"conn_type": "postgres", "host": "h", "port": 5432, "login": "u", "password": "p"}"#,
        r#"{"conn_type": "postgresql", "port": "5432"}"#,
        r#"{"conn_type": "my-type", "port": " 5_432 "}"#,
        r#"{"conn_type": "x", "port": 80.9}"#,
        r#"{"conn_type": "x", "port": true}"#,
        r#"{"conn_type": "x", "port": 0}"#,
        r#"{"conn_type": "x", "port": ""}"#,
        r#"{"conn_type": "x", "port": "abc"}"#,
        r#"{"conn_type": "x", "port": 70000}"#,
        r#"{"conn_type": "x", "extra": {"a": 1, "b": [true, null], "c": {"d": "é😀"}}}"#,
        r#"{"conn_type": "x", "extra": "{\"a\": 1}"}"#,
        r#"{"conn_type": "x", "extra": "{\"a\":1.0,\"b\":1E400,\"c\":NaN,\"d\":-Infinity}"}"#,
        r#"{"conn_type": "x", "extra": {"a": 1.0, "b": 1E400, "c": 12345678901234567890123}}"#,
        r#"{"conn_type": "x", "extra": {"a": 1, "a": 2, "b": 3}}"#,
        r#"{"conn_type": "x", "extra": {}}"#,
        r#"{"conn_type": "x", "extra": ""}"#,
        r#"{"conn_type": "x", "extra": "[1]"}"#,
        r#"{"conn_type": "x", "extra": "not json"}"#,
        r#"{"conn_type": "x", "extra": [1, 2]}"#,
        r#"{"conn_type": "x", "description": "d", "schema": null}"#,
        r#"{"conn_type": "x", "host": 5}"#,
        r#"{"conn_type": "x", "bogus": 1}"#,
        r#"{"conn_type": "x", "conn_id": "y"}"#,
        r#"{"uri": "postgres://u:p@h:1/s?a=1", "description": "from a uri"}"#,
        r#"{"uri": "postgres://h", "host": "other"}"#,
        r#"{"conn_type": ""}"#,
        r#"{}"#,
        r#"[]"#,
        r#"{"conn_type": "x",}"#,
        r#"{"conn_type": "x"} trailing"#,
        "{\"conn_type\": \"x\", \"password\": \"tab\there\"}",
        r#"{"conn_type": "x", "password": "\ud83d\ude00 \u00e9 \/ \b"}"#,
        " \n{\"conn_type\": \"x\"}\n ",
    ];
    let cases: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"id": i.to_string(), "json": text}))
        .collect();
    let answers = ask_airflow(&python, &cases);
    let mut failures = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        for (side, parser) in [("core", Parser::Core), ("sdk", Parser::TaskSdk)] {
            let airflow = airflow_fields(&answers[&i.to_string()][format!("{side}_json")]);
            let ours = AirflowConnection::from_json_with("x", text, parser);
            let same = match (&airflow, &ours) {
                (Ok(airflow), Ok(ours)) => *airflow == fields(ours),
                // Airgate refuses a connection without a type, a port outside 0-65535, a
                // non-string field, and a non-object extra (Airflow's Task SDK keeps them).
                (Ok(airflow), Err(ConnError::NoConnType | ConnError::NoScheme)) => {
                    airflow["conn_type"].is_null() || airflow["conn_type"] == json!("")
                }
                (Ok(airflow), Err(ConnError::BadPort(_))) => airflow["port"]
                    .as_i64()
                    .is_some_and(|port| !(0..=65535).contains(&port)),
                (Ok(_), Err(ConnError::BadField { field, .. })) => field == "host",
                (Ok(_), Err(ConnError::BadExtra(_))) => side == "sdk",
                (Err(_), Err(_)) => true,
                _ => false,
            };
            if !same {
                failures.push(format!(
                    "{text:?}: {side} reads {airflow:?}, Airgate {:?}",
                    ours.as_ref().map(fields)
                ));
            }
        }
    }
    report(&failures, texts.len());
}

/// A file of `AIRFLOW_CONN_*` lines that Airgate wrote: Airgate reads it back, and Airflow finds
/// each connection under its id in the environment.
#[test]
fn env_lines_reach_airflow() {
    let Some(python) = airflow_python() else {
        return;
    };
    let mut connections: Vec<AirflowConnection> = picked()
        .into_iter()
        .chain(lossy())
        .enumerate()
        .map(|(i, (_, mut c))| {
            c.conn_id = format!("conn_{i}");
            c
        })
        .collect();
    connections[0].conn_id = "Mixed.Case-ID".into();
    let file: String = connections
        .iter()
        .map(|c| format!("{}\n", c.to_env_line()))
        .collect();
    let (read, problems) = parse_env_file(&file);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(read.len(), connections.len());
    let cases: Vec<Value> = read
        .iter()
        .map(|c| {
            json!({"id": c.conn_id, "env": {"name": env_var(&c.conn_id), "value": c.to_env_value(), "conn_id": c.conn_id}})
        })
        .collect();
    let answers = ask_airflow(&python, &cases);
    let mut failures = Vec::new();
    for (original, back) in connections.iter().zip(&read) {
        let original = normalized(original);
        // The id is read back from the variable's name: lower case.
        let mut expected = original.clone();
        expected.conn_id = original.conn_id.to_lowercase();
        if as_hooks_see(&fields(back)) != as_hooks_see(&fields(&expected))
            || back.conn_id != expected.conn_id
        {
            failures.push(format!("{original:?} read back from its line as {back:?}"));
        }
        match airflow_fields(&answers[&back.conn_id]["core_env"]) {
            Ok(airflow) if as_hooks_see(&airflow) == as_hooks_see(&fields(&expected)) => {}
            other => failures.push(format!(
                "Airflow read {} as {other:?}, not {:?}",
                env_var(&back.conn_id),
                fields(&expected)
            )),
        }
    }
    report(&failures, connections.len());
}
