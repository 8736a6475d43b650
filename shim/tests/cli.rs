//! The shim's command line refuses bad invocations before detaching (exit 1, one line
//! naming the flag). Having this integration test also makes `cargo test --workspace`
//! build `target/debug/hull-shim`, which hull's own integration tests run.

use std::process::Command;

fn shim(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_hull-shim"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn missing_id_is_refused_with_exit_1() {
    let (code, err) = shim(&["--hull", "/bin/true", "--root", "/tmp", "--bundle", "/tmp"]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("hull-shim: --id is required"), "{err}");
}

#[test]
fn a_bad_log_max_is_refused_with_exit_1() {
    let (code, err) = shim(&["--id", "x", "--log-max", "ten"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--log-max \"ten\": not a number of bytes"),
        "{err}"
    );
}

#[test]
fn a_failing_create_is_reported_by_the_caller_process() {
    let root = std::env::temp_dir().join(format!("hull-shim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    // /bin/false stands in for a hull whose create fails.
    let (code, err) = shim(&[
        "--hull",
        "/bin/false",
        "--root",
        root.to_str().unwrap(),
        "--bundle",
        "/nonexistent",
        "--id",
        "c1",
    ]);
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("hull-shim: hull create c1 failed"), "{err}");
}
