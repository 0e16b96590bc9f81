//! Benchmarks that compare Airgate with a peer and print ratios.
//!
//! The tunnel benchmark downloads from a local source through SOCKS5, once through Airgate's
//! tunnel and once through OpenSSH's `ssh -N -D` (its default cipher, and AES-GCM), all through
//! the same real OpenSSH bastion on loopback. Rounds alternate the order of the sides; the
//! report gives the median throughput of each side, the time to first byte of a fresh SOCKS
//! connection, and Airgate's ratio to each OpenSSH run.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use airgate_peers::bastion::Bastion;
use airgate_peers::socks_client;
use airgate_tunnel::{BastionSpec, TunnelSpec, Tunnels};
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

mod error;
pub mod negotiated;
pub mod openssh;
pub mod source;

pub use error::{Error, Result};

use crate::negotiated::KexCapture;
use crate::openssh::{OpenSshSocks, SshTarget};
use crate::source::Source;

pub const MIB: u64 = 1 << 20;
/// The cipher of the second OpenSSH run (the first uses OpenSSH's default order).
pub const AES_GCM: &str = "aes128-gcm@openssh.com";
/// What a small request returns, for the time to first byte.
pub const SMALL_BYTES: u64 = 1024;
/// How long Airgate may take to open its tunnel.
pub const TUNNEL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one small request may take, from connect to end of stream.
pub const SMALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The warm-up download per side is at most this large.
const WARM_UP_BYTES: u64 = 32 * MIB;
/// Read buffer per download.
const READ_BUFFER: usize = 256 * 1024;

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchConfig {
    /// MiB per download.
    pub mib: u64,
    /// Measured downloads per side.
    pub rounds: u32,
    /// Small requests per side for the time to first byte.
    pub ttfb_requests: u32,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            mib: 256,
            rounds: 5,
            ttfb_requests: 50,
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
    /// Time from the SOCKS connect to the first byte of each small request.
    pub ttfb: Vec<Duration>,
}

impl SideResult {
    fn new(name: String, cipher: Option<String>) -> SideResult {
        SideResult {
            name,
            cipher,
            mib_per_s: Vec::new(),
            ttfb: Vec::new(),
        }
    }

    pub fn median_mib_per_s(&self) -> f64 {
        median(&self.mib_per_s)
    }

    pub fn median_ttfb(&self) -> Duration {
        let secs: Vec<f64> = self.ttfb.iter().map(Duration::as_secs_f64).collect();
        Duration::from_secs_f64(median(&secs).max(0.0))
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
    /// OpenSSH's default cipher, then `-c aes128-gcm@openssh.com`.
    pub openssh: Vec<SideResult>,
    pub airgate: SideResult,
}

impl Report {
    /// The report as a small plain-text table.
    pub fn table(&self) -> String {
        let c = &self.config;
        let mut out = String::new();
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
            "throughput: median of {} rounds (order alternating); first byte: median of {} fresh \
             connections ({SMALL_BYTES} B each)\n",
            c.rounds, c.ttfb_requests
        );
        let sides: Vec<&SideResult> = self.openssh.iter().chain([&self.airgate]).collect();
        let name_width = sides.iter().map(|s| s.name.len()).max().unwrap_or(0).max(4);
        let cipher_width = sides
            .iter()
            .map(|s| cipher_name(s).len())
            .max()
            .unwrap_or(0)
            .max(18);
        let _ = writeln!(
            out,
            "{:name_width$}  {:cipher_width$}  {:>8}  {:>13}  {:>10}  {:>15}",
            "side", "negotiated cipher", "MiB/s", "min-max MiB/s", "first byte", "min-max ms"
        );
        for side in &sides {
            let (lo, hi) = min_max(&side.mib_per_s);
            let ttfb_ms: Vec<f64> = side.ttfb.iter().map(|d| d.as_secs_f64() * 1e3).collect();
            let (first_lo, first_hi) = min_max(&ttfb_ms);
            let _ = writeln!(
                out,
                "{:name_width$}  {:cipher_width$}  {:>8.1}  {:>13}  {:>10}  {:>15}",
                side.name,
                cipher_name(side),
                side.median_mib_per_s(),
                format!("{lo:.0}-{hi:.0}"),
                format_ms(side.median_ttfb()),
                format!("{first_lo:.2}-{first_hi:.2}"),
            );
        }
        out.push('\n');
        let ratio_width =
            self.openssh.iter().map(|s| s.name.len()).max().unwrap_or(0) + "Airgate / ".len();
        for peer in &self.openssh {
            let _ = writeln!(
                out,
                "{:ratio_width$}  throughput {:.2}x  first byte {:.2}x",
                format!("Airgate / {}", peer.name),
                ratio(self.airgate.median_mib_per_s(), peer.median_mib_per_s()),
                ratio(
                    self.airgate.median_ttfb().as_secs_f64(),
                    peer.median_ttfb().as_secs_f64()
                ),
            );
        }
        out.push_str("(throughput: higher is better for Airgate; first byte: lower is better)\n");
        out
    }
}

fn cipher_name(side: &SideResult) -> &str {
    side.cipher.as_deref().unwrap_or("unknown")
}

fn format_ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
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

/// One side under test: its SOCKS proxy and what was measured.
struct Side {
    socks: SocketAddr,
    result: SideResult,
}

/// Runs the whole benchmark: starts the bastion, the sources, both `ssh -D` proxies and
/// Airgate's tunnel, measures, and stops everything again (also on error).
pub async fn run(config: &BenchConfig) -> Result<Report> {
    let capture = KexCapture::install();
    let bastion = tokio::task::spawn_blocking(Bastion::start)
        .await?
        .map_err(Error::Bastion)?;
    let known_hosts = bastion.dir().join("known_hosts");
    bastion
        .write_known_hosts(&known_hosts)
        .map_err(Error::Bastion)?;
    let bulk = Source::start(config.mib * MIB).map_err(Error::Source)?;
    let small = Source::start(SMALL_BYTES).map_err(Error::Source)?;
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
            result: SideResult::new(openssh::label(cipher), negotiated),
        });
        proxies.push(proxy);
    }

    let tunnels = Tunnels::new();
    let spec = TunnelSpec {
        bastion: BastionSpec {
            host: bastion.host().to_owned(),
            port: bastion.port(),
            user: bastion.user().to_owned(),
            key: airgate_tunnel::KeySource::File(bastion.user_key().to_owned()),
            keepalive: airgate_tunnel::Keepalive::default(),
            trust_once: None,
            jump: Vec::new(),
        },
        known_hosts: vec![known_hosts.clone()],
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        forward: None,
    };
    let connected = timeout(TUNNEL_TIMEOUT, tunnels.connect("bench", spec)).await;
    let airgate_cipher = capture.and_then(|c| {
        c.stop();
        c.cipher()
    });
    let port = match connected {
        Ok(Ok(port)) => port,
        Ok(Err(e)) => {
            tunnels.shutdown().await;
            return Err(e.into());
        }
        Err(_) => {
            tunnels.shutdown().await;
            return Err(Error::TunnelTimeout(TUNNEL_TIMEOUT));
        }
    };
    sides.push(Side {
        socks: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        result: SideResult::new("Airgate (russh)".to_owned(), airgate_cipher),
    });

    let measured = measure(config, &mut sides, bulk.addr().port(), small.addr().port()).await;
    tunnels.shutdown().await;
    drop(proxies);
    drop(bastion);
    measured?;

    let airgate = sides.pop().map(|s| s.result);
    Ok(Report {
        config: config.clone(),
        openssh_version,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        release_build: !cfg!(debug_assertions),
        openssh: sides.into_iter().map(|s| s.result).collect(),
        airgate: airgate.unwrap_or_else(|| SideResult::new("Airgate (russh)".to_owned(), None)),
    })
}

async fn measure(
    config: &BenchConfig,
    sides: &mut [Side],
    bulk_port: u16,
    small_port: u16,
) -> Result<()> {
    let want = config.mib * MIB;
    for side in sides.iter() {
        let warm_up = want.min(WARM_UP_BYTES);
        let source = Source::start(warm_up).map_err(Error::Source)?;
        download(&side.result.name, side.socks, source.addr().port(), warm_up).await?;
    }
    for round in 0..config.rounds {
        for i in alternating(sides.len(), round) {
            let side = &mut sides[i];
            let took = download(&side.result.name, side.socks, bulk_port, want).await?;
            let mib = want as f64 / MIB as f64;
            side.result.mib_per_s.push(mib / took.as_secs_f64());
        }
    }
    for request in 0..config.ttfb_requests {
        for i in alternating(sides.len(), request) {
            let side = &mut sides[i];
            let ttfb = first_byte(&side.result.name, side.socks, small_port).await?;
            side.result.ttfb.push(ttfb);
        }
    }
    Ok(())
}

/// `0..n` on even turns, reversed on odd ones: no side always goes first.
fn alternating(n: usize, turn: u32) -> Vec<usize> {
    if turn.is_multiple_of(2) {
        (0..n).collect()
    } else {
        (0..n).rev().collect()
    }
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
        let mut stream = socks_client::connect(socks, "127.0.0.1", port)
            .await
            .map_err(|source| Error::Socks {
                side: side.to_owned(),
                source,
            })?;
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
    fn order_alternates_between_turns() {
        assert_eq!(alternating(3, 0), vec![0, 1, 2]);
        assert_eq!(alternating(3, 1), vec![2, 1, 0]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_run_measures_every_side_through_the_real_bastion() {
        let config = BenchConfig {
            mib: 4,
            rounds: 2,
            ttfb_requests: 3,
        };
        let report = run(&config).await.expect("benchmark run");

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
            assert_eq!(side.ttfb.len(), 3, "{}", side.name);
        }
        assert_eq!(report.openssh[1].cipher.as_deref(), Some(AES_GCM));
        assert!(report.openssh[0].cipher.is_some(), "{report:?}");
        // Airgate prefers AES-GCM, which this sshd offers.
        assert_eq!(report.airgate.cipher.as_deref(), Some(AES_GCM));
        assert!(report.openssh_version.starts_with("OpenSSH_"));

        let table = report.table();
        assert!(table.contains("Airgate / OpenSSH ssh -D "), "{table}");
        assert!(table.contains("throughput"), "{table}");
    }
}
