//! Contracts real engines rely on that the engine suite (`integration/engines/run.sh`)
//! found hull breaking, pinned here so they stay fixed without the engines installed.

use crate::common::Hull;

/// podman (and containerd's shim) run `delete --force ID` after a failed `create`; runc
/// exits 0 silently when ID does not exist, and so must hull, or the engine logs a
/// second, misleading error on top of the real one.
#[test]
fn delete_force_of_a_missing_container_succeeds_silently() {
    let h = Hull::new();
    let o = h.run(&["delete", "--force", "no-such-container"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Without --force, deleting a missing container is still an error (runc exits 1).
#[test]
fn delete_of_a_missing_container_fails() {
    let h = Hull::new();
    let err = h.fails(&["delete", "no-such-container"]);
    assert!(err.contains("does not exist"), "stderr: {err}");
}
