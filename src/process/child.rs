//! A process the parent forked for the create path or `exec`, until it has exec'd: killed
//! and reaped if dropped before `release`, so a failed setup leaves no process behind; and
//! the one way of saying how such a child ended.

use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Kills and reaps `pid` on drop unless released.
#[derive(Debug)]
pub struct KillOnDrop {
    pub pid: i32,
    armed: bool,
}

impl KillOnDrop {
    pub fn new(pid: i32) -> KillOnDrop {
        KillOnDrop { pid, armed: true }
    }

    /// The child is on its own now: keep it.
    pub fn release(mut self) -> i32 {
        self.armed = false;
        self.pid
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let pid = Pid::from_raw(self.pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

/// The error for a child (`what`: "container init", "exec'd process") that went away
/// during setup, saying how it ended. It only looks (WNOWAIT): the `KillOnDrop` guard
/// reaps, so its kill can never hit a reused pid.
pub fn gone(pid: i32, what: &str) -> anyhow::Error {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    let how = match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
        Ok(WaitStatus::Exited(_, code)) => format!("exited with status {code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("was killed by {sig}"),
        Ok(other) => format!("ended ({other:?})"),
        Err(e) => format!("is gone ({e})"),
    };
    anyhow::anyhow!("the {what} {how} during setup")
}
