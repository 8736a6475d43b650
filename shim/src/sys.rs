//! The shim's thin syscall boundary: the few calls nix does not wrap (close_range, fork,
//! _exit; pidfds are hull_common's). Every `unsafe` of the crate is here.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Close every inherited descriptor above stderr, so the caller's pipes never stay open
/// in a long-lived monitor.
pub fn close_inherited_fds() {
    // SAFETY: close_range only closes descriptors; nothing in this process owns any above 2
    // yet (called first thing in main).
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
    }
}

/// Which side of a `fork` we are on.
pub enum Forked {
    Parent(i32),
    Child,
}

/// `fork()`. Only called while the shim is single-threaded (it never starts threads).
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the process has one thread, so the child's copy of every lock is consistent.
    let r = unsafe { libc::fork() };
    match r {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// `_exit(code)`: leave a forked intermediate without running exit handlers or flushing
/// buffers the parent also holds.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no shared state.
    unsafe { libc::_exit(code) }
}

/// Take ownership of a descriptor a syscall wrapper just returned.
pub fn own_fd(raw: RawFd) -> OwnedFd {
    // SAFETY: callers pass a descriptor freshly returned by the kernel that nothing owns.
    unsafe { OwnedFd::from_raw_fd(raw) }
}
