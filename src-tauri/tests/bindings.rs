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
        panic!(
            "ui/src/ipc/bindings.ts is out of date with the Rust commands ({}). Refresh it with:\n\
             AIRGATE_WRITE_BINDINGS=1 cargo test -p airgate-desktop bindings\n\
             then commit it.",
            first_difference(&fresh, &committed)
        );
    }
}

/// Where two texts first differ, for a person: a line and both versions of it, or what is
/// different at the end (a trailing newline, line endings).
fn first_difference(want: &str, have: &str) -> String {
    let (mut want_lines, mut have_lines) = (want.split('\n'), have.split('\n'));
    let mut line = 0;
    loop {
        line += 1;
        match (want_lines.next(), have_lines.next()) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => return format!("line {line}: expected {a:?}, found {b:?}"),
            (Some(_), None) => return format!("the committed file ends early, at line {line}"),
            (None, Some(_)) => return format!("the committed file has more after line {line}"),
            (None, None) => return "the texts differ in bytes that are not lines".to_owned(),
        }
    }
}

#[test]
fn differences_are_named_even_at_the_end() {
    assert_eq!(
        first_difference("a\nb\n", "a\nc\n"),
        r#"line 2: expected "b", found "c""#
    );
    assert_eq!(
        first_difference("a\n", "a"),
        "the committed file ends early, at line 2"
    );
    assert_eq!(
        first_difference("a\nb", "a\r\nb"),
        r#"line 1: expected "a", found "a\r""#
    );
}
