//! `linux.netDevices` (runtime-spec 1.2): host interfaces moved into the container's new
//! network namespace, optionally renamed, as runc 1.2 does it: each is set down, its
//! addresses read, then moved and renamed in one RTM_NEWLINK (IFLA_NET_NS_FD +
//! IFLA_IFNAME); inside, its permanent global-scope addresses are added again (the kernel
//! drops addresses on a move) and it is set up. The parent does it after the clone and
//! before the init goes on, so prestart and createRuntime hooks see the devices.
//!
//! `check` refuses, before anything is created, a device hull's namespace does not have
//! (absent, or already moved into another namespace) and a name that cannot be used. A
//! move that fails half-way moves the devices already moved back, with their addresses.
//! There is no move back on delete: the kernel does it when the namespace dies with the
//! container's last process — a physical device returns to the initial namespace; a
//! virtual one (a veth end) is destroyed, its peer with it.

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::AsRawFd;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;

use crate::namespaces::NsPlan;
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
    if !ns.creates_net() {
        bail!(
            "linux.netDevices: moving devices needs a new network namespace; add \
             {{\"type\": \"network\"}} without a path to linux.namespaces"
        );
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

/// Move every device into the network namespace of `pid` (the container init, cloned
/// into its new network namespace). On error the devices already moved are moved back.
pub fn move_in(spec: &Spec, pid: i32) -> Result<()> {
    let devs = devices(spec);
    if devs.is_empty() {
        return Ok(());
    }
    let own = File::open("/proc/self/ns/net").context("open /proc/self/ns/net")?;
    let target = File::open(format!("/proc/{pid}/ns/net"))
        .with_context(|| format!("open the container init's network namespace (pid {pid})"))?;
    let mut here = Socket::new().context("linux.netDevices: rtnetlink socket")?;
    let mut there = socket_in(&target, &own)?;
    let mut moved: Vec<Moved> = Vec::new();
    for (host, inside) in &devs {
        match move_one(&mut here, &mut there, &target, host, inside) {
            Ok(m) => moved.push(m),
            Err(e) => {
                for m in moved.iter().rev() {
                    let _ = move_back(&mut here, &mut there, &own, m);
                }
                return Err(e);
            }
        }
    }
    Ok(())
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
