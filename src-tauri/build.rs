//! Embeds the built UI and declares the app's own commands so capabilities can grant them one by
//! one (least privilege).

/// Every command of `src/commands`, each granted explicitly in `capabilities/`.
const COMMANDS: &[&str] = &[
    "list_environments",
    "cached_environments",
    "list_bastions",
    "save_bastion",
    "bastion_users",
    "delete_bastion",
    "preferred_bastions",
    "export_bastion",
    "ssh_config_hosts",
    "import_ssh_config",
    "list_connections",
    "save_connection",
    "delete_connection",
    "list_tokens",
    "save_token",
    "delete_token",
    "copy_connection_password",
    "copy_token",
    "connections_prefix",
    "push_connections",
    "pull_connections",
    "list_keys",
    "import_key",
    "generate_key",
    "rename_key",
    "key_users",
    "delete_key",
    "unlock_key",
    "forget_key_passphrase",
    "open_environment",
    "list_self_hosted",
    "save_self_hosted",
    "delete_self_hosted",
    "open_self_hosted",
    "connect_self_hosted",
    "disconnect_self_hosted",
    "open_settings",
    "save_open_settings",
    "refresh_interval",
    "answer_close",
    "set_close_behavior",
    "connect_environment",
    "disconnect_environment",
    "tunnel_states",
    "start_forward",
    "disconnect_tunnel",
    "tunnel_stats",
    "trust_host_key",
    "tunnel_ports",
    "set_tunnel_port",
    "tray_status",
    "favourites",
    "set_favourite",
    "sso_sign_in",
    "mfa_sign_in",
    "open_console",
];

fn main() {
    let dist = std::path::Path::new("../ui/dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !dist.exists() {
        println!(
            "cargo::error=The UI is not built: ui/dist/index.html is missing. Build it first: \
             `cd ui && npm ci && npm run build`, then build this crate again."
        );
        return;
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed: check tauri.conf.json and capabilities/");
}
