//! Passing fds over a unix socket (SCM_RIGHTS): the pty master, the seccomp listener, and
//! the v1 cgroup `tasks` files the container init writes itself into.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// The most fds one message carries (a v1 host has at most 14 controller hierarchies plus
/// named ones); more sent are closed by the kernel on receipt (MSG_CTRUNC).
pub const MAX_FDS: usize = 32;

/// Send `data` with `fd` attached.
pub fn send_fd(sock: RawFd, data: &[u8], fd: RawFd) -> io::Result<()> {
    send_fds(sock, data, &[fd])
}

/// Send `data` with `fds` attached (none: a plain message).
pub fn send_fds(sock: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} fds in one message, at most {MAX_FDS}", fds.len()),
        ));
    }
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsg: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    let iov = [IoSlice::new(data)];
    sendmsg::<()>(sock, &iov, cmsg, MsgFlags::MSG_NOSIGNAL, None)?;
    Ok(())
}

/// Receive up to 4 KiB of data and up to `MAX_FDS` fds (close-on-exec), in the order sent.
pub fn recv_fds(sock: RawFd) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    recv_fds_upto(sock, 4096)
}

/// `recv_fds` of a message of up to `max` bytes (criu's answers can exceed 4 KiB). A longer
/// message is an error rather than silently cut.
pub fn recv_fds_upto(sock: RawFd, max: usize) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut buf = vec![0u8; max];
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
    let (n, fds) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)?;
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: the kernel just installed these descriptors for us.
                fds.extend(raw.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
            }
        }
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a message longer than {max} bytes"),
            ));
        }
        (msg.bytes, fds)
    };
    buf.truncate(n);
    Ok((buf, fds))
}
