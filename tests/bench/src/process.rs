//! What Linux's `/proc` tells: a process's CPU time (user + system, all threads, as `ps` and
//! `time` count it), alone or with every process it forked ([`tree_cpu_time`]); the busy time of
//! all the machine's CPUs ([`machine_busy_time`]); this process's limit of open files, which [`raise_open_files_limit`] lifts
//! to the hard limit for the many connections of a burst; and how many connections the kernel
//! dropped from full listen queues ([`listen_drops`]).

use std::fs;
use std::io;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Clock ticks per second when `getconf CLK_TCK` cannot tell (Linux's `USER_HZ`).
const DEFAULT_CLOCK_TICKS: u64 = 100;

/// User plus system CPU time of process `pid` so far, all its threads: `utime` + `stime` of
/// `/proc/PID/stat`, in clock ticks (10 ms each at Linux's usual 100 per second).
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/{pid}/stat: {stat}")))?;
    Ok(ticks_to_duration(ticks, clock_ticks()))
}

/// User plus system CPU time so far of process `pid` and every live process below it (children
/// as `/proc/PID/task/TID/children` lists them, and theirs): sshd and the sessions it forked.
pub fn tree_cpu_time(pid: u32) -> io::Result<Duration> {
    let mut total = cpu_time(pid)?;
    let mut below = children(pid);
    while let Some(child) = below.pop() {
        // A child may end between the listing and the reading: it no longer counts.
        if let Ok(time) = cpu_time(child) {
            total += time;
            below.extend(children(child));
        }
    }
    Ok(total)
}

/// The processes `pid`'s threads forked and that still run.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Time all CPUs together have been busy since boot: the `cpu` line of `/proc/stat`, every
/// field but `idle` and `iowait` (user, nice, system, irq, softirq, steal).
pub fn machine_busy_time() -> io::Result<Duration> {
    let stat = fs::read_to_string("/proc/stat")?;
    let ticks = parse_busy_ticks(&stat)
        .ok_or_else(|| io::Error::other("unexpected /proc/stat: no cpu line"))?;
    Ok(ticks_to_duration(ticks, clock_ticks()))
}

fn parse_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = fields[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

/// `utime` + `stime`, fields 14 and 15 of `/proc/PID/stat`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name is in parentheses and may hold spaces: count fields after the last ')',
    // where field 3 (the state) comes first.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(per_second.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, asked of `getconf`), read once.
pub fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .filter(|ticks| *ticks > 0)
            .unwrap_or(DEFAULT_CLOCK_TICKS)
    })
}

/// This process's limit of open files: soft and hard, as `/proc/self/limits` words them
/// (a number, or `unlimited`).
pub fn open_files_limit() -> io::Result<(String, String)> {
    let limits = fs::read_to_string("/proc/self/limits")?;
    parse_open_files(&limits)
        .ok_or_else(|| io::Error::other("no \"Max open files\" in /proc/self/limits"))
}

fn parse_open_files(limits: &str) -> Option<(String, String)> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut words = line["Max open files".len()..].split_whitespace();
    Some((words.next()?.to_owned(), words.next()?.to_owned()))
}

/// Raises this process's soft limit of open files to its hard limit, so that a burst of
/// connections does not run out of descriptors; processes started afterwards (`sshd`, `ssh`,
/// Airgate's tunnel process) inherit it. Rust's standard library cannot set limits and this
/// workspace denies unsafe code, so util-linux's `prlimit` sets it. Returns the new soft limit.
pub fn raise_open_files_limit() -> io::Result<String> {
    let (soft, hard) = open_files_limit()?;
    if soft == hard {
        return Ok(soft);
    }
    let out = Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={hard}:{hard}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("could not run prlimit: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "prlimit --nofile={hard}:{hard} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(open_files_limit()?.0)
}

/// Connection attempts the kernel dropped so far because a listen queue was full (or for
/// another reason at the listener), in this network namespace: `ListenDrops` of
/// `/proc/net/netstat`. The client retries such a connection after 1 s, then 3 s, and so on.
pub fn listen_drops() -> io::Result<u64> {
    let netstat = fs::read_to_string("/proc/net/netstat")?;
    parse_netstat(&netstat, "TcpExt", "ListenDrops")
        .ok_or_else(|| io::Error::other("no TcpExt ListenDrops in /proc/net/netstat"))
}

/// `/proc/net/netstat` holds pairs of lines, `Group: names...` then `Group: values...`.
fn parse_netstat(netstat: &str, group: &str, name: &str) -> Option<u64> {
    let prefix = format!("{group}:");
    let mut lines = netstat.lines().filter(|l| l.starts_with(&prefix));
    let names = lines.next()?;
    let values = lines.next()?;
    let index = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(index)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_plus_system_ticks_after_the_command_name() {
        let stat = "4242 (ssh -D (x) y) S 1 4242 4242 0 -1 4194304 1000 0 0 0 \
                    157 43 0 0 20 0 1 0 12345 1000000 500 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(200));
        assert_eq!(parse_cpu_ticks("4242 (ssh) S 1"), None);
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }

    #[test]
    fn own_cpu_time_grows_with_work() {
        let before = cpu_time(std::process::id()).expect("own CPU time");
        let started = std::time::Instant::now();
        let mut x = 0u64;
        let mut after = before;
        // Spin until a clock tick is charged (at least 10 ms of CPU), within a generous bound.
        while after <= before && started.elapsed() < Duration::from_secs(10) {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            after = cpu_time(std::process::id()).expect("own CPU time");
        }
        assert!(after > before, "{before:?} -> {after:?}");
    }

    #[test]
    fn machine_busy_time_leaves_out_idle_and_iowait() {
        let stat = "cpu  100 2 30 5000 40 5 6 7 0 0\ncpu0 50 1 15 2500 20 2 3 3 0 0\n";
        assert_eq!(parse_busy_ticks(stat), Some(100 + 2 + 30 + 5 + 6 + 7));
        assert_eq!(parse_busy_ticks("cpu0 1 2 3\n"), None);
        assert!(machine_busy_time().expect("this host's /proc/stat") > Duration::ZERO);
    }

    #[test]
    fn a_tree_counts_the_children_it_forked() {
        let mut child = Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 30",
            ])
            .spawn()
            .expect("sh");
        let own = cpu_time(std::process::id()).expect("own CPU time");
        let started = std::time::Instant::now();
        let mut tree = own;
        // The child's loop is charged to it, so the tree outgrows this process alone.
        while tree.saturating_sub(cpu_time(std::process::id()).expect("own"))
            < Duration::from_millis(50)
            && started.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(50));
            tree = tree_cpu_time(std::process::id()).expect("tree CPU time");
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            tree.saturating_sub(cpu_time(std::process::id()).expect("own"))
                >= Duration::from_millis(50),
            "the tree {tree:?} should hold the child's loop"
        );
    }

    #[test]
    fn reads_listen_drops_from_netstat() {
        let netstat = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n\
                       TcpExt: 0 5364 5370\n\
                       IpExt: InNoRoutes\n\
                       IpExt: 0\n";
        assert_eq!(parse_netstat(netstat, "TcpExt", "ListenDrops"), Some(5370));
        assert_eq!(parse_netstat(netstat, "TcpExt", "Nope"), None);
        listen_drops().expect("this host's netstat");
    }

    #[test]
    fn reads_the_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             62987                62987                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(
            parse_open_files(limits),
            Some(("1024".to_owned(), "524288".to_owned()))
        );
        let (soft, _hard) = open_files_limit().expect("own limits");
        assert!(!soft.is_empty());
    }
}
