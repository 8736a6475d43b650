//! The fd-based mount API (Linux 5.2+, mount_setattr 5.12+): open_tree, move_mount,
//! mount_setattr, fsopen, fsconfig, fsmount. Mounts are made detached and attached onto an
//! fd, so no path is ever re-resolved between the check and the mount.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

pub const OPEN_TREE_CLONE: u32 = 1;
pub const AT_RECURSIVE: u32 = 0x8000;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
/// The mount shows ids through the user namespace in `MountAttr::userns_fd`.
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// Mask of the three atime modes; set it in `attr_clr` when choosing one of them.
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x20_0000;

const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

/// `struct mount_attr` (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    /// One of MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE, or 0 to leave it.
    pub propagation: u64,
    pub userns_fd: u64,
}

/// `AT_FDCWD` as a borrowed fd, for calls that take a path relative to the cwd.
pub fn at_fdcwd() -> BorrowedFd<'static> {
    // SAFETY: AT_FDCWD is a sentinel the kernel accepts wherever a dirfd is expected; it is
    // never closed.
    unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) }
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = check(ret)?;
    // SAFETY: the kernel just returned this new fd; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `open_tree(dirfd, path, flags | OPEN_TREE_CLOEXEC)`: with OPEN_TREE_CLONE, a detached
/// copy of the mount (tree, with AT_RECURSIVE) at `path`.
pub fn open_tree(dirfd: BorrowedFd<'_>, path: &str, flags: u32) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    // SAFETY: p outlives the call; the kernel returns a new fd or -1.
    owned(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dirfd.as_raw_fd(),
            p.as_ptr(),
            flags | libc::O_CLOEXEC as u32,
        )
    })
}

/// Attach the (detached or attached) mount `from` onto the object `to` refers to.
pub fn move_mount_fd(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    let empty = cstr("")?;
    // SAFETY: empty outlives the call; both fds are valid for its duration.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | extra_flags, attr)`: change the flags of the mount
/// whose root `fd` is (AT_RECURSIVE in `extra_flags` for the whole tree).
pub fn mount_setattr(fd: BorrowedFd<'_>, extra_flags: u32, attr: &MountAttr) -> io::Result<()> {
    let empty = cstr("")?;
    // SAFETY: empty and attr outlive the call; the kernel reads size_of(MountAttr) bytes.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH as u32 | extra_flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// `fsopen(fstype, FSOPEN_CLOEXEC)`: a filesystem context to configure.
pub fn fsopen(fstype: &str) -> io::Result<OwnedFd> {
    let t = cstr(fstype)?;
    // SAFETY: t outlives the call; the kernel returns a new fd or -1.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), FSOPEN_CLOEXEC) })
}

/// `fsconfig(FSCONFIG_SET_STRING key=value)` or, with no value, `FSCONFIG_SET_FLAG key`.
pub fn fsconfig_set(fs: BorrowedFd<'_>, key: &str, value: Option<&str>) -> io::Result<()> {
    let k = cstr(key)?;
    let v = value.map(cstr).transpose()?;
    let (cmd, vptr) = match &v {
        Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
        None => (FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: k and v outlive the call; a flag takes a NULL value and aux 0.
    check(unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, k.as_ptr(), vptr, 0) })
        .map(drop)
}

/// `fsconfig(FSCONFIG_CMD_CREATE)`: create the superblock.
pub fn fsconfig_create(fs: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: no pointers are passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })
    .map(drop)
}

/// `fsmount(fs, FSMOUNT_CLOEXEC, attr_flags)`: a detached mount of the created superblock.
pub fn fsmount(fs: BorrowedFd<'_>, attr_flags: u64) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments; the kernel returns a new fd or -1.
    owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attr_flags as libc::c_uint,
        )
    })
}

/// The kernel's last error message on a filesystem context, e.g. `tmpfs: Bad value for
/// 'size'`, to make fsconfig failures readable.
pub fn fs_error_message(fs: BorrowedFd<'_>) -> Option<String> {
    let mut last = None;
    for _ in 0..8 {
        let mut buf = [0u8; 512];
        // SAFETY: buf is valid for buf.len() bytes for the duration of the call.
        let n = unsafe { libc::read(fs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        let msg = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
        if let Some(e) = msg.strip_prefix("e ") {
            last = Some(e.trim_end().to_string());
        }
    }
    last
}
