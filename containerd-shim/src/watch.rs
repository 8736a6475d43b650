//! One thread that waits, with epoll, for what the shim must notice without being asked:
//! a container process's exit (its pidfd turns readable) and an OOM kill in a container's
//! cgroup (an eventfd or inotify descriptor turns readable). The shim reaps only the
//! processes it holds pidfds for, so it never races `hull` commands it waits for itself.

use std::os::fd::AsFd;
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

pub struct Watcher {
    epoll: Epoll,
}

impl Watcher {
    pub fn new() -> Result<Arc<Watcher>, String> {
        let epoll =
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| format!("epoll: {e}"))?;
        Ok(Arc::new(Watcher { epoll }))
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

    /// Serve readiness in a thread: `on(tokens)` gets each batch, OOM tokens (odd) before
    /// exits (even), so an OOM kill is reported before the exit it caused.
    pub fn run(self: &Arc<Self>, on: impl Fn(u64) + Send + 'static) {
        let me = Arc::clone(self);
        let _ = std::thread::Builder::new()
            .name("watch".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let mut events = [EpollEvent::empty(); 16];
                loop {
                    let n = match me.epoll.wait(&mut events, EpollTimeout::NONE) {
                        Ok(n) => n,
                        Err(Errno::EINTR) => continue,
                        Err(_) => return,
                    };
                    let mut batch: Vec<u64> = events[..n].iter().map(|e| e.data()).collect();
                    batch.sort_by_key(|t| t % 2 == 0);
                    for t in batch {
                        on(t);
                    }
                }
            });
    }
}

/// The token of the shim's signalfd.
pub const SIGNAL: u64 = u64::MAX - 1;

/// Tokens: exits are even, OOM watches odd (the signalfd's is neither kind's: it is
/// checked first).
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
