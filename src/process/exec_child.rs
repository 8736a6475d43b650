//! The child side of `exec`: forked by `hull exec` (already in the container's pid
//! namespace when it has one), it waits until the parent has placed it in the container's
//! cgroup, joins the remaining namespaces (user first), sets up the process in a fixed
//! order and execve's. It never returns: an error goes to the parent as one line and the
//! child `_exit`s. Success is seen by the parent as EOF on the close-on-exec sync socket
//! after `Created`.

use std::os::fd::RawFd;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;

use super::exec_join::{self, Joins};
use super::setup::ProcessSetup;
use super::sync::{Channel, Msg};
use crate::namespaces::NsPlan;
use crate::sys::clone::exit_now;

/// Everything the child needs, prepared by the parent before the fork.
pub struct ChildContext<'a> {
    pub id: &'a str,
    pub process: &'a Process,
    /// The final environment (already merged).
    pub env: &'a [String],
    pub joins: &'a Joins,
    pub sync: &'a Channel,
    /// fds 3..3+preserve_fds are passed to the process.
    pub preserve_fds: u32,
    /// The container's seccomp filter, compiled by the parent.
    pub seccomp: Option<&'a crate::security::seccomp::Program>,
    /// The v1 cgroup `tasks` files this process writes itself into.
    pub join: &'a crate::cgroups::join::Join,
    /// The container was created with `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// The container's `linux.personality`.
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
    /// The container's `linux.memoryPolicy`.
    pub mempolicy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
}

/// Run the child. Never returns.
pub fn run(ctx: &ChildContext) -> ! {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| setup_and_exec(ctx)));
    let msg = match r {
        Ok(Err(e)) => crate::error_text::go_chain(&e),
        Ok(Ok(never)) => match never {},
        Err(_) => "exec: the process set-up panicked".to_string(),
    };
    let _ = ctx.sync.send(&Msg::Error(msg));
    exit_now(1)
}

enum Never {}

fn setup_and_exec(ctx: &ChildContext) -> Result<Never> {
    // Die with hull while it still supervises set-up.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).context("set pdeathsig")?;
    // Non-dumpable until execve: nothing in the container may open /proc/PID/exe of this
    // hull image or ptrace it (CVE-2019-5736).
    nix::sys::prctl::set_dumpable(false).context("prctl(PR_SET_DUMPABLE)")?;
    let mut keep: Vec<RawFd> = vec![0, 1, 2, ctx.sync.raw()];
    keep.extend(3..3 + ctx.preserve_fds as RawFd);
    keep.extend(ctx.joins.raw_fds());
    keep.extend(ctx.join.child_fds());
    keep.extend(crate::procfs::raw_fd());
    crate::sys::fds::close_all_except(&keep).context("closing inherited fds")?;
    crate::security::sched::apply_initial(ctx.process)?;

    // The parent has put us in the container's cgroup2 directory before it says Go; the v1
    // hierarchies we join ourselves, first thing.
    match ctx.sync.recv()? {
        Some(Msg::Go { .. }) => {}
        other => bail!("exec: expected Go from hull, got {other:?}"),
    }
    ctx.join.enter_v1(Vec::new())?;

    if let Some(user) = &ctx.joins.user {
        exec_join::enter(user)?;
    }
    for ns in &ctx.joins.others {
        exec_join::enter(ns)?;
    }
    for ns in ctx.joins.user.iter().chain(ctx.joins.others.iter()) {
        let _ = nix::unistd::close(std::os::fd::AsRawFd::as_raw_fd(&ns.file));
    }

    crate::sys::signals::reset_all()?;
    let setup = ProcessSetup {
        id: ctx.id,
        process: ctx.process,
        env: ctx.env,
        sync: ctx.sync,
        extra_fds: ctx.preserve_fds,
        seccomp: ctx.seccomp,
        no_new_keyring: ctx.no_new_keyring,
        personality: ctx.personality,
        mempolicy: ctx.mempolicy,
        ns: &NsPlan {
            new_user: ctx.joins.joins_user(),
            ..Default::default()
        },
    };
    let ready = setup.prepare()?;
    ctx.sync.send(&Msg::Created)?;
    let e = ready.exec();
    // Worded as runc's (Go's lower-case errno text): "exec /x: no such file or directory".
    bail!(
        "exec {}: {}",
        ready.prog.display(),
        crate::error_text::errno_text(e as i32)
    )
}
