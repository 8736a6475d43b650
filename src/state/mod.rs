//! The state store under `--root`: one directory per container (`ROOT/ID/`) holding
//! `state.json` (written atomically), a lock file (flock) that serializes commands on one
//! id, and the exec fifo. Reads never see a half-written file; `reserve` of an existing id
//! fails and leaves the first untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// What hull records about a container in `ROOT/ID/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Record {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    /// Host pid of the container init (0 until the init exists).
    pub pid: i32,
    /// Start time of the init (`/proc/PID/stat` field 22), so a reused pid is not mistaken
    /// for the container.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time with nanoseconds.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroups, as placed at create time (opaque to the store).
    #[serde(default)]
    pub cgroup: serde_json::Value,
    /// Hooks from config.json that run after create (poststart, poststop).
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// Set once the init has reported `created`.
    #[serde(default)]
    pub created_done: bool,
}

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
}

impl Store {
    /// Open (creating with mode 0700 if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Create `ROOT/ID` and hold its lock. Fails with `container "ID" already exists`.
    pub fn reserve(&self, id: &str) -> Result<Entry> {
        let _ = id;
        anyhow::bail!("state::reserve: not implemented")
    }

    /// Lock an existing container. Fails with `container "ID" does not exist`.
    pub fn lock(&self, id: &str) -> Result<Entry> {
        let _ = id;
        anyhow::bail!("state::lock: not implemented")
    }

    /// Read a container's record without taking its lock (state.json is replaced
    /// atomically, so a reader sees the old or the new file, never a mix).
    pub fn read(&self, id: &str) -> Result<Record> {
        let _ = id;
        anyhow::bail!("state::read: not implemented")
    }

    /// Ids of every container directory, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        anyhow::bail!("state::ids: not implemented")
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
    /// Write state.json atomically (temp file, fsync, rename).
    pub fn save(&self, r: &Record) -> Result<()> {
        let _ = r;
        anyhow::bail!("state::save: not implemented")
    }
    /// Read state.json; `Ok(None)` while a create has reserved the id but not saved yet.
    pub fn load(&self) -> Result<Option<Record>> {
        anyhow::bail!("state::load: not implemented")
    }
    /// Remove the container directory and everything in it, then release the lock.
    pub fn remove(self) -> Result<()> {
        anyhow::bail!("state::remove: not implemented")
    }
}
