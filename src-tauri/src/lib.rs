//! The Airgate desktop shell: a window (the UI in `ui/`), a tray icon, and IPC commands over the
//! core crates. Wiring only: the work is in `commands/`, `events.rs`, `tray.rs` and the core.

pub mod airflow_window;
pub mod clipboard;
mod commands;
pub mod error;
pub mod events;
pub mod pac;
pub mod state;
pub mod tray;
pub mod window;

use std::path::{Path, PathBuf};
use std::time::Duration;

use airgate_tunnel::Tunnels;
use tauri::{AppHandle, Manager, RunEvent, Runtime};

use crate::state::AppState;
use crate::tray::TrayModel;

/// How long Quit waits for tunnels to close before exiting anyway.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Airgate's own events at info; libraries only when something is wrong (`RUST_LOG` overrides).
const DEFAULT_LOG: &str = "warn,airgate_desktop=info,airgate_discovery=info,airgate_tunnel=info,airgate_vault=info,\
     airgate_launch=info";

/// Where the generated IPC bindings live, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/ipc/bindings.ts";

const BINDINGS_HEADER: &str = "// Generated from src-tauri by tauri-specta: do not edit.\n\
// Refresh: AIRGATE_WRITE_BINDINGS=1 cargo test -p airgate-desktop bindings";

/// What to start besides the window.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Create the tray icon (needs a desktop session; off in IPC tests).
    pub tray: bool,
    /// Use this data directory instead of `AIRGATE_DATA_DIR` or the app's data directory.
    pub data_dir: Option<PathBuf>,
}

/// The commands and events the UI sees; also what the TypeScript bindings are generated from.
pub fn specta_builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        .commands(tauri_specta::collect_commands![
            commands::environments::list_environments,
            commands::environments::cached_environments,
            commands::bastions::list_bastions,
            commands::bastions::save_bastion,
            commands::bastions::bastion_users,
            commands::bastions::delete_bastion,
            commands::bastions::preferred_bastions,
            commands::bastions::export_bastion,
            commands::bastions::ssh_config_hosts,
            commands::bastions::import_ssh_config,
            commands::connections::list_connections,
            commands::connections::save_connection,
            commands::connections::delete_connection,
            commands::connections::list_tokens,
            commands::connections::save_token,
            commands::connections::delete_token,
            commands::connections::copy_connection_password,
            commands::connections::copy_token,
            commands::connections::connections_prefix,
            commands::connections::push_connections,
            commands::connections::pull_connections,
            commands::keys::list_keys,
            commands::keys::import_key,
            commands::keys::generate_key,
            commands::keys::rename_key,
            commands::keys::key_users,
            commands::keys::delete_key,
            commands::keys::unlock_key,
            commands::keys::forget_key_passphrase,
            commands::open::open_environment,
            commands::self_hosted::list_self_hosted,
            commands::self_hosted::save_self_hosted,
            commands::self_hosted::delete_self_hosted,
            commands::open::open_self_hosted,
            commands::self_hosted::connect_self_hosted,
            commands::self_hosted::disconnect_self_hosted,
            commands::settings::open_settings,
            commands::settings::save_open_settings,
            commands::settings::refresh_interval,
            commands::settings::answer_close,
            commands::settings::set_close_behavior,
            commands::tunnels::connect_environment,
            commands::tunnels::disconnect_environment,
            commands::tunnels::tunnel_states,
            commands::tunnels::start_forward,
            commands::tunnels::disconnect_tunnel,
            commands::tunnels::tunnel_stats,
            commands::tunnels::trust_host_key,
            commands::tunnels::tunnel_ports,
            commands::tunnels::set_tunnel_port,
            commands::tray::tray_status,
            commands::tray::favourites,
            commands::tray::set_favourite,
            commands::sso::sso_sign_in,
            commands::sso::mfa_sign_in,
            commands::console::open_console,
        ])
        .events(tauri_specta::collect_events![
            events::TunnelChanged,
            events::OpenProgressed,
            events::WindowCloseAsked,
            events::TrayChanged,
            events::EnvironmentsFound,
            events::SsoCodeShown
        ])
}

/// Writes the TypeScript bindings (commands, types, events) to `path`.
pub fn export_bindings(path: &Path) -> Result<(), specta_typescript::Error> {
    specta_builder::<tauri::Wry>().export(
        specta_typescript::Typescript::default().header(BINDINGS_HEADER),
        path,
    )
}

/// The app on any runtime: the real one in [`run`], the mock one in tests.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>, options: Options) -> tauri::Builder<R> {
    let ipc = specta_builder::<R>();
    builder
        .invoke_handler(ipc.invoke_handler())
        .on_window_event(window::on_window_event)
        .manage(TrayModel::default())
        .manage(clipboard::SecretClipboard::default())
        .plugin(tauri_plugin_opener::init())
        .setup(move |app| {
            ipc.mount_events(app);
            let (data_dir, custom) =
                state::data_dir(options.data_dir.clone(), app.path().app_data_dir()?)?;
            // The tunnels' task runs on Tauri's async runtime.
            let tunnels = Tunnels::new_in(tauri::async_runtime::handle().inner());
            let progress = events::progress_sink(app.handle().clone());
            let window = window::WindowControl::new(app.handle().clone());
            let airflow_windows =
                std::sync::Arc::new(airflow_window::AirflowWindows::new(app.handle().clone()));
            app.manage(AppState::new(
                tunnels.clone(),
                data_dir,
                custom,
                progress,
                window,
                airflow_windows,
            ));
            app.manage(events::FoundSink::to_window(app.handle().clone()));
            app.manage(events::SsoCodeSink::to_window(app.handle().clone()));
            app.manage(commands::console::SystemBrowser::new(app.handle().clone()));
            pac::start(&app.state::<AppState>());
            if options.tray {
                tray::create_tray(app.handle())?;
            }
            events::spawn_forwarder(app.handle().clone(), tunnels);
            Ok(())
        })
}

/// Closes every tunnel before the app exits (Quit, or the last window closed).
pub fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    if let RunEvent::ExitRequested { api, .. } = event {
        let Some(state) = app.try_state::<AppState>() else {
            return;
        };
        if state.begin_shutdown() {
            api.prevent_exit();
            let tunnels = state.tunnels.clone();
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if tokio::time::timeout(SHUTDOWN_TIMEOUT, tunnels.shutdown())
                    .await
                    .is_err()
                {
                    tracing::warn!("tunnels did not close within 5 s; exiting anyway");
                }
                app.exit(0);
            });
        }
    }
}

/// The log of this run, in the data directory (the previous run's is kept as `.1`).
pub const LOG_FILE: &str = "airgate.log";

/// Logs to stderr and to [`LOG_FILE`] in the data directory (level from `RUST_LOG`, else
/// [`DEFAULT_LOG`]). Secrets are never logged: the core's types redact them.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    let file = airgate_launch::settings::data_dir().and_then(|dir| {
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(LOG_FILE);
        let _ = std::fs::rename(&path, dir.join(format!("{LOG_FILE}.1")));
        std::fs::File::create(path).ok()
    });
    let to_file = file.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer())
        .with(to_file)
        .init();
}

/// The file keeping the main window's size and position between runs.
pub const WINDOW_STATE_FILE: &str = "window-state.json";

/// Remembers the main window's size, position and maximized state (not whether it was hidden in
/// the tray) in the data directory, so a sandbox's app keeps its own.
fn window_state<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    use tauri_plugin_window_state::StateFlags;
    let mut builder = tauri_plugin_window_state::Builder::new()
        .with_state_flags(StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED)
        .with_filter(|label| label == "main");
    // Relative to the app's config directory unless absolute: the data directory it is.
    if let Some(path) = airgate_launch::settings::data_dir().map(|dir| dir.join(WINDOW_STATE_FILE))
        && let Some(path) = path.to_str()
    {
        builder = builder.with_filename(path);
    }
    builder.build()
}

/// Starts the desktop app.
pub fn run() {
    init_logging();
    let options = Options {
        tray: true,
        data_dir: None,
    };
    // One Airgate per data directory (and build kind): a second launch shows the running one's
    // window and exits. The sandbox's app, with its own data directory, runs beside yours.
    let custom = airgate_launch::settings::chosen_data_dir();
    let instance = airgate_vault::namespace(state::IDENTIFIER, custom.as_deref());
    let single = tauri_plugin_single_instance::Builder::new()
        .dbus_id(instance)
        .callback(|app, _argv, _cwd| {
            tracing::info!("Airgate was started again: showing its window");
            tray::show_window(app);
        })
        .build();
    let app = run_app(
        tauri::Builder::default()
            .plugin(single)
            .plugin(window_state()),
        options,
    )
    .build(tauri::generate_context!())
    .unwrap_or_else(|err| {
        tracing::error!(cause = %err, "Airgate could not start");
        std::process::exit(1)
    });
    app.run(on_run_event);
}
