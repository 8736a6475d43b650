//! After the pivot: `linux.readonlyPaths` (a read-only bind of the path onto itself),
//! `linux.maskedPaths` (the container's /dev/null over files, verified to be the real
//! null device first, CVE-2025-31133; a read-only tmpfs over directories) and a read-only
//! root. Missing paths are skipped, as runc does.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, major, minor};

use super::mount_options::MountOptions;
use super::mounts::new_fs;
use super::safe_path::{is_root, open_host_path, open_in_root, Create};
use crate::sys::mount_api::{
    mount_setattr, move_mount_fd, open_tree, MountAttr, AT_RECURSIVE, MOUNT_ATTR_RDONLY,
    OPEN_TREE_CLONE,
};
use crate::sys::openat2::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS};

/// O_PATH fd of the current `/`.
pub fn open_root() -> Result<OwnedFd> {
    open_host_path(Path::new("/"), OFlag::O_DIRECTORY).context("opening /")
}

/// Open `path` inside `root`; `None` when it does not exist. A path that resolves to the
/// root itself (a symlink to `/` in a volume) is refused: covering `/` is never meant.
fn open_existing(root: BorrowedFd<'_>, path: &str) -> Result<Option<OwnedFd>> {
    let fd = match open_in_root(root, Path::new(path), Create::Nothing) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("resolving {path}")),
    };
    if is_root(fd.as_fd(), root).context("statx")? {
        bail!("{path:?} resolves to the container's root; refusing to operate on /");
    }
    Ok(Some(fd))
}

fn is_dir(fd: BorrowedFd<'_>) -> Result<bool> {
    Ok(fstat(fd).context("fstat")?.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// Bind each existing path onto itself read-only (the whole tree below it too).
pub fn readonly_paths(root: BorrowedFd<'_>, paths: &[String]) -> Result<()> {
    for p in paths {
        let Some(target) = open_existing(root, p).context("linux.readonlyPaths")? else {
            continue;
        };
        let tree = open_tree(
            target.as_fd(),
            "",
            OPEN_TREE_CLONE | AT_RECURSIVE | libc::AT_EMPTY_PATH as u32,
        )
        .with_context(|| format!("readonlyPaths {p}: bind"))?;
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            ..MountAttr::default()
        };
        mount_setattr(tree.as_fd(), AT_RECURSIVE, &attr)
            .with_context(|| format!("readonlyPaths {p}: making it read-only"))?;
        move_mount_fd(tree.as_fd(), target.as_fd())
            .with_context(|| format!("readonlyPaths {p}: mount"))?;
    }
    Ok(())
}

/// The container's /dev/null, refused unless it is really the null device (1:3) reached
/// without any symlink.
fn verified_dev_null(root: BorrowedFd<'_>) -> Result<OwnedFd> {
    let fd = openat2(
        root,
        "dev/null",
        libc::O_PATH,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
    )
    .context("opening /dev/null in the container to mask paths")?;
    let st = fstat(fd.as_fd()).context("fstat /dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR
        || major(st.st_rdev) != 1
        || minor(st.st_rdev) != 3
    {
        bail!(
            "/dev/null in the container is not the null device (1:3); refusing to mask paths \
             with it"
        );
    }
    Ok(fd)
}

/// Cover each existing path once: files with /dev/null, directories with a read-only
/// tmpfs, one for them all (later ones get a bind of the first, as in runc; a fresh tmpfs
/// each if that bind fails).
pub fn masked_paths(root: BorrowedFd<'_>, paths: &[String]) -> Result<()> {
    let mut dev_null: Option<OwnedFd> = None;
    let mut shared_tmpfs: Option<OwnedFd> = None;
    let mut done = std::collections::HashSet::new();
    for p in paths {
        if !done.insert(super::mounts::lexical_clean(Path::new(p))) {
            continue;
        }
        let Some(target) = open_existing(root, p).context("linux.maskedPaths")? else {
            continue;
        };
        if is_dir(target.as_fd())? {
            let shared = shared_tmpfs.as_ref().and_then(|t| {
                open_tree(t.as_fd(), "", OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32).ok()
            });
            let fresh = shared.is_none();
            let mnt = match shared {
                Some(m) => m,
                None => {
                    let mut o = MountOptions::default();
                    o.attrs.set = MOUNT_ATTR_RDONLY;
                    new_fs("tmpfs", "tmpfs", &o).with_context(|| format!("maskedPaths {p}"))?
                }
            };
            move_mount_fd(mnt.as_fd(), target.as_fd())
                .with_context(|| format!("maskedPaths {p}: mount tmpfs"))?;
            if fresh && shared_tmpfs.is_none() {
                shared_tmpfs = Some(mnt);
            }
            continue;
        }
        if dev_null.is_none() {
            dev_null = Some(verified_dev_null(root)?);
        }
        let null = dev_null.as_ref().map(|f| f.as_fd()).unwrap_or(root);
        let tree = open_tree(null, "", OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32)
            .with_context(|| format!("maskedPaths {p}: cloning /dev/null"))?;
        move_mount_fd(tree.as_fd(), target.as_fd())
            .with_context(|| format!("maskedPaths {p}: bind /dev/null"))?;
    }
    Ok(())
}

/// Make the mount at `dest` (inside the root) read-only, once everything below it exists.
pub fn readonly_mount(root: BorrowedFd<'_>, dest: &Path) -> Result<()> {
    let target = open_in_root(root, dest, Create::Nothing)
        .with_context(|| format!("resolving {} inside the rootfs", dest.display()))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        ..MountAttr::default()
    };
    mount_setattr(target.as_fd(), 0, &attr).context("remounting read-only")
}

/// Make the root mount read-only (only it: mounts below keep their own flags, as in runc).
pub fn readonly_root(root: BorrowedFd<'_>) -> Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        ..MountAttr::default()
    };
    mount_setattr(root, 0, &attr).context("remounting / read-only (root.readonly)")
}
