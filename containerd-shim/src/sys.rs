//! The shim's thin syscall boundary: what nix leaves unsafe (taking a received descriptor,
//! the window-size ioctl, malloc tuning, fds for a child). Every `unsafe` of
//! the crate is here.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Receive one descriptor sent with SCM_RIGHTS on a connected unix socket.
pub fn recv_fd(sock: RawFd) -> io::Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(io::Error::from)?;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            let mut owned = fds.into_iter().map(|fd| {
                // SAFETY: the kernel just installed fd in this process for us; nothing else
                // owns it.
                unsafe { OwnedFd::from_raw_fd(fd) }
            });
            if let Some(first) = owned.next() {
                return Ok(first);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no descriptor in the message",
    ))
}

/// TIOCSWINSZ on a terminal.
pub fn set_winsize(tty: &impl AsRawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which outlives the call.
    let r = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One malloc arena for every thread: the shim's threads allocate little, and glibc's
/// per-thread arenas would each keep their own touched pages.
pub fn one_malloc_arena() {
    // SAFETY: mallopt only changes allocator tuning; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Give freed heap memory back to the kernel (after a call that parsed JSON or ran hull).
pub fn trim_heap() {
    // SAFETY: malloc_trim only returns free memory of the allocator to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Give a command `fds` as its descriptors 3, 4, 5, ... (each dup2'ed in the child before
/// exec; the copies this returns, close-on-exec and numbered 10 or above so that no dup2
/// overwrites a source, must live until the command is spawned).
pub fn pass_fds(cmd: &mut std::process::Command, fds: &[&OwnedFd]) -> io::Result<Vec<OwnedFd>> {
    use std::os::unix::process::CommandExt;
    let high = fds
        .iter()
        .map(|f| {
            let fd = nix::fcntl::fcntl(f, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))?;
            // SAFETY: F_DUPFD_CLOEXEC just made this fd for us; nothing else owns it.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        })
        .collect::<io::Result<Vec<OwnedFd>>>()?;
    let raw: Vec<RawFd> = high.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY: the closure runs in the forked child before exec and only calls dup2 (async-
    // signal-safe) on fd numbers copied into it; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            for (i, fd) in raw.iter().enumerate() {
                if libc::dup2(*fd, 3 + i as RawFd) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(high)
}
