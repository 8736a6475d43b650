//! The container init: the child side of the create path. It runs in the new namespaces,
//! performs setup in a fixed order, reports `Created`, blocks on the exec fifo until
//! `start`, then execve's the user process. It never returns: on error it sends the whole
//! error chain to the parent and `_exit`s. The parent prepared everything that needs
//! parsing or path checks, so this side only acts.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;

use super::sync::{Channel, Msg};
use crate::hooks::{self, Kind};
use crate::namespaces::NsPlan;
use crate::security::rlimits;

use super::setup::{cstrings, finalize_identity, join_new_session_keyring, write_oom_score_adj};
use crate::sys::clone::exit_now;

/// Everything the init needs, prepared by the parent before clone.
pub struct InitContext<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub bundle: &'a std::path::Path,
    pub rootfs: &'a std::path::Path,
    pub ns: &'a NsPlan,
    pub sync: &'a Channel,
    /// O_PATH fd of ROOT/ID/exec.fifo.
    pub fifo: RawFd,
    /// fds 3..3+extra_fds are passed to the user process (LISTEN_FDS + --preserve-fds).
    pub extra_fds: u32,
    /// The user process's environment, final (LISTEN_FDS etc. already added).
    pub env: &'a [String],
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// The seccomp filter, compiled by the parent.
    pub seccomp: Option<&'a crate::security::seccomp::Program>,
    /// The parent is not root: it writes our id maps as an unprivileged user.
    pub unprivileged_parent: bool,
    /// (mount index, user namespace fd) for idmapped mounts.
    pub idmaps: &'a [(usize, RawFd)],
    /// The v1 cgroup `tasks` files this process writes itself into.
    pub join: &'a crate::cgroups::join::Join,
}

/// Run the init. Never returns.
pub fn run(ctx: &InitContext) -> ! {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| setup_and_exec(ctx)));
    let msg = match r {
        Ok(Err(e)) => format!("{e:#}"),
        Ok(Ok(never)) => match never {},
        Err(_) => "container init panicked".to_string(),
    };
    let _ = ctx.sync.send(&Msg::Error(msg));
    exit_now(1)
}

enum Never {}

fn setup_and_exec(ctx: &InitContext) -> Result<Never> {
    // Die with the parent while it still supervises setup.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).context("set pdeathsig")?;
    // A parent that died before this point closed its end of the sync channel: the wait
    // for Go below sees EOF and the init exits. (getppid() is 0 in a new pid namespace.)
    // Non-dumpable until execve: no other process (in the container or not) can open
    // /proc/PID/exe of this hull image or ptrace it (CVE-2019-5736 class). An unprivileged
    // parent must still open our /proc/PID/{uid,gid}_map (a non-dumpable process's /proc
    // files belong to root), so then this waits for Go: until Go the init has entered
    // nothing and done nothing.
    // Decided by the parent: our own euid changes (65534 -> 0) the moment it writes uid_map.
    let unprivileged_maps = ctx.ns.new_user && ctx.unprivileged_parent;
    if !unprivileged_maps {
        nix::sys::prctl::set_dumpable(false).context("prctl(PR_SET_DUMPABLE)")?;
    }
    // The user process starts with default dispositions and nothing blocked, not hull's
    // (Rust ignores SIGPIPE; `run` blocks everything to forward it).
    crate::sys::signals::reset_all()?;

    let mut keep: Vec<RawFd> = vec![0, 1, 2, ctx.sync.raw(), ctx.fifo];
    keep.extend((3..3 + ctx.extra_fds as RawFd).collect::<Vec<_>>());
    keep.extend(ctx.ns.child_joins.iter().map(|j| j.file.as_raw_fd()));
    keep.extend(ctx.idmaps.iter().map(|(_, fd)| *fd));
    keep.extend(ctx.join.child_fds());
    crate::sys::fds::close_all_except(&keep).context("closing inherited fds")?;
    // The new namespaces that need no user namespace first, while the parent makes the v1
    // cgroups (see namespaces); a failure is reported after Go, when the parent listens.
    let unshared = match ctx.ns.unshare_first {
        0 => Ok(()),
        flags => nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(flags as i32)),
    };

    let (host_pid, v1_tasks) = match ctx.sync.recv_with_fds()? {
        Some((Msg::Go { host_pid }, fds)) => (host_pid, fds),
        other => bail!(
            "init: expected Go from the parent, got {:?}",
            other.map(|(m, _)| m)
        ),
    };
    unshared.with_context(|| {
        let names = crate::namespaces::names_of(ctx.ns.unshare_first);
        format!("linux.namespaces: creating the {names} namespaces (unshare)")
    })?;
    // First, so everything the init does is accounted to the container (after Go, so an
    // error reaches a parent that is listening).
    ctx.join.enter_v1(v1_tasks)?;

    if unprivileged_maps {
        nix::sys::prctl::set_dumpable(false).context("prctl(PR_SET_DUMPABLE)")?;
    }
    if ctx.ns.new_user {
        become_root_in_userns()?;
    }
    for j in &ctx.ns.child_joins {
        crate::namespaces::enter(j)?;
    }
    if ctx.ns.unshare_later != 0 {
        nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(
            ctx.ns.unshare_later as i32,
        ))
        .context("unshare the cgroup namespace")?;
    }
    if ctx.ns.creates_net() {
        crate::namespaces::loopback_up()?;
    }
    set_names(ctx.spec)?;

    // A mount namespace joined by path gets the rootfs set up inside it too, as in runc;
    // without one the mounts are the host's (see rootfs::host).
    let host_ns = !ctx.ns.has_mount;
    // Relative bind-mount sources are relative to the bundle, as in runc.
    nix::unistd::chdir(ctx.bundle)
        .with_context(|| format!("chdir to the bundle {}", ctx.bundle.display()))?;
    crate::rootfs::prepare(ctx.spec, ctx.rootfs, host_ns, ctx.idmaps)?;
    if hooks::mounts_ready_stop(ctx.spec.hooks().as_ref()) {
        ctx.sync.send(&Msg::MountsReady)?;
        ctx.sync.expect(&Msg::Continue)?;
    }
    let annotations = ctx.spec.annotations().clone().unwrap_or_default();
    let state =
        |status: &str| hooks::state_json(ctx.id, status, host_pid, ctx.bundle, &annotations);
    hooks::run_all(
        ctx.spec.hooks().as_ref(),
        Kind::CreateContainer,
        &state("creating"),
    )?;
    let process = ctx
        .spec
        .process()
        .as_ref()
        .context("process: required to create a container")?;
    let cwd = PathBuf::from(process.cwd());
    if !cwd.as_os_str().is_empty() {
        // Create a missing cwd now, resolved inside the rootfs, while the root may still be
        // written (runc does the same before making it read-only).
        create_cwd(ctx.rootfs, &cwd)?;
    }
    crate::rootfs::finish(ctx.spec, ctx.rootfs, ctx.no_pivot, host_ns)?;

    // linux.sysctl was written by rootfs::finish, before /proc/sys became read-only.
    if let Some(adj) = process.oom_score_adj() {
        write_oom_score_adj(adj)?;
    }
    if !ctx.no_new_keyring {
        join_new_session_keyring(ctx.id)?;
    }
    if let Some(r) = process.rlimits() {
        rlimits::apply(r)?;
    }
    crate::security::sched::apply(
        process,
        ctx.spec
            .linux()
            .as_ref()
            .and_then(|l| l.personality().as_ref()),
    )?;
    nix::unistd::setsid().context("setsid")?;
    if process.terminal() == Some(true) {
        super::console::attach_terminal(ctx.sync, process)?;
    }
    let nnp = process.no_new_privileges() == Some(true);
    if !nnp {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it now, while
        // the init still has it (everything after runs under the filter, as in runc).
        load_seccomp(ctx)?;
    }
    finalize_identity(process, ctx.ns)?;
    if !cwd.as_os_str().is_empty() {
        nix::unistd::chdir(&cwd).with_context(|| format!("process.cwd {}", cwd.display()))?;
    }
    if nnp {
        nix::sys::prctl::set_no_new_privs().context("process.noNewPrivileges: prctl")?;
    }

    let args = process.args().clone().unwrap_or_default();
    let prog = crate::process::lookup::find(&args[0], ctx.env)?;
    let argv = cstrings(&args)?;
    let envp = cstrings(ctx.env)?;
    let prog_c = CString::new(prog.as_os_str().as_encoded_bytes())
        .context("process.args[0]: contains a NUL byte")?;
    for fd in 3..3 + ctx.extra_fds as RawFd {
        crate::sys::fds::set_cloexec(fd, false).with_context(|| format!("preserved fd {fd}"))?;
    }

    crate::security::lsm::apply_exec(ctx.spec)?;
    // The init must outlive `hull create`: disarm the parent-death signal first.
    nix::sys::prctl::set_pdeathsig(None).context("clear pdeathsig")?;
    if nnp {
        // As late as possible: only Created, the fifo and execve run under the filter.
        load_seccomp(ctx)?;
    }
    ctx.sync.send(&Msg::Created)?;
    // From here on the parent is gone: errors go to `start` through the fifo.
    let fifo = super::exec_fifo::wait_for_start(ctx.fifo)?;
    let _ = nix::unistd::close(ctx.fifo);
    let _ = nix::unistd::close(ctx.sync.raw());
    if let Err(e) = hooks::run_all(
        ctx.spec.hooks().as_ref(),
        Kind::StartContainer,
        &state("created"),
    ) {
        super::exec_fifo::report(&fifo, &format!("{e:#}"));
        exit_now(1);
    }
    let e = nix::unistd::execve(&prog_c, &argv, &envp).unwrap_err();
    // Worded as runc's (Go's lower-case errno text): "exec /x: no such file or directory".
    super::exec_fifo::report(
        &fifo,
        &format!("exec {}: {}", prog.display(), e.desc().to_lowercase()),
    );
    exit_now(127)
}

/// Load the seccomp filter; a SCMP_ACT_NOTIFY listener fd goes to the parent, which
/// hands it to `linux.seccomp.listenerPath`.
fn load_seccomp(ctx: &InitContext) -> Result<()> {
    let Some(prog) = ctx.seccomp else {
        return Ok(());
    };
    if let Some(listener) = crate::security::seccomp::load(prog)? {
        ctx.sync
            .send_fd(&Msg::SeccompListener, listener.as_raw_fd())?;
    }
    Ok(())
}

/// mkdir -p `cwd` inside `rootfs`, never following a symlink out of it.
fn create_cwd(rootfs: &std::path::Path, cwd: &std::path::Path) -> Result<()> {
    use crate::rootfs::safe_path::{open_in_root, Create};
    let root =
        std::fs::File::open(rootfs).with_context(|| format!("open rootfs {}", rootfs.display()))?;
    let root: std::os::fd::OwnedFd = root.into();
    open_in_root(std::os::fd::AsFd::as_fd(&root), cwd, Create::Dir)
        .with_context(|| format!("process.cwd {}: create inside the rootfs", cwd.display()))?;
    Ok(())
}

fn become_root_in_userns() -> Result<()> {
    let root_g = nix::unistd::Gid::from_raw(0);
    let root_u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g)
        .context("setresgid(0) in the new user namespace (is gid 0 mapped?)")?;
    nix::unistd::setresuid(root_u, root_u, root_u)
        .context("setresuid(0) in the new user namespace (is uid 0 mapped?)")?;
    Ok(())
}

fn set_names(spec: &Spec) -> Result<()> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).with_context(|| format!("hostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        let c = CString::new(d).context("domainname contains a NUL byte")?;
        // SAFETY: setdomainname reads `len` bytes from a valid buffer.
        if unsafe { libc::setdomainname(c.as_ptr(), d.len()) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("domainname {d:?}"));
        }
    }
    Ok(())
}
