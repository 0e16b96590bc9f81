//! The Open flow: route, token, browser, each step reported as it starts and ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use airgate_discovery::{AccessMode, AwsFiles, Environment};
use airgate_tunnel::{TunnelSpec, TunnelState, Tunnels};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::browser::{Browser, Browsers, LaunchRequest, profile_dir_name};
use crate::login::{host_and_port, login_url};
use crate::probe::socks_connect;
use crate::{Error, Result};

/// How long Open waits for a tunnel another Open (or Connect) is already starting.
const TUNNEL_WAIT: Duration = Duration::from_secs(60);

/// The steps of Open, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum OpenStep {
    /// Reach the web server: directly, or through the environment's tunnel.
    Route,
    /// Mint the web login token.
    Token,
    /// Start (or reuse) the environment's browser on the login URL.
    Browser,
}

/// Where a step is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum StepState {
    Running,
    Done { detail: String },
    Failed { reason: String },
}

/// One step of the Open of environment `id` (`profile/region/name`) changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct OpenProgress {
    pub id: String,
    pub step: OpenStep,
    pub state: StepState,
}

/// The environment to open: an MWAA environment as discovery saw it, or a self-hosted Airflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTarget {
    /// The tunnel id and browser profile key: `profile/region/name` for MWAA,
    /// [`self_hosted_id`] for a self-hosted Airflow.
    pub id: String,
    pub name: String,
    pub login: Login,
    /// `host` or `host:port` (443 when none).
    pub webserver_host: Option<String>,
    /// Reached through a bastion (MWAA: a `-vpce` web server).
    pub private: bool,
    pub security_group_ids: Vec<String>,
}

/// How the browser gets logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// A web login token minted with the profile's credentials, on MWAA's console sign-in page.
    Mwaa {
        profile: String,
        region: String,
        status: String,
        airflow_version: Option<String>,
    },
    /// A self-hosted Airflow: the browser lands on its own login page, `url`.
    OwnPage { url: String },
}

/// The tunnel id and browser profile key of the self-hosted Airflow `name`. MWAA ids have
/// two `/` at least (`profile/region/name`), and self-hosted names none, so they never clash.
pub fn self_hosted_id(name: &str) -> String {
    format!("{SELF_HOSTED}/{name}")
}

/// The name in a [`self_hosted_id`], `None` for any other id.
pub fn self_hosted_name(id: &str) -> Option<&str> {
    id.strip_prefix(SELF_HOSTED)?
        .strip_prefix('/')
        .filter(|name| !name.contains('/'))
}

const SELF_HOSTED: &str = "self-hosted";

impl From<&Environment> for OpenTarget {
    fn from(env: &Environment) -> Self {
        Self {
            id: env.id(),
            name: env.name.clone(),
            login: Login::Mwaa {
                profile: env.profile.clone(),
                region: env.region.clone(),
                status: env.status.clone(),
                airflow_version: env.airflow_version.clone(),
            },
            webserver_host: env.webserver_host.clone(),
            private: env.access == AccessMode::PrivateVpce,
            security_group_ids: env.security_group_ids.clone(),
        }
    }
}

impl OpenTarget {
    /// A self-hosted Airflow at `url` (checked), private when a bastion is its route. Its
    /// landing page is Airflow's own login page: `/login/` on Airflow 2; on Airflow 3 the UI
    /// itself, which sends a signed-out user to its auth manager's login page.
    pub fn from_self_hosted(
        record: &airgate_vault::SelfHostedRecord,
    ) -> std::result::Result<Self, airgate_vault::Error> {
        let base = record.validate()?;
        let landing = match record.airflow {
            airgate_vault::AirflowMajor::Two => "/login/",
            airgate_vault::AirflowMajor::Three => "/",
        };
        Ok(Self {
            id: self_hosted_id(&record.name),
            name: record.name.clone(),
            login: Login::OwnPage {
                url: base.join(landing),
            },
            webserver_host: Some(base.authority()),
            private: record.bastion.is_some(),
            security_group_ids: Vec::new(),
        })
    }
}

/// What to do with the login URL.
#[derive(Debug, Clone)]
pub enum Launch {
    /// Start `browser` with a profile of its own under `profiles`.
    Browser {
        browser: Browser,
        profiles: PathBuf,
        extra_args: Vec<String>,
    },
    /// Load the URL in a window of the desktop app itself, with a data store of its own under
    /// `profiles`.
    Window {
        windows: std::sync::Arc<dyn AppWindows>,
        profiles: PathBuf,
        /// Accepted from the web server beyond the system's trust (`window_certificates`).
        certificates: Vec<PathBuf>,
    },
    /// Hand the URL back to the caller (`airgate open --print-url`).
    PrintUrl,
}

/// Windows of the desktop app that show an environment's web server (the shell implements it:
/// the core never depends on Tauri).
pub trait AppWindows: Send + Sync + std::fmt::Debug {
    /// Shows `request.url` in the environment's window (created, or reused when its route is
    /// the same), resolving once the window started loading it, or with why not.
    fn open(
        &self,
        request: WindowRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = std::result::Result<WindowOpened, String>> + Send>,
    >;
}

/// What an environment's window shows and how it reaches it.
pub struct WindowRequest {
    /// The environment's id (`profile/region/name`, or a self-hosted one).
    pub id: String,
    pub name: String,
    /// The login URL: it may hold a token, so it is never printed ([`std::fmt::Debug`] leaves it out).
    pub url: String,
    /// The web server's host, for checking where the window went.
    pub host: String,
    /// The tunnel's SOCKS port on 127.0.0.1, when the route is a tunnel.
    pub socks_port: Option<u16>,
    /// The window's own data store (cookies, cache).
    pub data_dir: PathBuf,
    /// PEM certificates accepted from `host` beyond the system's trust.
    pub certificates: Vec<PathBuf>,
}

impl std::fmt::Debug for WindowRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowRequest")
            .field("id", &self.id)
            .field("host", &self.host)
            .field("socks_port", &self.socks_port)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// What [`AppWindows::open`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowOpened {
    /// The environment's window was already open and showed the URL again.
    pub reused: bool,
}

/// One Open.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    pub target: OpenTarget,
    /// How to start the tunnel of a private environment when it is not up.
    pub tunnel: Option<TunnelSpec>,
    pub aws: AwsFiles,
    pub launch: Launch,
    /// Use the tunnel even when the web server answers directly.
    pub force_tunnel: bool,
}

/// What an Open did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The tunnel's SOCKS port, when the route is a tunnel.
    pub socks_port: Option<u16>,
    /// Whether the tunnel was already up.
    pub reused_tunnel: bool,
    /// The browser started, when one was.
    pub browser: Option<String>,
    /// The login URL, with its token, only for [`Launch::PrintUrl`].
    pub url: Option<String>,
    /// From the call to the browser's first request for the login URL (or the URL's return).
    pub elapsed: Duration,
}

/// Opens the environment: route, token, browser. Each step is reported to `report` as it
/// starts and as it ends; the first failure stops the rest and is returned too.
pub async fn open(
    request: OpenRequest,
    tunnels: &Tunnels,
    browsers: &Browsers,
    report: &(dyn Fn(OpenProgress) + Send + Sync),
) -> Result<Opened> {
    let started = Instant::now();
    let id = request.target.id.clone();
    let step = |step: OpenStep, state: StepState| {
        report(OpenProgress {
            id: id.clone(),
            step,
            state,
        });
    };
    let outcome = run(&request, tunnels, browsers, &step, started).await;
    if let Err(err) = &outcome {
        tracing::warn!(env = %request.target.name, step = ?err.step(), cause = %err, "open failed");
        step(
            err.step(),
            StepState::Failed {
                reason: err.to_string(),
            },
        );
    }
    outcome
}

async fn run(
    request: &OpenRequest,
    tunnels: &Tunnels,
    browsers: &Browsers,
    step: &(dyn Fn(OpenStep, StepState) + Send + Sync),
    started: Instant,
) -> Result<Opened> {
    let target = &request.target;
    step(OpenStep::Route, StepState::Running);
    let status = match &target.login {
        Login::Mwaa { status, .. } => status.as_str(),
        Login::OwnPage { .. } => "self-hosted",
    };
    if matches!(&target.login, Login::Mwaa { status, .. } if status != "AVAILABLE") {
        return Err(Error::NotAvailable {
            name: target.name.clone(),
            status: status.to_owned(),
        });
    }
    let host = target
        .webserver_host
        .clone()
        .ok_or_else(|| Error::NoWebserver {
            name: target.name.clone(),
            status: status.to_owned(),
        })?;

    let (web_host, web_port) = host_and_port(&host);
    let tunnel_up = matches!(
        tunnels.state(&target.id).await,
        Some(TunnelState::Connected { .. })
    );
    let direct = target.private
        && !request.force_tunnel
        && !tunnel_up
        && crate::probe::reachable_directly(web_host, web_port).await;
    let (socks_port, reused_tunnel) = if direct {
        step(
            OpenStep::Route,
            StepState::Done {
                detail: "Reachable directly (a VPN, or inside the VPC): no tunnel needed"
                    .to_owned(),
            },
        );
        (None, false)
    } else if target.private {
        let (port, reused) = ensure_tunnel(tunnels, target, request.tunnel.clone()).await?;
        socks_connect(port, web_host, web_port)
            .await
            .map_err(|err| Error::Route {
                name: target.name.clone(),
                host: web_host.to_owned(),
                port: web_port,
                reason: err.to_string(),
                security_groups: target.security_group_ids.clone(),
            })?;
        let how = if reused {
            "tunnel already up"
        } else {
            "tunnel started"
        };
        step(
            OpenStep::Route,
            StepState::Done {
                detail: format!("Through the bastion ({how}, SOCKS port {port})"),
            },
        );
        (Some(port), reused)
    } else {
        let detail = match target.login {
            Login::Mwaa { .. } => "Public web server: no tunnel needed",
            Login::OwnPage { .. } => "Direct: no tunnel needed",
        };
        step(
            OpenStep::Route,
            StepState::Done {
                detail: detail.to_owned(),
            },
        );
        (None, false)
    };

    step(OpenStep::Token, StepState::Running);
    let url = match &target.login {
        Login::Mwaa {
            profile,
            region,
            airflow_version,
            ..
        } => {
            let login = airgate_discovery::create_web_login_token(
                &request.aws,
                profile,
                region,
                &target.name,
            )
            .await?;
            let detail = match &login.airflow_identity {
                Some(who) => format!("Logged in as {who}"),
                None => "Login token ready".to_owned(),
            };
            step(OpenStep::Token, StepState::Done { detail });
            login_url(
                &login.hostname,
                airflow_version.as_deref(),
                login.token.expose(),
            )
        }
        Login::OwnPage { url } => {
            step(
                OpenStep::Token,
                StepState::Done {
                    detail: "No token: Airflow's own login page asks who you are".to_owned(),
                },
            );
            url.clone()
        }
    };

    step(OpenStep::Browser, StepState::Running);
    match &request.launch {
        Launch::PrintUrl => {
            step(
                OpenStep::Browser,
                StepState::Done {
                    detail: "Login URL printed".to_owned(),
                },
            );
            Ok(Opened {
                socks_port,
                reused_tunnel,
                browser: None,
                url: Some(url),
                elapsed: started.elapsed(),
            })
        }
        Launch::Window {
            windows,
            profiles,
            certificates,
        } => {
            let opened = windows
                .open(WindowRequest {
                    id: target.id.clone(),
                    name: target.name.clone(),
                    url,
                    host: web_host.to_owned(),
                    socks_port,
                    data_dir: profiles.join(profile_dir_name(&target.id)),
                    certificates: certificates.clone(),
                })
                .await
                .map_err(Error::Window)?;
            let elapsed = started.elapsed();
            let how = if opened.reused {
                "its window again"
            } else {
                "a window of its own"
            };
            step(
                OpenStep::Browser,
                StepState::Done {
                    detail: format!("Airgate opened {how}"),
                },
            );
            tracing::info!(env = %target.name, elapsed_ms = elapsed.as_millis() as u64, reused_tunnel, "opened in a window");
            Ok(Opened {
                socks_port,
                reused_tunnel,
                browser: Some("Airgate window".to_owned()),
                url: None,
                elapsed,
            })
        }
        Launch::Browser {
            browser,
            profiles,
            extra_args,
        } => {
            let profile_dir = profiles.join(profile_dir_name(&target.id));
            let reused_window = browsers.is_running_with(&profile_dir, socks_port);
            let handoff = crate::handoff::one_shot_redirect(url).await?;
            let launched = browsers
                .launch(
                    browser,
                    &LaunchRequest {
                        url: &handoff.url,
                        socks_port,
                        profile_dir,
                        extra_args,
                    },
                )
                .await?;
            wait_for_browser(browser, launched, handoff).await?;
            let elapsed = started.elapsed();
            let how = if reused_window {
                "its window again"
            } else {
                "a window of its own"
            };
            step(
                OpenStep::Browser,
                StepState::Done {
                    detail: format!("{} opened {how}", browser.name),
                },
            );
            tracing::info!(env = %target.name, elapsed_ms = elapsed.as_millis() as u64, reused_tunnel, "opened");
            Ok(Opened {
                socks_port,
                reused_tunnel,
                browser: Some(browser.name.clone()),
                url: None,
                elapsed,
            })
        }
    }
}

/// Waits until the browser fetched the login URL (its first request), or says why it did not.
async fn wait_for_browser(
    browser: &Browser,
    mut launched: crate::browser::Launched,
    handoff: crate::handoff::Handoff,
) -> Result<()> {
    let silent = |launched: &crate::browser::Launched| Error::BrowserSilent {
        browser: browser.name.clone(),
        secs: crate::handoff::HANDOFF_TIMEOUT.as_secs(),
        log: launched.log_tail(),
    };
    let served = handoff.served();
    tokio::pin!(served);
    tokio::select! {
        done = &mut served => return if done { Ok(()) } else { Err(silent(&launched)) },
        status = &mut launched.exited => {
            if let Ok(Some(status)) = status
                && !status.success()
            {
                return Err(Error::BrowserEnded {
                    browser: browser.name.clone(),
                    status: status.to_string(),
                    log: launched.log_tail(),
                });
            }
        }
    }
    // It ended well (it handed the URL to its running window): only the handoff is left.
    if served.await {
        Ok(())
    } else {
        Err(silent(&launched))
    }
}

/// The SOCKS port of the environment's tunnel: the running one, the one being started, or a
/// new one from `spec`. Returns whether it was already up.
async fn ensure_tunnel(
    tunnels: &Tunnels,
    target: &OpenTarget,
    spec: Option<TunnelSpec>,
) -> Result<(u16, bool)> {
    let mut events = tunnels.subscribe();
    match tunnels.state(&target.id).await {
        Some(TunnelState::Connected { port }) => return Ok((port, true)),
        // Being started, or coming back after a loss: wait for it.
        Some(TunnelState::Connecting | TunnelState::Reconnecting { .. }) => {}
        _ => {
            let spec = spec.ok_or_else(|| Error::NeedsBastion {
                name: target.name.clone(),
            })?;
            match tunnels.connect(&target.id, spec).await {
                Ok(port) => return Ok((port, false)),
                Err(airgate_tunnel::Error::AlreadyOpen { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    // Someone else is starting it: wait for the outcome.
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) if event.id == target.id => match event.state {
                    TunnelState::Connected { port } => return Ok((port, false)),
                    TunnelState::Connecting | TunnelState::Reconnecting { .. } => {}
                    TunnelState::Failed { reason } => {
                        return Err(Error::TunnelStopped {
                            name: target.name.clone(),
                            reason,
                        });
                    }
                    TunnelState::Disconnected => {
                        return Err(Error::TunnelStopped {
                            name: target.name.clone(),
                            reason: "it was disconnected".to_owned(),
                        });
                    }
                },
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    if let Some(TunnelState::Connected { port }) = tunnels.state(&target.id).await {
                        return Ok((port, false));
                    }
                }
                Err(RecvError::Closed) => {
                    return Err(Error::Tunnel(airgate_tunnel::Error::Stopped));
                }
            }
        }
    };
    tokio::time::timeout(TUNNEL_WAIT, wait)
        .await
        .unwrap_or_else(|_| {
            Err(Error::TunnelStopped {
                name: target.name.clone(),
                reason: format!("it was not up within {} s", TUNNEL_WAIT.as_secs()),
            })
        })
}

#[cfg(test)]
mod tests {
    use airgate_vault::{AirflowMajor, SelfHostedRecord};

    use super::*;

    fn record(url: &str, airflow: AirflowMajor, bastion: Option<&str>) -> SelfHostedRecord {
        SelfHostedRecord {
            name: "analytics".into(),
            url: url.into(),
            airflow,
            bastion: bastion.map(str::to_owned),
        }
    }

    #[test]
    fn self_hosted_ids_never_clash_with_mwaa_ids() {
        assert_eq!(self_hosted_id("analytics"), "self-hosted/analytics");
        assert_eq!(self_hosted_name("self-hosted/analytics"), Some("analytics"));
        // A profile called "self-hosted" names MWAA environments as profile/region/name.
        assert_eq!(self_hosted_name("self-hosted/eu-west-1/analytics"), None);
        assert_eq!(self_hosted_name("prod/eu-west-1/analytics"), None);
    }

    #[test]
    fn self_hosted_targets_land_on_airflows_own_login_page() {
        let two = OpenTarget::from_self_hosted(&record(
            "https://airflow.internal:8443/",
            AirflowMajor::Two,
            Some("jump"),
        ))
        .expect("valid");
        assert_eq!(
            two.login,
            Login::OwnPage {
                url: "https://airflow.internal:8443/login/".into()
            }
        );
        assert_eq!(two.webserver_host.as_deref(), Some("airflow.internal:8443"));
        assert!(two.private, "a bastion is its route");
        let three = OpenTarget::from_self_hosted(&record(
            "http://10.0.3.7/airflow",
            AirflowMajor::Three,
            None,
        ))
        .expect("valid");
        assert_eq!(
            three.login,
            Login::OwnPage {
                url: "http://10.0.3.7/airflow/".into()
            }
        );
        assert_eq!(three.webserver_host.as_deref(), Some("10.0.3.7:80"));
        assert!(!three.private);
    }
}
