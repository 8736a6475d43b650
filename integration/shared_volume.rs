//! The attacker who shares a volume with the container being created (a Kubernetes pod's
//! emptyDir): a neighbour container changes, while hull creates the victim, the files the
//! victim will mount on or hull will write through. Each attack runs as real containers
//! sharing a host directory bind-mounted rw into both; the raced ones run 40 rounds with
//! a neighbour exchanging directories (renameat2 RENAME_EXCHANGE) in a tight loop. Every
//! test also checks that the host is left as it was (mounts, cgroups, processes, the
//! state root, and the host's own hostname/domainname).

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;
use crate::host_state;

const ROUNDS: usize = 40;
/// A bound on each raced test, so a wedged round fails the test instead of hanging it.
const RACE_BUDGET: Duration = Duration::from_secs(180);

/// The neighbour's weapon: exchange two names in a loop for `secs` seconds. busybox has
/// no renameat2 applet, so it is compiled here, static, for the attacker's rootfs.
const XCHG_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    time_t end = time(NULL) + atoi(argv[3]);
    while (time(NULL) < end)
        for (int i = 0; i < 256; i++)
            syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2 /* RENAME_EXCHANGE */);
    return 0;
}
"#;

fn compile_xchg(dest: &Path) {
    let src = dest.with_extension("c");
    std::fs::write(&src, XCHG_C).unwrap();
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(dest)
        .arg(&src)
        .output()
        .expect("cc (build-essential) is needed to build the attacker");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(src).unwrap();
}

/// A bind mount of `source` at `dest`.
fn bind(dest: &str, source: &Path, extra: &[&str]) -> serde_json::Value {
    let mut options = vec!["rbind"];
    options.extend_from_slice(extra);
    json!({"destination": dest, "type": "bind", "source": source, "options": options})
}

/// The neighbour container: the volume at /vol, exchanging `a` and `b` (paths under
/// /vol) for as long as the test needs. Force-deleted when the `Hull` guard drops.
fn start_exchanger(h: &Hull, volume: &Path, a: &str, b: &str) -> (String, Bundle) {
    let bundle = h.bundle(&["/xchg", a, b, "300"]);
    compile_xchg(&bundle.rootfs().join("xchg"));
    bundle.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind("/vol", volume, &["rw"]))
    });
    let id = unique_id("neighbour");
    let (code, err) = h.create(&bundle, &id, &[]);
    assert_eq!(code, Some(0), "the neighbour must start: {err}");
    h.ok(&["start", &id]);
    h.wait_status(&id, "running");
    (id, bundle)
}

/// What a failed create must leave as it was, and the host values a container must
/// never reach.
struct HostBefore {
    mounts: Vec<String>,
    hostname: String,
    domainname: String,
}

fn host_uts() -> (String, String) {
    let r = |k: &str| std::fs::read_to_string(format!("/proc/sys/kernel/{k}")).unwrap();
    (r("hostname"), r("domainname"))
}

fn snapshot(own: &[&Path]) -> HostBefore {
    let (hostname, domainname) = host_uts();
    HostBefore {
        mounts: host_state::mounts(own),
        hostname,
        domainname,
    }
}

fn assert_host_unchanged(h: &Hull, before: &HostBefore, own: &[&Path], needles: &[&str]) {
    let left = host_state::wait_no_processes(needles);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert_eq!(
        host_state::mounts(own),
        before.mounts,
        "the host's mounts changed"
    );
    assert_eq!(
        host_uts(),
        (before.hostname.clone(), before.domainname.clone()),
        "the host's hostname/domainname changed"
    );
    assert_eq!(host_state::entries(h.root.path()), Vec::<String>::new());
}

/// `hull create` must exit 1 with one stderr line naming every one of `fields`, and
/// leave no state entry, cgroup or mount behind.
fn refused(h: &Hull, b: &Bundle, id: &str, fields: &[&str]) -> String {
    let before = snapshot(&[h.root.path(), b.path()]);
    let cg = host_state::cgroups_path(&b.config_path()).unwrap();
    let (code, err) = h.create(b, id, &[]);
    if code == Some(0) {
        // Show what the attack achieved before failing.
        let o = h.run(&["start", id]);
        std::thread::sleep(Duration::from_millis(200));
        let out = std::fs::read_to_string(b.path().join("stdout")).unwrap_or_default();
        panic!(
            "create {id} succeeded; the container said {out:?} (start: {})",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    for f in fields {
        assert!(err.contains(f), "the error should name {f:?}: {err}");
    }
    assert!(host_state::cgroup_dirs_at(&cg).is_empty(), "cgroup left");
    assert_host_unchanged(h, &before, &[h.root.path(), b.path()], &[id]);
    err
}

/// A busybox rootfs owned by the attacker, with a marker saying whose it is.
fn attacker_payload(dir: &Path) -> PathBuf {
    let donor = Bundle::busybox(&["true"]);
    let payload = dir.join("payload");
    let st = Command::new("cp")
        .arg("-a")
        .arg(donor.rootfs())
        .arg(&payload)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(payload.join("attacker-root"), "").unwrap();
    payload
}

const WHOSE_ROOT: &str = "test -e /attacker-root && echo PWNED || echo victim-root";

/// The victim mounts the shared volume at /share and a second volume at /share/data;
/// the attacker left `data -> /` in the shared one. Mounting there would cover the
/// victim's own root with the attacker's tree, which hull would then pivot into (the
/// volumes come first, so /proc and /dev are then mounted in the attacker's tree).
#[test]
fn a_volume_symlink_to_root_cannot_cover_the_containers_root() {
    let h = Hull::new();
    let dir = TempDir::new("vol-root");
    let volume = dir.path().join("volume");
    std::fs::create_dir(&volume).unwrap();
    symlink("/", volume.join("data")).unwrap();
    let payload = attacker_payload(dir.path());
    let b = h.bundle(&["sh", "-c", WHOSE_ROOT]);
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.insert(0, bind("/share", &volume, &[]));
        m.insert(1, bind("/share/data", &payload, &["ro"]));
    });
    let n = 1;
    let err = refused(
        &h,
        &b,
        &unique_id("volroot"),
        &[
            &format!("mounts[{n}]"),
            "/share/data",
            "resolves to the container's root",
        ],
    );
    assert!(err.contains("refusing to operate on /"), "{err}");
}

/// The same, raced: the neighbour flips `data` between a directory and a symlink to `/`.
/// Each round the mount lands on the directory or is refused; never over the root.
#[test]
fn a_volume_entry_flipping_to_a_root_symlink_never_covers_the_root() {
    let h = Hull::new();
    let dir = TempDir::new("vol-flip");
    let volume = dir.path().join("volume");
    std::fs::create_dir_all(volume.join("data")).unwrap();
    symlink("/", volume.join("link")).unwrap();
    let payload = attacker_payload(dir.path());
    let before = snapshot(&[h.root.path(), dir.path()]);
    let (neighbour, _nb) = start_exchanger(&h, &volume, "/vol/data", "/vol/link");

    let b = h.bundle(&["sh", "-c", WHOSE_ROOT]);
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.insert(0, bind("/share", &volume, &[]));
        m.insert(1, bind("/share/data", &payload, &["ro"]));
    });
    let (mut pwned, mut safe, mut refusals) = (0, 0, 0);
    let mut other = Vec::new();
    let deadline = Instant::now() + RACE_BUDGET;
    for _ in 0..ROUNDS {
        assert!(Instant::now() < deadline, "the race took too long");
        let id = unique_id("flip");
        let o = h.run(&["run", "--bundle", b.path_str(), &id]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        match out.trim() {
            "PWNED" => pwned += 1,
            "victim-root" => safe += 1,
            _ if err.contains("resolves to the container's root") => refusals += 1,
            _ => other.push(err),
        }
        let _ = h.run(&["delete", "--force", &id]);
    }
    assert_eq!(h.status(&neighbour), "running", "the neighbour kept racing");
    h.ok(&["delete", "--force", &neighbour]);
    assert_eq!(
        pwned, 0,
        "the attacker's tree became the victim's root in {pwned} of {ROUNDS} rounds \
         ({safe} safe, {refusals} refused, other failures: {other:?})"
    );
    assert!(safe > 0 && refusals > 0, "{safe} safe, {refusals} refused");
    assert!(other.is_empty(), "unexpected failures: {other:?}");
    assert_host_unchanged(&h, &before, &[h.root.path(), dir.path()], &["t-flip-"]);
}

/// A uts namespace held by a process of the test, given to the victim by path: the
/// victim's init may die right after create (through a redirected /proc its exec fifo
/// cannot be reopened), and its uts values must still be readable.
struct Uts(std::process::Child);

impl Uts {
    fn new() -> Uts {
        Uts(Command::new("unshare")
            .args(["-u", "sleep", "600"])
            .spawn()
            .unwrap())
    }
    fn path(&self) -> String {
        // unshare execs sleep once the namespace exists: wait for that.
        let pid = self.0.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(format!("/proc/{pid}/ns/uts")).ok()
            == std::fs::read_link("/proc/self/ns/uts").ok()
        {
            assert!(Instant::now() < deadline, "unshare -u did not start");
            std::thread::sleep(Duration::from_millis(2));
        }
        format!("/proc/{pid}/ns/uts")
    }
    fn get(&self, key: &str) -> String {
        let o = Command::new("nsenter")
            .arg(format!("--uts={}", self.path()))
            .arg("cat")
            .arg(format!("/proc/sys/kernel/{key}"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

impl Drop for Uts {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The victim's namespaces with its uts namespace taken from `uts`.
fn join_uts(c: &mut serde_json::Value, uts: &Uts) {
    let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
    nss.retain(|n| n["type"] != "uts");
    nss.push(json!({"type": "uts", "path": uts.path()}));
}

/// CVE-2025-52881 class: the image's /proc is a symlink into the shared volume, where the
/// victim's proc is mounted at /vol/proc. The neighbour exchanges /vol/proc with a twin
/// directory whose `sys/kernel/hostname` is a symlink to the proc mount's
/// `sys/kernel/domainname`: a runtime that writes `linux.sysctl` through the container's
/// /proc then sets the domainname instead. Both targets are in the victim's own uts
/// namespace; the host's are checked untouched.
#[test]
fn a_sysctl_write_cannot_be_redirected_by_exchanging_proc_in_a_shared_volume() {
    let h = Hull::new();
    let dir = TempDir::new("vol-sysctl");
    let volume = dir.path().join("volume");
    for d in ["proc", "alt"] {
        let k = volume.join(d).join("sys/kernel");
        std::fs::create_dir_all(&k).unwrap();
        symlink("/vol/alt/sys/kernel/domainname", k.join("hostname")).unwrap();
    }
    let before = snapshot(&[h.root.path(), dir.path()]);
    let (neighbour, _nb) = start_exchanger(&h, &volume, "/vol/proc", "/vol/alt");

    let b = h.bundle(&["sleep", "100"]);
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    symlink("/vol/proc", b.rootfs().join("proc")).unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.retain(|m| m["destination"] != "/proc");
        m.insert(0, bind("/vol", &volume, &["rw"]));
        m.insert(
            1,
            json!({"destination": "/vol/proc", "type": "proc", "source": "proc"}),
        );
        c["linux"]["sysctl"] = json!({"kernel.hostname": "from-sysctl"});
    });
    let (mut redirected, mut ok) = (0, 0);
    let mut failures = Vec::new();
    let deadline = Instant::now() + RACE_BUDGET;
    for _ in 0..ROUNDS {
        assert!(Instant::now() < deadline, "the race took too long");
        let id = unique_id("sysctl");
        let uts = Uts::new();
        b.edit(|c| join_uts(c, &uts));
        let (code, err) = h.create(&b, &id, &[]);
        if code == Some(0) {
            let (host, domain) = (uts.get("hostname"), uts.get("domainname"));
            if domain == "from-sysctl" {
                redirected += 1;
            } else {
                assert_eq!(host, "from-sysctl", "the sysctl was written");
                ok += 1;
            }
        } else {
            failures.push(err);
        }
        let _ = h.run(&["delete", "--force", &id]);
    }
    assert_eq!(h.status(&neighbour), "running", "the neighbour kept racing");
    h.ok(&["delete", "--force", &neighbour]);
    assert_eq!(
        redirected, 0,
        "hull's sysctl write landed in kernel.domainname in {redirected} of {ROUNDS} rounds \
         ({ok} correct, failures: {failures:?})"
    );
    assert!(ok > 0, "no round succeeded: {failures:?}");
    assert_host_unchanged(&h, &before, &[h.root.path(), dir.path()], &["t-sysctl-"]);
}

/// No race needed when the image brings its own /proc: a plain directory (proc is mounted
/// elsewhere) holding `self/oom_score_adj` and `sys/kernel/hostname` as symlinks to the
/// real procfs's `sys/kernel/domainname`. hull's writes must reach the real files.
#[test]
fn oom_score_adj_and_sysctls_are_written_to_the_real_procfs_not_the_images_proc() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "100"]);
    let fake = b.rootfs().join("proc");
    std::fs::create_dir_all(fake.join("self")).unwrap();
    std::fs::create_dir_all(fake.join("sys/kernel")).unwrap();
    symlink("/p/sys/kernel/domainname", fake.join("self/oom_score_adj")).unwrap();
    symlink("/p/sys/kernel/domainname", fake.join("sys/kernel/hostname")).unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.retain(|m| m["destination"] != "/proc");
        m.push(json!({"destination": "/p", "type": "proc", "source": "proc"}));
        c["process"]["oomScoreAdj"] = json!(123);
        c["linux"]["sysctl"] = json!({"kernel.hostname": "from-sysctl"});
    });
    let uts = Uts::new();
    b.edit(|c| join_uts(c, &uts));
    let before = snapshot(&[h.root.path(), b.path()]);
    let id = unique_id("fakeproc");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let pid = h.pid(&id);
    let adj = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .unwrap_or_else(|_| "the init is gone".to_string());
    let (domain, host) = (uts.get("domainname"), uts.get("hostname"));
    h.ok(&["delete", "--force", &id]);
    assert_eq!(
        (domain.as_str(), host.as_str(), adj.trim()),
        ("(none)", "from-sysctl", "123"),
        "(domainname, hostname, oom_score_adj) of the container"
    );
    assert_host_unchanged(&h, &before, &[h.root.path(), b.path()], &[&id]);
}

/// runc's rule: proc and sysfs only on an ordinary directory, never through a symlink the
/// image (or a volume) put at the destination.
#[test]
fn proc_and_sysfs_on_a_symlinked_destination_are_refused() {
    for (dest, n) in [("proc", 0), ("sys", 5)] {
        let h = Hull::new();
        let b = h.bundle(&["true"]);
        std::fs::remove_dir(b.rootfs().join(dest)).unwrap();
        std::fs::create_dir(b.rootfs().join("elsewhere")).unwrap();
        symlink("elsewhere", b.rootfs().join(dest)).unwrap();
        refused(
            &h,
            &b,
            &unique_id("symfs"),
            &[
                &format!("mounts[{n}]"),
                &format!("/{dest}"),
                "must be mounted on ordinary directory",
            ],
        );
    }
}

/// runc's "--no-pivot must not expose bare /proc": with MS_MOVE + chroot the host's own
/// /proc is still in the container's mount namespace, and the kernel lets a nested user
/// namespace mount a fresh, unmasked proc when a fully visible one exists there.
#[test]
fn no_pivot_does_not_let_a_nested_user_namespace_mount_proc() {
    let h = Hull::new();
    let before = snapshot(&[h.root.path()]);
    let script = "mount -t proc none /proc && echo MOUNTED";
    for pivot in [true, false] {
        let b = h.bundle(&["unshare", "-mrpf", "sh", "-c", script]);
        b.edit(|c| {
            let caps = &mut c["process"]["capabilities"];
            for set in ["bounding", "permitted", "effective"] {
                caps[set].as_array_mut().unwrap().push(json!("CAP_SETFCAP"));
            }
        });
        let id = unique_id("nopivot");
        let mut args = vec!["run", "--bundle", b.path_str()];
        if !pivot {
            args.push("--no-pivot");
        }
        args.push(&id);
        let o = h.run(&args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            !out.contains("MOUNTED"),
            "pivot={pivot}: a nested user namespace mounted a bare proc"
        );
        assert!(
            err.to_lowercase().contains("permission denied")
                || err.contains("Operation not permitted"),
            "pivot={pivot}: the mount must fail for lack of permission: {err}"
        );
        let _ = h.run(&["delete", "--force", &id]);
    }
    assert_host_unchanged(&h, &before, &[h.root.path()], &["t-nopivot-"]);
}
