//! Entering the rootfs: pivot_root(".", ".") with the old root detached afterwards (no
//! directory is needed in the image), or, with `--no-pivot`, MS_MOVE onto / and chroot.

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

/// `--no-pivot`: move the rootfs mount onto / and chroot into it; cwd becomes `/`.
pub fn move_into(rootfs: &Path) -> Result<()> {
    chdir(rootfs).with_context(|| format!("entering the rootfs {}", rootfs.display()))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .context("moving the rootfs onto /")?;
    chroot(".").context("chroot into the rootfs")?;
    chdir("/").context("chdir /")
}
