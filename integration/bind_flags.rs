//! A bind mount's flags as runc makes them: without flag options it keeps the source's;
//! with any, set or cleared, it has exactly those (the atime mode kept unless asked); in a
//! user namespace the flags the kernel locked on the source are kept, and asking to clear
//! one fails naming it. The source is a tmpfs with per-mount flags, mounted in a private
//! mount namespace that hull runs in (the host's mount table never sees it).

use std::process::{Command, Output};

use serde_json::json;

use crate::common::*;

/// Per-mount flags of the source: the flags the bind inherits or must clear.
const SOURCE_FLAGS: &str = "ro,nosuid,nodev,noexec";

/// `hull run` of `b` in a private mount namespace where `src` holds a tmpfs with `flags`.
fn run_with_source(h: &Hull, b: &Bundle, src: &std::path::Path, flags: &str) -> Output {
    let script = r#"mount -t tmpfs none "$1" && mount --bind -o "remount,$2" "$1" &&
                    shift 2 && exec "$@""#;
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(src)
        .arg(flags)
        .arg(hull_bin())
        .arg("--root")
        .arg(h.root.path())
        .args(["run", "--bundle", b.path_str(), &unique_id("bindflags")])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The per-mount options of /mnt as the container sees them, sorted.
const PROBE: &str = "awk '$5 == \"/mnt\" { print $6 }' /proc/self/mountinfo";

fn flags_of(out: &Output) -> Vec<String> {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v: Vec<String> = text.trim().split(',').map(str::to_string).collect();
    v.retain(|f| !f.ends_with("atime"));
    v.sort();
    v
}

fn bundle(h: &Hull, src: &std::path::Path, opts: &[&str], userns: bool) -> Bundle {
    let b = h.bundle(&["sh", "-c", PROBE]);
    let _ = std::os::unix::fs::symlink("busybox", b.rootfs().join("bin/awk"));
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind", "source": src, "options": opts
        }));
        if userns {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            let m = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["uidMappings"] = m.clone();
            c["linux"]["gidMappings"] = m;
        }
    });
    std::fs::create_dir_all(b.rootfs().join("mnt")).unwrap();
    b
}

#[test]
fn bind_flags_are_the_sources_or_exactly_the_asked_ones() {
    let h = Hull::new();
    let src = TempDir::new("bindflags-src");
    let cases: &[(&[&str], &[&str])] = &[
        (&["bind"], &["nodev", "noexec", "nosuid", "ro"]),
        (&["rbind", "rprivate"], &["nodev", "noexec", "nosuid", "ro"]),
        (&["bind", "dev"], &["rw"]),
        (&["bind", "ro"], &["ro"]),
        (&["bind", "nosuid", "rw"], &["nosuid", "rw"]),
    ];
    for (opts, want) in cases {
        let b = bundle(&h, src.path(), opts, false);
        let o = run_with_source(&h, &b, src.path(), SOURCE_FLAGS);
        assert!(
            o.status.success(),
            "{opts:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(flags_of(&o), *want, "{opts:?}");
    }
}

/// In a user namespace the source's flags are locked (MNT_LOCK_*): asked flags are added
/// to them, and asking to clear one fails with one line naming it, leaving nothing.
#[test]
fn in_a_user_namespace_locked_source_flags_stay_and_clearing_one_fails() {
    let h = Hull::new();
    let src = TempDir::new("bindflags-userns");
    let b = bundle(&h, src.path(), &["bind", "ro"], true);
    let o = run_with_source(&h, &b, src.path(), "rw,nosuid,nodev,noexec");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(flags_of(&o), ["nodev", "noexec", "nosuid", "ro"]);

    for (opts, locked) in [(&["bind", "rw"], "ro"), (&["bind", "dev"], "nodev")] {
        let b = bundle(&h, src.path(), opts, true);
        let o = run_with_source(&h, &b, src.path(), SOURCE_FLAGS);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{opts:?}: {err}");
        // runc's chain first (callers and runc's tests match it, errno in Go's words),
        // then which entry and why.
        let head = format!(
            "hull run failed: unable to start container process: error during container \
             init: error mounting {:?} to rootfs at \"/mnt\": mounts[",
            src.path().display().to_string()
        );
        assert!(err.starts_with(&head), "{opts:?}: {err}");
        assert!(
            err.contains(&format!(
                "] bind: setting mount flags: the source's {locked} cannot be cleared"
            )) && err.trim_end().ends_with(": operation not permitted"),
            "{opts:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(h.dirs().is_empty(), "state left: {:?}", h.dirs());
    }
}
