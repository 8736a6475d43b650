//! Idmapped mounts: which binds show their files through a user namespace, and that
//! namespace as an fd the parent keeps. A mount's `uidMappings`/`gidMappings` (ids on the
//! source filesystem to the ids the mount shows) become a user namespace holding exactly
//! those maps, made by a short-lived child. The `idmap`/`ridmap` options without maps of
//! the mount's own take the container's user namespace: its maps, or the one joined by path
//! (as runc). The parent applies it (see mount_source): MOUNT_ATTR_IDMAP needs
//! CAP_SYS_ADMIN over the source filesystem's user namespace, which the init inside the
//! container's own lacks.

use std::os::fd::OwnedFd;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};

use crate::rootfs::mount_options::MountOptions;
use crate::sys::clone::{exit_now, fork_into, Forked};

/// The user namespace of one idmapped bind.
#[derive(Debug)]
pub struct Idmap {
    /// Index in `mounts`.
    pub index: usize,
    pub userns: OwnedFd,
    /// `ridmap`: every mount of an `rbind` tree is idmapped, not only its top (runc's
    /// default, also with `rbind`, is the top alone).
    pub recursive: bool,
}

/// Whether `m` asks for an idmapping: maps of its own, or the `idmap`/`ridmap` option.
fn asks_idmap(m: &Mount, opts: &MountOptions) -> bool {
    m.uid_mappings().is_some() || m.gid_mappings().is_some() || opts.idmap || opts.ridmap
}

/// A user namespace fd for every mount that asks for an idmapping. Every way such a mount
/// can be wrong is refused here, before the init exists.
pub fn userns_fds(spec: &Spec) -> Result<Vec<Idmap>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        // Options the init cannot parse fail there, labelled with the mount.
        let Ok(opts) = MountOptions::parse(m.options().as_deref().unwrap_or(&[])) else {
            continue;
        };
        if !asks_idmap(m, &opts) {
            continue;
        }
        let typ = m.typ().as_deref().unwrap_or("");
        if !opts.bind && typ != "bind" {
            let field = if opts.idmap || opts.ridmap {
                "options idmap/ridmap"
            } else {
                "uidMappings/gidMappings"
            };
            bail!(
                "mounts[{i}].{field}: only bind mounts can be idmapped (type {typ:?} without \
                 \"bind\" or \"rbind\" in options)"
            );
        }
        if !nix::unistd::geteuid().is_root() {
            bail!("mounts[{i}]: idmapped mounts need hull to run as root");
        }
        let userns = match (m.uid_mappings(), m.gid_mappings()) {
            (Some(uid), Some(gid)) => own_maps(i, uid, gid)?,
            (None, None) => container_userns(spec, i)?,
            (Some(_), None) => bail!("mounts[{i}].uidMappings requires gidMappings too"),
            (None, Some(_)) => bail!("mounts[{i}].gidMappings requires uidMappings too"),
        };
        out.push(Idmap {
            index: i,
            userns,
            recursive: opts.ridmap,
        });
    }
    Ok(out)
}

fn own_maps(i: usize, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    if uid.is_empty() {
        bail!("mounts[{i}].uidMappings is empty: an idmapped mount needs at least one range");
    }
    if gid.is_empty() {
        bail!("mounts[{i}].gidMappings is empty: an idmapped mount needs at least one range");
    }
    userns_with(uid, gid).with_context(|| format!("mounts[{i}] idmap"))
}

/// The implied mapping: the container's user namespace, new (a copy with its maps) or
/// joined by path.
fn container_userns(spec: &Spec, i: usize) -> Result<OwnedFd> {
    let linux = spec.linux().as_ref();
    let user = linux
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|nss| nss.iter().find(|n| n.typ() == LinuxNamespaceType::User));
    let Some(user) = user else {
        bail!(
            "mounts[{i}].options idmap/ridmap: without uidMappings/gidMappings of its own the \
             mount takes the container's user namespace mappings, but linux.namespaces has no \
             user namespace"
        );
    };
    if let Some(path) = user.path() {
        let f = std::fs::File::open(path).with_context(|| {
            format!(
                "mounts[{i}] idmap: opening the container's user namespace {}",
                path.display()
            )
        })?;
        return Ok(f.into());
    }
    let uid = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or(&[]);
    let gid = linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or(&[]);
    if uid.is_empty() || gid.is_empty() {
        bail!(
            "mounts[{i}].options idmap/ridmap: the container's user namespace has no \
             linux.uidMappings/gidMappings to take"
        );
    }
    userns_with(uid, gid).with_context(|| format!("mounts[{i}] idmap (the container's maps)"))
}

/// A new user namespace with these maps, kept by its fd after its only process exits.
fn userns_with(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let (forked, _) =
        fork_into(libc::CLONE_NEWUSER as u64, None).context("clone a user namespace")?;
    let pid = match forked {
        Forked::Child => {
            // Only wait until the parent has what it needs (EOF), then go.
            drop(w);
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(&r, &mut b);
            exit_now(0)
        }
        Forked::Parent(pid) => pid,
    };
    drop(r);
    let result = (|| {
        write_map(pid, "uid_map", uid)?;
        write_map(pid, "gid_map", gid)?;
        let f = std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .context("open the idmap user namespace")?;
        Ok(OwnedFd::from(f))
    })();
    drop(w);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    result
}

fn write_map(pid: i32, file: &str, m: &[LinuxIdMapping]) -> Result<()> {
    let text: String = m
        .iter()
        .map(|e| format!("{} {} {}\n", e.container_id(), e.host_id(), e.size()))
        .collect();
    std::fs::write(format!("/proc/{pid}/{file}"), text).with_context(|| format!("write {file}"))
}
