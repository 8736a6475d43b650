//! Idmapped mounts: a mount's `uidMappings`/`gidMappings` (source-filesystem ids to the ids
//! the mount shows) become a user namespace holding exactly those maps, made here in the
//! parent by a short-lived child; the init applies it to the detached bind mount with
//! mount_setattr(MOUNT_ATTR_IDMAP) before attaching it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::sys::clone::{exit_now, fork_into, Forked};

/// A user namespace fd for every mount that asks for an idmapping, by mount index.
pub fn userns_fds(spec: &Spec) -> Result<Vec<(usize, OwnedFd)>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let (uid, gid) = (m.uid_mappings(), m.gid_mappings());
        if uid.is_none() && gid.is_none() {
            continue;
        }
        let (Some(uid), Some(gid)) = (uid, gid) else {
            bail!("mounts[{i}]: an idmapped mount needs both uidMappings and gidMappings");
        };
        if !nix::unistd::geteuid().is_root() {
            bail!("mounts[{i}]: idmapped mounts need hull to run as root");
        }
        out.push((
            i,
            userns_with(uid, gid).with_context(|| format!("mounts[{i}] idmap"))?,
        ));
    }
    Ok(out)
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

/// Raw (mount index, fd) pairs for the init.
pub fn raw(fds: &[(usize, OwnedFd)]) -> Vec<(usize, RawFd)> {
    fds.iter().map(|(i, f)| (*i, f.as_raw_fd())).collect()
}
