//! `run` without `--detach`: hull stays as the init's parent, forwards every signal it
//! receives to the init, reaps (as a subreaper, orphans too), relays the container's
//! terminal to its own stdio when there is one, and returns the init's exit status: its
//! code, or 128+N when killed by signal N.
//!
//! One poll loop over a signalfd (all signals are blocked from `install` on, so none is
//! lost between clone and wait; the init resets its own mask), the caller's stdin and the
//! pty master.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub struct Forwarder {
    sfd: SignalFd,
}

impl Forwarder {
    pub fn install(subreaper: bool) -> Result<Forwarder> {
        let set = SigSet::all();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .context("blocking signals for forwarding")?;
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .context("signalfd")?;
        if subreaper {
            nix::sys::prctl::set_child_subreaper(true).context("prctl(PR_SET_CHILD_SUBREAPER)")?;
        }
        Ok(Forwarder { sfd })
    }

    /// Wait until `pid` exits, forwarding signals to it and relaying `console` (the pty
    /// master) to stdin/stdout. Returns its exit status.
    pub fn wait_for(&self, pid: i32, console: Option<OwnedFd>) -> Result<i32> {
        let mut relay = console.map(Relay::new).transpose()?;
        loop {
            if let Some(code) = reap(pid)? {
                if let Some(r) = relay.as_mut() {
                    r.drain();
                }
                return Ok(code);
            }
            let mut fds = vec![poll_in(self.sfd.as_fd().as_raw_fd())];
            if let Some(r) = &relay {
                fds.push(poll_in(if r.master_open {
                    r.master.as_raw_fd()
                } else {
                    -1
                }));
                fds.push(poll_in(if r.stdin_open { 0 } else { -1 }));
            }
            let n = crate::sys::poll::poll(&mut fds, -1);
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e).context("poll");
            }
            if fds[0].revents != 0 {
                self.forward_pending(pid, relay.as_ref());
            }
            if let Some(r) = relay.as_mut() {
                if fds[1].revents != 0 {
                    r.pump_out();
                }
                if fds[2].revents != 0 {
                    r.pump_in();
                }
            }
        }
    }

    fn forward_pending(&self, pid: i32, relay: Option<&Relay>) {
        while let Ok(Some(info)) = self.sfd.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            match sig {
                Signal::SIGCHLD => {}
                Signal::SIGWINCH => {
                    if let Some(r) = relay {
                        crate::sys::pty::copy_size(0, r.master.as_raw_fd());
                    }
                }
                // Stopping hull itself is not forwarded; the rest goes to the init.
                Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU => {}
                s => {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), s);
                }
            }
        }
    }
}

fn poll_in(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Copies bytes between the caller's stdio and the container's pty master, with the
/// caller's terminal (if stdin is one) in raw mode until dropped.
struct Relay {
    master: OwnedFd,
    master_open: bool,
    stdin_open: bool,
    saved: Option<Termios>,
}

impl Relay {
    fn new(master: OwnedFd) -> Result<Relay> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
                .context("putting the terminal in raw mode")?;
            crate::sys::pty::copy_size(0, master.as_raw_fd());
        }
        Ok(Relay {
            master,
            master_open: true,
            stdin_open: true,
            saved,
        })
    }

    /// Container output to our stdout.
    fn pump_out(&mut self) {
        let mut buf = [0u8; 8192];
        match nix::unistd::read(&self.master, &mut buf) {
            Ok(0) | Err(nix::errno::Errno::EIO) => self.master_open = false,
            Ok(n) => write_all(1, &buf[..n]),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
            Err(_) => self.master_open = false,
        }
    }

    /// Our stdin to the container.
    fn pump_in(&mut self) {
        let mut buf = [0u8; 8192];
        match nix::unistd::read(std::io::stdin().as_fd(), &mut buf) {
            Ok(0) => self.stdin_open = false,
            Ok(n) => write_all(self.master.as_raw_fd(), &buf[..n]),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
            Err(_) => self.stdin_open = false,
        }
    }

    /// After the init exited: copy what is still buffered in the pty.
    fn drain(&mut self) {
        let _ = nix::fcntl::fcntl(
            &self.master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        let mut buf = [0u8; 8192];
        while let Ok(n) = nix::unistd::read(&self.master, &mut buf) {
            if n == 0 {
                break;
            }
            write_all(1, &buf[..n]);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

fn write_all(fd: RawFd, mut b: &[u8]) {
    while !b.is_empty() {
        match crate::sys::fds::write_raw(fd, b) {
            Ok(n) => b = &b[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

/// Reap every exited child; `Some(status)` once `pid` is among them.
fn reap(pid: i32) -> Result<Option<i32>> {
    let mut found = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => found = Some(code),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                found = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(found),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("waitpid"),
        }
    }
}
