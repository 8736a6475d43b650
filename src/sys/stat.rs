//! statx(2) for what fstat does not say: the mount an fd is on.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The unique id of the mount `fd` is on (STATX_MNT_ID), with its device and inode:
/// together they name one (mount, file) pair, which is how "this fd is the rootfs root"
/// is decided (a bind of the same directory elsewhere has another mount id).
pub fn mount_and_inode(fd: BorrowedFd<'_>) -> io::Result<(u64, u64, u64)> {
    // SAFETY: statx is plain data; zeroing it gives a valid value for every field.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a static empty C string, `st` is a valid buffer we own, and
    // AT_EMPTY_PATH makes the kernel describe `fd` itself.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_INO | libc::STATX_MNT_ID,
            &mut st,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    if st.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    let dev = libc::makedev(st.stx_dev_major, st.stx_dev_minor);
    Ok((st.stx_mnt_id, dev, st.stx_ino))
}
