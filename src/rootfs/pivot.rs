//! Entering the rootfs: pivot_root(".", ".") with the old root detached afterwards (no
//! directory is needed in the image), or, with `--no-pivot`, MS_MOVE onto / and chroot.
//! Without pivot_root the host's mounts stay in the container's mount namespace, under
//! the new root: the full proc and sysfs mounts among them are detached (or covered)
//! first, since the kernel lets a nested user namespace mount a fresh, unmasked proc or
//! sysfs as long as a fully visible one exists in the namespace (runc does the same).

use std::path::Path;

use anyhow::{Context, Result};
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

/// Make `rootfs` the new `/` with pivot_root and drop the old root; cwd becomes `/`.
pub fn pivot_into(rootfs: &Path) -> Result<()> {
    let dir = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old = open("/", dir, Mode::empty()).context("opening the old /")?;
    let new = open(rootfs, dir, Mode::empty())
        .with_context(|| format!("opening the rootfs {}", rootfs.display()))?;
    fchdir(&new).context("entering the rootfs")?;
    pivot_root(".", ".").with_context(|| format!("pivot_root into {}", rootfs.display()))?;
    // The old root is now stacked under the new one at "."; detach it without letting the
    // unmount propagate anywhere.
    fchdir(&old).context("entering the old root")?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("making the old root rslave")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    chdir("/").context("chdir /")
}

/// `--no-pivot`: hide the host's proc and sysfs, move the rootfs mount onto / and chroot
/// into it; cwd becomes `/`.
pub fn move_into(rootfs: &Path) -> Result<()> {
    hide_host_proc_and_sys(rootfs).context("--no-pivot: hiding the host's /proc and /sys")?;
    chdir(rootfs).with_context(|| format!("entering the rootfs {}", rootfs.display()))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .context("moving the rootfs onto /")?;
    chroot(".").context("chroot into the rootfs")?;
    chdir("/").context("chdir /")
}

/// Detach every full proc or sysfs mount outside `rootfs` in this (the container's) mount
/// namespace; where that is not allowed (mounts locked by a user namespace), cover it
/// with an empty tmpfs. Each is made rslave first so nothing propagates to the host.
fn hide_host_proc_and_sys(rootfs: &Path) -> Result<()> {
    let rootfs = std::fs::canonicalize(rootfs)
        .with_context(|| format!("resolving the rootfs {}", rootfs.display()))?;
    let text = crate::procfs::get()?
        .open_self("mountinfo", libc::O_RDONLY)
        .and_then(crate::procfs::read)
        .context("reading /proc/self/mountinfo")?;
    let mounts = crate::mountinfo::parse(&text)?;
    for m in mounts.iter().filter(|m| {
        (m.fstype == "proc" || m.fstype == "sysfs")
            && m.root == Path::new("/")
            && !m.mount_point.starts_with(&rootfs)
    }) {
        let p = m.mount_point.as_path();
        match mount(
            None::<&str>,
            p,
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        ) {
            // Already gone with a parent detached before it.
            Err(nix::errno::Errno::ENOENT) => continue,
            r => r.with_context(|| format!("making {} rslave", p.display()))?,
        }
        match umount2(p, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => mount(
                Some("tmpfs"),
                p,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .with_context(|| format!("covering {}", p.display()))?,
            Err(e) => return Err(e).with_context(|| format!("detaching {}", p.display())),
        }
    }
    Ok(())
}
