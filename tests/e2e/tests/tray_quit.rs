//! End of day: Quit from the tray closes every tunnel and ends the app; nothing keeps running.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use airgate_e2e::{click_tray_menu, display_or_skip, row_selector, tray_menu};
use airgate_sandbox::{Sandbox, Topology};

/// Whether process `pid` has ended (gone, or a zombie waiting for its parent).
fn ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread")]
async fn quit_from_the_tray_closes_tunnels_and_ends_the_app() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;

    let env = sandbox.environment("orders-prod").expect("seeded");
    let selector = row_selector(env.name, env.profile, env.region);
    let port = airgate_e2e::connect_row(&client, &selector).await;
    let socks = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(
        TcpListener::bind(socks).is_err(),
        "the tunnel listens on {socks}"
    );

    let pid = driver.app_pid();
    let labels: Vec<String> = tray_menu(pid).into_iter().map(|(_, label)| label).collect();
    assert_eq!(
        labels,
        [
            "Open orders-prod",
            "Disconnect orders-prod",
            "Disconnect all",
            "Show window",
            "Quit"
        ],
        "the tray menu"
    );
    assert!(click_tray_menu(pid, "Quit"), "click Quit in the tray menu");

    let deadline = Instant::now() + Duration::from_secs(15);
    while !ended(pid) {
        assert!(
            Instant::now() < deadline,
            "the app still runs 15 s after Quit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        TcpListener::bind(socks).is_ok(),
        "the tunnel's port {port} is free once the app has quit"
    );
    // Airgate said goodbye to the bastion itself (SSH_MSG_DISCONNECT, "by application"),
    // rather than the session dying with the process.
    let sshd = sandbox.bastion().log();
    assert!(
        sshd.contains("Received disconnect from"),
        "sshd saw the session closed by Airgate:\n{sshd}"
    );
    // The session ended with the app; the driver is stopped on drop.
    drop(client);
    drop(driver);
    sandbox
        .forget_bastion()
        .expect("forget the sandbox bastion");
}
