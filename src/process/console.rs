//! Terminals for the container init and for `exec`: the child opens a pty in the
//! container's own devpts (peer via TIOCGPTPEER, no path lookup a hostile /dev/pts could
//! redirect), hands the master to the parent over the sync channel and makes the peer its
//! controlling terminal and stdio; the parent sends the master to `--console-socket`
//! (runc's protocol) or keeps it for `run`/`exec` to relay.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;

use super::sync::{Channel, Msg};

/// What to do with the pty master.
#[derive(Debug)]
pub enum Console {
    /// No terminal.
    None,
    /// Send it over this connection to `--console-socket` (runc's protocol).
    Socket(ConsoleSocket),
    /// Keep it: the caller relays it to its own stdio.
    Relay,
}

/// `--console-socket`, connected as soon as the command knows it needs a terminal (as
/// runc does, before anything is created): the socket's owner (conmon) removes its socket
/// file once a runtime has connected, so a create or exec that fails later still leaves
/// nothing behind; it then just reads EOF.
#[derive(Debug)]
pub struct ConsoleSocket {
    path: PathBuf,
    conn: UnixStream,
}

impl Console {
    /// runc's rules: a terminal needs a socket unless hull stays attached; a socket needs
    /// a terminal.
    pub fn choose(terminal: bool, socket: Option<&Path>, detach: bool) -> Result<Console> {
        Ok(match (terminal, socket, detach) {
            (true, Some(p), _) => Console::Socket(ConsoleSocket::connect(p)?),
            (true, None, false) => Console::Relay,
            (true, None, true) => bail!(
                "process.terminal is true: cannot allocate a tty when hull detaches without \
                 --console-socket (set process.terminal to false or pass --console-socket)"
            ),
            (false, Some(p), _) => bail!(
                "--console-socket {}: process.terminal is false, so there is no terminal to send",
                p.display()
            ),
            (false, None, _) => Console::None,
        })
    }

    /// Parent side: deliver the master the child sent; returns it when it is to be relayed.
    pub fn route(&self, master: OwnedFd) -> Result<Option<OwnedFd>> {
        match self {
            Console::Socket(s) => s.send(&master).map(|_| None),
            Console::Relay => Ok(Some(master)),
            Console::None => bail!("the child sent a terminal nobody asked for"),
        }
    }
}

impl ConsoleSocket {
    fn connect(path: &Path) -> Result<ConsoleSocket> {
        let conn = UnixStream::connect(path)
            .with_context(|| format!("--console-socket {}: connect", path.display()))?;
        Ok(ConsoleSocket {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// runc's console-socket protocol: the master as SCM_RIGHTS with the name `/dev/ptmx`
    /// as the message body, then end of stream.
    fn send(&self, master: &OwnedFd) -> Result<()> {
        let what = || {
            format!(
                "--console-socket {}: send the pty master",
                self.path.display()
            )
        };
        crate::sys::scm::send_fd(self.conn.as_raw_fd(), b"/dev/ptmx", master.as_raw_fd())
            .with_context(what)?;
        self.conn
            .shutdown(std::net::Shutdown::Both)
            .with_context(what)
    }
}

/// Child side (a session leader, inside the container's mount namespace): allocate the
/// terminal, send the master to the parent, make the peer the controlling terminal and
/// stdio.
pub fn attach_terminal(sync: &Channel, process: &Process) -> Result<()> {
    let (master, peer) = open_pty().context("process.terminal")?;
    if let Some(size) = process.console_size() {
        crate::sys::pty::set_size(
            master.as_raw_fd(),
            size.height() as u16,
            size.width() as u16,
        )
        .context("process.consoleSize")?;
    }
    // As runc: no ONLCR, so the process's "\n" reaches the other side as "\n", not "\r\n"
    // (callers compare output lines; a terminal on the other side translates itself).
    let mut t = nix::sys::termios::tcgetattr(&peer).context("process.terminal: tcgetattr")?;
    t.output_flags.remove(nix::sys::termios::OutputFlags::ONLCR);
    nix::sys::termios::tcsetattr(&peer, nix::sys::termios::SetArg::TCSANOW, &t)
        .context("process.terminal: clearing ONLCR")?;
    nix::unistd::fchown(
        &peer,
        Some(nix::unistd::Uid::from_raw(process.user().uid())),
        None,
    )
    .context("process.terminal: chown the pty to process.user.uid")?;
    sync.send_fd(&Msg::Console, master.as_raw_fd())?;
    drop(master);
    crate::sys::pty::set_controlling(peer.as_fd())
        .context("process.terminal: make the pty the controlling terminal")?;
    for target in 0..=2 {
        crate::sys::fds::dup_onto(peer.as_raw_fd(), target)
            .context("process.terminal: dup the pty onto stdio")?;
    }
    Ok(())
}

/// A new pty pair from the devpts mounted at the container's /dev/pts: that directory is
/// resolved inside the root and must be a devpts root, and its own `ptmx` (5:2) is opened
/// beneath it without following anything, so no symlink at /dev/ptmx or in a volume can
/// make the still-privileged process open some other file.
fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    use crate::sys::openat2::{
        openat2, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
        RESOLVE_NO_XDEV,
    };
    const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
    let root =
        crate::rootfs::safe_path::open_host_path(Path::new("/"), nix::fcntl::OFlag::O_DIRECTORY)
            .context("opening /")?;
    let pts = openat2(
        root.as_fd(),
        "dev/pts",
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
    .context("open /dev/pts in the container (is devpts mounted?)")?;
    let fs = nix::sys::statfs::fstatfs(pts.as_fd()).context("fstatfs /dev/pts")?;
    if fs.filesystem_type().0 as i64 != DEVPTS_SUPER_MAGIC {
        bail!("/dev/pts in the container is not a devpts mount");
    }
    let master = openat2(
        pts.as_fd(),
        "ptmx",
        libc::O_RDWR | libc::O_NOCTTY,
        0,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
    )
    .context("open /dev/pts/ptmx")?;
    let st = nix::sys::stat::fstat(master.as_fd()).context("fstat /dev/pts/ptmx")?;
    let (major, minor) = (
        nix::sys::stat::major(st.st_rdev),
        nix::sys::stat::minor(st.st_rdev),
    );
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || (major, minor) != (5, 2) {
        bail!("/dev/pts/ptmx in the container is not the pty multiplexer (5:2)");
    }
    crate::sys::pty::unlock_and_peer(master).context("allocating a pty")
}
