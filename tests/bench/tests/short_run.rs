//! The whole benchmark, briefly, through the real bastion: every side is measured (Airgate's
//! tunnel in its own `tunnel-bench serve-tunnel` process) and every request succeeds. No
//! timing is asserted: a debug build on a shared machine measures nothing meaningful.

use std::path::Path;
use std::time::Duration;

use airgate_bench::{AES_GCM, BenchConfig, MIB, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_measures_every_side_through_the_real_bastion() {
    let config = BenchConfig {
        mib: 4,
        rounds: 2,
        ttfb_requests: 3,
        ttfb_pause: Duration::from_millis(5),
        sequential: 5,
        simultaneous: 40,
    };
    let report = run(&config, Path::new(env!("CARGO_BIN_EXE_tunnel-bench")))
        .await
        .expect("benchmark run");

    let names: Vec<&str> = report
        .openssh
        .iter()
        .chain([&report.airgate])
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "OpenSSH ssh -D",
            "OpenSSH ssh -D -c aes128-gcm@openssh.com",
            "Airgate (russh)"
        ]
    );
    for side in report.openssh.iter().chain([&report.airgate]) {
        assert_eq!(side.mib_per_s.len(), 2, "{}", side.name);
        assert!(side.mib_per_s.iter().all(|v| *v > 0.0), "{side:?}");
        assert_eq!(side.bulk_bytes, 2 * 4 * MIB, "{}", side.name);
        // Each round also sends as much the other way, which the sink counted to the byte.
        assert_eq!(side.up_mib_per_s.len(), 2, "{}", side.name);
        assert!(side.up_mib_per_s.iter().all(|v| *v > 0.0), "{side:?}");
        // CPU is counted in clock ticks (10 ms): 8 MiB may take less than one.
        assert!(side.cpu_s_per_gib() >= 0.0, "{side:?}");
        assert!(side.bulk_wall > Duration::ZERO, "{side:?}");
        // The machine's busy time holds the proxy's and sshd's (up to the rounding of each
        // reading to clock ticks of 10 ms).
        assert!(
            side.bulk_machine_cpu + Duration::from_millis(80) >= side.bulk_cpu + side.bulk_sshd_cpu,
            "{side:?}"
        );
        assert_eq!(side.ttfb.len(), 3, "{}", side.name);

        let sequential = side.sequential.as_ref().expect("sequential requests");
        assert_eq!(sequential.failures, 0, "{side:?}");
        assert_eq!(sequential.latencies.len(), 5, "{}", side.name);
        let burst = side.simultaneous.as_ref().expect("simultaneous requests");
        assert_eq!(burst.failures, 0, "{side:?}");
        assert_eq!(burst.latencies.len(), 40, "{}", side.name);
        assert!(burst.wall >= burst.percentile(99.0), "{side:?}");
    }
    assert_eq!(report.openssh[1].cipher.as_deref(), Some(AES_GCM));
    assert!(report.openssh[0].cipher.is_some(), "{report:?}");
    // Airgate prefers AES-GCM, which this sshd offers.
    assert_eq!(report.airgate.cipher.as_deref(), Some(AES_GCM));
    assert!(report.openssh_version.starts_with("OpenSSH_"));

    let table = report.table();
    assert!(table.contains("Airgate / OpenSSH ssh -D "), "{table}");
    assert!(table.contains("throughput"), "{table}");
    assert!(table.contains("upload"), "{table}");
    assert!(table.contains("CPU/GiB"), "{table}");
    assert!(
        table.contains("sshd s/GiB") && table.contains("idle"),
        "{table}"
    );
    assert!(table.contains("5 ms apart"), "{table}");
    assert!(table.contains("sequential"), "{table}");
    assert!(table.contains("at once p50"), "{table}");
    eprintln!("{table}");
}
