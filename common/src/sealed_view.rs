//! CVE-2019-5736: the view of hull's binary that a process entering a container runs from.
//! Whatever runs from it can be reached by the container through `/proc/PID/exe`, so no
//! open of it may write the binary, and nothing the container can do may make it
//! writable.
//!
//! - An overlayfs whose only layers are the binary's directory and an unrelated dummy
//!   directory (no upper layer: the superblock itself is read-only), mounted detached.
//!   Nothing can unwrap it: clearing the mount's read-only flag leaves the filesystem
//!   read-only. It shares the page cache with the binary (no copy).
//! - Where overlayfs cannot be made, a detached read-only bind mount of the binary. A
//!   process with CAP_SYS_ADMIN in the initial user namespace (a privileged container
//!   without a user namespace) can clear that mount's read-only flag with
//!   mount_setattr on the fd it gets from `/proc/PID/exe`: the overlay is preferred for
//!   that reason.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What a view is made of (said in hull's debug log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Overlay,
    ReadOnlyBind,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Overlay => "a read-only overlayfs over the binary's directory",
            Kind::ReadOnlyBind => "a read-only bind mount of the binary",
        }
    }
}

/// A close-on-exec fd of a view of `binary` (a regular file, or `/proc/self/exe`), to run
/// with execveat or through `/proc/self/fd/N`. The error is the bind mount's (the last
/// resort): EPERM for a caller that may not make mounts.
pub fn open(binary: &Path) -> io::Result<(OwnedFd, Kind)> {
    if let Ok(fd) = overlay(binary) {
        return Ok((fd, Kind::Overlay));
    }
    read_only_bind(binary).map(|fd| (fd, Kind::ReadOnlyBind))
}

const FSOPEN_CLOEXEC: u32 = 1;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const FSMOUNT_CLOEXEC: u32 = 1;
const OPEN_TREE_CLONE: u32 = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

fn overlay(binary: &Path) -> io::Result<OwnedFd> {
    // The layer is the directory the file really is in (`/proc/self/exe` resolved).
    let real = std::fs::canonicalize(binary)?;
    let (dir, name) = match (real.parent(), real.file_name()) {
        (Some(d), Some(n)) => (d, n),
        _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    // overlayfs needs two layers to mount without an upper one, and refuses layers that
    // contain one another (ELOOP).
    let dummy = ["/dev", "/sys"]
        .into_iter()
        .map(Path::new)
        .find(|d| !dir.starts_with(d) && !d.starts_with(dir))
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ELOOP))?;
    let fs = owned(syscall_fsopen(c"overlay")?);
    // The binary's directory on top, so a file of the same name in the dummy never masks it.
    let lower = format!("{}:{}", escape(dir), escape(dummy));
    fsconfig_string(fs.as_fd(), "lowerdir", &lower)?;
    // Not needed, and an xino auto-enabled across filesystems logs to dmesg.
    let _ = fsconfig_string(fs.as_fd(), "xino", "off");
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
    })?;
    let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    // SAFETY: plain integer arguments; the kernel returns a new fd or -1.
    let mnt = owned(check(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attrs as libc::c_uint,
        )
    })?);
    let n = cstring(name.as_bytes())?;
    // SAFETY: n outlives the call; the kernel returns a new fd or -1.
    let fd = check(unsafe {
        libc::openat(
            mnt.as_raw_fd(),
            n.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        ) as libc::c_long
    })?;
    Ok(owned(fd))
}

/// A layer path for `lowerdir=`, whose separators are `:` (escaped with `\`).
fn escape(p: &Path) -> String {
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
}

fn read_only_bind(binary: &Path) -> io::Result<OwnedFd> {
    let p = cstring(binary.as_os_str().as_bytes())?;
    // SAFETY: p outlives the call; the kernel returns a new fd or -1.
    let tree = owned(check(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            p.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32,
        )
    })?);
    let attr = libc::mount_attr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the empty path and attr outlive the call; the kernel reads size_of(attr) bytes.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })?;
    Ok(tree)
}

fn syscall_fsopen(fstype: &std::ffi::CStr) -> io::Result<libc::c_long> {
    // SAFETY: fstype outlives the call; the kernel returns a new fd or -1.
    check(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
}

fn fsconfig_string(fs: BorrowedFd<'_>, key: &str, value: &str) -> io::Result<()> {
    let (k, v) = (cstring(key.as_bytes())?, cstring(value.as_bytes())?);
    // SAFETY: k and v outlive the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            k.as_ptr(),
            v.as_ptr(),
            0,
        )
    })
    .map(drop)
}

fn cstring(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: fd was just returned by the kernel as a new descriptor; nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(fd: &OwnedFd) -> String {
        format!("/proc/self/fd/{}", fd.as_raw_fd())
    }

    /// Clear the read-only flag of the mount behind `fd` (what a privileged attacker
    /// holding /proc/PID/exe would try).
    fn clear_read_only(fd: &OwnedFd) -> io::Result<()> {
        let attr = libc::mount_attr {
            attr_set: 0,
            attr_clr: MOUNT_ATTR_RDONLY,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: the empty path and attr outlive the call.
        check(unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                &attr as *const libc::mount_attr,
                std::mem::size_of::<libc::mount_attr>(),
            )
        })
        .map(drop)
    }

    fn copy_of_true(dir: &Path) -> std::path::PathBuf {
        let bin = dir.join("victim");
        std::fs::copy("/bin/true", &bin).unwrap();
        bin
    }

    #[test]
    fn the_overlay_view_runs_the_binary_and_cannot_be_made_writable() {
        let dir = std::env::temp_dir().join(format!("sealed-view-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = copy_of_true(&dir);
        let (view, kind) = match open(&bin) {
            // Making mounts needs CAP_SYS_ADMIN (the test suite runs as root).
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => return,
            v => v.unwrap(),
        };
        assert_eq!(kind, Kind::Overlay);
        let ok = std::process::Command::new(through(&view)).status().unwrap();
        assert!(ok.success());
        let w = std::fs::OpenOptions::new().write(true).open(through(&view));
        assert_eq!(w.unwrap_err().raw_os_error(), Some(libc::EROFS));
        // Even with the mount's flag cleared the filesystem stays read-only.
        let _ = clear_read_only(&view);
        let w = std::fs::OpenOptions::new().write(true).open(through(&view));
        assert_eq!(w.unwrap_err().raw_os_error(), Some(libc::EROFS));
        assert_eq!(
            std::fs::read(&bin).unwrap(),
            std::fs::read("/bin/true").unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_read_only_bind_is_read_only_but_a_privileged_process_can_unwrap_it() {
        let dir = std::env::temp_dir().join(format!("sealed-bind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = copy_of_true(&dir);
        let view = match read_only_bind(&bin) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => return,
            v => v.unwrap(),
        };
        let w = std::fs::OpenOptions::new().write(true).open(through(&view));
        assert_eq!(w.unwrap_err().raw_os_error(), Some(libc::EROFS));
        // Why the overlay comes first: this is the attack it stops.
        clear_read_only(&view).unwrap();
        assert!(std::fs::OpenOptions::new()
            .write(true)
            .open(through(&view))
            .is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn layer_paths_are_escaped_and_bad_paths_fail() {
        assert_eq!(escape(Path::new("/a:b\\c")), "/a\\:b\\\\c");
        let e = open(Path::new("/nonexistent/hull")).unwrap_err();
        assert!(
            matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EPERM)),
            "{e}"
        );
        assert!(overlay(Path::new("/")).is_err());
    }
}
