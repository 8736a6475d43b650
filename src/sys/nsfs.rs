//! Namespace files: which kind of namespace an fd refers to.

use std::io;
use std::os::fd::RawFd;

/// `NS_GET_NSTYPE` = _IO(0xb7, 0x3).
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// The CLONE_NEW* type of the namespace `fd` refers to.
pub fn ns_type(fd: RawFd) -> io::Result<i32> {
    // SAFETY: NS_GET_NSTYPE takes no argument and returns an int; fd is borrowed.
    let r = unsafe { libc::ioctl(fd, NS_GET_NSTYPE) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

/// setns(2) into the namespace behind `fd` (nstype 0: any, already checked by the caller).
pub fn setns(fd: RawFd, nstype: i32) -> io::Result<()> {
    // SAFETY: setns changes this process's namespaces; fd is borrowed.
    if unsafe { libc::setns(fd, nstype) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
