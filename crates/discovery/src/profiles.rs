//! The shared AWS files: where they are, and the profiles in them (parsed by aws-config).

use std::path::PathBuf;

use aws_config::profile::{ProfileFileLoadError, ProfileSet};
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_runtime::env_config::property::PropertiesKey;
use aws_types::os_shim_internal::{Env, Fs};

use crate::{AwsFiles, Error, Profile, Result};

/// The Airgate key listing more regions to look in: `airgate_regions = us-east-1, eu-west-1`.
pub const AIRGATE_REGIONS_KEY: &str = "airgate_regions";

/// The shared AWS files of this user: `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` when
/// set, else `~/.aws/config` and `~/.aws/credentials` (computed per platform by `airgate-paths`).
pub fn aws_files() -> AwsFiles {
    let platform = airgate_paths::Platform::current();
    AwsFiles {
        config: platform.aws_config_file(),
        credentials: platform.aws_credentials_file(),
    }
}

/// `endpoint_url` of `service` in the `services` section `profile` names, with the service
/// spelled as the AWS CLI and the shared-config spec spell it (`secrets_manager`, `sso_oidc`):
/// the Rust SDK looks only for the hyphenated forms.
pub(crate) fn services_endpoint(set: &ProfileSet, profile: &str, service: &str) -> Option<String> {
    let section = set.get_profile(profile)?.get("services")?;
    let key = PropertiesKey::builder()
        .section_key("services")
        .section_name(section)
        .property_name(service)
        .sub_property_name("endpoint_url")
        .build()
        .ok()?;
    set.other_sections().get(&key).cloned()
}

/// One of the two shared files, when it exists, with the text that is used of it.
#[derive(Debug, Clone)]
pub(crate) struct SharedFile {
    pub kind: EnvConfigFileKind,
    pub path: PathBuf,
    /// The file's text; after [`read_lenient`], with broken sections blanked out.
    pub contents: Option<String>,
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
            contents: None,
        })
        .collect()
    }
}

/// A section of a shared file that could not be parsed, and was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokenSection {
    pub path: PathBuf,
    /// The profile (or `sso-session NAME`, ...) the section defines; `None` before any section.
    pub section: Option<String>,
    pub line: usize,
    pub reason: String,
}

impl BrokenSection {
    pub fn message(&self) -> String {
        let place = match &self.section {
            Some(section) => format!("Profile {section}"),
            None => "The start".to_owned(),
        };
        format!(
            "{place} in {} is broken at line {} ({}): fix that line; until then it is skipped, \
             the other profiles are listed.",
            self.path.display(),
            self.line,
            self.reason
        )
    }
}

/// Reads the existing files. A section the parser refuses is blanked out (its line count kept)
/// and reported, so every other profile of the file still loads; an unreadable file is
/// reported and skipped. The files on disk are never changed.
pub(crate) async fn read_lenient(
    files: &AwsFiles,
) -> (Vec<SharedFile>, Vec<BrokenSection>, Vec<Error>) {
    let mut usable = Vec::new();
    let mut broken = Vec::new();
    let mut unreadable = Vec::new();
    for mut file in files.existing() {
        let text = match tokio::fs::read(&file.path).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(source) => {
                unreadable.push(Error::ReadConfig {
                    path: file.path.clone(),
                    source,
                });
                continue;
            }
        };
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        // Each round removes one broken section; a file has at most as many as it has lines.
        let mut rounds = lines.len() + 1;
        loop {
            let contents = lines.join("\n");
            let one = EnvConfigFiles::builder()
                .with_contents(file.kind, contents.clone())
                .build();
            match aws_config::profile::load(&Fs::real(), &Env::real(), &one, None).await {
                Ok(_) => {
                    file.contents = Some(contents);
                    usable.push(file);
                    break;
                }
                Err(ProfileFileLoadError::ParseError { 0: parse, .. }) if rounds > 0 => {
                    rounds -= 1;
                    let detail = parse.to_string();
                    let Some(line) = line_of(&detail) else {
                        unreadable.push(Error::ParseConfig {
                            path: file.path.clone(),
                            detail: detail.replace("\n  ", " "),
                        });
                        break;
                    };
                    let (section, range) = section_at(&lines, line);
                    for blank in &mut lines[range] {
                        blank.clear();
                    }
                    broken.push(BrokenSection {
                        path: file.path.clone(),
                        section,
                        line,
                        reason: reason_of(&detail),
                    });
                }
                Err(err) => {
                    unreadable.push(load_error(std::slice::from_ref(&file), err));
                    break;
                }
            }
        }
    }
    (usable, broken, unreadable)
}

/// `N` in "... on line N: ...".
fn line_of(detail: &str) -> Option<usize> {
    let rest = &detail[detail.find("line ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What the parser said after the place ("Expected an '=' sign defining a property").
fn reason_of(detail: &str) -> String {
    detail
        .split_once(':')
        .map_or(detail, |(_, reason)| reason)
        .trim()
        .to_owned()
}

/// The section holding 1-based `line`: its name and the range of its lines (0-based).
fn section_at(lines: &[String], line: usize) -> (Option<String>, std::ops::Range<usize>) {
    let index = line.saturating_sub(1).min(lines.len().saturating_sub(1));
    let is_header = |l: &String| l.starts_with('[');
    let start = (0..=index).rev().find(|&i| is_header(&lines[i]));
    let end = (index + 1..lines.len())
        .find(|&i| is_header(&lines[i]))
        .unwrap_or(lines.len());
    match start {
        Some(start) => {
            let header = lines[start].trim().trim_start_matches('[');
            let name = header.split(']').next().unwrap_or(header).trim();
            let name = name.strip_prefix("profile ").unwrap_or(name).trim();
            (Some(name.to_owned()), start..end)
        }
        // Before any section: only the line itself.
        None => (None, index..index + 1),
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
            match &file.contents {
                Some(contents) => builder.with_contents(file.kind, contents.clone()),
                None => builder.with_file(file.kind, &file.path),
            }
        });
    Some(builder.build())
}

/// Parses `files` together, as the SDK does (credentials-file keys win).
/// The profiles of the shared files for a single call (broken sections left out, as
/// [`read_lenient`] does), with the files they came from.
pub(crate) async fn load_set(files: &AwsFiles) -> Result<(Vec<SharedFile>, ProfileSet)> {
    let (existing, _broken, _unreadable) = read_lenient(files).await;
    let set = parse(&existing).await?;
    Ok((existing, set))
}

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
    fn the_broken_section_is_found_around_its_line() {
        let lines: Vec<String> =
            "[profile a]\nregion = x\n\n[profile b]\nregion = y\nbroken\n[c]\nk = v"
                .lines()
                .map(str::to_owned)
                .collect();
        assert_eq!(section_at(&lines, 6), (Some("b".to_owned()), 3..6));
        assert_eq!(section_at(&lines, 8), (Some("c".to_owned()), 6..8));
        let before: Vec<String> = vec!["stray".into(), "[a]".into()];
        assert_eq!(section_at(&before, 1), (None, 0..1));
        assert_eq!(
            line_of("error parsing x on line 8:\n  Expected an '=' sign defining a property"),
            Some(8)
        );
        assert_eq!(
            reason_of("error parsing x on line 8:\n  Expected an '=' sign defining a property"),
            "Expected an '=' sign defining a property"
        );
    }
}
