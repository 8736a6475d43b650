//! The cgroup v2 device filter against the real kernel: a program built from device rules is
//! attached to a cgroup2 directory this test creates (on this hybrid host, below the
//! `cgroup2` mount, /sys/fs/cgroup/unified), a forked child moves itself there and opens
//! devices, and the kernel's answers are checked. v1's devices controller plays no part
//! (the child stays in its v1 cgroups), so this proves the BPF path alone. The guard
//! detaches the programs and removes the directories, even when an assertion fails.

use crate::common::{unique_id, Hull};
use hull::cgroups::bpf_devices;
use hull::sys::bpf;
use oci_spec::runtime::LinuxDeviceCgroup;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The cgroup2 mount point, from /proc/self/mountinfo.
fn cgroup2_mount() -> PathBuf {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            (post.split_whitespace().next()? == "cgroup2")
                .then(|| PathBuf::from(pre.split_whitespace().nth(4).unwrap()))
        })
        .expect("no cgroup2 hierarchy mounted on this host")
}

/// `<cgroup2>/<test-parent>/leaf`, removed (programs detached first) on drop.
struct TestCgroup {
    parent: PathBuf,
    leaf: PathBuf,
    dir: OwnedFd,
}

impl TestCgroup {
    fn new() -> TestCgroup {
        let parent = cgroup2_mount().join(unique_id("bpfdev"));
        let leaf = parent.join("leaf");
        std::fs::create_dir_all(&leaf).unwrap();
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&leaf)
            .unwrap()
            .into();
        TestCgroup { parent, leaf, dir }
    }

    /// Fork a child that moves itself into the cgroup, opens `dev` with `flags` and exits
    /// with 0 on success or the errno. Only async-signal-safe calls in the child.
    fn open_in(&self, dev: &str, flags: i32) -> i32 {
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(self.leaf.join("cgroup.procs"))
            .unwrap();
        let path = CString::new(dev).unwrap();
        // SAFETY: the child only calls write, open and _exit on memory prepared before the
        // fork, then exits without returning into Rust.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: raw syscalls on an fd and a C string that outlive the call.
            unsafe {
                if libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(100);
                }
                let fd = libc::open(path.as_ptr(), flags | libc::O_CLOEXEC);
                if fd < 0 {
                    libc::_exit(*libc::__errno_location());
                }
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for the child we just forked.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        assert!(libc::WIFEXITED(status), "child status {status:#x}");
        let code = libc::WEXITSTATUS(status);
        assert_ne!(
            code,
            100,
            "the child could not join {}",
            self.leaf.display()
        );
        code
    }

    fn hull_programs(&self) -> usize {
        bpf_devices::attached(self.dir.as_fd()).unwrap().len()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Ok(progs) = bpf_devices::attached(self.dir.as_fd()) {
            for p in progs {
                let _ = bpf::prog_detach(self.dir.as_fd(), p.as_fd(), bpf::ATTACH_CGROUP_DEVICE);
            }
        }
        let _ = std::fs::remove_dir(&self.leaf);
        let _ = std::fs::remove_dir(&self.parent);
    }
}

fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_str(json).unwrap()
}

const SAMPLE: &str = r#"[{"allow":false,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
    {"allow":true,"type":"c","major":1,"minor":5,"access":"r"}]"#;

#[test]
fn bpf_device_filter_on_a_cgroup2_dir_is_enforced_by_the_kernel() {
    let cg = TestCgroup::new();
    // Before: nothing filters.
    assert_eq!(cg.open_in("/dev/full", libc::O_RDONLY), 0);
    bpf_devices::apply(&cg.leaf, &rules(SAMPLE)).unwrap();
    assert_eq!(cg.hull_programs(), 1);
    assert_eq!(cg.open_in("/dev/null", libc::O_RDWR), 0, "c 1:3 rwm");
    assert_eq!(cg.open_in("/dev/zero", libc::O_RDONLY), 0, "c 1:5 r");
    assert_eq!(
        cg.open_in("/dev/zero", libc::O_WRONLY),
        libc::EPERM,
        "c 1:5 w"
    );
    assert_eq!(
        cg.open_in("/dev/zero", libc::O_RDWR),
        libc::EPERM,
        "c 1:5 rw"
    );
    assert_eq!(
        cg.open_in("/dev/full", libc::O_RDONLY),
        libc::EPERM,
        "c 1:7"
    );
}

#[test]
fn attaching_again_replaces_hulls_previous_filter() {
    let cg = TestCgroup::new();
    bpf_devices::apply(&cg.leaf, &rules(SAMPLE)).unwrap();
    let full_only = r#"[{"allow":false,"access":"rwm"},
        {"allow":true,"type":"c","major":1,"minor":7,"access":"r"}]"#;
    bpf_devices::apply(&cg.leaf, &rules(full_only)).unwrap();
    assert_eq!(cg.hull_programs(), 1, "the old program was detached");
    assert_eq!(cg.open_in("/dev/full", libc::O_RDONLY), 0);
    assert_eq!(cg.open_in("/dev/null", libc::O_RDONLY), libc::EPERM);
}

#[test]
fn removing_the_cgroup_detaches_the_filter() {
    let cg = TestCgroup::new();
    bpf_devices::apply(&cg.leaf, &rules(SAMPLE)).unwrap();
    let id_before = bpf::prog_query(cg.dir.as_fd(), bpf::ATTACH_CGROUP_DEVICE).unwrap();
    assert_eq!(id_before.len(), 1);
    let dir = cg.leaf.clone();
    drop(cg);
    assert!(!Path::new(&dir).exists());
    // The program is released with the cgroup (freed asynchronously): wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while bpf::prog_fd_by_id(id_before[0]).is_ok() {
        assert!(std::time::Instant::now() < deadline, "program still loaded");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_rule_the_kernel_cannot_express_fails_with_the_rule_named() {
    let cg = TestCgroup::new();
    let e = bpf_devices::apply(
        &cg.leaf,
        &rules(r#"[{"allow":true,"type":"c","major":8589934592,"access":"rw"}]"#),
    )
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("linux.resources.devices[0].major"),
        "{e:#}"
    );
    assert_eq!(cg.hull_programs(), 0);
}

#[test]
fn container_cannot_use_a_device_outside_its_rules() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "mknod /dev/kmsgx c 1 11 || exit 3; \
         echo probe > /dev/kmsgx && echo allowed || echo denied; \
         echo ok > /dev/null && echo null-ok",
    ]);
    b.edit(|c| {
        // runc's default capabilities lack CAP_MKNOD; the probe node needs it.
        for set in ["bounding", "effective", "permitted"] {
            if let Some(caps) = c["process"]["capabilities"][set].as_array_mut() {
                caps.push(serde_json::json!("CAP_MKNOD"));
            }
        }
        c["linux"]["resources"]["devices"] = serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwm"}
        ]);
    });
    let id = unique_id("bpfdev");
    let o = h.run(&["run", "--bundle", b.path_str(), &id]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout={out} stderr={}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["denied", "null-ok"]);
}

#[test]
fn a_program_the_verifier_refuses_comes_back_with_the_verifier_log() {
    // `exit` with r0 never written: the verifier rejects it and says why.
    let exit = bpf::Insn {
        code: 0x95,
        regs: 0,
        off: 0,
        imm: 0,
    };
    let mut log = vec![0u8; 4096];
    let (e, log) = bpf::prog_load(
        bpf::PROG_TYPE_CGROUP_DEVICE,
        &[exit],
        c"Apache",
        "hull_bad",
        &mut log,
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
    assert!(log.contains("R0"), "verifier log: {log}");
}

/// On this hybrid host the v1 devices controller enforces the rules (as with runc): the
/// container's cgroup2 directory gets no BPF program (loading one cost ~7% of a `run`),
/// and its devices cgroup holds the rule list.
#[test]
fn a_container_on_a_hybrid_host_is_confined_by_the_v1_devices_controller_alone() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("hybridbpf");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    let path = {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.config_path()).unwrap()).unwrap();
        v["linux"]["cgroupsPath"]
            .as_str()
            .unwrap()
            .trim_start_matches('/')
            .to_string()
    };
    let dir =
        std::fs::File::open(std::path::Path::new("/sys/fs/cgroup/unified").join(&path)).unwrap();
    let progs = hull::cgroups::bpf_devices::attached(std::os::fd::AsFd::as_fd(&dir)).unwrap();
    assert!(progs.is_empty(), "no device program on hybrid: {progs:?}");
    let list = std::fs::read_to_string(
        std::path::Path::new("/sys/fs/cgroup/devices")
            .join(&path)
            .join("devices.list"),
    )
    .unwrap();
    h.ok(&["delete", "--force", &id]);
    assert!(
        !list.contains("a *:* rwm"),
        "devices.list allows all: {list}"
    );
    assert!(
        list.contains("c 1:3 rwm"),
        "devices.list lacks /dev/null: {list}"
    );
}
