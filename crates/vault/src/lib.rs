//! Secrets in the OS keyring (macOS Keychain, Windows Credential Manager, Secret Service) and
//! the records that name them.
