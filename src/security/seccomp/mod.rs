//! seccomp for `linux.seccomp`, without libseccomp: the profile is compiled to classic BPF
//! by hull itself in the parent (`compile`), and the child installs it with seccomp(2) as
//! its last step before execve (`load`). With SCMP_ACT_NOTIFY the listener fd goes to the
//! agent at `listenerPath` (`send_listener`).
//!
//! Why not seccompiler's filter builder: it knows only x86_64/aarch64/riscv64 and kills
//! every other audit arch, so a profile allowing i386 (`int 0x80`) or x32 programs cannot
//! be expressed. hull emits its own BPF (see `emit`) from per-ABI syscall tables
//! (`syscalls_*.rs`, plain data generated from the kernel headers).

// The syscall tables and the audit-arch checks emitted are x86_64's (with its i386 and x32
// ABIs): built for another architecture, hull would load filters that kill every process.
#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "hull's seccomp compiler knows only x86_64's ABIs (src/security/seccomp/arch.rs): \
     add this architecture's syscall tables and audit arch before building for it"
);

/// A syscall table as data without pointers in it: the names joined by NULs and the numbers
/// in the same order. As a table of (&str, u32) pairs its ~1,200 string pointers sat in
/// relro, which the static PIE relocates at every start of every hull command, copying the
/// ~7 pages that hold them (page faults in every process, seccomp or not).
macro_rules! syscall_table {
    ($(($name:literal, $nr:expr)),* $(,)?) => {
        pub const NAMES: &str = concat!($($name, "\0"),*);
        pub const NUMBERS: &[u32] = &[$($nr),*];
    };
}
use syscall_table;

mod arch;
mod bpf;
mod emit;
mod features;
mod load;
mod notify;
mod profile;
mod syscalls_i386;
mod syscalls_x32;
mod syscalls_x86_64;

pub use arch::{Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
pub use features::features;
pub use load::load;
pub use notify::{process_state_json, send_listener, send_to_agent, ListenerOwner, ListenerState};

use anyhow::Result;
use oci_spec::runtime::LinuxSeccomp;

/// A compiled filter, ready for `load` (plain data: cheap to clone, safe to send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    insns: Vec<bpf::Insn>,
    flags: u32,
}

impl Program {
    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
    /// Whether `load` returns a notification listener (the profile uses SCMP_ACT_NOTIFY).
    pub fn has_listener(&self) -> bool {
        self.flags & profile::FLAG_NEW_LISTENER != 0
    }
}

/// Checks and compiles `linux.seccomp`; errors name the field to fix.
pub fn compile(s: &LinuxSeccomp) -> Result<Program> {
    let p = profile::translate(s)?;
    // The number passed to seccomp(2), in runc's words (callers and its tests read it).
    crate::logging::debug(&format!("seccomp filter flags: {}", p.flags));
    Ok(Program {
        insns: emit::program(&p)?,
        flags: p.flags,
    })
}

#[cfg(test)]
mod tests;
