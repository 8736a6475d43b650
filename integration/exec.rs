//! `hull exec` on real busybox containers: the exec'd process shares the init's
//! namespaces and cgroup, gets exactly the identity, env and cwd asked for, its status and
//! signals propagate, `--detach --pid-file` and `--process FILE` work, and failures are one
//! clear line that leave no process behind.

use std::path::PathBuf;
use std::process::Stdio;

use crate::common::*;

fn exec(h: &Hull, id: &str, extra: &[&str], cmd: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["exec"];
    args.extend_from_slice(extra);
    args.push(id);
    args.extend_from_slice(cmd);
    let o = h.run(&args);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn exec_ok(h: &Hull, id: &str, extra: &[&str], cmd: &[&str]) -> String {
    let (code, out, err) = exec(h, id, extra, cmd);
    assert_eq!(code, Some(0), "exec {cmd:?} failed: {err}");
    out
}

/// Pids in the container's cgroup, read from the host through the init's pids cgroup.
fn cgroup_procs(init: i32) -> Vec<i32> {
    let cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let path = cg
        .lines()
        .find_map(|l| l.split_once(":pids:").map(|(_, p)| p.to_string()))
        .expect("pids controller line");
    let procs = PathBuf::from("/sys/fs/cgroup/pids")
        .join(path.trim_start_matches('/'))
        .join("cgroup.procs");
    let mut v: Vec<i32> = std::fs::read_to_string(procs)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    v.sort();
    v
}

const NAMESPACES: [&str; 6] = ["pid", "mnt", "net", "uts", "ipc", "cgroup"];

#[test]
fn exec_shares_the_init_namespaces() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exns");
    let init = h.pid(&id);
    let script = NAMESPACES
        .iter()
        .map(|n| format!("readlink /proc/self/ns/{n}"))
        .collect::<Vec<_>>()
        .join("; ");
    let out = exec_ok(&h, &id, &[], &["sh", "-c", &script]);
    let want: String = NAMESPACES
        .iter()
        .map(|n| {
            let l = std::fs::read_link(format!("/proc/{init}/ns/{n}")).unwrap();
            format!("{}\n", l.display())
        })
        .collect();
    assert_eq!(out, want);
    let own_pid_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    assert_ne!(
        out.lines().next().unwrap(),
        own_pid_ns.to_str().unwrap(),
        "the container must have its own pid namespace for this test to mean anything"
    );
}

#[test]
fn exec_detach_pid_file_names_a_process_in_the_container_cgroup() {
    let h = Hull::new();
    let (b, id) = running(&h, "exdet");
    let init = h.pid(&id);
    let pid_file = b.path().join("exec.pid");
    // The detached process keeps hull's stdio: give it files, not pipes we wait on.
    let st = h
        .cmd(&[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "sleep",
            "1000",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(b.path().join("exec-stderr")).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(b.path().join("exec-stderr")).unwrap();
    assert_eq!(st.code(), Some(0), "{err}");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pid, init);
    assert!(cgroup_procs(init).contains(&pid));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap(),
        std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap()
    );
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm, "sleep\n", "the pid file must name the exec'd process");
    for n in NAMESPACES {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap(),
            std::fs::read_link(format!("/proc/{init}/ns/{n}")).unwrap(),
            "{n} namespace"
        );
    }
}

#[test]
fn exec_user_and_additional_gids_are_exactly_those_asked_for() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exuser");
    let out = exec_ok(
        &h,
        &id,
        &["--user", "1000:1000", "-g", "10"],
        &["cat", "/proc/self/status"],
    );
    let field = |name: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(field("Uid"), "1000 1000 1000 1000");
    assert_eq!(field("Gid"), "1000 1000 1000 1000");
    assert_eq!(field("Groups"), "10");
    assert_eq!(field("CapEff"), "0000000000000000");
}

#[test]
fn exec_exit_status_and_death_by_signal_propagate() {
    let h = Hull::new();
    let (_b, id) = running(&h, "excode");
    let (code, _, err) = exec(&h, &id, &[], &["sh", "-c", "exit 5"]);
    assert_eq!(code, Some(5), "{err}");
    let (code, _, err) = exec(&h, &id, &[], &["sh", "-c", "kill -9 $$"]);
    assert_eq!(code, Some(137), "{err}");
}

#[test]
fn sigterm_sent_to_hull_exec_reaches_the_process() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exfwd");
    let mut child = h
        .cmd(&[
            "exec",
            &id,
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done",
        ])
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
fn exec_env_flags_merge_by_key_and_cwd_is_honoured() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exenv");
    let out = exec_ok(
        &h,
        &id,
        &["-e", "FOO=bar", "-e", "PATH=/bin", "--cwd", "/tmp"],
        &[
            "sh",
            "-c",
            "env | grep -c '^PATH='; echo $PATH $FOO $TERM; pwd",
        ],
    );
    // runc's default config has PATH and TERM=xterm: PATH replaced once, TERM kept.
    assert_eq!(out, "1\n/bin bar xterm\n/tmp\n");
}

#[test]
fn exec_process_file_runs_that_process() {
    let h = Hull::new();
    let (b, id) = running(&h, "exproc");
    let f = b.path().join("process.json");
    std::fs::write(
        &f,
        serde_json::json!({
            "user": {"uid": 2, "gid": 3},
            "args": ["sh", "-c", "echo $FOO; pwd; id -u; id -g"],
            "env": ["FOO=from-file", "PATH=/bin"],
            "cwd": "/etc"
        })
        .to_string(),
    )
    .unwrap();
    let out = exec_ok(&h, &id, &["--process", f.to_str().unwrap()], &[]);
    assert_eq!(out, "from-file\n/etc\n2\n3\n");
}

#[test]
fn exec_does_not_leak_blocked_or_ignored_signals() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exsig");
    let out = exec_ok(
        &h,
        &id,
        &[],
        &["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],
    );
    assert_eq!(
        out,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
}

#[test]
fn exec_into_a_created_container_works() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "1000"]);
    let id = unique_id("excreated");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "create: {err}");
    assert_eq!(exec_ok(&h, &id, &[], &["echo", "hi"]), "hi\n");
    assert_eq!(h.status(&id), "created");
}

#[test]
fn exec_into_a_stopped_container_fails_clearly() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let id = unique_id("exstop");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "create: {err}");
    h.ok(&["start", &id]);
    h.wait_status(&id, "stopped");
    let err = exec_fails(&h, &["exec", &id, "true"]);
    assert_eq!(err.trim_end(), "hull: cannot exec in a stopped container");
}

#[test]
fn exec_into_a_missing_container_fails() {
    let h = Hull::new();
    let err = exec_fails(&h, &["exec", "no-such-ctr", "true"]);
    assert!(err.contains("no-such-ctr"), "{err}");
}

/// Freezes the container's cgroup (what `pause` does) and thaws it on drop.
struct Frozen(hull::cgroups::Cgroup);

impl Frozen {
    fn new(h: &Hull, id: &str) -> Frozen {
        let state = h.root.path().join(id).join("state.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
        let cg: hull::cgroups::Cgroup = serde_json::from_value(v["cgroup"].clone()).unwrap();
        cg.freeze().unwrap();
        Frozen(cg)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = self.0.thaw();
    }
}

#[test]
fn exec_into_a_paused_container_fails_without_ignore_paused() {
    let h = Hull::new();
    let (_b, id) = running(&h, "expause");
    let frozen = Frozen::new(&h, &id);
    h.wait_status(&id, "paused");
    let err = exec_fails(&h, &["exec", &id, "true"]);
    assert_eq!(
        err.trim_end(),
        "hull: cannot exec in a paused container (use --ignore-paused to override)"
    );
    drop(frozen);
    h.wait_status(&id, "running");
}

#[test]
fn exec_of_a_missing_binary_is_one_line_exit_1_and_leaves_nothing() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exmiss");
    let init = h.pid(&id);
    let err = exec_fails(&h, &["exec", &id, "nonexistent-prog"]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("\"nonexistent-prog\": executable file not found in $PATH"),
        "{err}"
    );
    assert_eq!(cgroup_procs(init), vec![init]);
}

#[test]
fn exec_leaves_no_extra_processes_after_it_exits() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exleft");
    let init = h.pid(&id);
    exec_ok(&h, &id, &[], &["sh", "-c", "true"]);
    let (code, _, _) = exec(&h, &id, &[], &["sh", "-c", "exit 3"]);
    assert_eq!(code, Some(3));
    assert_eq!(cgroup_procs(init), vec![init]);
}

#[test]
fn exec_tty_sends_a_terminal_to_the_console_socket() {
    let h = Hull::new();
    let (b, id) = running(&h, "extty");
    let sock = b.path().join("exec-console.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut child = h
        .cmd(&[
            "exec",
            "-t",
            "--console-socket",
            sock.to_str().unwrap(),
            &id,
            "sh",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (master, name) = crate::terminal::receive_master(&l);
    assert_eq!(name, "/dev/ptmx");
    let mut master = std::fs::File::from(master);
    std::io::Write::write_all(&mut master, b"tty; exit 4\n").unwrap();
    let out = crate::terminal::read_until(&mut master, "/dev/pts/");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert_eq!(child.wait().unwrap().code(), Some(4));
}

#[test]
fn exec_tty_detached_without_a_console_socket_is_refused() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exttyd");
    let err = exec_fails(&h, &["exec", "-t", "-d", &id, "true"]);
    assert!(err.contains("--console-socket"), "{err}");
    let err = exec_fails(
        &h,
        &["exec", "--console-socket", "/nonexistent.sock", &id, "true"],
    );
    assert!(err.contains("process.terminal is false"), "{err}");
}

/// The container's cgroup as recorded in its state.json.
fn recorded_cgroup(h: &Hull, id: &str) -> hull::cgroups::Cgroup {
    let state = h.root.path().join(id).join("state.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    serde_json::from_value(v["cgroup"].clone()).unwrap()
}

#[test]
fn exec_cgroup_flag_places_the_process_in_an_existing_sub_cgroup_and_names_bad_ones() {
    let h = Hull::new();
    let (b, id) = running(&h, "exsub");
    // Removed with the container: delete destroys the whole subtree.
    for d in &recorded_cgroup(&h, &id).dirs {
        let dir = d.dir().unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        // A v1 cpuset cgroup takes no tasks until it has cpus and mems.
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if d.controllers.iter().any(|c| c == "cpuset") {
                let v = std::fs::read_to_string(dir.join(f)).unwrap();
                std::fs::write(dir.join("sub").join(f), v.trim()).unwrap();
            }
        }
    }
    let pid_file = b.path().join("exec.pid");
    let st = h
        .cmd(&[
            "exec",
            "-d",
            "--cgroup",
            "sub",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "sleep",
            "1000",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(b.path().join("exec-stderr")).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(b.path().join("exec-stderr")).unwrap();
    assert_eq!(st.code(), Some(0), "{err}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
    for line in cg.lines().filter(|l| !l.ends_with(":/")) {
        assert!(line.ends_with("/ctr/sub"), "{line}");
    }
    let err = exec_fails(&h, &["exec", "--cgroup", "missing", &id, "true"]);
    assert!(
        err.contains("/missing/cgroup.procs: no such file or directory"),
        "{err}"
    );
    assert!(err.contains("created first"), "{err}");
    let err = exec_fails(&h, &["exec", "--cgroup", "..", &id, "true"]);
    assert!(err.contains("bad sub cgroup path"), "{err}");
    let err = exec_fails(&h, &["exec", "--cgroup", "whaaat:/", &id, "true"]);
    assert!(err.contains("unknown controller \"whaaat\""), "{err}");
}

#[test]
fn exec_preserve_fds_passes_fd_3_through() {
    let h = Hull::new();
    let (b, id) = running(&h, "exfds");
    let data = b.path().join("data");
    std::fs::write(&data, "through fd 3\n").unwrap();
    let script = format!(
        "exec \"$0\" --root \"$1\" exec --preserve-fds 1 \"$2\" sh -c 'cat <&3' 3<{}",
        data.display()
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &script])
        .arg(hull_bin())
        .arg(h.root.path())
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "through fd 3\n");
}

#[test]
fn exec_into_a_user_namespace_container_joins_it_first() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "1000"]);
    b.edit(|c| {
        let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
        nss.push(serde_json::json!({"type": "user"}));
        let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/sys" && m["destination"] != "/dev/mqueue");
    });
    let chown = std::process::Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(b.rootfs())
        .status()
        .unwrap();
    assert!(chown.success());
    let id = unique_id("exuserns");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "create: {err}");
    h.ok(&["start", &id]);
    let init = h.pid(&id);
    let out = exec_ok(
        &h,
        &id,
        &["-u", "1000:1000"],
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u",
        ],
    );
    let want_ns = std::fs::read_link(format!("/proc/{init}/ns/user")).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], want_ns.to_str().unwrap());
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(lines[2], "1000");
}

/// Run `hull exec ...`, require runc's 255 (the runtime failed, not the process); stderr.
fn exec_fails(h: &Hull, args: &[&str]) -> String {
    let o = h.run(args);
    assert_eq!(
        o.status.code(),
        Some(255),
        "hull {args:?} should fail with 255: stderr={}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn exec_exits_255_when_hull_fails_and_with_the_process_status_otherwise() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    std::fs::write(b.rootfs().join("bad-interp"), "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(
        b.rootfs().join("bad-interp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let id = unique_id("exec255");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let o = h.run(&["exec", &id, "sh", "-c", "exit 42"]);
    assert_eq!(o.status.code(), Some(42));
    let o = h.run(&["exec", &id, "false"]);
    assert_eq!(o.status.code(), Some(1));
    exec_fails(
        &h,
        &["exec", "--pid-file", "/nonexistent/dir/pid", &id, "true"],
    );
    exec_fails(&h, &["exec", "no-such-container", "true"]);
    let err = exec_fails(&h, &["exec", &id, "/bad-interp"]);
    assert!(
        err.contains("exec /bad-interp: no such file or directory"),
        "{err}"
    );
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_with_debug_reports_its_stages_on_stderr() {
    let h = Hull::new();
    let (_b, id) = running(&h, "exdbg");
    let o = h.run(&["--debug", "exec", &id, "true"]);
    assert!(o.status.success(), "{o:?}");
    let err = String::from_utf8(o.stderr).unwrap();
    for stage in [
        "nsexec container setup",
        "child process in init()",
        "setns_init: about to exec",
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains("level=debug") && l.contains(stage)),
            "{stage}: {err}"
        );
    }
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn exec_process_file_takes_scheduler_flags_by_their_runtime_spec_names() {
    let h = Hull::new();
    let (b, id) = running(&h, "exsched");
    let f = b.path().join("sched.json");
    std::fs::write(
        &f,
        serde_json::json!({
            "args": ["sleep", "300"], "cwd": "/",
            "scheduler": {"policy": "SCHED_BATCH", "nice": 5,
                          "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
        })
        .to_string(),
    )
    .unwrap();
    let pid_file = b.path().join("sched.pid");
    let st = h
        .cmd(&[
            "exec",
            "-d",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "--process",
            f.to_str().unwrap(),
            &id,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let o = std::process::Command::new("chrt")
        .args(["-p", pid.trim()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("SCHED_BATCH|SCHED_RESET_ON_FORK"), "{out}");
    h.ok(&["delete", "--force", &id]);
}
