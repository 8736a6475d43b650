//! The OCI lifecycle on real busybox containers: create/start/run/kill/delete, exit codes,
//! status transitions, runc's error wording, and that delete leaves nothing behind.

use std::process::Stdio;

use crate::common::*;

fn run(h: &Hull, b: &Bundle, id: &str) -> (Option<i32>, String, String) {
    let o = h.run(&["run", "--bundle", b.path_str(), id]);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn run_exits_with_the_container_status() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "echo out; exit 7"]);
    let (code, out, err) = run(&h, &b, &unique_id("exit"));
    assert_eq!(code, Some(7), "stderr: {err}");
    assert_eq!(out, "out\n");
    assert!(
        h.dirs().is_empty(),
        "run without --keep must delete the container"
    );
}

/// `run` lets the init go on to its execve while it saves the record and prepares to start
/// it: a process that is done before `run` gets to confirm its start still counts as
/// started (its status comes back, poststart runs after startContainer, as with
/// create + start), and everything is removed.
#[test]
fn run_of_a_process_done_at_once_still_runs_the_start_hooks_in_order() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "exit 3"]);
    let log = b.path().join("hooks.log");
    let hook = |name: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo {name} >> {}", log.display())],
        })
    };
    b.edit(|c| {
        c["hooks"] = serde_json::json!({
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        })
    });
    for i in 0..5 {
        let (code, _, err) = run(&h, &b, &unique_id("quick"));
        assert_eq!(code, Some(3), "run {i}: stderr: {err}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text, "poststart\npoststop\n".repeat(5), "{text}");
    assert!(h.dirs().is_empty(), "left behind: {:?}", h.dirs());
}

/// `kill -9 $$` from inside cannot work: the kernel ignores SIGKILL sent to a pid
/// namespace's init from inside it (runc exits 0 there too). The signal comes from outside.
#[test]
fn run_of_a_container_killed_by_signal_exits_128_plus_n() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "echo ready; sleep 30"]);
    let id = unique_id("sig");
    let mut child = h
        .cmd(&["run", "--bundle", b.path_str(), &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    h.ok(&["kill", &id, "KILL"]);
    assert_eq!(child.wait().unwrap().code(), Some(137));
}

#[test]
fn sigterm_sent_to_hull_run_reaches_the_container() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done",
    ]);
    let id = unique_id("fwd");
    let mut child = h
        .cmd(&["run", "--bundle", b.path_str(), &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let st = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(st.code(), Some(42));
    assert_eq!(rest, "got-term\n");
}

#[test]
fn create_start_state_transitions_and_pid_file() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "read x; echo started"]);
    b.edit(|c| c["process"]["args"] = serde_json::json!(["sh", "-c", "sleep 0.3; echo started"]));
    let id = unique_id("life");
    let pid_file = b.path().join("init.pid");
    let (code, err) = h.create(&b, &id, &["--pid-file", pid_file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(
        st["bundle"],
        b.path().canonicalize().unwrap().to_str().unwrap()
    );
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(st["pid"], pid);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // The user process has not run yet.
    assert_eq!(
        std::fs::read_to_string(b.path().join("stdout")).unwrap(),
        ""
    );
    h.ok(&["start", &id]);
    assert_eq!(h.status(&id), "running");
    h.wait_status(&id, "stopped");
    assert_eq!(
        std::fs::read_to_string(b.path().join("stdout")).unwrap(),
        "started\n"
    );
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    assert_eq!(st["pid"], 0, "a stopped container reports pid 0");
    h.ok(&["delete", &id]);
    assert!(h.dirs().is_empty());
}

/// While it waits for `start`, the init holds beyond its stdio only what runc's own
/// fd-leak test allows: the sync socket, the exec fifo and the root of hull's procfs
/// handle. Not the directory it reopens the fifo through, nor any file of the bundle.
#[test]
fn a_created_init_holds_no_fd_beyond_stdio_sync_fifo_and_proc_root() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let id = unique_id("fds");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let pid = h.pid(&id);
    let mut seen = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let e = e.unwrap();
        let n: i32 = e.file_name().to_str().unwrap().parse().unwrap();
        let target = std::fs::read_link(e.path()).unwrap();
        let t = target.to_string_lossy().to_string();
        seen.push(format!("{n} -> {t}"));
        let allowed = n <= 2
            || t.starts_with("socket:[")
            || t.starts_with("pipe:[")
            || t.starts_with("anon_inode:")
            || t.ends_with("/exec.fifo")
            || t == "/proc"
            || t == "/";
        assert!(allowed, "fd {n} -> {t} of the created init; all: {seen:?}");
    }
    assert!(seen.iter().any(|s| s.ends_with("/exec.fifo")), "{seen:?}");
    h.ok(&["delete", "--force", &id]);
    assert!(h.dirs().is_empty());
}

#[test]
fn lifecycle_errors_use_runc_wording_and_change_nothing() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("err");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let err = h.fails(&["start", &id]);
    assert!(
        err.contains("cannot start an already running container"),
        "{err}"
    );
    let err = h.fails(&["delete", &id]);
    assert!(
        err.contains(&format!(
            "cannot delete container {id} that is not stopped: running"
        )),
        "{err}"
    );
    assert_eq!(h.status(&id), "running");
    h.ok(&["kill", &id, "KILL"]);
    h.wait_status(&id, "stopped");
    let err = h.fails(&["kill", &id, "TERM"]);
    assert!(err.contains("container not running"), "{err}");
    let err = h.fails(&["start", &id]);
    assert!(
        err.contains("cannot start a container that has stopped"),
        "{err}"
    );
    h.ok(&["delete", &id]);
    assert!(h.dirs().is_empty());
}

#[test]
fn kill_accepts_names_and_numbers_and_defaults_to_term() {
    let h = Hull::new();
    // The init traps the catchable signals and reports which one arrived.
    let script = "trap 'echo TERM; exit 0' TERM; trap 'echo INT; exit 0' INT; \
                  trap 'echo USR1; exit 0' USR1; echo ready; while true; do sleep 0.05; done";
    for (sig, want) in [
        (None, "TERM"),
        (Some("SIGINT"), "INT"),
        (Some("10"), "USR1"),
        (Some("usr1"), "USR1"),
    ] {
        let b = h.bundle(&["sh", "-c", script]);
        let id = unique_id("kill");
        assert_eq!(h.create(&b, &id, &[]).0, Some(0));
        h.ok(&["start", &id]);
        // A pid-namespace init ignores signals it has no handler for yet: wait for the traps.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(b.path().join("stdout")).unwrap_or_default() != "ready\n" {
            assert!(
                std::time::Instant::now() < deadline,
                "the init never set its traps"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut args = vec!["kill", id.as_str()];
        args.extend(sig);
        h.ok(&args);
        h.wait_status(&id, "stopped");
        let out = std::fs::read_to_string(b.path().join("stdout")).unwrap();
        assert_eq!(out, format!("ready\n{want}\n"), "kill {sig:?}");
        h.ok(&["delete", &id]);
    }
}

#[test]
fn a_created_container_stops_on_term_as_runcs_does() {
    let h = Hull::new();
    for sig in ["TERM", "INT", "HUP"] {
        let b = h.bundle(&["sleep", "100"]);
        let id = unique_id("killcreated");
        assert_eq!(h.create(&b, &id, &[]).0, Some(0));
        assert_eq!(h.status(&id), "created");
        h.ok(&["kill", &id, sig]);
        h.wait_status(&id, "stopped");
        // Never started: the user process did not run.
        assert_eq!(
            std::fs::read_to_string(b.path().join("stdout")).unwrap(),
            ""
        );
        h.ok(&["delete", &id]);
    }
}

#[test]
fn create_then_delete_force_leaves_no_process_cgroup_mount_or_file() {
    let h = Hull::new();
    let before = host_mounts();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("force");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    let pid = st["pid"].as_i64().unwrap() as i32;
    let parent = {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.config_path()).unwrap()).unwrap();
        v["linux"]["cgroupsPath"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_string()
    };
    let in_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(in_cgroup.contains(&format!("/{parent}/ctr")), "{in_cgroup}");
    assert!(!cgroup_dirs_named("ctr")
        .iter()
        .all(|p| !p.to_string_lossy().contains(&parent)));
    h.ok(&["delete", "--force", &id]);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid));
    assert!(h.dirs().is_empty(), "state dir left: {:?}", h.dirs());
    let left: Vec<_> = cgroup_dirs_named("ctr")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&parent))
        .collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
    assert_eq!(host_mounts(), before, "host mount table changed");
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

#[test]
fn duplicate_id_fails_and_leaves_the_first_untouched() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("dup");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    let b2 = h.bundle(&["true"]);
    let (code, err) = h.create(&b2, &id, &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("container \"{id}\" already exists")),
        "{err}"
    );
    assert_eq!(h.status(&id), "created");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn unknown_ids_and_missing_bundles_fail_cleanly() {
    let h = Hull::new();
    for cmd in ["state", "delete", "start", "kill"] {
        let err = h.fails(&[cmd, "nosuch"]);
        assert!(
            err.contains("container \"nosuch\" does not exist"),
            "{cmd}: {err}"
        );
    }
    let err = h.fails(&["create", "--bundle", "/nonexistent", "x"]);
    assert!(err.contains("/nonexistent"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(h.dirs().is_empty());
    let err = h.fails(&["create", "--bundle", "/tmp", "../x"]);
    assert!(err.contains("invalid container id"), "{err}");
}

#[test]
fn list_shows_containers_in_table_and_json() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("list");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    let table = h.ok(&["list"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID "));
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id) && row.contains("created"), "{row}");
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(v[0]["status"], "created");
    assert_eq!(h.ok(&["list", "-q"]), format!("{id}\n"));
    h.ok(&["delete", "--force", &id]);
    assert_eq!(h.ok(&["list", "--format", "json"]).trim(), "null");
}

#[test]
fn invalid_fixtures_fail_create_and_leave_nothing_behind() {
    let h = Hull::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("spec-fixtures/invalid");
    let mut n = 0;
    let before = host_mounts();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let t = TempDir::new("fixture");
        std::fs::create_dir(t.path().join("rootfs")).unwrap();
        std::fs::copy(&p, t.path().join("config.json")).unwrap();
        let id = unique_id("bad");
        let o = h.run(&["create", "--bundle", t.path().to_str().unwrap(), &id]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", p.display());
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{}: one line: {err}",
            p.display()
        );
        assert!(h.dirs().is_empty(), "{}: left {:?}", p.display(), h.dirs());
        n += 1;
    }
    assert!(n >= 25, "only {n} invalid fixtures");
    assert_eq!(host_mounts(), before);
}

#[test]
fn start_reports_a_missing_executable_at_create() {
    let h = Hull::new();
    let b = h.bundle(&["/no/such/binary"]);
    let id = unique_id("noexec");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("/no/such/binary"), "{err}");
    assert!(h.dirs().is_empty(), "{:?}", h.dirs());
}

/// A program found at create whose execve still fails (its interpreter is missing): as
/// with runc, `start` has succeeded by then, the init prints the error bare on the
/// container's stderr and the container exits 255.
#[test]
fn an_execve_failure_after_start_goes_to_the_container_stderr_and_exits_255() {
    let h = Hull::new();
    let b = h.bundle(&["/bad-interp"]);
    let script = b.rootfs().join("bad-interp");
    std::fs::write(&script, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (code, out, err) = run(&h, &b, &unique_id("execve"));
    assert_eq!(code, Some(255), "stdout: {out} stderr: {err}");
    assert_eq!(err, "exec /bad-interp: no such file or directory\n");
    assert!(h.dirs().is_empty(), "{:?}", h.dirs());

    let id = unique_id("execve");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    h.ok(&["start", &id]);
    h.wait_status(&id, "stopped");
    let err = std::fs::read_to_string(b.path().join("hull-stderr")).unwrap();
    assert_eq!(err, "exec /bad-interp: no such file or directory\n");
    h.ok(&["delete", &id]);
}

#[test]
fn a_hook_writing_a_lot_does_not_block_create() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| {
        c["hooks"]["prestart"] = serde_json::json!([{
            "path": "/bin/sh",
            "args": ["sh", "-c", "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2"],
            "timeout": 20
        }])
    });
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("hookio")]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn listen_fds_meant_for_another_process_are_ignored() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "echo fds=${LISTEN_FDS:-none}; ls /proc/self/fd | wc -l",
    ]);
    let o = h
        .cmd(&["run", "--bundle", b.path_str(), &unique_id("listen")])
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("fds=none\n"), "{out}");
}

#[test]
fn unbindable_root_propagation_is_applied_to_the_new_root() {
    let h = Hull::new();
    let b = h.bundle(&["cat", "/proc/self/mountinfo"]);
    b.edit(|c| c["linux"]["rootfsPropagation"] = serde_json::json!("unbindable"));
    let (code, out, err) = run(&h, &b, &unique_id("unbind"));
    assert_eq!(code, Some(0), "{err}");
    let root = out
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .expect("a mount at /");
    assert!(root.contains("unbindable"), "root mount: {root}");
}

#[test]
fn lsm_labels_for_an_absent_lsm_fail_create_clearly_and_leave_nothing() {
    let h = Hull::new();
    // Neither AppArmor nor SELinux runs on this host (see shared/host-facts.md).
    for (field, edit) in [
        (
            "process.apparmorProfile",
            serde_json::json!({"process": {"apparmorProfile": "docker-default"}}),
        ),
        (
            "process.selinuxLabel",
            serde_json::json!({"process": {"selinuxLabel": "system_u:system_r:container_t:s0"}}),
        ),
        (
            "linux.mountLabel",
            serde_json::json!({"linux": {"mountLabel": "system_u:object_r:container_file_t:s0"}}),
        ),
    ] {
        let b = h.bundle(&["true"]);
        b.edit(|c| {
            for (section, kv) in edit.as_object().unwrap() {
                for (k, v) in kv.as_object().unwrap() {
                    c[section][k] = v.clone();
                }
            }
        });
        let (code, err) = h.create(&b, &unique_id("lsm"), &[]);
        assert_eq!(code, Some(1), "{field}");
        assert!(err.contains(field) && err.contains("not enabled"), "{err}");
        assert!(h.dirs().is_empty());
    }
}

#[test]
fn user_namespace_maps_container_root_to_the_configured_host_ids() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id; sleep 30",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        let m = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["uidMappings"] = m.clone();
        c["linux"]["gidMappings"] = m;
    });
    let id = unique_id("userns");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    let pid = v["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some("100000"),
        "seen from the host the init runs as the mapped uid: {uid_line}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let out = loop {
        let out = std::fs::read_to_string(b.path().join("stdout")).unwrap();
        if out.contains("uid=") || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[1], ["0", "100000", "65536"], "{out}");
    assert!(out.contains("uid=0(root) gid=0(root)"), "{out}");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn delete_removes_a_container_whose_state_file_is_unreadable() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let id = unique_id("torn");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["delete", "--force", &id]);
    // Simulate a record torn by a host crash: a directory with a truncated state.json.
    let dir = h.root.path().join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state.json"), "{\"ociVersion\": \"1.").unwrap();
    assert!(!h.fails(&["state", &id]).is_empty());
    h.ok(&["delete", &id]);
    assert!(h.dirs().is_empty(), "{:?}", h.dirs());
}

#[test]
fn the_user_process_starts_with_default_signal_dispositions() {
    let h = Hull::new();
    // hull itself ignores SIGPIPE (Rust does); the container must not inherit that.
    let b = h.bundle(&["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"]);
    let (code, out, err) = run(&h, &b, &unique_id("sigign"));
    assert_eq!(code, Some(0), "{err}");
    for line in out.lines() {
        assert!(line.ends_with("0000000000000000"), "{out}");
    }
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn linux_fields_this_host_or_config_cannot_honour_are_refused_by_name_not_ignored() {
    let h = Hull::new();
    // intelRdt: no resctrl here; timeOffsets: the default config has no time namespace;
    // netDevices: no such host interface; memoryPolicy: no node 7 on this host.
    for (field, value) in [
        ("intelRdt", serde_json::json!({"closID": "x"})),
        (
            "timeOffsets",
            serde_json::json!({"monotonic": {"secs": 10, "nanosecs": 0}}),
        ),
        ("netDevices", serde_json::json!({"hull-no-such9": {}})),
        (
            "memoryPolicy",
            serde_json::json!({"mode": "MPOL_BIND", "nodes": "7"}),
        ),
    ] {
        let b = h.bundle(&["true"]);
        b.edit(|c| c["linux"][field] = value.clone());
        let (code, err) = h.create(&b, &unique_id("unsup"), &[]);
        assert_eq!(code, Some(1), "{field}: {err}");
        assert!(err.contains(&format!("linux.{field}")), "{err}");
        assert!(h.dirs().is_empty());
    }
}

/// No namespaces requested: the container inherits every namespace of its runtime (the
/// spec's rule). Its mounts then live on the host under the rootfs — and are gone after
/// delete (runc leaves them mounted).
#[test]
fn a_container_without_namespaces_inherits_them_and_delete_unmounts_its_host_mounts() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "for n in mnt pid net ipc uts; do readlink /proc/self/ns/$n; done; sleep 30",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"] = serde_json::json!([]);
        c.as_object_mut().unwrap().remove("hostname");
    });
    let before = host_mounts();
    let rootfs = b.rootfs().canonicalize().unwrap();
    let id = unique_id("itype");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let under = mi
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(4)
                .is_some_and(|mp| mp.starts_with(rootfs.to_str().unwrap()))
        })
        .count();
    assert!(
        under > 0,
        "the container's mounts are the host's while it exists"
    );
    h.ok(&["start", &id]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let out = loop {
        let out = std::fs::read_to_string(b.path().join("stdout")).unwrap();
        if out.lines().count() >= 5 || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let host: Vec<String> = ["mnt", "pid", "net", "ipc", "uts"]
        .iter()
        .map(|n| {
            std::fs::read_link(format!("/proc/self/ns/{n}"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        host,
        "inherited namespaces"
    );
    h.ok(&["delete", "--force", &id]);
    assert_eq!(
        host_mounts(),
        before,
        "delete must unmount everything it mounted on the host"
    );
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn wait_gone(pids: &[i32]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            std::time::Instant::now() < deadline,
            "still alive: {pids:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn kill_sigkill_without_a_pid_namespace_kills_the_whole_cgroup_even_after_the_init() {
    let h = Hull::new();
    // The init starts a second process in its cgroup, reports both pids, and waits.
    let b = h.bundle(&["sh", "-c", "sleep 300 & echo $$ $!; wait"]);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    let id = unique_id("hostpid");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    h.ok(&["start", &id]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let pids: Vec<i32> = loop {
        let out = std::fs::read_to_string(b.path().join("stdout")).unwrap();
        if out.ends_with('\n') {
            break out.split_whitespace().map(|p| p.parse().unwrap()).collect();
        }
        assert!(std::time::Instant::now() < deadline, "no pids reported");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    // Signal 0 checks, and delivers nothing.
    h.ok(&["kill", &id, "0"]);
    h.ok(&["kill", "--all", &id, "0"]);
    assert!(pids.iter().all(|p| alive(*p)), "{pids:?}");
    // The init dies alone: without its own pid namespace the sleep lives on.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids[0]),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    h.wait_status(&id, "stopped");
    assert!(alive(pids[1]));
    h.ok(&["kill", &id, "KILL"]);
    wait_gone(&pids[1..]);
    // Now nothing is left: plain kill says so, --all has nothing to do.
    let err = h.fails(&["kill", &id, "0"]);
    assert!(err.contains("container not running"), "{err}");
    h.ok(&["kill", "--all", &id, "0"]);
    h.ok(&["delete", &id]);
}

#[test]
fn a_failing_hook_is_named_in_runc_words_then_by_its_config_path() {
    let h = Hull::new();
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let b = h.bundle(&["true"]);
        b.edit(|c| {
            c["hooks"] = serde_json::json!({
                kind: [{"path": "/bin/true"}, {"path": "/bin/false"}]
            })
        });
        let (code, err) = h.create(&b, &unique_id("hookfail"), &[]);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "error running {kind} hook #1: hooks.{kind}[1]: error running hook /bin/false: \
                 exit status 1"
            )),
            "{err}"
        );
        assert!(h.dirs().is_empty(), "{kind}: {:?}", h.dirs());
    }
}

fn caps_of(out: &str) -> std::collections::BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(":\t"))
        .filter(|(k, _)| k.starts_with("Cap"))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn inheritable_caps_outside_permitted_apply_and_unraisable_ambient_caps_warn() {
    let h = Hull::new();
    let b = h.bundle(&["cat", "/proc/self/status"]);
    b.edit(|c| {
        c["process"]["capabilities"] = serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_SYSLOG"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_CHOWN", "CAP_SYSLOG"],
            "ambient": ["CAP_CHOWN"]
        })
    });
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("capinh")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let caps = caps_of(&out);
    // CAP_CHOWN 0 (0x1), CAP_KILL 5 (0x20), CAP_SYSLOG 34 (0x400000000).
    assert_eq!(caps["CapInh"], "0000000400000001", "{out}");
    assert_eq!(caps["CapPrm"], "0000000000000021", "{out}");
    assert_eq!(caps["CapBnd"], "0000000400000021", "{out}");
    assert_eq!(caps["CapAmb"], "0000000000000001", "{out}");

    let b = h.bundle(&["cat", "/proc/self/status"]);
    b.edit(|c| {
        c["process"]["capabilities"]["inheritable"] = serde_json::json!(["CAP_KILL"]);
        c["process"]["capabilities"]["ambient"] = serde_json::json!(["CAP_KILL", "CAP_CHOWN"]);
    });
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("capamb")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("can't raise ambient capability CAP_CHOWN: "),
        "{err}"
    );
    assert_eq!(
        caps_of(&String::from_utf8_lossy(&o.stdout))["CapAmb"],
        "0000000000000020"
    );
}

#[test]
fn a_config_naming_a_key_twice_is_refused_with_the_key_path() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let text = std::fs::read_to_string(b.config_path()).unwrap();
    // `"cwd": "/",` twice in process: serde would keep the last one silently.
    let dup = text.replacen("\"cwd\": \"/\"", "\"cwd\": \"/tmp\", \"cwd\": \"/\"", 1);
    assert_ne!(dup, text, "the config has a process.cwd to duplicate");
    std::fs::write(b.config_path(), dup).unwrap();
    let (code, err) = h.create(&b, &unique_id("dupkey"), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("duplicate key process.cwd"), "{err}");
    assert!(err.contains("config.json"), "{err}");
    assert!(h.dirs().is_empty());
}

#[test]
fn rnorelatime_leaves_the_atime_mode_of_a_recursive_bind_as_it_is() {
    let h = Hull::new();
    let vol = TempDir::new("ratime");
    let b = h.bundle(&["sh", "-c", "grep ' /mnt ' /proc/self/mountinfo"]);
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "source": vol.path(), "destination": "/mnt", "type": "bind",
            "options": ["rbind", "rnorelatime"]
        }))
    });
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(host
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/") && l.contains("relatime")));
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("ratime")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let opts = out.split(' ').nth(5).unwrap_or_default();
    assert!(opts.split(',').any(|o| o == "relatime"), "{out}");
}

#[test]
fn a_mount_point_that_is_not_utf8_does_not_fail_create() {
    use std::os::unix::ffi::OsStrExt;
    let h = Hull::new();
    let b = h.bundle(&["echo", "ran"]);
    let dir = TempDir::new("latin1");
    // "café" in Latin-1: the kernel writes the 0xe9 byte into mountinfo as it is.
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir(&odd).unwrap();
    // The tmpfs lives in a private mount namespace that ends with the command.
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs latin1 \"$1\" && shift && exec \"$@\"")
        .arg("sh")
        .arg(&odd)
        .arg(hull_bin())
        .arg("--root")
        .arg(h.root.path())
        .args(["run", "--bundle", b.path_str(), &unique_id("latin1")])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
}

/// A listener for `--pidfd-socket`; `take` returns the message body and the pidfd.
struct PidfdListener {
    dir: TempDir,
    listener: std::os::unix::net::UnixListener,
}

impl PidfdListener {
    fn new() -> PidfdListener {
        let dir = TempDir::new("pidfd");
        let listener = std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap();
        PidfdListener { dir, listener }
    }
    fn path(&self) -> String {
        self.dir.path().join("s").to_str().unwrap().to_string()
    }
    fn take(&self) -> (String, std::os::fd::OwnedFd) {
        use std::os::fd::AsRawFd;
        let (conn, _) = self.listener.accept().unwrap();
        let (body, mut fds) = hull::sys::scm::recv_fds(conn.as_raw_fd()).unwrap();
        (String::from_utf8(body).unwrap(), fds.remove(0))
    }
}

#[test]
fn pidfd_socket_receives_a_pidfd_of_the_init_and_of_an_exec() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "300"]);
    let id = unique_id("pidfd");
    let l = PidfdListener::new();
    let (code, err) = h.create(&b, &id, &["--pidfd-socket", &l.path()]);
    assert_eq!(code, Some(0), "{err}");
    let (kind, fd) = l.take();
    assert_eq!(kind, "standard");
    h.ok(&["start", &id]);
    // An exec'd process, detached: its own pidfd.
    // (stdio closed: the detached process would hold a captured pipe open)
    let st = h
        .cmd(&[
            "exec",
            "-d",
            "--pidfd-socket",
            &l.path(),
            &id,
            "sleep",
            "300",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let (kind, exec_fd) = l.take();
    assert_eq!(kind, "setns");
    hull::sys::pidfd::send_signal(&exec_fd, libc::SIGKILL).unwrap();
    // The init's pidfd ends the container.
    hull::sys::pidfd::send_signal(&fd, libc::SIGKILL).unwrap();
    h.wait_status(&id, "stopped");
    // A socket nobody listens on fails before anything is created.
    let err = h.fails(&[
        "create",
        "--bundle",
        b.path_str(),
        "--pidfd-socket",
        "/nonexistent.sock",
        "x",
    ]);
    assert!(err.contains("--pidfd-socket /nonexistent.sock"), "{err}");
    h.ok(&["delete", &id]);
    // run --detach sends the init's, once it runs.
    let st = h
        .cmd(&[
            "run",
            "-d",
            "--bundle",
            b.path_str(),
            "--pidfd-socket",
            &l.path(),
            &id,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let (kind, fd) = l.take();
    assert_eq!(kind, "standard");
    assert_eq!(h.status(&id), "running");
    hull::sys::pidfd::send_signal(&fd, libc::SIGKILL).unwrap();
    h.wait_status(&id, "stopped");
    h.ok(&["delete", &id]);
}

#[test]
fn the_ambient_warning_is_said_at_create_not_at_every_exec() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| {
        c["process"]["capabilities"]["inheritable"] = serde_json::json!(["CAP_SYSLOG"]);
        c["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!("CAP_SYSLOG"));
    });
    let id = unique_id("ambwarn");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("can't raise ambient capability CAP_KILL"),
        "{err}"
    );
    h.ok(&["start", &id]);
    let o = h.run(&["exec", &id, "echo", "hello"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n");
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    h.ok(&["delete", "--force", &id]);
}
