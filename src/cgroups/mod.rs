//! Cgroups: detect the host layout (v1, v2, hybrid) from mountinfo, place a container in its
//! own cgroup on every hierarchy, write `linux.resources`, and freeze, signal and remove it.
//!
//! hull refuses to use a hierarchy root or its caller's own cgroup as a container cgroup, and
//! never writes outside the container's own subtree.

use anyhow::Result;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

/// A container's cgroups: one directory per mounted hierarchy. Serializable so `delete`,
/// `kill --all` and `pause` find exactly what `create` made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cgroup {}

impl Cgroup {
    /// Resolve where the container's cgroups go (runc's cgroupsPath rules). Touches nothing.
    pub fn plan(cgroups_path: Option<&str>, id: &str, systemd: bool) -> Result<Cgroup> {
        let _ = (cgroups_path, id, systemd);
        Ok(Cgroup {})
    }
    /// Create the directories on every hierarchy.
    pub fn create(&self) -> Result<()> {
        Ok(())
    }
    /// Write the limits.
    pub fn apply(&self, res: &LinuxResources) -> Result<()> {
        let _ = res;
        Ok(())
    }
    /// Move `pid` into the cgroup on every hierarchy.
    pub fn add(&self, pid: i32) -> Result<()> {
        let _ = pid;
        Ok(())
    }
    /// Every pid in the container's cgroup (empty if none).
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(Vec::new())
    }
    /// Signal every process in the cgroup so none escapes by forking.
    pub fn kill_all(&self, sig: i32) -> Result<()> {
        let _ = sig;
        Ok(())
    }
    /// Remove the directories, retrying while the kernel still has exiting tasks.
    pub fn destroy(&self) -> Result<()> {
        Ok(())
    }
    /// Whether the freezer says the cgroup is frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        Ok(false)
    }
}
