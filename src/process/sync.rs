//! The parent/child sync channel: a SOCK_SEQPACKET pair carrying small tagged messages, so
//! each message arrives whole and EOF means the other side is gone. No JSON between our own
//! processes; errors cross as one line of text that the parent reports as-is.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{bail, Context, Result};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};

/// One message on the sync channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Parent -> child: ids mapped and cgroups joined; carries the init's host pid.
    Go { host_pid: i32 },
    /// Child -> parent: mounts done, run prestart/createRuntime hooks now.
    MountsReady,
    /// Parent -> child: hooks done, continue.
    Continue,
    /// Child -> parent: set up and about to block until `start`.
    Created,
    /// Child -> parent: setup failed; the text is the whole error chain.
    Error(String),
    /// Child -> parent: the pty master follows as SCM_RIGHTS (see `send_fd`).
    Console,
    /// Child -> parent: the seccomp notify listener fd follows as SCM_RIGHTS.
    SeccompListener,
    /// Child -> parent: make the source of `mounts[index]` (see mount_source).
    MountSource { index: u32 },
    /// Parent -> child: the detached mount asked for follows as SCM_RIGHTS (a failure is an
    /// `Error` instead).
    MountSourceReady,
}

const GO: u8 = 1;
const MOUNTS_READY: u8 = 2;
const CONTINUE: u8 = 3;
const CREATED: u8 = 4;
const ERROR: u8 = 5;
const CONSOLE: u8 = 6;
const SECCOMP_LISTENER: u8 = 7;
const MOUNT_SOURCE: u8 = 8;
const MOUNT_SOURCE_READY: u8 = 9;

/// Largest message; errors longer than this are cut.
const MAX: usize = 4096;

impl Msg {
    fn encode(&self) -> Vec<u8> {
        match self {
            Msg::Go { host_pid } => {
                let mut v = vec![GO];
                v.extend_from_slice(&host_pid.to_le_bytes());
                v
            }
            Msg::MountsReady => vec![MOUNTS_READY],
            Msg::Continue => vec![CONTINUE],
            Msg::Created => vec![CREATED],
            Msg::Console => vec![CONSOLE],
            Msg::SeccompListener => vec![SECCOMP_LISTENER],
            Msg::MountSource { index } => {
                let mut v = vec![MOUNT_SOURCE];
                v.extend_from_slice(&index.to_le_bytes());
                v
            }
            Msg::MountSourceReady => vec![MOUNT_SOURCE_READY],
            Msg::Error(s) => {
                let mut v = vec![ERROR];
                let b = s.as_bytes();
                v.extend_from_slice(&b[..b.len().min(MAX - 1)]);
                v
            }
        }
    }

    fn decode(b: &[u8]) -> Result<Msg> {
        Ok(match (b.first(), b.len()) {
            (Some(&GO), 5) => Msg::Go {
                host_pid: i32::from_le_bytes([b[1], b[2], b[3], b[4]]),
            },
            (Some(&MOUNTS_READY), 1) => Msg::MountsReady,
            (Some(&CONTINUE), 1) => Msg::Continue,
            (Some(&CREATED), 1) => Msg::Created,
            (Some(&CONSOLE), 1) => Msg::Console,
            (Some(&SECCOMP_LISTENER), 1) => Msg::SeccompListener,
            (Some(&MOUNT_SOURCE), 5) => Msg::MountSource {
                index: u32::from_le_bytes([b[1], b[2], b[3], b[4]]),
            },
            (Some(&MOUNT_SOURCE_READY), 1) => Msg::MountSourceReady,
            (Some(&ERROR), _) => Msg::Error(String::from_utf8_lossy(&b[1..]).into_owned()),
            _ => bail!("sync channel: malformed message {b:?}"),
        })
    }
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair (parent end, child end), close-on-exec.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the sync channel")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The same channel on an fd numbered at least `floor` (keeps the fds handed to the
    /// container, 3..floor, free).
    pub fn above(self, floor: RawFd) -> Result<Channel> {
        if self.fd.as_raw_fd() >= floor {
            return Ok(self);
        }
        let fd = crate::sys::fds::owned_above(&self.fd, floor).context("moving the sync fd")?;
        Ok(Channel { fd })
    }

    pub fn send(&self, m: &Msg) -> Result<()> {
        let b = m.encode();
        loop {
            match socket::send(self.fd.as_raw_fd(), &b, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(io::Error::from(e)).context("sync channel: send"),
            }
        }
    }

    /// Receive one message; `None` at EOF (the peer closed or died). An fd sent with a
    /// message other than `Console` is closed.
    pub fn recv(&self) -> Result<Option<Msg>> {
        Ok(self.recv_with_fd()?.map(|(m, _)| m))
    }

    /// Receive one message and the fd that came with it, if any.
    pub fn recv_with_fd(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        Ok(self
            .recv_with_fds()?
            .map(|(m, fds)| (m, fds.into_iter().next())))
    }

    /// Receive one message and the fds that came with it, in the order sent.
    pub fn recv_with_fds(&self) -> Result<Option<(Msg, Vec<OwnedFd>)>> {
        loop {
            match crate::sys::scm::recv_fds(self.fd.as_raw_fd()) {
                Ok((b, _)) if b.is_empty() => return Ok(None),
                Ok((b, fd)) => return Ok(Some((Msg::decode(&b)?, fd))),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The peer closed with a message of ours still unread: it is gone, as at EOF.
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(None),
                Err(e) => return Err(e).context("sync channel: receive"),
            }
        }
    }

    /// Send `m` with `fd` attached as SCM_RIGHTS.
    pub fn send_fd(&self, m: &Msg, fd: RawFd) -> Result<()> {
        self.send_fds(m, &[fd])
    }

    /// Send `m` with `fds` attached as SCM_RIGHTS (none: a plain message).
    pub fn send_fds(&self, m: &Msg, fds: &[RawFd]) -> Result<()> {
        crate::sys::scm::send_fds(self.fd.as_raw_fd(), &m.encode(), fds)
            .context("sync channel: send fds")
    }

    /// Receive and require `want`; an `Error` becomes the error, EOF says the peer died.
    pub fn expect(&self, want: &Msg) -> Result<()> {
        match self.recv()? {
            Some(m) if &m == want => Ok(()),
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(m) => bail!("sync channel: expected {want:?}, got {m:?}"),
            None => bail!("sync channel: the other side exited while waiting for {want:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_whole() {
        let (a, b) = pair().unwrap();
        for m in [
            Msg::Go { host_pid: 4242 },
            Msg::MountsReady,
            Msg::Continue,
            Msg::Created,
            Msg::MountSource { index: 70000 },
            Msg::MountSourceReady,
            Msg::Error("mounts[3]: bad".into()),
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn fds_travel_with_their_message_in_order() {
        use std::io::{Read, Seek, Write};
        let (a, b) = pair().unwrap();
        let mut files: Vec<std::fs::File> = (0..3).map(|_| tempfile()).collect();
        for (i, f) in files.iter_mut().enumerate() {
            write!(f, "file {i}").unwrap();
        }
        let raw: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
        a.send_fds(&Msg::Go { host_pid: 7 }, &raw).unwrap();
        let (m, fds) = b.recv_with_fds().unwrap().unwrap();
        assert_eq!(m, Msg::Go { host_pid: 7 });
        assert_eq!(fds.len(), 3);
        for (i, fd) in fds.into_iter().enumerate() {
            let mut f = std::fs::File::from(fd);
            f.rewind().unwrap();
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            assert_eq!(text, format!("file {i}"));
        }
        a.send_fds(&Msg::Continue, &[]).unwrap();
        let (m, fds) = b.recv_with_fds().unwrap().unwrap();
        assert_eq!(m, Msg::Continue);
        assert!(fds.is_empty());
    }

    fn tempfile() -> std::fs::File {
        let fd =
            nix::sys::memfd::memfd_create(c"sync-test", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .unwrap();
        std::fs::File::from(fd)
    }

    #[test]
    fn expect_turns_error_message_into_error() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::Error("cwd: no such dir".into())).unwrap();
        let e = b.expect(&Msg::Created).unwrap_err();
        assert_eq!(e.to_string(), "cwd: no such dir");
    }
}
