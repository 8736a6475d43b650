//! How a new process (the init, or an exec'd process) gets into the container's cgroups
//! without stalling on the kernel's global lock.
//!
//! Moving *another* process into a cgroup (writing its pid to `cgroup.procs`) takes the
//! kernel's global `cgroup_threadgroup_rwsem` for writing, and taking it first waits for an
//! RCU grace period: 8-15 ms on this kind of host, once per migration, the largest single
//! cost of `hull run` on a v1 or hybrid host (runc pays it on every create). Two ways in
//! avoid it:
//! - cgroup2: `clone3(CLONE_INTO_CGROUP)` starts the child in its directory; the parent
//!   opens the directory before the fork (`v2_fd`).
//! - cgroup v1: a process that writes "0" to a hierarchy's `tasks` file moves its calling
//!   thread only, and for "0" the kernel skips the global lock (`cgroup_procs_write_start`
//!   takes it for a pid or a whole thread group). The child is single-threaded, so moving
//!   its one thread moves the process. The parent opens every `tasks` file before the fork
//!   (the kernel checks the write against the opener's credentials, so a child already in a
//!   user namespace may use them), and the child writes "0" to each as soon as it is told
//!   to go, before it does anything else.
//!
//! What neither covers — a kernel without CLONE_INTO_CGROUP (before 5.7) or a cgroup2
//! directory it refuses — the parent still migrates with `cgroup.procs` (`finish`).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{Context, Result};

use super::{fsio, Cgroup};

/// fds the parent opens before the fork; the child inherits them.
#[derive(Default)]
pub struct Join {
    v2_dir: Option<OwnedFd>,
    /// (hierarchy name for messages, O_WRONLY fd of its `tasks` file)
    v1_tasks: Vec<(String, OwnedFd)>,
}

impl Join {
    /// Open what the child needs to place itself in `cg` (nothing for an empty cgroup),
    /// as fds numbered `floor` or above (below are the fds handed to the container).
    pub fn open(cg: &Cgroup, floor: RawFd) -> Result<Join> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut join = Join::default();
        for (d, dir) in cg.checked_dirs()? {
            if d.v2 {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                    .open(&dir)
                    .with_context(|| format!("cgroup: open {}", dir.display()))?;
                join.v2_dir = Some(above(f.into(), floor)?);
            } else {
                let tasks = dir.join("tasks");
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(&tasks)
                    .with_context(|| format!("cgroup: open {}", tasks.display()))?;
                join.v1_tasks.push((d.name(), above(f.into(), floor)?));
            }
        }
        Ok(join)
    }

    /// The cgroup2 directory, for `clone3(CLONE_INTO_CGROUP)`.
    pub fn v2_fd(&self) -> Option<RawFd> {
        self.v2_dir.as_ref().map(|f| f.as_raw_fd())
    }

    /// The fds the child must keep until `enter_v1`.
    pub fn child_fds(&self) -> Vec<RawFd> {
        self.v1_tasks.iter().map(|(_, f)| f.as_raw_fd()).collect()
    }

    /// In the child, which must be single-threaded: move itself into every v1 hierarchy,
    /// then close the fds (the child cannot drop what it shares with the parent's image).
    pub fn enter_v1(&self) -> Result<()> {
        for (name, f) in &self.v1_tasks {
            let fd = f.as_raw_fd();
            // SAFETY: write(2) of a 1-byte buffer to an fd this process owns.
            let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
            if n != 1 {
                let e = std::io::Error::last_os_error();
                anyhow::bail!(
                    "cgroup {name}: joining the container's cgroup: {}",
                    fsio::describe(&e)
                );
            }
            let _ = nix::unistd::close(fd);
        }
        Ok(())
    }

    /// In the parent, after the fork: place `pid` in the cgroup2 directory unless it was
    /// born there.
    pub fn finish(&self, cg: &Cgroup, pid: i32, born_in_v2: bool) -> Result<()> {
        if self.v2_dir.is_some() && !born_in_v2 {
            cg.add_v2(pid)?;
        }
        Ok(())
    }
}

fn above(fd: OwnedFd, floor: RawFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() >= floor {
        return Ok(fd);
    }
    crate::sys::fds::owned_above(&fd, floor).context("cgroup: moving an fd above the container's")
}
