//! Bind sources the parent makes for the init, on request while the init sets up its mounts
//! in config order: idmapped binds (MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN over the source
//! filesystem's user namespace, which the root of the container's own lacks) and, in a user
//! namespace, sources the container's root cannot reach. As runc does it: a helper forked
//! from the parent joins the init's mount namespace, so the source resolves as the init
//! would see it (earlier mounts of the container included), clones the tree there
//! detached (owned by the container's user namespace, as if the init had cloned it),
//! idmaps it, and hands the fd back; the init attaches it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::idmap::Idmap;
use super::sync::{self, Msg};
use crate::rootfs::mount_options::MountOptions;
use crate::sys::clone::{exit_now, fork_into, Forked};
use crate::sys::mount_api::{
    mount_setattr, open_tree, MountAttr, AT_RECURSIVE, MOUNT_ATTR_IDMAP, OPEN_TREE_CLONE,
};

/// What the parent needs to answer the init's requests.
pub struct MountSources<'a> {
    spec: &'a oci_spec::runtime::Spec,
    bundle: &'a Path,
    idmaps: Vec<Idmap>,
}

impl<'a> MountSources<'a> {
    /// Checks every idmapped mount and makes its user namespace (before the init exists).
    pub fn prepare(spec: &'a oci_spec::runtime::Spec, bundle: &'a Path) -> Result<Self> {
        Ok(MountSources {
            spec,
            bundle,
            idmaps: super::idmap::userns_fds(spec)?,
        })
    }

    /// Indices of the mounts whose source the init must always ask for.
    pub fn idmapped(&self) -> Vec<usize> {
        self.idmaps.iter().map(|m| m.index).collect()
    }

    /// A detached clone of `mounts[index]`'s source as the init at `init_pid` sees it,
    /// idmapped when the mount asks for it.
    pub fn make(&self, init_pid: i32, index: usize) -> Result<OwnedFd> {
        let m = self
            .spec
            .mounts()
            .as_deref()
            .and_then(|ms| ms.get(index))
            .ok_or_else(|| anyhow!("the init asked for the source of mounts[{index}]"))?;
        let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]))?;
        if !opts.bind && m.typ().as_deref() != Some("bind") {
            bail!("the init asked for the source of mounts[{index}], which is not a bind");
        }
        let source = m
            .source()
            .as_ref()
            .ok_or_else(|| anyhow!("a bind mount needs a source"))?;
        // The helper's cwd is the namespace's root once it has joined it.
        let source = absolute(self.bundle, source);
        let idmap = self.idmaps.iter().find(|i| i.index == index);
        let mntns = std::fs::File::open(format!("/proc/{init_pid}/ns/mnt"))
            .context("opening the container init's mount namespace")?;
        let req = Request {
            mntns: mntns.into(),
            source: &source,
            recursive: opts.recursive,
            idmap,
        };
        in_helper(&req)
    }
}

/// A relative bind source is relative to the bundle, as in runc.
fn absolute(bundle: &Path, source: &Path) -> PathBuf {
    if source.is_absolute() {
        source.to_path_buf()
    } else {
        bundle.join(source)
    }
}

struct Request<'a> {
    mntns: OwnedFd,
    source: &'a Path,
    /// `rbind`: the whole tree under the source.
    recursive: bool,
    idmap: Option<&'a Idmap>,
}

/// Run `clone_source` in a forked helper inside the init's mount namespace (the parent's
/// own namespaces and cwd stay as they are) and return the fd it sends back.
fn in_helper(req: &Request) -> Result<OwnedFd> {
    let (ours, theirs) = sync::pair()?;
    let (forked, _) = fork_into(0, None).context("fork the mount source helper")?;
    let pid = match forked {
        Forked::Child => {
            drop(ours);
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            let sent = match clone_source(req) {
                Ok(fd) => theirs.send_fd(&Msg::MountSourceReady, fd.as_raw_fd()),
                Err(e) => theirs.send(&Msg::Error(crate::error_text::go_chain(&e))),
            };
            exit_now(if sent.is_ok() { 0 } else { 1 })
        }
        Forked::Parent(pid) => pid,
    };
    drop(theirs);
    let reply = ours.recv_with_fd();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    match reply? {
        Some((Msg::MountSourceReady, Some(fd))) => Ok(fd),
        Some((Msg::Error(e), _)) => bail!("{e}"),
        Some((m, _)) => bail!("mount source helper: unexpected {m:?}"),
        None => bail!("the mount source helper exited without an answer"),
    }
}

/// In the helper: join the init's mount namespace, clone the source there, idmap it.
fn clone_source(req: &Request) -> Result<OwnedFd> {
    crate::sys::nsfs::setns(req.mntns.as_raw_fd(), libc::CLONE_NEWNS)
        .context("joining the container's mount namespace")?;
    let src = crate::rootfs::safe_path::open_host_path(req.source, nix::fcntl::OFlag::empty())
        .with_context(|| format!("opening the bind source {}", req.source.display()))?;
    let mut flags = OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32;
    if req.recursive {
        flags |= AT_RECURSIVE;
    }
    let tree = open_tree(src.as_fd(), "", flags)
        .with_context(|| format!("cloning the mount of {}", req.source.display()))?;
    if let Some(idmap) = req.idmap {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            userns_fd: idmap.userns.as_raw_fd() as u64,
            ..Default::default()
        };
        let rec = if idmap.recursive { AT_RECURSIVE } else { 0 };
        mount_setattr(tree.as_fd(), rec, &attr).map_err(|e| {
            let hint = match e.raw_os_error() {
                Some(libc::EINVAL) => {
                    " (does the source filesystem support idmapped mounts on this kernel?)"
                }
                _ => "",
            };
            anyhow::Error::new(e).context(format!(
                "setting MOUNT_ATTR_IDMAP on {}{hint}",
                req.source.display()
            ))
        })?;
    }
    Ok(tree)
}
