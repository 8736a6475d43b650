//! A process's stdio as containerd hands it: FIFO paths (or `file://` paths, or nothing)
//! for stdin, stdout and stderr, a `binary://` logger for stdout and stderr (logger.rs), or
//! a terminal.
//!
//! Without a terminal the output FIFOs are given to the container as they are (opened
//! read-write, so opening never waits for a reader and output written while containerd
//! restarts waits in the FIFO): no copy through the shim. stdin goes through a pipe, so
//! that `CloseIO` can close it. With a terminal, hull passes the pty master over
//! `--console-socket`; two threads copy between it and the FIFOs.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::hull::ProcStdio;

/// The paths of one process's stdio, as the create or exec request named them.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
    /// The container and namespace, for a `binary://` logger's environment.
    pub container: String,
    pub namespace: String,
}

/// The write side of a process's stdin, shared by the copying thread and `CloseIO`.
#[derive(Clone, Default)]
pub struct StdinSink(Arc<Mutex<Option<File>>>);

impl StdinSink {
    /// Close the process's stdin (it sees end of file once the copy has nothing pending).
    pub fn close(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
    fn write_all(&self, buf: &[u8]) -> bool {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_mut() {
            Some(f) => f.write_all(buf).is_ok(),
            None => false,
        }
    }
}

/// Where an output path leads: nothing, a file, or a FIFO (anything else is refused).
#[derive(Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Null,
    File(&'a str),
    Fifo(&'a str),
}

pub fn target(path: &str) -> Result<Target<'_>, String> {
    if path.is_empty() {
        return Ok(Target::Null);
    }
    if let Some(p) = path.strip_prefix("file://") {
        return Ok(Target::File(p));
    }
    if path.contains("://") {
        return Err(format!(
            "stdio {path:?}: only FIFO paths, file:// and binary:// are supported"
        ));
    }
    Ok(Target::Fifo(path))
}

fn open_output(path: &str) -> Result<File, String> {
    let r = match target(path)? {
        Target::Null => OpenOptions::new().write(true).open("/dev/null"),
        Target::File(p) => OpenOptions::new().append(true).create(true).open(p),
        Target::Fifo(p) => OpenOptions::new().read(true).write(true).open(p),
    };
    r.map_err(|e| format!("opening {path}: {e}"))
}

/// stdout and stderr: a `binary://` URI (containerd gives it as both) starts the logging
/// binary, which gets both streams; otherwise each path is opened.
fn outputs(p: &Paths) -> Result<(File, File), String> {
    if crate::logger::is_binary(&p.stdout) {
        return crate::logger::start(&p.stdout, &p.container, &p.namespace);
    }
    Ok((open_output(&p.stdout)?, open_output(&p.stderr)?))
}

/// The stdio to give hull for a process without a terminal, and the stdin copy to start
/// once it runs.
pub fn plain(p: &Paths) -> Result<(ProcStdio, Option<StdinCopy>), String> {
    let (stdout, stderr) = outputs(p)?;
    let (stdin, copy) = if p.stdin.is_empty() {
        let null = File::open("/dev/null").map_err(|e| format!("opening /dev/null: {e}"))?;
        (OwnedFd::from(null), None)
    } else {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("creating the stdin pipe: {e}"))?;
        let sink = StdinSink(Arc::new(Mutex::new(Some(File::from(w)))));
        (
            r,
            Some(StdinCopy {
                fifo: p.stdin.clone(),
                sink,
            }),
        )
    };
    Ok((
        ProcStdio {
            stdin,
            stdout: stdout.into(),
            stderr: stderr.into(),
        },
        copy,
    ))
}

/// A stdin FIFO to be copied into a process.
pub struct StdinCopy {
    fifo: String,
    pub sink: StdinSink,
}

impl StdinCopy {
    /// Copy in a thread until the FIFO's writers are gone or `CloseIO` closes the sink.
    pub fn spawn(self) -> StdinSink {
        let sink = self.sink.clone();
        let fifo = self.fifo;
        let s = self.sink;
        let _ = std::thread::Builder::new()
            .name("stdin".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                // Blocks until containerd opens its end.
                let Ok(mut f) = File::open(&fifo) else {
                    s.close();
                    return;
                };
                let mut buf = [0u8; 8192];
                loop {
                    match f.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) if s.write_all(&buf[..n]) => {}
                        Ok(_) => break,
                    }
                }
                s.close();
            });
        sink
    }
}

/// Make a `CloseIO` reach a copy still waiting in `open` for a writer that never came.
pub fn unblock_fifo(path: &str) {
    if let Ok(Target::Fifo(p)) = target(path) {
        let _ = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(p);
    }
}

/// A console socket for one `create`/`exec --console-socket`: hull connects and sends the
/// pty master (SCM_RIGHTS), as runc does.
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn bind(dir: &Path, name: &str) -> Result<ConsoleSocket, String> {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("binding the console socket {}: {e}", path.display()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("console socket: {e}"))?;
        Ok(ConsoleSocket { path, listener })
    }

    /// The master hull sent (it has, once its create or exec succeeded).
    pub fn receive(&self) -> Result<File, String> {
        let (conn, _) = self
            .listener
            .accept()
            .map_err(|e| format!("hull sent no terminal on the console socket: {e}"))?;
        conn.set_nonblocking(false).ok();
        crate::sys::recv_fd(conn.as_raw_fd())
            .map(File::from)
            .map_err(|e| format!("receiving the terminal from hull: {e}"))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The stdio of a terminal process as hull's exec/create gets it: nothing (the pty is
/// its stdio); hull still wants descriptors for 0-2.
pub fn null_stdio() -> Result<ProcStdio, String> {
    let n = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| format!("opening /dev/null: {e}"))
    };
    Ok(ProcStdio {
        stdin: n()?,
        stdout: n()?,
        stderr: n()?,
    })
}

/// Copy between the pty master and the FIFOs: master to stdout until the terminal closes
/// (then the stdout FIFO closes, which ends the reader's copy), stdin to master until the
/// FIFO's writers are gone or `CloseIO`.
pub fn relay_terminal(master: &File, p: &Paths) -> Result<Option<StdinSink>, String> {
    let (out, _) = outputs(p)?;
    let mut from = master.try_clone().map_err(|e| format!("terminal: {e}"))?;
    let _ = std::thread::Builder::new()
        .name("pty-out".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut out = out;
            let mut buf = [0u8; 8192];
            loop {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // EIO: every slave descriptor is closed.
                    Err(_) => break,
                }
            }
        });
    if p.stdin.is_empty() {
        return Ok(None);
    }
    let to = master.try_clone().map_err(|e| format!("terminal: {e}"))?;
    let copy = StdinCopy {
        fifo: p.stdin.clone(),
        sink: StdinSink(Arc::new(Mutex::new(Some(to)))),
    };
    Ok(Some(copy.spawn()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_are_fifos_files_or_nothing() {
        assert_eq!(target("").unwrap(), Target::Null);
        assert_eq!(
            target("/run/x/stdout").unwrap(),
            Target::Fifo("/run/x/stdout")
        );
        assert_eq!(
            target("file:///var/log/x").unwrap(),
            Target::File("/var/log/x")
        );
        let e = target("binary:///usr/bin/logger?a=b").unwrap_err();
        assert!(e.contains("binary:///usr/bin/logger"), "{e}");
    }

    #[test]
    fn stdin_copy_ends_at_the_writers_end_and_close_io_stops_it() {
        let d = std::env::temp_dir().join(format!("hull-cshim-stdin-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let fifo = d.join("in");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let p = Paths {
            stdin: fifo.to_str().unwrap().into(),
            ..Default::default()
        };
        let (stdio, copy) = plain(&p).unwrap();
        let sink = copy.unwrap().spawn();
        let mut w = OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(b"hello").unwrap();
        drop(w);
        let mut got = String::new();
        File::from(stdio.stdin).read_to_string(&mut got).unwrap();
        assert_eq!(got, "hello");

        // CloseIO before any writer came.
        let (stdio, copy) = plain(&p).unwrap();
        let sink2 = copy.unwrap().spawn();
        sink2.close();
        unblock_fifo(&p.stdin);
        let mut got = String::new();
        File::from(stdio.stdin).read_to_string(&mut got).unwrap();
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(got, "");
        sink.close();
    }
}
