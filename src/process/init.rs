//! The container init: the child side of the create path. It runs in the new namespaces,
//! performs setup in a fixed order, reports `Created`, blocks on the exec fifo until
//! `start`, then execve's the user process. It never returns: on error it sends the whole
//! error chain to the parent and `_exit`s. The parent prepared everything that needs
//! parsing or path checks, so this side only acts.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Process, Spec};

use super::sync::{Channel, Msg};
use crate::hooks::{self, Kind};
use crate::namespaces::NsPlan;
use crate::security::{capabilities, identity, rlimits};
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
    // /proc/PID/exe of this hull image or ptrace it (CVE-2019-5736 class).
    nix::sys::prctl::set_dumpable(false).context("prctl(PR_SET_DUMPABLE)")?;
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
    .context("reset signal mask")?;

    let mut keep: Vec<RawFd> = vec![0, 1, 2, ctx.sync.raw(), ctx.fifo];
    keep.extend((3..3 + ctx.extra_fds as RawFd).collect::<Vec<_>>());
    keep.extend(ctx.ns.child_joins.iter().map(|j| j.file.as_raw_fd()));
    crate::sys::fds::close_all_except(&keep).context("closing inherited fds")?;

    let host_pid = match ctx.sync.recv()? {
        Some(Msg::Go { host_pid }) => host_pid,
        other => bail!("init: expected Go from the parent, got {other:?}"),
    };

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
    set_names(ctx.spec)?;

    if ctx.ns.new_mount {
        // Relative bind-mount sources are relative to the bundle, as in runc.
        nix::unistd::chdir(ctx.bundle)
            .with_context(|| format!("chdir to the bundle {}", ctx.bundle.display()))?;
        crate::rootfs::prepare(ctx.spec, ctx.rootfs)?;
    }
    ctx.sync.send(&Msg::MountsReady)?;
    ctx.sync.expect(&Msg::Continue)?;
    let state = |status: &str| hook_state(ctx, host_pid, status);
    hooks::run_all(
        ctx.spec.hooks().as_ref(),
        Kind::CreateContainer,
        &state("creating"),
    )?;
    if ctx.ns.new_mount {
        crate::rootfs::finish(ctx.spec, ctx.rootfs, ctx.no_pivot)?;
    }

    let linux = ctx.spec.linux().as_ref();
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        crate::sysctl::apply(sysctl)?;
    }
    let process = ctx
        .spec
        .process()
        .as_ref()
        .context("process: required to create a container")?;
    if let Some(adj) = process.oom_score_adj() {
        write_oom_score_adj(adj)?;
    }
    if !ctx.no_new_keyring {
        join_new_session_keyring(ctx.id)?;
    }
    if let Some(r) = process.rlimits() {
        rlimits::apply(r)?;
    }
    nix::unistd::setsid().context("setsid")?;
    let cwd = PathBuf::from(process.cwd());
    if !cwd.as_os_str().is_empty() && !cwd.exists() {
        std::fs::create_dir_all(&cwd)
            .with_context(|| format!("process.cwd {}: create", cwd.display()))?;
    }
    finalize_identity(process, ctx.ns)?;
    if !cwd.as_os_str().is_empty() {
        nix::unistd::chdir(&cwd).with_context(|| format!("process.cwd {}", cwd.display()))?;
    }
    if process.no_new_privileges() == Some(true) {
        nix::sys::prctl::set_no_new_privs().context("process.noNewPrivileges: prctl")?;
    }
    if linux.and_then(|l| l.seccomp().as_ref()).is_some() {
        bail!("linux.seccomp: seccomp is not supported by this version of hull yet");
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

    // The init must outlive `hull create`: disarm the parent-death signal first.
    nix::sys::prctl::set_pdeathsig(None).context("clear pdeathsig")?;
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
    super::exec_fifo::report(&fifo, &format!("exec {}: {e}", prog.display()));
    exit_now(127)
}

fn cstrings(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_bytes()).with_context(|| format!("{s:?} contains a NUL byte")))
        .collect()
}

/// The state JSON hooks receive on stdin.
fn hook_state(ctx: &InitContext, pid: i32, status: &str) -> String {
    serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "id": ctx.id,
        "status": status,
        "pid": pid,
        "bundle": ctx.bundle,
        "annotations": ctx.spec.annotations().clone().unwrap_or_default(),
    })
    .to_string()
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

fn write_oom_score_adj(adj: i32) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/oom_score_adj")
        .context("process.oomScoreAdj: open /proc/self/oom_score_adj")?;
    crate::sysctl::verify_procfs(&f).context("process.oomScoreAdj")?;
    f.write_all(adj.to_string().as_bytes()).with_context(|| {
        format!("process.oomScoreAdj {adj}: write (lowering it needs CAP_SYS_RESOURCE)")
    })
}

fn join_new_session_keyring(id: &str) -> Result<()> {
    let name = CString::new(format!("_ses.{id}")).context("keyring name")?;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads a NUL-terminated string.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        // Kernels without keyrings, or a seccomp'd host that forbids keyctl: carry on as
        // runc does.
        if !matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) {
            return Err(e).context("joining a new session keyring (try --no-new-keyring)");
        }
    }
    Ok(())
}

/// Capabilities, groups, gid, uid, umask, in the order that keeps CAP_SETPCAP/SETUID
/// until they are no longer needed.
fn finalize_identity(process: &Process, ns: &NsPlan) -> Result<()> {
    let caps = process.capabilities().as_ref();
    if let Some(c) = caps {
        capabilities::apply_bounding(c)?;
    }
    nix::sys::prctl::set_keepcaps(true).context("prctl(PR_SET_KEEPCAPS)")?;
    identity::switch(process.user(), setgroups_allowed(ns))?;
    nix::sys::prctl::set_keepcaps(false).context("prctl(PR_SET_KEEPCAPS, 0)")?;
    identity::set_umask(process.user());
    // Without a capabilities object the sets are left as they are, as runc does.
    if let Some(c) = caps {
        capabilities::apply_rest(c)?;
    }
    Ok(())
}

fn setgroups_allowed(ns: &NsPlan) -> bool {
    if !ns.new_user {
        return true;
    }
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}
