//! `hull::rootfs::prepare` + `finish` driven for real: a forked child unshares a mount
//! namespace, sets up a busybox rootfs from a config, pivots into it and reports what it
//! sees over a pipe. The host's mount table must be unchanged afterwards (the child's
//! namespace dies with it), and nothing may be created outside the rootfs.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::path::Path;

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult};
use oci_spec::runtime::Spec;

use crate::common::*;

/// What the child observed: `Ok(lines)` after a successful setup, or the setup error.
type Outcome = Result<Vec<String>, String>;

/// The test process's (the host's) mount table.
fn host_mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// Nothing the child did may show in the host's table. Other sessions share this machine
/// and may mount things of their own, so only mounts on `/` or below the test's directory
/// (the rootfs's parent) count as leaks.
fn assert_no_new_host_mounts(before: &str, rootfs: &Path) {
    let after = host_mounts();
    let scratch = rootfs.parent().unwrap();
    let leaked: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|mp| mp == "/" || Path::new(mp).starts_with(scratch))
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "mounts leaked onto the host: {leaked:#?}"
    );
}

/// A rootfs with busybox and the directories a config usually names.
fn busybox_rootfs(dir: &TempDir) -> std::path::PathBuf {
    let rootfs = dir.path().join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
    std::fs::canonicalize(&rootfs).unwrap()
}

fn spec_from(json: serde_json::Value) -> Spec {
    serde_json::from_value(json).expect("test config must parse")
}

/// Fork; in the child: new mount namespace, prepare, finish, then `probe` (run inside the
/// new root) whose lines are sent back. Returns what the child reported.
fn run_in_child(spec: &Spec, rootfs: &Path, no_pivot: bool, probe: fn() -> Vec<String>) -> Outcome {
    run_in_child_ns(spec, rootfs, no_pivot, false, probe)
}

/// Map root to root only (one id), which a process may do for itself in a new user
/// namespace: enough to be "in a user namespace" for the rootfs code.
fn map_self_as_root() -> anyhow::Result<()> {
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", "0 0 1")?;
    std::fs::write("/proc/self/gid_map", "0 0 1")?;
    Ok(())
}

fn run_in_child_ns(
    spec: &Spec,
    rootfs: &Path,
    no_pivot: bool,
    userns: bool,
    probe: fn() -> Vec<String>,
) -> Outcome {
    let before = host_mounts();
    let (rd, wr): (OwnedFd, OwnedFd) = pipe().unwrap();
    // SAFETY: the child only runs the rootfs code and plain syscalls, writes to the pipe
    // and leaves with _exit; it never returns into the test harness.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(rd);
            let result = (|| -> anyhow::Result<Vec<String>> {
                if userns {
                    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)?;
                    map_self_as_root()?;
                } else {
                    unshare(CloneFlags::CLONE_NEWNS)?;
                }
                let none = hull::rootfs::FromParent {
                    idmapped: &[],
                    ask: None,
                };
                hull::rootfs::prepare(spec, rootfs, false, &none)?;
                hull::rootfs::finish(spec, rootfs, no_pivot, false)?;
                Ok(probe())
            })();
            let msg = match result {
                Ok(lines) => format!("OK\n{}", lines.join("\n")),
                Err(e) => format!("ERR\n{e:#}"),
            };
            let b = msg.as_bytes();
            // SAFETY: writing a live buffer to our own pipe fd, then leaving at once.
            unsafe {
                libc::write(wr.as_raw_fd(), b.as_ptr().cast(), b.len());
                libc::_exit(0);
            }
        }
        ForkResult::Parent { child } => {
            drop(wr);
            let mut out = String::new();
            std::fs::File::from(rd).read_to_string(&mut out).unwrap();
            assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            assert_no_new_host_mounts(&before, rootfs);
            let mut lines = out.lines().map(str::to_string);
            match lines.next().as_deref() {
                Some("OK") => Ok(lines.collect()),
                _ => Err(lines.collect::<Vec<_>>().join("\n")),
            }
        }
    }
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l == want)
}

/// Mount options (per-mount field 6) of the mount at `point` in the child's mountinfo.
fn mount_opts(mountinfo: &str, point: &str) -> Option<String> {
    mountinfo.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.get(4) == Some(&point))
            .then(|| format!("{} {}", f[5], l.split(" - ").nth(1).unwrap_or("")))
    })
}

fn errno_of(r: std::io::Result<()>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("errno{}", e.raw_os_error().unwrap_or(0)),
    }
}

/// Probe for the full runc-default config: mounts, devices, links, paths, read-only root.
fn probe_default() -> Vec<String> {
    let mut out = Vec::new();
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for p in [
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
        "/data",
        "/etc/hostfile",
        "/proc",
    ] {
        out.push(format!(
            "mount {p} {}",
            mount_opts(&mi, p).unwrap_or_else(|| "none".into())
        ));
    }
    out.push(format!(
        "cgroup-cpu {}",
        Path::new("/sys/fs/cgroup/cpu/cgroup.procs").exists()
    ));
    // Narrowed to our own cgroup: its cgroup.procs lists this process.
    let me = std::process::id().to_string();
    let procs = std::fs::read_to_string("/sys/fs/cgroup/memory/cgroup.procs").unwrap_or_default();
    out.push(format!(
        "cgroup-memory-own {}",
        procs.lines().any(|l| l == me)
    ));
    for d in [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
        "/dev/fuse",
    ] {
        let s = match std::fs::metadata(d) {
            Ok(m) => format!(
                "{} {}:{} {:o}",
                m.file_type().is_char_device(),
                nix::sys::stat::major(m.rdev()),
                nix::sys::stat::minor(m.rdev()),
                m.mode() & 0o7777
            ),
            Err(e) => format!("missing {e}"),
        };
        out.push(format!("dev {d} {s}"));
    }
    for l in ["/dev/fd", "/dev/stdin", "/dev/stderr", "/dev/ptmx"] {
        out.push(format!("link {l} {:?}", std::fs::read_link(l).ok()));
    }
    out.push(format!(
        "root-write {}",
        errno_of(std::fs::write("/etc/new", "x"))
    ));
    out.push(format!(
        "tmpfs-write {}",
        errno_of(std::fs::write("/dev/shm/x", "x"))
    ));
    out.push(format!(
        "ro-path-write {}",
        errno_of(std::fs::write("/rodir/x", "x"))
    ));
    out.push(format!(
        "secret {:?}",
        std::fs::read_to_string("/etc/secret").map_err(|e| e.to_string())
    ));
    out.push(format!(
        "maskdir-entries {}",
        std::fs::read_dir("/maskdir")
            .map(|d| d.count())
            .unwrap_or(99)
    ));
    out.push(format!(
        "maskdir-write {}",
        errno_of(std::fs::write("/maskdir/x", "x"))
    ));
    // /proc/keys is in runc's default maskedPaths and exists on every kernel hull targets.
    out.push(format!(
        "keys {:?}",
        std::fs::metadata("/proc/keys")
            .map(|m| (
                m.file_type().is_char_device(),
                m.rdev() == nix::sys::stat::makedev(1, 3)
            ))
            .ok()
    ));
    out.push(format!(
        "proc-sys-write {}",
        errno_of(std::fs::write("/proc/sys/kernel/hostname", "x"))
    ));
    out.push(format!("cwd {:?}", std::env::current_dir().ok()));
    out
}

#[test]
fn default_config_mounts_devices_and_paths_are_set_up_with_their_flags() {
    let dir = TempDir::new("rootfs-default");
    let rootfs = busybox_rootfs(&dir);
    std::fs::write(rootfs.join("etc/secret"), "top secret").unwrap();
    std::fs::create_dir_all(rootfs.join("maskdir")).unwrap();
    std::fs::write(rootfs.join("maskdir/f"), "x").unwrap();
    std::fs::create_dir_all(rootfs.join("rodir")).unwrap();
    let host_data = dir.path().join("hostdata");
    std::fs::create_dir_all(&host_data).unwrap();
    std::fs::write(dir.path().join("hostfile"), "hello").unwrap();

    let mut c: serde_json::Value = serde_json::from_str(default_config()).unwrap();
    c["root"]["path"] = serde_json::json!(rootfs);
    let mounts = c["mounts"].as_array_mut().unwrap();
    mounts.push(serde_json::json!({"destination": "/data", "type": "bind",
        "source": host_data, "options": ["rbind", "ro", "nosuid", "noexec"]}));
    mounts.push(
        serde_json::json!({"destination": "/etc/hostfile", "source": dir.path().join("hostfile"),
        "options": ["bind", "rprivate"]}),
    );
    c["linux"]["devices"] = serde_json::json!([{"path": "/dev/fuse", "type": "c", "major": 10,
        "minor": 229, "fileMode": 0o640}]);
    c["linux"]["maskedPaths"].as_array_mut().unwrap().extend([
        serde_json::json!("/etc/secret"),
        serde_json::json!("/maskdir"),
        serde_json::json!("/nonexistent"),
    ]);
    c["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!("/rodir"));
    let spec = spec_from(c);

    let lines = run_in_child(&spec, &rootfs, false, probe_default)
        .unwrap_or_else(|e| panic!("setup failed: {e}"));
    let get = |prefix: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .cloned()
            .unwrap_or_else(|| panic!("no {prefix} in {lines:#?}"))
    };
    assert!(
        get("mount /dev ").contains("nosuid") && get("mount /dev ").contains("tmpfs"),
        "{lines:#?}"
    );
    assert!(get("mount /dev ").contains("mode=755"), "{lines:#?}");
    assert!(
        get("mount /dev/pts ").contains("devpts")
            && get("mount /dev/pts ").contains("ptmxmode=666"),
        "{lines:#?}"
    );
    assert!(
        get("mount /dev/shm ").starts_with("mount /dev/shm rw,nosuid,nodev,noexec"),
        "{lines:#?}"
    );
    assert!(get("mount /dev/mqueue ").contains("mqueue"), "{lines:#?}");
    assert!(
        get("mount /sys ").starts_with("mount /sys ro,nosuid,nodev,noexec"),
        "{lines:#?}"
    );
    assert!(
        get("mount /sys/fs/cgroup ").starts_with("mount /sys/fs/cgroup ro,"),
        "{lines:#?}"
    );
    assert!(
        get("mount /data ").starts_with("mount /data ro,nosuid,noexec"),
        "{lines:#?}"
    );
    assert!(
        get("mount /etc/hostfile ").starts_with("mount /etc/hostfile rw"),
        "{lines:#?}"
    );
    assert!(get("mount /proc ").contains("proc"), "{lines:#?}");
    assert!(has(&lines, "cgroup-cpu true"), "{lines:#?}");
    assert!(has(&lines, "cgroup-memory-own true"), "{lines:#?}");
    assert!(has(&lines, "dev /dev/null true 1:3 666"), "{lines:#?}");
    assert!(has(&lines, "dev /dev/zero true 1:5 666"), "{lines:#?}");
    assert!(has(&lines, "dev /dev/full true 1:7 666"), "{lines:#?}");
    assert!(has(&lines, "dev /dev/random true 1:8 666"), "{lines:#?}");
    assert!(has(&lines, "dev /dev/urandom true 1:9 666"), "{lines:#?}");
    assert!(has(&lines, "dev /dev/tty true 5:0 666"), "{lines:#?}");
    assert!(has(&lines, "dev /dev/fuse true 10:229 640"), "{lines:#?}");
    assert!(
        has(&lines, "link /dev/fd Some(\"/proc/self/fd\")"),
        "{lines:#?}"
    );
    assert!(
        has(&lines, "link /dev/stdin Some(\"/proc/self/fd/0\")"),
        "{lines:#?}"
    );
    assert!(
        has(&lines, "link /dev/stderr Some(\"/proc/self/fd/2\")"),
        "{lines:#?}"
    );
    assert!(
        has(&lines, "link /dev/ptmx Some(\"pts/ptmx\")"),
        "{lines:#?}"
    );
    assert!(
        has(&lines, &format!("root-write errno{}", libc::EROFS)),
        "{lines:#?}"
    );
    assert!(has(&lines, "tmpfs-write ok"), "{lines:#?}");
    assert!(
        has(&lines, &format!("ro-path-write errno{}", libc::EROFS)),
        "{lines:#?}"
    );
    assert!(has(&lines, "secret Ok(\"\")"), "{lines:#?}");
    assert!(has(&lines, "maskdir-entries 0"), "{lines:#?}");
    assert!(
        has(&lines, &format!("maskdir-write errno{}", libc::EROFS)),
        "{lines:#?}"
    );
    assert!(has(&lines, "keys Some((true, true))"), "{lines:#?}");
    assert!(
        !get("mount /dev ").contains("relatime"),
        "strictatime: {lines:#?}"
    );
    assert!(
        has(&lines, &format!("proc-sys-write errno{}", libc::EROFS)),
        "{lines:#?}"
    );
    assert!(has(&lines, "cwd Some(\"/\")"), "{lines:#?}");
    // The bind targets were created inside the rootfs, with the right kinds.
    assert!(rootfs.join("data").is_dir());
    assert!(rootfs.join("etc/hostfile").is_file());
}

fn probe_nothing() -> Vec<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mi.lines().map(|l| format!("mi {l}")).collect()
}

#[test]
fn symlinks_in_the_image_cannot_create_or_mount_anything_outside_the_rootfs() {
    let dir = TempDir::new("rootfs-evil");
    let rootfs = busybox_rootfs(&dir);
    let outside = dir.path().join("outside-dir");
    let outside_dev = dir.path().join("outside-dev");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&outside_dev).unwrap();
    symlink(&outside, rootfs.join("evil")).unwrap();
    symlink("../../../../../../../outside-dir", rootfs.join("rel")).unwrap();
    std::fs::remove_dir(rootfs.join("dev")).unwrap();
    symlink(&outside_dev, rootfs.join("dev")).unwrap();
    let host_src = dir.path().join("src");
    std::fs::create_dir_all(&host_src).unwrap();

    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/rel/y", "type": "bind", "source": host_src, "options": ["bind"]},
            {"destination": "/../../evil/z/../w", "type": "tmpfs", "source": "tmpfs"},
        ],
        "linux": {"devices": [{"path": "/dev/sub/fuse", "type": "c", "major": 10, "minor": 229}]}
    }));
    let lines = run_in_child(&spec, &rootfs, false, probe_nothing)
        .unwrap_or_else(|e| panic!("setup failed: {e}"));

    let leaked: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .chain(std::fs::read_dir(&outside_dev).unwrap())
        .collect();
    assert!(leaked.is_empty(), "created outside the rootfs: {leaked:?}");
    let inside = rootfs.join(outside.strip_prefix("/").unwrap());
    assert!(
        inside.join("x").is_dir() && inside.join("w").is_dir(),
        "absolute symlink target"
    );
    assert!(
        rootfs.join("outside-dir/y").is_dir(),
        "relative symlink clamped at the rootfs"
    );
    let inside_dev = rootfs.join(outside_dev.strip_prefix("/").unwrap());
    assert!(inside_dev
        .join("null")
        .metadata()
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(inside_dev
        .join("sub/fuse")
        .metadata()
        .unwrap()
        .file_type()
        .is_char_device());
    // Inside the container the mounts sit where the symlinks lead within the rootfs.
    let x = format!(" {} ", outside.join("x").display());
    assert!(
        lines.iter().any(|l| l.contains(&x) && l.contains("tmpfs")),
        "{lines:#?}"
    );
}

#[test]
fn a_mount_steered_into_proc_by_a_symlink_is_refused_with_its_index() {
    let dir = TempDir::new("rootfs-proc");
    let rootfs = busybox_rootfs(&dir);
    symlink("/proc/self", rootfs.join("p")).unwrap();
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/p/attr", "type": "tmpfs", "source": "tmpfs"},
        ]
    }));
    let err = run_in_child(&spec, &rootfs, false, probe_nothing).unwrap_err();
    assert!(
        err.starts_with("error mounting \"tmpfs\" to rootfs at \"/p/attr\": mounts[1] tmpfs:"),
        "{err}"
    );
    assert!(err.contains("/proc"), "{err}");
}

#[test]
fn a_bad_mount_option_error_names_the_mount() {
    let dir = TempDir::new("rootfs-badopt");
    let rootfs = busybox_rootfs(&dir);
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=lots"]},
        ]
    }));
    let err = run_in_child(&spec, &rootfs, false, probe_nothing).unwrap_err();
    assert!(
        err.starts_with(
            "error mounting \"tmpfs\" to rootfs at \"/tmp\": mounts[1] tmpfs: option size=lots"
        ) && err.contains("Invalid argument"),
        "{err}"
    );
}

#[test]
fn a_fake_dev_null_is_never_used_to_mask_paths() {
    let dir = TempDir::new("rootfs-fakenull");
    let rootfs = busybox_rootfs(&dir);
    // /dev is not mounted by the config, so the image's /dev/null (a plain file) stays.
    std::fs::write(rootfs.join("dev/null"), "").unwrap();
    std::fs::write(rootfs.join("etc/secret"), "s").unwrap();
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"maskedPaths": ["/etc/secret"]}
    }));
    let err = run_in_child(&spec, &rootfs, false, probe_nothing).unwrap_err();
    assert!(err.contains("not the null device"), "{err}");
}

fn probe_root() -> Vec<String> {
    vec![
        format!("busybox {}", Path::new("/bin/busybox").exists()),
        format!("cwd {:?}", std::env::current_dir().ok()),
    ]
}

#[test]
fn no_pivot_moves_the_rootfs_onto_root_and_chroots() {
    let dir = TempDir::new("rootfs-nopivot");
    let rootfs = busybox_rootfs(&dir);
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs, "readonly": true},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]
    }));
    let lines = run_in_child(&spec, &rootfs, true, probe_root)
        .unwrap_or_else(|e| panic!("setup failed: {e}"));
    assert_eq!(lines, ["busybox true", "cwd Some(\"/\")"]);
}

fn probe_devices() -> Vec<String> {
    ["/dev/null", "/dev/zero", "/dev/tty"]
        .iter()
        .map(|d| match std::fs::metadata(d) {
            Ok(m) => format!(
                "{d} {} {}:{}",
                m.file_type().is_char_device(),
                nix::sys::stat::major(m.rdev()),
                nix::sys::stat::minor(m.rdev())
            ),
            Err(e) => format!("{d} {e}"),
        })
        .collect()
}

#[test]
fn in_a_user_namespace_devices_are_bind_mounted_from_the_host() {
    let dir = TempDir::new("rootfs-userns");
    let rootfs = busybox_rootfs(&dir);
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs},
        "mounts": [{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
        "linux": {"maskedPaths": ["/etc/passwd-missing"]}
    }));
    let lines = run_in_child_ns(&spec, &rootfs, false, true, probe_devices)
        .unwrap_or_else(|e| panic!("setup failed: {e}"));
    assert_eq!(
        lines,
        [
            "/dev/null true 1:3",
            "/dev/zero true 1:5",
            "/dev/tty true 5:0"
        ]
    );
}

fn probe_root_propagation() -> Vec<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mi.lines()
        .filter(|l| l.split(' ').nth(4) == Some("/"))
        .map(|l| format!("root-shared {}", l.contains(" shared:")))
        .collect()
}

#[test]
fn rshared_rootfs_propagation_leaves_the_new_root_shared() {
    let dir = TempDir::new("rootfs-rshared");
    let rootfs = busybox_rootfs(&dir);
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"rootfsPropagation": "rshared"}
    }));
    let lines = run_in_child(&spec, &rootfs, false, probe_root_propagation)
        .unwrap_or_else(|e| panic!("setup failed: {e}"));
    assert_eq!(lines, ["root-shared true"]);
}

fn probe_cgroup2() -> Vec<String> {
    let me = std::process::id().to_string();
    let procs = std::fs::read_to_string("/cg/cgroup.procs").unwrap_or_default();
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    vec![
        format!("own {}", procs.lines().any(|l| l == me)),
        format!(
            "opts {:?}",
            mount_opts(&mi, "/cg").map(|o| o.split(' ').take(2).collect::<Vec<_>>().join(" "))
        ),
    ]
}

#[test]
fn a_cgroup2_entry_mounts_the_hosts_v2_hierarchy_at_the_containers_cgroup() {
    let dir = TempDir::new("rootfs-cgroup2");
    let rootfs = busybox_rootfs(&dir);
    let spec = spec_from(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": rootfs},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/cg", "type": "cgroup2", "source": "cgroup", "options": ["ro", "nosuid"]},
        ]
    }));
    let lines = run_in_child(&spec, &rootfs, false, probe_cgroup2)
        .unwrap_or_else(|e| panic!("setup failed: {e}"));
    assert_eq!(
        lines,
        ["own true", "opts Some(\"ro,nosuid,relatime cgroup2\")"]
    );
}
