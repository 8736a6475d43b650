//! Per-process kernel attributes without a safe wrapper in nix: the domain name, the
//! session keyring, rlimits by raw resource number, and a seccomp filter.

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// setdomainname(2) in the caller's UTS namespace.
pub fn set_domainname(name: &CStr) -> io::Result<()> {
    let len = name.to_bytes().len();
    // SAFETY: setdomainname reads `len` bytes of a live NUL-terminated buffer.
    check(unsafe { libc::setdomainname(name.as_ptr(), len) } as libc::c_long).map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): join (or create) the named session keyring.
pub fn join_session_keyring(name: &CStr) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads a NUL-terminated string.
    check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })
        .map(drop)
}

/// setrlimit(2) for a raw resource number.
pub fn set_rlimit(res: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct we pass by reference.
    check(unsafe { libc::setrlimit(res, &lim) } as libc::c_long).map(drop)
}

/// One classic BPF instruction, laid out exactly as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with `insns`. Returns the kernel's value:
/// a listener fd with NEW_LISTENER, a thread id when TSYNC failed for one, else 0.
pub fn seccomp_set_filter(insns: &[SockFilter], flags: u32) -> io::Result<libc::c_long> {
    const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
    let prog = libc::sock_fprog {
        len: insns.len() as libc::c_ushort,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at a live slice of SockFilter, whose layout is the kernel's
    // `struct sock_filter`; the kernel copies the program before returning.
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &prog as *const libc::sock_fprog,
        )
    })
}

/// Own a listener fd `seccomp_set_filter` returned with NEW_LISTENER.
pub fn own_listener(fd: libc::c_long) -> OwnedFd {
    // SAFETY: with NEW_LISTENER the kernel returned a fresh fd that only we own.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}
