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

fn init_pid(h: &Hull, id: &str) -> i32 {
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["state", id])).unwrap();
    v["pid"].as_i64().unwrap() as i32
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
    assert!(v.contains(&init_pid(&h, &id)));
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
    let counter = PathBuf::from(format!("/proc/{}/root/dev/shm/count", init_pid(&h, &id)));
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

/// The init is born in its cgroup2 directory (clone3 with CLONE_INTO_CGROUP), so the kernel
/// never migrates it there; the v1 hierarchies get it by cgroup.procs.
#[test]
fn the_init_is_cloned_straight_into_its_cgroup2_directory() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = unique_id("into");
    let trace = b.path().join("clone3.trace");
    let st = std::process::Command::new("strace")
        .args(["-e", "trace=clone3", "-o"])
        .arg(&trace)
        .arg(hull_bin())
        .arg("--root")
        .arg(h.root.path())
        .args(["create", "--bundle", b.path_str(), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("strace (the test command installs it)");
    assert!(st.success());
    let t = std::fs::read_to_string(&trace).unwrap();
    assert!(t.contains("CLONE_INTO_CGROUP"), "{t}");
    let pid = init_pid(&h, &id);
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.config_path()).unwrap()).unwrap();
        v["linux"]["cgroupsPath"].as_str().unwrap().to_string()
    };
    let v2 = cg.lines().find(|l| l.starts_with("0::")).unwrap();
    assert!(
        v2.ends_with(&path),
        "cgroup2 line {v2:?} should end with {path}"
    );
    for line in cg
        .lines()
        .filter(|l| l.contains(":memory:") || l.contains(":pids:"))
    {
        assert!(line.ends_with(&path), "{line}");
    }
    h.ok(&["delete", "--force", &id]);
}
