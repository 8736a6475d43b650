//! What the shim knows of each container and of each process in it: status, pid, pidfd,
//! exit, stdio, terminal. One lock guards all of it (`Tasks`); the exit of a process is
//! recorded by the main thread's watch and wakes every `Wait`.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::types::task::Status as TaskStatus;
use nix::sys::wait::WaitStatus;

use crate::hull::Hull;
use crate::oom::OomWatch;
use crate::stdio::{Paths, StdinSink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn proto(self) -> TaskStatus {
        match self {
            Status::Created => TaskStatus::CREATED,
            Status::Running => TaskStatus::RUNNING,
            Status::Paused => TaskStatus::PAUSED,
            Status::Stopped => TaskStatus::STOPPED,
        }
    }
}

/// A container's init or one of its exec'd processes.
pub struct Proc {
    pub pid: u32,
    pub status: Status,
    pub exit_status: u32,
    pub exited_at: Option<Timestamp>,
    pub paths: Paths,
    pub pidfd: Option<OwnedFd>,
    /// The exit watch's token while the pidfd is watched.
    pub token: Option<u64>,
    pub console: Option<File>,
    pub stdin: Option<StdinSink>,
    /// An exec's process (runtime-spec JSON), until it starts.
    pub spec: Vec<u8>,
}

impl Proc {
    pub fn new(paths: Paths) -> Proc {
        Proc {
            pid: 0,
            status: Status::Created,
            exit_status: 0,
            exited_at: None,
            paths,
            pidfd: None,
            token: None,
            console: None,
            stdin: None,
            spec: Vec::new(),
        }
    }

    /// Record the exit (`Stopped`, status, time).
    pub fn exited(&mut self, status: u32, at: Timestamp) {
        self.status = Status::Stopped;
        self.exit_status = status;
        self.exited_at = Some(at);
    }
}

/// The exit status containerd reports: the code, or 128 + the signal that killed it.
pub fn exit_status(ws: &WaitStatus) -> Option<u32> {
    match ws {
        WaitStatus::Exited(_, c) => Some(*c as u32),
        WaitStatus::Signaled(_, s, _) => Some(128 + *s as u32),
        _ => None,
    }
}

pub struct Container {
    pub bundle: PathBuf,
    pub hull: Hull,
    pub init: Proc,
    pub execs: HashMap<String, Proc>,
    /// `bundle/rootfs` when the shim mounted the rootfs there.
    pub rootfs: Option<PathBuf>,
    pub oom: Option<(OomWatch, u64)>,
    /// A checkpoint to restore at `Start` (a `Create` from a checkpoint).
    pub restore: Option<crate::checkpoint::Restore>,
}

impl Container {
    pub fn proc(&self, exec_id: &str) -> Option<&Proc> {
        if exec_id.is_empty() {
            Some(&self.init)
        } else {
            self.execs.get(exec_id)
        }
    }
    pub fn proc_mut(&mut self, exec_id: &str) -> Option<&mut Proc> {
        if exec_id.is_empty() {
            Some(&mut self.init)
        } else {
            self.execs.get_mut(exec_id)
        }
    }
}

/// Every container of this shim (one, or a pod's when containerd groups them).
#[derive(Default)]
pub struct Tasks {
    pub containers: HashMap<String, Container>,
    /// Watch token -> (container id, exec id; "" for the init).
    pub tokens: HashMap<u64, (String, String)>,
    pub next: u64,
}

impl Tasks {
    pub fn new_token(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn exit_status_is_the_code_or_128_plus_the_signal() {
        let p = Pid::from_raw(1);
        assert_eq!(exit_status(&WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_status(&WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(exit_status(&WaitStatus::StillAlive), None);
    }

    #[test]
    fn a_stopped_process_keeps_its_status_and_time() {
        let mut p = Proc::new(Paths::default());
        assert_eq!(p.status.proto(), TaskStatus::CREATED);
        let mut t = Timestamp::new();
        t.seconds = 5;
        p.exited(137, t.clone());
        assert_eq!(
            (p.status, p.exit_status, p.exited_at),
            (Status::Stopped, 137, Some(t))
        );
    }
}
