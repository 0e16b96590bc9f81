//! Starting Airgate again while it runs shows the running one and exits; an Airgate with another
//! data directory (the sandbox beside yours) runs on its own.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use airgate_e2e::{TauriDriver, app_binary, display_or_skip};
use airgate_sandbox::{Sandbox, Topology};
use fantoccini::Locator;

/// Waits up to `limit` for `child` to end; its exit status, or `None` if it still runs.
fn wait_end(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_launch_hands_over_to_the_running_app() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let app = app_binary().expect("desktop binary");
    let driver = TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
    let client = driver.launch(&app).await.expect("launch the app");
    // The first instance is up once its window shows the list.
    let deadline = Instant::now() + Duration::from_secs(45);
    while client
        .find(Locator::Css(r#"[data-testid="env-row"]"#))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the first instance shows no rows"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = driver.app_pids("airgate-desktop");
    assert_eq!(first.len(), 1, "{first:?}");

    let mut second = Command::new(&app)
        .envs(sandbox.app_env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a second instance");
    let status = wait_end(&mut second, Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "the second launch hands over and exits: {status:?}"
    );
    assert_eq!(
        driver.app_pids("airgate-desktop"),
        first,
        "the first one still runs"
    );

    // Another data directory is another Airgate.
    let other = tempfile::tempdir().expect("another data dir");
    let mut env = sandbox.app_env();
    env.retain(|(k, _)| k != "AIRGATE_DATA_DIR");
    env.push((
        "AIRGATE_DATA_DIR".to_owned(),
        other.path().display().to_string(),
    ));
    let mut beside = Command::new(&app)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start an instance with another data directory");
    let ended = wait_end(&mut beside, Duration::from_secs(5));
    let _ = beside.kill();
    let _ = beside.wait();
    assert_eq!(
        ended, None,
        "an Airgate with its own data directory keeps running"
    );
    client.close().await.expect("close the app");
}
