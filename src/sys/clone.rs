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

/// Fork into new namespaces (`flags` are CLONE_NEW* bits). Falls back to `clone(2)` when
/// the kernel has no `clone3` (before 5.3). The caller must be single-threaded.
pub fn fork_into(flags: u64) -> io::Result<Forked> {
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
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
    let ret = if ret == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        // SAFETY: classic clone with a null stack is fork-like, as above.
        unsafe {
            libc::syscall(
                libc::SYS_clone,
                flags | libc::SIGCHLD as u64,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        }
    } else {
        ret
    };
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
