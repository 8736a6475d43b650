//! `checkpoint` / `restore` on this host, where Debian's criu 3.17 cannot run (the 6.18
//! kernel's vDSO layout is newer than it): both fail at once with one line that quotes
//! criu's own first error, and change nothing. The inputs hull checks itself fail the same
//! way whether criu runs or not. Real checkpoints are tested in the systemd VM
//! (integration/vm/systemd/guest-checkpoint.sh), whose 6.1 kernel criu supports.

use std::process::Command;

use crate::common::*;

/// Whether criu works here (then the failure tests have nothing to show: the VM suite
/// covers real checkpoints).
fn criu_runs() -> bool {
    Command::new("criu")
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn criu_installed() -> bool {
    Command::new("criu")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One line, naming what failed and why (criu's words or "criu not found").
fn assert_criu_failure(err: &str, what: &str) {
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(what), "{err}");
    if criu_installed() {
        assert!(err.contains("Error (criu/"), "criu's own error line: {err}");
    } else {
        assert!(err.contains("criu not found"), "{err}");
    }
}

#[test]
fn checkpoint_where_criu_cannot_run_fails_at_once_and_leaves_the_container_running() {
    if criu_runs() {
        eprintln!("criu works on this host: real checkpoints are the VM suite's");
        return;
    }
    let h = Hull::new();
    let (b, id) = running(&h, "ckfail");
    let pid = h.pid(&id);
    let images = b.path().join("images");
    let started = std::time::Instant::now();
    let err = h.fails(&["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    assert_criu_failure(&err, &format!("checkpoint of container {id} failed"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(h.status(&id), "running");
    assert_eq!(h.pid(&id), pid);
    assert!(!images.exists(), "the image directory hull made stays");
}

#[test]
fn a_criu_that_is_not_there_is_named() {
    let h = Hull::new();
    let (b, id) = running(&h, "cknone");
    let images = b.path().join("images");
    let err = h.fails(&[
        "--criu",
        "/nonexistent/criu",
        "checkpoint",
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("criu not found (\"/nonexistent/criu\")"),
        "{err}"
    );
    assert!(!images.exists());
    assert_eq!(h.status(&id), "running");
}

/// criu fails on the restore too: no state, cgroup, mount or process is left.
#[test]
fn restore_where_criu_cannot_run_leaves_nothing_behind() {
    if criu_runs() {
        eprintln!("criu works on this host: real restores are the VM suite's");
        return;
    }
    let h = Hull::new();
    let b = h.bundle(&["sleep", "1000"]);
    // An image directory as far as hull can tell (criu reads the rest).
    let images = b.path().join("images");
    std::fs::create_dir(&images).unwrap();
    std::fs::write(images.join("inventory.img"), b"").unwrap();
    std::fs::write(
        images.join("descriptors.json"),
        br#"["/dev/null","pipe:[1]","pipe:[1]"]"#,
    )
    .unwrap();
    let mounts = host_mounts();
    let id = unique_id("rsfail");
    let err = h.fails(&[
        "restore",
        "-d",
        "--bundle",
        b.path_str(),
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    assert_criu_failure(&err, &format!("restore of container {id} failed"));
    assert!(h.dirs().is_empty(), "state left: {:?}", h.dirs());
    let parent = cgroup_parent(&b);
    assert!(
        cgroup_dirs_named("ctr")
            .iter()
            .all(|d| !d.to_string_lossy().contains(&parent)),
        "cgroup left under {parent}"
    );
    assert_eq!(host_mounts(), mounts, "mounts changed");
}

fn cgroup_parent(b: &Bundle) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.config_path()).unwrap()).unwrap();
    let p = v["linux"]["cgroupsPath"].as_str().unwrap().to_string();
    p.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

/// What hull checks itself, before criu or anything else runs.
#[test]
fn bad_checkpoint_and_restore_inputs_fail_clearly_and_change_nothing() {
    let h = Hull::new();
    let (b, id) = running(&h, "ckbad");
    let images = b.path().join("images");
    let img = images.to_str().unwrap();

    let err = h.fails(&[
        "checkpoint",
        "--image-path",
        img,
        "--parent-path",
        "../nope",
        &id,
    ]);
    assert!(err.contains("invalid --parent-path ../nope"), "{err}");
    let err = h.fails(&[
        "checkpoint",
        "--image-path",
        img,
        "--parent-path",
        "/abs",
        &id,
    ]);
    assert!(
        err.contains("--parent-path /abs: must be relative"),
        "{err}"
    );
    let err = h.fails(&[
        "checkpoint",
        "--image-path",
        img,
        "--manage-cgroups-mode",
        "hard",
        &id,
    ]);
    assert!(err.contains("--manage-cgroups-mode \"hard\""), "{err}");
    let err = h.fails(&["checkpoint", "--image-path", img, "--empty-ns", "ipc", &id]);
    assert!(err.contains("--empty-ns \"ipc\""), "{err}");
    let err = h.fails(&["checkpoint", "--image-path", img, "nosuchid"]);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!images.exists());
    assert_eq!(h.status(&id), "running");

    // A created container holds the exec fifo: runc refuses it too.
    let created = unique_id("ckcreated");
    let b2 = h.bundle(&["sleep", "1000"]);
    assert_eq!(h.create(&b2, &created, &[]).0, Some(0));
    let err = h.fails(&["checkpoint", "--image-path", img, &created]);
    assert!(
        err.contains("cannot be checkpointed in created state"),
        "{err}"
    );
    assert!(!images.exists());

    // Restore: an image directory that is none, one that is missing, an id that exists.
    let mounts = host_mounts();
    std::fs::create_dir(&images).unwrap();
    let rid = unique_id("rsbad");
    let err = h.fails(&[
        "restore",
        "-d",
        "-b",
        b.path_str(),
        "--image-path",
        img,
        &rid,
    ]);
    assert!(err.contains("not a checkpoint (no inventory.img"), "{err}");
    let missing = b.path().join("missing");
    let err = h.fails(&[
        "restore",
        "-d",
        "-b",
        b.path_str(),
        "--image-path",
        missing.to_str().unwrap(),
        &rid,
    ]);
    assert!(err.contains("not a directory"), "{err}");
    std::fs::write(images.join("inventory.img"), b"").unwrap();
    std::fs::write(images.join("descriptors.json"), b"[]").unwrap();
    let err = h.fails(&[
        "restore",
        "-d",
        "-b",
        b.path_str(),
        "--image-path",
        img,
        &id,
    ]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(h.status(&id), "running");
    let mut want = vec![id.clone(), created.clone()];
    want.sort();
    assert_eq!(h.dirs(), want, "only the two containers");
    assert_eq!(host_mounts(), mounts, "mounts changed");
}
