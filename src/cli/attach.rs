//! `hull attach ID`: connect the terminal to a container run by hull-shim, through its
//! attach socket (ROOT/ID/shim/attach.sock). Stdin goes to the container, its output
//! (stdout and stderr, merged) to stdout. The key sequence ctrl-p ctrl-q detaches and leaves
//! the container running; when the container exits, attach exits with its code.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use anyhow::{Context, Result};
use clap::Args;

use super::Global;

const CTRL_P: u8 = 0x10;
const CTRL_Q: u8 = 0x11;

#[derive(Args, Debug, Clone)]
pub struct AttachArgs {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: AttachArgs) -> Result<i32> {
    let dir = super::wait::shim_dir(&g.root, &a.id)?;
    // Through the directory's descriptor: a long --root cannot overflow sun_path.
    let d = std::fs::File::open(&dir).with_context(|| format!("opening {}", dir.display()))?;
    let sock = UnixStream::connect(format!("/proc/self/fd/{}/attach.sock", d.as_raw_fd()))
        .with_context(|| {
            format!(
                "connecting to {}/attach.sock (has the container exited?)",
                dir.display()
            )
        })?;
    drop(d);
    let detached = {
        let _raw = RawTerminal::enter();
        relay(sock)?
    };
    if detached {
        return Ok(0);
    }
    super::wait::wait_exit(&g.root, &a.id)
}

/// Relay until the socket closes (false) or the user detaches (true).
fn relay(mut sock: UnixStream) -> Result<bool> {
    let mut stdin_open = true;
    let mut held_ctrl_p = false;
    let mut buf = [0u8; 8192];
    let mut keys = Vec::with_capacity(buf.len() + 1);
    let stdout = std::io::stdout();
    loop {
        let mut p = [
            libc::pollfd {
                fd: sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let r = crate::sys::poll::poll(&mut p, -1);
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("poll");
        }
        if p[0].revents != 0 {
            let n = sock
                .read(&mut buf)
                .context("reading from the attach socket")?;
            if n == 0 {
                return Ok(false);
            }
            let mut out = stdout.lock();
            out.write_all(&buf[..n]).and_then(|_| out.flush()).ok();
        }
        if p[1].revents != 0 {
            let n = std::io::stdin().lock().read(&mut buf).unwrap_or(0);
            if n == 0 {
                stdin_open = false;
                let _ = sock.shutdown(std::net::Shutdown::Write);
                continue;
            }
            keys.clear();
            let detach = filter_detach(&buf[..n], &mut held_ctrl_p, &mut keys);
            sock.write_all(&keys)
                .context("sending input to the container")?;
            if detach {
                return Ok(true);
            }
        }
    }
}

/// Copy `input` to `out` minus the detach sequence; true when ctrl-p ctrl-q was typed
/// (bytes after it are dropped). A ctrl-p is held back until the next byte shows whether
/// it starts the sequence.
fn filter_detach(input: &[u8], held: &mut bool, out: &mut Vec<u8>) -> bool {
    for &b in input {
        if *held {
            *held = false;
            if b == CTRL_Q {
                return true;
            }
            out.push(CTRL_P);
        }
        if b == CTRL_P {
            *held = true;
        } else {
            out.push(b);
        }
    }
    false
}

/// Raw mode on a terminal stdin for the session (so ctrl-p/ctrl-q and every key reach
/// the container), restored on drop. Nothing to do when stdin is not a terminal.
struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    fn enter() -> RawTerminal {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(&stdin) else {
            return RawTerminal(None);
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        RawTerminal(Some(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_p_ctrl_q_detaches_and_is_not_sent() {
        let (mut held, mut out) = (false, Vec::new());
        assert!(filter_detach(b"ab\x10\x11cd", &mut held, &mut out));
        assert_eq!(out, b"ab");
    }

    #[test]
    fn detach_sequence_split_across_reads_still_detaches() {
        let (mut held, mut out) = (false, Vec::new());
        assert!(!filter_detach(b"x\x10", &mut held, &mut out));
        assert_eq!(out, b"x");
        assert!(filter_detach(b"\x11", &mut held, &mut out));
    }

    #[test]
    fn a_lone_ctrl_p_is_passed_through() {
        let (mut held, mut out) = (false, Vec::new());
        assert!(!filter_detach(b"\x10a", &mut held, &mut out));
        assert_eq!(out, b"\x10a");
        // ctrl-p ctrl-p ctrl-q: the first ctrl-p is data, the second starts the sequence.
        let (mut held, mut out) = (false, Vec::new());
        assert!(filter_detach(b"\x10\x10\x11", &mut held, &mut out));
        assert_eq!(out, b"\x10");
    }
}
