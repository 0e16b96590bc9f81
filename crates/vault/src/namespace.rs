use std::path::{Path, PathBuf};

/// The keyring namespace (the Secret Service `service` attribute, the macOS/Windows service
/// name) for an app identifier:
/// - debug builds append `-dev`, so a development build never reads or overwrites the records
///   and secrets of the installed app;
/// - a custom data directory (a sandbox) appends `-` and 8 hex digits of a stable hash (FNV-1a)
///   of its absolute path, so each sandbox has its own namespace.
pub fn namespace(identifier: &str, custom_data_dir: Option<&Path>) -> String {
    let mut namespace = identifier.to_owned();
    if cfg!(debug_assertions) {
        namespace.push_str("-dev");
    }
    if let Some(dir) = custom_data_dir {
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        // Rebuilt from its components: no trailing separator, no `.` components.
        let normalized: PathBuf = absolute.components().collect();
        let hash = fnv1a64(normalized.as_os_str().as_encoded_bytes());
        let short = (hash >> 32) ^ (hash & 0xffff_ffff);
        namespace.push_str(&format!("-{short:08x}"));
    }
    namespace
}

/// FNV-1a, 64 bits: fixed by its definition, unlike `std`'s hashers, so namespaces stay stable
/// across Rust releases.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = if cfg!(debug_assertions) { "-dev" } else { "" };

    #[test]
    fn fnv1a_matches_its_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn build_kind_is_part_of_the_namespace() {
        assert_eq!(
            namespace("app.airgate.desktop", None),
            format!("app.airgate.desktop{DEV}")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_custom_data_dir_gets_its_own_stable_namespace() {
        let hash = fnv1a64(b"/tmp/airgate-sandbox");
        let expected = format!(
            "app.airgate.desktop{DEV}-{:08x}",
            (hash >> 32) ^ (hash & 0xffff_ffff)
        );
        let sandbox = namespace(
            "app.airgate.desktop",
            Some(Path::new("/tmp/airgate-sandbox")),
        );
        assert_eq!(sandbox, expected);
        assert_eq!(sandbox.len(), "app.airgate.desktop".len() + DEV.len() + 9);
        assert_eq!(
            namespace(
                "app.airgate.desktop",
                Some(Path::new("/tmp/./airgate-sandbox/"))
            ),
            sandbox
        );
        assert_ne!(
            namespace("app.airgate.desktop", Some(Path::new("/tmp/other"))),
            sandbox
        );
    }

    #[test]
    fn a_relative_data_dir_is_hashed_as_its_absolute_path() {
        let cwd = std::env::current_dir().expect("current dir");
        assert_eq!(
            namespace("id", Some(Path::new("sandbox"))),
            namespace("id", Some(&cwd.join("sandbox")))
        );
    }
}
