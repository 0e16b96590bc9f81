//! The UI's calls go through Tauri's IPC (with the app's real config and capabilities) and
//! come back in the shapes the generated bindings promise.

use std::sync::mpsc;
use std::time::Duration;

use airgate_desktop::{Options, run_app};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow};

struct TestApp {
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    _data: tempfile::TempDir,
}

fn app() -> TestApp {
    let data = tempfile::tempdir().expect("temp data dir");
    let options = Options {
        tray: false,
        data_dir: Some(data.path().to_path_buf()),
    };
    let mut app = run_app(mock_builder(), options)
        .build(tauri::generate_context!())
        .expect("the app builds on the mock runtime");
    // One iteration runs the setup (config windows, state, tasks) as the event loop's start
    // does; the mock runtime cannot run a full loop and exit.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    let window = app
        .get_webview_window("main")
        .expect("tauri.conf.json declares the main window");
    TestApp {
        _app: app,
        window,
        _data: data,
    }
}

/// Calls `cmd` as the UI does; gives up after 10 s.
fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        // Linux and macOS serve the app from tauri://localhost.
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    let (tx, rx) = mpsc::channel();
    let window = window.clone();
    std::thread::spawn(move || {
        let response = get_ipc_response(&window, request)
            .map(|body| body.deserialize::<Value>().expect("a JSON answer"));
        let _ = tx.send(response);
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{cmd} did not answer within 10 s"))
}

#[test]
fn tray_starts_idle() {
    let t = app();
    let view = invoke(&t.window, "tray_status", json!({})).expect("tray_status answers");
    assert_eq!(
        view,
        json!({ "state": "idle", "connected": 0, "tunnels": [], "tooltip": "Airgate: no tunnel", "label": "", "shortcuts": [] })
    );
}

#[test]
fn no_tunnel_at_start() {
    let t = app();
    let states = invoke(&t.window, "tunnel_states", json!({})).expect("tunnel_states answers");
    assert_eq!(states, json!([]));
}

#[test]
fn a_bad_bastion_comes_back_as_code_and_message() {
    let t = app();
    let err = invoke(
        &t.window,
        "save_bastion",
        json!({ "bastion": {
            "name": "jump",
            "host": "bastion.example",
            "port": 22,
            "user": "ec2-user",
            "key": { "kind": "file", "path": "/nonexistent/airgate-test-key" }
        }}),
    )
    .expect_err("a missing key file is refused");
    assert_eq!(
        err,
        json!({
            "code": "invalidInput",
            "message": "Cannot save the bastion: there is no key file at \
                        /nonexistent/airgate-test-key: give the path of the private key you log in \
                        with, or import it under Keys."
        })
    );
}

#[test]
fn connecting_through_an_unknown_bastion_is_refused() {
    let t = app();
    let err = invoke(
        &t.window,
        "connect_environment",
        json!({
            "environment": { "profile": "prod", "region": "eu-west-1", "name": "orders" },
            "bastion": "nope"
        }),
    )
    .expect_err("no bastion is saved");
    assert_eq!(
        err,
        json!({
            "code": "invalidInput",
            "message": "No saved bastion is named \"nope\". Add it under Bastions, or pick another \
                        one."
        })
    );
}

#[test]
fn only_granted_commands_are_allowed() {
    let t = app();
    // The window plugin is built in, but the capability does not grant closing windows.
    let err = invoke(&t.window, "plugin:window|close", json!({ "label": "main" }))
        .expect_err("window control is not granted");
    let err = err
        .as_str()
        .expect("a framework error is a string")
        .to_owned();
    assert!(err.contains("window.close not allowed"), "{err}");
}

#[test]
fn a_key_is_imported_with_its_passphrase_and_its_secrets_never_reach_the_window() {
    let t = app();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("team_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "correct horse",
            "-C",
            "tom@team",
            "-f",
        ])
        .arg(&file)
        .status()
        .expect("run ssh-keygen");
    assert!(made.success());
    let text = std::fs::read_to_string(&file).expect("key text");
    let body_line = text
        .lines()
        .nth(1)
        .expect("a line of key material")
        .to_owned();

    let import = |passphrase: Option<&str>| {
        invoke(
            &t.window,
            "import_key",
            json!({ "path": file, "name": "team", "passphrase": passphrase, "remember": true }),
        )
    };
    let err = import(None).expect_err("an encrypted key needs its passphrase");
    assert_eq!(err["code"], "invalidInput", "{err}");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("passphrase protected")),
        "{err}"
    );
    let err = import(Some("wrong")).expect_err("a wrong passphrase is refused");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Wrong passphrase")),
        "{err}"
    );
    let keys = import(Some("correct horse")).expect("imported");
    let listed = invoke(&t.window, "list_keys", json!({})).expect("list_keys answers");
    assert_eq!(keys, listed);
    let key = &listed[0];
    assert_eq!(key["name"], "team");
    assert_eq!(key["algorithm"], "ssh-ed25519");
    assert_eq!(key["encrypted"], true);
    assert_eq!(key["passphraseSaved"], true);
    assert!(
        key["fingerprint"]
            .as_str()
            .is_some_and(|f| f.starts_with("SHA256:"))
    );
    let public = std::fs::read_to_string(file.with_extension("pub")).expect("public key");
    assert_eq!(key["publicKey"], public.trim());

    let everything = format!("{keys}{listed}");
    assert!(
        !everything.contains(&body_line) && !everything.contains("correct horse"),
        "no key material or passphrase in any answer"
    );
    let err = import(Some("correct horse")).expect_err("the name is taken");
    assert_eq!(
        err,
        json!({
            "code": "invalidInput",
            "message": "A stored key is already named \"team\": choose another name."
        })
    );
}

#[test]
fn sso_sign_in_is_granted_and_names_a_missing_profile() {
    let t = app();
    let err = invoke(
        &t.window,
        "sso_sign_in",
        json!({ "profile": "airgate-test-no-such-profile" }),
    )
    .expect_err("no such profile");
    assert_eq!(err["code"], "internal", "{err}");
    let message = err["message"].as_str().expect("a message");
    assert!(
        message.starts_with("No AWS profile named airgate-test-no-such-profile in "),
        "{message}"
    );
}
