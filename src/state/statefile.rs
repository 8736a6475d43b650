//! `ROOT/ID/state.json`: written atomically (temp file in the same directory, write, then
//! swapped with the old file by `renameat2(RENAME_EXCHANGE)` and the old one unlinked), so a
//! lock-free reader sees the old or the new record, never a mix. Only the lock holder
//! writes, so one fixed temp name suffices.
//!
//! Why an exchange and not a rename over the old file: ext4 (auto_da_alloc, on by default)
//! starts writeback of a file renamed over another, so every save was a block allocation and
//! a disk write, ~1.6% of a `run`'s CPU in perf; after an exchange the data stays in the page
//! cache until normal writeback, and a container deleted before that never reaches the disk.
//!
//! No fsync: the record describes processes that do not survive a host crash, so it has
//! nothing to be durable for, and an fsync costs ~5 ms per save on an ext4 /run (measured
//! on the CI machines) — more than the rest of `create`. A record left torn by a crash is
//! handled by `delete`, which removes a container whose record cannot be read.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};

use super::lock::is_missing;
use super::record::Record;

/// Name of the record file inside a container directory.
pub(crate) const STATE_FILE: &str = "state.json";
/// The temp file a save writes before renaming it over `state.json`.
const TEMP_FILE: &str = ".state.json~tmp";

/// Replace `dir/state.json` with `r` (mode 0600).
pub(crate) fn write(dir: &Path, r: &Record) -> Result<()> {
    let tmp = dir.join(TEMP_FILE);
    let dest = dir.join(STATE_FILE);
    write_file(&tmp, r, false)?;
    match renameat2(
        AT_FDCWD,
        &tmp,
        AT_FDCWD,
        &dest,
        RenameFlags::RENAME_EXCHANGE,
    ) {
        // The temp name now holds the old record. Left behind by a crash right here, it is
        // truncated by the next save and removed with the directory.
        Ok(()) => std::fs::remove_file(&tmp)
            .with_context(|| format!("cannot remove the old record {}", tmp.display())),
        // No state.json yet (ENOENT), or a filesystem without RENAME_EXCHANGE (EINVAL).
        Err(Errno::ENOENT | Errno::EINVAL) => std::fs::rename(&tmp, &dest)
            .with_context(|| format!("cannot rename {} over {}", tmp.display(), dest.display())),
        Err(e) => Err(e)
            .with_context(|| format!("cannot exchange {} with {}", tmp.display(), dest.display())),
    }
}

/// Write `dir/state.json`, which must not exist yet, in place: for a directory no reader
/// can reach yet (reserve's hidden directory).
pub(crate) fn write_new(dir: &Path, r: &Record) -> Result<()> {
    write_file(&dir.join(STATE_FILE), r, true)
}

/// `r` as JSON into `path` (mode 0600, never through a symlink): a new file with
/// `create_new`, else created or truncated.
fn write_file(path: &Path, r: &Record, create_new: bool) -> Result<()> {
    let bytes = serde_json::to_vec(r)
        .with_context(|| format!("cannot encode the state of container {:?}", r.id))?;
    let mut f = OpenOptions::new()
        .write(true)
        .create(!create_new)
        .truncate(!create_new)
        .create_new(create_new)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(&bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Read `dir/state.json`; `Ok(None)` when it does not exist (yet), including when `dir`
/// itself is missing: the caller tells those apart.
pub(crate) fn read(dir: &Path) -> Result<Option<Record>> {
    let path = dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let r = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a valid hull state file (delete the container directory if it is stale)",
            path.display()
        )
    })?;
    Ok(Some(r))
}
