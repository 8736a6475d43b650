//! `ROOT/ID/config.json`: the bundle's config.json as `create` read and validated it.
//! `exec` builds its process from this copy, never from the bundle again, so editing the
//! bundle after create cannot strip seccomp, capabilities or no_new_privs from the
//! processes exec'd into a running container (runc keeps its whole config in state.json).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::lock::is_missing;

pub(crate) const CONFIG_FILE: &str = "config.json";

/// Write the copy (mode 0600, a new file, never through a symlink).
pub(crate) fn write(dir: &Path, bytes: &[u8]) -> Result<()> {
    let path = dir.join(CONFIG_FILE);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The copy and its path; `Ok(None)` for a container created by a hull that kept none.
pub(crate) fn read(dir: &Path) -> Result<Option<(Vec<u8>, PathBuf)>> {
    let path = dir.join(CONFIG_FILE);
    match std::fs::read(&path) {
        Ok(b) => Ok(Some((b, path))),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
