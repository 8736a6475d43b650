//! Installing a compiled program in the calling process with seccomp(2). Runs in the
//! container init just before execve: no allocation on the success path.

use super::profile::{FLAG_NEW_LISTENER, FLAG_TSYNC};
use super::Program;
use anyhow::{anyhow, Result};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// Loads `p` into the calling thread (all threads with the TSYNC flag). Returns the
/// notification listener when the profile uses SCMP_ACT_NOTIFY.
///
/// The caller must hold CAP_SYS_ADMIN or have set no_new_privs first (the kernel's rule).
pub fn load(p: &Program) -> Result<Option<OwnedFd>> {
    let prog = libc::sock_fprog {
        len: p.insns.len() as libc::c_ushort,
        filter: p.insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `p.insns`, a live slice of `Insn`, whose layout is the
    // kernel's `struct sock_filter` (repr(C) u16,u8,u8,u32); the kernel copies the
    // program before returning, and `compile` bounded its length to BPF_MAXINSNS.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(p.flags),
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        let hint = match e.raw_os_error() {
            Some(libc::EACCES) => "seccomp: loading a filter needs no_new_privs or CAP_SYS_ADMIN",
            Some(libc::EINVAL) => "seccomp: the kernel refused the filter or one of its flags",
            Some(libc::EBUSY) => "seccomp: another listener is already installed",
            _ => "seccomp: loading the filter",
        };
        return Err(anyhow!(e).context(hint));
    }
    if p.flags & FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the kernel returns a fresh fd that only we own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
    }
    if p.flags & FLAG_TSYNC != 0 && r != 0 {
        return Err(anyhow!(
            "seccomp: another thread of the process (tid {r}) could not take the filter (TSYNC)"
        ));
    }
    Ok(None)
}
