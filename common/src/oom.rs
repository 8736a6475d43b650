//! The OOM killer's count for a memory cgroup: the `oom_kill N` line of
//! `memory.oom_control` (v1) or `memory.events` (v2).

use std::path::{Path, PathBuf};

/// The file that holds the counter in a cgroup directory of the memory controller.
pub fn counter_file(dir: &Path, v2: bool) -> PathBuf {
    dir.join(if v2 {
        "memory.events"
    } else {
        "memory.oom_control"
    })
}

/// The `oom_kill` count in such a file's text.
pub fn parse_kills(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
}

/// The count read from `file`, if it can be read.
pub fn kills(file: &Path) -> Option<u64> {
    parse_kills(&std::fs::read_to_string(file).ok()?)
}

/// A cgroup directory `mount`/`path` (path as recorded, relative to the mount), refusing
/// paths that would leave the mount.
pub fn cgroup_dir(mount: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() || rel.split('/').any(|c| c == "..") {
        return None;
    }
    Some(mount.join(rel))
}

/// The files holding a container cgroup's oom_kill counter, from hull's recorded cgroup
/// (state.json's `cgroup.dirs[] {mount, controllers, v2, path}`): the memory controller's
/// directory on v1, the cgroup2 directory.
pub fn counter_files(cg: &serde_json::Value) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in cg["dirs"].as_array().into_iter().flatten() {
        let (Some(mount), Some(path)) = (d["mount"].as_str(), d["path"].as_str()) else {
            continue;
        };
        let Some(dir) = cgroup_dir(Path::new(mount), path) else {
            continue;
        };
        let v2 = d["v2"].as_bool().unwrap_or(false);
        let memory = d["controllers"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == "memory"));
        if v2 || memory {
            out.push(counter_file(&dir, v2));
        }
    }
    out
}

/// How many processes the OOM killer killed in the cgroup, over all its counter files.
pub fn total_kills(files: &[PathBuf]) -> u64 {
    files.iter().filter_map(|f| kills(f)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oom_kill_line_is_found_in_v1_and_v2_files() {
        assert_eq!(
            parse_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
            Some(3)
        );
        assert_eq!(
            parse_kills("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n"),
            Some(1)
        );
        assert_eq!(parse_kills("oom_kill_disable 0\n"), None);
        assert_eq!(
            cgroup_dir(Path::new("/m"), "/a/b"),
            Some(PathBuf::from("/m/a/b"))
        );
        assert_eq!(cgroup_dir(Path::new("/m"), "/../x"), None);
        assert_eq!(cgroup_dir(Path::new("/m"), "/"), None);
    }

    #[test]
    fn counter_files_come_from_the_memory_and_cgroup2_dirs_only() {
        let cg = serde_json::json!({"mode": "hybrid", "dirs": [
            {"mount": "/sys/fs/cgroup/memory", "controllers": ["memory"], "path": "/a/b"},
            {"mount": "/sys/fs/cgroup/cpu,cpuacct", "controllers": ["cpu", "cpuacct"], "path": "/a/b"},
            {"mount": "/sys/fs/cgroup/unified", "v2": true, "path": "/a/b"},
            {"mount": "/sys/fs/cgroup/memory", "controllers": ["memory"], "path": "/../x"},
        ]});
        assert_eq!(
            counter_files(&cg),
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/a/b/memory.oom_control"),
                PathBuf::from("/sys/fs/cgroup/unified/a/b/memory.events"),
            ]
        );
    }

    #[test]
    fn kills_are_summed_over_the_counter_files() {
        let d = std::env::temp_dir().join(format!("hull-common-oom-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let (a, b) = (d.join("a"), d.join("b"));
        std::fs::write(&a, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n").unwrap();
        std::fs::write(&b, "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n").unwrap();
        let r = (
            total_kills(std::slice::from_ref(&a)),
            total_kills(&[a, b]),
            total_kills(&[d.join("none")]),
        );
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(r, (0, 1, 0));
    }
}
