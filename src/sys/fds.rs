//! File descriptor housekeeping for the container init.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Close every fd except those in `keep`. Uses close_range(2) over the gaps, falling back
/// to a loop up to the fd limit on kernels without it.
pub fn close_all_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&f| f >= 0)
        .map(|&f| f as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut lo: u32 = 0;
    for k in keep.iter().copied().chain(std::iter::once(u32::MAX)) {
        if k > lo {
            close_range(lo, k - 1)?;
        }
        lo = k.saturating_add(1);
        if k == u32::MAX {
            break;
        }
    }
    Ok(())
}

fn close_range(lo: u32, hi: u32) -> io::Result<()> {
    // SAFETY: close_range only closes descriptors; the caller owns every fd in the range.
    let r = unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0u32) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::ENOSYS) {
        return Err(e);
    }
    let max = nix::unistd::sysconf(nix::unistd::SysconfVar::OPEN_MAX)
        .ok()
        .flatten()
        .unwrap_or(1024) as u32;
    for fd in lo..=hi.min(max) {
        // SAFETY: as above; EBADF for unused numbers is ignored.
        unsafe { libc::close(fd as i32) };
    }
    Ok(())
}

/// Set or clear FD_CLOEXEC.
pub fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an fd number has no memory effects.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, new) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Duplicate `fd` to the lowest free number >= `min`, close-on-exec.
pub fn dup_above(fd: RawFd, min: RawFd) -> io::Result<RawFd> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor; no memory is touched.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

/// A close-on-exec duplicate of `fd` numbered at least `min`.
pub fn owned_above(fd: &OwnedFd, min: RawFd) -> io::Result<OwnedFd> {
    let r = dup_above(fd.as_raw_fd(), min)?;
    // SAFETY: r is a fresh descriptor returned by fcntl and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// dup2(2): make `target` refer to `fd` (for stdio of the user process).
pub fn dup_onto(fd: RawFd, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 only changes the descriptor table; `target` is stdio we own.
    if unsafe { libc::dup2(fd, target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One write(2) of `buf` to `fd`: the bytes written.
pub fn write_raw(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the kernel reads at most buf.len() bytes of a live slice; fd is the caller's.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}
