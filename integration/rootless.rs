//! Rootless: an unprivileged user (created by the test) runs busybox with the default
//! rootless spec from `hull spec --rootless`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::*;

const USER: &str = "hull-rootless-test";

/// The test user's uid, creating the user if needed.
fn test_user() -> u32 {
    let id = |_: ()| Command::new("id").args(["-u", USER]).output().unwrap();
    let mut o = id(());
    if !o.status.success() {
        let st = Command::new("useradd")
            .args(["-M", "-s", "/usr/sbin/nologin", USER])
            .status()
            .expect("useradd");
        assert!(st.success(), "useradd {USER}");
        o = id(());
    }
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

fn chown_r(path: &std::path::Path, uid: u32) {
    let st = Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// `hull ARGS` as the unprivileged user, in `cwd`, with a private XDG_RUNTIME_DIR.
fn as_user(
    uid: u32,
    hull: &std::path::Path,
    xdg: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
        ])
        .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()))
        .arg(hull)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn an_unprivileged_user_runs_busybox_with_the_default_rootless_spec() {
    let uid = test_user();
    let t = TempDir::new("rootless");
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The user needs a hull it can execute wherever this checkout lives.
    let hull = t.path().join("hull");
    std::fs::copy(hull_bin(), &hull).unwrap();
    let bundle = t.path().join("bundle");
    let xdg = t.path().join("xdg");
    std::fs::create_dir_all(bundle.join("rootfs/bin")).unwrap();
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::copy(BUSYBOX, bundle.join("rootfs/bin/busybox")).unwrap();
    for a in ["sh", "id", "cat", "ls"] {
        std::os::unix::fs::symlink("busybox", bundle.join("rootfs/bin").join(a)).unwrap();
    }
    chown_r(t.path(), uid);

    let o = as_user(uid, &hull, &xdg, &bundle, &["spec", "--rootless"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cfg = bundle.join("config.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    v["process"]["terminal"] = serde_json::json!(false);
    v["process"]["args"] =
        serde_json::json!(["sh", "-c", "id; cat /proc/self/uid_map; ls /dev/null"]);
    std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();

    let o = as_user(uid, &hull, &xdg, &bundle, &["run", "rootless-ctr"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "uid=0 gid=0", "{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", &uid.to_string(), "1"],
        "container root is the unprivileged user on the host: {out}"
    );
    assert_eq!(lines[2], "/dev/null");
    // State lived under $XDG_RUNTIME_DIR/hull and is gone after run.
    let left: Vec<_> = std::fs::read_dir(xdg.join("hull")).unwrap().collect();
    assert!(left.is_empty(), "state left: {left:?}");
}
