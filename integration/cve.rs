//! Regression tests for the container-escape CVEs that hit runc: the runtime binary must not
//! be reachable through /proc/PID/exe of a container init (CVE-2019-5736), and no host fd
//! may be usable as the process's cwd or leak into the user process (CVE-2024-21626).

use serde_json::json;

use crate::common::*;

/// CVE-2019-5736: while container A is `created`, its init is still the hull binary. A
/// second container in A's pid namespace sees that init as its pid 1 and tries to open and
/// overwrite /proc/1/exe. The init is non-dumpable, so the open must be refused, and the
/// host's hull binary must be unchanged.
///
/// Ignored until src/process/spawn.rs stops running `leave_parent_joins` in the cloned
/// child: today any pid namespace given by path fails create with "returning to hull's own
/// namespace after clone: Invalid argument" (the child cannot setns back to an ancestor pid
/// namespace). `a_process_in_the_init_pid_namespace_cannot_open_its_exe` covers the same
/// defence meanwhile.
#[test]
fn a_created_containers_init_does_not_expose_the_hull_binary() {
    let h = Hull::new();
    let bin_before = std::fs::read(hull_bin()).unwrap();
    let a = h.bundle(&["true"]);
    let a_id = unique_id("victim");
    let (code, err) = h.create(&a, &a_id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &a_id])).unwrap();
    let init = st["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read(format!("/proc/{init}/exe")).unwrap(),
        bin_before,
        "the created init is the hull image (through its read-only view)"
    );

    let script = "ls -l /proc/1/exe 2>&1; \
                  cat /proc/1/exe > /dev/null 2>/tmp/e && echo read=ok || echo read=$(cat /tmp/e); \
                  echo x 2>/tmp/e >> /proc/1/exe && echo write=ok || echo write=$(cat /tmp/e)";
    let b = h.bundle(&["sh", "-c", script]);
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["namespaces"] = json!([
            {"type": "pid", "path": format!("/proc/{init}/ns/pid")},
            {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
    });
    let id = unique_id("attacker");
    let o = h.run(&["run", "--bundle", b.path_str(), &id]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        out.lines()
            .next()
            .unwrap_or_default()
            .contains("Permission denied"),
        "readlink of /proc/1/exe must be refused: {out}"
    );
    assert!(line("read").contains("Permission denied"), "{out}");
    assert!(line("write").contains("Permission denied"), "{out}");
    assert_eq!(h.status(&a_id), "created", "the victim is untouched");
    h.ok(&["delete", "--force", &a_id]);
    assert!(
        std::fs::read(hull_bin()).unwrap() == bin_before,
        "the hull binary was modified"
    );
}

/// The same attack without hull's own pid join: a root process without CAP_SYS_PTRACE (as in
/// every container with runc's default capabilities) enters the created init's pid
/// namespace with nsenter, mounts its own /proc and tries /proc/1/exe.
#[test]
fn a_process_in_the_init_pid_namespace_cannot_open_its_exe() {
    let h = Hull::new();
    let bin_before = std::fs::read(hull_bin()).unwrap();
    let a = h.bundle(&["true"]);
    let a_id = unique_id("victim");
    let (code, err) = h.create(&a, &a_id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &a_id])).unwrap();
    let init = st["pid"].to_string();
    let o = std::process::Command::new("nsenter")
        .args([
            "-t",
            &init,
            "-p",
            "--",
            "unshare",
            "-m",
            "--mount-proc",
            "-f",
            "--",
        ])
        .args([
            "setpriv",
            "--bounding-set=-sys_ptrace",
            "--inh-caps=-all",
            "--",
        ])
        .args([
            "sh",
            "-c",
            "echo pid=$(readlink /proc/self/ns/pid); \
             ls -l /proc/1/exe 2>&1 || true; \
             cat /proc/1/exe > /dev/null 2>&1 && echo read=ok || echo read=denied; \
             (echo x >> /proc/1/exe) 2>/dev/null && echo write=ok || echo write=denied",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want_ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).unwrap();
    assert!(
        out.contains(&format!("pid={}", want_ns.display())),
        "the attacker must be in the init's pid namespace: {out}"
    );
    assert!(
        out.contains("Permission denied"),
        "readlink must be refused: {out}"
    );
    assert!(!out.contains(hull_bin().to_str().unwrap()), "{out}");
    assert!(out.contains("read=denied"), "{out}");
    assert!(out.contains("write=denied"), "{out}");
    assert_eq!(h.status(&a_id), "created");
    h.ok(&["delete", "--force", &a_id]);
    assert!(
        std::fs::read(hull_bin()).unwrap() == bin_before,
        "the hull binary changed"
    );
}

/// CVE-2024-21626: a cwd of /proc/self/fd/N must never land the process in a host
/// directory through an fd the runtime left open. Either create refuses it, or the cwd is
/// inside the container (walking up from it reaches the container's own root).
#[test]
fn a_cwd_through_proc_self_fd_never_reaches_the_host() {
    let h = Hull::new();
    for n in 3..=10 {
        let b = h.bundle(&[
            "sh",
            "-c",
            "cd ../../../../../../../../..; test -e /cve-marker && test -e cve-marker \
             && echo where=inside || echo where=host:$(pwd)",
        ]);
        std::fs::write(b.rootfs().join("cve-marker"), "").unwrap();
        b.edit(|c| c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}")));
        let id = unique_id("cwd");
        let o = h.run(&["run", "--bundle", b.path_str(), &id]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        match o.status.code() {
            Some(0) => assert_eq!(out.trim(), "where=inside", "fd {n}"),
            Some(1) => assert!(err.contains("process.cwd"), "fd {n}: {err}"),
            c => panic!("fd {n}: unexpected exit {c:?}: {out} {err}"),
        }
        let _ = h.run(&["delete", "--force", &id]);
    }
    assert!(h.dirs().is_empty());
}

/// The user process holds stdio and nothing else: no directory, socket or fifo of the
/// runtime survives execve.
#[test]
fn no_runtime_fd_reaches_the_user_process() {
    let h = Hull::new();
    // `ls` is the user process (pid 1): its fd 3 is the directory it is listing.
    let b = h.bundle(&["ls", "-l", "/proc/1/fd"]);
    let id = unique_id("fds");
    let o = h.run(&["run", "--bundle", b.path_str(), &id]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    // Field 9 of `ls -l` is the fd number; ls's own directory fd (3) is gone by the time
    // it reads the link, so it prints no target.
    let fds: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(8))
        .collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{out}");
    assert!(
        !out.lines().any(|l| l.ends_with(" 3") && l.contains("->")),
        "{out}"
    );
}
