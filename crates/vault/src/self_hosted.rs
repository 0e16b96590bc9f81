//! Self-hosted Airflow web servers added by hand: where they are and how to reach them.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The Airflow major version of a self-hosted web server: it decides where its login page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AirflowMajor {
    #[serde(rename = "2")]
    Two,
    #[serde(rename = "3")]
    Three,
}

/// A self-hosted Airflow web server (behind a load balancer, a bastion, or a VPN). Holds no
/// secret: Airflow's own login page asks for the user's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SelfHostedRecord {
    pub name: String,
    /// The web server's base URL, `http://` or `https://`, e.g. `https://airflow.internal:8443`.
    pub url: String,
    pub airflow: AirflowMajor,
    /// The saved bastion its route goes through; `None` is a direct route (load balancer, VPN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bastion: Option<String>,
}

/// The parts of a web server's base URL that a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub https: bool,
    /// Host name or address, without brackets for IPv6.
    pub host: String,
    pub port: u16,
    /// The path prefix Airflow is served under, without a trailing `/` (often empty).
    pub path: String,
}

impl SelfHostedRecord {
    /// Checks the name and the URL; returns the parsed URL.
    pub fn validate(&self) -> Result<BaseUrl> {
        let invalid = |problem: String| Err(Error::InvalidSelfHosted { problem });
        let name = &self.name;
        if name.trim().is_empty() {
            return invalid("its name is empty: give the web server a name".to_owned());
        }
        if name.chars().any(|c| c.is_control() || c == '/') {
            return invalid(format!(
                "its name {name:?} contains \"/\" or control characters"
            ));
        }
        if matches!(&self.bastion, Some(b) if b.trim().is_empty()) {
            return invalid(format!(
                "the bastion of {name:?} is empty: pick one, or none"
            ));
        }
        parse_base_url(&self.url).map_err(|problem| Error::InvalidSelfHosted {
            problem: format!("the URL of {name:?} {problem}"),
        })
    }
}

/// Parses `http[s]://host[:port][/path]`; the error completes "the URL of NAME ...".
fn parse_base_url(url: &str) -> std::result::Result<BaseUrl, String> {
    let url = url.trim();
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!(
            "{url:?} does not start with https:// or http://: enter the address you open in a \
             browser, e.g. https://airflow.internal"
        ));
    };
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?} contains spaces"));
    }
    if rest.contains(['?', '#']) {
        return Err(format!(
            "{url:?} has a query or fragment: give the base address only"
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(format!(
            "{url:?} holds a user name or password: Airflow's login page asks for those"
        ));
    }
    let default_port = if https { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (ip, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url:?} has an unclosed \"[\""))?;
        (ip, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let port = match port {
        None => default_port,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("{url:?} has an invalid port {port:?}")),
        },
    };
    Ok(BaseUrl {
        https,
        host: host.to_owned(),
        port,
        path: path.to_owned(),
    })
}

impl BaseUrl {
    /// `host:port` as a SOCKS CONNECT or a PAC rule names it (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL of `path` (starting with `/`) on this web server; the default port is left out.
    pub fn join(&self, path: &str) -> String {
        let (scheme, default_port) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        let authority = if self.port != default_port {
            self.authority()
        } else if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{authority}{}{path}", self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(url: &str) -> SelfHostedRecord {
        SelfHostedRecord {
            name: "analytics".into(),
            url: url.into(),
            airflow: AirflowMajor::Two,
            bastion: None,
        }
    }

    #[test]
    fn base_urls_give_host_port_and_prefix() {
        let url = record("https://airflow.internal")
            .validate()
            .expect("valid");
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("airflow.internal", 443, "")
        );
        assert_eq!(url.join("/login/"), "https://airflow.internal/login/");
        let url = record("http://10.0.3.7:8080/airflow/")
            .validate()
            .expect("valid");
        assert_eq!((url.port, url.path.as_str()), (8080, "/airflow"));
        assert_eq!(url.join("/login/"), "http://10.0.3.7:8080/airflow/login/");
        let url = record("https://[fd00::7]:8443").validate().expect("valid");
        assert_eq!(
            (url.host.as_str(), url.authority()),
            ("fd00::7", "[fd00::7]:8443".to_owned())
        );
    }

    #[test]
    fn bad_urls_and_names_say_what_is_wrong() {
        let problem = |r: SelfHostedRecord| r.validate().expect_err("refused").to_string();
        assert!(problem(record("airflow.internal")).contains("does not start with https://"));
        assert!(problem(record("https://:8080")).contains("has no host"));
        assert!(problem(record("https://a:99999")).contains("invalid port \"99999\""));
        assert!(problem(record("https://admin:pw@a")).contains("user name or password"));
        assert!(problem(record("https://a/home?x=1")).contains("query or fragment"));
        let mut slash = record("https://a");
        slash.name = "team/analytics".into();
        assert!(problem(slash).contains("contains \"/\""));
    }
}
