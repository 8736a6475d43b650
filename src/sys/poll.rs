//! poll(2) over a slice of pollfds, for the few places that wait on several fds at once
//! (attached run and exec, the exec fifo, hooks' timeouts, attach, wait, delete).

/// `poll(fds, timeout_ms)`: the kernel's result (-1 with errno set on failure).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> libc::c_int {
    // SAFETY: the kernel reads and writes exactly fds.len() pollfds of a live slice.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) }
}
