//! Classic BPF as seccomp runs it: the instruction type (layout of the kernel's
//! `struct sock_filter`), the few opcodes hull emits, the `seccomp_data` offsets, the
//! kernel's filter return values, and (for tests) an interpreter of that subset.

/// One BPF instruction, laid out exactly as the kernel's `struct sock_filter` (defined
/// next to the seccomp(2) wrapper that hands a slice of them to the kernel).
pub use crate::sys::process_attrs::SockFilter as Insn;

pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const JMP_JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const JMP_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const JMP_JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
pub const JMP_JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// The kernel refuses longer programs (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;
/// Conditional jumps carry 8-bit offsets.
pub const MAX_COND_JUMP: usize = 255;

/// Offsets in `struct seccomp_data` (little-endian: an argument's low word comes first).
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
pub fn off_arg_lo(index: u8) -> u32 {
    16 + 8 * u32::from(index)
}
pub fn off_arg_hi(index: u8) -> u32 {
    off_arg_lo(index) + 4
}

/// Filter return values (`SECCOMP_RET_*`); ERRNO and TRACE carry 16 bits of data.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_DATA_MAX: u32 = 0xffff;

pub fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
pub fn ld(off: u32) -> Insn {
    stmt(LD_W_ABS, off)
}
pub fn ret(k: u32) -> Insn {
    stmt(RET_K, k)
}
pub fn ja(k: usize) -> Insn {
    stmt(JMP_JA, k as u32)
}
pub fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// Runs `prog` on one `seccomp_data` the way the kernel would (only the opcodes above).
#[cfg(test)]
pub fn run(prog: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    let load = |off: u32| -> u32 {
        match off {
            OFF_NR => nr,
            OFF_ARCH => arch,
            o if (16..64).contains(&o) => {
                let a = args[((o - 16) / 8) as usize];
                if (o - 16) % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            o => panic!("load of unexpected offset {o}"),
        }
    };
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = prog[pc];
        pc += 1;
        let cond = |hit: bool| usize::from(if hit { i.jt } else { i.jf });
        match i.code {
            LD_W_ABS => acc = load(i.k),
            ALU_AND_K => acc &= i.k,
            JMP_JA => pc += i.k as usize,
            JMP_JEQ_K => pc += cond(acc == i.k),
            JMP_JGT_K => pc += cond(acc > i.k),
            JMP_JGE_K => pc += cond(acc >= i.k),
            RET_K => return i.k,
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}
