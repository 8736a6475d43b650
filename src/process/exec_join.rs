//! The namespaces `exec` joins: each `/proc/INIT/ns/*` of the container init that is not
//! hull's own (compared by device and inode: setns into one's own user namespace is
//! EINVAL, and sharing one is no reason to join). They are opened before the fork and then
//! checked to belong to the recorded init (its start time), so a reused pid cannot hand
//! hull another process's namespaces.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

use anyhow::{bail, Context, Result};

/// One namespace to join.
#[derive(Debug)]
pub struct Ns {
    /// The name under /proc/PID/ns.
    pub name: &'static str,
    /// Its CLONE_NEW* flag, for setns.
    pub flag: i32,
    pub file: OwnedFd,
}

/// What the exec'd process joins.
#[derive(Debug, Default)]
pub struct Joins {
    /// The container's user namespace, joined first by the child.
    pub user: Option<Ns>,
    /// The pid namespace, joined by the parent around the fork (it affects children only).
    pub pid: Option<Ns>,
    /// The rest, joined by the child after the user namespace.
    pub others: Vec<Ns>,
}

/// Namespace kinds other than user and pid, in the order the child joins them. The mount
/// namespace comes last but one: after it, paths resolve inside the container.
const OTHERS: [(&str, i32); 6] = [
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("mnt", libc::CLONE_NEWNS),
    // The init's children's: the init enters a time namespace it unshared only at its
    // execve (namespaces::unshare_time_with_offsets), so before `start` this is the one.
    ("time_for_children", libc::CLONE_NEWTIME),
];

impl Joins {
    /// Open the init's namespaces that differ from ours, then verify the init is still the
    /// process that started at `start_time`.
    pub fn open(pid: i32, start_time: u64) -> Result<Joins> {
        let mut j = Joins {
            user: open_one(pid, "user", libc::CLONE_NEWUSER)?,
            pid: open_one(pid, "pid", libc::CLONE_NEWPID)?,
            others: Vec::new(),
        };
        for (name, flag) in OTHERS {
            if let Some(ns) = open_one(pid, name, flag)? {
                j.others.push(ns);
            }
        }
        if !crate::procinfo::is_alive(pid, start_time) {
            bail!("the container init (pid {pid}) exited while exec was joining it");
        }
        Ok(j)
    }

    /// Whether the process will be in a user namespace other than hull's.
    pub fn joins_user(&self) -> bool {
        self.user.is_some()
    }

    /// Move every fd to a number >= `floor` (keeps 3..floor free for --preserve-fds).
    pub fn above(self, floor: RawFd) -> Result<Joins> {
        let mv = |n: Ns| -> Result<Ns> {
            let file = crate::sys::fds::owned_above(&n.file, floor)
                .with_context(|| format!("moving the {} namespace fd", n.name))?;
            Ok(Ns { file, ..n })
        };
        Ok(Joins {
            user: self.user.map(mv).transpose()?,
            pid: self.pid.map(mv).transpose()?,
            others: self.others.into_iter().map(mv).collect::<Result<_>>()?,
        })
    }

    /// Every fd the child must keep open until it has joined.
    pub fn raw_fds(&self) -> Vec<RawFd> {
        self.user
            .iter()
            .chain(self.pid.iter())
            .chain(self.others.iter())
            .map(|n| n.file.as_raw_fd())
            .collect()
    }
}

/// setns into `ns`, naming it on error.
pub fn enter(ns: &Ns) -> Result<()> {
    crate::sys::nsfs::setns(ns.file.as_raw_fd(), ns.flag)
        .with_context(|| format!("joining the container's {} namespace", ns.name))
}

/// `Some` if /proc/PID/ns/NAME differs from ours. A kind this kernel lacks is skipped.
fn open_one(pid: i32, name: &'static str, flag: i32) -> Result<Option<Ns>> {
    let own = match std::fs::metadata(format!("/proc/self/ns/{name}")) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("stat /proc/self/ns/{name}")),
    };
    let path = format!("/proc/{pid}/ns/{name}");
    let f =
        File::open(&path).with_context(|| format!("open {path} (is the container running?)"))?;
    let theirs = f.metadata().with_context(|| format!("stat {path}"))?;
    if (theirs.dev(), theirs.ino()) == (own.dev(), own.ino()) {
        return Ok(None);
    }
    Ok(Some(Ns {
        name,
        flag,
        file: f.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_nothing_to_join() {
        let me = std::process::id() as i32;
        let (_, t) = crate::procinfo::stat(me).unwrap();
        let j = Joins::open(me, t).unwrap();
        assert!(j.user.is_none() && j.pid.is_none() && j.others.is_empty());
        assert!(
            Joins::open(me, t + 1).is_err(),
            "a wrong start time must fail"
        );
    }
}
