//! The shared AWS files: where they are, and the profiles in them (parsed by aws-config).

use std::path::{Path, PathBuf};

use aws_config::profile::{ProfileFileLoadError, ProfileSet};
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_types::os_shim_internal::{Env, Fs};

use crate::{AwsFiles, Error, Profile, Result};

/// The Airgate key listing more regions to look in: `airgate_regions = us-east-1, eu-west-1`.
pub const AIRGATE_REGIONS_KEY: &str = "airgate_regions";

/// The shared AWS files of this user: `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` when
/// set, else `~/.aws/config` and `~/.aws/credentials`.
pub fn aws_files() -> AwsFiles {
    let home = dirs::home_dir().unwrap_or_default();
    let pick = |var: &str, default: &str| match std::env::var_os(var) {
        Some(path) if !path.is_empty() => expand_home(Path::new(&path), &home),
        _ => home.join(".aws").join(default),
    };
    AwsFiles {
        config: pick("AWS_CONFIG_FILE", "config"),
        credentials: pick("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    }
}

fn expand_home(path: &Path, home: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => home.join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// One of the two shared files, when it exists.
#[derive(Debug, Clone)]
pub(crate) struct SharedFile {
    pub kind: EnvConfigFileKind,
    pub path: PathBuf,
}

impl AwsFiles {
    /// The files that exist (a missing file is simply empty, as for the AWS CLI).
    pub(crate) fn existing(&self) -> Vec<SharedFile> {
        [
            (EnvConfigFileKind::Config, &self.config),
            (EnvConfigFileKind::Credentials, &self.credentials),
        ]
        .into_iter()
        .filter(|(_, path)| path.exists())
        .map(|(kind, path)| SharedFile {
            kind,
            path: path.clone(),
        })
        .collect()
    }
}

/// The file set aws-config reads, or `None` when there is no file at all.
pub(crate) fn env_config_files(files: &[SharedFile]) -> Option<EnvConfigFiles> {
    if files.is_empty() {
        return None;
    }
    let builder = files
        .iter()
        .fold(EnvConfigFiles::builder(), |builder, file| {
            builder.with_file(file.kind, &file.path)
        });
    Some(builder.build())
}

/// Parses `files` together, as the SDK does (credentials-file keys win).
pub(crate) async fn parse(files: &[SharedFile]) -> Result<ProfileSet> {
    let Some(set) = env_config_files(files) else {
        return Ok(ProfileSet::default());
    };
    // The selected profile does not matter here: every profile is listed.
    aws_config::profile::load(&Fs::real(), &Env::real(), &set, Some("default".into()))
        .await
        .map_err(|err| load_error(files, err))
}

/// Parses one file alone, to tell which one is broken.
pub(crate) async fn check(file: &SharedFile) -> Result<()> {
    parse(std::slice::from_ref(file)).await.map(|_| ())
}

fn load_error(files: &[SharedFile], err: ProfileFileLoadError) -> Error {
    let path = match files {
        [one] => one.path.clone(),
        _ => files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect::<Vec<_>>()
            .join(" + ")
            .into(),
    };
    match err {
        ProfileFileLoadError::ParseError { 0: parse, .. } => Error::ParseConfig {
            path,
            detail: parse.to_string().replace("\n  ", " "),
        },
        other => {
            let cause = std::error::Error::source(&other)
                .map(ToString::to_string)
                .unwrap_or_else(|| other.to_string());
            Error::ReadConfig {
                path,
                source: std::io::Error::other(cause),
            }
        }
    }
}

/// Every profile of both files with the regions to look in, sorted by name.
pub async fn load_profiles(files: &AwsFiles) -> Result<Vec<Profile>> {
    let existing = files.existing();
    for file in &existing {
        check(file).await?;
    }
    Ok(profiles_of(&parse(&existing).await?))
}

pub(crate) fn profiles_of(set: &ProfileSet) -> Vec<Profile> {
    let mut profiles: Vec<Profile> = set
        .profiles()
        .filter_map(|name| set.get_profile(name))
        .map(|profile| Profile {
            name: profile.name().to_owned(),
            regions: regions(profile.get("region"), profile.get(AIRGATE_REGIONS_KEY)),
        })
        .collect();
    profiles.sort_by(|a, b| a.name.cmp(&b.name));
    profiles
}

/// `region` first, then the `airgate_regions` list (commas or spaces), without duplicates.
pub(crate) fn regions(region: Option<&str>, airgate_regions: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let listed = airgate_regions
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace());
    for region in region.into_iter().chain(listed) {
        let region = region.trim();
        if !region.is_empty() && !out.iter().any(|r| r == region) {
            out.push(region.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse_contents(config: &str, credentials: &str) -> Result<Vec<Profile>, String> {
        let set = EnvConfigFiles::builder()
            .with_contents(EnvConfigFileKind::Config, config)
            .with_contents(EnvConfigFileKind::Credentials, credentials)
            .build();
        aws_config::profile::load(&Fs::real(), &Env::real(), &set, None)
            .await
            .map(|set| profiles_of(&set))
            .map_err(|err| {
                std::error::Error::source(&err)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            })
    }

    #[test]
    fn regions_start_with_region_and_are_deduped() {
        assert_eq!(
            regions(
                Some("eu-west-1"),
                Some("us-east-1, eu-west-1,  ap-south-1 us-east-1")
            ),
            ["eu-west-1", "us-east-1", "ap-south-1"]
        );
        assert_eq!(regions(None, Some("us-east-1")), ["us-east-1"]);
        assert!(regions(None, None).is_empty());
        assert!(regions(Some(" "), Some(", ,")).is_empty());
    }

    #[tokio::test]
    async fn profiles_of_both_files_are_listed() {
        let profiles = parse_contents(
            "[default]\nregion = us-east-1\n\n\
             [profile prod]\nregion = eu-west-1\nairgate_regions = us-east-1, eu-west-1\n\n\
             [profile sso]\nsso_session = corp\n\n\
             [sso-session corp]\nsso_region = us-east-1\n",
            "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n\
             [ci]\naws_access_key_id = C\naws_secret_access_key = D\nregion = ap-south-1\n",
        )
        .await
        .expect("valid files");
        let listed: Vec<(&str, Vec<&str>)> = profiles
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.regions.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("ci", vec!["ap-south-1"]),
                ("default", vec!["us-east-1"]),
                ("prod", vec!["eu-west-1", "us-east-1"]),
                ("sso", vec![]),
            ]
        );
    }

    #[tokio::test]
    async fn a_broken_line_is_reported_with_its_number() {
        let err = parse_contents("[profile a]\nregion = us-east-1\nthis line is broken\n", "")
            .await
            .expect_err("broken file");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn home_is_expanded() {
        assert_eq!(
            expand_home(Path::new("~/x/config"), Path::new("/home/me")),
            PathBuf::from("/home/me/x/config")
        );
        assert_eq!(
            expand_home(Path::new("/etc/aws"), Path::new("/home/me")),
            PathBuf::from("/etc/aws")
        );
    }
}
