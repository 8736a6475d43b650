//! The shim's main thread, once the server runs, waits with epoll for what the shim must
//! notice without being asked: a container process's exit (its pidfd turns readable), an
//! OOM kill in a container's cgroup (an eventfd or inotify descriptor turns readable), a
//! signal, and `Shutdown` (`stop`). The shim reaps only the processes it holds pidfds for,
//! so it never races `hull` commands it waits for itself. (The main thread rather than a
//! thread of its own: each thread costs a shim its stack pages.)

use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

pub struct Watcher {
    epoll: Epoll,
    stop: EventFd,
}

/// The token of the descriptor `stop` makes readable.
const STOP: u64 = u64::MAX;

impl Watcher {
    pub fn new() -> Result<Watcher, String> {
        let epoll =
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| format!("epoll: {e}"))?;
        let stop = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| format!("eventfd: {e}"))?;
        epoll
            .add(&stop, EpollEvent::new(EpollFlags::EPOLLIN, STOP))
            .map_err(|e| format!("epoll_ctl: {e}"))?;
        Ok(Watcher { epoll, stop })
    }

    /// Call back with `token` when `fd` is readable (until `remove`).
    pub fn add(&self, fd: impl AsFd, token: u64) -> Result<(), String> {
        self.epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))
            .map_err(|e| format!("epoll_ctl: {e}"))
    }

    pub fn remove(&self, fd: impl AsFd) {
        let _ = self.epoll.delete(fd);
    }

    /// Make `serve` return.
    pub fn stop(&self) {
        let _ = self.stop.write(1);
    }

    /// Serve readiness on this thread until `stop`: `on(token)` for each ready descriptor,
    /// OOM tokens (odd) before exits (even) of one batch, so an OOM kill is reported before
    /// the exit it caused.
    pub fn serve(&self, on: impl Fn(u64)) {
        let mut events = [EpollEvent::empty(); 16];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            };
            let mut batch: Vec<u64> = events[..n].iter().map(|e| e.data()).collect();
            if batch.contains(&STOP) {
                return;
            }
            batch.sort_by_key(|t| t % 2 == 0);
            for t in batch {
                on(t);
            }
        }
    }
}

/// The token of the shim's signalfd.
pub const SIGNAL: u64 = u64::MAX - 1;

/// Tokens: exits are even, OOM watches odd (the signalfd's and `stop`'s are neither kind's:
/// they are checked first).
pub fn exit_token(n: u64) -> u64 {
    n * 2
}
pub fn oom_token(n: u64) -> u64 {
    n * 2 + 1
}
pub fn is_oom(token: u64) -> bool {
    token % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_and_exit_tokens_never_collide() {
        for n in 0..100 {
            assert!(!is_oom(exit_token(n)));
            assert!(is_oom(oom_token(n)));
            assert_ne!(exit_token(n), oom_token(n));
        }
    }
}
