//! Namespaces: which to create (one `clone3` carries every new one) and which to join by
//! path (opened and type-checked in the parent, joined with setns in the child).
//!
//! Exceptions to "create in clone3": the network, ipc, uts and mount namespaces are unshared
//! by the child itself as its first act (without a new user namespace), so that their cost
//! (a network namespace alone is ~0.5 ms of kernel work) overlaps the parent's cgroup setup
//! instead of preceding it; the cgroup namespace is unshared by the child only after the
//! parent has placed it in its cgroups (so the namespace root is the container's cgroup);
//! and pid/time namespaces given by path are joined by the parent itself just around the
//! clone (they affect only children), then undone, so no second fork is needed.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// A namespace to join: its index in `linux.namespaces`, type, path and open file.
#[derive(Debug)]
pub struct Join {
    pub index: usize,
    pub kind: LinuxNamespaceType,
    pub path: PathBuf,
    pub file: OwnedFd,
}

/// What the create path does with namespaces.
#[derive(Debug, Default)]
pub struct NsPlan {
    /// CLONE_NEW* flags for clone3.
    pub clone_flags: u64,
    /// Unshared by the child before anything else (network, ipc, uts, mount): new
    /// namespaces that take effect for the caller itself, when there is no new user
    /// namespace (with one, everything stays in clone3, created together with it).
    pub unshare_first: u64,
    /// Unshared by the child once it is in its cgroups (CLONE_NEWCGROUP).
    pub unshare_later: u64,
    /// Joined by the child with setns, user namespace first (with `user_first`, by the
    /// intermediate, before it enters the user namespace).
    pub child_joins: Vec<Join>,
    /// pid/time namespaces joined by the parent for the duration of the clone.
    pub parent_joins: Vec<Join>,
    /// A user namespace given by path when others are created: entered before the clone
    /// (by an intermediate process), so that the new namespaces belong to it.
    pub user_first: Option<Join>,
    /// A new time namespace with `linux.timeOffsets`: unshared by the init, which writes
    /// the offsets before its execve enters it (a clone3 child is already inside, and the
    /// kernel fixes the offsets once a process is).
    pub unshare_time: bool,
    /// The container gets a new user namespace (the parent writes its id maps).
    pub new_user: bool,
    /// The container has a private UTS namespace (new or joined).
    pub has_uts: bool,
    /// The container has a private mount namespace (new or joined).
    pub has_mount: bool,
    /// Private network / ipc namespaces, for sysctl checks.
    pub has_net: bool,
    pub has_ipc: bool,
}

impl NsPlan {
    /// The container gets a network namespace of its own making (not joined by path).
    pub fn creates_net(&self) -> bool {
        (self.clone_flags | self.unshare_first) & libc::CLONE_NEWNET as u64 != 0
    }
}

/// Bring `lo` up in the caller's (new) network namespace, as runc does: the kernel creates
/// it down, and anything inside that talks to 127.0.0.1 would get ENETUNREACH.
pub fn loopback_up() -> Result<()> {
    crate::sys::netlink::set_link_up(crate::sys::netlink::LOOPBACK_INDEX)
        .context("linux.namespaces: bringing up the network namespace's loopback (lo)")
}

pub fn flag(kind: LinuxNamespaceType) -> u64 {
    kind as i32 as u32 as u64
}

/// The name config.json uses for a namespace type.
pub fn name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// The config.json names of the namespace types in `flags` (CLONE_NEW* bits), comma-separated.
pub fn names_of(flags: u64) -> String {
    use LinuxNamespaceType::*;
    [Mount, Cgroup, Uts, Ipc, User, Pid, Network, Time]
        .into_iter()
        .filter(|k| flags & flag(*k) != 0)
        .map(name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Build the namespace plan, opening and verifying every namespace path.
pub fn plan(spec: &Spec) -> Result<NsPlan> {
    let mut p = NsPlan::default();
    let Some(nss) = spec.linux().as_ref().and_then(|l| l.namespaces().clone()) else {
        return Ok(p);
    };
    for (i, ns) in nss.iter().enumerate() {
        let kind = ns.typ();
        let present = true;
        match kind {
            LinuxNamespaceType::Uts => p.has_uts = present,
            LinuxNamespaceType::Mount => p.has_mount = present,
            LinuxNamespaceType::Network => p.has_net = present,
            LinuxNamespaceType::Ipc => p.has_ipc = present,
            _ => {}
        }
        match ns.path() {
            None => match kind {
                LinuxNamespaceType::Cgroup => p.unshare_later |= flag(kind),
                LinuxNamespaceType::User => {
                    p.new_user = true;
                    p.clone_flags |= flag(kind);
                }
                _ => p.clone_flags |= flag(kind),
            },
            Some(path) => {
                let j = open_join(i, kind, path.clone())?;
                match kind {
                    LinuxNamespaceType::Pid | LinuxNamespaceType::Time => p.parent_joins.push(j),
                    _ => p.child_joins.push(j),
                }
            }
        }
    }
    if !p.new_user {
        let first =
            (libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWNS)
                as u64;
        // Devices (linux.netDevices) are moved in by the parent right after the clone:
        // the namespace must exist by then.
        let moves_devices = spec
            .linux()
            .as_ref()
            .and_then(|l| l.net_devices().as_ref())
            .is_some_and(|d| !d.is_empty());
        let first = match moves_devices {
            true => first & !(libc::CLONE_NEWNET as u64),
            false => first,
        };
        p.unshare_first = p.clone_flags & first;
        p.clone_flags &= !first;
    }
    time_offsets(spec, &mut p)?;
    // The user namespace must be joined first: it decides what the others may do.
    p.child_joins
        .sort_by_key(|j| u8::from(j.kind != LinuxNamespaceType::User));
    // Joined by path while others are created: they must belong to it, so it is entered
    // before the clone, by a short-lived intermediate (see process::spawn); a new pid
    // namespace, in particular, cannot be entered after it exists.
    let creates = p.clone_flags | p.unshare_first | p.unshare_later != 0;
    if creates
        && p.child_joins
            .first()
            .is_some_and(|j| j.kind == LinuxNamespaceType::User)
    {
        p.user_first = Some(p.child_joins.remove(0));
    }
    Ok(p)
}

/// `linux.timeOffsets` need a time namespace hull creates; then the init creates it.
fn time_offsets(spec: &Spec, p: &mut NsPlan) -> Result<()> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
        .filter(|t| !t.is_empty())
    else {
        return Ok(());
    };
    let time = flag(LinuxNamespaceType::Time);
    if p.clone_flags & time == 0 {
        bail!(
            "linux.timeOffsets: offsets need a new time namespace; add {{\"type\": \"time\"}} \
             without a path to linux.namespaces"
        );
    }
    if let Some(k) = offsets
        .keys()
        .find(|k| !matches!(k.as_str(), "monotonic" | "boottime"))
    {
        bail!(
            "linux.timeOffsets.{k}: not a clock a time namespace can offset (monotonic, boottime)"
        );
    }
    p.clone_flags &= !time;
    p.unshare_time = true;
    Ok(())
}

/// `/proc/self/timens_offsets`, opened by the init while it is still dumpable: afterwards
/// its /proc files belong to the host's root, which the root of a new user namespace is
/// not. A write acts on the namespace the file names at the time of the write.
pub fn open_timens_offsets() -> Result<OwnedFd> {
    crate::procfs::get()?
        .open_self("timens_offsets", libc::O_WRONLY | libc::O_CLOEXEC)
        .context("linux.timeOffsets: open /proc/self/timens_offsets")
}

/// Create the time namespace for the init's children and execve, and set its clock
/// offsets through `offsets_file` (from `open_timens_offsets`): it names that namespace
/// until a process enters it.
pub fn unshare_time_with_offsets(spec: &Spec, offsets_file: OwnedFd) -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(
        libc::CLONE_NEWTIME,
    ))
    .context("linux.namespaces: creating the time namespace (unshare)")?;
    let mut text = String::new();
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    for (clock, o) in offsets.into_iter().flatten() {
        let (secs, nanos) = (o.secs().unwrap_or(0), o.nanosecs().unwrap_or(0));
        text.push_str(&format!("{clock} {secs} {nanos}\n"));
    }
    crate::procfs::write(offsets_file, &text)
        .with_context(|| format!("linux.timeOffsets: the kernel refused {:?}", text.trim()))
}

fn open_join(index: usize, kind: LinuxNamespaceType, path: PathBuf) -> Result<Join> {
    let field = format!("linux.namespaces[{index}].path");
    let f = File::open(&path).with_context(|| format!("{field} {}", path.display()))?;
    let actual = crate::sys::nsfs::ns_type(f.as_raw_fd())
        .with_context(|| format!("{field} {}: not a namespace file", path.display()))?;
    if actual as u32 as u64 != flag(kind) {
        bail!(
            "{field} {}: is not a {} namespace",
            path.display(),
            name(kind)
        );
    }
    Ok(Join {
        index,
        kind,
        path,
        file: f.into(),
    })
}

/// setns into `j` (the type was verified when it was opened).
pub fn enter(j: &Join) -> Result<()> {
    crate::sys::nsfs::setns(j.file.as_raw_fd(), flag(j.kind) as i32).with_context(|| {
        format!(
            "linux.namespaces[{}]: setns {} {}",
            j.index,
            name(j.kind),
            j.path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(types: &[&str]) -> Spec {
        let nss: Vec<_> = types
            .iter()
            .map(|t| serde_json::json!({ "type": t }))
            .collect();
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "linux": {"namespaces": nss}
        }))
        .unwrap()
    }

    #[test]
    fn without_a_user_namespace_the_child_creates_net_ipc_uts_and_mount_itself() {
        let p = plan(&spec(&["pid", "network", "ipc", "uts", "mount", "cgroup"])).unwrap();
        assert_eq!(p.clone_flags, libc::CLONE_NEWPID as u64);
        let first =
            libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWNS;
        assert_eq!(p.unshare_first, first as u64);
        assert_eq!(p.unshare_later, libc::CLONE_NEWCGROUP as u64);
        assert_eq!(names_of(p.unshare_first), "mount, uts, ipc, network");
        assert!(p.creates_net());
        assert!(!plan(&spec(&["pid", "mount"])).unwrap().creates_net());
    }

    #[test]
    fn a_user_namespace_joined_by_path_with_new_ones_is_entered_before_the_clone() {
        let mut sp = spec(&["pid", "network"]);
        let mut nss = sp.linux().clone().unwrap().namespaces().clone().unwrap();
        nss.push(
            serde_json::from_value(
                serde_json::json!({"type": "user", "path": "/proc/self/ns/user"}),
            )
            .unwrap(),
        );
        let mut l = sp.linux().clone().unwrap();
        l.set_namespaces(Some(nss));
        sp.set_linux(Some(l));
        let p = plan(&sp).unwrap();
        assert!(
            p.user_first.is_some(),
            "the user namespace is entered first"
        );
        assert!(p.child_joins.is_empty());
        assert_eq!(p.clone_flags, libc::CLONE_NEWPID as u64);
    }

    #[test]
    fn with_a_new_user_namespace_everything_is_created_by_clone3() {
        let p = plan(&spec(&["user", "pid", "network", "mount"])).unwrap();
        let all = libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::CLONE_NEWNET | libc::CLONE_NEWNS;
        assert_eq!(p.clone_flags, all as u64);
        assert_eq!(p.unshare_first, 0);
        assert!(p.new_user);
        assert!(p.creates_net());
    }
}
