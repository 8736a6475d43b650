//! The command-line contract shared with runc: version text, unknown ids, exit codes.

use crate::common::*;

#[test]
fn version_prints_name_version_commit_and_spec() {
    let out = std::process::Command::new(hull_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    let mut lines = s.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("hull version "), "{first}");
    assert!(lines.next().unwrap().starts_with("commit: "), "{s}");
    assert!(lines.next().unwrap().starts_with("spec: 1."), "{s}");
}

/// A link to hull, named `name`, in a scratch directory (callers install hull as `runc`).
fn hull_linked_as(dir: &TempDir, name: &str) -> std::path::PathBuf {
    let link = dir.path().join(name);
    std::os::unix::fs::symlink(hull_bin(), &link).unwrap();
    link
}

#[test]
fn version_and_help_name_the_binary_as_it_was_invoked() {
    let dir = TempDir::new("argv0");
    let oci = hull_linked_as(&dir, "oci-rt");
    let out = std::process::Command::new(&oci).arg("-v").output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.starts_with("oci-rt version "), "{s}");
    for args in [&["-h"][..], &["--help"], &["help"]] {
        let out = std::process::Command::new(&oci)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let s = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "NAME:", "{args:?}: {s}");
        assert_eq!(
            lines[1].trim(),
            "oci-rt - Open Container Initiative runtime"
        );
    }
}

#[test]
fn every_runc_command_has_help_headed_by_its_name_even_checkpoint() {
    for cmd in [
        "checkpoint",
        "create",
        "delete",
        "events",
        "exec",
        "kill",
        "list",
        "pause",
        "ps",
        "restore",
        "resume",
        "run",
        "spec",
        "start",
        "state",
        "update",
        "features",
    ] {
        for args in [vec![cmd, "-h"], vec![cmd, "--help"], vec!["help", cmd]] {
            let out = std::process::Command::new(hull_bin())
                .args(&args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}");
            let s = String::from_utf8(out.stdout).unwrap();
            let lines: Vec<&str> = s.lines().collect();
            assert_eq!(lines[0], "NAME:", "{args:?}: {s}");
            assert!(
                lines[1].trim().starts_with(&format!("hull {cmd} - ")),
                "{s}"
            );
        }
    }
}

#[test]
fn an_unknown_command_fails_with_no_help_topic() {
    for args in [&["foo"][..], &["foo", "-h"], &["help", "foo"]] {
        let out = std::process::Command::new(hull_bin())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("No help topic for 'foo'"), "{args:?}: {err}");
        assert!(err.contains("see `hull --help`"), "{err}");
    }
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

#[test]
fn list_fails_on_a_missing_root_given_with_root() {
    let dir = TempDir::new("noroot");
    let missing = dir.path().join("absent");
    let out = std::process::Command::new(hull_bin())
        .arg("--root")
        .arg(&missing)
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("No such file or directory"), "{err}");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    // An existing but empty root lists nothing, successfully.
    let h = Hull::new();
    let table = h.ok(&["list"]);
    assert!(table.starts_with("ID"), "{table}");
}

#[test]
fn debug_lines_go_to_stderr_as_logrus_text_or_only_to_the_log_file() {
    let h = Hull::new();
    let b = h.bundle(&["echo", "hello"]);
    let o = h
        .cmd(&[
            "--debug",
            "run",
            "--bundle",
            b.path_str(),
            &unique_id("dbg"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n");
    let err = String::from_utf8(o.stderr).unwrap();
    for stage in [
        "nsexec container setup",
        "child process in init()",
        "init: closing the pipe to signal completion",
    ] {
        assert!(
            err.lines().any(|l| l.starts_with("time=\"")
                && l.contains("level=debug")
                && l.contains(stage)),
            "{stage}: {err}"
        );
    }
    // With --log the debug lines go to the file only (JSON here), not to stderr.
    let log = b.path().join("log.json");
    let o = h
        .cmd(&[
            "--debug",
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "run",
            "--bundle",
            b.path_str(),
            &unique_id("dbglog"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("debug"),
        "{o:?}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let levels: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(levels.iter().any(|v| v["level"] == "debug"
        && v["msg"]
            .as_str()
            .unwrap()
            .contains("child process in init()")));
    // Without --debug: nothing.
    let o = h
        .cmd(&["run", "--bundle", b.path_str(), &unique_id("nodbg")])
        .output()
        .unwrap();
    assert!(o.stderr.is_empty(), "{o:?}");
}
