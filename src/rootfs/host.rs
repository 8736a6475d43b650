//! Containers without a mount namespace share the host's: their mounts are made on the host
//! under the rootfs (there is no other place for them), the init chroots instead of
//! pivot_root (which would swap the root of every process in the namespace), and `delete` —
//! or a failed create — detaches every mount under the rootfs, so nothing stays behind
//! (runc leaves them mounted).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Mount points at or below `rootfs` in this process's mount table, deepest first.
fn mounts_under(rootfs: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<(usize, PathBuf)> = crate::mountinfo::read_self()?
        .into_iter()
        .enumerate()
        .filter(|(_, m)| m.mount_point.starts_with(rootfs))
        .map(|(i, m)| (i, m.mount_point))
        .collect();
    // Later lines are mounted later (on top, or deeper): undo them first.
    v.sort_by_key(|e| std::cmp::Reverse(e.0));
    Ok(v.into_iter().map(|(_, p)| p).collect())
}

/// Detach every mount at or below `rootfs` (lazily: a process still inside keeps its view).
pub fn detach_all_under(rootfs: &Path) -> Result<()> {
    // Stacked mounts on one point come off one per pass.
    for _ in 0..64 {
        let mounts = mounts_under(rootfs)?;
        if mounts.is_empty() {
            return Ok(());
        }
        for p in mounts {
            match nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH) {
                Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
                Err(e) => return Err(e).with_context(|| format!("unmounting {}", p.display())),
            }
        }
    }
    anyhow::bail!("mounts under {} keep coming back", rootfs.display())
}

/// The init's root when it shares the host's mount namespace: chroot, then cwd "/".
pub fn chroot_into(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).with_context(|| format!("chdir {}", rootfs.display()))?;
    nix::unistd::chroot(".").with_context(|| format!("chroot {}", rootfs.display()))?;
    nix::unistd::chdir("/").context("chdir / after chroot")
}
