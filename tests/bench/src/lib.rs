//! Benchmarks that compare Airgate with a peer and print ratios.
//!
//! The tunnel benchmark measures SOCKS5 through Airgate's tunnel and through OpenSSH's
//! `ssh -N -D` (its default cipher, and AES-GCM), all through the same real OpenSSH bastion on
//! loopback. Each proxy runs as a process of its own (Airgate's as `tunnel-bench serve-tunnel`,
//! see [`airgate`]), so the CPU time it spends can be read from `/proc`. Per side the report
//! gives the median throughput of large downloads (rounds alternate the order of the sides),
//! the proxy's CPU time per GiB they moved, the time to first byte of a fresh SOCKS connection,
//! small HTTP requests one after another and a burst of them at once, and Airgate's ratio to
//! each OpenSSH run.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use airgate_peers::bastion::Bastion;
use airgate_peers::socks_client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::timeout;

pub mod airgate;
mod error;
pub mod negotiated;
pub mod openssh;
pub mod process;
pub mod source;

pub use error::{Error, Result};

use crate::airgate::AirgateSocks;
use crate::openssh::{OpenSshSocks, SshTarget};
use crate::source::{HttpSource, Sink, Source};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
/// The cipher of the second OpenSSH run (the first uses OpenSSH's default order).
pub const AES_GCM: &str = "aes128-gcm@openssh.com";
/// What a small request returns, for the time to first byte.
pub const SMALL_BYTES: u64 = 1024;
/// The body of the small HTTP page.
pub const HTTP_BODY_BYTES: usize = 1024;
/// How long Airgate may take to open its tunnel.
pub const TUNNEL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one small request may take, from connect to end of stream.
pub const SMALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The warm-up download per side is at most this large.
const WARM_UP_BYTES: u64 = 32 * MIB;
/// Read buffer per download.
const READ_BUFFER: usize = 256 * 1024;
/// The pause before each burst, so that the previous side's connections have closed.
const BURST_SETTLE: Duration = Duration::from_secs(1);

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchConfig {
    /// MiB per download.
    pub mib: u64,
    /// Measured downloads per side.
    pub rounds: u32,
    /// Small requests per side for the time to first byte.
    pub ttfb_requests: u32,
    /// How long to wait before each of those (zero: they follow each other at once).
    pub ttfb_pause: Duration,
    /// Small HTTP requests per side, one after another (0: none).
    pub sequential: u32,
    /// Small HTTP requests per side, all opened at once through the one proxy (0: none).
    pub simultaneous: u32,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            mib: 256,
            rounds: 5,
            ttfb_requests: 50,
            ttfb_pause: Duration::ZERO,
            sequential: 200,
            simultaneous: 1000,
        }
    }
}

/// The measurements of one side (one SOCKS proxy).
#[derive(Debug, Clone, PartialEq)]
pub struct SideResult {
    pub name: String,
    /// The cipher the side negotiated with the bastion, when it could be told.
    pub cipher: Option<String>,
    /// Throughput of each measured download, MiB/s.
    pub mib_per_s: Vec<f64>,
    /// CPU time (user + system) of the side's proxy process during the measured downloads.
    pub bulk_cpu: Duration,
    /// CPU time of sshd (the listener and every session it forked) meanwhile.
    pub bulk_sshd_cpu: Duration,
    /// Busy time of all the machine's CPUs meanwhile (every process, and the kernel's own work).
    pub bulk_machine_cpu: Duration,
    /// Wall time of the measured downloads.
    pub bulk_wall: Duration,
    /// Bytes the measured downloads moved.
    pub bulk_bytes: u64,
    /// Throughput of each measured upload (as many bytes the other way), MiB/s.
    pub up_mib_per_s: Vec<f64>,
    /// Time from the SOCKS connect to the first byte of each small request.
    pub ttfb: Vec<Duration>,
    /// Small HTTP requests one after another (`None`: not measured).
    pub sequential: Option<HttpBatch>,
    /// Small HTTP requests all at once (`None`: not measured).
    pub simultaneous: Option<HttpBatch>,
}

impl SideResult {
    fn new(name: String, cipher: Option<String>) -> SideResult {
        SideResult {
            name,
            cipher,
            mib_per_s: Vec::new(),
            bulk_cpu: Duration::ZERO,
            bulk_sshd_cpu: Duration::ZERO,
            bulk_machine_cpu: Duration::ZERO,
            bulk_wall: Duration::ZERO,
            bulk_bytes: 0,
            up_mib_per_s: Vec::new(),
            ttfb: Vec::new(),
            sequential: None,
            simultaneous: None,
        }
    }

    pub fn median_mib_per_s(&self) -> f64 {
        median(&self.mib_per_s)
    }

    pub fn median_up_mib_per_s(&self) -> f64 {
        median(&self.up_mib_per_s)
    }

    pub fn median_ttfb(&self) -> Duration {
        median_duration(&self.ttfb)
    }

    /// CPU seconds of the proxy process per GiB downloaded; NaN when nothing was.
    pub fn cpu_s_per_gib(&self) -> f64 {
        self.per_gib(self.bulk_cpu)
    }

    /// CPU seconds of sshd per GiB downloaded.
    pub fn sshd_cpu_s_per_gib(&self) -> f64 {
        self.per_gib(self.bulk_sshd_cpu)
    }

    /// Busy seconds of all CPUs per GiB downloaded.
    pub fn machine_cpu_s_per_gib(&self) -> f64 {
        self.per_gib(self.bulk_machine_cpu)
    }

    /// How much of the machine's CPUs stayed idle during the downloads, in percent.
    pub fn idle_percent(&self, cores: usize) -> f64 {
        let available = self.bulk_wall.as_secs_f64() * cores as f64;
        if available <= 0.0 {
            return f64::NAN;
        }
        (100.0 * (1.0 - self.bulk_machine_cpu.as_secs_f64() / available)).max(0.0)
    }

    fn per_gib(&self, time: Duration) -> f64 {
        if self.bulk_bytes == 0 {
            return f64::NAN;
        }
        time.as_secs_f64() / (self.bulk_bytes as f64 / GIB as f64)
    }
}

/// A batch of small HTTP requests through one side, each on a fresh SOCKS connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpBatch {
    /// How long each request that succeeded took, from the SOCKS connect to the end of the
    /// response.
    pub latencies: Vec<Duration>,
    /// Requests that failed.
    pub failures: u32,
    /// What the first failure was.
    pub first_failure: Option<String>,
    /// From the start of the first request to the end of the last.
    pub wall: Duration,
    /// Connection attempts the kernel dropped from full listen queues meanwhile (on this
    /// host, [`process::listen_drops`]); `None` when that could not be read.
    pub listen_drops: Option<u64>,
}

impl HttpBatch {
    fn record(&mut self, outcome: Result<Duration>) {
        match outcome {
            Ok(took) => self.latencies.push(took),
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn fail(&mut self, why: String) {
        self.failures += 1;
        self.first_failure.get_or_insert(why);
    }

    /// Requests made, successful or not.
    pub fn requests(&self) -> usize {
        self.latencies.len() + self.failures as usize
    }

    /// The `p`th percentile (nearest rank) of the successful requests' latencies.
    pub fn percentile(&self, p: f64) -> Duration {
        let secs: Vec<f64> = self.latencies.iter().map(Duration::as_secs_f64).collect();
        Duration::from_secs_f64(percentile(&secs, p).max(0.0))
    }
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub config: BenchConfig,
    /// `ssh -V`'s version, e.g. `OpenSSH_9.2p1 Debian-2+deb12u10`.
    pub openssh_version: String,
    pub cores: usize,
    pub release_build: bool,
    /// The soft limit of open files the proxies ran with, as `/proc/self/limits` words it.
    pub open_files: Option<String>,
    /// OpenSSH's default cipher, then `-c aes128-gcm@openssh.com`.
    pub openssh: Vec<SideResult>,
    pub airgate: SideResult,
}

impl Report {
    /// The report as small plain-text tables.
    pub fn table(&self) -> String {
        let mut out = String::new();
        self.write_transfer(&mut out);
        self.write_http(&mut out);
        out
    }

    fn sides(&self) -> Vec<&SideResult> {
        self.openssh.iter().chain([&self.airgate]).collect()
    }

    fn name_width(&self) -> usize {
        self.sides()
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0)
            .max(4)
    }

    fn ratio_width(&self) -> usize {
        self.openssh.iter().map(|s| s.name.len()).max().unwrap_or(0) + "Airgate / ".len()
    }

    /// Throughput, CPU per GiB and first byte.
    fn write_transfer(&self, out: &mut String) {
        let c = &self.config;
        let build = if self.release_build {
            "release build"
        } else {
            "DEBUG BUILD: numbers are not meaningful, run with --release"
        };
        let _ = writeln!(
            out,
            "SOCKS5 download of {} MiB through an OpenSSH bastion on 127.0.0.1 ({}), {} cores, {build}",
            c.mib, self.openssh_version, self.cores
        );
        let _ = writeln!(
            out,
            "throughput: median of {} rounds (order alternating), down and up (up MiB/s: as many \
             bytes sent through the proxy to a sink); first byte: median of {} fresh \
             connections ({SMALL_BYTES} B each{})",
            c.rounds,
            c.ttfb_requests,
            if c.ttfb_pause.is_zero() {
                ", one right after another".to_owned()
            } else {
                format!(", {} ms apart", c.ttfb_pause.as_millis())
            }
        );
        let _ = writeln!(
            out,
            "CPU: user + system time during the measured downloads, per GiB: of the proxy's own \
             process (ssh, or Airgate's tunnel process), of sshd (its sessions), and of all CPUs \
             together (every process and the kernel's own work); idle: the share of the {} cores \
             left unused meanwhile\n",
            self.cores
        );
        let sides = self.sides();
        let name_width = self.name_width();
        let cipher_width = sides
            .iter()
            .map(|s| cipher_name(s).len())
            .max()
            .unwrap_or(0)
            .max(18);
        let _ = writeln!(
            out,
            "{:name_width$}  {:cipher_width$}  {:>8}  {:>13}  {:>8}  {:>9}  {:>10}  {:>9}  {:>5}  {:>10}  {:>15}",
            "side",
            "negotiated cipher",
            "MiB/s",
            "min-max MiB/s",
            "up MiB/s",
            "CPU s/GiB",
            "sshd s/GiB",
            "all s/GiB",
            "idle",
            "first byte",
            "min-max ms"
        );
        for side in &sides {
            let (lo, hi) = min_max(&side.mib_per_s);
            let ttfb_ms: Vec<f64> = side.ttfb.iter().map(|d| d.as_secs_f64() * 1e3).collect();
            let (first_lo, first_hi) = min_max(&ttfb_ms);
            let _ = writeln!(
                out,
                "{:name_width$}  {:cipher_width$}  {:>8.1}  {:>13}  {:>8.1}  {:>9.2}  {:>10.2}  {:>9.2}  {:>4.0}%  {:>10}  {:>15}",
                side.name,
                cipher_name(side),
                side.median_mib_per_s(),
                format!("{lo:.0}-{hi:.0}"),
                side.median_up_mib_per_s(),
                side.cpu_s_per_gib(),
                side.sshd_cpu_s_per_gib(),
                side.machine_cpu_s_per_gib(),
                side.idle_percent(self.cores),
                format_ms(side.median_ttfb()),
                format!("{first_lo:.2}-{first_hi:.2}"),
            );
        }
        out.push('\n');
        let ratio_width = self.ratio_width();
        for peer in &self.openssh {
            let _ = writeln!(
                out,
                "{:ratio_width$}  throughput {:.2}x  upload {:.2}x  CPU/GiB {:.2}x  sshd {:.2}x  all {:.2}x  first byte {:.2}x",
                format!("Airgate / {}", peer.name),
                ratio(self.airgate.median_mib_per_s(), peer.median_mib_per_s()),
                ratio(
                    self.airgate.median_up_mib_per_s(),
                    peer.median_up_mib_per_s()
                ),
                ratio(self.airgate.cpu_s_per_gib(), peer.cpu_s_per_gib()),
                ratio(self.airgate.sshd_cpu_s_per_gib(), peer.sshd_cpu_s_per_gib()),
                ratio(
                    self.airgate.machine_cpu_s_per_gib(),
                    peer.machine_cpu_s_per_gib()
                ),
                ratio(
                    self.airgate.median_ttfb().as_secs_f64(),
                    peer.median_ttfb().as_secs_f64()
                ),
            );
        }
        out.push_str(
            "(throughput: higher is better for Airgate; CPU and first byte: lower is better)\n",
        );
    }

    /// Small HTTP requests one after another and at once; nothing when neither was measured.
    fn write_http(&self, out: &mut String) {
        let c = &self.config;
        if c.sequential == 0 && c.simultaneous == 0 {
            return;
        }
        let _ = writeln!(
            out,
            "\nHTTP: GET with Connection: close, a fresh SOCKS connection each ({HTTP_BODY_BYTES} B \
             page); {} one after another, then {} at once through one proxy",
            c.sequential, c.simultaneous
        );
        let _ = writeln!(
            out,
            "(Airgate's tunnel serves at most {} SOCKS connections at once, the others wait to be \
             accepted; open files limit {}; listen drops: connection attempts the kernel dropped \
             from full listen queues during the burst, retried by the client after 1 s)\n",
            airgate_tunnel::MAX_CONNECTIONS,
            self.open_files.as_deref().unwrap_or("unknown")
        );
        let name_width = self.name_width();
        let _ = writeln!(
            out,
            "{:name_width$}  {:>16}  {:>11}  {:>11}  {:>14}  {:>11}  {:>11}  {:>9}  {:>12}",
            "side",
            "sequential total",
            "p50",
            "p99",
            "at once failed",
            "p50",
            "p99",
            "wall",
            "listen drops"
        );
        let dash = || "-".to_owned();
        for side in self.sides() {
            let sequential = side.sequential.as_ref();
            let burst = side.simultaneous.as_ref();
            let _ = writeln!(
                out,
                "{:name_width$}  {:>16}  {:>11}  {:>11}  {:>14}  {:>11}  {:>11}  {:>9}  {:>12}",
                side.name,
                sequential.map_or_else(dash, |b| format_s(b.wall)),
                sequential.map_or_else(dash, |b| format_ms(b.percentile(50.0))),
                sequential.map_or_else(dash, |b| format_ms(b.percentile(99.0))),
                burst.map_or_else(dash, |b| format!("{}/{}", b.failures, b.requests())),
                burst.map_or_else(dash, |b| format_ms(b.percentile(50.0))),
                burst.map_or_else(dash, |b| format_ms(b.percentile(99.0))),
                burst.map_or_else(dash, |b| format_s(b.wall)),
                burst
                    .and_then(|b| b.listen_drops)
                    .map_or_else(dash, |d| d.to_string()),
            );
        }
        for side in self.sides() {
            for (what, batch) in [
                ("one after another", &side.sequential),
                ("at once", &side.simultaneous),
            ] {
                if let Some(batch) = batch.as_ref().filter(|b| b.failures > 0) {
                    let _ = writeln!(
                        out,
                        "{}: {} of {} requests {what} failed, the first: {}",
                        side.name,
                        batch.failures,
                        batch.requests(),
                        batch.first_failure.as_deref().unwrap_or("?")
                    );
                }
            }
        }
        out.push('\n');
        let ratio_width = self.ratio_width();
        let wall = |b: &Option<HttpBatch>| b.as_ref().map_or(f64::NAN, |b| b.wall.as_secs_f64());
        let pct = |b: &Option<HttpBatch>, p| {
            b.as_ref()
                .map_or(f64::NAN, |b| b.percentile(p).as_secs_f64())
        };
        let a = &self.airgate;
        for peer in &self.openssh {
            let mut line = format!("{:ratio_width$}", format!("Airgate / {}", peer.name));
            if c.sequential > 0 {
                let _ = write!(
                    line,
                    "  sequential {:.2}x",
                    ratio(wall(&a.sequential), wall(&peer.sequential))
                );
            }
            if c.simultaneous > 0 {
                let _ = write!(
                    line,
                    "  at once p50 {:.2}x  p99 {:.2}x  wall {:.2}x",
                    ratio(pct(&a.simultaneous, 50.0), pct(&peer.simultaneous, 50.0)),
                    ratio(pct(&a.simultaneous, 99.0), pct(&peer.simultaneous, 99.0)),
                    ratio(wall(&a.simultaneous), wall(&peer.simultaneous)),
                );
            }
            let _ = writeln!(out, "{line}");
        }
        out.push_str("(lower is better for Airgate)\n");
    }
}

fn cipher_name(side: &SideResult) -> &str {
    side.cipher.as_deref().unwrap_or("unknown")
}

fn format_ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn format_s(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// The median (mean of the two middle values for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn median_duration(values: &[Duration]) -> Duration {
    let secs: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    Duration::from_secs_f64(median(&secs).max(0.0))
}

/// The `p`th percentile by nearest rank: the smallest value with at least `p` percent of the
/// values at or below it; NaN when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let rank = (p / 100.0 * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// How long a download of `bytes` may take: generous (10 MiB/s, plus 30 s), but bounded.
fn download_limit(bytes: u64) -> Duration {
    Duration::from_secs(30) + Duration::from_millis(bytes / MIB * 100)
}

/// One side under test: its SOCKS proxy, the proxy's process, and what was measured.
struct Side {
    socks: SocketAddr,
    pid: u32,
    result: SideResult,
}

/// The sources' ports.
#[derive(Debug, Clone, Copy)]
struct Ports {
    bulk: u16,
    sink: u16,
    small: u16,
    http: u16,
}

/// Runs the whole benchmark: starts the bastion, the sources, both `ssh -D` proxies and
/// Airgate's tunnel process (`tunnel_program serve-tunnel`, `tunnel_program` being
/// `tunnel-bench`), measures, and stops everything again (also on error).
pub async fn run(config: &BenchConfig, tunnel_program: &Path) -> Result<Report> {
    let bastion = tokio::task::spawn_blocking(Bastion::start)
        .await?
        .map_err(Error::Bastion)?;
    let known_hosts = bastion.dir().join("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .map_err(Error::Bastion)?;
    let bulk = Source::start(config.mib * MIB).map_err(Error::Source)?;
    let sink = Sink::start().map_err(Error::Source)?;
    let small = Source::start(SMALL_BYTES).map_err(Error::Source)?;
    let http = HttpSource::start(HTTP_BODY_BYTES).map_err(Error::Source)?;
    let openssh_version = openssh::version()?;

    // OpenSSH: a verbose probe tells the negotiated cipher; the measured proxy runs quiet.
    let target = SshTarget::for_bastion(&bastion, &known_hosts);
    let mut proxies = Vec::new();
    let mut sides = Vec::new();
    for cipher in [None, Some(AES_GCM)] {
        let target = target.clone();
        let (negotiated, proxy) = tokio::task::spawn_blocking(move || {
            let negotiated = OpenSshSocks::start(&target, cipher, true)?.negotiated_cipher();
            let proxy = OpenSshSocks::start(&target, cipher, false)?;
            Ok::<_, Error>((negotiated, proxy))
        })
        .await??;
        sides.push(Side {
            socks: proxy.addr(),
            pid: proxy.pid(),
            result: SideResult::new(openssh::label(cipher), negotiated),
        });
        proxies.push(proxy);
    }

    let program = tunnel_program.to_owned();
    let airgate =
        tokio::task::spawn_blocking(move || AirgateSocks::start(&program, &target)).await??;
    sides.push(Side {
        socks: airgate.addr(),
        pid: airgate.pid(),
        result: SideResult::new("Airgate (russh)".to_owned(), airgate.negotiated_cipher()),
    });

    let ports = Ports {
        bulk: bulk.addr().port(),
        sink: sink.addr().port(),
        small: small.addr().port(),
        http: http.addr().port(),
    };
    let sshd = bastion
        .pid()
        .ok_or_else(|| Error::Bastion(io::Error::other("sshd is not running")))?;
    let measured = measure(config, &mut sides, ports, sshd).await;
    drop(airgate);
    drop(proxies);
    drop(bastion);
    measured?;

    let airgate = sides.pop().map(|s| s.result);
    Ok(Report {
        config: config.clone(),
        openssh_version,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        release_build: !cfg!(debug_assertions),
        open_files: process::open_files_limit().ok().map(|(soft, _)| soft),
        openssh: sides.into_iter().map(|s| s.result).collect(),
        airgate: airgate.unwrap_or_else(|| SideResult::new("Airgate (russh)".to_owned(), None)),
    })
}

async fn measure(config: &BenchConfig, sides: &mut [Side], ports: Ports, sshd: u32) -> Result<()> {
    let want = config.mib * MIB;
    for side in sides.iter() {
        let warm_up = want.min(WARM_UP_BYTES);
        let source = Source::start(warm_up).map_err(Error::Source)?;
        download(&side.result.name, side.socks, source.addr().port(), warm_up).await?;
    }
    for round in 0..config.rounds {
        for i in alternating(sides.len(), round) {
            let side = &mut sides[i];
            let before = Usage::now(side, sshd)?;
            let took = download(&side.result.name, side.socks, ports.bulk, want).await?;
            let after = Usage::now(side, sshd)?;
            let mib = want as f64 / MIB as f64;
            side.result.mib_per_s.push(mib / took.as_secs_f64());
            side.result.bulk_cpu += after.proxy.saturating_sub(before.proxy);
            side.result.bulk_sshd_cpu += after.sshd.saturating_sub(before.sshd);
            side.result.bulk_machine_cpu += after.machine.saturating_sub(before.machine);
            side.result.bulk_wall += took;
            side.result.bulk_bytes += want;
        }
        for i in alternating(sides.len(), round) {
            let side = &mut sides[i];
            let took = upload(&side.result.name, side.socks, ports.sink, want).await?;
            let mib = want as f64 / MIB as f64;
            side.result.up_mib_per_s.push(mib / took.as_secs_f64());
        }
    }
    for request in 0..config.ttfb_requests {
        for i in alternating(sides.len(), request) {
            let side = &mut sides[i];
            tokio::time::sleep(config.ttfb_pause).await;
            let ttfb = first_byte(&side.result.name, side.socks, ports.small).await?;
            side.result.ttfb.push(ttfb);
        }
    }
    if config.sequential > 0 {
        for side in sides.iter_mut() {
            let batch =
                sequential(&side.result.name, side.socks, ports.http, config.sequential).await;
            side.result.sequential = Some(batch);
        }
    }
    if config.simultaneous > 0 {
        for side in sides.iter_mut() {
            tokio::time::sleep(BURST_SETTLE).await;
            let batch = simultaneous(
                &side.result.name,
                side.socks,
                ports.http,
                config.simultaneous,
            )
            .await;
            side.result.simultaneous = Some(batch);
        }
    }
    Ok(())
}

/// CPU time used so far: by the side's proxy process, by sshd, by the whole machine.
struct Usage {
    proxy: Duration,
    sshd: Duration,
    machine: Duration,
}

impl Usage {
    fn now(side: &Side, sshd: u32) -> Result<Usage> {
        let failed = |pid: u32| {
            let side = side.result.name.clone();
            move |source| Error::Cpu { side, pid, source }
        };
        Ok(Usage {
            proxy: process::cpu_time(side.pid).map_err(failed(side.pid))?,
            sshd: process::tree_cpu_time(sshd).map_err(failed(sshd))?,
            machine: process::machine_busy_time().map_err(Error::MachineCpu)?,
        })
    }
}

/// `0..n` on even turns, reversed on odd ones: no side always goes first.
fn alternating(n: usize, turn: u32) -> Vec<usize> {
    if turn.is_multiple_of(2) {
        (0..n).collect()
    } else {
        (0..n).rev().collect()
    }
}

/// `count` small HTTP requests through `socks`, each waiting for the one before.
async fn sequential(side: &str, socks: SocketAddr, port: u16, count: u32) -> HttpBatch {
    let mut batch = HttpBatch::default();
    let started = Instant::now();
    for _ in 0..count {
        batch.record(http_request(side, socks, port).await);
    }
    batch.wall = started.elapsed();
    batch
}

/// `count` small HTTP requests through `socks`, all started at once; failures are counted.
async fn simultaneous(side: &str, socks: SocketAddr, port: u16, count: u32) -> HttpBatch {
    let mut batch = HttpBatch::default();
    let drops_before = process::listen_drops().ok();
    let started = Instant::now();
    let mut requests = JoinSet::new();
    for _ in 0..count {
        let side = side.to_owned();
        requests.spawn(async move { http_request(&side, socks, port).await });
    }
    while let Some(joined) = requests.join_next().await {
        match joined {
            Ok(outcome) => batch.record(outcome),
            Err(e) => batch.fail(format!("the request's task ended: {e}")),
        }
    }
    batch.wall = started.elapsed();
    batch.listen_drops = drops_before
        .zip(process::listen_drops().ok())
        .map(|(before, after)| after.saturating_sub(before));
    batch
}

/// `GET /` from the HTTP source on `port`, on a fresh SOCKS connection through `socks`
/// (`Connection: close`); how long it took from the connect until the page's last byte (its
/// `Content-Length`) arrived, as a browser's request ends. The stream is closed then, without
/// waiting for the server's end of stream: see [`read_page`].
async fn http_request(side: &str, socks: SocketAddr, port: u16) -> Result<Duration> {
    let started = Instant::now();
    let mut got = 0u64;
    let exchange = async {
        let mut stream = connect(side, socks, port).await?;
        let request = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: tunnel-bench\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        );
        let read_error = |got, source| Error::Read {
            side: side.to_owned(),
            got,
            source,
        };
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| Error::Http {
                side: side.to_owned(),
                detail: format!("sending the request failed: {e}"),
            })?;
        read_page(&mut stream, &mut got).await.map_err(|e| match e {
            PageError::Io(source) => read_error(got, source),
            PageError::Http(detail) => Error::Http {
                side: side.to_owned(),
                detail,
            },
        })
    };
    match timeout(SMALL_TIMEOUT, exchange).await {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::ReadTimeout {
            side: side.to_owned(),
            got,
            want: HTTP_BODY_BYTES as u64,
            timeout: SMALL_TIMEOUT,
        }),
    }
}

/// Why a page could not be read.
#[derive(Debug)]
enum PageError {
    Io(std::io::Error),
    Http(String),
}

/// Reads a `200 OK` response head and exactly its `Content-Length` of body, which must be
/// [`HTTP_BODY_BYTES`]; `got` counts the bytes read. It does not wait for the end of stream
/// that `Connection: close` promises next: through the bastion that end came about 43 ms
/// after the data on every side alike, the delayed-ACK timer (sshd writes the channel's EOF
/// right behind the data, on a connection without `TCP_NODELAY`), which would hide what the
/// proxies themselves take.
async fn read_page(
    stream: &mut tokio::net::TcpStream,
    got: &mut u64,
) -> std::result::Result<(), PageError> {
    let mut data = Vec::with_capacity(2 * HTTP_BODY_BYTES);
    let mut buffer = [0u8; 4096];
    let mut want = None;
    loop {
        if want.is_none()
            && let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let length = parse_head(&data[..end]).map_err(PageError::Http)?;
            want = Some(end + 4 + length);
        }
        match want {
            Some(want) if data.len() > want => {
                return Err(PageError::Http(format!(
                    "{} bytes after the page's end",
                    data.len() - want
                )));
            }
            Some(want) if data.len() == want => return Ok(()),
            _ => {}
        }
        let n = stream.read(&mut buffer).await.map_err(PageError::Io)?;
        if n == 0 {
            return Err(PageError::Http(format!(
                "the stream ended after {} bytes, before the whole page",
                data.len()
            )));
        }
        *got += n as u64;
        data.extend_from_slice(&buffer[..n]);
    }
}

/// The body length a response head announces: its status must be 200 and its
/// `Content-Length` [`HTTP_BODY_BYTES`].
fn parse_head(head: &[u8]) -> std::result::Result<usize, String> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("status line {status:?}"));
    }
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or_else(|| "no Content-Length".to_owned())?;
    if length != HTTP_BODY_BYTES {
        return Err(format!("Content-Length {length}, not {HTTP_BODY_BYTES}"));
    }
    Ok(length)
}

/// How long one download took.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// From the SOCKS connect to the first byte.
    first_byte: Duration,
    /// From the SOCKS connect to the end of the stream.
    total: Duration,
}

/// Downloads `want` bytes from the source on `port` through `socks` within `limit`, checking
/// that all of them arrived.
async fn fetch(
    side: &str,
    socks: SocketAddr,
    port: u16,
    want: u64,
    limit: Duration,
) -> Result<Timing> {
    let mut buffer = vec![0u8; READ_BUFFER];
    let started = Instant::now();
    let mut got = 0u64;
    let mut first_byte = None;
    let transfer = async {
        let mut stream = connect(side, socks, port).await?;
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    first_byte.get_or_insert_with(|| started.elapsed());
                    got += n as u64;
                }
                Err(source) => {
                    return Err(Error::Read {
                        side: side.to_owned(),
                        got,
                        source,
                    });
                }
            }
        }
    };
    let outcome = timeout(limit, transfer).await;
    let total = started.elapsed();
    match outcome {
        Err(_) => Err(Error::ReadTimeout {
            side: side.to_owned(),
            got,
            want,
            timeout: limit,
        }),
        Ok(Err(e)) => Err(e),
        Ok(Ok(())) => match first_byte {
            Some(first_byte) if got == want => Ok(Timing { first_byte, total }),
            _ => Err(Error::Short {
                side: side.to_owned(),
                got,
                want,
            }),
        },
    }
}

/// A fresh connection through the SOCKS proxy `socks` to 127.0.0.1:`port`.
async fn connect(side: &str, socks: SocketAddr, port: u16) -> Result<tokio::net::TcpStream> {
    socks_client::connect(socks, "127.0.0.1", port)
        .await
        .map_err(|source| Error::Socks {
            side: side.to_owned(),
            source,
        })
}

/// Sends `want` bytes to the sink on `port` through `socks`, ends the sending, and waits for the
/// sink's count of what arrived (which must be all of it); returns how long it took from the
/// SOCKS connect to the count.
async fn upload(side: &str, socks: SocketAddr, port: u16, want: u64) -> Result<Duration> {
    let block: Vec<u8> = (0..READ_BUFFER).map(|i| (i % 253) as u8).collect();
    let started = Instant::now();
    let mut sent = 0u64;
    let transfer = async {
        let mut stream = connect(side, socks, port).await?;
        let failed = |sent: u64| {
            move |source| Error::Write {
                side: side.to_owned(),
                sent,
                source,
            }
        };
        while sent < want {
            let n = usize::try_from(want - sent).map_or(block.len(), |l| l.min(block.len()));
            stream.write_all(&block[..n]).await.map_err(failed(sent))?;
            sent += n as u64;
        }
        stream.shutdown().await.map_err(failed(sent))?;
        let mut count = [0u8; 8];
        stream
            .read_exact(&mut count)
            .await
            .map_err(|source| Error::Read {
                side: side.to_owned(),
                got: 0,
                source,
            })?;
        Ok::<u64, Error>(u64::from_be_bytes(count))
    };
    let limit = download_limit(want);
    match timeout(limit, transfer).await {
        Err(_) => Err(Error::ReadTimeout {
            side: side.to_owned(),
            got: sent,
            want,
            timeout: limit,
        }),
        Ok(Err(e)) => Err(e),
        Ok(Ok(got)) if got == want => Ok(started.elapsed()),
        Ok(Ok(got)) => Err(Error::Short {
            side: side.to_owned(),
            got,
            want,
        }),
    }
}

/// Downloads `want` bytes; returns how long it took from the SOCKS connect to the end.
async fn download(side: &str, socks: SocketAddr, port: u16, want: u64) -> Result<Duration> {
    let timing = fetch(side, socks, port, want, download_limit(want)).await?;
    Ok(timing.total)
}

/// Opens a fresh SOCKS connection to the small source and returns the time to its first byte
/// (reading the rest, checking it all arrived).
async fn first_byte(side: &str, socks: SocketAddr, port: u16) -> Result<Duration> {
    let timing = fetch(side, socks, port, SMALL_BYTES, SMALL_TIMEOUT).await?;
    Ok(timing.first_byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<f64> = (1..=200).rev().map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 100.0);
        assert_eq!(percentile(&values, 99.0), 198.0);
        assert_eq!(percentile(&values, 100.0), 200.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn order_alternates_between_turns() {
        assert_eq!(alternating(3, 0), vec![0, 1, 2]);
        assert_eq!(alternating(3, 1), vec![2, 1, 0]);
    }

    #[test]
    fn cpu_per_gib_divides_by_the_bytes_moved() {
        let mut side = SideResult::new("x".to_owned(), None);
        assert!(side.cpu_s_per_gib().is_nan());
        side.bulk_cpu = Duration::from_millis(1500);
        side.bulk_bytes = 3 * GIB / 2;
        assert!((side.cpu_s_per_gib() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_page_head_must_say_200_and_the_page_length() {
        let ok =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {HTTP_BODY_BYTES}\r\nConnection: close");
        assert_eq!(parse_head(ok.as_bytes()), Ok(HTTP_BODY_BYTES));
        assert!(parse_head(b"HTTP/1.1 404 Not Found\r\nContent-Length: 1024").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK").is_err());
    }

    #[test]
    fn a_batch_counts_failures_and_keeps_the_first() {
        let mut batch = HttpBatch::default();
        batch.record(Ok(Duration::from_millis(2)));
        batch.fail("first".to_owned());
        batch.fail("second".to_owned());
        assert_eq!((batch.requests(), batch.failures), (3, 2));
        assert_eq!(batch.first_failure.as_deref(), Some("first"));
        assert_eq!(batch.percentile(99.0), Duration::from_millis(2));
    }
}
