//! Before/after snapshots of the host state a container can leak: mounts, cgroup
//! directories under a test's cgroup parents, processes naming the test's ids or
//! bundles, and the entries of a state root. Shared by reliability, faults and load.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use crate::common::cgroup_mounts;

/// The host mount table (fields from the mount point on), except mounts under the temp
/// dir that are not below one of `own` (this test's bundles and state roots): other
/// tests and other users of the machine mount their own things there, never where an
/// escape would land (/, /proc, /sys, /dev, /run).
pub fn mounts(own: &[&Path]) -> Vec<String> {
    let tmp = std::env::temp_dir();
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v: Vec<String> = mi
        .lines()
        .filter(|l| {
            let mp = Path::new(l.split_whitespace().nth(4).unwrap_or(""));
            !mp.starts_with(&tmp) || own.iter().any(|o| mp.starts_with(o))
        })
        .map(|l| l.split_whitespace().skip(3).collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

/// `linux.cgroupsPath` of a bundle's config.json.
pub fn cgroups_path(config: &Path) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(config).ok()?).ok()?;
    v["linux"]["cgroupsPath"].as_str().map(str::to_string)
}

/// Every directory at or below `rel` (a cgroupsPath) on every hierarchy.
pub fn cgroup_dirs_at(rel: &str) -> Vec<PathBuf> {
    let rel = rel.trim_start_matches('/');
    let mut out = Vec::new();
    for h in cgroup_mounts() {
        let p = h.join(rel);
        if p.is_dir() {
            out.push(p.clone());
            let o = std::process::Command::new("find")
                .arg(&p)
                .args(["-mindepth", "1", "-type", "d"])
                .output()
                .unwrap();
            out.extend(
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(PathBuf::from),
            );
        }
    }
    out
}

/// Live processes (not zombies reaped by now) whose cmdline mentions any of `needles`.
pub fn processes_mentioning(needles: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let me = std::process::id().to_string();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, r)| r.chars().next())
            .unwrap_or('?');
        if needles.iter().any(|n| cmd.contains(n)) {
            out.push(format!("{name} [{state}] {cmd}"));
        }
    }
    out
}

/// Names in a directory (empty when it does not exist).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Wait (up to 5 s) until no process mentions `needles`: a killed process may take a
/// moment to be reaped by its reaper.
pub fn wait_no_processes(needles: &[&str]) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let p = processes_mentioning(needles);
        if p.is_empty() || std::time::Instant::now() > deadline {
            return p;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
