//! The command-line contract shared with runc: version text, unknown ids, exit codes.

use crate::common::*;

#[test]
fn version_prints_name_version_and_spec() {
    let out = std::process::Command::new(hull_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    let mut lines = s.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("hull version "), "{first}");
    assert!(lines.next().unwrap().starts_with("spec: 1."), "{s}");
}

#[test]
fn unimplemented_subcommands_fail_with_exit_1() {
    let h = Hull::new();
    for args in [
        &["pause", "x"][..],
        &["resume", "x"],
        &["events", "--stats", "x"],
    ] {
        let err = h.fails(args);
        assert!(
            err.contains("not implemented") || err.contains("does not exist"),
            "{err}"
        );
    }
}
