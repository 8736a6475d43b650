//! The container's root filesystem, set up in the child inside its new mount namespace:
//! propagation, the root bind, `mounts` in order, devices and /dev links, then pivot_root,
//! masked and read-only paths and a read-only root. Every target is resolved inside the
//! rootfs through fds, so no symlink in the image can lead a mount outside it.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use oci_spec::runtime::Spec;

mod cgroup_mount;
mod copyup;
pub(crate) mod devices;
pub(crate) mod host;
mod masked;
pub(crate) mod mount_options;
pub(crate) mod mounts;
mod pivot;
mod propagation;
pub(crate) mod safe_path;

use crate::sys::mount_api::{move_mount_fd, open_tree, AT_RECURSIVE, OPEN_TREE_CLONE};

fn rootfs_propagation(spec: &Spec) -> Option<&str> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
}

/// Bind sources the parent makes for the init (see process::mount_source).
pub struct FromParent<'a> {
    /// Indices of the idmapped mounts: their sources always come from the parent.
    pub idmapped: &'a [usize],
    /// Asks the parent for the detached source tree of `mounts[i]`; None when the parent
    /// could not reach more than the init (an unprivileged parent).
    pub ask: Option<&'a dyn Fn(usize) -> Result<OwnedFd>>,
}

/// True when this process is in a user namespace (its uid map is not the identity map of
/// the whole range), where mknod is refused and devices are bind-mounted instead.
pub fn in_user_namespace() -> bool {
    match crate::kfile::read("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// Everything before pivot_root: propagation, root bind, mounts, devices, /dev links.
/// Runs in the child, in its own mount namespace — or, with `host_ns`, in the host's (the
/// container has none): then the host's propagation is left alone and the mounts are the
/// host's until `host::detach_all_under` removes them.
pub fn prepare(spec: &Spec, rootfs: &Path, host_ns: bool, from_parent: &FromParent) -> Result<()> {
    if !host_ns {
        let flags = propagation::root_flags(rootfs_propagation(spec))?;
        // An unbindable `/` would forbid bind-mounting the rootfs onto itself: start private
        // instead; finish() applies the requested propagation to the new root after pivot.
        let initial = if flags.contains(nix::mount::MsFlags::MS_UNBINDABLE) {
            nix::mount::MsFlags::MS_PRIVATE | (flags & nix::mount::MsFlags::MS_REC)
        } else {
            flags
        };
        propagation::set_root(initial)?;
        // After a recursive slave or private `/` no mount in this namespace is shared, the
        // rootfs's parent included: nothing to look up (runc's default, rslave).
        if !propagation::leaves_nothing_shared(initial) {
            propagation::make_parent_mount_private(rootfs)?;
        }
    }

    let host_rootfs = safe_path::open_host_path(rootfs, OFlag::O_DIRECTORY)
        .with_context(|| format!("opening the rootfs {}", rootfs.display()))?;
    open_tree(
        host_rootfs.as_fd(),
        "",
        OPEN_TREE_CLONE | AT_RECURSIVE | libc::AT_EMPTY_PATH as u32,
    )
    .and_then(|t| move_mount_fd(t.as_fd(), host_rootfs.as_fd()))
    .with_context(|| format!("bind-mounting the rootfs {} onto itself", rootfs.display()))?;
    // Reopen: the fd above still names the directory under the new bind.
    let root = safe_path::open_host_path(rootfs, OFlag::O_DIRECTORY)
        .with_context(|| format!("opening the rootfs {}", rootfs.display()))?;

    let ctx = mounts::Ctx {
        root: root.as_fd(),
        userns: in_user_namespace(),
        own_cgroupns: new_cgroup_namespace(spec),
        rootfs,
        from_parent,
    };
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        mounts::mount_entry(&ctx, i, m)?;
    }

    if devices::needs_dev_setup(spec) {
        let list = devices::device_list(spec)?;
        devices::create_devices(root.as_fd(), &list, ctx.userns)?;
        devices::create_dev_links(root.as_fd(), devices::has_devpts(spec))?;
    }
    Ok(())
}

/// pivot_root into `rootfs` (or MS_MOVE + chroot with `no_pivot`), then `linux.sysctl`
/// (through the container's procfs, before /proc/sys can become a read-only path, as runc
/// orders it), masked paths, read-only paths and a read-only root. Afterwards the cwd is
/// the new `/`.
pub fn finish(spec: &Spec, rootfs: &Path, no_pivot: bool, host_ns: bool) -> Result<()> {
    if host_ns {
        // pivot_root or MS_MOVE would change the host's own root.
        host::chroot_into(rootfs)?;
    } else if no_pivot {
        pivot::move_into(rootfs)?;
    } else {
        pivot::pivot_into(rootfs)?;
    }
    if let (false, Some(p)) = (host_ns, rootfs_propagation(spec)) {
        propagation::set_root(propagation::root_flags(Some(p))?)?;
    }
    let linux = spec.linux().as_ref();
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        crate::sysctl::apply(sysctl)?;
    }
    let root = masked::open_root()?;
    let ro = linux
        .and_then(|l| l.readonly_paths().clone())
        .unwrap_or_default();
    masked::readonly_paths(root.as_fd(), &ro)?;
    let masked_list = linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    masked::masked_paths(root.as_fd(), &masked_list)?;
    let all = spec.mounts().as_deref().unwrap_or(&[]);
    for (i, dest) in mounts::readonly_later_mounts(all, rootfs) {
        masked::readonly_mount(root.as_fd(), &dest)
            .with_context(|| format!("mounts[{i}] on {}", dest.display()))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        masked::readonly_root(root.as_fd())?;
    }
    Ok(())
}

/// Whether the container gets a new cgroup namespace (one joined by path may be anyone's).
fn new_cgroup_namespace(spec: &Spec) -> bool {
    use oci_spec::runtime::LinuxNamespaceType;
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|nss| {
            nss.iter()
                .any(|n| n.typ() == LinuxNamespaceType::Cgroup && n.path().is_none())
        })
}
