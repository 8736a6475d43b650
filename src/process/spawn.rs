//! The parent side of the create path: everything that can fail for a boring reason
//! happens here before `clone3`; then the init is cloned into its namespaces, its ids are
//! mapped, it is placed in its cgroups and told to go, and the parent answers its requests
//! until it reports `Created`. On any error the init is killed and the caller cleans up.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{bail, Context, Result};

use super::child::{gone, KillOnDrop};
use super::init::InitContext;
use super::mount_source::MountSources;
use super::sync::{self, Msg};
use crate::cgroups::{join::Join, Placement};
use crate::hooks::{self, Kind};
use crate::namespaces::{self, NsPlan};
use crate::spec::Plan;
use crate::state::{OciState, Status};
use crate::sys::clone::{fork_into, Forked};

pub use super::console::Console;

/// What the caller asks of the init.
pub struct SpawnOptions<'a> {
    pub id: &'a str,
    /// Where the pty master goes when process.terminal is true.
    pub console: Console,
    pub plan: &'a Plan,
    pub fifo: &'a OwnedFd,
    pub extra_fds: u32,
    pub env: Vec<String>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub seccomp: Option<crate::security::seccomp::Program>,
}

/// A cloned init that has not finished setup yet: killed and reaped on drop unless
/// `release`d, so a failed create leaves no process behind.
pub struct Child {
    pub pid: i32,
    /// The pty master, with `Console::Relay`.
    pub console: Option<OwnedFd>,
    guard: KillOnDrop,
}

impl Child {
    pub fn release(mut self) -> (i32, Option<OwnedFd>) {
        let console = self.console.take();
        (self.guard.release(), console)
    }
}

/// Check everything about namespaces and process setup that can be known before clone.
pub fn check(plan: &Plan) -> Result<NsPlan> {
    let ns = namespaces::plan(&plan.spec)?;
    let linux = plan.spec.linux().as_ref();
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        crate::sysctl::validate(sysctl, &ns)?;
    }
    if plan
        .spec
        .hostname()
        .as_deref()
        .is_some_and(|h| !h.is_empty())
        && !ns.has_uts
    {
        bail!("hostname: setting a hostname needs a private uts namespace in linux.namespaces");
    }
    if plan
        .spec
        .domainname()
        .as_deref()
        .is_some_and(|h| !h.is_empty())
        && !ns.has_uts
    {
        bail!("domainname: setting a domainname needs a private uts namespace");
    }
    let process = plan
        .spec
        .process()
        .as_ref()
        .context("process: required to create a container")?;
    if let Some(c) = process.capabilities() {
        crate::security::capabilities::check_available(c)?;
        for w in crate::security::capabilities::ambient_warnings(c)? {
            crate::logging::warn(&w);
        }
    }
    let mounts = plan.spec.mounts().as_deref().unwrap_or(&[]);
    for w in crate::rootfs::mounts::relative_destination_warnings(mounts) {
        crate::logging::warn(&w);
    }
    crate::security::lsm::check(&plan.spec)?;
    crate::security::sched::check(&plan.spec)?;
    crate::security::mempolicy::check(&plan.spec)?;
    crate::netdev::check(&plan.spec, &ns)?;
    refuse_unsupported(&plan.spec)?;
    Ok(ns)
}

/// Fields hull does not implement: an error naming each, never a silent ignore.
fn refuse_unsupported(spec: &oci_spec::runtime::Spec) -> Result<()> {
    let Some(l) = spec.linux() else {
        return Ok(());
    };
    if l.intel_rdt().is_some() {
        bail!("linux.intelRdt: Intel RDT (resctrl) is not supported by hull");
    }
    Ok(())
}

/// Clone the init and drive it to `Created`. `cgroup` is ready for the init (see
/// `Cgroup::prepare`). `record_pid` records the init's pid: in the parent right after Go, while
/// the init sets up its rootfs, and before the init can outlive hull (it keeps its
/// parent-death signal until after Continue, which the parent sends only after this).
pub fn spawn(
    o: &SpawnOptions,
    ns: &NsPlan,
    cgroup: &mut Placement,
    record_pid: impl FnOnce(i32) -> Result<()>,
) -> Result<Child> {
    let (parent_end, child_end) = sync::pair()?;
    // Keep our own fds clear of the range handed to the container (3..3+extra).
    let floor = 3 + o.extra_fds as i32;
    let child_end = child_end.above(floor)?;
    let fifo = crate::sys::fds::owned_above(o.fifo, floor).context("moving the exec fifo fd")?;
    let fifo_fd = fifo.as_raw_fd();
    cgroup.move_fds_above(floor)?;
    // Before any container mount exists: the init writes procfs only through this.
    crate::procfs::prepare(floor)?;

    // The init is born in its cgroup2 directory and moves itself into the v1 hierarchies:
    // no migration by the parent, so no wait for the kernel's global lock (cgroups::join).
    // Under systemd it is born in hull's own cgroup and moved by systemd.
    let sources = MountSources::prepare(&o.plan.spec, &o.plan.bundle)?;
    let idmapped = sources.idmapped();
    let join = cgroup.join(floor)?;
    let unprivileged_parent = !nix::unistd::geteuid().is_root();
    // With a user namespace entered first, the intermediate joins these itself: a process
    // forked after hull joined them would be inside the pid namespace, and its clone would
    // return the init's pid as that namespace numbers it.
    let restore = match ns.user_first {
        None => enter_parent_joins(ns)?,
        Some(_) => Vec::new(),
    };
    crate::logging::debug(&format!(
        "nsexec container setup: clone3 of the init of {} (namespace flags {:#x})",
        o.id, ns.clone_flags
    ));
    let forked = match &ns.user_first {
        None => fork_into(ns.clone_flags, join.v2_fd()).context("clone3 of the container init"),
        Some(user) => fork_in_user_ns(ns, user, join.v2_fd()).with_context(|| {
            format!(
                "linux.namespaces[{}]: cloning the init inside the user namespace {}",
                user.index,
                user.path.display()
            )
        }),
    };
    match forked {
        // The child never returns from here: it becomes the init or _exits. (Only the
        // parent undoes the namespace joins: the child lives in the joined namespaces.)
        Ok((Forked::Child, _)) => {
            drop(parent_end);
            let ctx = InitContext {
                id: o.id,
                spec: &o.plan.spec,
                bundle: &o.plan.bundle,
                rootfs: &o.plan.rootfs,
                ns,
                sync: &child_end,
                fifo: fifo_fd,
                extra_fds: o.extra_fds,
                env: &o.env,
                no_pivot: o.no_pivot,
                no_new_keyring: o.no_new_keyring,
                seccomp: o.seccomp.as_ref(),
                unprivileged_parent,
                idmapped: &idmapped,
                join: &join,
            };
            super::init::run(&ctx)
        }
        Err(e) => {
            leave_parent_joins(restore)?;
            Err(e)
        }
        Ok((Forked::Parent(pid), born_in_v2)) => {
            drop(fifo);
            drop(child_end);
            let mut child = Child {
                pid,
                console: None,
                guard: KillOnDrop::new(pid),
            };
            leave_parent_joins(restore)?;
            crate::fault::point("after-clone");
            let placing = Placing {
                cgroup,
                join: &join,
                born_in_v2,
            };
            let ch = Driving {
                ch: &parent_end,
                pid,
                sources: &sources,
            };
            child.console = drive(o, ns, placing, &ch, record_pid)?;
            Ok(child)
        }
    }
}

/// The init's cgroup as the parent sees it after the fork.
struct Placing<'a> {
    cgroup: &'a mut Placement,
    join: &'a Join,
    born_in_v2: bool,
}

/// The init being driven: its channel, its host pid, what its mount requests need.
struct Driving<'a> {
    ch: &'a sync::Channel,
    pid: i32,
    sources: &'a MountSources<'a>,
}

/// Answer the init until it reports `Created`; returns the pty master with Console::Relay.
fn drive(
    o: &SpawnOptions,
    ns: &NsPlan,
    p: Placing,
    d: &Driving,
    record_pid: impl FnOnce(i32) -> Result<()>,
) -> Result<Option<OwnedFd>> {
    let (ch, pid) = (d.ch, d.pid);
    if ns.new_user {
        write_id_maps(o.plan, pid)?;
    }
    // Where the init cannot put itself, and the v1 cgroups it joins itself (made while it
    // creates its namespaces), before it goes on; then what may overlap its rootfs setup
    // (its first message is read only after that).
    p.cgroup
        .place(pid, p.join, p.born_in_v2)
        .with_context(|| format!("placing the container init (pid {pid}) in its cgroup"))?;
    // Before Go: prestart/createRuntime hooks see the devices in place.
    let moves = crate::netdev::move_in(&o.plan.spec, pid, ns)?;
    let v1_tasks = p.cgroup.before_go()?;
    let raw: Vec<_> = v1_tasks.iter().map(|f| f.as_raw_fd()).collect();
    ch.send_fds(&Msg::Go { host_pid: pid }, &raw)
        .map_err(|_| gone(pid, "container init"))?;
    crate::logging::debug(&format!(
        "child process in init(): pid {pid} placed in its cgroups, sets up its rootfs"
    ));
    drop(v1_tasks);
    record_pid(pid)?;
    crate::fault::point("after-state-saved");
    p.cgroup.after_go()?;
    let annotations = o.plan.spec.annotations().clone().unwrap_or_default();
    let state = OciState::new(o.id, Status::Creating, pid, &o.plan.bundle, &annotations).to_json();
    let mut console = None;
    loop {
        match ch.recv_with_fd()? {
            Some((Msg::MountsReady, _)) => {
                let hooks = o.plan.spec.hooks().as_ref();
                hooks::run_all(hooks, Kind::Prestart, &state)?;
                hooks::run_all(hooks, Kind::CreateRuntime, &state)?;
                ch.send(&Msg::Continue)
                    .map_err(|_| gone(pid, "container init"))?;
            }
            Some((Msg::Console, Some(master))) => console = o.console.route(master)?,
            Some((Msg::SeccompListener, Some(fd))) => send_listener(o, pid, &fd)?,
            Some((Msg::MountSource { index }, _)) => {
                // A failure goes to the init, which reports it labelled with the mount.
                let sent = match d.sources.make(pid, index as usize) {
                    Ok(fd) => ch.send_fd(&Msg::MountSourceReady, fd.as_raw_fd()),
                    Err(e) => ch.send(&Msg::Error(crate::error_text::go_chain(&e))),
                };
                sent.map_err(|_| gone(pid, "container init"))?;
            }
            Some((Msg::Created, _)) => {
                crate::logging::debug(&format!(
                    "init: closing the pipe to signal completion: pid {pid} is created"
                ));
                moves.keep();
                return Ok(console);
            }
            // runc's words first: callers match "error during container init".
            Some((Msg::Error(e), _)) => {
                bail!("unable to start container process: error during container init: {e}")
            }
            Some((m, _)) => bail!("sync channel: unexpected {m:?} from the container init"),
            None => return Err(gone(pid, "container init")),
        }
    }
}

/// Hand the seccomp notify fd and the container state to `linux.seccomp.listenerPath`.
fn send_listener(o: &SpawnOptions, pid: i32, fd: &OwnedFd) -> Result<()> {
    use std::os::fd::AsFd;
    let owner = crate::security::seccomp::ListenerOwner {
        id: o.id,
        pid,
        init_pid: pid,
        status: Status::Creating,
        bundle: &o.plan.bundle,
    };
    crate::security::seccomp::send_to_agent(&o.plan.spec, &owner, fd.as_fd())
}

/// Write uid_map, setgroups and gid_map for a new user namespace. Root writes them
/// directly; an unprivileged user may map only its own ids directly (after denying
/// setgroups), anything more goes through newuidmap/newgidmap (setuid helpers that check
/// /etc/subuid and /etc/subgid).
fn write_id_maps(plan: &Plan, pid: i32) -> Result<()> {
    let linux = plan.spec.linux().as_ref();
    let maps = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<[u32; 3]> {
        m.into_iter()
            .flatten()
            .map(|m| [m.container_id(), m.host_id(), m.size()])
            .collect()
    };
    let uid = maps(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = maps(linux.and_then(|l| l.gid_mappings().as_ref()));
    let privileged = nix::unistd::geteuid().is_root();
    let own = |m: &[[u32; 3]], id: u32| m.len() == 1 && m[0][1] == id && m[0][2] == 1;
    if privileged || own(&uid, nix::unistd::geteuid().as_raw()) {
        write_map(pid, "uid_map", &uid).context("linux.uidMappings")?;
    } else {
        helper_map("newuidmap", pid, &uid).context("linux.uidMappings")?;
    }
    if privileged || own(&gid, nix::unistd::getegid().as_raw()) {
        if !privileged {
            // An unprivileged writer of gid_map must give up setgroups first.
            write_map_text(pid, "setgroups", "deny")?;
        }
        write_map(pid, "gid_map", &gid).context("linux.gidMappings")?;
    } else {
        helper_map("newgidmap", pid, &gid).context("linux.gidMappings")?;
    }
    Ok(())
}

fn write_map(pid: i32, file: &str, m: &[[u32; 3]]) -> Result<()> {
    let text: String = m.iter().map(|[c, h, n]| format!("{c} {h} {n}\n")).collect();
    write_map_text(pid, file, &text)
}

/// Write /proc/PID/FILE through hull's procfs handle.
fn write_map_text(pid: i32, file: &str, text: &str) -> Result<()> {
    let f = crate::procfs::get()?
        .open_pid(pid, file, libc::O_WRONLY)
        .with_context(|| format!("open /proc/{pid}/{file}"))?;
    crate::procfs::write(f, text).with_context(|| format!("write /proc/{pid}/{file}"))
}

fn helper_map(helper: &str, pid: i32, m: &[[u32; 3]]) -> Result<()> {
    let mut cmd = std::process::Command::new(helper);
    cmd.arg(pid.to_string());
    for e in m {
        cmd.args(e.iter().map(|v| v.to_string()));
    }
    let out = cmd.output().with_context(|| {
        format!("mapping more than your own id needs {helper} (Debian package uidmap)")
    })?;
    if !out.status.success() {
        bail!("{helper}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Join pid/time namespaces given by path for the clone only; returns fds to undo it.
/// Clone the init inside the user namespace `user` (given by path) with new namespaces that
/// belong to it: an intermediate process (in hull's own pid namespace, so the pid its clone
/// returns is the host's) joins the pid/time namespaces given by path, then `user`, and
/// clones the init with CLONE_PARENT, so the init is still hull's child; it reports the
/// init's pid (or its errno) over a pipe and exits. Returns as `fork_into` does.
fn fork_in_user_ns(
    ns: &NsPlan,
    user: &namespaces::Join,
    cgroup: Option<i32>,
) -> std::io::Result<(Forked, bool)> {
    let flags = ns.clone_flags;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    match fork_into(0, None)? {
        (Forked::Child, _) => {
            drop(r);
            let report = |v: i32, born: bool| {
                let mut b = [0u8; 5];
                b[..4].copy_from_slice(&v.to_ne_bytes());
                b[4] = u8::from(born);
                let _ = nix::unistd::write(&w, &b);
            };
            // Every namespace joined by path before the user namespace, while this process
            // still has hull's privileges over them: one owned by another user namespace
            // (the host's network namespace, say) could not be entered from inside it, as
            // runc also orders it. The init inherits them.
            let joined = ns
                .parent_joins
                .iter()
                .chain(&ns.child_joins)
                .chain(std::iter::once(user))
                .try_for_each(|j| {
                    crate::sys::nsfs::setns(j.file.as_raw_fd(), namespaces::flag(j.kind) as i32)
                });
            if let Err(e) = joined {
                report(-e.raw_os_error().unwrap_or(libc::EINVAL), false);
                crate::sys::clone::exit_now(1);
            }
            match fork_into(flags | crate::sys::clone::CLONE_PARENT, cgroup) {
                Ok((Forked::Child, born)) => Ok((Forked::Child, born)),
                Ok((Forked::Parent(pid), born)) => {
                    report(pid, born);
                    crate::sys::clone::exit_now(0)
                }
                Err(e) => {
                    report(-e.raw_os_error().unwrap_or(libc::EINVAL), false);
                    crate::sys::clone::exit_now(1)
                }
            }
        }
        (Forked::Parent(mid), _) => {
            drop(w);
            let mut b = [0u8; 5];
            let n = nix::unistd::read(&r, &mut b).unwrap_or(0);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(mid), None);
            if n != b.len() {
                return Err(std::io::Error::other(
                    "the process entering the user namespace died",
                ));
            }
            match i32::from_ne_bytes(b[..4].try_into().expect("4 bytes")) {
                pid if pid > 0 => Ok((Forked::Parent(pid), b[4] != 0)),
                errno => Err(std::io::Error::from_raw_os_error(-errno)),
            }
        }
    }
}

fn enter_parent_joins(ns: &NsPlan) -> Result<Vec<(std::fs::File, i32)>> {
    let mut restore = Vec::new();
    for j in &ns.parent_joins {
        let kind = namespaces::flag(j.kind) as i32;
        let own = match kind {
            libc::CLONE_NEWPID => "/proc/self/ns/pid",
            _ => "/proc/self/ns/time",
        };
        let f = std::fs::File::open(own).with_context(|| format!("open {own}"))?;
        namespaces::enter(j)?;
        restore.push((f, kind));
    }
    Ok(restore)
}

fn leave_parent_joins(restore: Vec<(std::fs::File, i32)>) -> Result<()> {
    for (f, kind) in restore {
        crate::sys::nsfs::setns(f.as_raw_fd(), kind)
            .context("returning to hull's own namespace after clone")?;
    }
    Ok(())
}
