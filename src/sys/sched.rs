//! Scheduling syscalls: ioprio_set, sched_setattr, personality, set_mempolicy.

use std::io;

fn check(r: libc::c_long) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// ioprio_set(IOPRIO_WHO_PROCESS, self, prio).
pub fn ioprio_set_self(prio: i32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: plain integer arguments.
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) })
}

/// `struct sched_attr` (SCHED_ATTR_SIZE_VER1).
#[repr(C)]
#[derive(Default)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// sched_setattr(self, attr, 0).
pub fn sched_setattr_self(attr: &mut SchedAttr) -> io::Result<()> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: the kernel reads `size` bytes of the struct we pass by pointer.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *mut SchedAttr, 0u32) })
}

/// personality(2) with a persona value.
pub fn personality(persona: libc::c_ulong) -> io::Result<()> {
    // SAFETY: plain integer argument.
    let r = unsafe { libc::personality(persona) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// set_mempolicy(mode | flags, nodemask, maxnode) for the calling thread (and what it
/// forks and execs). `mask` holds one bit per node; an empty mask passes NULL.
pub fn set_mempolicy(mode_and_flags: i32, mask: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if mask.is_empty() {
        (std::ptr::null(), 0usize)
    } else {
        // The kernel reads maxnode - 1 bits (numactl passes bits + 1 as well).
        (mask.as_ptr(), mask.len() * 64 + 1)
    };
    // SAFETY: the kernel reads at most ceil((maxnode - 1) / 64) words from `mask`, which
    // is exactly mask.len(); a NULL mask is read as empty.
    check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode_and_flags, ptr, maxnode) })
}
