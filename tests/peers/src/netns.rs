//! A private network like an MWAA VPC: a network namespace holding a bastion (OpenSSH) and a
//! private Airflow web server that the host can neither resolve nor reach.
//!
//! Topology for slot `N` (1..=250, allocated with a lock file so parallel test processes never
//! share one):
//!
//! ```text
//! host  ag<N>h 10.213.N.1/30 ── veth ── ag<N>n 10.213.N.2/30  namespace airgate<N>
//!       route unreachable 10.214.N.0/24                        lo 10.214.N.10/32: airflow-web :80
//!                                                              sshd on 10.213.N.2:22
//!                                                              nftables: only tcp/22 enters
//!                                                              /etc/netns/airgate<N>/hosts maps
//!                                                              the -vpce names to 10.214.N.10
//! ```
//!
//! Only processes started with `ip netns exec` see the hosts file (it is bind-mounted over
//! `/etc/hosts`), so the bastion alone resolves the private names: a SOCKS client must send them
//! unresolved. Everything is torn down on drop; a slot left behind by a crashed run is cleaned
//! up by the next run that takes it.
//!
//! The web server is the `airflow-web` binary of this crate, found with
//! [`crate::airflow_web::binary_path`] (`$AIRGATE_AIRFLOW_WEB_BIN`, or built on demand).
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables). Without them [`PrivateNetwork::start`]
//! returns [`Error::Unavailable`]; tests use [`PrivateNetwork::start_or_skip`], which skips
//! unless `AIRGATE_REQUIRE_NETNS=1` (as in CI).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::bastion::{Bastion, COMMAND_TIMEOUT, kill_pids, output_bounded, run_bounded};

/// Set to `1` to make [`PrivateNetwork::start_or_skip`] fail instead of skipping.
pub const REQUIRE_ENV: &str = "AIRGATE_REQUIRE_NETNS";

const LOCK_DIR: &str = "/run/airgate-netns";
const SLOTS: std::ops::RangeInclusive<u8> = 1..=250;
const WEB_PORT: u16 = 80;
const WEB_TLS_PORT: u16 = 443;
const WEB_START_TIMEOUT: Duration = Duration::from_secs(20);

/// Why the private network could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// This machine or user cannot create network namespaces (not root, no `ip` or `nft`).
    #[error("private network unavailable: {0}")]
    Unavailable(String),
    /// Creating the namespace worked but a later step failed.
    #[error("private network setup failed: {0}")]
    Setup(String),
}

/// What the private web server does besides plain HTTP on port 80.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// Serve HTTPS on port 443 too, with this certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Check MWAA web login tokens signed with this key.
    pub token_key: Option<crate::web_token::TokenKey>,
    /// Append a JSON line per request to this file.
    pub log: Option<PathBuf>,
}

/// The running private network; torn down on drop.
#[derive(Debug)]
pub struct PrivateNetwork {
    name: String,
    slot: u8,
    hostnames: Vec<String>,
    web_options: WebOptions,
    bastion: Option<Bastion>,
    web: Option<(Child, ChildStdin)>,
    created: bool,
    // Dropped last, after teardown, so no other process takes the slot while it is in use.
    _lock: File,
}

impl PrivateNetwork {
    /// Creates the namespace, starts the bastion and the private web server, and maps each of
    /// `hostnames` to the web server inside the namespace.
    pub fn start(hostnames: &[&str]) -> Result<PrivateNetwork, Error> {
        Self::start_with(hostnames, WebOptions::default())
    }

    /// [`start`](Self::start), with a web server that also does `web` (HTTPS, MWAA login).
    pub fn start_with(hostnames: &[&str], web: WebOptions) -> Result<PrivateNetwork, Error> {
        check_available()?;
        let (slot, lock) = take_slot()?;
        let name = format!("airgate{slot}");
        cleanup_slot(slot);
        let mut net = PrivateNetwork {
            name,
            slot,
            hostnames: hostnames.iter().map(|h| (*h).to_owned()).collect(),
            web_options: web,
            bastion: None,
            web: None,
            created: false,
            _lock: lock,
        };
        run(Command::new("ip").args(["netns", "add", &net.name]))
            .map_err(|e| Error::Unavailable(format!("cannot create a network namespace: {e}")))?;
        net.created = true;
        net.configure().map_err(|e| Error::Setup(e.to_string()))?;
        Ok(net)
    }

    /// [`start`](Self::start) for tests: `None` (after printing why) when namespaces are
    /// unavailable here, unless `AIRGATE_REQUIRE_NETNS=1`, where that panics too.
    ///
    /// # Panics
    /// When the setup fails for another reason, or when it is unavailable but required.
    pub fn start_or_skip(hostnames: &[&str]) -> Option<PrivateNetwork> {
        Self::start_or_skip_with(hostnames, WebOptions::default())
    }

    /// [`start_or_skip`](Self::start_or_skip) with [`WebOptions`].
    ///
    /// # Panics
    /// As [`start_or_skip`](Self::start_or_skip).
    pub fn start_or_skip_with(hostnames: &[&str], web: WebOptions) -> Option<PrivateNetwork> {
        match Self::start_with(hostnames, web) {
            Ok(net) => Some(net),
            Err(Error::Unavailable(why)) if std::env::var(REQUIRE_ENV).as_deref() != Ok("1") => {
                eprintln!(
                    "SKIPPED: private network unavailable ({why}); set {REQUIRE_ENV}=1 to fail"
                );
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn configure(&mut self) -> io::Result<()> {
        let (name, n) = (self.name.clone(), self.slot);
        let (host_if, ns_if) = (host_veth(n), format!("ag{n}n"));
        run(Command::new("ip")
            .args(["link", "add", &host_if, "type", "veth", "peer", "name"])
            .arg(&ns_if))?;
        run(Command::new("ip").args(["link", "set", &ns_if, "netns", &name]))?;
        run(Command::new("ip").args([
            "addr",
            "add",
            &format!("{}/30", self.host_addr()),
            "dev",
            &host_if,
        ]))?;
        // No IPv6 on the host's end: its link-local address and route would come a moment after
        // the link, a change of the host's network after this network is said to be up.
        std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{host_if}/disable_ipv6"),
            "1",
        )?;
        run(Command::new("ip").args(["link", "set", &host_if, "up"]))?;
        let ns_ip = |args: &[&str]| run(Command::new("ip").args(["-n", &name]).args(args));
        ns_ip(&[
            "addr",
            "add",
            &format!("{}/30", self.bastion_addr()),
            "dev",
            &ns_if,
        ])?;
        ns_ip(&["link", "set", &ns_if, "up"])?;
        ns_ip(&["link", "set", "lo", "up"])?;
        ns_ip(&["addr", "add", &format!("{}/32", self.web_ip()), "dev", "lo"])?;
        // Nothing for the private range may leave the host through its default route.
        run(Command::new("ip").args(["route", "add", "unreachable", &private_range(n)]))?;

        let nft = |rule: &[&str]| {
            run(Command::new("ip")
                .args(["netns", "exec", &name, "nft"])
                .args(rule))
        };
        nft(&["add", "table", "inet", "airgate"])?;
        nft(&[
            "add", "chain", "inet", "airgate", "input", "{", "type", "filter", "hook", "input",
            "priority", "0", ";", "policy", "drop", ";", "}",
        ])?;
        nft(&[
            "add", "rule", "inet", "airgate", "input", "iif", "lo", "accept",
        ])?;
        nft(&[
            "add",
            "rule",
            "inet",
            "airgate",
            "input",
            "ct",
            "state",
            "established,related",
            "accept",
        ])?;
        nft(&[
            "add", "rule", "inet", "airgate", "input", "iifname", &ns_if, "tcp", "dport", "22",
            "accept",
        ])?;

        let etc = etc_dir(&name);
        fs::create_dir_all(&etc)?;
        let names = self.hostnames.join(" ");
        let mut hosts =
            String::from("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n");
        if !names.is_empty() {
            hosts.push_str(&format!("{} {names}\n", self.web_ip()));
        }
        fs::write(etc.join("hosts"), hosts)?;
        // No DNS server inside: names not in the hosts file fail at once, nothing leaves.
        fs::write(
            etc.join("resolv.conf"),
            "# no DNS in the private network\nnameserver 127.0.0.1\n",
        )?;

        self.web = Some(start_web(&name, self.web_addr(), &self.web_options)?);
        self.bastion = Some(Bastion::launch(
            &["ip", "netns", "exec", &name],
            IpAddr::V4(self.bastion_addr()),
            Some(22),
        )?);
        Ok(())
    }

    /// Drops every packet that comes into the namespace from the host, as a dead link or a
    /// sleeping firewall would: established SSH sessions go silent (no reset, no FIN).
    pub fn blackhole(&self) -> io::Result<()> {
        let ns_if = format!("ag{}n", self.slot);
        let nft = |rule: &[&str]| {
            run(Command::new("ip")
                .args(["netns", "exec", &self.name, "nft"])
                .args(rule))
        };
        nft(&["add", "table", "inet", "airgate_blackhole"])?;
        nft(&[
            "add",
            "chain",
            "inet",
            "airgate_blackhole",
            "input",
            "{",
            "type",
            "filter",
            "hook",
            "input",
            "priority",
            "-10",
            ";",
            "policy",
            "accept",
            ";",
            "}",
        ])?;
        nft(&[
            "add",
            "rule",
            "inet",
            "airgate_blackhole",
            "input",
            "iifname",
            &ns_if,
            "drop",
        ])?;
        Ok(())
    }

    /// Ends [`Self::blackhole`]: packets flow again.
    pub fn restore(&self) -> io::Result<()> {
        run(Command::new("ip")
            .args(["netns", "exec", &self.name, "nft"])
            .args(["delete", "table", "inet", "airgate_blackhole"]))
        .map(drop)
    }

    /// The bastion inside the namespace (host = its veth address, port 22).
    pub fn bastion(&self) -> &Bastion {
        self.bastion
            .as_ref()
            .unwrap_or_else(|| unreachable!("started networks have a bastion"))
    }

    /// The bastion, mutably (to generate keys or kill it).
    pub fn bastion_mut(&mut self) -> &mut Bastion {
        self.bastion
            .as_mut()
            .unwrap_or_else(|| unreachable!("started networks have a bastion"))
    }

    /// The private web server: reachable only from inside the namespace.
    pub fn web_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.web_ip()), WEB_PORT)
    }

    /// The private web server's HTTPS address, when it serves HTTPS.
    pub fn web_tls_addr(&self) -> Option<SocketAddr> {
        self.web_options
            .tls
            .as_ref()
            .map(|_| SocketAddr::new(IpAddr::V4(self.web_ip()), WEB_TLS_PORT))
    }

    /// The names that resolve to [`web_addr`](Self::web_addr) inside the namespace only.
    pub fn hostnames(&self) -> &[String] {
        &self.hostnames
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `program args` inside the namespace (bounded), returning its output whatever the
    /// exit status.
    pub fn exec(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name, program])
            .args(args);
        output_bounded(&mut command, COMMAND_TIMEOUT)
    }

    fn host_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.slot, 1)
    }

    fn bastion_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.slot, 2)
    }

    fn web_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 214, self.slot, 10)
    }
}

impl Drop for PrivateNetwork {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.web.take() {
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
        self.bastion = None;
        if self.created {
            cleanup_slot(self.slot);
        }
    }
}

fn host_veth(slot: u8) -> String {
    format!("ag{slot}h")
}

fn private_range(slot: u8) -> String {
    format!("10.214.{slot}.0/24")
}

fn etc_dir(name: &str) -> PathBuf {
    Path::new("/etc/netns").join(name)
}

fn run(command: &mut Command) -> io::Result<Output> {
    run_bounded(command, COMMAND_TIMEOUT)
}

fn check_available() -> Result<(), Error> {
    let uid = run(Command::new("id").arg("-u"))
        .map_err(|e| Error::Unavailable(format!("cannot tell the user id: {e}")))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(Error::Unavailable(
            "network namespaces need root".to_owned(),
        ));
    }
    for (tool, package) in [("ip", "iproute2"), ("nft", "nftables")] {
        run(Command::new(tool).arg("-V"))
            .map_err(|e| Error::Unavailable(format!("`{tool}` not usable ({package}): {e}")))?;
    }
    Ok(())
}

/// Takes the first free slot, holding an exclusive lock on its lock file for the lifetime of
/// the network. Locks vanish with their process, so a crashed run frees its slot.
fn take_slot() -> Result<(u8, File), Error> {
    fs::create_dir_all(LOCK_DIR)
        .map_err(|e| Error::Unavailable(format!("cannot create {LOCK_DIR}: {e}")))?;
    for slot in SLOTS {
        let path = Path::new(LOCK_DIR).join(format!("{slot}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        if file.try_lock().is_ok() {
            return Ok((slot, file));
        }
    }
    Err(Error::Setup(format!(
        "all {} private network slots are in use",
        SLOTS.count()
    )))
}

/// Removes whatever slot `slot` may hold: processes, namespace, veth, route, hosts files.
fn cleanup_slot(slot: u8) {
    let name = format!("airgate{slot}");
    if let Ok(out) = run(Command::new("ip").args(["netns", "pids", &name])) {
        let pids: Vec<u32> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        kill_pids(&pids);
    }
    let _ = run(Command::new("ip").args(["link", "del", &host_veth(slot)]));
    let _ = run(Command::new("ip").args(["netns", "del", &name]));
    let _ = run(Command::new("ip").args(["route", "del", "unreachable", &private_range(slot)]));
    let _ = fs::remove_dir_all(etc_dir(&name));
}

/// Starts `airflow-web` inside the namespace and waits for its "listening on" line. Its stdin
/// stays open as long as we hold it: it exits when we (or our process) go away.
fn start_web(
    name: &str,
    addr: SocketAddr,
    options: &WebOptions,
) -> io::Result<(Child, ChildStdin)> {
    let binary = crate::airflow_web::binary_path()?;
    let mut command = Command::new("ip");
    command.args(["netns", "exec", name]).arg(&binary).args([
        "--listen",
        &addr.to_string(),
        "--exit-with-stdin",
    ]);
    if let Some((cert, key)) = &options.tls {
        let tls = SocketAddr::new(addr.ip(), WEB_TLS_PORT);
        command
            .args(["--tls-listen", &tls.to_string(), "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key);
    }
    if let Some(key) = &options.token_key {
        command.args(["--token-key", &key.to_hex()]);
    }
    if let Some(log) = &options.log {
        command.arg("--log").arg(log);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| io::Error::other(format!("could not start {}: {e}", binary.display())))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other("airflow-web has no pipes"));
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(WEB_START_TIMEOUT) {
        Ok(line) if line.starts_with("listening on") => Ok((child, stdin)),
        outcome => {
            let _ = child.kill();
            let _ = child.wait();
            Err(io::Error::other(format!(
                "airflow-web did not start in namespace {name} on {addr} within \
                 {WEB_START_TIMEOUT:?} (said {outcome:?})"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    const VPCE: &str = "abc123-vpce.c2.airflow.us-east-1.airgate.test";

    #[test]
    fn private_web_server_is_reachable_only_through_the_bastion() {
        let Some(net) = PrivateNetwork::start_or_skip(&[VPCE]) else {
            return;
        };
        assert_eq!(net.bastion().port(), 22);

        // The host's own name service (files only: no DNS query leaves this machine) does not
        // know the name; inside the namespace it resolves to the private web address.
        let host = output_bounded(
            Command::new("getent").args(["-s", "files", "hosts", VPCE]),
            COMMAND_TIMEOUT,
        )
        .expect("getent on host");
        assert!(!host.status.success(), "host resolves {VPCE}");
        let inside = net
            .exec("getent", &["-s", "files", "hosts", VPCE])
            .expect("getent inside");
        assert!(
            String::from_utf8_lossy(&inside.stdout).starts_with(&net.web_addr().ip().to_string()),
            "namespace does not resolve {VPCE}: {inside:?}"
        );

        // The host cannot reach the private address, nor anything but tcp/22 in the namespace.
        assert!(TcpStream::connect_timeout(&net.web_addr(), Duration::from_secs(3)).is_err());
        let bastion_http = SocketAddr::new(net.bastion().addr().ip(), 80);
        assert!(TcpStream::connect_timeout(&bastion_http, Duration::from_secs(1)).is_err());

        // OpenSSH's client through the bastion reaches the page by name.
        let out = crate::bastion::tests::openssh_forward(
            net.bastion(),
            net.bastion().user_key(),
            &format!("{VPCE}:80"),
            &format!("GET /home?x=1 HTTP/1.1\r\nHost: {VPCE}\r\nConnection: close\r\n\r\n"),
        )
        .expect("run ssh");
        let page = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            crate::airflow_web::Page::parse(&page),
            Some(crate::airflow_web::Page::new(VPCE, "/home")),
            "{page}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn teardown_removes_everything() {
        let Some(net) = PrivateNetwork::start_or_skip(&[VPCE]) else {
            return;
        };
        let (name, veth, route) = (
            net.name().to_owned(),
            host_veth(net.slot),
            private_range(net.slot),
        );
        drop(net);
        let netns = run(Command::new("ip").args(["netns", "list"])).expect("ip netns list");
        assert!(
            !String::from_utf8_lossy(&netns.stdout)
                .split_whitespace()
                .any(|n| n == name)
        );
        assert!(
            run(Command::new("ip").args(["link", "show", &veth])).is_err(),
            "{veth} left behind"
        );
        let routes = run(Command::new("ip").args(["route", "show", &route])).expect("ip route");
        assert!(
            String::from_utf8_lossy(&routes.stdout).trim().is_empty(),
            "route {route} left behind"
        );
        assert!(!etc_dir(&name).exists());
    }
}
