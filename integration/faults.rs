//! Crash consistency of `create`: hull is SIGKILLed at each named point of the create path
//! (`HULL_FAULT`, the `fault-injection` feature), and `delete --force ID` must then remove
//! everything: the init, the cgroup directories, the state directory, and leave the host's
//! mounts as they were. Also the other ways a create dies half-way: the init killed during
//! setup, and a state root with no space left.
//!
//! Run with `cargo test --features fault-injection --test integration faults`.

#![cfg(feature = "fault-injection")]

use std::process::Stdio;

use crate::common::*;
use crate::host_state;

/// The points `hull::fault::point` marks on the create path, in order.
const POINTS: &[&str] = &[
    "after-reserve",
    "after-cgroup-create",
    "after-clone",
    "after-cgroup-v1-create",
    "after-state-saved",
    "before-created-saved",
    "after-created",
];

/// `hull create` with `HULL_FAULT=point`; returns the signal that ended it.
fn create_dying_at(h: &Hull, b: &Bundle, id: &str, point: &str) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    let st = h
        .cmd(&["create", "--bundle", b.path_str(), id])
        .env("HULL_FAULT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    st.signal()
}

#[test]
fn delete_force_cleans_up_after_create_killed_at_each_point() {
    let mut failures = Vec::new();
    for point in POINTS {
        let h = Hull::new();
        let b = h.bundle(&["sleep", "30"]);
        let id = unique_id("fault");
        let cg = host_state::cgroups_path(&b.config_path()).unwrap();
        let own = [h.root.path(), b.path()];
        let mounts_before = host_state::mounts(&own);

        let sig = create_dying_at(&h, &b, &id, point);
        assert_eq!(sig, Some(libc::SIGKILL), "{point}: hull should have died");
        // Whatever was left is visible and has a status.
        let listed = h.ok(&["list", "--format", "json"]);
        if !listed.contains(&id) {
            failures.push(format!("{point}: list does not show the crashed create"));
        }
        let state = h.run(&["state", &id]);
        if !state.status.success() {
            failures.push(format!(
                "{point}: state fails: {}",
                String::from_utf8_lossy(&state.stderr)
            ));
        }

        let del = h.run(&["delete", "--force", &id]);
        if !del.status.success() {
            failures.push(format!(
                "{point}: delete --force failed: {}",
                String::from_utf8_lossy(&del.stderr)
            ));
        }
        let procs = host_state::wait_no_processes(&[&id]);
        if !procs.is_empty() {
            failures.push(format!("{point}: processes left: {procs:?}"));
        }
        let dirs = host_state::cgroup_dirs_at(&cg);
        if !dirs.is_empty() {
            failures.push(format!("{point}: cgroup dirs left: {dirs:?}"));
        }
        let entries = host_state::entries(h.root.path());
        if !entries.is_empty() {
            failures.push(format!("{point}: state root holds {entries:?}"));
        }
        if host_state::mounts(&own) != mounts_before {
            failures.push(format!("{point}: host mounts changed"));
        }
        // The id is free again.
        let b2 = h.bundle(&["true"]);
        let (code, err) = h.create(&b2, &id, &[]);
        if code != Some(0) {
            failures.push(format!("{point}: id not reusable: {err}"));
        } else {
            h.ok(&["delete", "--force", &id]);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn create_killed_before_saving_state_is_listed_as_creating() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let id = unique_id("creating");
    assert_eq!(
        create_dying_at(&h, &b, &id, "after-reserve"),
        Some(libc::SIGKILL)
    );
    assert_eq!(h.status(&id), "creating");
    let list: serde_json::Value =
        serde_json::from_str(&h.ok(&["list", "--format", "json"])).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .expect("listed");
    assert_eq!(entry["status"], "creating");
    h.ok(&["delete", &id]);
    assert!(h.dirs().is_empty());
}

/// The init killed from outside while setting up (here by a createRuntime hook) turns
/// into one clear line, and the create leaves nothing behind.
#[test]
fn init_killed_during_setup_fails_create_with_a_clear_error() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let hook = b.path().join("kill-init.sh");
    std::fs::write(
        &hook,
        "#!/bin/sh\npid=$(tr ',' '\\n' | grep '\"pid\"' | tr -dc 0-9)\nkill -9 \"$pid\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let hook = hook.to_str().unwrap().to_string();
    b.edit(|c| c["hooks"] = serde_json::json!({"createRuntime": [{"path": hook}]}));
    let id = unique_id("initdies");
    let cg = host_state::cgroups_path(&b.config_path()).unwrap();
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.contains("container init") && err.contains("SIGKILL"),
        "error should say the init was killed: {err}"
    );
    assert!(host_state::wait_no_processes(&[&id]).is_empty());
    assert!(host_state::cgroup_dirs_at(&cg).is_empty());
    assert!(h.dirs().is_empty());
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallFs {
    dir: TempDir,
}

impl SmallFs {
    fn new(size: &str) -> SmallFs {
        let dir = TempDir::new("smallfs");
        let st = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs");
        SmallFs { dir }
    }
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.dir.path().join("filler")).unwrap();
        let chunk = [0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `--root` on a full filesystem: directories still fit (tmpfs charges no blocks for
/// them) but state.json does not, so the create fails after the init exists; it must
/// say so in one line and remove the init, the cgroup and the state directory.
#[test]
fn create_on_a_full_state_root_fails_cleanly() {
    let fs = SmallFs::new("64k");
    fs.fill();
    let h = Hull::new();
    let root = fs.dir.path().join("root");
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("enospc");
    let cg = host_state::cgroups_path(&b.config_path()).unwrap();
    let o = std::process::Command::new(hull_bin())
        .arg("--root")
        .arg(&root)
        .args(["create", "--bundle", b.path_str(), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.contains("No space left on device"),
        "error should name the cause: {err}"
    );
    assert!(host_state::wait_no_processes(&[&id]).is_empty());
    assert!(host_state::cgroup_dirs_at(&cg).is_empty());
    assert_eq!(
        host_state::entries(&root),
        Vec::<String>::new(),
        "state root must hold nothing"
    );
}
