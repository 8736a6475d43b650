//! Cgroup-backed behaviour of real containers on this host: limits taking effect (OOM,
//! pids), pause/resume, update, ps and events.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

/// The container's cgroup directory on the v1 `controller` hierarchy (from cgroupsPath).
fn cgroup_dir(b: &Bundle, controller: &str) -> PathBuf {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.config_path()).unwrap()).unwrap();
    let path = v["linux"]["cgroupsPath"]
        .as_str()
        .unwrap()
        .trim_start_matches('/');
    PathBuf::from("/sys/fs/cgroup").join(controller).join(path)
}

#[test]
fn memory_limit_oom_kills_a_container_filling_its_shm() {
    let h = Hull::new();
    let b = h.bundle(&[
        "dd",
        "if=/dev/zero",
        "of=/dev/shm/fill",
        "bs=1M",
        "count=60",
    ]);
    b.edit(|c| c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 20 << 20}));
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("oom")]);
    assert_eq!(
        o.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn events_reports_an_oom_kill_inside_the_container() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "sleep 0.5; dd if=/dev/zero of=/dev/shm/fill bs=1M count=60; sleep 30",
    ]);
    b.edit(|c| c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 20 << 20}));
    let id = unique_id("oomev");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let mut ev = h
        .cmd(&["events", "--interval", "100ms", &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(ev.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_oom = false;
    let mut saw_stats = false;
    while Instant::now() < deadline && !saw_oom {
        let Some(Ok(l)) = lines.next() else { break };
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["id"], id.as_str());
        saw_stats |= v["type"] == "stats" && v["data"]["memory"].is_object();
        saw_oom |= v["type"] == "oom";
    }
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(saw_stats, "events printed no stats record");
    assert!(saw_oom, "events did not report the OOM kill");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn pids_limit_stops_a_fork_bomb_at_the_limit() {
    let h = Hull::new();
    // The bomb runs in a child shell: busybox sh exits when a fork fails, the init stays.
    let b = h.bundle(&[
        "sh",
        "-c",
        "sh -c 'for i in $(seq 1 50); do sleep 30 & done'; echo bomb-stopped; sleep 30",
    ]);
    b.edit(|c| c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 10}));
    let id = unique_id("pids");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(b.path().join("stdout")).unwrap_or_default() != "bomb-stopped\n" {
        assert!(Instant::now() < deadline, "fork bomb never stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = cgroup_dir(&b, "pids");
    assert_eq!(
        std::fs::read_to_string(dir.join("pids.max"))
            .unwrap()
            .trim(),
        "10"
    );
    let events = std::fs::read_to_string(dir.join("pids.events")).unwrap();
    let refused: u64 = events.trim().strip_prefix("max ").unwrap().parse().unwrap();
    assert!(refused > 0, "no fork was refused: {events}");
    let v: Vec<i32> = serde_json::from_str(&h.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(v.len() <= 10 && v.len() > 1, "ps: {v:?}");
    assert!(v.contains(&h.pid(&id)));
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn pause_freezes_and_resume_continues() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /dev/shm/count; sleep 0.02; done",
    ]);
    let id = unique_id("pause");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let counter = PathBuf::from(format!("/proc/{}/root/dev/shm/count", h.pid(&id)));
    let read = || -> u64 {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let advances_past = |v: u64| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while read() <= v {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    };
    assert!(advances_past(0), "counter never advanced");
    h.ok(&["pause", &id]);
    assert_eq!(h.status(&id), "paused");
    let err = h.fails(&["pause", &id]);
    assert!(err.contains("already paused"), "{err}");
    let a = read();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read(), a, "counter advanced while paused");
    h.ok(&["resume", &id]);
    assert_eq!(h.status(&id), "running");
    assert!(advances_past(a), "counter did not advance after resume");
    let err = h.fails(&["resume", &id]);
    assert!(err.contains("container not paused"), "{err}");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn update_changes_limits_of_a_running_container() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 64 << 20}));
    let id = unique_id("update");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let limit = cgroup_dir(&b, "memory").join("memory.limit_in_bytes");
    assert_eq!(
        std::fs::read_to_string(&limit).unwrap().trim(),
        (64u64 << 20).to_string()
    );
    h.ok(&["update", "--memory", "32m", &id]);
    assert_eq!(
        std::fs::read_to_string(&limit).unwrap().trim(),
        (32u64 << 20).to_string()
    );
    let mut child = h
        .cmd(&["update", "--resources", "-", &id])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), br#"{"pids": {"limit": 7}}"#).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let pids = cgroup_dir(&b, "pids").join("pids.max");
    assert_eq!(std::fs::read_to_string(pids).unwrap().trim(), "7");
    let err = h.fails(&["update", "--memory", "lots", &id]);
    assert!(err.contains("--memory"), "{err}");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn events_stats_prints_one_runc_style_record() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("stats");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id.as_str());
    assert!(
        v["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert!(v["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{v}");
    let table = h.ok(&["ps", &id]);
    assert!(table.lines().next().unwrap().contains("PID"));
    assert!(table.contains("sleep 30"), "{table}");
    h.ok(&["delete", "--force", &id]);
}

/// `strace -f -e trace=SYSCALLS -o FILE hull ARGS...` as root: (the trace, hull's stdout).
/// Only for commands whose processes all end (strace -f waits for every traced one).
fn strace_hull(h: &Hull, b: &Bundle, syscalls: &str, args: &[&str]) -> (String, String) {
    let trace = b.path().join(format!("{}.trace", unique_id("strace")));
    let out = std::process::Command::new("strace")
        .args(["-f", "-e", &format!("trace={syscalls}"), "-o"])
        .arg(&trace)
        .arg(hull_bin())
        .arg("--root")
        .arg(h.root.path())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("strace (the test command installs it)");
    assert!(out.status.success(), "strace hull {args:?}: {out:?}");
    let t = std::fs::read_to_string(&trace).unwrap();
    (t, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cgroups_path(b: &Bundle) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.config_path()).unwrap()).unwrap();
    v["linux"]["cgroupsPath"].as_str().unwrap().to_string()
}

/// hull placed the process itself: clone3 with CLONE_INTO_CGROUP, no pid written to any
/// cgroup.procs, and as many "0" writes by another process (the child, moving itself) as
/// the parent opened v1 `tasks` files. (The child writes to the fds it inherited, or for the
/// init to those that came with Go, under other numbers: so counted, not matched.)
fn assert_self_placement(t: &str) {
    assert!(t.contains("CLONE_INTO_CGROUP"), "{t}");
    assert!(
        !t.contains("cgroup.procs\", O_WRONLY"),
        "a pid was written to cgroup.procs:\n{t}"
    );
    let pid = |l: &str| l.split(' ').next().unwrap().to_string();
    // "PID openat(AT_FDCWD, \".../tasks\", O_WRONLY|O_CLOEXEC) = FD", or the same cut at
    // "<unfinished ...>" when another traced process ran in between (strace -f): a failed
    // open would have failed the command.
    let openers: Vec<String> = t
        .lines()
        .filter(|l| l.contains("/tasks\", O_WRONLY"))
        .map(pid)
        .collect();
    assert!(!openers.is_empty(), "no v1 tasks file opened:\n{t}");
    // "PID write(FD, \"0\", 1) = 1" (or cut the same way; a failed write fails the command).
    let zeros: Vec<String> = t
        .lines()
        .filter(|l| l.contains(" write(") && l.contains(", \"0\", 1"))
        .map(pid)
        .collect();
    let mut parents = openers.clone();
    parents.sort();
    parents.dedup();
    for parent in &parents {
        let opened = openers.iter().filter(|p| *p == parent).count();
        let by_others = zeros.iter().filter(|p| *p != parent).count();
        assert!(
            by_others >= opened,
            "{parent} opened {opened} tasks files, but other processes wrote \"0\" {by_others} times:\n{t}"
        );
    }
}

/// /proc/self/cgroup as the container saw it (no cgroup namespace: host paths) names
/// `path` on every hierarchy, v1 and cgroup2.
fn assert_in_cgroup_everywhere(proc_self_cgroup: &str, path: &str) {
    assert!(proc_self_cgroup.lines().count() >= 2, "{proc_self_cgroup}");
    for line in proc_self_cgroup.lines() {
        assert!(line.ends_with(path), "{line:?} should end with {path}");
    }
}

/// No migration by the parent (which would wait for the kernel's global lock): the init is
/// born in its cgroup2 directory (clone3 with CLONE_INTO_CGROUP) and writes itself ("0")
/// into each v1 hierarchy's `tasks` file, opened by the parent (right after the clone, sent
/// with Go); so does an exec'd process (the files opened before its fork).
/// Both end up in the container's cgroup on every hierarchy.
#[test]
fn the_init_and_exec_place_themselves_without_a_migration_by_the_parent() {
    let h = Hull::new();
    let b = h.bundle(&["cat", "/proc/self/cgroup"]);
    let path = cgroups_path(&b);
    let id = unique_id("into");
    let (t, out) = strace_hull(
        &h,
        &b,
        "clone3,openat,write",
        &["run", "--bundle", b.path_str(), &id],
    );
    assert_self_placement(&t);
    assert_in_cgroup_everywhere(&out, &path);

    let b = h.bundle(&["sleep", "30"]);
    let path = cgroups_path(&b);
    let id = unique_id("into");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let (t, out) = strace_hull(
        &h,
        &b,
        "clone3,openat,write",
        &["exec", &id, "cat", "/proc/self/cgroup"],
    );
    assert_self_placement(&t);
    assert_in_cgroup_everywhere(&out, &path);
    h.ok(&["delete", "--force", &id]);
}

/// Without a cgroup namespace of its own, the container's /sys/fs/cgroup is made of binds
/// of the host's mounts of its cgroup, never fresh cgroup mounts (a fresh cgroup2 mount
/// there would apply its options to the host's hierarchy); with one, fresh mounts.
#[test]
fn cgroup_mounts_are_binds_without_a_cgroup_namespace_and_fresh_with_one() {
    let h = Hull::new();
    let b = h.bundle(&["cat", "/sys/fs/cgroup/unified/cgroup.procs"]);
    let path = cgroups_path(&b);
    let id = unique_id("cgbind");
    let (t, _) = strace_hull(
        &h,
        &b,
        "fsopen,open_tree",
        &["run", "--bundle", b.path_str(), &id],
    );
    assert!(!t.contains("fsopen(\"cgroup"), "a fresh cgroup mount:\n{t}");
    let unified = format!("\"/sys/fs/cgroup/unified{path}\"");
    assert!(t.contains(&unified), "no bind of {unified}:\n{t}");
    // The bind shows the container's own cgroup: its only process is the init (pid 1).
    let out = h.ok(&["run", "--bundle", b.path_str(), &unique_id("cgbind")]);
    assert_eq!(out.trim(), "1", "{out}");

    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "cgroup"}))
    });
    let id = unique_id("cgns");
    let (t, _) = strace_hull(
        &h,
        &b,
        "fsopen,open_tree",
        &["run", "--bundle", b.path_str(), &id],
    );
    assert!(
        t.contains("fsopen(\"cgroup2\""),
        "no fresh cgroup2 mount in a cgroupns:\n{t}"
    );
    let out = h.ok(&["run", "--bundle", b.path_str(), &unique_id("cgns")]);
    assert_eq!(out.trim(), "1", "{out}");
}

#[test]
fn create_refuses_a_pre_existing_frozen_cgroup_and_leaves_it_in_place() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let freezer = cgroup_dir(&b, "freezer");
    std::fs::create_dir_all(&freezer).unwrap();
    std::fs::write(freezer.join("freezer.state"), "FROZEN").unwrap();
    let id = unique_id("frozen");
    let started = Instant::now();
    let (code, err) = h.create(&b, &id, &[]);
    let took = started.elapsed();
    // Not hull's to remove: the caller made it, and thaws and removes it (before asserting,
    // so a failure leaves no frozen cgroup behind).
    let kept = freezer.is_dir();
    let _ = std::fs::write(freezer.join("freezer.state"), "THAWED");
    let _ = std::fs::remove_dir(&freezer);
    assert_eq!(code, Some(1), "{err}");
    assert!(took < Duration::from_secs(5), "{err}");
    assert!(
        err.contains("container's cgroup unexpectedly frozen"),
        "{err}"
    );
    assert!(err.contains("freezer.state is FROZEN"), "{err}");
    assert!(h.dirs().is_empty(), "{:?}", h.dirs());
    assert!(kept, "the caller's cgroup was removed");
}

#[test]
fn update_takes_minus_one_for_no_limit_and_sets_cpu_burst_and_idle() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| {
        c["linux"]["resources"] = serde_json::json!({
            "memory": {"limit": 64 << 20, "swap": 64 << 20},
            "pids": {"limit": 20},
            "cpu": {"quota": 500000, "period": 1000000}
        })
    });
    let id = unique_id("update-1");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let read = |ctl: &str, f: &str| {
        std::fs::read_to_string(cgroup_dir(&b, ctl).join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    h.ok(&["update", "--memory-swap", "-1", "--memory", "-1", &id]);
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        "9223372036854771712"
    );
    assert_eq!(
        read("memory", "memory.memsw.limit_in_bytes"),
        "9223372036854771712"
    );
    h.ok(&["update", "--pids-limit", "-1", &id]);
    assert_eq!(read("pids", "pids.max"), "max");
    h.ok(&["update", "--pids-limit", "0", &id]);
    assert_eq!(read("pids", "pids.max"), "1");
    h.ok(&["update", "--cpu-quota", "-1", &id]);
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "-1");
    h.ok(&[
        "update",
        "--cpu-quota",
        "400000",
        "--cpu-burst",
        "300000",
        &id,
    ]);
    assert_eq!(read("cpu", "cpu.cfs_burst_us"), "300000");
    h.ok(&["update", "--cpu-idle", "1", &id]);
    assert_eq!(read("cpu", "cpu.idle"), "1");
    h.ok(&["update", "--cpu-idle", "0", &id]);
    assert_eq!(read("cpu", "cpu.idle"), "0");
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn create_refuses_a_cgroup_that_holds_processes_and_leaves_them_alone() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let first = unique_id("occupant");
    assert_eq!(h.create(&b, &first, &[]).0, Some(0));
    // A second container with the same cgroupsPath would share the first one's limits,
    // and its delete would kill the first one's processes.
    let second = unique_id("sharer");
    let (code, err) = h.create(&b, &second, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("container's cgroup is not empty"), "{err}");
    assert!(err.contains("choose another cgroupsPath"), "{err}");
    assert_eq!(h.status(&first), "created");
    h.ok(&["delete", "--force", &first]);
}

#[test]
fn unified_keys_for_v1_controllers_are_an_invalid_configuration_on_a_hybrid_host() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| c["linux"]["resources"]["unified"] = serde_json::json!({"memory.min": "131072"}));
    let (code, err) = h.create(&b, &unique_id("unified"), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("invalid configuration: linux.resources.unified[\"memory.min\"]"),
        "{err}"
    );
    assert!(err.contains("set the v1 fields"), "{err}");
    assert!(h.dirs().is_empty());
}

#[test]
fn events_lines_put_type_then_id_then_data_as_runc_does() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("evorder");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    h.ok(&["start", &id]);
    let prefix = format!("{{\"type\":\"stats\",\"id\":\"{id}\",\"data\":{{");
    let once = h.ok(&["events", "--stats", &id]);
    assert!(once.starts_with(&prefix), "{once}");
    // The streaming form, at a short interval: the first line is the same kind of record.
    let mut child = h
        .cmd(&["events", "--interval", "100ms", &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    h.ok(&["delete", "--force", &id]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "events did not end with the container"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(first.starts_with(&prefix), "{first}");
}

#[test]
fn a_device_node_in_linux_devices_stays_denied_when_the_resources_deny_it() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "echo probe > /dev/kmsg && echo opened; sleep 30",
    ]);
    b.edit(|c| {
        c["linux"]["devices"] =
            serde_json::json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]);
        // Deny everything, and /dev/kmsg once more with a letter the controller does not
        // know ("a"), which is dropped rather than failing the create.
        c["linux"]["resources"]["devices"] = serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwa"}
        ]);
    });
    let id = unique_id("devdeny");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let list = std::fs::read_to_string(cgroup_dir(&b, "devices").join("devices.list")).unwrap();
    assert!(!list.contains("c 1:11"), "{list}");
    h.ok(&["start", &id]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        let e = std::fs::read_to_string(b.path().join("stderr")).unwrap_or_default()
            + &std::fs::read_to_string(b.path().join("hull-stderr")).unwrap_or_default();
        if e.contains("kmsg") || Instant::now() > deadline {
            break e;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(b.path().join("stdout")).unwrap();
    h.ok(&["delete", "--force", &id]);
    assert!(!out.contains("opened"), "{out}");
    assert!(err.contains("Operation not permitted"), "{err}");
}

#[test]
fn update_of_rt_period_below_the_current_runtime_writes_the_runtime_first() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| {
        c["linux"]["resources"]["cpu"] =
            serde_json::json!({"realtimePeriod": 100000, "realtimeRuntime": 30000})
    });
    // The container's parent needs an rt budget of its own for the container to get one.
    let parent = cgroup_dir(&b, "cpu").parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&parent).unwrap();
    std::fs::write(parent.join("cpu.rt_runtime_us"), "400000").unwrap();
    let id = unique_id("rt");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let cpu = cgroup_dir(&b, "cpu");
    let read = |f: &str| {
        std::fs::read_to_string(cpu.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        (read("cpu.rt_period_us"), read("cpu.rt_runtime_us")),
        ("100000".into(), "30000".into())
    );
    // 10000 is below the 30000 in force: period first would be refused.
    h.ok(&[
        "update",
        "--cpu-rt-period",
        "10000",
        "--cpu-rt-runtime",
        "3000",
        &id,
    ]);
    assert_eq!(
        (read("cpu.rt_period_us"), read("cpu.rt_runtime_us")),
        ("10000".into(), "3000".into())
    );
    // And back up: a runtime above the period in force needs the period first.
    h.ok(&[
        "update",
        "--cpu-rt-period",
        "100000",
        "--cpu-rt-runtime",
        "20000",
        &id,
    ]);
    assert_eq!(
        (read("cpu.rt_period_us"), read("cpu.rt_runtime_us")),
        ("100000".into(), "20000".into())
    );
    h.ok(&["delete", "--force", &id]);
}

#[test]
fn an_explicit_pids_limit_of_0_is_written_as_1_and_an_absent_one_not_at_all() {
    let h = Hull::new();
    let read_max = |b: &Bundle| {
        std::fs::read_to_string(cgroup_dir(b, "pids").join("pids.max"))
            .unwrap()
            .trim()
            .to_string()
    };
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 0}));
    let id = unique_id("pids0");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(read_max(&b), "1");
    h.ok(&["delete", "--force", &id]);
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| c["linux"]["resources"]["pids"] = serde_json::json!({}));
    let id = unique_id("pidsnone");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(read_max(&b), "max");
    h.ok(&["delete", "--force", &id]);
}
