//! A real OpenSSH bastion: `sshd -D -e -f <own config>` with its own ed25519 host key, an
//! authorized user key, TCP forwarding allowed and nothing else, listening on loopback (or, via
//! [`crate::netns`], inside a private network namespace).
//!
//! ```no_run
//! # fn demo() -> std::io::Result<()> {
//! let bastion = airgate_peers::bastion::Bastion::start()?;
//! bastion.write_known_hosts(&bastion.dir().join("known_hosts"))?;
//! // connect as bastion.user() to bastion.host():bastion.port() with bastion.user_key()
//! # Ok(()) }
//! ```

use std::fs;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long sshd may take to accept connections after it was started.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a helper command (ssh-keygen, ip, nft) may run.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

const SSHD_CANDIDATES: &[&str] = &["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"];

/// A running sshd; killed (with every connection it forked) on drop.
#[derive(Debug)]
pub struct Bastion {
    dir: TempDir,
    child: Option<Child>,
    host: String,
    port: u16,
    user: String,
    user_key: PathBuf,
    host_key_pub: PathBuf,
    host_public_key: String,
    log: PathBuf,
    extra_keys: usize,
    /// How sshd was started, to start it again ([`Bastion::restart`]).
    prefix: Vec<String>,
    sshd: PathBuf,
}

impl Bastion {
    /// Starts sshd on 127.0.0.1 with a free port.
    pub fn start() -> io::Result<Bastion> {
        Self::launch(&[], IpAddr::V4(Ipv4Addr::LOCALHOST), None)
    }

    /// Starts sshd on `listen` (`port` `None` picks a free one), the command line prefixed with
    /// `prefix` (e.g. `ip netns exec NAME`). The address must be reachable from this process,
    /// which waits for the SSH banner.
    pub(crate) fn launch(
        prefix: &[&str],
        listen: IpAddr,
        port: Option<u16>,
    ) -> io::Result<Bastion> {
        ensure_privsep_dir()?;
        let sshd = SSHD_CANDIDATES
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                io::Error::other("sshd not found (apt-get install openssh-server)".to_owned())
            })?;
        let dir = tempfile::Builder::new()
            .prefix("airgate-bastion-")
            .tempdir()?;
        let host_key = dir.path().join("host_ed25519_key");
        generate_key(&host_key, None)?;
        let user_key = dir.path().join("user_ed25519_key");
        generate_key(&user_key, None)?;
        fs::copy(pub_path(&user_key), dir.path().join("authorized_keys"))?;
        let host_key_pub = pub_path(&host_key);
        let host_public_key = public_key_text(&host_key_pub)?;
        let user = current_user()?;
        let log = dir.path().join("sshd.log");

        let mut last_error = None;
        for _attempt in 0..5 {
            let chosen = match port {
                Some(port) => port,
                None => free_port(listen)?,
            };
            let config = dir.path().join("sshd_config");
            fs::write(&config, sshd_config(dir.path(), listen, chosen))?;
            let mut child = spawn_sshd(prefix, sshd, &config, &log)?;
            let addr = SocketAddr::new(listen, chosen);
            match wait_ready(&mut child, addr, &log) {
                Ok(()) => {
                    return Ok(Bastion {
                        dir,
                        child: Some(child),
                        host: listen.to_string(),
                        port: chosen,
                        user,
                        user_key,
                        host_key_pub,
                        host_public_key,
                        log,
                        extra_keys: 0,
                        prefix: prefix.iter().map(|p| (*p).to_owned()).collect(),
                        sshd: sshd.to_path_buf(),
                    });
                }
                Err(e) => {
                    kill_tree(child.id());
                    let _ = child.kill();
                    let _ = child.wait();
                    // Another process may have taken the free port between the check and
                    // sshd's bind: try another one.
                    let lost_race = port.is_none() && read_log(&log).contains("in use");
                    if !lost_race {
                        return Err(e);
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("sshd did not start")))
    }

    /// The address sshd listens on (an IP literal).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(
            self.host.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            self.port,
        )
    }

    /// The user to log in as: the current user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The private key (OpenSSH format, no passphrase) listed in authorized_keys.
    pub fn user_key(&self) -> &Path {
        &self.user_key
    }

    /// The host's public key file (`ssh-keygen -lf` it for the fingerprint).
    pub fn host_public_key_path(&self) -> &Path {
        &self.host_key_pub
    }

    /// The host's public key as `ALGORITHM BASE64`.
    pub fn host_public_key(&self) -> &str {
        &self.host_public_key
    }

    /// The known_hosts line for this bastion: `[host]:port key`, or `host key` on port 22.
    pub fn known_hosts_line(&self) -> String {
        format!(
            "{} {}\n",
            known_hosts_name(&self.host, self.port),
            self.host_public_key
        )
    }

    /// Writes a known_hosts file holding only this bastion's host key.
    pub fn write_known_hosts(&self, path: &Path) -> io::Result<()> {
        fs::write(path, self.known_hosts_line())
    }

    /// A scratch directory that lives as long as the bastion.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Generates a new user key that is NOT in authorized_keys (for negative tests).
    pub fn generate_unauthorized_key(&mut self) -> io::Result<PathBuf> {
        self.extra_keys += 1;
        let path = self
            .dir
            .path()
            .join(format!("unauthorized_ed25519_key_{}", self.extra_keys));
        generate_key(&path, None)?;
        Ok(path)
    }

    /// Adds `public_key` (an `authorized_keys` line) to the keys sshd lets in.
    pub fn authorize(&self, public_key: &str) -> io::Result<()> {
        use std::io::Write;
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))?;
        writeln!(file, "{}", public_key.trim())
    }

    /// sshd's log so far (stderr with `-e`, LogLevel VERBOSE).
    /// The process that listens (sshd, or what it was started under); each connection is a
    /// process below it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// Kills sshd and every connection it forked, as if the bastion went down.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_tree(child.id());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Bastion {
    /// Starts sshd again after [`Bastion::kill`]: same address, port, keys and config, as if
    /// the bastion came back.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        let config = self.dir.path().join("sshd_config");
        let prefix: Vec<&str> = self.prefix.iter().map(String::as_str).collect();
        let mut child = spawn_sshd(&prefix, &self.sshd, &config, &self.log)?;
        match wait_ready(&mut child, self.addr(), &self.log) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(e) => {
                kill_tree(child.id());
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }
}

impl Bastion {
    /// Has the CA `ca_key` sign this bastion's host key for `principal` (as `ssh-keygen -s -h`)
    /// and restarts sshd presenting that host certificate.
    pub fn use_host_certificate(&mut self, ca_key: &Path, principal: &str) -> io::Result<()> {
        let mut sign = Command::new("ssh-keygen");
        sign.args(["-q", "-s"])
            .arg(ca_key)
            .args([
                "-I",
                "airgate-test-host",
                "-h",
                "-n",
                principal,
                "-V",
                "-5m:+1h",
            ])
            .arg(&self.host_key_pub);
        run_bounded(&mut sign, COMMAND_TIMEOUT)?;
        let cert = self.dir.path().join("host_ed25519_key-cert.pub");
        let config = self.dir.path().join("sshd_config");
        let mut text = fs::read_to_string(&config)?;
        let line = format!("HostCertificate {}\n", cert.display());
        if !text.contains(&line) {
            text.push_str(&line);
            fs::write(&config, text)?;
        }
        self.restart()
    }
}

/// `sshd -D -e -f config`, prefixed (e.g. `ip netns exec NAME`), logging to `log`.
fn spawn_sshd(prefix: &[&str], sshd: &Path, config: &Path, log: &Path) -> io::Result<Child> {
    let log_file = fs::OpenOptions::new().create(true).append(true).open(log)?;
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(sshd);
            c
        }
        None => Command::new(sshd),
    };
    command
        .args(["-D", "-e", "-f"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    command
        .spawn()
        .map_err(|e| io::Error::other(format!("could not start {}: {e}", sshd.display())))
}

impl Drop for Bastion {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_log(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Waits until sshd sends its banner on `addr`, or fails with its log.
fn wait_ready(child: &mut Child, addr: SocketAddr, log: &Path) -> io::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "sshd exited ({status}) before accepting connections:\n{}",
                read_log(log)
            )));
        }
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            let mut banner = [0u8; 4];
            if stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "sshd did not accept connections on {addr} within {START_TIMEOUT:?}:\n{}",
                read_log(log)
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sshd_config(dir: &Path, listen: IpAddr, port: u16) -> String {
    let listen = SocketAddr::new(listen, port);
    let dir = dir.display();
    format!(
        "# Written by airgate-peers: a bastion that only forwards TCP.\n\
         ListenAddress {listen}\n\
         HostKey {dir}/host_ed25519_key\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PidFile {dir}/sshd.pid\n\
         UsePAM no\n\
         StrictModes no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\n\
         AllowTcpForwarding yes\n\
         AllowAgentForwarding no\n\
         AllowStreamLocalForwarding no\n\
         X11Forwarding no\n\
         PermitTTY no\n\
         PrintMotd no\n\
         UseDNS no\n\
         LoginGraceTime 30\n\
         MaxStartups 100:30:200\n\
         MaxSessions 100\n\
         LogLevel VERBOSE\n"
    )
}

/// `host` or `[host]:port`, as OpenSSH writes known_hosts names.
pub fn known_hosts_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Generates an ed25519 key pair at `path` (and `path.pub`), optionally passphrase protected.
pub fn generate_key(path: &Path, passphrase: Option<&str>) -> io::Result<()> {
    let mut command = Command::new("ssh-keygen");
    command
        .args([
            "-q",
            "-t",
            "ed25519",
            "-C",
            "airgate-test",
            "-N",
            passphrase.unwrap_or(""),
        ])
        .arg("-f")
        .arg(path);
    run_bounded(&mut command, COMMAND_TIMEOUT).map(drop)
}

/// `ssh-keygen -lf path`'s fingerprint (`SHA256:...`) of a public key file.
pub fn fingerprint(public_key_path: &Path) -> io::Result<String> {
    let out = run_bounded(
        Command::new("ssh-keygen").arg("-lf").arg(public_key_path),
        COMMAND_TIMEOUT,
    )?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other("ssh-keygen -lf printed no fingerprint"))
}

fn pub_path(key: &Path) -> PathBuf {
    let mut path = key.as_os_str().to_owned();
    path.push(".pub");
    PathBuf::from(path)
}

fn public_key_text(pub_path: &Path) -> io::Result<String> {
    let text = fs::read_to_string(pub_path)?;
    let mut fields = text.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(algorithm), Some(key)) => Ok(format!("{algorithm} {key}")),
        _ => Err(io::Error::other(format!(
            "{} is not a public key",
            pub_path.display()
        ))),
    }
}

fn current_user() -> io::Result<String> {
    let out = run_bounded(Command::new("id").arg("-un"), COMMAND_TIMEOUT)?;
    let user = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if user.is_empty() {
        return Err(io::Error::other("id -un printed no user name"));
    }
    Ok(user)
}

fn free_port(ip: IpAddr) -> io::Result<u16> {
    Ok(TcpListener::bind(SocketAddr::new(ip, 0))?
        .local_addr()?
        .port())
}

/// sshd refuses to start without its privilege separation directory.
fn ensure_privsep_dir() -> io::Result<()> {
    let dir = Path::new("/run/sshd");
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| {
        io::Error::other(format!(
            "sshd needs /run/sshd and it could not be created ({e}); run as root or create it"
        ))
    })
}

/// Runs a command to completion within `timeout`; a non-zero exit is an error that carries
/// the command's stderr.
pub(crate) fn run_bounded(command: &mut Command, timeout: Duration) -> io::Result<Output> {
    let shown = format!("{command:?}");
    let output = output_bounded(command, timeout)?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{shown} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output)
}

/// Runs a command to completion within `timeout` (killed after it), whatever its exit status.
pub(crate) fn output_bounded(command: &mut Command, timeout: Duration) -> io::Result<Output> {
    let shown = format!("{command:?}");
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("could not run {shown}: {e}")))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => output,
        Err(_) => {
            kill_pids(&[pid]);
            Err(io::Error::other(format!(
                "{shown} did not finish within {timeout:?}"
            )))
        }
    }
}

/// Kills `root` and all its descendants (sshd forks one process per connection, each in its
/// own session, so a process group kill would miss them).
pub(crate) fn kill_tree(root: u32) {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The command name is in parentheses and may hold spaces: parse after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut doomed = vec![root];
    let mut i = 0;
    while i < doomed.len() {
        let parent = doomed[i];
        doomed.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    kill_pids(&doomed);
}

pub(crate) fn kill_pids(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `ssh -W host:port` through the bastion with OpenSSH's own client; returns its output.
    /// Standard input stays open a moment after the request: a web server may drop a
    /// connection whose client half-closes before the response is written.
    pub(crate) fn openssh_forward(
        bastion: &Bastion,
        key: &Path,
        target: &str,
        request: &str,
    ) -> io::Result<Output> {
        let known_hosts = bastion.dir().join("known_hosts_openssh");
        bastion.write_known_hosts(&known_hosts)?;
        let script = format!(
            "(printf '{}'; sleep 2) | ssh -F none -o BatchMode=yes -o StrictHostKeyChecking=yes \
             -o UserKnownHostsFile={} -o ConnectTimeout=10 -i {} -p {} -W {target} {}@{}",
            request.replace('\n', "\\n").replace('\r', "\\r"),
            known_hosts.display(),
            key.display(),
            bastion.port(),
            bastion.user(),
            bastion.host(),
        );
        output_bounded(Command::new("sh").args(["-c", &script]), COMMAND_TIMEOUT)
    }

    #[test]
    fn openssh_client_logs_in_with_the_user_key_only() {
        let mut bastion = Bastion::start().expect("start sshd");
        assert_eq!(bastion.host(), "127.0.0.1");
        assert!(
            bastion
                .known_hosts_line()
                .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", bastion.port()))
        );

        // A forward to sshd itself: the banner comes back through the tunnel.
        let ok = openssh_forward(
            &bastion,
            bastion.user_key(),
            &format!("127.0.0.1:{}", bastion.port()),
            "",
        )
        .expect("run ssh");
        assert!(
            String::from_utf8_lossy(&ok.stdout).starts_with("SSH-2.0-"),
            "ssh -W failed: {}\n{}",
            String::from_utf8_lossy(&ok.stderr),
            bastion.log()
        );

        let other = bastion.generate_unauthorized_key().expect("second key");
        let refused = openssh_forward(&bastion, &other, "127.0.0.1:1", "").expect("run ssh");
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("Permission denied"),
            "unexpected: {}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }

    #[test]
    fn kill_ends_open_connections_too() {
        let mut bastion = Bastion::start().expect("start sshd");
        let addr = bastion.addr();
        let mut held = TcpStream::connect(addr).expect("connect");
        held.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut banner = [0u8; 4];
        held.read_exact(&mut banner).expect("banner");
        bastion.kill();
        let mut rest = Vec::new();
        // The connection's own sshd process is gone: EOF or reset, not a timeout.
        let end = held.read_to_end(&mut rest);
        assert!(
            !matches!(&end, Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut),
            "connection still open after kill: {end:?}"
        );
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
    }

    #[test]
    fn fingerprint_matches_ssh_keygen_format() {
        let bastion = Bastion::start().expect("start sshd");
        let fp = fingerprint(bastion.host_public_key_path()).expect("fingerprint");
        assert!(fp.starts_with("SHA256:"), "{fp}");
    }
}
