//! Terminals: process.terminal with runc's console-socket protocol, and `hull run`
//! relaying the pty to its caller's terminal.

use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Accept one connection and take the fd sent with SCM_RIGHTS and the message body.
pub fn receive_master(l: &UnixListener) -> (OwnedFd, String) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    let (conn, _) = l.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            fd = Some(fds[0]);
        }
    }
    let n = msg.bytes;
    let name = String::from_utf8_lossy(&buf[..n]).into_owned();
    // SAFETY: the kernel installed this fd for us.
    (
        unsafe { OwnedFd::from_raw_fd(fd.expect("no fd received")) },
        name,
    )
}

/// Read from the pty master until `want` appears (or 5 s pass).
pub fn read_until(master: &mut std::fs::File, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    while !seen.contains(want) {
        assert!(
            Instant::now() < deadline,
            "never saw {want:?}; got {seen:?}"
        );
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    seen
}

#[test]
fn console_socket_receives_the_master_and_drives_the_container() {
    let h = Hull::new();
    let b = h.bundle(&["sh"]);
    b.edit(|c| c["process"]["terminal"] = serde_json::json!(true));
    let sock = b.path().join("console.sock");
    let l = UnixListener::bind(&sock).unwrap();
    let mut run = h
        .cmd(&[
            "run",
            "--console-socket",
            sock.to_str().unwrap(),
            "--bundle",
            b.path_str(),
            &unique_id("console"),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (master, name) = receive_master(&l);
    assert_eq!(
        name, "/dev/ptmx",
        "runc sends the name /dev/ptmx with the fd"
    );
    let mut master = std::fs::File::from(master);
    master.write_all(b"tty; echo h''i; exit 3\n").unwrap();
    // runc clears ONLCR on the container's terminal: lines end in "\n" alone.
    let out = read_until(&mut master, "hi\n");
    assert!(!out.contains("hi\r\n"), "ONLCR must be off: {out:?}");
    assert!(
        out.contains("/dev/pts/0"),
        "the terminal is the container's own: {out:?}"
    );
    assert_eq!(run.wait().unwrap().code(), Some(3));
}

#[test]
fn console_size_is_applied_to_the_terminal() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "stty size"]);
    b.edit(|c| {
        c["process"]["terminal"] = serde_json::json!(true);
        c["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 101});
    });
    let sock = b.path().join("console.sock");
    let l = UnixListener::bind(&sock).unwrap();
    let mut run = h
        .cmd(&[
            "run",
            "--console-socket",
            sock.to_str().unwrap(),
            "--bundle",
            b.path_str(),
            &unique_id("size"),
        ])
        .spawn()
        .unwrap();
    let (master, _) = receive_master(&l);
    let mut master = std::fs::File::from(master);
    let out = read_until(&mut master, "33 101");
    assert!(out.contains("33 101"), "{out:?}");
    assert_eq!(run.wait().unwrap().code(), Some(0));
}

#[test]
fn create_with_a_terminal_and_no_console_socket_fails_and_leaves_nothing() {
    let h = Hull::new();
    let b = h.bundle(&["sh"]);
    b.edit(|c| c["process"]["terminal"] = serde_json::json!(true));
    let (code, err) = h.create(&b, &unique_id("notty"), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--console-socket"), "{err}");
    assert!(h.dirs().is_empty());
    let b2 = h.bundle(&["true"]);
    let (code, err) = h.create(
        &b2,
        &unique_id("nosock"),
        &["--console-socket", "/tmp/x.sock"],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("process.terminal is false"), "{err}");
    assert!(h.dirs().is_empty());
}

/// `hull run` attached to a terminal (a pty from script(1)) relays it: typed input
/// reaches the container's shell and its exit status comes back.
#[test]
fn run_relays_the_terminal_of_its_caller() {
    let h = Hull::new();
    let b = h.bundle(&["sh"]);
    b.edit(|c| c["process"]["terminal"] = serde_json::json!(true));
    let cmdline = format!(
        "{} --root {} run --bundle {} {}",
        hull_bin().display(),
        h.root.path().display(),
        b.path_str(),
        unique_id("relay")
    );
    let mut script = Command::new("script")
        .args(["-qec", &cmdline, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdin = script.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stdin
        .write_all(b"echo typed-''in-$((6*7)); exit 5\n")
        .unwrap();
    let out = script.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("typed-in-42"), "{text}");
    assert_eq!(out.status.code(), Some(5), "{text}");
}

/// A create that fails after it knows it needs a terminal has still connected to the
/// console socket, as runc does (conmon removes its socket file once a runtime connects):
/// the socket's owner sees a connection that ends with nothing sent.
#[test]
fn a_failing_create_still_connects_to_the_console_socket_and_sends_nothing() {
    let h = Hull::new();
    let b = h.bundle(&["sh"]);
    b.edit(|c| {
        c["process"]["terminal"] = serde_json::json!(true);
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/data", "type": "bind", "source": "/no/such/source",
             "options": ["rbind"]}));
    });
    let sock = b.path().join("console.sock");
    let l = UnixListener::bind(&sock).unwrap();
    let (code, err) = h.create(
        &b,
        &unique_id("sockfail"),
        &["--console-socket", sock.to_str().unwrap()],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("/no/such/source"), "{err}");
    l.set_nonblocking(true).unwrap();
    let (mut conn, _) = l
        .accept()
        .expect("hull never connected to the console socket");
    conn.set_nonblocking(false).unwrap();
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "sent {rest:?}");
    assert!(h.dirs().is_empty());
}
