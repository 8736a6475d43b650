//! A synchronous D-Bus connection over a unix socket: connect (retrying a full listen
//! backlog until a deadline), authenticate, `Hello` when a bus daemon is in between, then
//! method calls that block for their reply and a wait for signals. No threads, no async
//! runtime: hull calls this while single-threaded, right around a clone.
//!
//! Every read and write runs under a socket timeout taken from a deadline, so a peer that
//! stops answering costs at most that long. Signals that arrive while a call waits for its
//! reply are queued (boundedly) for `wait_signal`. After a protocol error, or a timeout in
//! the middle of a message, the connection is marked broken, since its byte stream is no
//! longer at a message boundary; a timeout between messages leaves it usable.

use super::address::Address;
use super::message::{Kind, Message, FIXED_LEN, NO_REPLY_EXPECTED};
use super::value::Value;
use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Signals kept while waiting for a reply; older ones are dropped beyond this.
const MAX_QUEUED: usize = 256;
/// How long the rest of a message may take once its first bytes have arrived.
const MESSAGE_GRACE: Duration = Duration::from_secs(5);

/// Who is at the other end of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A bus daemon: `Hello` first, messages carry destinations.
    Bus,
    /// The service itself (systemd's private socket): no `Hello`.
    Direct,
}

/// An error reply: its name (`org.freedesktop.DBus.Error.UnknownMethod`,
/// `org.freedesktop.systemd1.NoSuchUnit`, ...) and message, and the call it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub method: String,
    pub name: String,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.method, self.name)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for CallError {}

/// The D-Bus error name behind `e`, if it is an error reply.
pub fn error_name(e: &anyhow::Error) -> Option<&str> {
    e.downcast_ref::<CallError>().map(|c| c.name.as_str())
}

/// Whether an I/O error is a socket timeout (SO_RCVTIMEO/SO_SNDTIMEO expiring).
pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

pub struct Connection {
    stream: UnixStream,
    addr: String,
    peer: Peer,
    serial: u32,
    unique_name: Option<String>,
    queued: VecDeque<Message>,
    broken: bool,
    /// How long a method call waits for its reply.
    pub timeout: Duration,
}

impl Connection {
    /// Connect to `addr`, authenticate as the real uid, and say `Hello` to a bus daemon;
    /// all within `timeout`.
    pub fn open(addr: &Address, peer: Peer, timeout: Duration) -> Result<Connection> {
        let deadline = Instant::now() + timeout;
        let stream = connect(addr, deadline)?;
        let mut c = Connection {
            stream,
            addr: addr.to_string(),
            peer,
            serial: 0,
            unique_name: None,
            queued: VecDeque::new(),
            broken: false,
            timeout,
        };
        c.set_timeouts(deadline)?;
        let uid = nix::unistd::getuid().as_raw();
        super::auth::handshake(&mut c.stream, uid)
            .with_context(|| format!("D-Bus connection to {}", c.addr))?;
        if peer == Peer::Bus {
            let reply = c.call_until(
                Message::method_call(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus",
                    "Hello",
                    vec![],
                ),
                deadline,
            )?;
            let name = reply.body.first().and_then(Value::as_str);
            c.unique_name = Some(
                name.context("D-Bus Hello: no unique name in the reply")?
                    .into(),
            );
        }
        Ok(c)
    }

    /// The unique name the bus gave us (None on a direct connection).
    pub fn unique_name(&self) -> Option<&str> {
        self.unique_name.as_deref()
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// Renumber the socket to at least `min` (close-on-exec), keeping it clear of fds
    /// handed to a container.
    pub fn move_fd_above(&mut self, min: i32) -> Result<()> {
        if self.stream.as_raw_fd() >= min {
            return Ok(());
        }
        let fd: OwnedFd = self.stream.try_clone().context("dup D-Bus socket")?.into();
        let moved = crate::sys::fds::owned_above(&fd, min).context("moving the D-Bus socket fd")?;
        self.stream = UnixStream::from(moved);
        Ok(())
    }

    /// Call a method and return its reply's body; an error reply becomes a `CallError`.
    pub fn call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Result<Vec<Value>> {
        let dest = (self.peer == Peer::Bus || !destination.is_empty()).then_some(destination);
        let msg = Message::method_call(dest, path, interface, member, body);
        let deadline = Instant::now() + self.timeout;
        Ok(self.call_until(msg, deadline)?.body)
    }

    /// Like `call`, returning the whole reply message (its sender, say).
    pub fn call_message(&mut self, msg: Message) -> Result<Message> {
        let deadline = Instant::now() + self.timeout;
        self.call_until(msg, deadline)
    }

    fn call_until(&mut self, mut msg: Message, deadline: Instant) -> Result<Message> {
        let what = msg.describe();
        msg.flags &= !NO_REPLY_EXPECTED;
        let serial = self.send(msg, deadline)?;
        loop {
            let m = self
                .read_message(deadline)
                .with_context(|| format!("D-Bus {what} on {}: waiting for the reply", self.addr))?;
            if m.reply_serial != Some(serial) {
                self.stash(m);
                continue;
            }
            return match m.kind {
                Kind::MethodReturn => Ok(m),
                Kind::Error => Err(CallError {
                    method: what,
                    name: m.error_name.unwrap_or_default(),
                    message: m
                        .body
                        .first()
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                }
                .into()),
                _ => {
                    self.stash(m);
                    continue;
                }
            };
        }
    }

    /// Send `msg` with the next serial; returns the serial.
    pub fn send(&mut self, mut msg: Message, deadline: Instant) -> Result<u32> {
        if self.broken {
            bail!(
                "D-Bus connection to {}: unusable after an earlier error",
                self.addr
            );
        }
        self.serial = self.serial.checked_add(1).unwrap_or(1);
        msg.serial = self.serial;
        let bytes = msg.encode()?;
        self.set_timeouts(deadline)?;
        if let Err(e) = self.stream.write_all(&bytes) {
            self.broken = true;
            if is_timeout(&e) {
                bail!(
                    "D-Bus connection to {}: timed out sending {}",
                    self.addr,
                    msg.describe()
                );
            }
            return Err(e).with_context(|| format!("D-Bus connection to {}: sending", self.addr));
        }
        Ok(msg.serial)
    }

    /// The first signal `want` accepts (queued ones first), or None once `deadline` passes.
    pub fn wait_signal(
        &mut self,
        deadline: Instant,
        mut want: impl FnMut(&Message) -> bool,
    ) -> Result<Option<Message>> {
        if let Some(i) = self.queued.iter().position(&mut want) {
            return Ok(self.queued.remove(i));
        }
        loop {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            match self.read_message(deadline) {
                Ok(m) if m.kind == Kind::Signal && want(&m) => return Ok(Some(m)),
                Ok(_) => {}
                Err(e) if e.downcast_ref::<TimedOut>().is_some() => return Ok(None),
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("D-Bus connection to {}: waiting for a signal", self.addr)
                    })
                }
            }
        }
    }

    /// The next message of any kind (queued signals first), or None once `deadline`
    /// passes: for serving calls (tests stand in for services with it).
    pub fn next_message(&mut self, deadline: Instant) -> Result<Option<Message>> {
        if let Some(m) = self.queued.pop_front() {
            return Ok(Some(m));
        }
        match self.read_message(deadline) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.downcast_ref::<TimedOut>().is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn stash(&mut self, m: Message) {
        if m.kind != Kind::Signal {
            return;
        }
        if self.queued.len() >= MAX_QUEUED {
            self.queued.pop_front();
        }
        self.queued.push_back(m);
    }

    fn set_timeouts(&self, deadline: Instant) -> Result<()> {
        // A zero timeout would mean "block forever": never pass one.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(left))?;
        self.stream.set_write_timeout(Some(left))?;
        Ok(())
    }

    /// One whole message, or an error (`TimedOut` when the deadline passes). A timeout
    /// before the first byte of a message leaves the connection usable; any other error,
    /// or a timeout mid-message, breaks it.
    fn read_message(&mut self, deadline: Instant) -> Result<Message> {
        if self.broken {
            bail!("the connection is unusable after an earlier error");
        }
        let mut head = [0u8; FIXED_LEN];
        let r = match self.read_exact(&mut head, deadline) {
            Err(Partial::Clean(e)) => return Err(e),
            Err(Partial::Mid(e)) => Err(e),
            // A message that has begun gets time to finish even past the caller's deadline
            // (bounded), so a deadline falling mid-message does not break the stream.
            Ok(()) => self.read_rest(head, deadline.max(Instant::now() + MESSAGE_GRACE)),
        };
        r.map_err(|e| {
            self.broken = true;
            if e.downcast_ref::<TimedOut>().is_some() {
                anyhow::anyhow!("timed out in the middle of a message")
            } else {
                e
            }
        })
    }

    fn read_rest(&mut self, head: [u8; FIXED_LEN], deadline: Instant) -> Result<Message> {
        let total = Message::frame_len(&head)?;
        let mut buf = vec![0u8; total];
        buf[..FIXED_LEN].copy_from_slice(&head);
        self.read_exact(&mut buf[FIXED_LEN..], deadline)
            .map_err(Partial::into_inner)?;
        Message::decode(&buf)
    }

    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant) -> Result<(), Partial> {
        let mut got = 0;
        let fail = |got: usize, e: anyhow::Error| {
            if got == 0 {
                Partial::Clean(e)
            } else {
                Partial::Mid(e)
            }
        };
        while got < buf.len() {
            if Instant::now() >= deadline {
                return Err(fail(got, TimedOut.into()));
            }
            self.set_timeouts(deadline).map_err(Partial::Mid)?;
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(Partial::Mid(anyhow::anyhow!(
                        "the peer closed the connection"
                    )))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(fail(got, TimedOut.into())),
                Err(e) => return Err(Partial::Mid(e.into())),
            }
        }
        Ok(())
    }
}

/// A read that failed before taking any byte (the stream is still in step) or after.
enum Partial {
    Clean(anyhow::Error),
    Mid(anyhow::Error),
}

impl Partial {
    fn into_inner(self) -> anyhow::Error {
        match self {
            Partial::Clean(e) | Partial::Mid(e) => e,
        }
    }
}

/// A deadline passed with no (whole) message.
#[derive(Debug)]
pub struct TimedOut;

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for TimedOut {}

/// Connect a non-blocking socket (a full listen backlog gives EAGAIN instead of blocking),
/// retrying EAGAIN until `deadline`, then make it blocking for use under timeouts.
fn connect(addr: &Address, deadline: Instant) -> Result<UnixStream> {
    use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};
    let sa = match addr {
        Address::Path(p) => UnixAddr::new(p.as_path()),
        Address::Abstract(a) => UnixAddr::new_abstract(a),
    }
    .with_context(|| format!("D-Bus address {addr}"))?;
    let mut pause = Duration::from_millis(5);
    loop {
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .context("D-Bus: socket()")?;
        match socket::connect(fd.as_raw_fd(), &sa) {
            Ok(()) => {
                let s = UnixStream::from(fd);
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(nix::errno::Errno::EAGAIN) if Instant::now() + pause < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(nix::errno::Errno::EAGAIN) => {
                bail!("D-Bus: connecting to {addr}: the server's backlog stayed full until the timeout")
            }
            Err(e) => bail!("D-Bus: connecting to {addr}: {}", e.desc()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn over(stream: UnixStream) -> Connection {
        Connection {
            stream,
            addr: "test".into(),
            peer: Peer::Direct,
            serial: 0,
            unique_name: None,
            queued: VecDeque::new(),
            broken: false,
            timeout: Duration::from_secs(1),
        }
    }

    fn signal_bytes() -> Vec<u8> {
        let mut m = Message::signal("/a", "org.hull.T", "S", vec![Value::str("x")]);
        m.serial = 1;
        m.encode().unwrap()
    }

    #[test]
    fn a_message_begun_before_the_deadline_is_read_whole() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut c = over(a);
        let bytes = signal_bytes();
        let writer = std::thread::spawn(move || {
            b.write_all(&bytes[..20]).unwrap();
            std::thread::sleep(Duration::from_millis(200));
            b.write_all(&bytes[20..]).unwrap();
            b
        });
        let m = c
            .next_message(Instant::now() + Duration::from_millis(50))
            .unwrap()
            .expect("the message");
        assert!(m.is_signal("org.hull.T", "S"));
        drop(writer.join().unwrap());
    }

    #[test]
    fn a_timeout_between_messages_leaves_the_connection_usable() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut c = over(a);
        let none = c
            .next_message(Instant::now() + Duration::from_millis(30))
            .unwrap();
        assert!(none.is_none());
        b.write_all(&signal_bytes()).unwrap();
        let m = c
            .next_message(Instant::now() + Duration::from_secs(1))
            .unwrap();
        assert!(m.is_some());
        // A peer that hangs up mid-message breaks the connection for good.
        b.write_all(&signal_bytes()[..10]).unwrap();
        drop(b);
        assert!(c
            .next_message(Instant::now() + Duration::from_secs(1))
            .is_err());
        assert!(c
            .next_message(Instant::now() + Duration::from_secs(1))
            .is_err());
    }
}
