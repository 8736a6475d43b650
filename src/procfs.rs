//! hull's own way into procfs, which a container cannot redirect (CVE-2025-52881 class).
//! Every procfs file hull writes or reopens (sysctls, oom_score_adj, LSM attrs, id maps,
//! setgroups, the exec fifo) is reached from one handle on the root of a proc instance
//! the container cannot touch: the host's /proc, opened by the parent before clone (so
//! before any container mount exists) and inherited by the init. The fd keeps naming the
//! host's mount after the init unshares its mount namespace and pivots.
//!
//! Paths are walked from it with openat2 RESOLVE_BENEATH | NO_SYMLINKS | NO_MAGICLINKS |
//! NO_XDEV (no symlink, magic link or mount over a file can redirect the walk) and what is
//! opened is checked to be on procfs. `self` and `thread-self` are read with readlinkat on
//! the handle: the kernel answers with the caller's ids as that instance's pid namespace
//! numbers them (the init is pid 1 in its own namespace, not in the host's /proc).
//!
//! The handle is process-wide: the create path and exec open it once before the clone or
//! fork (`prepare`); a process that did not opens `/proc` at first use, verified to be a
//! proc root, and walks it the same way.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use crate::sys::openat2::{
    openat2, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
};

/// The root directory of every proc instance has this inode number (PROC_ROOT_INO).
const PROC_ROOT_INO: u64 = 1;
const RESOLVE: u64 =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

static HANDLE: OnceLock<Procfs> = OnceLock::new();

/// An O_PATH fd on the root of a proc instance, verified.
#[derive(Debug)]
pub struct Procfs {
    root: OwnedFd,
}

/// Open the host's /proc for this process, at an fd number of at least `min_fd` (below it
/// lie fds handed to the container). Called by the parent before clone; the init keeps it.
pub fn prepare(min_fd: RawFd) -> Result<RawFd> {
    if let Some(p) = HANDLE.get() {
        if p.raw() < min_fd {
            bail!(
                "internal: the procfs handle (fd {}) is below fd {min_fd}",
                p.raw()
            );
        }
        return Ok(p.raw());
    }
    let p = Procfs::open_root(Path::new("/proc")).context("opening hull's procfs handle")?;
    let root = if p.raw() < min_fd {
        crate::sys::fds::owned_above(&p.root, min_fd).context("moving the procfs handle")?
    } else {
        p.root
    };
    let raw = root.as_raw_fd();
    let _ = HANDLE.set(Procfs { root });
    Ok(raw)
}

/// The fd of the prepared handle, for lists of fds to keep open.
pub fn raw_fd() -> Option<RawFd> {
    HANDLE.get().map(Procfs::raw)
}

/// This process's handle: the prepared one, else `/proc` opened and verified now.
pub fn get() -> Result<&'static Procfs> {
    if let Some(p) = HANDLE.get() {
        return Ok(p);
    }
    let p = Procfs::open_root(Path::new("/proc")).context("opening /proc")?;
    let _ = HANDLE.set(p);
    HANDLE.get().context("internal: procfs handle")
}

impl Procfs {
    /// Open `path` and refuse it unless it is the root of a proc instance.
    pub fn open_root(path: &Path) -> Result<Procfs> {
        let root = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", path.display()))?;
        let fs = fstatfs(root.as_fd()).with_context(|| format!("fstatfs {}", path.display()))?;
        let st = fstat(root.as_fd()).with_context(|| format!("fstat {}", path.display()))?;
        if fs.filesystem_type() != PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO {
            bail!("{} is not the root of a proc filesystem", path.display());
        }
        Ok(Procfs { root })
    }

    pub fn raw(&self) -> RawFd {
        self.root.as_raw_fd()
    }

    /// `rel` (no leading `/`) beneath the proc root, through no symlink and no mount.
    pub fn open(&self, rel: &str, flags: i32) -> io::Result<OwnedFd> {
        let fd = match openat2(self.root.as_fd(), rel, flags, 0, RESOLVE) {
            Ok(fd) => fd,
            // The container's seccomp profile may not know openat2 (the exec fifo is
            // reopened under the filter): the same rules, one component at a time.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => {
                self.walk(rel, flags)?
            }
            Err(e) => return Err(e),
        };
        // RESOLVE_NO_XDEV already keeps the walk on this mount; the check costs one
        // syscall and says so to a reader.
        let fs = fstatfs(fd.as_fd())?;
        if fs.filesystem_type() != PROC_SUPER_MAGIC {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        Ok(fd)
    }

    /// `open` without openat2: each component opened with O_NOFOLLOW beneath the last,
    /// none of them `.` or `..`, each on the handle's own mount.
    fn walk(&self, rel: &str, flags: i32) -> io::Result<OwnedFd> {
        let mount = |fd: std::os::fd::BorrowedFd| {
            crate::sys::stat::mount_and_inode(fd).map(|(mnt, _, _)| mnt)
        };
        let root_mnt = mount(self.root.as_fd())?;
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut cur: Option<OwnedFd> = None;
        for (i, part) in parts.iter().enumerate() {
            let f = if i + 1 == parts.len() {
                OFlag::from_bits_retain(flags) | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
            } else {
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
            };
            let dir = cur.as_ref().map_or(self.root.as_fd(), |c| c.as_fd());
            let fd = nix::fcntl::openat(dir, *part, f, Mode::empty())?;
            if mount(fd.as_fd())? != root_mnt {
                return Err(io::Error::from_raw_os_error(libc::EXDEV));
            }
            cur = Some(fd);
        }
        cur.ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
    }

    /// `/proc/self/<sub>` of the caller.
    pub fn open_self(&self, sub: &str, flags: i32) -> io::Result<OwnedFd> {
        let base = self.link("self")?;
        self.open(&format!("{base}/{sub}"), flags)
    }

    /// `/proc/thread-self/<sub>` of the calling thread.
    pub fn open_thread_self(&self, sub: &str, flags: i32) -> io::Result<OwnedFd> {
        let base = self.link("thread-self")?;
        self.open(&format!("{base}/{sub}"), flags)
    }

    /// `/proc/<pid>/<sub>`, `pid` as this instance numbers it.
    pub fn open_pid(&self, pid: i32, sub: &str, flags: i32) -> io::Result<OwnedFd> {
        self.open(&format!("{pid}/{sub}"), flags)
    }

    /// Reopen this process's fd `fd` with `flags` through `/proc/self/fd/N`, in one openat
    /// from the handle: no fd on the `fd` directory is held while the open blocks (a fifo
    /// waits there for its reader, and a runtime's init shows only its own files then). The
    /// components before the magic link are directories of a proc instance the container
    /// cannot mount on; what was opened must be the file the link names.
    pub fn reopen(&self, fd: RawFd, flags: i32) -> io::Result<OwnedFd> {
        let path = format!("{}/fd/{fd}", self.link("self")?);
        let want = fstatat(self.root.as_fd(), path.as_str(), AtFlags::empty())?;
        let oflags = OFlag::from_bits_retain(flags) | OFlag::O_CLOEXEC;
        let new = nix::fcntl::openat(self.root.as_fd(), path.as_str(), oflags, Mode::empty())?;
        let got = fstat(new.as_fd())?;
        if (want.st_dev, want.st_ino) != (got.st_dev, got.st_ino) {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        Ok(new)
    }

    /// The target of `self` (`PID`) or `thread-self` (`PID/task/TID`), nothing else.
    fn link(&self, name: &str) -> io::Result<String> {
        let t = nix::fcntl::readlinkat(self.root.as_fd(), name)?;
        let t = t.to_str().unwrap_or_default();
        let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let ok = match t.split('/').collect::<Vec<_>>()[..] {
            [pid] => num(pid),
            [pid, "task", tid] => num(pid) && num(tid),
            _ => false,
        };
        if !ok {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(t.to_string())
    }
}

/// Write `value` in one call to a procfs file opened with `Procfs::open*`.
pub fn write(fd: OwnedFd, value: &str) -> io::Result<()> {
    let mut f = std::fs::File::from(fd);
    f.write_all(value.as_bytes())
}

/// Read a procfs file opened with `Procfs::open*`.
pub fn read(fd: OwnedFd) -> io::Result<String> {
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_and_thread_self_are_the_caller() {
        let p = Procfs::open_root(Path::new("/proc")).unwrap();
        let status = read(p.open_self("status", libc::O_RDONLY).unwrap()).unwrap();
        let me = format!("\nPid:\t{}\n", std::process::id());
        assert!(status.contains(&me), "{status}");
        let ts = read(p.open_thread_self("stat", libc::O_RDONLY).unwrap()).unwrap();
        assert!(
            ts.starts_with(&format!("{} ", nix::unistd::gettid())),
            "{ts}"
        );
    }

    #[test]
    fn symlinks_and_magic_links_are_not_followed() {
        let p = Procfs::open_root(Path::new("/proc")).unwrap();
        // `mounts` is a symlink to self/mounts; `self/cwd` a magic link.
        let e = p.open("mounts", libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        let e = p.open_self("cwd", libc::O_PATH).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        let e = p.open("../etc/passwd", libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EXDEV));
    }

    #[test]
    fn a_directory_that_is_not_a_proc_root_is_refused() {
        let e = Procfs::open_root(Path::new("/proc/self")).unwrap_err();
        assert!(e.to_string().contains("not the root of a proc"), "{e}");
        let e = Procfs::open_root(Path::new("/tmp")).unwrap_err();
        assert!(e.to_string().contains("not the root of a proc"), "{e}");
    }

    #[test]
    fn reopen_yields_the_same_file() {
        let p = Procfs::open_root(Path::new("/proc")).unwrap();
        let f =
            std::fs::File::open("/etc/hostname").or_else(|_| std::fs::File::open("/etc/passwd"));
        let f = f.unwrap();
        let o = p.reopen(f.as_raw_fd(), libc::O_RDONLY).unwrap();
        let (a, b) = (fstat(f.as_fd()).unwrap(), fstat(o.as_fd()).unwrap());
        assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
    }
}
