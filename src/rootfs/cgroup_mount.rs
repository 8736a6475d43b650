//! A `cgroup` entry in `mounts`: on a pure v2 host a cgroup2 mount; on a v1 or hybrid host
//! a tmpfs with one directory per hierarchy the host has mounted (and `unified` for the v2
//! part of a hybrid host). A container without a cgroup namespace of its own gets a bind of
//! the host's mount of its own cgroup (from /proc/self/cgroup), so it sees only its subtree;
//! one with a cgroup namespace gets a fresh mount, rooted at the namespace root.
//!
//! Never a fresh mount outside a cgroup namespace: there a cgroup2 mount applies its mount
//! options to the whole hierarchy (kernel: apply_cgroup_root_flags runs in the initial
//! cgroup namespace), so an option-less mount would switch off the host's nsdelegate,
//! memory_recursiveprot or favordynmods; and since Linux 6.16 it also waits for an RCU grace
//! period (10 ms here) while it takes the global threadgroup lock to do so.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{mkdirat, Mode};
use nix::unistd::symlinkat;

use super::mount_options::MountOptions;
use super::mounts::{new_fs, Ctx};
use super::propagation;
use super::safe_path::{open_in_root, Create};
use crate::cgroups::layout::{Hierarchy, Layout, ProcCgroups};
use crate::sys::mount_api::{
    fsconfig_create, fsconfig_set, fsmount, fsopen, mount_setattr, move_mount_fd, open_tree,
    MountAttr, AT_RECURSIVE, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID,
    MOUNT_ATTR_RDONLY, OPEN_TREE_CLONE,
};

/// One hierarchy the host has mounted, as cgroups::layout reads it, with the name of its
/// directory under the destination (the basename of the host's mount point).
struct Named<'a> {
    name: String,
    h: &'a Hierarchy,
}

fn named(layout: &Layout) -> Vec<Named<'_>> {
    layout
        .all()
        .filter_map(|h| {
            let name = h.mount.file_name()?.to_str()?.to_string();
            Some(Named { name, h })
        })
        .collect()
}

/// Mount the cgroup filesystem(s) at `dest` (already lexically clean).
/// With `only_v2` (a `cgroup2` entry), only the host's cgroup2 hierarchy is mounted.
pub fn mount_cgroup(ctx: &Ctx<'_>, dest: &Path, opts: &MountOptions, only_v2: bool) -> Result<()> {
    let layout = Layout::detect()?;
    let mut all = named(&layout);
    if only_v2 {
        all.retain(|n| n.h.v2);
    }
    let proc_cgroup = ProcCgroups::of_self()?;
    let attrs = opts.attrs.set
        & (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    let v1 = all.iter().any(|n| !n.h.v2);
    if !v1 {
        let h = all
            .first()
            .ok_or_else(|| anyhow!("the host has no cgroup2 filesystem mounted"))?;
        let mnt = hierarchy_mount(ctx, h, &proc_cgroup, attrs)?;
        let target = open_in_root(ctx.root, dest, Create::Dir).context("resolving the target")?;
        super::mounts::refuse_root(target.as_fd(), ctx.root, dest)?;
        move_mount_fd(mnt.as_fd(), target.as_fd()).context("mount cgroup2")?;
        return propagation::apply(mnt.as_fd(), &opts.propagation).context("setting propagation");
    }
    let mut tmp = MountOptions::default();
    tmp.attrs.set = attrs & !MOUNT_ATTR_RDONLY;
    tmp.data.push(("mode".to_string(), Some("755".to_string())));
    let tmpfs = new_fs("tmpfs", "tmpfs", &tmp)?;
    let target = open_in_root(ctx.root, dest, Create::Dir).context("resolving the target")?;
    super::mounts::refuse_root(target.as_fd(), ctx.root, dest)?;
    move_mount_fd(tmpfs.as_fd(), target.as_fd()).context("mount tmpfs")?;
    // The tmpfs is new and only this process can reach it yet: its directories and links are
    // made relative to its root fd, no resolution through the container's rootfs needed.
    for h in &all {
        let mnt = hierarchy_mount(ctx, h, &proc_cgroup, attrs)
            .with_context(|| format!("cgroup hierarchy {}", h.name))?;
        let t = tmpfs_dir(&tmpfs, &h.name)
            .with_context(|| format!("creating {}", dest.join(&h.name).display()))?;
        move_mount_fd(mnt.as_fd(), t.as_fd())
            .with_context(|| format!("mount cgroup hierarchy {}", h.name))?;
        if h.name.contains(',') {
            for c in h.name.split(',') {
                match symlinkat(h.name.as_str(), tmpfs.as_fd(), c) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(e).context(format!("symlink {c} -> {}", h.name)),
                }
            }
        }
    }
    if attrs & MOUNT_ATTR_RDONLY != 0 {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        mount_setattr(tmpfs.as_fd(), 0, &attr).context("remounting the cgroup tmpfs read-only")?;
    }
    propagation::apply(tmpfs.as_fd(), &opts.propagation).context("setting propagation")
}

/// Directory `name` (a host mount point's basename) in the fresh tmpfs `root`, opened `O_PATH`.
fn tmpfs_dir(root: &OwnedFd, name: &str) -> Result<OwnedFd> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        bail!("cgroup hierarchy name {name:?} is not a directory name");
    }
    match mkdirat(root.as_fd(), name, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e).context("mkdir"),
    }
    openat(
        root.as_fd(),
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open")
}

/// A detached mount of hierarchy `h` rooted at the container's own cgroup: a clone of the
/// host's mount of it without a cgroup namespace; in one, a fresh mount (rooted at the
/// namespace's root, which is the container's cgroup), or that clone where the fresh one
/// cannot be had or narrowed.
fn hierarchy_mount(
    ctx: &Ctx<'_>,
    n: &Named<'_>,
    proc_cgroup: &ProcCgroups,
    attrs: u64,
) -> Result<OwnedFd> {
    let h = n.h;
    let path = proc_cgroup
        .raw_path_in(h)
        .ok_or_else(|| anyhow!("this process is in no cgroup of hierarchy {}", n.name))?;
    if path.split('/').any(|c| c == "..") {
        bail!(
            "the container's cgroup {path} lies outside its cgroup namespace: create the \
             cgroup namespace after joining the container's cgroup"
        );
    }
    if !ctx.own_cgroupns {
        return clone_host_mount(n, &path, attrs);
    }
    let fstype = if h.v2 { "cgroup2" } else { "cgroup" };
    let rel = path.trim_start_matches('/');
    let fresh = (|| -> std::io::Result<OwnedFd> {
        let fs = fsopen(fstype)?;
        fsconfig_set(fs.as_fd(), "source", Some(fstype))?;
        for c in &h.controllers {
            match c.split_once('=') {
                Some((k, v)) => fsconfig_set(fs.as_fd(), k, Some(v))?,
                None => fsconfig_set(fs.as_fd(), c, None)?,
            }
        }
        fsconfig_create(fs.as_fd())?;
        fsmount(fs.as_fd(), attrs)
    })();
    let base = match fresh {
        Ok(m) => m,
        // A user namespace without its own cgroup namespace may not mount cgroups.
        Err(e) if ctx.userns && e.raw_os_error() == Some(libc::EPERM) => {
            return clone_host_mount(n, &path, attrs);
        }
        Err(e) => return Err(e).context(format!("mounting a fresh {fstype}")),
    };
    if rel.is_empty() {
        return Ok(base);
    }
    match open_tree(base.as_fd(), rel, OPEN_TREE_CLONE) {
        Ok(m) => Ok(m),
        // Kernels before 6.15 (Debian's 6.1 among them) refuse to clone part of a detached
        // mount; the host's own mount of the hierarchy gives the same subtree.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => clone_host_mount(n, &path, attrs),
        Err(e) => {
            Err(e).with_context(|| format!("narrowing the mount to the container's cgroup {path}"))
        }
    }
}

/// A detached clone of the host's mount of `n` at cgroup `path`, with `attrs` set.
fn clone_host_mount(n: &Named<'_>, path: &str, attrs: u64) -> Result<OwnedFd> {
    let host = host_cgroup_dir(n.h, path)
        .ok_or_else(|| anyhow!("cgroup {path} is not below the host mount of {}", n.name))?;
    let tree = open_tree(
        crate::sys::mount_api::at_fdcwd(),
        host.to_str()
            .ok_or_else(|| anyhow!("non-UTF-8 cgroup path"))?,
        OPEN_TREE_CLONE,
    )
    .with_context(|| format!("cloning {}", host.display()))?;
    if attrs != 0 {
        let attr = MountAttr {
            attr_set: attrs,
            ..MountAttr::default()
        };
        mount_setattr(tree.as_fd(), AT_RECURSIVE, &attr).context("setting mount flags")?;
    }
    Ok(tree)
}

/// Where cgroup `path` of a hierarchy appears under the host's mount of it (whose root is
/// the cgroup `h.root`), or None if the mount does not show it.
fn host_cgroup_dir(h: &Hierarchy, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path).strip_prefix(&h.root).ok()?;
    Some(h.mount.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
        42 31 0:29 / /mnt/cpu-again rw,relatime - cgroup cgroup rw,cpu\n";

    #[test]
    fn hierarchies_are_found_once_each_with_their_controllers() {
        let layout = Layout::parse(HYBRID).unwrap();
        let h = named(&layout);
        let names: Vec<&str> = h.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["cpu", "systemd", "unified"]);
        assert_eq!(h[1].h.controllers, ["name=systemd"]);
        assert!(h[2].h.controllers.is_empty());
    }

    #[test]
    fn host_cgroup_dir_maps_a_cgroup_below_the_host_mount_root() {
        let ns = Layout::parse(
            "41 31 0:38 /ns /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n",
        )
        .unwrap();
        let m = ns.v2.as_ref().unwrap();
        assert_eq!(
            host_cgroup_dir(m, "/ns/hull/c1"),
            Some(PathBuf::from("/sys/fs/cgroup/hull/c1"))
        );
        assert_eq!(host_cgroup_dir(m, "/other/c1"), None);
        let layout = Layout::parse(HYBRID).unwrap();
        assert_eq!(
            host_cgroup_dir(&layout.v1[0], "/hull/c1"),
            Some(PathBuf::from("/sys/fs/cgroup/cpu/hull/c1"))
        );
    }

    #[test]
    fn the_raw_path_of_each_hierarchy_comes_from_proc_self_cgroup() {
        let pc = ProcCgroups::parse("12:cpu,cpuacct:/a/b\n1:name=systemd:/s\n0::/u\n");
        let h = |controllers: &[&str], v2: bool| Hierarchy {
            mount: "/m".into(),
            root: "/x".into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            v2,
        };
        assert_eq!(
            pc.raw_path_in(&h(&["cpuacct", "cpu"], false)).as_deref(),
            Some("/a/b")
        );
        assert_eq!(
            pc.raw_path_in(&h(&["name=systemd"], false)).as_deref(),
            Some("/s")
        );
        assert_eq!(pc.raw_path_in(&h(&[], true)).as_deref(), Some("/u"));
        assert_eq!(pc.raw_path_in(&h(&["memory"], false)), None);
    }
}
