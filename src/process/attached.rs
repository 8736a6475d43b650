//! `run` without `--detach`: hull stays as the init's parent, forwards every signal it
//! receives to the init, reaps (as a subreaper, orphans too) and returns the init's exit
//! status: its code, or 128+N when killed by signal N.

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Signals are blocked from `install` on, so none is lost between clone and wait; the
/// init resets its own mask before it runs anything.
pub struct Forwarder {
    set: SigSet,
}

impl Forwarder {
    pub fn install(subreaper: bool) -> Result<Forwarder> {
        let set = SigSet::all();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .context("blocking signals for forwarding")?;
        if subreaper {
            nix::sys::prctl::set_child_subreaper(true).context("prctl(PR_SET_CHILD_SUBREAPER)")?;
        }
        Ok(Forwarder { set })
    }

    /// Wait until `pid` exits, forwarding signals to it. Returns its exit status.
    pub fn wait_for(&self, pid: i32) -> Result<i32> {
        if let Some(code) = reap(pid)? {
            return Ok(code);
        }
        loop {
            let sig = self.set.wait().context("sigwait")?;
            match sig {
                Signal::SIGCHLD => {
                    if let Some(code) = reap(pid)? {
                        return Ok(code);
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
