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

/// The signals a user sends to stop something (their default action terminates).
const STOPPING: [nix::sys::signal::Signal; 12] = {
    use nix::sys::signal::Signal::*;
    [
        SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGPWR, SIGXCPU, SIGXFSZ,
        SIGVTALRM, SIGPROF,
    ]
};

extern "C" fn exit_on(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe and touches no state of this process.
    unsafe { libc::_exit(128 + sig) }
}

/// Until its execve, the init exits (128+N) on a stopping signal: as the first process of
/// a pid namespace it would otherwise ignore every signal it has no handler for, so a
/// created container could not be stopped with `kill ID TERM`, which runc's init (a Go
/// program, with handlers) obeys. execve puts caught signals back to SIG_DFL.
pub fn exit_on_stopping_signals() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    let action = SigAction::new(
        SigHandler::Handler(exit_on),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in STOPPING {
        // SAFETY: the handler only calls _exit (async-signal-safe); the init is
        // single-threaded.
        unsafe { sigaction(sig, &action) }.with_context(|| format!("sigaction {sig}"))?;
    }
    Ok(())
}
