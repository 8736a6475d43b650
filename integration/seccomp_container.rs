//! seccomp on real containers: the Docker default profile loaded by hull's init.

use crate::common::*;

/// A container with CAP_SYS_ADMIN, so that only the filter can refuse mount/unshare.
fn privileged(h: &Hull, script: &str) -> Bundle {
    let b = h.bundle(&["sh", "-c", script]);
    b.edit(|c| {
        let caps = serde_json::json!(["CAP_SYS_ADMIN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"]);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set] = caps.clone();
        }
    });
    b
}

const PROBE: &str = "mount -t tmpfs none /tmp 2>/dev/null && echo mount-ok || echo mount-denied; \
                     unshare -n true 2>/dev/null && echo unshare-ok || echo unshare-denied; \
                     echo busybox-works";

#[test]
fn docker_default_profile_denies_mount_and_unshare_in_a_container() {
    let h = Hull::new();
    let b = privileged(&h, PROBE);
    b.edit(|c| c["linux"]["seccomp"] = crate::seccomp::docker_default_oci());
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("secc")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(out, "mount-denied\nunshare-denied\nbusybox-works\n");
}

#[test]
fn without_the_profile_the_same_container_may_mount_and_unshare() {
    let h = Hull::new();
    let b = privileged(&h, PROBE);
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("nosecc")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out, "mount-ok\nunshare-ok\nbusybox-works\n", "control run");
}

#[test]
fn errno_ret_and_no_new_privileges_filter_applies_to_the_user_process() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = serde_json::json!(true);
        c["root"]["readonly"] = serde_json::json!(false);
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
        });
    });
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("errno")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Function not implemented"),
        "ENOSYS (38) expected: {out}"
    );
    assert!(out.ends_with("rc=1\n"), "{out}");
}

/// A profile that does not know openat2 (EPERM for it, as older allow-lists give): with
/// noNewPrivileges the filter is loaded before the init reopens its exec fifo through
/// hull's procfs handle, which must still work (component by component), in create+start
/// as in run (found by the runtime-tools suite, whose default profile is such a list).
#[test]
fn a_profile_denying_openat2_still_lets_the_init_reach_its_exec_fifo() {
    let h = Hull::new();
    let b = h.bundle(&["echo", "started"]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = serde_json::json!(true);
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let id = unique_id("noopenat2");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    h.ok(&["start", &id]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read_to_string(b.path().join("stdout"))
        .unwrap_or_default()
        .contains("started")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the process never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_profile_with_an_unknown_action_fails_create_and_leaves_nothing() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] =
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_BOGUS"}]})
    });
    let (code, err) = h.create(&b, &unique_id("badsecc"), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("linux.seccomp"), "{err}");
    assert!(h.dirs().is_empty());
}

#[test]
fn exec_applies_the_containers_seccomp_filter() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| {
        c["root"]["readonly"] = serde_json::json!(false);
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let id = unique_id("execsecc");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let o = h.run(&["exec", &id, "sh", "-c", "mkdir /tmp/d 2>&1; echo rc=$?"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Operation not permitted") && out.ends_with("rc=1\n"),
        "{out}"
    );
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn two_conditions_on_one_argument_deny_either_value_in_a_container() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "trap '' USR1 USR2; for s in USR1 USR2 TERM; do \
         kill -$s $$ 2>/dev/null && echo $s-sent || echo $s-denied; done",
    ]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = serde_json::json!(true);
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55,
                "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                         {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}]
        });
    });
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("seccor")]);
    let out = String::from_utf8_lossy(&o.stdout);
    // SIGTERM is let through (the shell is its pid namespace's init: ignored).
    assert_eq!(
        out,
        "USR1-denied\nUSR2-denied\nTERM-sent\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn notify_errors_use_runc_words_no_agent_and_write() {
    let h = Hull::new();
    let dir = TempDir::new("noagent");
    let sock = dir.path().join("agent.sock");
    let b = h.bundle(&["true"]);
    let notify = |names: serde_json::Value| {
        serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock.to_str().unwrap(),
            "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
        })
    };
    b.edit(|c| c["linux"]["seccomp"] = notify(serde_json::json!(["mkdir"])));
    let (code, err) = h.create(&b, &unique_id("noagent"), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("failed to connect with seccomp agent"),
        "{err}"
    );
    assert!(err.contains(sock.to_str().unwrap()), "{err}");
    b.edit(|c| c["linux"]["seccomp"] = notify(serde_json::json!(["write"])));
    let (code, err) = h.create(&b, &unique_id("notifywrite"), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("SCMP_ACT_NOTIFY cannot be used for the write syscall"),
        "{err}"
    );
    assert!(h.dirs().is_empty(), "{:?}", h.dirs());
}

#[test]
fn filter_flags_default_to_spec_allow_ignore_tsync_and_are_logged_with_debug() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "mkdir /tmp/x 2>&1; true"]);
    let run = |flags: Option<serde_json::Value>| {
        b.edit(|c| {
            let mut s = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
            });
            if let Some(f) = &flags {
                s["flags"] = f.clone();
            }
            c["linux"]["seccomp"] = s;
        });
        let o = h.run(&[
            "--debug",
            "run",
            "--bundle",
            b.path_str(),
            &unique_id("flags"),
        ]);
        assert!(o.status.success(), "{o:?}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("Operation not permitted"));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(run(None).contains("msg=\"seccomp filter flags: 4\""));
    assert!(run(Some(serde_json::json!([]))).contains("msg=\"seccomp filter flags: 0\""));
    let err = run(Some(serde_json::json!([
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG"
    ])));
    assert!(err.contains("msg=\"seccomp filter flags: 2\""), "{err}");
}

#[test]
fn a_start_container_hook_killed_by_the_filter_names_the_signal_in_go_words() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = serde_json::json!(false);
        // startContainer hooks run in the container after the filter is loaded.
        c["hooks"] = serde_json::json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "mkdir /tmp/x"]}]});
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]
        });
    });
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("hooksys")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains(
            "error running startContainer hook #0: hooks.startContainer[0]: error running hook \
             /bin/sh: signal: bad system call (SIGSYS)"
        ),
        "{err}"
    );
}
