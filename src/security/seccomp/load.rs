//! Installing a compiled program in the calling process with seccomp(2). Runs in the
//! container init just before execve: no allocation on the success path.

use super::profile::{FLAG_NEW_LISTENER, FLAG_TSYNC};
use super::Program;
use anyhow::{anyhow, Result};
use std::io;
use std::os::fd::OwnedFd;

/// Loads `p` into the calling thread (all threads with the TSYNC flag). Returns the
/// notification listener when the profile uses SCMP_ACT_NOTIFY.
///
/// The caller must hold CAP_SYS_ADMIN or have set no_new_privs first (the kernel's rule).
pub fn load(p: &Program) -> Result<Option<OwnedFd>> {
    // `compile` bounded the program to BPF_MAXINSNS.
    let r = match crate::sys::process_attrs::seccomp_set_filter(&p.insns, p.flags) {
        Ok(r) => r,
        Err(e) => return Err(load_error(e)),
    };
    if p.flags & FLAG_NEW_LISTENER != 0 {
        return Ok(Some(crate::sys::process_attrs::own_listener(r)));
    }
    if p.flags & FLAG_TSYNC != 0 && r != 0 {
        return Err(anyhow!(
            "seccomp: another thread of the process (tid {r}) could not take the filter (TSYNC)"
        ));
    }
    Ok(None)
}

fn load_error(e: io::Error) -> anyhow::Error {
    let hint = match e.raw_os_error() {
        Some(libc::EACCES) => "seccomp: loading a filter needs no_new_privs or CAP_SYS_ADMIN",
        Some(libc::EINVAL) => "seccomp: the kernel refused the filter or one of its flags",
        Some(libc::EBUSY) => "seccomp: another listener is already installed",
        _ => "seccomp: loading the filter",
    };
    anyhow!(e).context(hint)
}
