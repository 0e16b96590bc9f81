//! The tray icon: its image, tooltip and (on Linux) label follow the tunnels; its menu opens or
//! disconnects each running tunnel's environment, opens favourite and recent environments,
//! disconnects all, shows the window or quits.
//!
//! Linux has no tray tooltips: the label next to the icon carries the state in words there.

use std::collections::BTreeMap;
use std::sync::Mutex;

use airgate_tunnel::{TunnelEvent, TunnelState};
use serde::Serialize;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use tauri_specta::Event;

use crate::events::TrayChanged;

/// The id of the one tray icon.
pub const TRAY_ID: &str = "main";
const MENU_SHOW: &str = "show";
const MENU_QUIT: &str = "quit";
const MENU_DISCONNECT_ALL: &str = "disconnect-all";
const MENU_OPEN_PREFIX: &str = "open:";
const MENU_DISCONNECT_PREFIX: &str = "disconnect:";
/// At most this many favourite and recent environments in the menu.
const MAX_SHORTCUTS: usize = 8;

/// What the tunnels add up to, as the tray shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum TrayState {
    /// No tunnel.
    Idle,
    /// At least one tunnel is being opened (and none failed).
    Connecting,
    /// Every tunnel is connected.
    Connected,
    /// At least one tunnel failed.
    Error,
}

/// What the tray shows: the icon's state, the tooltip, and the label (the Linux title).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TrayView {
    pub state: TrayState,
    /// Tunnels connected right now.
    pub connected: u32,
    /// Their ids (`profile/region/name`), sorted.
    pub tunnels: Vec<String>,
    pub tooltip: String,
    /// Short text next to the icon (Linux); empty when idle.
    pub label: String,
    /// Favourite, then recently opened environments without a running tunnel (ids), for Open.
    pub shortcuts: Vec<String>,
}

impl TrayView {
    /// The view for a set of tunnel states (disconnected tunnels are not counted).
    pub fn of<'a>(tunnels: impl IntoIterator<Item = (&'a str, &'a TunnelState)>) -> Self {
        let (mut connected, mut connecting, mut failed) = (0u32, Vec::new(), Vec::new());
        let mut reconnecting = Vec::new();
        let mut up = Vec::new();
        for (id, state) in tunnels {
            match state {
                TunnelState::Connected { .. } => {
                    connected += 1;
                    up.push(id.to_owned());
                }
                TunnelState::Connecting => connecting.push(id),
                TunnelState::Reconnecting { .. } => reconnecting.push(id),
                TunnelState::Failed { .. } => failed.push(id),
                TunnelState::Disconnected => {}
            }
        }
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let also = if connected > 0 {
            format!(" ({connected} connected)")
        } else {
            String::new()
        };
        let (state, tooltip, label) = if !failed.is_empty() {
            let what = match failed.as_slice() {
                [one] => format!("tunnel {one} failed"),
                many => format!("{} tunnels failed", many.len()),
            };
            (
                TrayState::Error,
                format!("Airgate: {what}{also}"),
                "Failed".to_owned(),
            )
        } else if !reconnecting.is_empty() {
            let what = match reconnecting.as_slice() {
                [one] => format!("reconnecting {}", name_of(one)),
                many => format!("reconnecting {} tunnels", many.len()),
            };
            (
                TrayState::Connecting,
                format!("Airgate: {what}…{also}"),
                "Reconnecting…".to_owned(),
            )
        } else if !connecting.is_empty() {
            let n = connecting.len();
            (
                TrayState::Connecting,
                format!("Airgate: connecting {n} tunnel{}…{also}", plural(n)),
                "Connecting…".to_owned(),
            )
        } else if connected > 0 {
            let n = connected as usize;
            let names: Vec<&str> = up.iter().map(|id| name_of(id)).collect();
            (
                TrayState::Connected,
                format!(
                    "Airgate: {n} tunnel{} connected ({})",
                    plural(n),
                    names.join(", ")
                ),
                format!("{n} connected"),
            )
        } else {
            (
                TrayState::Idle,
                "Airgate: no tunnel".to_owned(),
                String::new(),
            )
        };
        up.sort();
        Self {
            state,
            connected,
            tunnels: up,
            tooltip,
            label,
            shortcuts: Vec::new(),
        }
    }

    /// The view with `shortcuts` (favourites, then recent) in its menu, less the running ones.
    pub fn with_shortcuts(mut self, shortcuts: &[String]) -> Self {
        self.shortcuts = shortcuts
            .iter()
            .filter(|id| !self.tunnels.contains(id))
            .take(MAX_SHORTCUTS)
            .cloned()
            .collect();
        self
    }

    fn icon(&self) -> &'static [u8] {
        match self.state {
            TrayState::Idle => include_bytes!("../../icons/tray/idle.png"),
            TrayState::Connecting => include_bytes!("../../icons/tray/connecting.png"),
            TrayState::Connected => include_bytes!("../../icons/tray/connected.png"),
            TrayState::Error => include_bytes!("../../icons/tray/error.png"),
        }
    }
}

/// The environment's name in a tunnel id (`profile/region/name`, `self-hosted/name`), or what
/// a forward goes to (`forward:host:port`).
fn name_of(id: &str) -> &str {
    if let Some(to) = id.strip_prefix(FORWARD_PREFIX) {
        return to;
    }
    id.rsplit('/').next().unwrap_or(id)
}

const FORWARD_PREFIX: &str = "forward:";

fn is_forward(id: &str) -> bool {
    id.starts_with(FORWARD_PREFIX)
}

/// The tunnels as the tray knows them, and the view it last applied. Managed by Tauri.
#[derive(Debug)]
pub struct TrayModel(Mutex<Inner>);

#[derive(Debug)]
struct Inner {
    tunnels: BTreeMap<String, TunnelState>,
    shortcuts: Vec<String>,
    applied: TrayView,
}

impl Default for TrayModel {
    fn default() -> Self {
        Self(Mutex::new(Inner {
            tunnels: BTreeMap::new(),
            shortcuts: Vec::new(),
            applied: TrayView::of([]),
        }))
    }
}

impl TrayModel {
    /// What the tray shows now.
    pub fn applied(&self) -> TrayView {
        self.lock().applied.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a change; returns the new view when it differs from the one shown.
    fn record(&self, change: impl FnOnce(&mut BTreeMap<String, TunnelState>)) -> Option<TrayView> {
        let mut inner = self.lock();
        change(&mut inner.tunnels);
        inner.view()
    }

    /// Sets the favourite and recent environments; returns the new view when it differs.
    fn record_shortcuts(&self, shortcuts: Vec<String>) -> Option<TrayView> {
        let mut inner = self.lock();
        inner.shortcuts = shortcuts;
        inner.view()
    }
}

impl Inner {
    fn view(&mut self) -> Option<TrayView> {
        let inner = self;
        let view = TrayView::of(inner.tunnels.iter().map(|(id, s)| (id.as_str(), s)))
            .with_shortcuts(&inner.shortcuts);
        (view != inner.applied).then(|| {
            inner.applied = view.clone();
            view
        })
    }
}

/// The tray menu: Open and Disconnect for each tunnel connected now, Open for each favourite
/// and recent environment, Disconnect all, Show window, Quit.
fn menu<R: Runtime>(app: &AppHandle<R>, view: &TrayView) -> tauri::Result<Menu<R>> {
    let tunnels = &view.tunnels;
    let menu = Menu::new(app)?;
    for id in tunnels {
        let name = name_of(id);
        // A forward has no web page to open: only Disconnect.
        if !is_forward(id) {
            menu.append(&MenuItem::with_id(
                app,
                format!("{MENU_OPEN_PREFIX}{id}"),
                format!("Open {name}"),
                true,
                None::<&str>,
            )?)?;
        }
        menu.append(&MenuItem::with_id(
            app,
            format!("{MENU_DISCONNECT_PREFIX}{id}"),
            format!("Disconnect {name}"),
            true,
            None::<&str>,
        )?)?;
    }
    if !tunnels.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
    }
    for id in &view.shortcuts {
        menu.append(&MenuItem::with_id(
            app,
            format!("{MENU_OPEN_PREFIX}{id}"),
            format!("Open {}", name_of(id)),
            true,
            None::<&str>,
        )?)?;
    }
    if !view.shortcuts.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
    }
    menu.append(&MenuItem::with_id(
        app,
        MENU_DISCONNECT_ALL,
        "Disconnect all",
        !tunnels.is_empty(),
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        MENU_SHOW,
        "Show window",
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        MENU_QUIT,
        "Quit",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// Creates the tray icon (idle) with its menu.
pub fn create_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayIcon<R>> {
    if let Some(state) = app.try_state::<crate::state::AppState>() {
        match airgate_launch::shortcuts::load(&state.data_dir) {
            Ok(shortcuts) => {
                app.state::<TrayModel>().record_shortcuts(shortcuts.ids());
            }
            Err(err) => tracing::warn!(cause = %err, "no favourite or recent environments"),
        }
    }
    let view = app.state::<TrayModel>().applied();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(view.icon())?)
        .tooltip(&view.tooltip)
        .title(&view.label)
        .menu(&menu(app, &view)?)
        // Left click shows the window, right click the menu (Linux panels always show the menu).
        .show_menu_on_left_click(false)
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_window(tray.app_handle());
            }
        })
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    if id == MENU_SHOW {
        show_window(app);
    } else if id == MENU_QUIT {
        app.exit(0);
    } else if id == MENU_DISCONNECT_ALL {
        let tunnels = app.state::<TrayModel>().applied().tunnels;
        disconnect(app, tunnels);
    } else if let Some(tunnel) = id.strip_prefix(MENU_OPEN_PREFIX) {
        crate::commands::open::open_from_tray(app, tunnel);
    } else if let Some(tunnel) = id.strip_prefix(MENU_DISCONNECT_PREFIX) {
        disconnect(app, vec![tunnel.to_owned()]);
    }
}

fn disconnect<R: Runtime>(app: &AppHandle<R>, ids: Vec<String>) {
    let Some(state) = app.try_state::<crate::state::AppState>() else {
        return;
    };
    let tunnels = state.tunnels.clone();
    tauri::async_runtime::spawn(async move {
        for id in ids {
            if let Err(err) = tunnels.disconnect(&id).await {
                tracing::warn!(tunnel = %id, cause = %err, "cannot disconnect from the tray");
            }
        }
    });
}

/// Brings the main window to the front.
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let shown = window
            .show()
            .and_then(|()| window.unminimize())
            .and_then(|()| window.set_focus());
        if let Err(err) = shown {
            tracing::warn!(cause = %err, "cannot show the main window");
        }
    }
}

/// Takes one tunnel change into account.
pub fn update<R: Runtime>(app: &AppHandle<R>, event: &TunnelEvent) {
    let model = app.state::<TrayModel>();
    let view = model.record(|tunnels| match event.state {
        TunnelState::Disconnected => {
            tunnels.remove(&event.id);
        }
        ref state => {
            tunnels.insert(event.id.clone(), state.clone());
        }
    });
    if let Some(view) = view {
        apply(app, view);
    }
}

/// Sets the favourite and recent environments the menu offers (ids, favourites first).
pub fn set_shortcuts<R: Runtime>(app: &AppHandle<R>, shortcuts: Vec<String>) {
    if let Some(view) = app.state::<TrayModel>().record_shortcuts(shortcuts) {
        apply(app, view);
    }
}

/// Replaces everything the tray knows with the current states.
pub fn replace_all<R: Runtime>(app: &AppHandle<R>, states: Vec<TunnelEvent>) {
    let model = app.state::<TrayModel>();
    let view = model.record(|tunnels| {
        tunnels.clear();
        for event in states {
            if event.state != TunnelState::Disconnected {
                tunnels.insert(event.id, event.state);
            }
        }
    });
    if let Some(view) = view {
        apply(app, view);
    }
}

/// Sets icon, tooltip, label and menu, and tells the window.
fn apply<R: Runtime>(app: &AppHandle<R>, view: TrayView) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let applied = Image::from_bytes(view.icon())
            .and_then(|icon| tray.set_icon(Some(icon)))
            .and_then(|()| tray.set_tooltip(Some(&view.tooltip)))
            .and_then(|()| tray.set_title(Some(&view.label)))
            .and_then(|()| tray.set_menu(Some(menu(app, &view)?)));
        if let Err(err) = applied {
            tracing::warn!(cause = %err, "cannot update the tray icon");
        }
    }
    tracing::info!(state = ?view.state, tooltip = %view.tooltip, "tray");
    if let Err(err) = TrayChanged(view).emit(app) {
        tracing::warn!(cause = %err, "cannot send the tray state to the window");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(states: &[(&str, TunnelState)]) -> TrayView {
        TrayView::of(states.iter().map(|(id, s)| (*id, s)))
    }

    #[test]
    fn no_tunnel_is_idle() {
        let v = view(&[("a", TunnelState::Disconnected)]);
        assert_eq!(v.state, TrayState::Idle);
        assert_eq!(v.tooltip, "Airgate: no tunnel");
        assert_eq!(v.label, "");
    }

    #[test]
    fn connected_tunnels_are_counted() {
        let v = view(&[
            ("p/r/a", TunnelState::Connected { port: 1080 }),
            ("p/r/b", TunnelState::Connected { port: 1081 }),
        ]);
        assert_eq!(v.state, TrayState::Connected);
        assert_eq!(v.connected, 2);
        assert_eq!(v.tooltip, "Airgate: 2 tunnels connected (a, b)");
        assert_eq!(v.tunnels, ["p/r/a", "p/r/b"]);
        assert_eq!(v.label, "2 connected");
    }

    #[test]
    fn connecting_shows_until_done() {
        let v = view(&[
            ("p/r/a", TunnelState::Connected { port: 1080 }),
            ("p/r/b", TunnelState::Connecting),
        ]);
        assert_eq!(v.state, TrayState::Connecting);
        assert_eq!(v.tooltip, "Airgate: connecting 1 tunnel… (1 connected)");
    }

    #[test]
    fn a_lost_session_shows_reconnecting() {
        let v = view(&[
            ("p/r/a", TunnelState::Connected { port: 1080 }),
            (
                "p/r/b",
                TunnelState::Reconnecting {
                    port: 1081,
                    attempt: 2,
                    next_try_secs: 2,
                    last_error: "refused".into(),
                },
            ),
        ]);
        assert_eq!(v.state, TrayState::Connecting);
        assert_eq!(v.tooltip, "Airgate: reconnecting b… (1 connected)");
        assert_eq!(v.label, "Reconnecting…");
    }

    #[test]
    fn a_failure_wins_and_names_the_tunnel() {
        let v = view(&[
            ("p/r/a", TunnelState::Connecting),
            (
                "p/r/b",
                TunnelState::Failed {
                    reason: "refused".into(),
                },
            ),
        ]);
        assert_eq!(v.state, TrayState::Error);
        assert_eq!(v.tooltip, "Airgate: tunnel p/r/b failed");
        assert_eq!(v.label, "Failed");
    }

    #[test]
    fn a_forward_is_named_by_where_it_goes() {
        assert_eq!(name_of("forward:db.internal:5432"), "db.internal:5432");
        assert!(is_forward("forward:db.internal:5432"));
        assert_eq!(name_of("p/r/orders-prod"), "orders-prod");
    }

    #[test]
    fn shortcuts_leave_out_running_tunnels() {
        let v = view(&[("p/r/a", TunnelState::Connected { port: 1080 })]).with_shortcuts(&[
            "p/r/b".to_owned(),
            "p/r/a".to_owned(),
            "self-hosted/lab".to_owned(),
        ]);
        assert_eq!(v.shortcuts, ["p/r/b", "self-hosted/lab"]);
    }

    #[test]
    fn each_state_has_its_own_icon() {
        let icons = [
            TrayState::Idle,
            TrayState::Connecting,
            TrayState::Connected,
            TrayState::Error,
        ]
        .map(|state| {
            TrayView {
                state,
                connected: 0,
                tunnels: Vec::new(),
                tooltip: String::new(),
                label: String::new(),
                shortcuts: Vec::new(),
            }
            .icon()
        });
        for (i, a) in icons.iter().enumerate() {
            assert!(Image::from_bytes(a).is_ok(), "icon {i} is a readable PNG");
            for b in &icons[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
