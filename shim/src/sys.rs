//! The shim's thin syscall boundary: the few calls nix does not wrap (pidfd_open,
//! pidfd_send_signal, close_range, fork, clock_gettime). Every `unsafe` of the crate is here.

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

/// `pidfd_open(pid, 0)`: a descriptor that stays bound to this exact process.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; the result is a new fd we then own.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: r is a freshly opened descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// `pidfd_send_signal(fd, sig)`.
pub fn pidfd_send_signal(fd: RawFd, sig: i32) -> io::Result<()> {
    // SAFETY: a null siginfo is allowed; fd is a pidfd the caller keeps open.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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

/// Wall-clock time as (seconds, nanoseconds) since the epoch, without allocating.
pub fn realtime() -> (i64, u32) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; CLOCK_REALTIME always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec, ts.tv_nsec as u32)
}

/// Take ownership of a descriptor a syscall wrapper just returned.
pub fn own_fd(raw: RawFd) -> OwnedFd {
    // SAFETY: callers pass a descriptor freshly returned by the kernel that nothing owns.
    unsafe { OwnedFd::from_raw_fd(raw) }
}
