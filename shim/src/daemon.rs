//! Detaching from the caller: fork, `setsid`, fork again, so the monitor is in its own
//! session, not a session leader, and not the caller's child. The caller's process waits on a
//! pipe until the monitor reports that the container runs (or why it does not), prints that,
//! and exits with 0 or 1.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::unistd::{pipe2, setsid};

use crate::sys::{self, Forked};

/// The monitor's end of the readiness pipe.
pub struct Reporter(Option<std::fs::File>);

impl Reporter {
    /// The container runs: the caller prints `line` and exits 0.
    pub fn ready(&mut self, line: &str) {
        self.send(&format!("ok {line}\n"));
    }
    /// The caller prints `msg` on stderr and exits 1.
    pub fn fail(&mut self, msg: &str) {
        self.send(&format!("error {msg}\n"));
    }
    fn send(&mut self, s: &str) {
        if let Some(mut f) = self.0.take() {
            let _ = f.write_all(s.as_bytes());
        }
    }
}

/// Fork the monitor off. Returns only in the monitor; the caller's process exits in here.
pub fn detach() -> Reporter {
    let (r, w) = match pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => fail_early(&format!("creating the readiness pipe: {e}")),
    };
    match sys::fork() {
        Err(e) => fail_early(&format!("fork: {e}")),
        Ok(Forked::Parent(child)) => {
            drop(w);
            caller_waits(r, child)
        }
        Ok(Forked::Child) => {}
    }
    drop(r);
    let _ = setsid();
    match sys::fork() {
        Err(_) => sys::exit_now(1),
        Ok(Forked::Parent(_)) => sys::exit_now(0),
        Ok(Forked::Child) => {}
    }
    quiet_stdio();
    let _ = std::env::set_current_dir("/");
    Reporter(Some(std::fs::File::from(w)))
}

/// The caller's side: relay the monitor's verdict.
fn caller_waits(r: OwnedFd, child: i32) -> ! {
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
    let mut msg = String::new();
    let _ = std::fs::File::from(r).read_to_string(&mut msg);
    if let Some(rest) = msg.strip_prefix("ok ") {
        print!("{rest}");
        let _ = std::io::stdout().flush();
        std::process::exit(0);
    }
    match msg.strip_prefix("error ") {
        Some(e) => eprint!("hull-shim: {e}"),
        None => eprintln!("hull-shim: the monitor exited before the container started"),
    }
    std::process::exit(1);
}

fn fail_early(msg: &str) -> ! {
    eprintln!("hull-shim: {msg}");
    std::process::exit(1);
}

/// Point stdin/stdout/stderr at /dev/null: the monitor must not hold the caller's terminal
/// or pipes (a caller reading our stdout to EOF would wait for the container otherwise).
fn quiet_stdio() {
    let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        return;
    };
    let _ = nix::unistd::dup2_stdin(&null);
    let _ = nix::unistd::dup2_stdout(&null);
    let _ = nix::unistd::dup2_stderr(&null);
}
