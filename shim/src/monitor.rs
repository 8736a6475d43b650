//! The monitor: one epoll loop over a signalfd, the init's pidfd, the container's stdout and
//! stderr pipes, the attach listener and its clients. Output goes to the CRI log and to
//! attached clients through fixed buffers; when the init exits the shim records exit.json,
//! reaps it (and any other zombie) and exits.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::args::Args;
use crate::attach::Attach;
use crate::cri::{Lines, Log};
use crate::daemon::Reporter;
use crate::launch::{self, Init};
use hull_common::clock;
use hull_common::exit_record::ExitRecord;

const T_SIGNAL: u64 = 0;
const T_INIT: u64 = 1;
const T_STDOUT: u64 = 2;
const T_STDERR: u64 = 3;
const T_LISTEN: u64 = 4;
const T_STDIN: u64 = 5;
const T_CLIENT: u64 = 16;

/// Signals the shim handles through its signalfd (blocked for normal delivery).
const SIGNALS: [Signal; 4] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
];

pub struct Monitor {
    epoll: Epoll,
    sigfd: SignalFd,
    init: Init,
    shim_dir: PathBuf,
    stdin: Option<OwnedFd>,
    streams: [Option<OwnedFd>; 2],
    lines: [Lines; 2],
    log: Log,
    attach: Attach,
    /// Client bytes the container's stdin pipe has not taken yet; while any are pending,
    /// clients are not read (their input waits in their sockets).
    pending: [u8; 4096],
    pend: (usize, usize),
    /// Whether the stdin pipe is registered for EPOLLOUT (input is pending).
    stdin_armed: bool,
}

/// Start the container under the shim and build the monitor. The caller is told the
/// outcome through `rep`.
pub fn prepare(a: &Args, rep: &mut Reporter) -> Result<Box<Monitor>, String> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;
    let mut mask = SigSet::empty();
    for s in SIGNALS {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| format!("blocking signals: {e}"))?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;

    let stdio = launch::create(a)?;
    let m = adopt(a, sigfd, stdio).inspect_err(|_| force_delete(a))?;
    let init_pid = m.init.pid;
    match launch::start(a) {
        Ok(()) => rep.ready(&format!(
            "{{\"pid\":{init_pid},\"shim_pid\":{}}}",
            std::process::id()
        )),
        // The init usually exits when start fails; stay to record how.
        Err(e) => rep.fail(&e),
    }
    Ok(m)
}

fn adopt(a: &Args, sigfd: SignalFd, stdio: launch::Stdio3) -> Result<Box<Monitor>, String> {
    let shim_dir = a.shim_dir();
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&shim_dir)
            .map_err(|e| format!("creating {}: {e}", shim_dir.display()))?;
    }
    let _ = std::fs::write(shim_dir.join("shim.pid"), std::process::id().to_string());
    let init = launch::adopt(a)?;
    let log_path = a.log_path();
    let log = Log::open(log_path.clone(), a.log_max)
        .map_err(|e| format!("opening the log {}: {e}", log_path.display()))?;
    let attach = Attach::bind(&shim_dir)?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| format!("epoll: {e}"))?;
    let m = Box::new(Monitor {
        epoll,
        sigfd,
        init,
        shim_dir,
        stdin: Some(stdio.stdin),
        streams: [Some(stdio.stdout), Some(stdio.stderr)],
        lines: [Lines::new("stdout"), Lines::new("stderr")],
        log,
        attach,
        pending: [0; 4096],
        pend: (0, 0),
        stdin_armed: false,
    });
    let mut fds = vec![
        (m.sigfd.as_fd(), T_SIGNAL),
        (m.init.pidfd.as_fd(), T_INIT),
        (m.attach.listener.as_fd(), T_LISTEN),
    ];
    for (fd, t) in m.streams.iter().zip([T_STDOUT, T_STDERR]) {
        fds.extend(fd.as_ref().map(|f| (f.as_fd(), t)));
    }
    for (fd, t) in fds {
        m.epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, t))
            .map_err(|e| format!("epoll_ctl: {e}"))?;
    }
    Ok(m)
}

/// Remove a container the shim cannot monitor (best effort).
fn force_delete(a: &Args) {
    let _ = std::process::Command::new(&a.hull)
        .arg("--root")
        .arg(&a.root)
        .args(["delete", "--force"])
        .arg(&a.id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

impl Monitor {
    /// Serve events until the init exits; never returns.
    pub fn run(mut self: Box<Self>) -> ! {
        let mut events = [EpollEvent::empty(); 16];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => self.finish(),
            };
            for ev in &events[..n] {
                let flags = ev.events();
                match ev.data() {
                    T_SIGNAL => self.on_signals(),
                    T_INIT => self.finish(),
                    T_STDOUT => self.read_stream(0, false),
                    T_STDERR => self.read_stream(1, false),
                    T_LISTEN => self.on_accept(),
                    T_STDIN => self.push_stdin(),
                    t => self.on_client((t - T_CLIENT) as usize, flags),
                }
            }
        }
    }

    fn on_signals(&mut self) {
        while let Ok(Some(si)) = self.sigfd.read_signal() {
            match si.ssi_signo as i32 {
                libc::SIGCHLD => self.reap_others(),
                sig @ (libc::SIGTERM | libc::SIGINT) => {
                    // Signalling the monitor signals the container, as with `hull run`.
                    let _ = hull_common::pidfd::send_signal(&self.init.pidfd, sig);
                }
                _ => {}
            }
        }
    }

    /// Reap exited children other than the init (whose exit `finish` records).
    fn reap_others(&mut self) {
        let peek = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        while let Ok(st) = waitid(Id::All, peek) {
            match st.pid() {
                Some(p) if p.as_raw() != self.init.pid => {
                    let _ = waitpid(p, Some(WaitPidFlag::WNOHANG));
                }
                _ => return,
            }
        }
    }

    /// Read what a stream has (everything until it would block with `drain`), log it and
    /// pass it to attached clients.
    fn read_stream(&mut self, i: usize, drain: bool) {
        let mut ts = [0u8; clock::LEN];
        clock::now(&mut ts);
        while let Some(fd) = &self.streams[i] {
            let spare = self.lines[i].spare();
            match nix::unistd::read(fd, spare) {
                Ok(0) | Err(Errno::EBADF | Errno::EIO) => {
                    self.lines[i].finish(&ts, &mut self.log);
                    self.streams[i] = None;
                }
                Ok(n) => {
                    self.attach.broadcast(&spare[..n]);
                    self.lines[i].commit(n, &ts, &mut self.log);
                    if !drain {
                        break;
                    }
                }
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        self.log.flush();
    }

    fn on_accept(&mut self) {
        while let Some(slot) = self.attach.accept() {
            let flags = if self.pend.0 == self.pend.1 {
                EpollFlags::EPOLLIN
            } else {
                EpollFlags::empty()
            };
            if let Some(fd) = self.attach.client_fd(slot) {
                let _ = self
                    .epoll
                    .add(fd, EpollEvent::new(flags, T_CLIENT + slot as u64));
            }
        }
    }

    fn on_client(&mut self, slot: usize, flags: EpollFlags) {
        let Some(Some(c)) = self.attach.clients.get_mut(slot) else {
            return;
        };
        let hup = flags.intersects(EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR);
        if flags.contains(EpollFlags::EPOLLIN) && c.reading && self.pend.0 == self.pend.1 {
            match nix::unistd::read(&c.fd, &mut self.pending) {
                Ok(0) => {
                    // Half-closed: keep sending output until the client goes away.
                    c.reading = false;
                    let ev = EpollEvent::new(EpollFlags::empty(), T_CLIENT + slot as u64);
                    let _ = self.epoll.modify(c.fd.as_fd(), &mut { ev });
                    if hup {
                        self.attach.clients[slot] = None;
                    }
                }
                Ok(n) => {
                    self.pend = (0, n);
                    self.push_stdin();
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => self.attach.clients[slot] = None,
            }
        } else if hup {
            self.attach.clients[slot] = None;
        }
    }

    /// Write pending client input to the container's stdin. While the pipe is full the
    /// shim waits for it to drain (EPOLLOUT) and stops reading clients.
    fn push_stdin(&mut self) {
        while self.pend.0 < self.pend.1 {
            let Some(fd) = &self.stdin else {
                break;
            };
            match nix::unistd::write(fd, &self.pending[self.pend.0..self.pend.1]) {
                Ok(n) => self.pend.0 += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                // EPIPE: the container closed its stdin; input has nowhere to go.
                Err(_) => self.stdin = None,
            }
        }
        if self.stdin.is_none() || self.pend.0 >= self.pend.1 {
            self.pend = (0, 0);
        }
        let waiting = self.pend.1 > 0;
        if waiting == self.stdin_armed {
            return;
        }
        self.stdin_armed = waiting;
        if let Some(fd) = &self.stdin {
            let _ = if waiting {
                self.epoll
                    .add(fd, EpollEvent::new(EpollFlags::EPOLLOUT, T_STDIN))
            } else {
                self.epoll.delete(fd)
            };
        }
        self.set_client_input(!waiting);
    }

    fn set_client_input(&mut self, on: bool) {
        for (slot, c) in self.attach.clients.iter().enumerate() {
            if let Some(c) = c.as_ref().filter(|c| c.reading) {
                let f = if on {
                    EpollFlags::EPOLLIN
                } else {
                    EpollFlags::empty()
                };
                let mut ev = EpollEvent::new(f, T_CLIENT + slot as u64);
                let _ = self.epoll.modify(c.fd.as_fd(), &mut ev);
            }
        }
    }

    /// The init exited: take its status without reaping it yet, drain its output, write
    /// exit.json, then reap it and every other zombie, and exit. The init stays a zombie
    /// until its record is written, so its pid cannot be reused by another process before
    /// exit.json exists.
    fn finish(&mut self) -> ! {
        let peek = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
        let status = waitid(Id::PIDFd(self.init.pidfd.as_fd()), peek);
        let oom = hull_common::oom::total_kills(&self.init.oom_files) > 0;
        self.read_stream(0, true);
        self.read_stream(1, true);
        let (code, signal) = match status {
            Ok(WaitStatus::Exited(_, c)) => (c, None),
            Ok(WaitStatus::Signaled(_, s, _)) => (128 + s as i32, Some(s as i32)),
            _ => (255, None),
        };
        let mut at = [0u8; clock::LEN];
        clock::now(&mut at);
        ExitRecord {
            exit_code: code,
            signal,
            exited_at: String::from_utf8_lossy(&at).into_owned(),
            oom_killed: oom,
        }
        .write(&self.shim_dir);
        let _ = waitid(Id::PIDFd(self.init.pidfd.as_fd()), WaitPidFlag::WEXITED);
        while let Ok(st) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            if st == WaitStatus::StillAlive {
                break;
            }
        }
        let _ = std::fs::remove_file(self.shim_dir.join("attach.sock"));
        std::process::exit(0);
    }
}
