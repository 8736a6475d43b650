//! pidfds: wait for a process that is not our child to exit, without pid-reuse races.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// pidfd_open(2).
pub fn open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: returns a new fd we take ownership of; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: r is a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// pidfd_send_signal(2).
pub fn send_signal(fd: &OwnedFd, sig: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: null siginfo is allowed; fd is borrowed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
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
