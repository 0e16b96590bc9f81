//! Secrets copied to the system clipboard from Rust (the web view never holds them), marked for
//! clipboard managers to leave out of their history, and cleared after a while unless the user
//! copied something else since.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use airgate_vault::Sensitive;

/// The clipboard while it holds a secret of ours. On X11 and Wayland the owner serves the
/// contents, so the [`arboard::Clipboard`] lives until the secret is cleared.
#[derive(Default)]
pub struct SecretClipboard {
    held: Arc<Mutex<Option<Held>>>,
}

struct Held {
    clipboard: arboard::Clipboard,
    secret: Sensitive<String>,
    /// Which copy this is: a later copy replaces it, and an earlier timer must not clear it.
    generation: u64,
}

impl std::fmt::Debug for SecretClipboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretClipboard")
    }
}

impl SecretClipboard {
    /// Puts `secret` on the clipboard, and clears it after `clear_after` if it is still there.
    pub fn copy(&self, secret: Sensitive<String>, clear_after: Duration) -> Result<(), String> {
        let generation = {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let mut clipboard = match held.take() {
                Some(previous) => previous.clipboard,
                None => arboard::Clipboard::new().map_err(|e| e.to_string())?,
            };
            set_excluded_from_history(&mut clipboard, secret.expose())
                .map_err(|e| e.to_string())?;
            let generation = next_generation();
            *held = Some(Held {
                clipboard,
                secret,
                generation,
            });
            generation
        };
        let held = Arc::clone(&self.held);
        std::thread::spawn(move || {
            std::thread::sleep(clear_after);
            clear_if_unchanged(&held, generation);
        });
        Ok(())
    }
}

/// Clears the clipboard when it still holds the secret of copy `generation`.
fn clear_if_unchanged(held: &Mutex<Option<Held>>, generation: u64) {
    let mut held = held.lock().unwrap_or_else(|e| e.into_inner());
    if held.as_ref().is_none_or(|h| h.generation != generation) {
        return;
    }
    let Some(mut h) = held.take() else {
        return;
    };
    // Something the user copied since is theirs: left alone.
    let ours = h
        .clipboard
        .get_text()
        .is_ok_and(|text| Sensitive::new(text).expose() == h.secret.expose());
    if ours {
        match h.clipboard.clear() {
            Ok(()) => tracing::info!("the copied secret was cleared from the clipboard"),
            Err(err) => {
                tracing::warn!(cause = %err, "cannot clear the copied secret from the clipboard");
            }
        }
    }
}

fn next_generation() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Sets the text, asking clipboard managers and history (KDE Klipper, GNOME extensions, Windows
/// clipboard history and cloud sync, macOS's concealed type) to skip it.
fn set_excluded_from_history(
    clipboard: &mut arboard::Clipboard,
    text: &str,
) -> Result<(), arboard::Error> {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        use arboard::SetExtLinux as _;
        clipboard.set().exclude_from_history().text(text)
    }
    #[cfg(windows)]
    {
        use arboard::SetExtWindows as _;
        clipboard
            .set()
            .exclude_from_history()
            .exclude_from_cloud()
            .exclude_from_monitoring()
            .text(text)
    }
    #[cfg(target_os = "macos")]
    {
        use arboard::SetExtApple as _;
        clipboard.set().exclude_from_history().text(text)
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "freebsd",
        windows,
        target_os = "macos"
    )))]
    {
        clipboard.set_text(text)
    }
}
