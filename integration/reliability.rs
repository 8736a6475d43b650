//! Bad input through the real binary: every malformed or impossible config, and every
//! bad id, makes `hull create` exit 1 with exactly one line on stderr naming the field to
//! fix, and leaves the host as it was (mounts, cgroups, processes, state root).

use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use crate::host_state;

/// Host state that a failed create must not change.
struct Before {
    mounts: Vec<String>,
}

fn snapshot(h: &Hull, b: &Bundle) -> Before {
    Before {
        mounts: host_state::mounts(&[h.root.path(), b.path()]),
    }
}

/// `hull create` of `b` as `id` must exit 1 with one stderr line containing every
/// string in `fields`, and leave nothing behind.
pub(crate) fn rejects(h: &Hull, b: &Bundle, id: &str, fields: &[&str]) -> String {
    let before = snapshot(h, b);
    let cg = host_state::cgroups_path(&b.config_path());
    let (code, err) = h.create(b, id, &[]);
    assert_eq!(
        code,
        Some(1),
        "create {id} should fail with 1; stderr: {err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want exactly one stderr line, got: {err:?}");
    for f in fields {
        assert!(err.contains(f), "error should name {f:?}: {err}");
    }
    assert!(
        err.len() < 2000,
        "error line too long ({} bytes)",
        err.len()
    );
    assert_host_clean(h, b, id, &before, cg.as_deref());
    err
}

fn assert_host_clean(h: &Hull, b: &Bundle, id: &str, before: &Before, cg: Option<&str>) {
    let left = host_state::wait_no_processes(&[id, b.path_str()]);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    if let Some(cg) = cg {
        let dirs = host_state::cgroup_dirs_at(cg);
        assert!(dirs.is_empty(), "cgroup dirs left behind: {dirs:?}");
    }
    assert_eq!(
        host_state::entries(h.root.path()),
        Vec::<String>::new(),
        "state root must be empty"
    );
    let after = host_state::mounts(&[h.root.path(), b.path()]);
    let added: Vec<_> = after
        .iter()
        .filter(|m| !before.mounts.contains(m))
        .collect();
    let gone: Vec<_> = before
        .mounts
        .iter()
        .filter(|m| !after.contains(m))
        .collect();
    assert!(
        added.is_empty() && gone.is_empty(),
        "host mounts changed: added {added:?}, removed {gone:?}"
    );
}

fn case(tag: &str, edit: impl FnOnce(&mut serde_json::Value), fields: &[&str]) -> String {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(edit);
    rejects(&h, &b, &unique_id(tag), fields)
}

fn raw_case(tag: &str, bytes: &[u8], fields: &[&str]) -> String {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    std::fs::write(b.config_path(), bytes).unwrap();
    rejects(&h, &b, &unique_id(tag), fields)
}

#[test]
fn bad_input_malformed_json() {
    raw_case(
        "badjson",
        b"{\"ociVersion\": \"1.0.2\", ",
        &["config.json", "JSON"],
    );
}

#[test]
fn bad_input_wrong_type() {
    case(
        "wrongtype",
        |c| c["process"]["args"] = serde_json::json!("sh -c true"),
        &["process.args"],
    );
}

#[test]
fn bad_input_missing_rootfs() {
    case(
        "norootfs",
        |c| c["root"]["path"] = serde_json::json!("no-such-rootfs"),
        &["root.path"],
    );
}

#[test]
fn bad_input_rootfs_is_a_file() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    std::fs::write(b.path().join("afile"), "x").unwrap();
    b.edit(|c| c["root"]["path"] = serde_json::json!("afile"));
    rejects(&h, &b, &unique_id("rootfile"), &["root.path"]);
}

#[test]
fn bad_input_args_name_a_missing_binary() {
    let h = Hull::new();
    let b = h.bundle(&["/bin/no-such-binary"]);
    rejects(
        &h,
        &b,
        &unique_id("nobin"),
        &["process.args", "no-such-binary"],
    );
}

#[test]
fn bad_input_cwd_is_a_file() {
    case(
        "cwdfile",
        |c| c["process"]["cwd"] = serde_json::json!("/bin/busybox"),
        &["process.cwd"],
    );
}

#[test]
fn bad_input_user_namespace_without_maps() {
    case(
        "usernomap",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}));
        },
        &["linux.uidMappings"],
    );
}

#[test]
fn bad_input_uid_map_of_unmappable_range() {
    // A map the kernel refuses (overlapping ranges) fails at write time, after clone.
    case(
        "badmap",
        |c| {
            let l = &mut c["linux"];
            l["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}));
            let m = serde_json::json!([
                {"containerID": 0, "hostID": 100000, "size": 1000},
                {"containerID": 500, "hostID": 300000, "size": 1000}
            ]);
            l["uidMappings"] = m.clone();
            l["gidMappings"] = m;
        },
        &["linux.uidMappings"],
    );
}

/// A symlink in the rootfs pointing at the host's /proc must not carry a mount there:
/// the destination resolves inside the rootfs. hull either refuses it naming the mount
/// or confines it; either way the host's mounts are unchanged.
#[test]
fn bad_input_mount_destination_through_symlink_to_host_proc_and_sys() {
    for (tag, target) in [("symproc", "/proc"), ("symsys", "/sys")] {
        let h = Hull::new();
        let b = h.bundle(&["true"]);
        std::os::unix::fs::symlink(target, b.rootfs().join("evil")).unwrap();
        b.edit(|c| {
            c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                "destination": "/evil/fs",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid"]
            }))
        });
        let id = unique_id(tag);
        let before = snapshot(&h, &b);
        let cg = host_state::cgroups_path(&b.config_path());
        let (code, err) = h.create(&b, &id, &[]);
        if code == Some(0) {
            h.ok(&["delete", "--force", &id]);
        } else {
            assert_eq!(code, Some(1), "{err}");
            assert_eq!(err.lines().count(), 1, "{err:?}");
            assert!(
                err.contains("mounts["),
                "error should name the mount: {err}"
            );
        }
        assert_host_clean(&h, &b, &id, &before, cg.as_deref());
    }
}

#[test]
fn bad_input_duplicate_namespaces() {
    case(
        "dupns",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "mount"}));
        },
        &["linux.namespaces"],
    );
}

#[test]
fn bad_input_namespace_path_of_the_wrong_type() {
    case(
        "nswrong",
        |c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            for n in ns.iter_mut() {
                if n["type"] == "network" {
                    n["path"] = serde_json::json!("/proc/self/ns/ipc");
                }
            }
        },
        &["linux.namespaces", "network"],
    );
}

#[test]
fn bad_input_namespace_path_that_is_not_a_namespace() {
    case(
        "nsfile",
        |c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            for n in ns.iter_mut() {
                if n["type"] == "ipc" {
                    n["path"] = serde_json::json!("/etc/hostname");
                }
            }
        },
        &["linux.namespaces[2].path", "not a namespace"],
    );
}

#[test]
fn bad_input_unknown_capability() {
    case(
        "unkcap",
        |c| {
            c["process"]["capabilities"]["bounding"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!("CAP_MAKE_COFFEE"))
        },
        &["process.capabilities", "CAP_MAKE_COFFEE"],
    );
}

#[test]
fn bad_input_unavailable_capability() {
    case(
        "nocap",
        |c| {
            c["process"]["capabilities"]["bounding"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!("CAP_SYS_RESOURCE"))
        },
        &["CAP_SYS_RESOURCE"],
    );
}

#[test]
fn bad_input_sysctl_outside_the_container_namespaces() {
    case(
        "sysctlhost",
        |c| c["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "10"}),
        &["linux.sysctl", "vm.swappiness"],
    );
    case(
        "sysctlnet",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "network");
            c["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
        },
        &["linux.sysctl", "net.ipv4.ip_forward"],
    );
}

#[test]
fn bad_input_device_with_bad_major_minor() {
    case(
        "devmajor",
        |c| {
            c["linux"]["devices"] = serde_json::json!([
                {"path": "/dev/bad", "type": "c", "major": -1, "minor": 3}
            ])
        },
        &["linux.devices[0].major"],
    );
    case(
        "devminor",
        |c| {
            c["linux"]["devices"] = serde_json::json!([
                {"path": "/dev/bad", "type": "c", "major": 1, "minor": 4294967296u64}
            ])
        },
        &["linux.devices[0].minor"],
    );
}

#[test]
fn bad_input_hook_that_is_missing() {
    case(
        "hookmissing",
        |c| {
            c["hooks"] = serde_json::json!({
                "createRuntime": [{"path": "/no/such/hook"}]
            })
        },
        &["hooks.createRuntime[0]", "/no/such/hook"],
    );
}

#[test]
fn bad_input_hook_that_is_not_executable() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let hook = b.path().join("hook.sh");
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o644)).unwrap();
    let hook = hook.to_str().unwrap().to_string();
    b.edit(|c| c["hooks"] = serde_json::json!({"prestart": [{"path": hook}]}));
    rejects(&h, &b, &unique_id("hooknx"), &["hooks.prestart[0]"]);
}

#[test]
fn bad_input_config_of_50_mb() {
    let mut big = b"{\"ociVersion\": \"1.0.2\", \"annotations\": {\"x\": \"".to_vec();
    big.resize(50 * 1024 * 1024, b'a');
    big.extend_from_slice(b"\"}}");
    raw_case("big", &big, &["config.json", "too large"]);
}

#[test]
fn bad_input_very_deep_json() {
    let mut deep = b"{\"ociVersion\": \"1.0.2\", \"annotations\": ".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    deep.push(b'}');
    raw_case("deep", &deep, &["config.json", "recursion limit"]);
}

#[test]
fn bad_input_invalid_utf8() {
    raw_case(
        "utf8",
        b"{\"ociVersion\": \"1.0.2\", \"hostname\": \"\xff\xfe\"}",
        &["config.json", "UTF-8"],
    );
}

#[test]
fn bad_input_ids_with_path_separators_or_dots() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let before = snapshot(&h, &b);
    for id in ["a/b", "../escape", "/abs", ".", "..", "a\nb", ""] {
        let mut args = vec!["create", "--bundle", b.path_str()];
        args.push(id);
        let err = h.fails(&args);
        assert_eq!(err.lines().count(), 1, "{id:?}: {err:?}");
        assert!(
            err.contains("id"),
            "{id:?}: error should name the id: {err}"
        );
        for cmd in [
            &["state", id][..],
            &["delete", "--force", id],
            &["start", id],
        ] {
            let err = h.fails(cmd);
            assert_eq!(err.lines().count(), 1, "{cmd:?}: {err:?}");
        }
    }
    assert_host_clean(&h, &b, "no-such-id-used", &before, None);
    assert!(!std::path::Path::new("/escape").exists());
}

/// A limit the kernel refuses is found when hull writes it, after the state directory
/// and the cgroup exist: both must go again.
#[test]
fn bad_input_cgroup_limit_the_kernel_refuses() {
    case(
        "cpuset",
        |c| c["linux"]["resources"]["cpu"] = serde_json::json!({"cpus": "4095"}),
        &["cpuset.cpus"],
    );
}

#[test]
fn bad_input_deadline_scheduler_with_a_cpuset() {
    case(
        "deadlinecpus",
        |c| {
            c["linux"]["resources"]["cpu"] = serde_json::json!({"cpus": "0"});
            c["process"]["scheduler"] = serde_json::json!({
                "policy": "SCHED_DEADLINE", "runtime": 42000, "deadline": 1000000,
                "period": 1000000
            });
        },
        &[
            "process scheduler can't be used together with AllowedCPUs",
            "process.scheduler.policy",
            "linux.resources.cpu.cpus",
        ],
    );
}
