//! The container init: the child side of the create path. It runs in the new namespaces,
//! performs setup in a fixed order, reports `Created`, blocks on the exec fifo until
//! `start`, then execve's the user process. It never returns: on error it sends the whole
//! error chain to the parent and `_exit`s. The parent prepared everything that needs
//! parsing or path checks, so this side only acts.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;

use super::sync::{Channel, Msg};
use crate::hooks::{self, Kind};
use crate::namespaces::NsPlan;
use crate::state::{OciState, Status};

use super::setup::ProcessSetup;
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
    /// Indices of the idmapped mounts, whose sources the parent makes.
    pub idmapped: &'a [usize],
    /// The v1 cgroup `tasks` files this process writes itself into.
    pub join: &'a crate::cgroups::join::Join,
}

/// Run the init. Never returns.
pub fn run(ctx: &InitContext) -> ! {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| setup_and_exec(ctx)));
    let msg = match r {
        Ok(Err(e)) => crate::error_text::go_chain(&e),
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
    let timens_offsets = match ctx.ns.unshare_time {
        true => Some(crate::namespaces::open_timens_offsets()?),
        false => None,
    };
    if !unprivileged_maps {
        nix::sys::prctl::set_dumpable(false).context("prctl(PR_SET_DUMPABLE)")?;
    }
    // The user process starts with default dispositions and nothing blocked, not hull's
    // (Rust ignores SIGPIPE; `run` blocks everything to forward it).
    crate::sys::signals::reset_all()?;
    crate::sys::signals::exit_on_stopping_signals()?;

    let mut keep: Vec<RawFd> = vec![0, 1, 2, ctx.sync.raw(), ctx.fifo];
    keep.extend((3..3 + ctx.extra_fds as RawFd).collect::<Vec<_>>());
    keep.extend(ctx.ns.child_joins.iter().map(|j| j.file.as_raw_fd()));
    keep.extend(ctx.join.child_fds());
    keep.extend(crate::procfs::raw_fd());
    keep.extend(timens_offsets.as_ref().map(|f| f.as_raw_fd()));
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
    if let Some(p) = ctx.spec.process() {
        crate::security::sched::apply_initial(p)?;
    }
    // First, so everything the init does is accounted to the container (after Go, so an
    // error reaches a parent that is listening).
    ctx.join.enter_v1(v1_tasks)?;

    if unprivileged_maps {
        nix::sys::prctl::set_dumpable(false).context("prctl(PR_SET_DUMPABLE)")?;
    }
    // Root of the container's user namespace (its uid and gid 0): hull's own ids are not
    // mapped in a new one, nor (usually) in one joined by path before the clone.
    if ctx.ns.new_user || ctx.ns.user_first.is_some() {
        become_root_in_userns()?;
    }
    // With a user namespace entered first, the intermediate that cloned this process
    // joined these already (process::spawn).
    if ctx.ns.user_first.is_none() {
        for j in &ctx.ns.child_joins {
            crate::namespaces::enter(j)?;
        }
    }
    if let Some(f) = timens_offsets {
        crate::namespaces::unshare_time_with_offsets(ctx.spec, f)?;
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
    let ask = |index: usize| mount_source_from_parent(ctx.sync, index);
    let from_parent = crate::rootfs::FromParent {
        idmapped: ctx.idmapped,
        // An unprivileged parent cannot reach more than the container's root can.
        ask: (!ctx.unprivileged_parent).then_some(&ask as &dyn Fn(usize) -> Result<OwnedFd>),
    };
    crate::rootfs::prepare(ctx.spec, ctx.rootfs, host_ns, &from_parent)?;
    if hooks::mounts_ready_stop(ctx.spec.hooks().as_ref()) {
        ctx.sync.send(&Msg::MountsReady)?;
        ctx.sync.expect(&Msg::Continue)?;
    }
    let annotations = ctx.spec.annotations().clone().unwrap_or_default();
    let state = |status: Status| {
        OciState::new(ctx.id, status, host_pid, ctx.bundle, &annotations).to_json()
    };
    // As in runc: the container process's environment, the rootfs as working directory.
    let cx = hooks::Inherit {
        env: Some(ctx.env),
        cwd: Some(ctx.rootfs),
    };
    hooks::run_all_in(
        ctx.spec.hooks().as_ref(),
        Kind::CreateContainer,
        &state(Status::Creating),
        cx,
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
    let setup = ProcessSetup {
        id: ctx.id,
        process,
        env: ctx.env,
        sync: ctx.sync,
        extra_fds: ctx.extra_fds,
        seccomp: ctx.seccomp,
        no_new_keyring: ctx.no_new_keyring,
        personality: ctx
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.personality().as_ref()),
        ns: ctx.ns,
        mempolicy: ctx
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.memory_policy().as_ref()),
    };
    let ready = setup.prepare()?;
    ctx.sync.send(&Msg::Created)?;
    // From here on the parent is gone: errors go to `start` through the fifo.
    let fifo = super::exec_fifo::wait_for_start(ctx.fifo)?;
    let _ = nix::unistd::close(ctx.fifo);
    let _ = nix::unistd::close(ctx.sync.raw());
    // startContainer hooks see the container process's environment, as in runc.
    let cx = hooks::Inherit {
        env: Some(&ready.env),
        cwd: None,
    };
    if let Err(e) = hooks::run_all_in(
        ctx.spec.hooks().as_ref(),
        Kind::StartContainer,
        &state(Status::Created),
        cx,
    ) {
        super::exec_fifo::report(&fifo, &crate::error_text::go_chain(&e));
        exit_now(1);
    }
    let e = ready.exec();
    // As runc's init after the start barrier: `start` has already succeeded, so the error
    // goes bare to the container's own stderr (where `docker logs` shows it) and the
    // container exits 255. Worded as runc's: "exec /x: no such file or directory".
    let _ = writeln!(
        std::io::stderr(),
        "exec {}: {}",
        ready.prog.display(),
        crate::error_text::errno_text(e as i32)
    );
    exit_now(255)
}

/// Ask the parent for the detached source tree of `mounts[index]` (see mount_source).
fn mount_source_from_parent(sync: &Channel, index: usize) -> Result<OwnedFd> {
    sync.send(&Msg::MountSource {
        index: index as u32,
    })?;
    match sync.recv_with_fd()? {
        Some((Msg::MountSourceReady, Some(fd))) => Ok(fd),
        Some((Msg::Error(e), _)) => bail!("{e}"),
        Some((m, _)) => bail!("sync channel: expected a mount source, got {m:?}"),
        None => bail!("sync channel: the parent exited while making a mount source"),
    }
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
        crate::sys::process_attrs::set_domainname(&c)
            .with_context(|| format!("domainname {d:?}"))?;
    }
    Ok(())
}
