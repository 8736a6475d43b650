//! Signal state a new process must not inherit from hull: dispositions (Rust ignores
//! SIGPIPE; callers may ignore others, and ignored dispositions survive execve) and the
//! blocked mask.

use anyhow::{Context, Result};

/// Every signal back to SIG_DFL and an empty mask.
pub fn reset_all() -> Result<()> {
    use nix::sys::signal::{SigSet, SigmaskHow};
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // The raw syscall, because glibc refuses the signals it reserves (32, 33), which a
        // caller may have ignored too. An all-zero kernel sigaction is SIG_DFL with no
        // flags and an empty mask on every architecture; 32 bytes cover its size.
        let sa = [0u64; 4];
        // SAFETY: the kernel reads the struct from `sa`, which outlives the call; the old
        // action pointer is null; installing SIG_DFL runs no code (single-threaded child).
        // EINVAL for numbers the kernel refuses is harmless and ignored.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                sa.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context("reset the signal mask")?;
    Ok(())
}
