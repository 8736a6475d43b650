//! `openat2(2)`: path resolution the kernel scopes to a directory (RESOLVE_IN_ROOT), used
//! for every path inside a container's rootfs, and (RESOLVE_BENEATH) for every procfs file
//! hull writes. The kernel answers EAGAIN when a rename or mount raced with a scoped
//! lookup (it cannot prove `..` stayed inside); that is retried a bounded number of times,
//! so a rename storm in a shared volume neither fails the create nor stalls it forever.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Symlinks (including absolute ones and `..`) resolve as if `dirfd` were `/`.
pub const RESOLVE_IN_ROOT: u64 = libc::RESOLVE_IN_ROOT;
/// Refuse /proc magic links such as `/proc/self/fd/N` or `/proc/self/root`.
pub const RESOLVE_NO_MAGICLINKS: u64 = libc::RESOLVE_NO_MAGICLINKS;
/// Refuse any symlink.
pub const RESOLVE_NO_SYMLINKS: u64 = libc::RESOLVE_NO_SYMLINKS;
/// Refuse to leave `dirfd` (no absolute symlink, no `..` above it).
pub const RESOLVE_BENEATH: u64 = libc::RESOLVE_BENEATH;
/// Refuse to cross a mount point (nothing mounted over a path can redirect it).
pub const RESOLVE_NO_XDEV: u64 = libc::RESOLVE_NO_XDEV;

/// How often an EAGAIN (a racing rename) is retried before it is reported.
const EAGAIN_RETRIES: usize = 128;

/// `openat2(dirfd, path, {flags | O_CLOEXEC, mode, resolve})`, retrying EAGAIN.
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &str,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let c_path = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut tries = 0;
    loop {
        match openat2_once(dirfd, &c_path, flags, mode, resolve) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < EAGAIN_RETRIES => {
                tries += 1;
            }
            other => return other,
        }
    }
}

fn openat2_once(
    dirfd: BorrowedFd<'_>,
    c_path: &CString,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    // SAFETY: open_how is plain data; zeroing it gives a valid value for every field.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = u64::from(mode);
    how.resolve = resolve;
    // SAFETY: c_path and how outlive the call; the kernel reads exactly size_of(open_how)
    // bytes from `how` and returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            c_path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
