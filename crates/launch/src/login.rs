//! The login URL of an MWAA web server: where a browser lands with a web login token.

/// The Airflow major version, from MWAA's `AirflowVersion` ("2.10.3", "3.0.6").
///
/// Unknown or unparsable versions count as 2: every MWAA environment before Airflow 3 is.
pub fn airflow_major(version: Option<&str>) -> u32 {
    version
        .and_then(|v| v.trim().trim_start_matches('v').split('.').next())
        .and_then(|major| major.parse().ok())
        .unwrap_or(2)
}

/// The path of MWAA's console sign-in page: Airflow 3 serves MWAA's plugins under
/// `/pluginsv2`.
pub fn console_sso_path(airflow_version: Option<&str>) -> &'static str {
    if airflow_major(airflow_version) >= 3 {
        "/pluginsv2/aws_mwaa/aws-console-sso"
    } else {
        "/aws_mwaa/aws-console-sso"
    }
}

/// `https://{host}{console_sso_path}?login=true#{token}`: the token travels in the fragment,
/// which the browser never sends to any server (the page's script posts it to the web server).
///
/// `host` is used as MWAA gives it (`WebServerHostname`): no domain is assumed.
pub fn login_url(host: &str, airflow_version: Option<&str>, token: &str) -> String {
    format!(
        "https://{host}{}?login=true#{token}",
        console_sso_path(airflow_version)
    )
}

/// Host and port of a web server host name as MWAA gives it (`name`, or `name:port`).
pub fn host_and_port(host: &str) -> (&str, u16) {
    if let Some((ip, after)) = host.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (ip, port.unwrap_or(443));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, port),
            Err(_) => (host, 443),
        },
        _ => (host, 443),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airflow_2_logs_in_through_aws_mwaa() {
        assert_eq!(
            login_url(
                "abc-vpce.c5.eu-west-1.airflow.amazonaws.com",
                Some("2.10.3"),
                "TOKEN"
            ),
            "https://abc-vpce.c5.eu-west-1.airflow.amazonaws.com/aws_mwaa/aws-console-sso?login=true#TOKEN"
        );
    }

    #[test]
    fn airflow_3_logs_in_through_pluginsv2() {
        assert_eq!(
            login_url("d1a2b3.eu-west-1.on.aws", Some("3.0.6"), "TOKEN"),
            "https://d1a2b3.eu-west-1.on.aws/pluginsv2/aws_mwaa/aws-console-sso?login=true#TOKEN"
        );
        assert_eq!(
            console_sso_path(Some("4.0.0")),
            "/pluginsv2/aws_mwaa/aws-console-sso"
        );
    }

    #[test]
    fn versions_are_read_by_their_major() {
        assert_eq!(airflow_major(Some("2.7.2")), 2);
        assert_eq!(airflow_major(Some("3.0.6")), 3);
        assert_eq!(airflow_major(Some(" v3.1")), 3);
        assert_eq!(airflow_major(Some("")), 2);
        assert_eq!(airflow_major(None), 2);
    }

    #[test]
    fn ports_default_to_https() {
        assert_eq!(host_and_port("a.on.aws"), ("a.on.aws", 443));
        assert_eq!(host_and_port("a.localhost:8443"), ("a.localhost", 8443));
        assert_eq!(host_and_port("[::1]:8443"), ("::1", 8443));
        assert_eq!(host_and_port("a.on.aws:x"), ("a.on.aws:x", 443));
    }
}
