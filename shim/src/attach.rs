//! The attach socket ROOT/ID/shim/attach.sock (SOCK_STREAM). A client receives the
//! container's output (stdout and stderr, raw, as it is read) from the moment it connects,
//! and every byte it sends is written to the container's stdin. A client too slow to take
//! what the container prints (its socket buffer full) is disconnected rather than allowed to
//! stall the container or the log.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::sys::socket::{
    accept4, bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};

/// Most clients attached at once; more are refused (closed at once).
pub const MAX_CLIENTS: usize = 8;

pub struct Client {
    pub fd: OwnedFd,
    /// Cleared when the client shut down its sending side; it still gets output.
    pub reading: bool,
}

pub struct Attach {
    pub listener: OwnedFd,
    pub clients: [Option<Client>; MAX_CLIENTS],
}

impl Attach {
    /// Listen on `dir/attach.sock`. The path goes through the directory's descriptor
    /// (`/proc/self/fd/N/attach.sock`), so a long state root cannot overflow `sun_path`.
    pub fn bind(dir: &Path) -> Result<Attach, String> {
        let d = std::fs::File::open(dir).map_err(|e| format!("opening {}: {e}", dir.display()))?;
        let short = format!("/proc/self/fd/{}/attach.sock", d.as_raw_fd());
        let _ = std::fs::remove_file(dir.join("attach.sock"));
        let fd = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(|e| format!("attach socket: {e}"))?;
        let addr = UnixAddr::new(short.as_str()).map_err(|e| format!("attach socket: {e}"))?;
        bind(fd.as_raw_fd(), &addr)
            .and_then(|_| listen(&fd, Backlog::new(8).unwrap_or(Backlog::MAXCONN)))
            .map_err(|e| format!("listening on {}/attach.sock: {e}", dir.display()))?;
        Ok(Attach {
            listener: fd,
            clients: Default::default(),
        })
    }

    /// Accept one pending client; returns its slot, or None when there was none or no slot
    /// is free (the connection is then closed).
    pub fn accept(&mut self) -> Option<usize> {
        let raw = accept4(
            self.listener.as_raw_fd(),
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        )
        .ok()?;
        let fd = crate::sys::own_fd(raw);
        let slot = self.clients.iter().position(Option::is_none)?;
        self.clients[slot] = Some(Client { fd, reading: true });
        Some(slot)
    }

    pub fn client_fd(&self, slot: usize) -> Option<BorrowedFd<'_>> {
        self.clients.get(slot)?.as_ref().map(|c| c.fd.as_fd())
    }

    /// Send container output to every client; drop those that cannot take it all now
    /// (closing the descriptor also takes it out of epoll).
    pub fn broadcast(&mut self, data: &[u8]) {
        for c in self.clients.iter_mut() {
            let ok = match c {
                Some(cl) => matches!(
                    nix::sys::socket::send(
                        cl.fd.as_raw_fd(),
                        data,
                        nix::sys::socket::MsgFlags::MSG_NOSIGNAL
                            | nix::sys::socket::MsgFlags::MSG_DONTWAIT
                    ),
                    Ok(n) if n == data.len()
                ),
                None => true,
            };
            if !ok {
                *c = None;
            }
        }
    }
}
