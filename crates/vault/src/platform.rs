//! The keyring of this platform, and how its failures read to a user.

use std::sync::Arc;

use keyring_core::CredentialStore;

use crate::{Error, Result};

/// The largest value one keyring entry holds on this platform, when the platform has a limit:
/// Windows Credential Manager caps a credential blob at 2,560 bytes (`CRED_MAX_CREDENTIAL_BLOB_SIZE`).
pub(crate) const MAX_ENTRY_LEN: Option<usize> = if cfg!(windows) { Some(2560) } else { None };

/// Opens the persistent keyring of this platform.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub(crate) fn open_store() -> Result<Arc<CredentialStore>> {
    match dbus_secret_service_keyring_store::Store::new() {
        Ok(store) => Ok(store),
        Err(keyring_core::Error::PlatformFailure(err)) => Err(Error::NoStore {
            reason: secret_service::unreachable_reason(err.as_ref())
                .unwrap_or_else(|| secret_service::no_session_bus(&err.to_string())),
        }),
        Err(err) => Err(Error::NoStore {
            reason: secret_service::no_session_bus(&err.to_string()),
        }),
    }
}

#[cfg(target_os = "macos")]
pub(crate) fn open_store() -> Result<Arc<CredentialStore>> {
    match apple_native_keyring_store::keychain::Store::new() {
        Ok(store) => Ok(store),
        Err(err) => Err(Error::NoStore {
            reason: format!(
                "The login keychain cannot be opened ({err}): check it in Keychain Access, then \
                 retry."
            ),
        }),
    }
}

#[cfg(windows)]
pub(crate) fn open_store() -> Result<Arc<CredentialStore>> {
    match windows_native_keyring_store::Store::new() {
        Ok(store) => Ok(store),
        Err(err) => Err(Error::NoStore {
            reason: format!("Windows Credential Manager cannot be opened ({err}): retry later."),
        }),
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "macos",
    windows
)))]
pub(crate) fn open_store() -> Result<Arc<CredentialStore>> {
    Err(Error::NoStore {
        reason: "This platform has no supported keyring: use Linux, macOS or Windows.".to_owned(),
    })
}

/// A platform failure that means the keyring is gone (not that one operation failed), with the
/// reason to show.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub(crate) fn unreachable_reason(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    secret_service::unreachable_reason(err)
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
pub(crate) fn unreachable_reason(_err: &(dyn std::error::Error + 'static)) -> Option<String> {
    None
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod secret_service {
    use dbus_secret_service::Error as SsError;

    pub(super) const NO_SECRET_SERVICE: &str = "No Secret Service on the D-Bus session bus: \
        start gnome-keyring or KeePassXC's Secret Service, then retry.";

    pub(super) fn no_session_bus(detail: &str) -> String {
        format!(
            "No D-Bus session bus is reachable ({detail}): log in to a desktop session (or start \
             Airgate under dbus-run-session) so that a Secret Service can run, then retry."
        )
    }

    fn not_answering(detail: &str) -> String {
        format!(
            "The Secret Service on the D-Bus session bus did not answer ({detail}): restart \
             gnome-keyring or KeePassXC, then retry."
        )
    }

    /// Errors that say the Secret Service (or the bus under it) cannot be reached.
    pub(super) fn unreachable_reason(err: &(dyn std::error::Error + 'static)) -> Option<String> {
        match err.downcast_ref::<SsError>()? {
            SsError::Unavailable => Some(NO_SECRET_SERVICE.to_owned()),
            SsError::Dbus(dbus) => {
                let detail = dbus.message().unwrap_or("no details");
                match dbus.name().unwrap_or_default() {
                    "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.NameHasNoOwner"
                    | "org.freedesktop.DBus.Error.Spawn.ChildExited"
                    | "org.freedesktop.DBus.Error.Spawn.ChildSignaled"
                    | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"
                    | "org.freedesktop.DBus.Error.UnknownObject"
                    | "org.freedesktop.DBus.Error.UnknownMethod" => {
                        Some(NO_SECRET_SERVICE.to_owned())
                    }
                    "org.freedesktop.DBus.Error.NoReply"
                    | "org.freedesktop.DBus.Error.Timeout"
                    | "org.freedesktop.DBus.Error.TimedOut" => Some(not_answering(detail)),
                    "org.freedesktop.DBus.Error.NoServer"
                    | "org.freedesktop.DBus.Error.FileNotFound"
                    | "org.freedesktop.DBus.Error.NotSupported"
                    | "org.freedesktop.DBus.Error.BadAddress"
                    | "org.freedesktop.DBus.Error.Disconnected"
                    | "org.freedesktop.DBus.Error.NoNetwork" => Some(no_session_bus(detail)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}
