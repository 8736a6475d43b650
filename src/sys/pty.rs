//! Pseudo-terminals: unlock a master opened in the container's devpts, get its peer with
//! TIOCGPTPEER (no path lookup that a hostile /dev/pts could redirect), make it the
//! controlling terminal, and copy window sizes.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Unlock a pty `master` (opened by the caller from a verified devpts) and return
/// (master, peer).
pub fn unlock_and_peer(master: OwnedFd) -> io::Result<(OwnedFd, OwnedFd)> {
    let m = master.as_raw_fd();
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int we pass by pointer.
    check(unsafe { libc::ioctl(m, libc::TIOCSPTLCK, &unlock) })?;
    // SAFETY: TIOCGPTPEER returns a new fd for the peer of this master.
    let p = check(unsafe {
        libc::ioctl(
            m,
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: p is a fresh descriptor owned by nobody else.
    Ok((master, unsafe { OwnedFd::from_raw_fd(p) }))
}

/// Make `fd` the controlling terminal of this (session leader) process.
pub fn set_controlling(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument and no memory.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(|_| ())
}

/// Set the window size of a terminal.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the struct we pass by pointer.
    check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) }).map(|_| ())
}

/// Copy the window size of terminal `from` to terminal `to` (ignored if `from` has none).
pub fn copy_size(from: RawFd, to: RawFd) {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes into the struct we pass by pointer.
    if unsafe { libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: TIOCSWINSZ reads the struct we pass by pointer.
        unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &ws) };
    }
}
