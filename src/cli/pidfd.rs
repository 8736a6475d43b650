//! `--pidfd-socket PATH` of create, run and exec: a pidfd of the container's init (or of
//! the exec'd process) sent to the AF_UNIX socket at PATH as SCM_RIGHTS, with runc's
//! message body ("standard" for an init, "setns" for an exec'd process), so that a
//! manager can signal or wait for the process without racing pid reuse.
//!
//! The socket is connected before anything is created, so a wrong path fails early; the
//! pidfd is opened once the process exists and checked to be the process hull started.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::Global;

pub struct PidfdSocket {
    path: PathBuf,
    sock: UnixStream,
}

impl PidfdSocket {
    pub fn connect(path: &Path) -> Result<PidfdSocket> {
        let sock = UnixStream::connect(path).with_context(|| {
            format!(
                "--pidfd-socket {}: connect (is something listening there?)",
                path.display()
            )
        })?;
        Ok(PidfdSocket {
            path: path.to_path_buf(),
            sock,
        })
    }

    /// Send a pidfd of container `id`'s init. The pidfd is opened first and the state read
    /// after, so a recorded pid that still names the init (start time checked by `state`)
    /// proves the pidfd refers to it.
    pub fn send_init(self, g: &Global, id: &str, pid: i32) -> Result<()> {
        let fd = open(pid)?;
        let st = crate::container::state(&g.rt, id)?;
        if st.pid != pid || st.status == crate::state::Status::Stopped {
            bail!("--pidfd-socket: the init of {id} (pid {pid}) is gone");
        }
        self.send(&fd, "standard")
    }

    /// Send a pidfd of `pid`, a process exec'd into the container whose init is `init`:
    /// it must still be in the init's pid namespace.
    pub fn send_exec(self, pid: i32, init: i32) -> Result<()> {
        let fd = open(pid)?;
        let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
        if ns(pid).is_none() || ns(pid) != ns(init) {
            bail!("--pidfd-socket: the exec'd process (pid {pid}) is gone");
        }
        self.send(&fd, "setns")
    }

    fn send(self, fd: &std::os::fd::OwnedFd, kind: &str) -> Result<()> {
        crate::sys::scm::send_fd(self.sock.as_raw_fd(), kind.as_bytes(), fd.as_raw_fd())
            .with_context(|| format!("--pidfd-socket {}: send the pidfd", self.path.display()))
    }
}

fn open(pid: i32) -> Result<std::os::fd::OwnedFd> {
    crate::sys::pidfd::open(pid).with_context(|| format!("--pidfd-socket: pidfd_open({pid})"))
}
