//! Shared AWS config and credentials files pointing at a test MWAA server.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// One profile to write: static keys, an optional region, extra config lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsProfile {
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: Option<String>,
    /// More `key = value` lines for the config file (`airgate_regions`, `credential_process`...).
    pub extra: Vec<(String, String)>,
    /// Write keys to the credentials file (false: only the config section is written).
    pub with_keys: bool,
}

impl AwsProfile {
    /// A profile with static keys `access_key_id` / `secret-<access_key_id>` in `region`.
    pub fn new(name: impl Into<String>, access_key_id: impl Into<String>, region: &str) -> Self {
        let access_key_id = access_key_id.into();
        Self {
            name: name.into(),
            secret_access_key: format!("secret-{access_key_id}"),
            access_key_id,
            region: Some(region.to_owned()),
            extra: Vec::new(),
            with_keys: true,
        }
    }

    pub fn without_region(mut self) -> Self {
        self.region = None;
        self
    }

    /// No static keys: credentials come from `extra` settings (e.g. `credential_process`).
    pub fn without_keys(mut self) -> Self {
        self.with_keys = false;
        self
    }

    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }
}

/// A pair of shared files written for tests and the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsProfileFiles {
    pub config: PathBuf,
    pub credentials: PathBuf,
}

impl AwsProfileFiles {
    /// Writes `dir/config` and `dir/credentials`: every profile gets `endpoint_url = endpoint`
    /// (when `endpoint` is given), its region and extra lines in the config file, its keys in
    /// the credentials file.
    pub fn write(dir: &Path, endpoint: Option<&str>, profiles: &[AwsProfile]) -> io::Result<Self> {
        let mut config = String::new();
        let mut credentials = String::new();
        for profile in profiles {
            if profile.name == "default" {
                config.push_str("[default]\n");
            } else {
                let _ = writeln!(config, "[profile {}]", profile.name);
            }
            if let Some(region) = &profile.region {
                let _ = writeln!(config, "region = {region}");
            }
            if let Some(endpoint) = endpoint {
                let _ = writeln!(config, "endpoint_url = {endpoint}");
            }
            for (key, value) in &profile.extra {
                let _ = writeln!(config, "{key} = {value}");
            }
            config.push('\n');
            if profile.with_keys {
                let _ = writeln!(credentials, "[{}]", profile.name);
                let _ = writeln!(credentials, "aws_access_key_id = {}", profile.access_key_id);
                let _ = writeln!(
                    credentials,
                    "aws_secret_access_key = {}\n",
                    profile.secret_access_key
                );
            }
        }
        std::fs::create_dir_all(dir)?;
        let files = Self {
            config: dir.join("config"),
            credentials: dir.join("credentials"),
        };
        std::fs::write(&files.config, config)?;
        std::fs::write(&files.credentials, credentials)?;
        Ok(files)
    }

    /// Environment for a child process using these files (and never the metadata service).
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_CONFIG_FILE", self.config.display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                self.credentials.display().to_string(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_config_and_credentials() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = AwsProfileFiles::write(
            dir.path(),
            Some("http://127.0.0.1:1234"),
            &[
                AwsProfile::new("default", "AKIA0", "us-east-1"),
                AwsProfile::new("prod", "AKIA1", "eu-west-1").set("airgate_regions", "us-east-1"),
            ],
        )
        .expect("files written");
        let config = std::fs::read_to_string(&files.config).expect("config");
        let credentials = std::fs::read_to_string(&files.credentials).expect("credentials");
        assert!(
            config.contains("[default]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:1234")
        );
        assert!(config.contains("[profile prod]"));
        assert!(config.contains("airgate_regions = us-east-1"));
        assert!(
            credentials.contains(
                "[prod]\naws_access_key_id = AKIA1\naws_secret_access_key = secret-AKIA1"
            )
        );
    }
}
