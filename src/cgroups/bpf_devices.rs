//! The cgroup v2 device filter: `linux.resources.devices` compiled into a
//! BPF_PROG_TYPE_CGROUP_DEVICE program and attached to the container's cgroup2 directory
//! (cgroup2 has no devices.allow/deny files; the kernel asks this program instead).
//!
//! Semantics (those of the v1 controller as runc emulates them): rules apply in order and
//! the last rule that matches a device and an access bit decides that bit. A rule of type
//! "a" (all devices) resets everything before it: a deny "a" makes the default deny, an
//! allow "a" the default allow; the list starts from deny, as `devices::apply_v1` starts
//! by writing "a" to devices.deny. A request (one or more of mknod, read, write) is allowed
//! only when every bit it asks for is allowed.
//!
//! The program walks the rules backwards with the request's still-undecided access bits in
//! r6: a matching deny rule that shares a bit denies; a matching allow rule clears the bits
//! it grants and allows once none is left; falling off the end applies the default.
//!
//! Attaching uses BPF_F_ALLOW_MULTI. Programs hull attached are named `hull_devices`;
//! attaching again (on `update`) detaches those after the new one is in place, so the
//! cgroup never goes unfiltered.

use crate::sys::bpf::{self, Insn};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The name every device program hull loads carries, so `update` can find them again.
pub const PROG_NAME: &str = "hull_devices";

/// `struct bpf_cgroup_dev_ctx` values.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// One rule reduced to what the program checks: None = any.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    allow: bool,
    typ: Option<i32>,
    major: Option<i32>,
    minor: Option<i32>,
    access: i32,
}

/// The rules that still matter after the last "a" rule, and the default it set.
fn reduce(rules: &[LinuxDeviceCgroup]) -> Result<(bool, Vec<Rule>)> {
    let mut default_allow = false;
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => {
                default_allow = r.allow();
                out.clear();
                continue;
            }
            LinuxDeviceType::B => DEV_BLOCK,
            // As in the v1 controller: an unbuffered char device is a char device.
            _ => DEV_CHAR,
        };
        let num = |what: &str, n: Option<i64>| -> Result<Option<i32>> {
            match n {
                None => Ok(None),
                Some(n) if n < 0 => Ok(None),
                Some(n) => i32::try_from(n).map(Some).map_err(|_| {
                    anyhow::anyhow!(
                        "linux.resources.devices[{i}].{what}: {n} is not a device number"
                    )
                }),
            }
        };
        // Reduced to r, w and m as runc does (other letters are ignored).
        let access = super::devices::access(r.access().as_deref())
            .chars()
            .fold(0, |acc, c| {
                acc | match c {
                    'r' => ACC_READ,
                    'w' => ACC_WRITE,
                    _ => ACC_MKNOD,
                }
            });
        out.push(Rule {
            allow: r.allow(),
            typ: Some(typ),
            major: num("major", r.major())?,
            minor: num("minor", r.minor())?,
            access,
        });
    }
    Ok((default_allow, out))
}

// Encodings (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_MEM_W: u8 = 0x61;
const ALU64_MOV_X: u8 = 0xbf;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_XOR_X: u8 = 0xaf;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

/// One rule's block; every jump goes to the end of the block (the next rule).
fn block(r: &Rule) -> Vec<Insn> {
    // (opcode, dst, src, imm, jumps-to-next)
    let mut b: Vec<(u8, u8, u8, i32, bool)> = Vec::new();
    if let Some(t) = r.typ {
        b.push((JMP_JNE_K, 3, 0, t, true));
    }
    if let Some(m) = r.major {
        b.push((JMP_JNE_K, 4, 0, m, true));
    }
    if let Some(m) = r.minor {
        b.push((JMP_JNE_K, 5, 0, m, true));
    }
    // r7 = the undecided bits this rule speaks for; none: not this rule's business.
    b.push((ALU64_MOV_X, 7, 6, 0, false));
    b.push((ALU64_AND_K, 7, 0, r.access, false));
    b.push((JMP_JEQ_K, 7, 0, 0, true));
    if r.allow {
        b.push((ALU64_XOR_X, 6, 7, 0, false));
        b.push((JMP_JNE_K, 6, 0, 0, true));
        b.push((ALU64_MOV_K, 0, 0, 1, false));
    } else {
        b.push((ALU64_MOV_K, 0, 0, 0, false));
    }
    b.push((JMP_EXIT, 0, 0, 0, false));
    let len = b.len();
    b.into_iter()
        .enumerate()
        .map(|(i, (code, dst, src, imm, jumps))| {
            let off = if jumps { (len - i - 1) as i16 } else { 0 };
            insn(code, dst, src, off, imm)
        })
        .collect()
}

/// The program for `rules` (see the module comment for what it decides).
pub fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    let (default_allow, rules) = reduce(rules)?;
    let mut p = vec![
        // r2 = ctx->access_type; r3 = device type (low 16 bits); r6 = access (high 16).
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU64_MOV_X, 3, 2, 0, 0),
        insn(ALU64_AND_K, 3, 0, 0, 0xffff),
        insn(ALU64_MOV_X, 6, 2, 0, 0),
        insn(ALU64_RSH_K, 6, 0, 0, 16),
        // r4 = ctx->major; r5 = ctx->minor.
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        p.extend(block(r));
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(default_allow)));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    if p.len() > 1_000_000 {
        bail!(
            "linux.resources.devices: {} rules are too many",
            rules.len()
        );
    }
    Ok(p)
}

/// Load the program for `rules`; the verifier's log is in the error if it is refused.
pub fn load(rules: &[LinuxDeviceCgroup]) -> Result<OwnedFd> {
    let insns = compile(rules)?;
    let mut log = vec![0u8; 64 * 1024];
    bpf::prog_load(
        bpf::PROG_TYPE_CGROUP_DEVICE,
        &insns,
        c"Apache",
        PROG_NAME,
        &mut log,
    )
    .map_err(|(e, log)| {
        anyhow::anyhow!(
            "linux.resources.devices: the kernel refused hull's device filter program \
             (bpf BPF_PROG_LOAD: {e}){}",
            if log.is_empty() {
                String::new()
            } else {
                format!("; verifier log: {log}")
            }
        )
    })
}

/// The hull device programs attached to the cgroup directory `dir` (as fds).
pub fn attached(dir: BorrowedFd) -> Result<Vec<OwnedFd>> {
    let ids = bpf::prog_query(dir, bpf::ATTACH_CGROUP_DEVICE)
        .context("bpf BPF_PROG_QUERY of the cgroup's device programs")?;
    let mut out = Vec::new();
    for id in ids {
        // A program detached meanwhile is gone: skip it.
        let Ok(fd) = bpf::prog_fd_by_id(id) else {
            continue;
        };
        if bpf::prog_name(fd.as_fd()).is_ok_and(|n| n == PROG_NAME) {
            out.push(fd);
        }
    }
    Ok(out)
}

/// Make `rules` the device filter of the cgroup2 directory open as `dir`: attach the new
/// program, then detach the ones hull attached before.
pub fn attach(dir: BorrowedFd, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let prog = load(rules)?;
    let old = attached(dir)?;
    bpf::prog_attach(
        dir,
        prog.as_fd(),
        bpf::ATTACH_CGROUP_DEVICE,
        bpf::F_ALLOW_MULTI,
    )
    .context("linux.resources.devices: bpf BPF_PROG_ATTACH of the device filter to the cgroup")?;
    for o in old {
        bpf::prog_detach(dir, o.as_fd(), bpf::ATTACH_CGROUP_DEVICE).context(
            "linux.resources.devices: bpf BPF_PROG_DETACH of the previous device filter",
        )?;
    }
    Ok(())
}

/// `attach` to the cgroup2 directory at `path`.
pub fn apply(path: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("linux.resources.devices: open {}", path.display()))?;
    attach(dir.as_fd(), rules).with_context(|| format!("in {}", path.display()))
}

#[cfg(test)]
#[path = "bpf_devices_tests.rs"]
mod tests;
