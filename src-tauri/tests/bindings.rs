//! The committed TypeScript bindings match the Rust commands, types and events.

use std::path::Path;

#[test]
fn committed_bindings_are_up_to_date() {
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(airgate_desktop::BINDINGS_PATH);
    if std::env::var_os("AIRGATE_WRITE_BINDINGS").is_some() {
        airgate_desktop::export_bindings(&committed_path).expect("write the bindings");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh_path = dir.path().join("bindings.ts");
    airgate_desktop::export_bindings(&fresh_path).expect("generate the bindings");
    let fresh = std::fs::read_to_string(&fresh_path).expect("read the fresh bindings");
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if fresh != committed {
        let (line, (want, have)) = fresh
            .lines()
            .chain(std::iter::repeat(""))
            .zip(committed.lines().chain(std::iter::repeat("")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .expect("the texts differ somewhere");
        panic!(
            "ui/src/ipc/bindings.ts is out of date with the Rust commands (line {}: expected \
             {want:?}, found {have:?}). Refresh it with:\n\
             AIRGATE_WRITE_BINDINGS=1 cargo test -p airgate-desktop bindings\n\
             then commit it.",
            line + 1
        );
    }
}
