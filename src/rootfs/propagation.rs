//! Mount propagation: the container's view of `/` (rslave by default, or
//! `linux.rootfsPropagation`), keeping the rootfs's parent mount unshared so pivot_root
//! works, and per-mount propagation options applied through the mount fd.

use std::os::fd::BorrowedFd;
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};

use super::mount_options::Propagation;
use crate::mountinfo;
use crate::sys::mount_api::{mount_setattr, MountAttr, AT_RECURSIVE};

/// `linux.rootfsPropagation` as MS_* flags; runc's default is rslave.
pub fn root_flags(value: Option<&str>) -> Result<MsFlags> {
    Ok(match value.unwrap_or("") {
        "" | "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => bail!(
            "linux.rootfsPropagation {other:?} is not one of shared, slave, private, \
             unbindable (optionally prefixed with r)"
        ),
    })
}

/// Change the propagation of the mount at `/` of the current namespace.
pub fn set_root(flags: MsFlags) -> Result<()> {
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .with_context(|| format!("setting the propagation of / to {flags:?}"))
}

/// Whether `flags` applied to `/` leave no shared mount behind: MS_REC with MS_SLAVE or
/// MS_PRIVATE turns every shared mount of the namespace into a slave or a private one.
pub fn leaves_nothing_shared(flags: MsFlags) -> bool {
    flags.contains(MsFlags::MS_REC) && flags.intersects(MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE)
}

/// pivot_root refuses a new root whose parent mount is shared: make that mount private
/// (only it, not its children), as runc does.
pub fn make_parent_mount_private(rootfs: &Path) -> Result<()> {
    let parent = rootfs.parent().unwrap_or(Path::new("/"));
    let mounts = mountinfo::read_self()?;
    let best = mounts
        .iter()
        .filter(|m| parent.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len());
    if let Some(m) = best {
        if m.tags.iter().any(|t| t.starts_with("shared:")) {
            mount(
                None::<&str>,
                &m.mount_point,
                None::<&str>,
                MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .with_context(|| {
                format!(
                    "making {} (parent of the rootfs) private",
                    m.mount_point.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Apply propagation options in order to the attached mount `mnt` refers to.
pub fn apply(mnt: BorrowedFd<'_>, changes: &[Propagation]) -> std::io::Result<()> {
    for p in changes {
        let attr = MountAttr {
            propagation: p.flag,
            ..MountAttr::default()
        };
        mount_setattr(mnt, if p.recursive { AT_RECURSIVE } else { 0 }, &attr)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_root_propagation_is_rslave_and_bad_values_are_named() {
        assert_eq!(
            root_flags(None).unwrap(),
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        );
        assert_eq!(root_flags(Some("private")).unwrap(), MsFlags::MS_PRIVATE);
        let e = root_flags(Some("sharde")).unwrap_err().to_string();
        let nothing_shared = |v| leaves_nothing_shared(root_flags(Some(v)).unwrap());
        assert!(nothing_shared("rslave") && nothing_shared("rprivate"));
        for v in ["slave", "private", "shared", "rshared", "unbindable"] {
            assert!(!nothing_shared(v), "{v}");
        }
        assert!(
            e.contains("rootfsPropagation") && e.contains("sharde"),
            "{e}"
        );
    }
}
