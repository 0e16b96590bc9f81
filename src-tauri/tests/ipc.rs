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
            "keyPath": "/nonexistent/airgate-test-key"
        }}),
    )
    .expect_err("a missing key file is refused");
    assert_eq!(
        err,
        json!({
            "code": "invalidInput",
            "message": "No key file at /nonexistent/airgate-test-key. Give the path of the private \
                        key you log in to the bastion with."
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
    // Without a keyring the vault's own error comes back instead: both are user-facing.
    let message = err["message"].as_str().expect("a message");
    match err["code"].as_str().expect("a code") {
        "invalidInput" => assert_eq!(
            message,
            "No saved bastion is named \"nope\". Add it first, or pick another one."
        ),
        "keyring" => assert!(message.contains("retry"), "says what to do: {message}"),
        other => panic!("unexpected code {other}: {err}"),
    }
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
