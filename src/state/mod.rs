//! The state store under `--root`: one directory per container (`ROOT/ID/`) holding
//! `state.json` (written atomically) and the exec fifo; a flock on the directory itself
//! serializes commands on one id. Reads never see a half-written file; `reserve` of an existing id
//! fails and leaves the first untouched.
//!
//! Layout and protocol:
//! - `reserve` builds and locks a hidden `ROOT/.hull~new~…` directory, then
//!   `renameat2(RENAME_NOREPLACE)`s it to `ROOT/ID`: the id appears already locked (the
//!   flock stays with the directory's inode), and of two racing reservations exactly one wins.
//! - `lock` flocks `ROOT/ID` and then checks the path still names the directory it locked,
//!   so a waiter whose container was removed meanwhile gets "does not exist".
//! - `Entry::remove` renames `ROOT/ID` to a hidden name (the id disappears at once), then
//!   deletes it, all while holding the lock.
//! - `read` opens `ROOT/ID/state.json` directly: its cost does not depend on how many
//!   containers exist. Hidden names contain `~`, which no valid id can, so they are never
//!   listed and never collide with a container.
//! - A hull killed while reserving or removing leaves its hidden directory behind, unlocked
//!   (the flock dies with the process). `ids` (hence `list`, which scans ROOT anyway) sweeps
//!   those: it removes a `.hull~new~`/`.hull~del~` directory only while holding its flock
//!   taken without waiting, after checking the path still names the directory it locked.
//!   A reserve that loses its fresh directory to a sweep in the moment between mkdir and
//!   flock notices (gone, held, or replaced) and retries with a new name. No other command
//!   scans, so the sweep costs create/run/state/delete nothing; other names are left alone.

mod error;
mod lock;
mod names;
mod oci_state;
mod record;
mod recorded_config;
mod statefile;

pub use error::StoreError;
pub use oci_state::{OciState, Status};
pub use record::Record;

use std::fs::DirBuilder;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};

use lock::{is_missing, Held};
use names::{check_id, is_container_name, is_temp_name, temp_name};

/// How many fresh temp names `reserve` tries before giving up. Each loss needs a `list`
/// sweeping in the microseconds between mkdir and flock, so more than one in a row is
/// already unlikely; the bound only turns a pathological loop into an error.
const TEMP_DIR_ATTEMPTS: u32 = 16;

/// The store rooted at `--root`.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A container directory held under its exclusive lock until dropped.
#[derive(Debug)]
pub struct Entry {
    dir: PathBuf,
    id: String,
    root: PathBuf,
    lock: Held,
}

impl Store {
    /// Open the store at `root`. Nothing is created here: a missing root reads as an empty
    /// store, and `reserve` creates it (mode 0700, parents as needed).
    pub fn open(root: &Path) -> Result<Store> {
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Create `ROOT/ID` and hold its lock. Fails with `container "ID" already exists`
    /// (`StoreError::AlreadyExists`) and leaves the existing container untouched.
    pub fn reserve(&self, id: &str) -> Result<Entry> {
        self.reserve_inner(id, None)
    }

    /// `reserve`, with `r` as the first `state.json`: written into the hidden directory
    /// before it is renamed into place, so the id never appears without a record, and the
    /// save costs no temp file and rename (each a new inode on the state filesystem).
    pub fn reserve_saved(&self, id: &str, r: &Record) -> Result<Entry> {
        self.reserve_inner(id, Some(r))
    }

    fn reserve_inner(&self, id: &str, first: Option<&Record>) -> Result<Entry> {
        check_id(id)?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .with_context(|| format!("cannot create state directory {}", self.root.display()))?;
        let dir = self.root.join(id);
        let (tmp, held) = self.make_temp_dir()?;
        if let Some(r) = first {
            if let Err(e) = statefile::write_new(&tmp, r) {
                discard(&tmp);
                return Err(e);
            }
        }
        match renameat2(
            AT_FDCWD,
            &tmp,
            AT_FDCWD,
            &dir,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => Ok(self.entry(id, held)),
            Err(e) => {
                discard(&tmp);
                drop(held);
                match e {
                    Errno::EEXIST => Err(StoreError::AlreadyExists(id.to_string()).into()),
                    // The filesystem of --root lacks RENAME_NOREPLACE.
                    Errno::EINVAL => {
                        let entry = self.reserve_without_noreplace(id)?;
                        if let Some(r) = first {
                            entry.save(r)?;
                        }
                        Ok(entry)
                    }
                    e => Err(anyhow::anyhow!("cannot create {}: {e}", dir.display())),
                }
            }
        }
    }

    /// Lock an existing container, waiting for any other holder. Fails with
    /// `container "ID" does not exist` (`StoreError::NotFound`), also when the container
    /// was removed while this call waited.
    pub fn lock(&self, id: &str) -> Result<Entry> {
        check_id(id)?;
        match lock::lock_existing(&self.root.join(id))? {
            Some(held) => Ok(self.entry(id, held)),
            None => Err(StoreError::NotFound(id.to_string()).into()),
        }
    }

    /// Read a container's record without taking its lock (state.json is replaced
    /// atomically, so a reader sees the old or the new file, never a mix).
    /// Fails with `StoreError::NotFound` if the id does not exist and
    /// `StoreError::NotSaved` if it is reserved but nothing was saved yet; see `read_opt`.
    pub fn read(&self, id: &str) -> Result<Record> {
        match self.read_opt(id)? {
            Some(r) => Ok(r),
            None => Err(StoreError::NotSaved(id.to_string()).into()),
        }
    }

    /// Like `read`, but `Ok(None)` when `ROOT/ID` exists without a state.json yet (a
    /// `create` holds the id: status "creating"). Missing id: `StoreError::NotFound`.
    /// Touches only `ROOT/ID/state.json` (and `ROOT/ID` when that is missing): no scan.
    pub fn read_opt(&self, id: &str) -> Result<Option<Record>> {
        check_id(id)?;
        let dir = self.root.join(id);
        if let Some(r) = statefile::read(&dir)? {
            if r.id != id {
                anyhow::bail!(
                    "{} records container {:?}, not {id:?}",
                    dir.join(statefile::STATE_FILE).display(),
                    r.id
                );
            }
            return Ok(Some(r));
        }
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(None),
            Ok(_) => Err(StoreError::NotFound(id.to_string()).into()),
            Err(e) if is_missing(&e) => Err(StoreError::NotFound(id.to_string()).into()),
            Err(e) => Err(e).with_context(|| format!("cannot stat {}", dir.display())),
        }
    }

    /// The config.json `create` recorded for `id` (`Entry::save_config`), with its path;
    /// `None` for a container created without one. Read without the lock: it is written
    /// once, before the container leaves "creating".
    pub fn read_config(&self, id: &str) -> Result<Option<(Vec<u8>, PathBuf)>> {
        check_id(id)?;
        recorded_config::read(&self.root.join(id))
    }

    /// Ids of every container directory, sorted; empty when ROOT does not exist. Hidden
    /// temp directories and entries that are not valid ids are skipped, and the store's own
    /// temp directories that no live process holds are removed on the way (see `sweep`).
    pub fn ids(&self) -> Result<Vec<String>> {
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot list state directory {}", self.root.display())
                })
            }
        };
        let mut ids = Vec::new();
        let mut temps = Vec::new();
        for ent in rd {
            let ent = ent
                .with_context(|| format!("cannot list state directory {}", self.root.display()))?;
            let Some(name) = ent.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if is_temp_name(&name) {
                temps.push(name);
                continue;
            }
            if !is_container_name(&name) {
                continue;
            }
            match ent.file_type() {
                Ok(t) if t.is_dir() => ids.push(name),
                _ => continue,
            }
        }
        for name in &temps {
            self.sweep(name);
        }
        ids.sort();
        Ok(ids)
    }

    /// Remove `ROOT/NAME`, a temp directory of the store, if no process holds its lock: a
    /// hull killed while reserving or removing left it, and nothing else ever will. The
    /// lock is held (and the path checked to still be the locked directory) during the
    /// removal, so a create that made it a moment ago and has not locked it yet loses it
    /// and retries with a fresh name (`make_temp_dir`). Best effort: an error leaves the
    /// directory for the next `list`, and never fails this one.
    fn sweep(&self, name: &str) {
        let dir = self.root.join(name);
        if let Ok(Some(_held)) = lock::try_lock(&dir) {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    fn entry(&self, id: &str, held: Held) -> Entry {
        Entry {
            dir: self.root.join(id),
            id: id.to_string(),
            root: self.root.clone(),
            lock: held,
        }
    }

    /// A fresh hidden directory `ROOT/.hull~new~…` (mode 0700), locked. A `list` may sweep
    /// it in the moment between mkdir and flock (it looks like one a killed create left):
    /// then it is gone, locked by the sweeper, or replaced, and a fresh name is tried.
    fn make_temp_dir(&self) -> Result<(PathBuf, Held)> {
        self.make_temp_dir_with(|_| {})
    }

    /// `make_temp_dir`, calling `between(tmp)` after each mkdir and before its flock: the
    /// window a sweep can hit, which the unit tests drive through this.
    fn make_temp_dir_with(&self, mut between: impl FnMut(&Path)) -> Result<(PathBuf, Held)> {
        for _ in 0..TEMP_DIR_ATTEMPTS {
            let tmp = self.root.join(temp_name(names::NEW));
            match DirBuilder::new().mode(0o700).create(&tmp) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", tmp.display()))
                }
            }
            between(&tmp);
            match lock::try_lock(&tmp) {
                Ok(Some(held)) => return Ok((tmp, held)),
                // Swept: whatever is left at `tmp` is the sweeper's to remove.
                Ok(None) => continue,
                Err(e) => {
                    discard(&tmp);
                    return Err(e);
                }
            }
        }
        anyhow::bail!(
            "cannot reserve a temporary directory in {}: {TEMP_DIR_ATTEMPTS} attempts were \
             each removed or locked by another process before they could be locked",
            self.root.display()
        )
    }

    /// Fallback for filesystems without `RENAME_NOREPLACE`: `mkdir` is still exclusive, and
    /// the directory is locked a moment after it appears; a `lock` in that window may get
    /// it first and then sees no record (`NotSaved`), which is true enough.
    fn reserve_without_noreplace(&self, id: &str) -> Result<Entry> {
        let dir = self.root.join(id);
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::AlreadyExists(id.to_string()).into())
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
        match lock::create_locked(&dir) {
            Ok(held) => Ok(self.entry(id, held)),
            Err(e) => {
                discard(&dir);
                Err(e)
            }
        }
    }
}

impl Entry {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `ROOT/ID/exec.fifo`.
    pub fn exec_fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }
    /// The fd holding the lock (`O_CLOEXEC`). A forked child inherits the lock with it:
    /// the container init must close it before it blocks on the exec fifo, or every later
    /// command on this id waits until the init execs.
    pub fn lock_fd(&self) -> BorrowedFd<'_> {
        self.lock.as_fd()
    }
    /// Write state.json atomically (temp file, rename; mode 0600; see statefile.rs).
    pub fn save(&self, r: &Record) -> Result<()> {
        statefile::write(&self.dir, r)
    }
    /// Record config.json as `create` validated it (see recorded_config.rs).
    pub fn save_config(&self, bytes: &[u8]) -> Result<()> {
        recorded_config::write(&self.dir, bytes)
    }
    /// Read state.json; `Ok(None)` while a create has reserved the id but not saved yet.
    pub fn load(&self) -> Result<Option<Record>> {
        statefile::read(&self.dir)
    }
    /// Remove the container directory and everything in it, then release the lock. The id
    /// disappears atomically first (rename to a hidden name); if deleting the contents
    /// then fails, the error names the hidden directory left behind.
    pub fn remove(self) -> Result<()> {
        let grave = self.root.join(temp_name(names::DEL));
        std::fs::rename(&self.dir, &grave).with_context(|| {
            format!(
                "cannot remove container {:?}: renaming {} to {} failed",
                self.id,
                self.dir.display(),
                grave.display()
            )
        })?;
        std::fs::remove_dir_all(&grave).with_context(|| {
            format!(
                "container {:?} is gone, but deleting its old directory {} failed",
                self.id,
                grave.display()
            )
        })
        // `self` (and with it the lock) is dropped here, after the directory is gone.
    }
}

/// Best-effort removal of a directory this process just created.
fn discard(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(test)]
mod tests;
