//! Rule set -> BPF program. Layout:
//!
//! ```text
//!   ld arch; jeq X86_64 ? -> X64 ; jeq I386 ? -> I386 ; ret KILL_PROCESS
//!   X64:  ld nr; nr >= 0x40000000 ? -> X32
//!         <x86_64 section>                   (ret KILL_PROCESS if not listed)
//!   X32:  <x32 section>                      (ret KILL_PROCESS if not listed)
//!   I386: <i386 section>                     (ret KILL_PROCESS if not listed)
//! section: ld nr; [nr > newest named ? ret ERRNO(ENOSYS)];
//!          per syscall: jeq nr ? <its rules, first match wins, else ret default>; ...
//!          ret default
//! ```
//!
//! A call through an ABI the profile does not list is killed (libseccomp's bad-arch
//! action kills the thread; hull kills the process so no half-dead thread group remains).
//! i386 argument tests compare the low 32 bits only: that is all the ABI carries.

use super::bpf::*;
use super::profile::{Cond, Profile, Rule};
use super::Abi;
use super::X32_SYSCALL_BIT;
use super::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxSeccompOperator as Op;

const BAD_ARCH: u32 = RET_KILL_PROCESS;

/// Where a jump of a condition goes, resolved once the rule's length is known.
#[derive(Clone, Copy)]
enum To {
    Next,
    Pass,
    Fail,
}

struct Sym {
    code: u16,
    k: u32,
    jt: To,
    jf: To,
}

fn s(code: u16, k: u32) -> Sym {
    Sym {
        code,
        k,
        jt: To::Next,
        jf: To::Next,
    }
}
fn j(code: u16, k: u32, jt: To, jf: To) -> Sym {
    Sym { code, k, jt, jf }
}

/// The test of one condition; falls through to its end when it holds.
fn cond_code(c: &Cond, wide: bool) -> Vec<Sym> {
    use To::*;
    let (lo, hi) = (off_arg_lo(c.index), off_arg_hi(c.index));
    let (vl, vh) = (c.value as u32, (c.value >> 32) as u32);
    let (dl, dh) = (c.value_two as u32, (c.value_two >> 32) as u32);
    // The high-word prefix of the ordered comparisons: decide on hi unless equal.
    let gt_prefix = |v: &mut Vec<Sym>| {
        v.push(s(LD_W_ABS, hi));
        v.push(j(JMP_JGT_K, vh, Pass, Next));
        v.push(j(JMP_JEQ_K, vh, Next, Fail));
    };
    let lt_prefix = |v: &mut Vec<Sym>| {
        v.push(s(LD_W_ABS, hi));
        v.push(j(JMP_JGE_K, vh, Next, Pass));
        v.push(j(JMP_JEQ_K, vh, Next, Fail));
    };
    let mut v = Vec::with_capacity(7);
    match c.op {
        Op::ScmpCmpEq => {
            if wide {
                v.push(s(LD_W_ABS, hi));
                v.push(j(JMP_JEQ_K, vh, Next, Fail));
            }
            v.push(s(LD_W_ABS, lo));
            v.push(j(JMP_JEQ_K, vl, Pass, Fail));
        }
        Op::ScmpCmpNe => {
            if wide {
                v.push(s(LD_W_ABS, hi));
                v.push(j(JMP_JEQ_K, vh, Next, Pass));
            }
            v.push(s(LD_W_ABS, lo));
            v.push(j(JMP_JEQ_K, vl, Fail, Pass));
        }
        Op::ScmpCmpGt | Op::ScmpCmpGe => {
            if wide {
                gt_prefix(&mut v);
            }
            v.push(s(LD_W_ABS, lo));
            let code = if c.op == Op::ScmpCmpGt {
                JMP_JGT_K
            } else {
                JMP_JGE_K
            };
            v.push(j(code, vl, Pass, Fail));
        }
        Op::ScmpCmpLt => {
            if wide {
                lt_prefix(&mut v);
            }
            v.push(s(LD_W_ABS, lo));
            v.push(j(JMP_JGE_K, vl, Fail, Pass));
        }
        Op::ScmpCmpLe => {
            if wide {
                lt_prefix(&mut v);
            }
            v.push(s(LD_W_ABS, lo));
            v.push(j(JMP_JGT_K, vl, Fail, Pass));
        }
        Op::ScmpCmpMaskedEq => {
            if wide {
                v.push(s(LD_W_ABS, hi));
                v.push(s(ALU_AND_K, vh));
                v.push(j(JMP_JEQ_K, dh, Next, Fail));
            }
            v.push(s(LD_W_ABS, lo));
            v.push(s(ALU_AND_K, vl));
            v.push(j(JMP_JEQ_K, dl, Pass, Fail));
        }
    }
    v
}

fn offset(from: usize, to: usize) -> Result<u8> {
    let d = to - from - 1;
    match u8::try_from(d) {
        Ok(d) => Ok(d),
        Err(_) => bail!("a rule's argument tests span {d} BPF instructions, more than a conditional jump reaches ({MAX_COND_JUMP}): use fewer args per rule"),
    }
}

/// A rule: its conditions, then `ret action`; a failed condition jumps past the `ret`.
fn rule_code(r: &Rule, wide: bool, out: &mut Vec<Insn>) -> Result<()> {
    let mut syms: Vec<(Sym, usize)> = Vec::new(); // (insn, end of its condition)
    for c in &r.conds {
        let code = cond_code(c, wide);
        let end = syms.len() + code.len();
        syms.extend(code.into_iter().map(|x| (x, end)));
    }
    let len = syms.len() + 1;
    for (p, (x, end)) in syms.iter().enumerate() {
        let resolve = |t: To| match t {
            To::Next => Ok(0),
            To::Pass => offset(p, *end),
            To::Fail => offset(p, len),
        };
        out.push(jump(x.code, x.k, resolve(x.jt)?, resolve(x.jf)?));
    }
    out.push(ret(r.action));
    Ok(())
}

/// One ABI's section; every path in it ends in a `ret`.
fn section(p: &Profile, abi: Abi) -> Result<Vec<Insn>> {
    if !p.abis.contains(&abi) {
        return Ok(vec![ret(BAD_ARCH)]);
    }
    let numbers = abi.numbers();
    let wide = abi.has_64bit_args();
    let mut out = vec![ld(OFF_NR)];
    let mut body = Vec::new();
    let newest = p.named.iter().filter_map(|n| numbers.get(n.as_str())).max();
    let mut block = Vec::new();
    for (name, rules) in &p.syscalls {
        // Names this ABI does not have are skipped, as runc does.
        let Some(&nr) = numbers.get(name.as_str()) else {
            continue;
        };
        block.clear();
        for r in rules {
            rule_code(r, wide, &mut block)?;
            if r.conds.is_empty() {
                break;
            }
        }
        if rules.last().is_some_and(|r| !r.conds.is_empty()) {
            block.push(ret(p.default_action));
        }
        match u8::try_from(block.len()) {
            Ok(skip) => body.push(jump(JMP_JEQ_K, nr, 0, skip)),
            Err(_) => {
                body.push(jump(JMP_JEQ_K, nr, 1, 0));
                body.push(ja(block.len()));
            }
        }
        body.extend_from_slice(&block);
    }
    if let (true, Some(&newest)) = (p.enosys_stub, newest) {
        out.push(jump(JMP_JGT_K, newest, 0, 1));
        out.push(ret(RET_ERRNO | libc::ENOSYS as u32));
    }
    out.extend(body);
    out.push(ret(p.default_action));
    Ok(out)
}

/// The whole program.
pub fn program(p: &Profile) -> Result<Vec<Insn>> {
    let x64 = section(p, Abi::X86_64)?;
    let x32 = section(p, Abi::X32)?;
    let i386 = section(p, Abi::I386)?;
    // Header: 6 instructions; the x86_64 dispatch: 3 (see the module comment).
    let x64_at = 6;
    let x32_at = x64_at + 3 + x64.len();
    let i386_at = x32_at + x32.len();
    let mut out = Vec::with_capacity(i386_at + i386.len());
    out.push(ld(OFF_ARCH));
    out.push(jump(JMP_JEQ_K, AUDIT_ARCH_X86_64, 0, 1));
    out.push(ja(x64_at - 3));
    out.push(jump(JMP_JEQ_K, AUDIT_ARCH_I386, 0, 1));
    out.push(ja(i386_at - 5));
    out.push(ret(BAD_ARCH));
    out.push(ld(OFF_NR));
    out.push(jump(JMP_JGE_K, X32_SYSCALL_BIT, 0, 1));
    out.push(ja(x32_at - (x64_at + 3)));
    out.extend(x64);
    out.extend(x32);
    out.extend(i386);
    if out.len() > MAX_INSNS {
        bail!(
            "linux.seccomp: the profile compiles to {} BPF instructions, more than the kernel's limit of {MAX_INSNS}",
            out.len()
        );
    }
    Ok(out)
}
