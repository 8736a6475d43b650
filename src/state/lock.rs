//! The per-container lock: an exclusive `flock` on the container directory `ROOT/ID` itself
//! that serializes every command on one id. No lock file: a directory takes a flock like any
//! file, and one inode fewer per container is one ext4 inode allocation and eviction fewer
//! per create/delete (the state dir is on ext4 /run on some hosts, this one included). The fd
//! is opened `O_CLOEXEC` (std does so for every file) and the lock is released when the
//! returned guard is dropped.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held exclusive lock on a container directory.
pub(crate) type Held = Flock<File>;

fn open_dir(dir: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
}

/// Lock `dir`, which this process just created as a container directory (`reserve` on a
/// filesystem without `RENAME_NOREPLACE`). A `lock` waiting for that id may take it in the
/// moment between mkdir and flock; then this fails, as the id is no longer ours alone.
pub(crate) fn create_locked(dir: &Path) -> Result<Held> {
    try_lock(dir)?.with_context(|| {
        format!(
            "cannot lock new directory {}: another process took it first",
            dir.display()
        )
    })
}

/// Lock `dir` if it exists and nobody holds its lock; `Ok(None)` when it is missing, held,
/// or no longer at `dir` once locked. The one primitive both sides of the sweep use: the
/// sweeper (`Store::ids`) removes a hidden directory only while holding it this way, and
/// a creator that gets `None` for the temp directory it just made knows a sweeper took it
/// in the moment between mkdir and flock, and starts over with a fresh name.
pub(crate) fn try_lock(dir: &Path) -> Result<Option<Held>> {
    let file = match open_dir(dir) {
        Ok(f) => f,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", dir.display())),
    };
    let held = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(held) => held,
        Err((_, Errno::EWOULDBLOCK)) => return Ok(None),
        Err((_, e)) => bail!("cannot lock {}: {e}", dir.display()),
    };
    if still_at(&held, dir)? {
        Ok(Some(held))
    } else {
        Ok(None)
    }
}

/// Whether `dir` still names the directory `held` locked (the same dev and inode).
fn still_at(held: &Held, dir: &Path) -> Result<bool> {
    let ours = held
        .metadata()
        .with_context(|| format!("cannot stat {}", dir.display()))?;
    match std::fs::symlink_metadata(dir) {
        Ok(now) => Ok(now.dev() == ours.dev() && now.ino() == ours.ino()),
        Err(e) if is_missing(&e) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot stat {}", dir.display())),
    }
}

/// Lock the existing container directory `dir`, waiting for any other holder. `Ok(None)`
/// when the container does not exist, including when it was removed while this call waited
/// (the held fd then names a directory no longer at `dir`). If the id was removed and
/// reserved again while waiting, the new container is locked.
pub(crate) fn lock_existing(dir: &Path) -> Result<Option<Held>> {
    loop {
        let file = match open_dir(dir) {
            Ok(f) => f,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", dir.display())),
        };
        let held = flock_blocking(file, dir)?;
        if still_at(&held, dir)? {
            return Ok(Some(held));
        }
        match std::fs::symlink_metadata(dir) {
            // Removed and created again while we waited: lock the new one.
            Ok(_) => continue,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot stat {}", dir.display())),
        }
    }
}

/// `flock(LOCK_EX)`, retried when a signal interrupts the wait.
fn flock_blocking(mut file: File, path: &Path) -> Result<Held> {
    loop {
        match Flock::lock(file, FlockArg::LockExclusive) {
            Ok(held) => return Ok(held),
            Err((f, Errno::EINTR)) => file = f,
            Err((_, e)) => bail!("cannot lock {}: {e}", path.display()),
        }
    }
}

/// Errors that mean "this path does not exist" (a missing directory or a non-directory
/// where one was expected).
pub(crate) fn is_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}
