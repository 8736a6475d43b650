//! prctl(2) calls the nix crate does not wrap.

use std::io;

/// PR_CAPBSET_DROP: remove capability number `cap` from this thread's bounding set.
pub fn capbset_drop(cap: u8) -> io::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes a capability number and reads no memory.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
