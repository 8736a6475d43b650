//! The process side of `exec`: fork once — inside the container's pid namespace, which the
//! parent joins just around the fork — place the child in the container's cgroup (or a
//! `--cgroup` sub-cgroup), let it go, answer its messages (the pty master, a seccomp
//! listener) and wait until it has exec'd. What to run and why it may run is decided above,
//! in `container::exec`.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxPersonality, Process};
use std::os::fd::OwnedFd;

use super::child::{gone, KillOnDrop};
use super::exec_child::ChildContext;
use super::exec_join::Joins;
use super::sync::{self, Msg};
use crate::cgroups::{join::Join, Cgroup};
use crate::sys::clone::{fork_into, Forked};

/// What the exec'd process is and takes from its container, prepared by the caller.
pub struct Spawn<'a> {
    pub id: &'a str,
    pub process: &'a Process,
    pub console: &'a super::console::Console,
    pub seccomp: Option<&'a crate::security::seccomp::Program>,
    pub no_new_keyring: bool,
    pub personality: Option<&'a LinuxPersonality>,
    /// `linux.memoryPolicy` of the container.
    pub mempolicy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
    pub preserve_fds: u32,
    /// Hands a SCMP_ACT_NOTIFY listener (and the process's pid) to the seccomp agent.
    pub on_listener: &'a dyn Fn(i32, &OwnedFd) -> Result<()>,
}

/// Fork the child (inside the container's pid namespace), place it in `cgroup`, let it
/// go and wait until it has exec'd. The returned guard kills it unless released.
pub fn fork_child(
    su: &Spawn,
    joins: Joins,
    cgroup: &Cgroup,
) -> Result<(KillOnDrop, Option<OwnedFd>)> {
    let process = su.process;
    let (parent_end, child_end) = sync::pair()?;
    // Keep our fds clear of the range handed to the process (3..3+preserve_fds).
    let floor = 3 + su.preserve_fds as i32;
    let child_end = child_end.above(floor)?;
    let joins = joins.above(floor)?;
    let env = process.env().clone().unwrap_or_default();

    let own_pid_ns = match &joins.pid {
        Some(ns) => {
            let own = std::fs::File::open("/proc/self/ns/pid").context("open /proc/self/ns/pid")?;
            super::exec_join::enter(ns)?;
            Some(own)
        }
        None => None,
    };
    // Before anything of the container is joined: the child writes procfs only through
    // this handle on the host's /proc (crate::procfs).
    crate::procfs::prepare(floor)?;
    // Born in the cgroup2 directory, joining the v1 hierarchies itself (cgroups::join).
    let join = Join::open(cgroup, floor, false)?;
    let forked = fork_into(0, join.v2_fd());
    // Only the parent goes back: the child's active pid namespace is the container's,
    // and a process may never setns to an ancestor pid namespace. Going back needs
    // CAP_SYS_ADMIN in the user namespace that owns hull's own pid namespace, which a
    // rootless hull (root only inside podman's user namespace) lacks: it then stays,
    // which is sound because exec forks nothing after this point (the setting only
    // decides where this process's future children would be born).
    if let (Some(own), Ok((Forked::Parent(_), _)) | Err(_)) = (&own_pid_ns, &forked) {
        use std::os::fd::AsRawFd;
        match crate::sys::nsfs::setns(own.as_raw_fd(), libc::CLONE_NEWPID) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            r => r.context("returning to hull's own pid namespace after fork")?,
        }
    }
    drop(own_pid_ns);
    match forked.context("fork of the exec'd process")? {
        (Forked::Child, _) => {
            drop(parent_end);
            super::exec_child::run(&ChildContext {
                id: su.id,
                process,
                env: &env,
                joins: &joins,
                sync: &child_end,
                preserve_fds: su.preserve_fds,
                seccomp: su.seccomp,
                join: &join,
                no_new_keyring: su.no_new_keyring,
                personality: su.personality,
                mempolicy: su.mempolicy,
            })
        }
        (Forked::Parent(pid), born_in_v2) => {
            drop(child_end);
            drop(joins);
            let child = KillOnDrop::new(pid);
            join.finish(cgroup, pid, born_in_v2).with_context(|| {
                format!("placing the exec'd process (pid {pid}) in the container's cgroup")
            })?;
            parent_end.send(&Msg::Go { host_pid: pid })?;
            crate::logging::debug(&format!(
                "nsexec container setup: pid {pid} joins the namespaces of container {}; \
                 child process in init(): placed in its cgroups",
                su.id
            ));
            if let Some(mask) = crate::security::sched::initial_mask(process) {
                crate::logging::debug(&format!("nsexec[{pid}]: affinity: {mask}"));
            }
            let mut master = None;
            loop {
                match parent_end.recv_with_fd()? {
                    Some((Msg::Console, Some(m))) => master = su.console.route(m)?,
                    Some((Msg::SeccompListener, Some(fd))) => (su.on_listener)(pid, &fd)?,
                    Some((Msg::Created, _)) => {
                        crate::logging::debug(&format!("setns_init: about to exec: pid {pid}"));
                        break;
                    }
                    Some((Msg::Error(e), _)) => bail!("{e}"),
                    Some((m, _)) => bail!("sync channel: unexpected {m:?} from the exec'd process"),
                    None => return Err(gone(pid, "exec'd process")),
                }
            }
            // Created means "about to execve": EOF now means it did (the socket is
            // close-on-exec); an error message means execve failed.
            match parent_end.recv()? {
                None => Ok((child, master)),
                Some(Msg::Error(e)) => bail!("{e}"),
                Some(m) => bail!("sync channel: unexpected {m:?} from the exec'd process"),
            }
        }
    }
}
