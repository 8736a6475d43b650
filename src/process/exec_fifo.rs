//! The exec fifo (`ROOT/ID/exec.fifo`): the init blocks opening it for writing until
//! `start` opens it for reading. The init writes one byte, then execve's; the write end is
//! close-on-exec, so `start` reads EOF exactly when the user process is running. If execve
//! (or a startContainer hook) fails, the init writes the error text instead, which `start`
//! reports. Its existence is also what marks a live container as `created`.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// The byte the init writes once it is about to execve.
pub const READY: u8 = b'0';

/// Create the fifo (mode 0622 so an init running as any uid can open it for writing) and
/// return an O_PATH fd for the init to reopen later through /proc/self/fd.
pub fn create(path: &Path) -> Result<OwnedFd> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o622))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .with_context(|| format!("chmod {}", path.display()))?;
    let fd = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("open {}", path.display()))?;
    Ok(fd)
}

/// Release a created container: open the fifo's read end, which lets the init's open for
/// writing through (`wait_for_start`); then `wait_exec`.
pub fn open_reader(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {}", path.display()))
}

/// Read the fifo (`open_reader`) until the init closes it by execve. `pidfd` refers to the
/// init; if it dies first, that is the error (unless it said READY: then the user process
/// ran, and may be done already).
pub fn wait_exec(fd: OwnedFd, pidfd: &OwnedFd) -> Result<()> {
    let mut f = std::fs::File::from(fd);
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let mut pfd = [
            libc::pollfd {
                fd: f.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let r = crate::sys::poll::poll(&mut pfd, -1);
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e).context("poll on the exec fifo");
        }
        if pfd[0].revents != 0 {
            match f.read(&mut buf) {
                Ok(0) if !got.is_empty() => break,
                // No writer has opened it yet, or it opened and closed with nothing.
                Ok(0) if pfd[0].revents & libc::POLLHUP != 0 => break,
                Ok(0) => {}
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context("read the exec fifo"),
            }
            continue;
        }
        if pfd[1].revents != 0 {
            // The init exited; drain what it may have said first.
            let _ = f.read_to_end(&mut got);
            break;
        }
    }
    match got.split_first() {
        Some((&READY, [])) => Ok(()),
        Some((&READY, rest)) => bail!("{}", String::from_utf8_lossy(rest).trim()),
        _ => bail!("the container init exited before it could start the user process"),
    }
}

/// In the init: block until `start` opens the fifo, then say READY. The returned fd is
/// close-on-exec: execve closes it, which is how `start` learns the user process runs.
/// The O_PATH fd is reopened through hull's procfs handle, not the container's /proc, and
/// the result is checked to be the same fifo.
pub fn wait_for_start(fifo_path_fd: i32) -> Result<OwnedFd> {
    let fd = crate::procfs::get()?
        .reopen(fifo_path_fd, libc::O_WRONLY)
        .with_context(|| format!("reopen the exec fifo (fd {fifo_path_fd}) for writing"))?;
    let st = nix::sys::stat::fstat(&fd).context("fstat of the exec fifo")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        bail!("the exec fifo (fd {fifo_path_fd}) is not a fifo");
    }
    nix::unistd::write(&fd, &[READY]).context("write to exec fifo")?;
    Ok(fd)
}

/// Write an error for `start` to report, on the fifo opened by `wait_for_start`.
pub fn report(fd: &OwnedFd, msg: &str) {
    let _ = nix::unistd::write(fd, msg.as_bytes());
}
