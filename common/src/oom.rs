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
}
