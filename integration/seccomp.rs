//! seccomp filters compiled by hull and loaded for real in forked children: errno and
//! kill actions, argument conditions, the Docker default profile, 32-bit (`int 0x80`) and
//! x32 calls, and SCMP_ACT_NOTIFY through a listener fd.
//!
//! The test binary is multi-threaded: each child does only raw syscalls and `_exit`s with
//! a code that says which check failed (0 = all held).

use hull::security::seccomp::{self, Program};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

fn profile(v: Value) -> Program {
    let s: LinuxSeccomp = serde_json::from_value(v).unwrap();
    seccomp::compile(&s).unwrap()
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Exit(i32),
    Signal(i32),
}

/// Forks; the child loads `p`, hands the listener fd number (or -1) to `body`, and exits
/// with its result. `parent` runs meanwhile with the child's pid.
fn in_child_with(p: &Program, body: fn(i32) -> i32, parent: impl FnOnce(i32)) -> End {
    // SAFETY: the child only makes raw syscalls (load() allocates only on error, where
    // the child exits at once) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = match seccomp::load(p) {
            Ok(fd) => body(
                fd.map(|f| std::mem::ManuallyDrop::new(f).as_raw_fd())
                    .unwrap_or(-1),
            ),
            Err(_) => 100,
        };
        // SAFETY: leaving the forked child without running the parent's atexit state.
        unsafe { libc::_exit(code) };
    }
    let _reap = Reap(pid);
    parent(pid);
    let mut st = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
    std::mem::forget(_reap);
    if libc::WIFSIGNALED(st) {
        End::Signal(libc::WTERMSIG(st))
    } else {
        End::Exit(libc::WEXITSTATUS(st))
    }
}

fn in_child(p: &Program, body: fn() -> i32) -> End {
    // A non-capturing closure coerces to fn(i32) -> i32 only without captures; route the
    // body through a static slot instead of capturing it.
    thread_local!(static BODY: std::cell::Cell<Option<fn() -> i32>> = const { std::cell::Cell::new(None) });
    BODY.with(|b| b.set(Some(body)));
    in_child_with(p, |_| BODY.with(|b| b.get().map_or(101, |f| f())), |_| {})
}

/// Kills and reaps the child if the parent side of a test panics.
struct Reap(i32);
impl Drop for Reap {
    fn drop(&mut self) {
        // SAFETY: our own child; reaping it after SIGKILL.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

fn errno() -> i32 {
    // SAFETY: reading this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// `syscall(nr, args...)` -> Ok(ret) or Err(errno).
fn sys(nr: libc::c_long, a: [libc::c_long; 3]) -> Result<libc::c_long, i32> {
    // SAFETY: the tests pass arguments that make the kernel fail or act harmlessly.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2]) };
    if r == -1 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// A 32-bit syscall through `int 0x80` from this 64-bit process; returns -errno on failure.
fn int80(nr: u32, a: u32, b: u32) -> i32 {
    let ret: i32;
    // SAFETY: `int 0x80` with ebx/ecx as arguments; rbx is reserved by the compiler, so it
    // is swapped in and restored around the trap.
    unsafe {
        std::arch::asm!(
            "xchg {a:r}, rbx",
            "int 0x80",
            "xchg {a:r}, rbx",
            a = inout(reg) u64::from(a) => _,
            inlateout("eax") nr as i32 => ret,
            in("ecx") b,
        );
    }
    ret
}

#[test]
fn denied_syscall_returns_the_configured_errno_and_others_run() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77}]
    }));
    let end = in_child(&p, || {
        if sys(libc::SYS_getppid, [0; 3]) != Err(77) {
            return 1;
        }
        if sys(libc::SYS_getpid, [0; 3]).is_err() {
            return 2;
        }
        0
    });
    assert_eq!(end, End::Exit(0));
}

#[test]
fn default_errno_applies_to_unlisted_syscalls() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 99,
        "syscalls": [{"names": ["getpid", "exit_group", "exit"], "action": "SCMP_ACT_ALLOW"}]
    }));
    let end = in_child(&p, || {
        if sys(libc::SYS_getpid, [0; 3]).is_err() {
            return 1;
        }
        if sys(libc::SYS_getppid, [0; 3]) != Err(99) {
            return 2;
        }
        0
    });
    assert_eq!(end, End::Exit(0));
}

#[test]
fn personality_is_denied_only_when_arg0_matches() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_EQ"}]}]
    }));
    let end = in_child(&p, || {
        if sys(libc::SYS_personality, [0xffff_ffff, 0, 0]) != Err(libc::EPERM) {
            return 1;
        }
        // personality(0) sets the default persona the child already has.
        if sys(libc::SYS_personality, [0, 0, 0]).is_err() {
            return 2;
        }
        0
    });
    assert_eq!(end, End::Exit(0));
}

#[test]
fn kill_process_action_kills_the_child_with_sigsys() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]
    }));
    let end = in_child(&p, || {
        let _ = sys(libc::SYS_getppid, [0; 3]);
        1
    });
    assert_eq!(end, End::Signal(libc::SIGSYS));
}

#[test]
fn i386_call_is_killed_when_the_profile_does_not_list_x86() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let end = in_child(&p, || {
        int80(20, 0, 0); // i386 getpid
        1
    });
    assert_eq!(end, End::Signal(libc::SIGSYS));
}

#[test]
fn x32_call_is_killed_when_the_profile_does_not_list_x32() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let end = in_child(&p, || {
        let _ = sys(0x4000_0000 | libc::SYS_getpid, [0; 3]);
        1
    });
    assert_eq!(end, End::Signal(libc::SIGSYS));
}

#[test]
fn i386_call_follows_the_x86_rules_with_i386_numbers() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    }));
    let end = in_child(&p, || {
        if int80(64, 0, 0) != -13 {
            return 1; // i386 getppid
        }
        if int80(20, 0, 0) <= 0 {
            return 2; // i386 getpid: allowed
        }
        if sys(libc::SYS_getppid, [0; 3]) != Err(13) {
            return 3;
        }
        0
    });
    assert_eq!(end, End::Exit(0));
}

// ---- The Docker default profile ----

/// Docker's default capability set (moby `oci/caps/defaults.go`).
const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn kernel_version() -> (u32, u32) {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut it = r.trim().split(['.', '-']).map(|s| s.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// moby's profile format -> the OCI `linux.seccomp` docker generates on amd64 for a
/// container with the default capabilities (includes/excludes resolved).
pub fn docker_default_oci() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/integration/data/moby-seccomp-default.json"
    );
    let m: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let kernel = kernel_version();
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let applies = |inc: &Value, exc: &Value| {
        let caps_ok = strs(&inc["caps"])
            .iter()
            .all(|c| DOCKER_CAPS.contains(&c.as_str()));
        let arch_ok = inc["arches"].is_null() || strs(&inc["arches"]).iter().any(|a| a == "amd64");
        let kernel_ok = inc["minKernel"].as_str().map_or(true, |k| {
            let mut it = k.split('.').map(|s| s.parse::<u32>().unwrap());
            (it.next().unwrap(), it.next().unwrap()) <= kernel
        });
        let excluded = strs(&exc["caps"])
            .iter()
            .any(|c| DOCKER_CAPS.contains(&c.as_str()))
            || strs(&exc["arches"]).iter().any(|a| a == "amd64");
        caps_ok && arch_ok && kernel_ok && !excluded
    };
    let syscalls: Vec<Value> = m["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| applies(&s["includes"], &s["excludes"]))
        .map(|s| {
            let mut o = json!({"names": s["names"], "action": s["action"]});
            for k in ["errnoRet", "args"] {
                if !s[k].is_null() {
                    o[k] = s[k].clone();
                }
            }
            o
        })
        .collect();
    let amd64 = m["archMap"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["architecture"] == "SCMP_ARCH_X86_64")
        .unwrap();
    let mut arches = vec![amd64["architecture"].clone()];
    arches.extend(
        amd64["subArchitectures"]
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    json!({
        "defaultAction": m["defaultAction"],
        "defaultErrnoRet": m["defaultErrnoRet"],
        "architectures": arches,
        "syscalls": syscalls,
    })
}

#[test]
fn docker_default_profile_compiles_quickly() {
    let s: LinuxSeccomp = serde_json::from_value(docker_default_oci()).unwrap();
    let t = Instant::now();
    let n = 50;
    let mut len = 0;
    for _ in 0..n {
        len = seccomp::compile(&s).unwrap().len();
    }
    let each = t.elapsed() / n;
    eprintln!("docker default profile: {len} BPF instructions, compiled in {each:?}");
    assert!(len > 1000 && len <= 4096);
    // A loose bound: this is an unoptimized build on shared cores (about 2 ms alone).
    assert!(each.as_millis() < 100, "compile took {each:?}");
}

#[test]
fn docker_default_profile_denies_namespace_mount_and_keyring_calls() {
    let p = profile(docker_default_oci());
    let end = in_child(&p, || {
        type Got = Result<libc::c_long, i32>;
        let checks: [(i32, Got, Got); 9] = [
            (
                1,
                sys(libc::SYS_unshare, [libc::CLONE_NEWNS as _, 0, 0]),
                Err(libc::EPERM),
            ),
            (2, sys(libc::SYS_mount, [0, 0, 0]), Err(libc::EPERM)),
            (3, sys(libc::SYS_keyctl, [0, 0, 0]), Err(libc::EPERM)),
            // clone3 gets ENOSYS so that libcs fall back to clone (moby's explicit rule).
            (4, sys(libc::SYS_clone3, [0, 0, 0]), Err(libc::ENOSYS)),
            // ptrace is allowed on kernels >= 4.8 (moby's minKernel rule): a bad request
            // reaches the kernel and fails there, not with the filter's EPERM.
            (
                5,
                sys(libc::SYS_ptrace, [0x7fff_ffff, 1, 0]),
                Err(libc::ESRCH),
            ),
            (6, sys(libc::SYS_read, [-1, 0, 0]), Err(libc::EBADF)),
            (7, sys(libc::SYS_write, [-1, 0, 0]), Err(libc::EBADF)),
            // A syscall number newer than any the profile names: ENOSYS, not EPERM.
            (8, sys(1000, [0; 3]), Err(libc::ENOSYS)),
            // personality with a value outside the allowed list.
            (
                9,
                sys(libc::SYS_personality, [0x1234, 0, 0]),
                Err(libc::EPERM),
            ),
        ];
        for (code, got, want) in checks {
            if got != want {
                return code;
            }
        }
        if sys(libc::SYS_getpid, [0; 3]).is_err() {
            return 10;
        }
        0
    });
    assert_eq!(end, End::Exit(0));
}

#[test]
fn docker_default_profile_applies_to_i386_and_x32_calls() {
    let p = profile(docker_default_oci());
    let end = in_child(&p, || {
        // i386: unshare is 310, getpid 20.
        if int80(310, libc::CLONE_NEWNS as u32, 0) != -libc::EPERM {
            return 1;
        }
        if int80(20, 0, 0) <= 0 {
            return 2;
        }
        // x32: unshare is 272 | 0x40000000; the filter answers before the kernel looks
        // at whether x32 is enabled.
        if sys(0x4000_0000 | 272, [libc::CLONE_NEWNS as _, 0, 0]) != Err(libc::EPERM) {
            return 3;
        }
        if sys(0x4000_0000 | 165, [0; 3]) != Err(libc::EPERM) {
            return 4; // x32 mount
        }
        0
    });
    assert_eq!(end, End::Exit(0));
}

// ---- SCMP_ACT_NOTIFY ----

#[test]
fn notify_action_hands_a_listener_that_answers_for_the_child() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert!(p.has_listener());
    // The child reports its listener's fd number on this pipe; the parent copies the fd
    // out of the child with pidfd_getfd (as runc does) and answers the notification.
    thread_local!(static WR: std::cell::Cell<i32> = const { std::cell::Cell::new(-1) });
    let (rd, wr) = nix::unistd::pipe().unwrap();
    WR.with(|w| w.set(wr.as_raw_fd()));
    let end = in_child_with(
        &p,
        |listener| {
            let n = listener.to_ne_bytes();
            let w = WR.with(|w| w.get());
            // SAFETY: writing 4 bytes from a local buffer to the inherited pipe.
            if unsafe { libc::write(w, n.as_ptr().cast(), 4) } != 4 {
                return 1;
            }
            match sys(libc::SYS_getppid, [0; 3]) {
                Ok(4242) => 0,
                _ => 2,
            }
        },
        |child| {
            drop(wr);
            let mut n = [0u8; 4];
            nix::unistd::read(&rd, &mut n).unwrap();
            let child_fd = i32::from_ne_bytes(n);
            assert!(child_fd >= 0);
            // SAFETY: pidfd_open/pidfd_getfd on our own child; the results are new fds.
            let listener = unsafe {
                let pidfd = libc::syscall(libc::SYS_pidfd_open, child, 0);
                assert!(pidfd >= 0);
                let pidfd = OwnedFd::from_raw_fd(pidfd as i32);
                let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), child_fd, 0);
                assert!(fd >= 0, "pidfd_getfd: {}", std::io::Error::last_os_error());
                OwnedFd::from_raw_fd(fd as i32)
            };
            // SAFETY: zeroed plain-data structs filled by / read by the kernel's ioctls.
            unsafe {
                let mut req: libc::seccomp_notif = std::mem::zeroed();
                let r = libc::ioctl(
                    listener.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_RECV,
                    &mut req,
                );
                assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
                assert_eq!(req.pid as i32, child);
                assert_eq!(req.data.nr as libc::c_long, libc::SYS_getppid);
                let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
                resp.id = req.id;
                resp.val = 4242;
                let r = libc::ioctl(
                    listener.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_SEND,
                    &mut resp,
                );
                assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
            }
        },
    );
    assert_eq!(end, End::Exit(0));
}

#[test]
fn send_listener_delivers_the_fd_and_the_process_state() {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let dir = std::env::temp_dir().join(format!("hull-seccomp-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(dir.clone());
    let sock = dir.join("agent.sock");
    let agent = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let (rd, _wr) = nix::unistd::pipe().unwrap();
    let annotations = [("a".to_string(), "b".to_string())].into_iter().collect();
    let st = seccomp::ListenerState {
        id: "ctr1",
        pid: 4321,
        init_pid: 4321,
        status: hull::state::Status::Creating,
        bundle: std::path::Path::new("/bundle"),
        annotations: &annotations,
        metadata: "meta",
    };
    let sender = std::thread::scope(|s| {
        let h = s.spawn(|| seccomp::send_listener(&sock, std::os::fd::AsFd::as_fd(&rd), &st));
        let (conn, _) = agent.accept().unwrap();
        let mut buf = vec![0u8; 8192];
        let mut cmsg = nix::cmsg_space!([i32; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .unwrap();
        let fds: Vec<i32> = msg
            .cmsgs()
            .unwrap()
            .filter_map(|c| match c {
                ControlMessageOwned::ScmRights(f) => Some(f),
                _ => None,
            })
            .flatten()
            .collect();
        let n = msg.bytes;
        assert_eq!(fds.len(), 1);
        // SAFETY: the fd just received is ours to own.
        drop(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        let mut body = buf[..n].to_vec();
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut &conn, &mut rest).unwrap();
        body.extend(rest);
        (
            h.join().unwrap(),
            serde_json::from_slice::<Value>(&body).unwrap(),
        )
    });
    let (res, v) = sender;
    res.unwrap();
    assert_eq!(v["fds"], json!(["seccompFd"]));
    assert_eq!(v["pid"], 4321);
    assert_eq!(v["metadata"], "meta");
    assert_eq!(v["state"]["id"], "ctr1");
    assert_eq!(v["state"]["status"], "creating");
    assert_eq!(v["state"]["bundle"], "/bundle");
    assert_eq!(v["state"]["annotations"]["a"], "b");
    assert!(v["ociVersion"].is_string());
}
