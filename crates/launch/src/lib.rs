//! Open: one call from an environment to its Airflow UI, logged in, in a browser of its own.
//!
//! [`open::open`] does the steps and reports each as it goes:
//! 1. **Route**: a public web server is reached directly; a private one through its tunnel
//!    (started, or reused when up), proven with a SOCKS CONNECT to the web server
//!    ([`probe::socks_connect`]) before anything else.
//! 2. **Token**: `CreateWebLoginToken` with the profile's credentials (it lives 60 s, so it is
//!    minted only once the route is up).
//! 3. **Browser**: the login URL ([`login::login_url`]) in a browser with a profile of its own
//!    per environment, proxied through the tunnel ([`browser`]). The browser is started on a
//!    one-shot loopback URL that redirects to the login URL ([`handoff`]), so the token never
//!    appears in the process list.
//!
//! A self-hosted Airflow ([`OpenTarget::from_self_hosted`]) takes the same route step, no token, and
//! lands on Airflow's own login page.
//!
//! [`pac`] serves a proxy auto-config file on loopback that sends each running private
//! environment's host to its tunnel, for browsers Airgate does not start.

pub mod airflow_conn;
pub mod browser;
pub mod connections;
mod error;
pub mod handoff;
mod http;
pub mod inventory;
pub mod keys;
pub mod login;
pub mod open;
pub mod pac;
pub mod ports;
pub mod probe;
pub mod settings;
pub mod shortcuts;
pub mod ssh_config;

pub use browser::{Browser, BrowserKind, Browsers};
pub use error::{Error, Result};
pub use open::{
    Login, OpenProgress, OpenStep, OpenTarget, Opened, StepState, open, self_hosted_id,
    self_hosted_name,
};
pub use settings::OpenSettings;
