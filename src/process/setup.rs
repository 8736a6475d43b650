//! Process setup steps shared by the container init and `exec`: the user process's
//! identity and capabilities, oom_score_adj, the session keyring, argv/envp conversion.

use std::ffi::CString;

use anyhow::{Context, Result};
use oci_spec::runtime::Process;

use crate::namespaces::NsPlan;
use crate::security::{capabilities, identity};

pub fn cstrings(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_bytes()).with_context(|| format!("{s:?} contains a NUL byte")))
        .collect()
}

pub fn write_oom_score_adj(adj: i32) -> Result<()> {
    // Through hull's procfs handle: the container's /proc may be anything (crate::procfs).
    let f = crate::procfs::get()?
        .open_self("oom_score_adj", libc::O_WRONLY)
        .context("process.oomScoreAdj: open /proc/self/oom_score_adj")?;
    crate::procfs::write(f, &adj.to_string()).with_context(|| {
        format!("process.oomScoreAdj {adj}: write (lowering it needs CAP_SYS_RESOURCE)")
    })
}

pub fn join_new_session_keyring(id: &str) -> Result<()> {
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
pub fn finalize_identity(process: &Process, ns: &NsPlan) -> Result<()> {
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

pub fn setgroups_allowed(ns: &NsPlan) -> bool {
    if !ns.new_user {
        return true;
    }
    crate::kfile::read("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}
