//! hull-shim on real containers: the CRI log, exit.json and `hull wait` for exits and
//! signals, reaping, a killed shim leaving the container running, and attach (socket and
//! `hull attach`). The shim binary is `target/debug/hull-shim`, built next to `hull` by
//! `cargo test --workspace` (or `cargo build -p hull-shim`).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn shim_bin() -> PathBuf {
    let p = hull_bin().with_file_name("hull-shim");
    assert!(
        p.exists(),
        "{} missing: run `cargo test --workspace` or `cargo build -p hull-shim`",
        p.display()
    );
    p
}

/// Kills the shim on drop if a test left it running (the `Hull` guard then removes the
/// container). Declared before `Hull` in `Shimmed` so it drops first.
struct ShimGuard(Option<std::os::fd::OwnedFd>);

impl Drop for ShimGuard {
    fn drop(&mut self) {
        if let Some(fd) = &self.0 {
            pidfd_kill(fd, libc::SIGKILL);
        }
    }
}

fn pidfd_kill(fd: &std::os::fd::OwnedFd, sig: i32) {
    // SAFETY: signals the process behind a pidfd this test opened; null siginfo is allowed.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        );
    }
}

fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscall; a non-negative result is a new descriptor we own.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    // SAFETY: r is a fresh descriptor nothing else owns.
    (r >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(r as i32) })
}

/// Whether the process behind `fd` has exited (zombie or reaped), waiting up to `ms`.
fn exited(fd: &std::os::fd::OwnedFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// A container started through hull-shim.
struct Shimmed {
    shim: ShimGuard,
    h: Hull,
    b: Bundle,
    id: String,
    init_pid: i32,
    shim_pid: i32,
}

impl Shimmed {
    fn start(tag: &str, args: &[&str]) -> Shimmed {
        let h = Hull::new();
        let b = h.bundle(args);
        let id = unique_id(tag);
        let o = Command::new(shim_bin())
            .arg("--hull")
            .arg(hull_bin())
            .arg("--root")
            .arg(h.root.path())
            .args(["--bundle", b.path_str(), "--id", &id])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "hull-shim failed: {out} {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let shim_pid = v["shim_pid"].as_i64().unwrap() as i32;
        Shimmed {
            shim: ShimGuard(pidfd_open(shim_pid)),
            h,
            b,
            id,
            init_pid: v["pid"].as_i64().unwrap() as i32,
            shim_pid,
        }
    }

    fn dir(&self) -> PathBuf {
        self.h.root.path().join(&self.id).join("shim")
    }

    /// `hull wait ID`: (exit status, stdout).
    fn wait(&self) -> (Option<i32>, String) {
        let o = self.h.run(&["wait", &self.id]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    }

    fn exit_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir().join("exit.json")).unwrap()).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("ctr.log")).unwrap_or_default()
    }

    /// Wait until the shim process has exited.
    fn shim_exits(&self) {
        let fd = self.shim.0.as_ref().expect("shim pidfd");
        assert!(exited(fd, 5000), "hull-shim {} still runs", self.shim_pid);
    }
}

/// The messages of one stream in a CRI log, checking every record's shape.
fn cri_messages(log: &str, stream: &str) -> Vec<String> {
    let mut out = Vec::new();
    for rec in log.lines() {
        let mut f = rec.splitn(4, ' ');
        let (ts, st, tag, msg) = (
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap_or(""),
        );
        assert!(
            ts.len() == 30 && ts.as_bytes()[10] == b'T' && ts.ends_with('Z'),
            "bad timestamp in {rec:?}"
        );
        assert!(st == "stdout" || st == "stderr", "bad stream in {rec:?}");
        assert_eq!(tag, "F", "{rec:?}");
        if st == stream {
            out.push(msg.to_string());
        }
    }
    out
}

#[test]
fn shim_logs_output_in_cri_format_and_records_exit_42() {
    let s = Shimmed::start(
        "shim42",
        &[
            "sh",
            "-c",
            "echo one; echo warn >&2; echo two; echo three; exit 42",
        ],
    );
    let (code, out) = s.wait();
    assert_eq!((code, out.as_str()), (Some(42), "42\n"));
    let ex = s.exit_json();
    assert_eq!(ex["exit_code"], 42);
    assert!(ex["signal"].is_null());
    assert_eq!(ex["oom_killed"], false);
    assert!(ex["exited_at"].as_str().unwrap().ends_with('Z'));
    let log = s.log();
    assert_eq!(
        cri_messages(&log, "stdout"),
        ["one", "two", "three"],
        "{log}"
    );
    assert_eq!(cri_messages(&log, "stderr"), ["warn"], "{log}");
    s.shim_exits();
    assert!(
        !std::path::Path::new(&format!("/proc/{}", s.init_pid)).exists(),
        "the container init was left as a zombie"
    );
    assert_eq!(s.h.status(&s.id), "stopped");
    assert!(!s.dir().join("attach.sock").exists());
    s.h.ok(&["delete", &s.id]);
    let _ = &s.b;
}

#[test]
fn a_container_killed_by_sigkill_records_signal_9() {
    let s = Shimmed::start("shimkill", &["sleep", "100"]);
    assert_eq!(s.h.status(&s.id), "running");
    s.h.ok(&["kill", &s.id, "KILL"]);
    let (code, out) = s.wait();
    assert_eq!((code, out.as_str()), (Some(137), "137\n"));
    let ex = s.exit_json();
    assert_eq!(
        (ex["exit_code"].as_i64(), ex["signal"].as_i64()),
        (Some(137), Some(9))
    );
    s.shim_exits();
}

#[test]
fn killing_the_shim_leaves_the_container_running_and_manageable() {
    let s = Shimmed::start("shimdead", &["sleep", "100"]);
    pidfd_kill(s.shim.0.as_ref().unwrap(), libc::SIGKILL);
    s.shim_exits();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(s.h.status(&s.id), "running");
    let err = String::from_utf8_lossy(&s.h.run(&["wait", &s.id]).stderr).into_owned();
    assert!(
        err.contains("is gone without recording an exit status"),
        "{err}"
    );
    s.h.ok(&["kill", &s.id, "KILL"]);
    s.h.wait_status(&s.id, "stopped");
    s.h.ok(&["delete", &s.id]);
    assert!(s.h.dirs().is_empty());
}

#[test]
fn an_attach_socket_client_sees_output_and_feeds_stdin() {
    let s = Shimmed::start(
        "shimatt",
        &["sh", "-c", "read line; echo got:$line; read again; exit 3"],
    );
    let mut c = UnixStream::connect(s.dir().join("attach.sock")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"ping\n").unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&seen).contains("got:ping\n") {
        assert!(Instant::now() < deadline, "attach saw {seen:?}");
        let mut buf = [0u8; 256];
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "attach socket closed early; saw {seen:?}");
        seen.extend_from_slice(&buf[..n]);
    }
    c.write_all(b"bye\n").unwrap();
    assert_eq!(s.wait().0, Some(3));
    assert_eq!(cri_messages(&s.log(), "stdout"), ["got:ping"]);
    // The shim closes the socket when it exits.
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    s.shim_exits();
}

#[test]
fn hull_attach_relays_piped_stdin_and_exits_with_the_container_code() {
    let s = Shimmed::start(
        "shimcli",
        &["sh", "-c", "read line; echo got:$line; exit 4"],
    );
    let mut child =
        s.h.cmd(&["attach", &s.id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
    child.stdin.take().unwrap().write_all(b"pong\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "got:pong\n");
}

#[test]
fn hull_attach_detaches_on_ctrl_p_ctrl_q_and_the_container_keeps_running() {
    let s = Shimmed::start("shimdet", &["sh", "-c", "read line; exit 0"]);
    let mut child =
        s.h.cmd(&["attach", &s.id])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"x\x10\x11").unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0));
    assert_eq!(s.h.status(&s.id), "running");
    drop(stdin);
    s.h.ok(&["kill", &s.id, "KILL"]);
    assert_eq!(s.wait().0, Some(137));
}

#[test]
fn a_failing_create_is_reported_by_the_shim_with_hulls_message() {
    let h = Hull::new();
    let b = h.bundle(&["/bin/no-such-program"]);
    let id = unique_id("shimbad");
    let o = Command::new(shim_bin())
        .arg("--hull")
        .arg(hull_bin())
        .arg("--root")
        .arg(h.root.path())
        .args(["--bundle", b.path_str(), "--id", &id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!("hull-shim: hull create {id} failed"))
            && err.contains("/bin/no-such-program"),
        "{err}"
    );
    assert!(h.dirs().is_empty(), "a failed create left {:?}", h.dirs());
}

#[test]
fn run_detach_shim_hands_the_container_to_hull_shim() {
    assert!(
        shim_bin().exists(),
        "build hull-shim: cargo build -p hull-shim"
    );
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "echo via-shim; exit 9"]);
    let id = unique_id("runshim");
    let pid_file = b.path().join("init.pid");
    h.ok(&[
        "run",
        "-d",
        "--shim",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--bundle",
        b.path_str(),
        &id,
    ]);
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(pid > 0);
    let o = h.run(&["wait", &id]);
    assert_eq!(
        o.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log = std::fs::read_to_string(h.root.path().join(&id).join("shim/ctr.log")).unwrap();
    assert!(log.contains(" stdout F via-shim"), "{log}");
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["exitStatus"]["code"], 9, "{st}");
    assert_eq!(st["exitStatus"]["oomKilled"], false, "{st}");
    h.ok(&["delete", &id]);
}

#[test]
fn an_oom_killed_container_is_reported_as_oom() {
    assert!(
        shim_bin().exists(),
        "build hull-shim: cargo build -p hull-shim"
    );
    let h = Hull::new();
    let b = h.bundle(&[
        "dd",
        "if=/dev/zero",
        "of=/dev/shm/fill",
        "bs=1M",
        "count=60",
    ]);
    b.edit(|c| c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 20 << 20}));
    let id = unique_id("shimoom");
    h.ok(&["run", "-d", "--shim", "--bundle", b.path_str(), &id]);
    let o = h.run(&["wait", &id]);
    assert_eq!(
        o.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    assert_eq!(st["exitStatus"]["signal"], 9, "{st}");
    assert_eq!(st["exitStatus"]["oomKilled"], true, "{st}");
    h.ok(&["delete", &id]);
}
