//! Paths inside the container's rootfs, resolved by the kernel as if the rootfs were `/`
//! (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): no symlink, absolute or relative, and
//! no `..` can lead outside it. Missing components are created through directory fds, and a
//! dangling symlink met on the way is followed inside the rootfs, as runc does.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{readlinkat, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};

use crate::sys::openat2::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};

/// What to create when the path does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Nothing: a missing path is an error (ENOENT).
    Nothing,
    /// Missing components become directories (mode 0755).
    Dir,
    /// Missing parents become directories and the last component an empty file (0644).
    File,
}

const MAX_SYMLINKS: usize = 40;
const RESOLVE: u64 = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

/// The path's components as strings the kernel resolves, without `.` and the leading `/`.
fn components(path: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => out.push("..".to_string()),
            Component::Normal(s) => out.push(
                s.to_str()
                    .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?
                    .to_string(),
            ),
        }
    }
    Ok(out)
}

fn join(parts: &[String]) -> String {
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Open `path` (absolute or relative: both are taken from the rootfs root) inside `root`
/// as an O_PATH fd, creating what is missing according to `create`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, create: Create) -> io::Result<OwnedFd> {
    let rel = join(&components(path)?);
    match openat2(root, &rel, libc::O_PATH, 0, RESOLVE) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create != Create::Nothing => {
            create_missing(root, path, create)?;
            openat2(root, &rel, libc::O_PATH, 0, RESOLVE)
        }
        other => other,
    }
}

/// Open the directory that holds `path`'s last component (created as directories when
/// `create_parents`), and return it with that last component's name.
pub fn open_parent_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    create_parents: bool,
) -> io::Result<(OwnedFd, String)> {
    let mut parts = components(path)?;
    let name = match parts.pop() {
        Some(n) if n != ".." => n,
        _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    let create = if create_parents {
        Create::Dir
    } else {
        Create::Nothing
    };
    let dir = open_in_root(root, Path::new(&join(&parts)), create)?;
    Ok((dir, name))
}

/// Walk `path` one component at a time, always resolving the prefix from `root` with
/// RESOLVE_IN_ROOT, and create each missing component inside the directory it belongs to.
fn create_missing(root: BorrowedFd<'_>, path: &Path, create: Create) -> io::Result<()> {
    let mut pending: VecDeque<String> = components(path)?.into();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        done.push(name);
        match openat2(root, &join(&done), libc::O_PATH, 0, RESOLVE) {
            Ok(_) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let name = done.pop().unwrap_or_default();
        let parent = openat2(
            root,
            &join(&done),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            RESOLVE,
        )?;
        match fstatat(parent.as_fd(), name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT) == SFlag::S_IFLNK => {
                // A dangling symlink: continue with its target, still inside the root.
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = readlinkat(parent.as_fd(), name.as_str())?;
                let target = Path::new(&target);
                if target.is_absolute() {
                    done.clear();
                }
                for c in components(target)?.into_iter().rev() {
                    pending.push_front(c);
                }
                continue;
            }
            Ok(_) => {}
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        let last = pending.is_empty();
        let made = if last && create == Create::File {
            nix::fcntl::openat(
                parent.as_fd(),
                name.as_str(),
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop)
        } else {
            mkdirat(
                parent.as_fd(),
                name.as_str(),
                Mode::from_bits_truncate(0o755),
            )
        };
        match made {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        done.push(name);
    }
    Ok(())
}

/// Whether `target` is the rootfs root itself (same mount, same inode): a mount there
/// would cover the container's `/` (a volume entry `data -> /` leads there).
pub fn is_root(target: BorrowedFd<'_>, root: BorrowedFd<'_>) -> io::Result<bool> {
    let a = crate::sys::stat::mount_and_inode(target)?;
    Ok(a == crate::sys::stat::mount_and_inode(root)?)
}

/// Why a path may not carry a mount of proc or sysfs (runc's wording).
#[derive(Debug, PartialEq, Eq)]
pub enum NotOrdinary {
    /// A component is a symlink.
    Symlink,
    /// It exists but is not a directory.
    NotDir,
}

/// Open `path` inside `root` as an ordinary directory: no component may be a symlink.
/// Missing components are created first (following nothing: a dangling symlink met while
/// creating them makes the final open fail with `Symlink`).
pub fn open_ordinary_dir(
    root: BorrowedFd<'_>,
    path: &Path,
) -> io::Result<Result<OwnedFd, NotOrdinary>> {
    let rel = join(&components(path)?);
    let strict = RESOLVE | RESOLVE_NO_SYMLINKS;
    let fd = match openat2(root, &rel, libc::O_PATH, 0, strict) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            create_missing(root, path, Create::Dir)?;
            openat2(root, &rel, libc::O_PATH, 0, strict)
        }
        other => other,
    };
    let fd = match fd {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(Err(NotOrdinary::Symlink)),
        other => other?,
    };
    let st = nix::sys::stat::fstat(fd.as_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Ok(Err(NotOrdinary::NotDir));
    }
    Ok(Ok(fd))
}

/// Open the directory `path` with plain (host) resolution as an O_PATH fd.
pub fn open_host_path(path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        flags | OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Scratch(std::path::PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn scratch(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("hull-safepath-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("root")).unwrap();
        std::fs::create_dir_all(p.join("outside")).unwrap();
        Scratch(p)
    }

    #[test]
    fn absolute_symlink_to_outside_creates_inside_the_root() {
        let s = scratch("abs");
        let root = s.0.join("root");
        symlink(s.0.join("outside"), root.join("evil")).unwrap();
        let rfd = open_host_path(&root, OFlag::O_DIRECTORY).unwrap();
        open_in_root(rfd.as_fd(), Path::new("/evil/x"), Create::Dir).unwrap();
        assert!(!s.0.join("outside/x").exists(), "created outside the root");
        let inside = root
            .join(s.0.join("outside").strip_prefix("/").unwrap())
            .join("x");
        assert!(inside.is_dir(), "{} missing", inside.display());
    }

    #[test]
    fn dotdot_and_relative_symlinks_stay_inside_the_root() {
        let s = scratch("rel");
        let root = s.0.join("root");
        symlink("../../../outside", root.join("up")).unwrap();
        let rfd = open_host_path(&root, OFlag::O_DIRECTORY).unwrap();
        open_in_root(rfd.as_fd(), Path::new("/up/y"), Create::Dir).unwrap();
        open_in_root(rfd.as_fd(), Path::new("/../../outside/z"), Create::File).unwrap();
        assert!(!s.0.join("outside/y").exists());
        assert!(!s.0.join("outside/z").exists());
        assert!(root.join("outside/y").is_dir());
        assert!(root.join("outside/z").is_file());
    }

    #[test]
    fn the_root_is_recognised_through_a_symlink_but_not_a_subdirectory() {
        let s = scratch("isroot");
        let root = s.0.join("root");
        symlink("/", root.join("data")).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        let rfd = open_host_path(&root, OFlag::O_DIRECTORY).unwrap();
        let via = open_in_root(rfd.as_fd(), Path::new("/data"), Create::Dir).unwrap();
        assert!(is_root(via.as_fd(), rfd.as_fd()).unwrap());
        let up = open_in_root(rfd.as_fd(), Path::new("/sub/../.."), Create::Nothing).unwrap();
        assert!(is_root(up.as_fd(), rfd.as_fd()).unwrap());
        let sub = open_in_root(rfd.as_fd(), Path::new("/sub"), Create::Nothing).unwrap();
        assert!(!is_root(sub.as_fd(), rfd.as_fd()).unwrap());
    }

    #[test]
    fn ordinary_dirs_are_reached_without_symlinks_only() {
        let s = scratch("ordinary");
        let root = s.0.join("root");
        std::fs::create_dir(root.join("real")).unwrap();
        symlink("real", root.join("proc")).unwrap();
        symlink("nowhere", root.join("dangling")).unwrap();
        std::fs::write(root.join("file"), "").unwrap();
        let rfd = open_host_path(&root, OFlag::O_DIRECTORY).unwrap();
        let o = |p: &str| open_ordinary_dir(rfd.as_fd(), Path::new(p)).unwrap();
        assert!(o("/real").is_ok());
        assert!(o("/new/dir").is_ok());
        assert!(root.join("new/dir").is_dir());
        assert_eq!(o("/proc").unwrap_err(), NotOrdinary::Symlink);
        assert_eq!(o("/proc/sub").unwrap_err(), NotOrdinary::Symlink);
        assert_eq!(o("/dangling").unwrap_err(), NotOrdinary::Symlink);
        assert_eq!(o("/file").unwrap_err(), NotOrdinary::NotDir);
    }

    #[test]
    fn missing_path_without_create_is_enoent() {
        let s = scratch("noent");
        let rfd = open_host_path(&s.0.join("root"), OFlag::O_DIRECTORY).unwrap();
        let err = open_in_root(rfd.as_fd(), Path::new("/nope"), Create::Nothing).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }
}
