//! What the one process-setup path gives the init and exec'd processes alike, as runc
//! gives it: HOME from the container's passwd, cwd entered while still privileged, the
//! session keyring as create decided it, a SCMP_ACT_NOTIFY listener for exec too, hooks'
//! environment and working directory, a process file without `user` or with a terminal,
//! and exec taking the config create recorded rather than the bundle's current one.

use std::io::{IoSliceMut, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::process::Stdio;

use serde_json::json;

use crate::common::*;

fn create_started(h: &Hull, b: &Bundle, tag: &str, extra: &[&str]) -> String {
    let id = unique_id(tag);
    let (code, err) = h.create(b, &id, extra);
    assert_eq!(code, Some(0), "create: {err}");
    h.ok(&["start", &id]);
    h.wait_status(&id, "running");
    id
}

fn exec_out(h: &Hull, args: &[&str]) -> String {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    h.ok(&a).trim_end().to_string()
}

fn with_passwd(b: &Bundle) {
    std::fs::write(
        b.rootfs().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n",
    )
    .unwrap();
}

#[test]
fn home_comes_from_the_containers_passwd_for_init_and_exec() {
    let h = Hull::new();
    // The init: uid 1000 gets its passwd home; an empty HOME counts as unset.
    let b = h.bundle(&["sh", "-c", "echo home=$HOME"]);
    with_passwd(&b);
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["env"] = json!(["PATH=/bin", "HOME="]);
    });
    let id = unique_id("home");
    let out = h.ok(&["run", "--bundle", b.path_str(), &id]);
    assert_eq!(out.trim(), "home=/home/u");

    // exec: root's home, a user's home, "/" for a uid without an entry, and a HOME given
    // by the caller kept.
    let b = h.bundle(&["sleep", "100"]);
    with_passwd(&b);
    let id = create_started(&h, &b, "homeexec", &[]);
    assert_eq!(exec_out(&h, &[&id, "sh", "-c", "echo $HOME"]), "/root");
    assert_eq!(
        exec_out(&h, &["--user", "1000", &id, "sh", "-c", "echo $HOME"]),
        "/home/u"
    );
    assert_eq!(
        exec_out(&h, &["--user", "4242", &id, "sh", "-c", "echo $HOME"]),
        "/"
    );
    assert_eq!(
        exec_out(&h, &["--env", "HOME=/mine", &id, "sh", "-c", "echo $HOME"]),
        "/mine"
    );
}

#[test]
fn a_name_given_twice_is_in_the_environment_once_with_its_last_value() {
    let h = Hull::new();
    let b = h.bundle(&["env"]);
    b.edit(|c| c["process"]["env"] = json!(["ONE=two", "ONE=", "PATH=/bin", "TWO=a", "TWO=b"]));
    let id = unique_id("envonce");
    let out = h.ok(&["run", "--bundle", b.path_str(), &id]);
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    assert_eq!(got, ["HOME=/root", "ONE=", "PATH=/bin", "TWO=b"], "{out}");
    // exec: the recorded env with --env overriding, each name once.
    let b = h.bundle(&["sleep", "100"]);
    b.edit(|c| c["process"]["env"] = json!(["PATH=/bin", "X=1", "X=2"]));
    let id = create_started(&h, &b, "envonce", &[]);
    let out = exec_out(&h, &["--env", "X=3", &id, "env"]);
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("X="))
            .collect::<Vec<_>>(),
        ["X=3"]
    );
}

/// A cwd only its owner may enter (0700, uid 1000), and a process that is root but
/// without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: runc enters the cwd before it drops
/// capabilities, so both the init and `exec --user 0` start there.
#[test]
fn a_0700_cwd_is_entered_while_still_privileged_by_init_and_exec() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "pwd; sleep 100"]);
    let secret = b.rootfs().join("secret");
    std::fs::create_dir(&secret).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    nix::unistd::chown(&secret, Some(1000.into()), Some(1000.into())).unwrap();
    b.edit(|c| {
        c["process"]["cwd"] = json!("/secret");
        let caps = json!(["CAP_KILL", "CAP_SETUID", "CAP_SETGID"]);
        c["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps});
    });
    let id = create_started(&h, &b, "cwd0700", &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read_to_string(b.path().join("stdout"))
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the init printed nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let init_out = std::fs::read_to_string(b.path().join("stdout")).unwrap();
    assert_eq!(init_out.trim(), "/secret");
    assert_eq!(exec_out(&h, &["--user", "0", &id, "pwd"]), "/secret");
    // The same process cannot enter it once it runs (no DAC capabilities).
    let (code, _, _) = {
        let o = h.run(&["exec", "--user", "0", &id, "sh", "-c", "cd / && cd /secret"]);
        (o.status.code(), o.stdout, o.stderr)
    };
    assert_ne!(code, Some(0), "the directory must really be closed to it");
}

/// The keyring the init joined (`_ses.ID`) is the exec'd process's too; with
/// `--no-new-keyring` neither joins one (they keep the caller's).
#[test]
fn exec_gets_the_session_keyring_create_decided() {
    let h = Hull::new();
    for no_new in [false, true] {
        let b = h.bundle(&["sleep", "100"]);
        // runc's default config masks /proc/keys; this test reads it.
        b.edit(|c| {
            let m = c["linux"]["maskedPaths"].as_array_mut().unwrap();
            m.retain(|p| p != "/proc/keys");
        });
        let extra: &[&str] = if no_new { &["--no-new-keyring"] } else { &[] };
        let id = create_started(&h, &b, "keyring", extra);
        let keys = exec_out(&h, &[&id, "cat", "/proc/keys"]);
        let has = keys.contains(&format!("_ses.{id}"));
        assert_eq!(has, !no_new, "--no-new-keyring={no_new}: {keys}");
    }
}

/// `exec --process FILE` without `user` runs as root (runc's default), and with
/// `"terminal": true` gets a terminal through `--console-socket`, detached with a pid file.
#[test]
fn a_process_file_without_user_or_with_a_terminal_runs_as_runc_runs_it() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "100"]);
    let id = create_started(&h, &b, "procfile", &[]);
    let f = b.path().join("p.json");
    std::fs::write(
        &f,
        r#"{"args": ["id", "-u"], "cwd": "/", "env": ["PATH=/bin"]}"#,
    )
    .unwrap();
    assert_eq!(exec_out(&h, &["--process", f.to_str().unwrap(), &id]), "0");

    std::fs::write(
        &f,
        r#"{"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"], "terminal": true}"#,
    )
    .unwrap();
    let sock = b.path().join("tty.sock");
    let pidf = b.path().join("exec.pid");
    let l = UnixListener::bind(&sock).unwrap();
    let mut exec = h
        .cmd(&[
            "exec",
            "--process",
            f.to_str().unwrap(),
            "--console-socket",
            sock.to_str().unwrap(),
            "--detach",
            "--pid-file",
            pidf.to_str().unwrap(),
            &id,
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (master, _) = crate::terminal::receive_master(&l);
    assert!(exec.wait().unwrap().success());
    let pid: i32 = std::fs::read_to_string(&pidf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut master = std::fs::File::from(master);
    master.write_all(b"tty; echo d''one\n").unwrap();
    let out = crate::terminal::read_until(&mut master, "done");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    master.write_all(b"exit 6\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the shell did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Editing the bundle's config.json after create changes nothing exec applies: the
/// recorded seccomp filter still denies, and no_new_privs stays.
#[test]
fn exec_applies_the_config_create_recorded_not_the_edited_bundle() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "100"]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = json!(true);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1}]
        });
    });
    let id = create_started(&h, &b, "recorded", &[]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c.as_object_mut().unwrap()["linux"]
            .as_object_mut()
            .unwrap()
            .remove("seccomp");
    });
    let out = exec_out(
        &h,
        &[
            &id,
            "sh",
            "-c",
            "grep NoNewPrivs /proc/self/status; mkdir /tmp/x 2>&1 || echo denied",
        ],
    );
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("denied"), "{out}");
}

/// Hooks without `env`: prestart sees hull's own environment (runc runs it with the
/// runtime's); createContainer and startContainer, run by the init, see the container
/// process's, and createContainer runs in the rootfs.
#[test]
fn hooks_without_env_inherit_as_in_runc_and_create_container_runs_in_the_rootfs() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    // One script, in the rootfs: the host runs it by its host path, the init (for
    // startContainer, inside the container) by /hook.sh. $2 is where it appends.
    let script = b.rootfs().join("hook.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"$1 marker=$HULL_TEST_MARKER foo=$FOO pwd=$(pwd)\" >> \"$2\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = b.rootfs().join("hooks.log");
    let host_hook =
        |name: &str| json!({"path": script, "args": ["hook.sh", name, log.to_str().unwrap()]});
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["process"]["env"] = json!(["PATH=/bin", "FOO=from-process"]);
        c["hooks"] = json!({
            "prestart": [host_hook("prestart")],
            "createContainer": [host_hook("createContainer")],
            "startContainer": [{"path": "/hook.sh",
                                "args": ["hook.sh", "startContainer", "/hooks.log"]}],
        });
    });
    let id = unique_id("hookenv");
    let o = h
        .cmd(&["run", "--bundle", b.path_str(), &id])
        .env("HULL_TEST_MARKER", "from-hull")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    let line = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("prestart").contains("marker=from-hull foo= "),
        "{text}"
    );
    let cc = line("createContainer");
    assert!(cc.contains("marker= foo=from-process"), "{text}");
    assert!(
        cc.ends_with(&format!("pwd={}", b.rootfs().display())),
        "{text}"
    );
    assert!(
        line("startContainer").contains("marker= foo=from-process"),
        "{text}"
    );
}

/// An agent at `linux.seccomp.listenerPath`: answers every notified syscall with 4242, for
/// each listener it is sent; returns the process states it received.
struct Agent {
    states: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Agent {
    fn start(path: &std::path::Path) -> Agent {
        let l = UnixListener::bind(path).unwrap();
        let states = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = states.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { return };
                let (fd, state) = recv_listener(conn.as_raw_fd());
                s2.lock().unwrap().push(state);
                std::thread::spawn(move || answer(fd));
            }
        });
        Agent { states }
    }
}

fn recv_listener(sock: RawFd) -> (OwnedFd, serde_json::Value) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 16384];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            fd = Some(fds[0]);
        }
    }
    let n = msg.bytes;
    let state = serde_json::from_slice(&buf[..n]).unwrap_or(json!(null));
    // SAFETY: the kernel installed this fd for us.
    (
        unsafe { OwnedFd::from_raw_fd(fd.expect("no listener fd")) },
        state,
    )
}

fn answer(listener: OwnedFd) {
    loop {
        // SAFETY: zeroed plain-data structs filled by / read by the kernel's ioctls.
        unsafe {
            let mut req: libc::seccomp_notif = std::mem::zeroed();
            if libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut req,
            ) != 0
            {
                return;
            }
            let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
            resp.id = req.id;
            resp.val = 4242;
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                &mut resp,
            );
        }
    }
}

/// SCMP_ACT_NOTIFY in a container's profile: the init's listener and each exec'd
/// process's go to the agent, which answers getppid for both.
#[test]
fn exec_into_a_notify_container_hands_its_listener_to_the_agent() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "echo init-ppid=$PPID; sleep 100"]);
    let sock = b.path().join("agent.sock");
    let agent = Agent::start(&sock);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "meta",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let id = create_started(&h, &b, "notify", &[]);
    let out = exec_out(&h, &[&id, "sh", "-c", "echo exec-ppid=$PPID"]);
    assert_eq!(out, "exec-ppid=4242");
    let states = agent.states.lock().unwrap().clone();
    assert_eq!(states.len(), 2, "{states:?}");
    let init = states[0]["pid"].as_i64().unwrap();
    assert_eq!(states[1]["state"]["status"], "running");
    assert_eq!(states[1]["state"]["pid"].as_i64(), Some(init));
    assert_ne!(
        states[1]["pid"].as_i64(),
        Some(init),
        "the exec'd process's own pid"
    );
    assert_eq!(states[1]["metadata"], "meta");
}
