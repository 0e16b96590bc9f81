//! Loopback endpoints and the SDK's host prefixes.
//!
//! `aws-sdk-mwaa` prepends a host prefix to every endpoint (`api.` for environment operations,
//! `env.` for tokens), even to a custom `endpoint_url`, and has no switch to turn that off.
//! `api.127.0.0.1` does not resolve, so for loopback endpoints (127.0.0.0/8, ::1, localhost)
//! the prefix is taken off again before the request is signed. Other endpoints are untouched.

use std::net::IpAddr;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Removes the SDK's host prefix from requests to loopback endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopbackHostPrefix;

impl Intercept for LoopbackHostPrefix {
    fn name(&self) -> &'static str {
        "LoopbackHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(prefix) = cfg.load::<EndpointPrefix>() else {
            return Ok(());
        };
        let request = context.request_mut();
        if let Some(uri) = strip_loopback_prefix(request.uri(), prefix.as_str()) {
            request.set_uri(uri.as_str())?;
        }
        Ok(())
    }
}

/// Whether `host` (as in a URL, IPv6 in brackets) is a loopback host.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `uri` without `prefix` in front of its host, when the host without it is loopback;
/// `None` when nothing is to change.
pub fn strip_loopback_prefix(uri: &str, prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return None;
    }
    let scheme_end = uri.find("://")? + 3;
    let rest = uri.get(scheme_end..)?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end)?;
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let unprefixed = host_port.strip_prefix(prefix)?;
    let host = if unprefixed.starts_with('[') {
        unprefixed.get(..=unprefixed.find(']')?)?
    } else {
        unprefixed.split(':').next()?
    };
    if !is_loopback_host(host) {
        return None;
    }
    Some(format!(
        "{}{userinfo}{unprefixed}{}",
        uri.get(..scheme_end)?,
        rest.get(authority_end..)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_removed_for_loopback_hosts() {
        assert_eq!(
            strip_loopback_prefix(
                "http://api.127.0.0.1:5000/environments?MaxResults=5",
                "api."
            )
            .as_deref(),
            Some("http://127.0.0.1:5000/environments?MaxResults=5")
        );
        assert_eq!(
            strip_loopback_prefix("http://env.127.9.8.7/webtoken/x", "env.").as_deref(),
            Some("http://127.9.8.7/webtoken/x")
        );
        assert_eq!(
            strip_loopback_prefix("http://api.localhost:80/environments", "api.").as_deref(),
            Some("http://localhost:80/environments")
        );
        assert_eq!(
            strip_loopback_prefix("http://api.[::1]:8080/environments", "api.").as_deref(),
            Some("http://[::1]:8080/environments")
        );
    }

    #[test]
    fn other_hosts_keep_their_prefix() {
        assert_eq!(
            strip_loopback_prefix(
                "https://api.airflow.eu-west-1.amazonaws.com/environments",
                "api."
            ),
            None
        );
        assert_eq!(
            strip_loopback_prefix("http://api.10.0.0.1:5000/environments", "api."),
            None
        );
        assert_eq!(
            strip_loopback_prefix("http://api.localhost.example.com/x", "api."),
            None
        );
        // No prefix applied (already plain): nothing to do.
        assert_eq!(
            strip_loopback_prefix("http://127.0.0.1:5000/environments", "api."),
            None
        );
        assert_eq!(strip_loopback_prefix("http://api.127.0.0.1/", ""), None);
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.255.0.9",
            "[::1]",
            "::1",
            "localhost",
            "LOCALHOST.",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["10.0.0.1", "[::2]", "localhost.example", "api.127.0.0.1"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
