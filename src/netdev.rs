//! `linux.netDevices` (runtime-spec 1.2): host interfaces moved into the container's network
//! namespace (new, or joined by path as runc allows), optionally renamed, as runc 1.2 does
//! it: each is set down, its addresses read, then moved and renamed in one RTM_NEWLINK
//! (IFLA_NET_NS_FD + IFLA_IFNAME); inside, its permanent global-scope addresses are added
//! again (the kernel drops addresses on a move) and it is set up. The parent does it after
//! the clone and before the init goes on, so prestart and createRuntime hooks see the devices.
//!
//! `check` refuses, before anything is created, a device hull's namespace does not have
//! (absent, or already moved into another namespace), a name that cannot be used, and a
//! joined namespace that is hull's own. A create that fails after the move moves the devices
//! back, with their addresses (`Moves`). There is no move back on delete: in a joined
//! namespace they stay (its owner decides, as with runc); a new one's die with it — a
//! physical device returns to the initial namespace, a virtual one (a veth end) is
//! destroyed, its peer with it.

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};

use anyhow::{bail, Context, Result};
use nix::sys::stat::fstat;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::namespaces::{Join, NsPlan};
use crate::sys::netlink::{Addr, Socket};

const IFNAMSIZ: usize = 16;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;

/// (host name, name inside), sorted by host name so errors and moves are reproducible.
fn devices(spec: &Spec) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .into_iter()
        .flatten()
        .map(|(host, d)| {
            let inside = d
                .name()
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(host);
            (host.clone(), inside.to_string())
        })
        .collect();
    v.sort();
    v
}

/// Validate `linux.netDevices` in the parent, before anything is created.
pub fn check(spec: &Spec, ns: &NsPlan) -> Result<()> {
    let devs = devices(spec);
    if devs.is_empty() {
        return Ok(());
    }
    match joined_net(ns) {
        None if !ns.creates_net() => bail!(
            "linux.netDevices: moving devices needs a network namespace of the container's \
             own; add {{\"type\": \"network\"}} to linux.namespaces"
        ),
        Some(j) if same_ns(&j.file, &own_ns()?)? => bail!(
            "linux.netDevices: the network namespace linux.namespaces[{}] joins ({}) is the \
             runtime's own; devices can only move into another one",
            j.index,
            j.path.display()
        ),
        _ => {}
    }
    let mut seen = HashSet::new();
    let mut sock = Socket::new().context("linux.netDevices: rtnetlink socket")?;
    for (host, inside) in &devs {
        valid_name(&format!("linux.netDevices[{host:?}]"), host)?;
        valid_name(&format!("linux.netDevices[{host:?}].name"), inside)?;
        if !seen.insert(inside.clone()) {
            bail!(
                "linux.netDevices[{host:?}].name {inside:?}: another device is given the same name"
            );
        }
        sock.link_by_name(host).map_err(|e| absent(host, e))?;
    }
    Ok(())
}

fn valid_name(field: &str, name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() >= IFNAMSIZ
        || name == "."
        || name == ".."
        || name.contains(['/', ':', '\0'])
        || name.chars().any(char::is_whitespace);
    if bad {
        bail!("{field} {name:?}: not a network interface name (1-15 bytes, no '/', ':' or spaces)");
    }
    Ok(())
}

fn absent(host: &str, e: std::io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::ENODEV) => anyhow::anyhow!(
            "linux.netDevices[{host:?}]: no such network interface in the runtime's network \
             namespace (absent, or already moved into another namespace)"
        ),
        _ => anyhow::Error::new(e).context(format!("linux.netDevices[{host:?}]: look-up")),
    }
}

/// A device moved in: what moving it back needs.
struct Moved {
    host: String,
    inside: String,
    was_up: bool,
    addrs: Vec<Addr>,
}

/// The network namespace the container joins by path, if it joins one.
fn joined_net(ns: &NsPlan) -> Option<&Join> {
    ns.child_joins
        .iter()
        .find(|j| j.kind == LinuxNamespaceType::Network)
}

fn same_ns(a: &impl AsFd, b: &impl AsFd) -> Result<bool> {
    let (a, b) = (fstat(a.as_fd())?, fstat(b.as_fd())?);
    Ok((a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
}

/// Devices moved in by `move_in`: moved back to the runtime's namespace when dropped before
/// `keep` (the create failed), so a failed create leaves them where they were, whether the
/// container's namespace dies with it (a virtual device would die too) or was joined and
/// lives on.
pub struct Moves {
    moved: Vec<Moved>,
    socks: Option<(Socket, Socket, File)>,
}

impl Moves {
    /// The create succeeded: the devices stay in the container's namespace (and in a
    /// joined one after the container, as with runc: its owner decides).
    pub fn keep(mut self) {
        self.moved.clear();
    }
}

impl Drop for Moves {
    fn drop(&mut self) {
        if let Some((here, there, own)) = self.socks.as_mut() {
            for m in self.moved.iter().rev() {
                let _ = move_back(here, there, own, m);
            }
        }
    }
}

/// Move every device into the container's network namespace: the one it joins by path, or
/// the new one the init `pid` was cloned into. On error the devices already moved are
/// moved back; so are all of them when the returned `Moves` is dropped without `keep`.
pub fn move_in(spec: &Spec, pid: i32, ns: &NsPlan) -> Result<Moves> {
    let devs = devices(spec);
    let mut moves = Moves {
        moved: Vec::new(),
        socks: None,
    };
    if devs.is_empty() {
        return Ok(moves);
    }
    let own = own_ns()?;
    let target = match joined_net(ns) {
        Some(j) => File::from(
            j.file
                .try_clone()
                .context("linux.netDevices: the joined network namespace's fd")?,
        ),
        None => File::open(format!("/proc/{pid}/ns/net"))
            .with_context(|| format!("open the container init's network namespace (pid {pid})"))?,
    };
    let here = Socket::new().context("linux.netDevices: rtnetlink socket")?;
    let there = socket_in(&target, &own)?;
    let (here, there, _) = moves.socks.insert((here, there, own));
    for (host, inside) in &devs {
        let m = move_one(here, there, &target, host, inside)?;
        moves.moved.push(m);
    }
    Ok(moves)
}

/// An rtnetlink socket bound to `ns`, made by joining it for the `socket` call only.
fn socket_in(ns: &File, own: &File) -> Result<Socket> {
    crate::sys::nsfs::setns(ns.as_raw_fd(), libc::CLONE_NEWNET)
        .context("joining the container's network namespace")?;
    let s = Socket::new();
    crate::sys::nsfs::setns(own.as_raw_fd(), libc::CLONE_NEWNET)
        .context("returning to hull's own network namespace")?;
    s.context("linux.netDevices: rtnetlink socket in the container's network namespace")
}

fn move_one(
    here: &mut Socket,
    there: &mut Socket,
    target: &File,
    host: &str,
    inside: &str,
) -> Result<Moved> {
    let field = format!("linux.netDevices[{host:?}]");
    let link = here.link_by_name(host).map_err(|e| absent(host, e))?;
    let addrs = here
        .addresses(link.index)
        .with_context(|| format!("{field}: reading its addresses"))?;
    let clash = || {
        anyhow::anyhow!(
            "{field}.name {inside:?}: a device of that name already exists in the container's \
             network namespace"
        )
    };
    if there.link_by_name(inside).is_ok() {
        return Err(clash());
    }
    let was_up = link.flags & libc::IFF_UP as u32 != 0;
    here.set_up(link.index, false)
        .with_context(|| format!("{field}: setting it down"))?;
    let mut m = Moved {
        host: host.to_string(),
        inside: inside.to_string(),
        was_up,
        addrs,
    };
    if let Err(e) = here.move_link(link.index, inside, target.as_raw_fd()) {
        // The kernel moves first and renames after (the new name is used at the move only
        // when the old one is taken there): a failed rename leaves it inside, as `host`.
        if here.link_by_name(host).is_err() {
            m.inside = host.to_string();
            let _ = move_back(here, there, &own_ns()?, &m);
        } else if was_up {
            let _ = here.set_up(link.index, true);
        }
        if e.raw_os_error() == Some(libc::EEXIST) {
            return Err(clash());
        }
        return Err(e)
            .with_context(|| format!("{field}: moving it into the container's network namespace"));
    }
    let set_up = |there: &mut Socket| -> Result<()> {
        let l = there.link_by_name(inside)?;
        for a in m.addrs.iter().filter(|a| kept(a)) {
            there.add_address(l.index, a)?;
        }
        there.set_up(l.index, true)?;
        Ok(())
    };
    if let Err(e) = set_up(there) {
        let _ = move_back(here, there, &own_ns()?, &m);
        return Err(e.context(format!(
            "{field}: restoring its addresses and link state inside"
        )));
    }
    Ok(m)
}

fn own_ns() -> Result<File> {
    File::open("/proc/self/ns/net").context("open /proc/self/ns/net")
}

/// Addresses runc carries over: set by the user (permanent), valid anywhere (global scope).
fn kept(a: &Addr) -> bool {
    a.flags & IFA_F_PERMANENT != 0 && a.scope == RT_SCOPE_UNIVERSE
}

fn move_back(here: &mut Socket, there: &mut Socket, own: &File, m: &Moved) -> Result<()> {
    let l = there.link_by_name(&m.inside)?;
    there.set_up(l.index, false)?;
    there.move_link(l.index, &m.host, own.as_raw_fd())?;
    let l = here.link_by_name(&m.host)?;
    for a in m.addrs.iter().filter(|a| kept(a)) {
        let _ = here.add_address(l.index, a);
    }
    if m.was_up {
        here.set_up(l.index, true)?;
    }
    Ok(())
}
