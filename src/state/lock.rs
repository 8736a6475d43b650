//! The per-container lock file `ROOT/ID/lock`: an exclusive `flock` that serializes every
//! command on one id. The fd is opened `O_CLOEXEC` (std does so for every file) and the
//! lock is released when the returned guard is dropped.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Name of the lock file inside a container directory.
pub(crate) const LOCK_FILE: &str = "lock";

/// A held exclusive lock on a container's lock file.
pub(crate) type Held = Flock<File>;

/// Create `dir/lock` (which must not exist yet) and lock it. Used on a directory nobody
/// else can reach yet, so the lock is granted at once.
pub(crate) fn create_locked(dir: &Path) -> Result<Held> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .with_context(|| format!("cannot create lock file {}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(held) => Ok(held),
        Err((_, e)) => bail!("cannot lock new lock file {}: {e}", path.display()),
    }
}

/// Lock the existing `dir/lock`, waiting for any other holder. `Ok(None)` when the
/// container does not exist, including when it was removed while this call waited.
/// If the id was removed and reserved again while waiting, the new container is locked.
pub(crate) fn lock_existing(dir: &Path) -> Result<Option<Held>> {
    let path = dir.join(LOCK_FILE);
    loop {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open lock file {}", path.display()))
            }
        };
        let held = flock_blocking(file, &path)?;
        let ours = held
            .metadata()
            .with_context(|| format!("cannot stat lock file {}", path.display()))?;
        match std::fs::symlink_metadata(&path) {
            Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => return Ok(Some(held)),
            // Removed and created again while we waited: lock the new one.
            Ok(_) => continue,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot stat lock file {}", path.display()))
            }
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
