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
//!   its one thread moves the process. The parent opens every `tasks` file, before the fork
//!   or right after it (then they go to the child with Go) — the kernel checks the write
//!   against the opener's credentials, so a child already in a user namespace may use
//!   them — and the child writes "0" to each as soon as it is told to go, before it does
//!   anything else.
//!
//! What neither covers — a kernel without CLONE_INTO_CGROUP (before 5.7) or a cgroup2
//! directory it refuses — the parent still migrates with `cgroup.procs` (`finish`).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{Context, Result};

use super::{fsio, Cgroup};

/// fds the parent opens for the child: before the fork (inherited), or for the v1 `tasks`
/// files also after it (sent with Go; see `Placement::before_go`).
#[derive(Default)]
pub struct Join {
    v2_dir: Option<OwnedFd>,
    /// The v1 hierarchies in the cgroup's order, by name (for messages).
    v1_names: Vec<String>,
    /// Their O_WRONLY `tasks` fds when opened before the fork.
    v1_tasks: Vec<OwnedFd>,
}

impl Join {
    /// Open what the child needs to place itself in `cg` (nothing for an empty cgroup),
    /// as fds numbered `floor` or above (below are the fds handed to the container); the
    /// v1 `tasks` files only unless `v1_later` (then `open_v1` after the fork).
    pub fn open(cg: &Cgroup, floor: RawFd, v1_later: bool) -> Result<Join> {
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
                join.v1_names.push(d.name());
            }
        }
        if !v1_later {
            join.v1_tasks = Join::open_v1(cg)?
                .into_iter()
                .map(|f| above(f, floor))
                .collect::<Result<_>>()?;
        }
        Ok(join)
    }

    /// The v1 `tasks` files of `cg`, opened for writing, in the cgroup's order.
    pub fn open_v1(cg: &Cgroup) -> Result<Vec<OwnedFd>> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut out = Vec::new();
        for (_, dir) in cg.checked_dirs()?.into_iter().filter(|(d, _)| !d.v2) {
            let tasks = dir.join("tasks");
            let f = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(&tasks)
                .with_context(|| format!("cgroup: open {}", tasks.display()))?;
            out.push(f.into());
        }
        Ok(out)
    }

    /// The cgroup2 directory, for `clone3(CLONE_INTO_CGROUP)`.
    pub fn v2_fd(&self) -> Option<RawFd> {
        self.v2_dir.as_ref().map(|f| f.as_raw_fd())
    }

    /// The fds the child must keep until `enter_v1`.
    pub fn child_fds(&self) -> Vec<RawFd> {
        self.v1_tasks.iter().map(|f| f.as_raw_fd()).collect()
    }

    /// In the child, which must be single-threaded: move itself into every v1 hierarchy
    /// through the inherited `tasks` fds, or through `sent` (those that came with Go), then
    /// close them (the inherited ones by number: the child cannot drop what it shares with
    /// the parent's image).
    pub fn enter_v1(&self, sent: Vec<OwnedFd>) -> Result<()> {
        let fds: Vec<RawFd> = if sent.is_empty() {
            self.child_fds()
        } else {
            sent.iter().map(|f| f.as_raw_fd()).collect()
        };
        if fds.len() != self.v1_names.len() {
            anyhow::bail!(
                "cgroup: {} v1 hierarchies to join, but {} tasks files",
                self.v1_names.len(),
                fds.len()
            );
        }
        for (name, fd) in self.v1_names.iter().zip(fds) {
            if let Err(e) = crate::sys::fds::write_raw(fd, b"0") {
                anyhow::bail!(
                    "cgroup {name}: joining the container's cgroup: {}",
                    fsio::describe(&e)
                );
            }
            if sent.is_empty() {
                let _ = nix::unistd::close(fd);
            }
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
