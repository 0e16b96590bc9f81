//! The commands the UI calls. Thin: each one calls the core, the same functions the CLI calls.

pub mod bastions;
pub mod connections;
pub mod console;
pub mod environments;
pub mod keys;
pub mod open;
pub mod self_hosted;
pub mod settings;
pub mod sso;
pub mod tray;
pub mod tunnels;

use std::future::Future;

use crate::error::{Result, join_error};

/// Runs core work as its own task, so that a panic in it becomes an error the UI can show
/// instead of a call that never answers.
async fn run_core<T, F>(what: &'static str, work: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    tauri::async_runtime::spawn(work)
        .await
        .map_err(|err| join_error(what, err))
}
