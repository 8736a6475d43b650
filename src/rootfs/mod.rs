//! The container's root filesystem, set up in the child inside its new mount namespace:
//! propagation, the root bind, `mounts` in order, devices and /dev links, then pivot_root,
//! masked and read-only paths and a read-only root. Every target is resolved inside the
//! rootfs through fds, so no symlink in the image can lead a mount outside it.

use std::path::Path;

use anyhow::Result;
use oci_spec::runtime::Spec;

/// Everything before pivot_root: propagation, root bind, mounts, devices, /dev links.
/// Runs in the child, in its own mount namespace.
pub fn prepare(spec: &Spec, rootfs: &Path) -> Result<()> {
    let _ = (spec, rootfs);
    anyhow::bail!("rootfs::prepare: not implemented")
}

/// pivot_root into `rootfs` (or MS_MOVE + chroot with `no_pivot`), then masked paths,
/// read-only paths and a read-only root. Afterwards the cwd is the new `/`.
pub fn finish(spec: &Spec, rootfs: &Path, no_pivot: bool) -> Result<()> {
    let _ = (spec, rootfs, no_pivot);
    anyhow::bail!("rootfs::finish: not implemented")
}
