//! Bind mounts whose sources hull makes on the host side for the init: idmapped binds
//! (inside a user namespace too, non-recursive unless `ridmap`, the container's own mapping
//! when the mount gives none) and sources the container's root cannot reach, built in
//! config order. Each container prints what it sees through the mounts; the host checks
//! file ownership on the source and the container's mount table.

use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::*;

/// The ids the container's user namespace maps, from host id HOST_BASE on.
const HOST_BASE: u32 = 100000;

fn overflow_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .unwrap()
        .trim()
        .to_string()
}

fn maps(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// The container gets a new user namespace mapping 0.. to `host`.., and owns its rootfs
/// (so hull may create mount points in it).
fn with_userns(b: &Bundle, host: u32) {
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = maps(0, host, 65536);
        c["linux"]["gidMappings"] = maps(0, host, 65536);
    });
    chown_rootfs(b, host);
}

fn chown_rootfs(b: &Bundle, host: u32) {
    let id = format!("{host}:{host}");
    let st = Command::new("chown")
        .args(["-hR", &id])
        .arg(b.rootfs())
        .status()
        .unwrap();
    assert!(st.success());
}

fn add_mount(b: &Bundle, m: Value) -> usize {
    let mut index = 0;
    b.edit(|c| {
        let ms = c["mounts"].as_array_mut().unwrap();
        index = ms.len();
        ms.push(m);
    });
    index
}

/// A file with these owners.
fn file(dir: &Path, name: &str, text: &str, ids: u32) {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    chown(&p, Some(ids), Some(ids)).unwrap();
}

fn owners(p: &Path) -> (u32, u32) {
    let md = std::fs::metadata(p).unwrap();
    (md.uid(), md.gid())
}

/// Host mounts that involve any of `paths` (other tests' mounts do not count).
fn host_mounts_of(paths: &[&Path]) -> Vec<String> {
    host_mounts()
        .into_iter()
        .filter(|l| paths.iter().any(|p| l.contains(&*p.to_string_lossy())))
        .collect()
}

/// Create the container, hand its init's mount table to `outside`, then start it and
/// return what it printed.
fn create_look_start(h: &Hull, b: &Bundle, outside: impl FnOnce(&str)) -> String {
    let id = unique_id("idm");
    let (code, err) = h.create(b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let st: Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    outside(&std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap());
    h.ok(&["start", &id]);
    h.wait_status(&id, "stopped");
    h.ok(&["delete", &id]);
    std::fs::read_to_string(b.path().join("stdout")).unwrap()
}

/// Whether the mount at `point` in a mountinfo text is idmapped (its per-mount options).
fn idmapped_at(mountinfo: &str, point: &str) -> bool {
    let line = mountinfo
        .lines()
        .rfind(|l| l.split_whitespace().nth(4) == Some(point))
        .unwrap_or_else(|| panic!("no mount at {point}:\n{mountinfo}"));
    let opts = line.split_whitespace().nth(5).unwrap();
    opts.split(',').any(|o| o == "idmapped")
}

/// Inside a user namespace the init cannot idmap a mount of a host filesystem itself
/// (runc's "simple idmap mount [userns]"): the source's ids show through the mount's maps
/// and a file the container writes is owned by the source ids on the host, while a plain
/// bind of the same directory shows the unmapped ids as the overflow id.
#[test]
fn idmapped_binds_work_inside_a_user_namespace() {
    let h = Hull::new();
    let src = TempDir::new("idm-src");
    chown(src.path(), Some(0), Some(0)).unwrap();
    file(src.path(), "f", "x", 0);
    file(src.path(), "g", "x", 1000);
    let b = h.bundle(&[
        "sh",
        "-c",
        "stat -c '%n %u %g' /mnt/idm/f /mnt/idm/g /mnt/plain/f; \
         touch /mnt/idm/new && echo wrote; touch /mnt/plain/x 2>/dev/null || echo refused",
    ]);
    with_userns(&b, HOST_BASE);
    let m = maps(0, HOST_BASE, 65536);
    add_mount(
        &b,
        json!({"destination": "/mnt/idm", "type": "bind", "source": src.path(),
               "options": ["bind"], "uidMappings": m, "gidMappings": m}),
    );
    add_mount(
        &b,
        json!({"destination": "/mnt/plain", "type": "bind", "source": src.path(),
               "options": ["bind"]}),
    );
    let out = create_look_start(&h, &b, |mi| {
        assert!(idmapped_at(mi, "/mnt/idm"), "{mi}");
        assert!(!idmapped_at(mi, "/mnt/plain"), "{mi}");
    });
    let o = overflow_id();
    assert_eq!(
        out,
        format!("/mnt/idm/f 0 0\n/mnt/idm/g 1000 1000\n/mnt/plain/f {o} {o}\nwrote\nrefused\n")
    );
    assert_eq!(
        owners(&src.path().join("new")),
        (0, 0),
        "written as source id 0"
    );
    assert!(!src.path().join("x").exists());
}

/// `idmap` (and plain `rbind` with maps) idmaps the top mount of the tree only; `ridmap`
/// every mount of it (runc's "non-recursive idmap", "idmap flag", "ridmap flag"). The tree
/// is the container's own, built by earlier entries: a submount shows the ids it does not
/// map as the overflow id, or mapped.
#[test]
fn idmap_maps_the_top_mount_only_and_ridmap_the_whole_tree() {
    let h = Hull::new();
    let tree = TempDir::new("idm-tree");
    let sub = TempDir::new("idm-sub");
    file(tree.path(), "f", "top", 0);
    std::fs::create_dir(tree.path().join("sub")).unwrap();
    file(sub.path(), "g", "sub", 0);
    let o = overflow_id();
    for (opts, sub_mapped) in [
        (json!(["rbind"]), false),
        (json!(["rbind", "idmap"]), false),
        (json!(["rbind", "ridmap"]), true),
    ] {
        let b = h.bundle(&["stat", "-c", "%n %u %g", "/mnt/t/f", "/mnt/t/sub/g"]);
        with_userns(&b, HOST_BASE);
        let bind = |src: &Path, dst: &str| {
            add_mount(
                &b,
                json!({"destination": dst, "type": "bind", "source": src, "options": ["bind"]}),
            )
        };
        bind(tree.path(), "/src");
        bind(sub.path(), "/src/sub");
        let m = maps(0, HOST_BASE, 65536);
        let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
        add_mount(
            &b,
            json!({"destination": "/mnt/t", "type": "bind", "source": rootfs.join("src"),
                   "options": opts, "uidMappings": m, "gidMappings": m}),
        );
        let out = create_look_start(&h, &b, |mi| {
            assert!(idmapped_at(mi, "/mnt/t"), "{opts}: {mi}");
            assert_eq!(idmapped_at(mi, "/mnt/t/sub"), sub_mapped, "{opts}: {mi}");
            assert!(!idmapped_at(mi, "/src/sub"), "{opts}: {mi}");
        });
        let want_sub = if sub_mapped {
            "0 0".to_string()
        } else {
            format!("{o} {o}")
        };
        assert_eq!(
            out,
            format!("/mnt/t/f 0 0\n/mnt/t/sub/g {want_sub}\n"),
            "{opts}"
        );
    }
}

/// `idmap` without maps of the mount's own takes the container's user namespace: the one
/// hull creates (its linux.uidMappings), or the one it joins by path (runc's "implied
/// mapping" tests). Files show with the source's ids and are written with them.
#[test]
fn idmap_without_maps_takes_the_containers_user_namespace() {
    let h = Hull::new();
    let src = TempDir::new("idm-implied");
    file(src.path(), "f", "x", 0);
    file(src.path(), "g", "x", 1000);
    let sleeper = Sleeper::new(&["--user"]);
    for f in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{}/{f}", sleeper.0.id()), "0 200000 65536\n").unwrap();
    }
    for joined in [false, true] {
        let script = format!(
            "stat -c '%u %g' /mnt/i/f /mnt/i/g; touch /mnt/i/new-{joined} && echo wrote; \
             cat /proc/self/uid_map"
        );
        let b = h.bundle(&["sh", "-c", &script]);
        if joined {
            b.edit(|c| {
                c["linux"]["namespaces"] = json!([
                    {"type": "user", "path": sleeper.ns("user")}, {"type": "pid"},
                    {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]);
            });
            chown_rootfs(&b, 200000);
        } else {
            with_userns(&b, HOST_BASE);
        }
        add_mount(
            &b,
            json!({"destination": "/mnt/i", "type": "bind", "source": src.path(),
                   "options": ["rbind", "idmap"]}),
        );
        let out = create_look_start(&h, &b, |mi| assert!(idmapped_at(mi, "/mnt/i"), "{mi}"));
        let host = if joined { "200000" } else { "100000" };
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[..3], ["0 0", "1000 1000", "wrote"], "joined={joined}");
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            ["0", host, "65536"],
            "joined={joined}: {out}"
        );
    }
    let written: Vec<_> = std::fs::read_dir(src.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("new-"))
        .collect();
    assert_eq!(written.len(), 2);
    for p in written {
        assert_eq!(owners(&p), (0, 0), "{}", p.display());
    }
}

/// Sources under a directory only the host's root may enter are made by hull for a
/// container in a user namespace (runc's mount source fds; "userns with inaccessible
/// mount"), and later mounts may take earlier ones as their source, in config order
/// (runc's "mount order" tests): a destination written with the rootfs path in front is
/// that path inside, a relative one is taken from `/` with a warning. Nothing stays
/// mounted on the host.
#[test]
fn binds_from_unreachable_sources_and_the_containers_own_tree_in_config_order() {
    for userns in [false, true] {
        let h = Hull::new();
        let locked = TempDir::new("idm-locked");
        for (d, text) in [("a", "from a"), ("b", "from b")] {
            std::fs::create_dir(locked.path().join(d)).unwrap();
            file(&locked.path().join(d), "file", text, 0);
        }
        // The mount point of b inside a's mount (the container's root may not make it).
        std::fs::create_dir(locked.path().join("a/x")).unwrap();
        std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let b = h.bundle(&[
            "cat",
            "/mnt/file",
            "/final/file",
            "/final/x/file",
            "/srv/rel/file",
        ]);
        if userns {
            with_userns(&b, HOST_BASE);
        }
        let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
        let bind = |src: &Path, dst: &str, opts: Value| {
            add_mount(
                &b,
                json!({"destination": dst, "type": "bind", "source": src, "options": opts}),
            )
        };
        bind(&locked.path().join("a"), "/mnt", json!(["bind"]));
        let inner = format!("{}/mnt/x", rootfs.display());
        bind(&locked.path().join("b"), &inner, json!(["bind"]));
        let final_opts = if userns {
            json!(["rbind", "idmap"])
        } else {
            json!(["rbind"])
        };
        bind(&rootfs.join("mnt"), "/final", final_opts);
        let rel = bind(&locked.path().join("a"), "srv/rel", json!(["bind"]));
        let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("order")]);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(0), "userns={userns}: {out} {err}");
        assert_eq!(out, "from afrom afrom bfrom a", "userns={userns}");
        assert!(
            err.contains(&format!(
                "mounts[{rel}].destination \"srv/rel\" is not absolute"
            )),
            "{err}"
        );
        let left = host_mounts_of(&[b.path(), locked.path()]);
        assert!(left.is_empty(), "userns={userns}: left mounted: {left:?}");
    }
}

/// Idmapped mounts that cannot be: each fails create with one line naming the field,
/// leaving no state, cgroup or mount; a source the parent cannot open fails with the
/// mount's label.
#[test]
fn bad_input_idmapped_mounts_fail_naming_the_field_and_leave_nothing() {
    let h = Hull::new();
    let src = TempDir::new("idm-bad");
    let m = maps(0, HOST_BASE, 65536);
    let cases: Vec<(bool, Value, Vec<&str>)> = vec![
        (
            true,
            json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                   "uidMappings": m, "gidMappings": m}),
            vec![".uidMappings/gidMappings: only bind mounts can be idmapped"],
        ),
        (
            true,
            json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                   "options": ["idmap"]}),
            vec![".options idmap/ridmap: only bind mounts can be idmapped"],
        ),
        (
            false,
            json!({"destination": "/mnt", "type": "bind", "source": src.path(),
                   "options": ["rbind", "ridmap"]}),
            vec![
                ".options idmap/ridmap",
                "linux.namespaces has no user namespace",
            ],
        ),
        (
            true,
            json!({"destination": "/mnt", "type": "bind", "source": src.path(),
                   "options": ["bind"], "uidMappings": [], "gidMappings": m}),
            vec![".uidMappings is empty"],
        ),
        (
            true,
            json!({"destination": "/mnt", "type": "bind", "source": src.path().join("gone"),
                   "options": ["bind"], "uidMappings": m, "gidMappings": m}),
            vec![
                "] bind: the parent making the source (idmapped): opening the bind source",
                "no such file or directory",
            ],
        ),
    ];
    for (userns, mount, want) in cases {
        let b = h.bundle(&["true"]);
        if userns {
            with_userns(&b, HOST_BASE);
        }
        let i = add_mount(&b, mount);
        let field = format!("mounts[{i}]");
        let mut want = want;
        want.push(&field);
        let err = assert_create_fails_cleanly(&h, &b, &want);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        let left = host_mounts_of(&[b.path(), src.path()]);
        assert!(left.is_empty(), "left mounted: {left:?} ({err})");
    }
}
