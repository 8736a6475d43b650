//! The host's cgroup layout, read from `/proc/self/mountinfo` (never guessed from paths): the
//! v1 hierarchies with the controllers each carries, and the cgroup2 mount if any. Also the
//! caller's own cgroup on each hierarchy, from `/proc/self/cgroup`.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// v1 controller names the kernel knows; any other super option of a v1 mount (`rw`,
/// `noprefix`, `release_agent=...`, ...) is not a controller. Named hierarchies (`name=X`)
/// are kept as controllers too, since runc joins them (`name=systemd`).
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies.
    #[default]
    Legacy,
    /// v1 hierarchies for the controllers plus a cgroup2 mount (usually at
    /// /sys/fs/cgroup/unified) that carries few or no controllers.
    Hybrid,
    /// Only the cgroup2 hierarchy (usually at /sys/fs/cgroup).
    Unified,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// The cgroup path of the mount's root (mountinfo field 4; "/" outside a cgroup namespace).
    pub root: String,
    /// v1: the controllers (and `name=X`) it carries; empty for cgroup2.
    pub controllers: Vec<String>,
    /// Whether this is the cgroup2 hierarchy.
    pub v2: bool,
}

/// Every hierarchy the process can see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub v1: Vec<Hierarchy>,
    pub v2: Option<Hierarchy>,
}

impl Layout {
    /// Read the layout of the calling process's mount namespace.
    pub fn detect() -> Result<Layout> {
        // Bytes: a mount point elsewhere on the host need not be UTF-8.
        let bytes =
            std::fs::read("/proc/self/mountinfo").context("cgroups: read /proc/self/mountinfo")?;
        let layout =
            Layout::from_mounts(crate::mountinfo::parse_bytes(&bytes).context("cgroups")?)?;
        if layout.v1.is_empty() && layout.v2.is_none() {
            bail!("cgroups: no cgroup or cgroup2 filesystem is mounted (see /proc/self/mountinfo)");
        }
        Ok(layout)
    }

    /// Parse mountinfo text. The first mount of each distinct controller set wins, as the
    /// kernel gives the same cgroups at every mount of one hierarchy, except that a mount
    /// of the hierarchy's root beats an earlier mount of a subtree.
    pub fn parse(mountinfo: &str) -> Result<Layout> {
        Layout::from_mounts(crate::mountinfo::parse(mountinfo).context("cgroups")?)
    }

    fn from_mounts(mounts: Vec<crate::mountinfo::MountInfo>) -> Result<Layout> {
        let mut layout = Layout::default();
        for m in mounts {
            let root = m.root.to_string_lossy().into_owned();
            let mount = m.mount_point;
            match m.fstype.as_str() {
                "cgroup2" => {
                    let h = Hierarchy {
                        mount,
                        root,
                        controllers: Vec::new(),
                        v2: true,
                    };
                    match &layout.v2 {
                        Some(old) if !better(old, &h) => {}
                        _ => layout.v2 = Some(h),
                    }
                }
                "cgroup" => {
                    let controllers: Vec<String> = m
                        .super_options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    let h = Hierarchy {
                        mount,
                        root,
                        controllers,
                        v2: false,
                    };
                    match layout
                        .v1
                        .iter_mut()
                        .find(|o| o.controllers == h.controllers)
                    {
                        Some(old) if better(old, &h) => *old = h,
                        Some(_) => {}
                        None => layout.v1.push(h),
                    }
                }
                _ => {}
            }
        }
        Ok(layout)
    }

    /// Every hierarchy, v1 ones first.
    pub fn all(&self) -> impl Iterator<Item = &Hierarchy> {
        self.v1.iter().chain(self.v2.iter())
    }

    pub fn mode(&self) -> Mode {
        match (self.v1.is_empty(), self.v2.is_some()) {
            (true, true) => Mode::Unified,
            (false, true) => Mode::Hybrid,
            _ => Mode::Legacy,
        }
    }
}

/// The cgroup path (relative to each hierarchy's root) of a process, from /proc/PID/cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcCgroups {
    /// (controllers, path) for each v1 line; controllers as the kernel lists them.
    pub v1: Vec<(Vec<String>, String)>,
    /// The `0::PATH` line.
    pub v2: Option<String>,
}

impl ProcCgroups {
    pub fn of_self() -> Result<ProcCgroups> {
        let text =
            crate::kfile::read("/proc/self/cgroup").context("cgroups: read /proc/self/cgroup")?;
        Ok(ProcCgroups::parse(&text))
    }

    pub fn parse(text: &str) -> ProcCgroups {
        let mut out = ProcCgroups::default();
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if id == "0" && ctrls.is_empty() {
                out.v2 = Some(path.to_string());
            } else {
                let c = ctrls.split(',').map(str::to_string).collect();
                out.v1.push((c, path.to_string()));
            }
        }
        out
    }

    /// The caller's cgroup path inside hierarchy `h`, made relative to the mount's root so
    /// it can be joined to the mount point. None when /proc/self/cgroup has no such line.
    pub fn path_in(&self, h: &Hierarchy) -> Option<String> {
        Some(strip_root(&self.raw_path_in(h)?, &h.root))
    }

    /// The caller's cgroup path inside hierarchy `h` as /proc/self/cgroup shows it
    /// (relative to the caller's cgroup namespace root).
    pub fn raw_path_in(&self, h: &Hierarchy) -> Option<String> {
        if h.v2 {
            return self.v2.clone();
        }
        self.v1
            .iter()
            .find(|(c, _)| {
                let mut a = c.clone();
                let mut b = h.controllers.clone();
                a.sort();
                b.sort();
                a == b
            })
            .map(|(_, p)| p.clone())
    }
}

/// `path` with the mount's root prefix removed ("/" when the process sits at the root).
fn strip_root(path: &str, root: &str) -> String {
    if root == "/" || root.is_empty() {
        return path.to_string();
    }
    match path.strip_prefix(root) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        // Outside the mount's root (another cgroup namespace): treat as the root.
        _ => "/".to_string(),
    }
}

/// Whether `new` should replace `old` as the mount of one hierarchy: the first mount wins,
/// unless it shows only a subtree (a bind mount or a cgroup namespace's view, e.g. a nested
/// container's mount propagated back to the host) and `new` shows the whole hierarchy.
fn better(old: &Hierarchy, new: &Hierarchy) -> bool {
    old.root != "/" && new.root == "/"
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
90 20 0:32 / /mnt/mem\\040copy rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn hybrid_mountinfo_lists_v1_controllers_and_the_unified_mount() {
        let l = Layout::parse(HYBRID).unwrap();
        assert_eq!(l.mode(), Mode::Hybrid);
        let sets: Vec<Vec<String>> = l.v1.iter().map(|h| h.controllers.clone()).collect();
        assert_eq!(
            sets,
            vec![
                vec!["cpu".to_string(), "cpuacct".to_string()],
                vec!["cpuset".to_string()],
                vec!["memory".to_string()],
                vec!["name=systemd".to_string()],
            ]
        );
        assert_eq!(l.v1[0].mount, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        let v2 = l.v2.unwrap();
        assert_eq!(v2.mount, PathBuf::from("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn pure_v2_and_pure_v1_modes_are_told_apart() {
        let v2 = "25 20 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Layout::parse(v2).unwrap().mode(), Mode::Unified);
        let v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(Layout::parse(v1).unwrap().mode(), Mode::Legacy);
    }

    #[test]
    fn a_mount_of_the_whole_hierarchy_beats_an_earlier_subtree_mount() {
        let mi = "1 1 0:1 /ctr /run/c/rootfs/sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  2 1 0:1 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  3 1 0:1 /x /elsewhere rw - cgroup cgroup rw,memory\n";
        let l = Layout::parse(mi).unwrap();
        assert_eq!(l.v1.len(), 1);
        assert_eq!(l.v1[0].mount, PathBuf::from("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn escaped_mount_points_are_decoded() {
        let mi = "35 31 0:32 / /sys/fs/cgroup/mem\\040ory rw - cgroup cgroup rw,memory\n";
        let l = Layout::parse(mi).unwrap();
        assert_eq!(l.v1[0].mount, PathBuf::from("/sys/fs/cgroup/mem ory"));
    }

    #[test]
    fn own_cgroup_is_found_per_hierarchy_and_made_relative_to_the_mount_root() {
        let l = Layout::parse(HYBRID).unwrap();
        let p = ProcCgroups::parse("4:memory:/a/b\n2:cpuacct,cpu:/\n9:name=systemd:/s\n0::/u\n");
        assert_eq!(p.path_in(&l.v1[2]).as_deref(), Some("/a/b"));
        assert_eq!(p.path_in(&l.v1[0]).as_deref(), Some("/"));
        assert_eq!(p.path_in(&l.v1[3]).as_deref(), Some("/s"));
        assert_eq!(p.path_in(l.v2.as_ref().unwrap()).as_deref(), Some("/u"));
        assert_eq!(p.path_in(&l.v1[1]), None);
        assert_eq!(strip_root("/a/b/c", "/a"), "/b/c");
        assert_eq!(strip_root("/a", "/a"), "/");
    }

    #[test]
    fn a_line_without_separator_is_an_error() {
        assert!(Layout::parse("1 2 3 4 5 6 7\n").is_err());
    }
}
