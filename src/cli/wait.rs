//! `hull wait ID`: block until the container's hull-shim has recorded how the init ended
//! (ROOT/ID/shim/exit.json), print the exit code and exit with it (128+N for signal N).
//! Waiting is an inotify watch on the shim's directory plus a pidfd on the shim, so a shim
//! that dies without writing the record is an error instead of a hang.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct WaitArgs {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: WaitArgs) -> Result<i32> {
    let code = wait_exit(&g.root, &a.id)?;
    super::print(&format!("{code}\n"));
    Ok(code)
}

/// ROOT/ID/shim, after checking the container exists and runs under a shim.
pub(super) fn shim_dir(root: &Path, id: &str) -> Result<PathBuf> {
    crate::id::validate(id)?;
    let dir = root.join(id).join("shim");
    if !root.join(id).is_dir() {
        bail!("container {id:?} does not exist");
    }
    if !dir.is_dir() {
        bail!(
            "container {id:?} was not started by hull-shim (no {})",
            dir.display()
        );
    }
    Ok(dir)
}

/// Block until exit.json exists; returns its exit code.
pub(super) fn wait_exit(root: &Path, id: &str) -> Result<i32> {
    let dir = shim_dir(root, id)?;
    let watch = Inotify::watch(&dir)?;
    let shim = shim_pidfd(&dir);
    loop {
        if let Some(code) = read_exit(&dir)? {
            return Ok(code);
        }
        if !dir.is_dir() {
            bail!("container {id:?} was deleted before its exit was recorded");
        }
        let shim_gone = match &shim {
            Some(fd) => poll_readable(fd.as_raw_fd(), 0),
            None => true,
        };
        if shim_gone {
            // One last look: the shim writes the record before it exits.
            if let Some(code) = read_exit(&dir)? {
                return Ok(code);
            }
            bail!(
                "the hull-shim of container {id:?} is gone without recording an exit status \
                 (was it killed?); `hull state {id}` shows whether the container still runs"
            );
        }
        let fds = [watch.raw_fd(), shim.as_ref().map_or(-1, |f| f.as_raw_fd())];
        poll_any(&fds, 1000);
        watch.drain();
    }
}

/// The exit code in `dir/exit.json`, if the shim has written it.
fn read_exit(dir: &Path) -> Result<Option<i32>> {
    use hull_common::exit_record::{ExitRecord, FILE};
    let r =
        ExitRecord::read(dir).with_context(|| format!("reading {}", dir.join(FILE).display()))?;
    Ok(r.map(|r| r.exit_code))
}

/// A pidfd on the shim named in shim.pid, if that pid still is a hull-shim.
fn shim_pidfd(dir: &Path) -> Option<OwnedFd> {
    let pid: i32 = std::fs::read_to_string(dir.join("shim.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let fd = crate::sys::pidfd::open(pid).ok()?;
    // Checked after opening the pidfd, so the pid cannot be reused in between unnoticed.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (comm.trim() == "hull-shim").then_some(fd)
}

/// An inotify instance watching a directory for files renamed or created in it.
struct Inotify(nix::sys::inotify::Inotify);

impl Inotify {
    fn watch(dir: &Path) -> Result<Inotify> {
        use nix::sys::inotify::{AddWatchFlags, InitFlags};
        let i = nix::sys::inotify::Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .context("inotify_init1")?;
        let mask =
            AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_DELETE_SELF;
        i.add_watch(dir, mask)
            .with_context(|| format!("watching {}", dir.display()))?;
        Ok(Inotify(i))
    }

    fn raw_fd(&self) -> i32 {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }

    /// Discard queued events (the caller re-checks the directory itself).
    fn drain(&self) {
        while self.0.read_events().is_ok_and(|e| !e.is_empty()) {}
    }
}

fn poll_readable(fd: i32, timeout_ms: i32) -> bool {
    poll_any(&[fd], timeout_ms)
}

/// Wait until one of `fds` (negative entries are ignored) is readable or the timeout passes.
fn poll_any(fds: &[i32], timeout_ms: i32) -> bool {
    let mut p = [libc::pollfd {
        fd: -1,
        events: libc::POLLIN,
        revents: 0,
    }; 2];
    let n = fds.len().min(2);
    for (slot, fd) in p.iter_mut().zip(fds) {
        slot.fd = *fd;
    }
    let r = crate::sys::poll::poll(&mut p[..n], timeout_ms);
    r > 0
}
