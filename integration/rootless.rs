//! Rootless: an unprivileged user (created by the test) runs busybox with the default
//! rootless spec from `hull spec --rootless`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::*;

const USER: &str = "hull-rootless-test";

/// Serializes user creation between the tests of this file (they run in parallel).
static USER_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The test user's uid, creating the user if needed.
fn test_user() -> u32 {
    let _guard = USER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
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
/// `setpriv ... env -i PATH=... XDG_RUNTIME_DIR=XDG`: what follows runs as the unprivileged
/// user with a clean environment (more NAME=VALUE may follow before the program).
fn user_cmd(uid: u32, xdg: &std::path::Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={uid}"),
        &format!("--regid={uid}"),
        "--clear-groups",
        "env",
        "-i",
        "PATH=/usr/bin:/bin",
    ])
    .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()));
    c
}

fn as_user(
    uid: u32,
    hull: &std::path::Path,
    xdg: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    user_cmd(uid, xdg)
        .arg(hull)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// A directory the test user owns with a hull it can execute (wherever this checkout lives),
/// a busybox bundle with `applets`, and an XDG_RUNTIME_DIR: (dir, hull, bundle, xdg).
fn user_files(
    uid: u32,
    tag: &str,
    applets: &[&str],
) -> (
    TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let t = TempDir::new(tag);
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let hull = t.path().join("hull");
    std::fs::copy(hull_bin(), &hull).unwrap();
    let bundle = t.path().join("bundle");
    let xdg = t.path().join("xdg");
    std::fs::create_dir_all(bundle.join("rootfs/bin")).unwrap();
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::copy(BUSYBOX, bundle.join("rootfs/bin/busybox")).unwrap();
    for a in applets {
        std::os::unix::fs::symlink("busybox", bundle.join("rootfs/bin").join(a)).unwrap();
    }
    chown_r(t.path(), uid);
    (t, hull, bundle, xdg)
}

#[test]
fn an_unprivileged_user_runs_busybox_with_the_default_rootless_spec() {
    let uid = test_user();
    let (_dir, hull, bundle, xdg) = user_files(uid, "rootless", &["sh", "id", "cat", "ls"]);

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

/// The start of the test user's subordinate id range in `/etc/subuid` and `/etc/subgid`,
/// adding one if the user has none (the test's own setup, like creating the user; useradd
/// on Debian usually allocates one already). Both files get the same start.
fn ensure_subids() -> u32 {
    let entry = |f: &str| -> Option<(u32, u32)> {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        text.lines().find_map(|l| {
            let mut p = l.split(':');
            (p.next()? == USER).then(|| Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?)))?
        })
    };
    match (entry("/etc/subuid"), entry("/etc/subgid")) {
        (Some((u, un)), Some((g, gn))) if u == g && un >= 65536 && gn >= 65536 => u,
        _ => {
            let start = 300_000u32;
            for f in ["/etc/subuid", "/etc/subgid"] {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                let mut t: String = text
                    .lines()
                    .filter(|l| !l.starts_with(&format!("{USER}:")))
                    .map(|l| format!("{l}\n"))
                    .collect();
                t.push_str(&format!("{USER}:{start}:65536\n"));
                std::fs::write(f, t).unwrap();
            }
            start
        }
    }
}

/// Mapping more than one's own id goes through newuidmap/newgidmap (setuid helpers that
/// check /etc/subuid and /etc/subgid).
#[test]
fn an_unprivileged_user_maps_a_subordinate_range_through_newuidmap() {
    assert!(
        std::path::Path::new("/usr/bin/newuidmap").exists(),
        "install uidmap (the test command does)"
    );
    let uid = test_user();
    let start = {
        let _guard = USER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        ensure_subids()
    };
    let (_dir, hull, bundle, xdg) = user_files(uid, "rootless-sub", &["sh", "cat"]);
    let o = as_user(uid, &hull, &xdg, &bundle, &["spec", "--rootless"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cfg = bundle.join("config.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    v["process"]["terminal"] = serde_json::json!(false);
    v["process"]["args"] = serde_json::json!(["cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
    let maps = serde_json::json!([
        {"containerID": 0, "hostID": uid, "size": 1},
        {"containerID": 1, "hostID": start, "size": 65536}
    ]);
    v["linux"]["uidMappings"] = maps.clone();
    v["linux"]["gidMappings"] = maps;
    std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = as_user(uid, &hull, &xdg, &bundle, &["run", "rootless-sub"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let uid_s = uid.to_string();
    let start_s = start.to_string();
    let want = [
        vec!["0", uid_s.as_str(), "1"],
        vec!["1", start_s.as_str(), "65536"],
    ];
    assert_eq!(rows[..2], want[..], "uid_map: {out}");
    assert_eq!(rows[2..], want[..], "gid_map: {out}");
}

/// A script run by the test user as root of a user namespace of its own (`unshare -r`),
/// the way rootless podman runs its runtime: uid 0 there, `$USER` not root, and
/// `XDG_RUNTIME_DIR` set, but no privilege over the host's /run or cgroups. Every hull
/// command runs in that one namespace, as podman's do.
fn in_own_userns(uid: u32, xdg: &std::path::Path, cwd: &std::path::Path, script: &str) -> String {
    let o = user_cmd(uid, xdg)
        .arg("USER=hull-rootless-test")
        .args(["unshare", "-r", "sh", "-c", script])
        .current_dir(cwd)
        .output()
        .unwrap();
    // stderr first: the scripts end with the line the test reads last.
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    )
}

/// runc's rule for this case: state under `$XDG_RUNTIME_DIR`, no cgroup when none was
/// delegated (an error only when the config asks for limits, naming them), and exec
/// works without returning to the host's pid namespace (which needs privilege there).
#[test]
fn root_inside_a_user_namespace_is_rootless_for_state_cgroups_and_exec() {
    let uid = test_user();
    let (_dir, hull, bundle, xdg) = user_files(uid, "userns-root", &["sh", "sleep", "echo"]);
    let h = hull.display();
    let x = xdg.display();
    let out = in_own_userns(
        uid,
        &xdg,
        &bundle,
        &format!("{h} spec --rootless && echo spec-ok"),
    );
    assert!(out.contains("spec-ok"), "{out}");
    let cfg = bundle.join("config.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    v["process"]["terminal"] = serde_json::json!(false);
    v["process"]["args"] = serde_json::json!(["sleep", "100"]);
    std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();
    chown_r(&cfg, uid);

    let script = format!(
        "{h} run -d c1 </dev/null >/dev/null 2>&1; echo run=$?; \
         test -d {x}/hull/c1 && echo state-under-xdg; \
         {h} exec c1 sh -c 'echo exec-ok; exit 5'; echo exec=$?; \
         {h} delete --force c1; echo delete=$?; ls -A {x}/hull | wc -l"
    );
    let out = in_own_userns(uid, &xdg, &bundle, &script);
    for want in ["run=0", "state-under-xdg", "exec-ok", "exec=5", "delete=0"] {
        assert!(out.contains(want), "{want} missing: {out}");
    }
    assert_eq!(out.lines().last(), Some("0"), "state left: {out}");

    // Limits that cannot be enforced without a cgroup: refused, naming them.
    v["linux"]["resources"] =
        serde_json::json!({"pids": {"limit": 10}, "memory": {"limit": 1 << 26}});
    std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = in_own_userns(
        uid,
        &xdg,
        &bundle,
        &format!("{h} run -d c2 </dev/null; echo run=$?; ls -A {x}/hull | wc -l"),
    );
    assert!(out.contains("memory, pids limits"), "{out}");
    assert!(out.contains("run=1"), "{out}");
    assert_eq!(out.lines().last(), Some("0"), "state left: {out}");
}
