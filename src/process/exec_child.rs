//! The child side of `exec`: forked by `hull exec` (already in the container's pid
//! namespace when it has one), it waits until the parent has placed it in the container's
//! cgroup, joins the remaining namespaces (user first), sets up the process in a fixed
//! order and execve's. It never returns: an error goes to the parent as one line and the
//! child `_exit`s. Success is seen by the parent as EOF on the close-on-exec sync socket
//! after `Created`.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;

use super::exec_join::{self, Joins};
use super::setup::{cstrings, finalize_identity, join_new_session_keyring, write_oom_score_adj};
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
}

/// Run the child. Never returns.
pub fn run(ctx: &ChildContext) -> ! {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| setup_and_exec(ctx)));
    let msg = match r {
        Ok(Err(e)) => format!("{e:#}"),
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
    crate::sys::fds::close_all_except(&keep).context("closing inherited fds")?;

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

    let p = ctx.process;
    // runc's exec'd processes lead their own session too.
    nix::unistd::setsid().context("setsid")?;
    if p.terminal() == Some(true) {
        super::console::attach_terminal(ctx.sync, p)?;
    }
    join_new_session_keyring(ctx.id)?;
    if let Some(r) = p.rlimits() {
        crate::security::rlimits::apply(r)?;
    }
    crate::security::sched::apply(p, None)?;
    if let Some(adj) = p.oom_score_adj() {
        write_oom_score_adj(adj)?;
    }
    let ns = NsPlan {
        new_user: ctx.joins.joins_user(),
        ..Default::default()
    };
    let nnp = p.no_new_privileges() == Some(true);
    if !nnp {
        // Without no_new_privs the filter must be loaded while CAP_SYS_ADMIN is held.
        load_seccomp(ctx)?;
    }
    finalize_identity(p, &ns)?;
    let cwd = p.cwd();
    if !cwd.as_os_str().is_empty() {
        nix::unistd::chdir(cwd).with_context(|| format!("chdir to cwd {}", cwd.display()))?;
    }
    if p.no_new_privileges() == Some(true) {
        nix::sys::prctl::set_no_new_privs().context("process.noNewPrivileges: prctl")?;
    }

    let args = p.args().clone().unwrap_or_default();
    let first = args.first().context("process.args must not be empty")?;
    let prog = crate::process::lookup::find(first, ctx.env)?;
    let argv = cstrings(&args)?;
    let envp = cstrings(ctx.env)?;
    let prog_c = path_cstring(&prog)?;
    for fd in 3..3 + ctx.preserve_fds as RawFd {
        crate::sys::fds::set_cloexec(fd, false).with_context(|| format!("preserved fd {fd}"))?;
    }
    crate::sys::signals::reset_all()?;
    // The process outlives `hull exec` if hull goes away once it runs, as with runc.
    nix::sys::prctl::set_pdeathsig(None).context("clear pdeathsig")?;
    if nnp {
        load_seccomp(ctx)?;
    }
    ctx.sync.send(&Msg::Created)?;
    let e = nix::unistd::execve(&prog_c, &argv, &envp).unwrap_err();
    // Worded as runc's (Go's lower-case errno text): "exec /x: no such file or directory".
    bail!("exec {}: {}", prog.display(), e.desc().to_lowercase())
}

/// The container's filter applies to exec'd processes too.
fn load_seccomp(ctx: &ChildContext) -> Result<()> {
    if let Some(prog) = ctx.seccomp {
        // compile() refused SCMP_ACT_NOTIFY for exec in the parent, so no listener fd here.
        crate::security::seccomp::load(prog)?;
    }
    Ok(())
}

fn path_cstring(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).context("process.args[0]: contains a NUL byte")
}
