//! Real peers that tests and the sandbox run against: an MWAA REST server, an OpenSSH bastion
//! (on loopback or inside a private network namespace), a private Airflow-like web server, and
//! a Secret Service (gnome-keyring on its own D-Bus session), moto's Secrets Manager, IAM
//! Identity Center (SSO OIDC and the portal, [`sso`]), and what they share: web login tokens
//! ([`web_token`]) and the sandbox's own TLS certificate ([`tls`]).

pub mod airflow_web;
pub mod bastion;
pub mod moto;
pub mod mwaa;
pub mod netns;
pub mod secret_service;
mod served;
pub mod socks_client;
pub mod sso;
pub mod tls;
pub mod web_token;
