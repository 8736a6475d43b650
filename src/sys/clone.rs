//! `clone3` used like `fork`: one call that creates every requested namespace.

use std::io;

/// Which side of the fork we are on.
pub enum Forked {
    Parent(i32),
    Child,
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// CLONE_PARENT: the child's parent is the caller's parent (an intermediate that clones the
/// init for hull keeps it hull's child).
pub const CLONE_PARENT: u64 = libc::CLONE_PARENT as u64;

/// CLONE_INTO_CGROUP (Linux 5.7): the child starts in the cgroup2 directory `cgroup`.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Fork into new namespaces (`flags` are CLONE_NEW* bits), and with `cgroup` (a cgroup2
/// directory fd) directly into that cgroup. Returns whether the child was born in `cgroup`:
/// a kernel that refuses CLONE_INTO_CGROUP gets a plain fork, and the caller migrates the
/// child itself. Falls back to `clone(2)` when the kernel has no `clone3` (before 5.3).
/// The caller must be single-threaded.
pub fn fork_into(flags: u64, cgroup: Option<i32>) -> io::Result<(Forked, bool)> {
    if let Some(fd) = cgroup {
        match clone3(flags | CLONE_INTO_CGROUP, fd as u64) {
            Ok(f) => return Ok((f, true)),
            // Unsupported flag, or a cgroup the kernel will not start a task in: fall back.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(
                        libc::EINVAL | libc::E2BIG | libc::EOPNOTSUPP | libc::EBUSY | libc::ENOSYS
                    )
                ) => {}
            Err(e) => return Err(e),
        }
    }
    let f = match clone3(flags, 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            // SAFETY: classic clone with a null stack is fork-like, as with clone3 below.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    flags | libc::SIGCHLD as u64,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                )
            };
            forked(ret)?
        }
        other => other?,
    };
    Ok((f, false))
}

fn clone3(flags: u64, cgroup: u64) -> io::Result<Forked> {
    // With CLONE_PARENT the child's exit signal is its new parent's (the kernel takes it
    // from the caller), and clone3 refuses one given explicitly.
    let exit_signal = if flags & CLONE_PARENT != 0 {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let args = CloneArgs {
        flags,
        exit_signal,
        cgroup,
        ..Default::default()
    };
    // SAFETY: with a zero stack clone3 behaves like fork: the child continues on a copy of
    // this stack. hull is single-threaded here, so no lock is held by another thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    forked(ret)
}

fn forked(ret: libc::c_long) -> io::Result<Forked> {
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// Leave the process now without running destructors or atexit handlers (for the child).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}
