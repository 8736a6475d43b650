//! `Container`: one container as the lifecycle commands see it, loaded in one place (runc's
//! `libcontainer.Load`, youki's `Container`): the id validated, the record read (under the
//! store's lock, or lock-free from the atomically swapped state.json), the status derived
//! once and the cgroup typed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{status_of, Status};
use crate::cgroups::Cgroup;
use crate::runtime::Runtime;
use crate::state::{Entry, Record};

/// A container with a record.
pub struct Container {
    pub rec: Record,
    pub status: Status,
    dir: PathBuf,
    /// Held with `lock`: every other command on this id waits until it is dropped.
    entry: Option<Entry>,
}

impl Container {
    /// Lock `id` and load it (start, kill, pause, resume, update).
    pub fn lock(rt: &Runtime, id: &str) -> Result<Container> {
        crate::id::validate(id)?;
        let entry = rt.store()?.lock(id)?;
        let rec = entry.load()?.with_context(|| still_creating(id))?;
        let dir = entry.dir().to_path_buf();
        Ok(Container::new(rec, dir, Some(entry)))
    }

    /// Read `id` without its lock (state, ps, events, exec): the record as last saved.
    pub fn read(rt: &Runtime, id: &str) -> Result<Container> {
        crate::id::validate(id)?;
        let st = rt.store()?;
        let rec = st.read_opt(id)?.with_context(|| still_creating(id))?;
        Ok(Container::new(rec, st.root().join(id), None))
    }

    /// A container whose record was already read (list).
    pub fn from_record(rec: Record, dir: PathBuf) -> Container {
        Container::new(rec, dir, None)
    }

    fn new(rec: Record, dir: PathBuf, entry: Option<Entry>) -> Container {
        let status = status_of(&rec, &dir);
        Container {
            rec,
            status,
            dir,
            entry,
        }
    }

    pub fn id(&self) -> &str {
        &self.rec.id
    }

    /// `ROOT/ID`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The container's cgroups as create placed them (none: a rootless container without).
    pub fn cgroup(&self) -> Cgroup {
        self.rec.cgroup.clone().unwrap_or_default()
    }

    /// The entry and record, for removing the container.
    pub fn into_parts(self) -> (Option<Entry>, Record, Status) {
        (self.entry, self.rec, self.status)
    }

    /// The held store entry (only for a container loaded with `lock`).
    pub fn entry(&self) -> Result<&Entry> {
        self.entry
            .as_ref()
            .context("internal: the container was read without its lock")
    }
}

fn still_creating(id: &str) -> String {
    format!("container {id:?} is still being created")
}
