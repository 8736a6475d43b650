//! `linux.seccomp` -> a checked, arch-neutral rule set: actions turned into kernel return
//! values, argument conditions validated, rules grouped per syscall name in profile order.
//! Every error names the offending field.

use super::bpf::*;
use super::Abi;
use anyhow::{bail, Result};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompArg, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op,
};
use std::collections::HashMap;

/// `SECCOMP_FILTER_FLAG_*`.
pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
pub const FLAG_NEW_LISTENER: u32 = 8;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// One argument test; `value_two` is the datum of MASKED_EQ (`value` is the mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub op: Op,
    pub value: u64,
    pub value_two: u64,
}

/// All conditions must hold (AND) for `action` to be returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub action: u32,
    pub conds: Vec<Cond>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub default_action: u32,
    pub abis: Vec<Abi>,
    /// Per syscall name, its rules in profile order: the first that matches decides (OR).
    pub syscalls: Vec<(String, Vec<Rule>)>,
    /// `SECCOMP_FILTER_FLAG_*` to pass to seccomp(2).
    pub flags: u32,
    /// Unlisted syscalls newer than the newest one the profile names get ENOSYS.
    pub enosys_stub: bool,
    /// Every syscall name the profile mentions (also in dropped rules): the stub's bound.
    pub named: Vec<String>,
}

/// Kernel return value of a spec action; `errno` defaults to EPERM (runtime-spec).
fn action(a: Act, errno: Option<u32>, field: &str) -> Result<u32> {
    let data = errno.unwrap_or(libc::EPERM as u32);
    if matches!(a, Act::ScmpActErrno | Act::ScmpActTrace) && data > RET_DATA_MAX {
        bail!("{field} {data}: must be at most {RET_DATA_MAX}");
    }
    Ok(match a {
        Act::ScmpActKill | Act::ScmpActKillThread => RET_KILL_THREAD,
        Act::ScmpActKillProcess => RET_KILL_PROCESS,
        Act::ScmpActTrap => RET_TRAP,
        Act::ScmpActErrno => RET_ERRNO | data,
        Act::ScmpActTrace => RET_TRACE | data,
        Act::ScmpActNotify => RET_USER_NOTIF,
        Act::ScmpActLog => RET_LOG,
        Act::ScmpActAllow => RET_ALLOW,
    })
}

fn cond(a: &LinuxSeccompArg, field: &str) -> Result<Cond> {
    let index = a.index();
    if index > 5 {
        bail!("{field}.index {index}: a syscall has 6 arguments, numbered 0 to 5");
    }
    Ok(Cond {
        index: index as u8,
        op: a.op(),
        value: a.value(),
        value_two: a.value_two().unwrap_or(0),
    })
}

/// The rules one spec entry makes. Its conditions must all hold (AND), except when two or
/// more test the same argument ("arg 0 == 100", "arg 0 == 9001"), which no value satisfies
/// at once: then each condition is a rule of its own (OR), as runc does (libseccomp
/// refuses such a rule, and runc splits it).
fn split_same_arg(action: u32, conds: Vec<Cond>) -> Vec<Rule> {
    let same_arg = conds
        .iter()
        .enumerate()
        .any(|(i, c)| conds[..i].iter().any(|d| d.index == c.index));
    if same_arg {
        conds
            .into_iter()
            .map(|c| Rule {
                action,
                conds: vec![c],
            })
            .collect()
    } else {
        vec![Rule { action, conds }]
    }
}

/// Checks and translates the spec's seccomp object.
pub fn translate(s: &LinuxSeccomp) -> Result<Profile> {
    const P: &str = "linux.seccomp";
    if s.default_action() == Act::ScmpActNotify {
        bail!("{P}.defaultAction SCMP_ACT_NOTIFY: not allowed as the default action (every syscall of the runtime itself would wait on the agent)");
    }
    let default_action = action(
        s.default_action(),
        s.default_errno_ret(),
        &format!("{P}.defaultErrnoRet"),
    )?;

    let mut abis = Vec::new();
    for a in s.architectures().iter().flatten() {
        if let Some(abi) = Abi::from_spec(*a) {
            if !abis.contains(&abi) {
                abis.push(abi);
            }
        }
    }
    if !abis.contains(&Abi::X86_64) {
        // libseccomp always includes the native architecture.
        abis.insert(0, Abi::X86_64);
    }

    let mut syscalls: Vec<(String, Vec<Rule>)> = Vec::new();
    let mut slot: HashMap<String, usize> = HashMap::new();
    let mut notify = false;
    let mut named = Vec::new();
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("{P}.syscalls[{i}]");
        let act = action(sc.action(), sc.errno_ret(), &format!("{field}.errnoRet"))?;
        let mut conds = Vec::new();
        for (j, a) in sc.args().iter().flatten().enumerate() {
            conds.push(cond(a, &format!("{field}.args[{j}]"))?);
        }
        if sc.names().is_empty() {
            bail!("{field}.names: must name at least one syscall");
        }
        if act == RET_USER_NOTIF {
            if let Some(n) = sc.names().iter().find(|n| *n == "write") {
                bail!("{field}.names \"{n}\": SCMP_ACT_NOTIFY cannot be used for the write syscall (the runtime writes to report to its parent after loading the filter)");
            }
            notify = true;
        }
        named.extend(sc.names().iter().cloned());
        // As runc: a rule that does what the default does is dropped.
        if act == default_action {
            continue;
        }
        let rules = split_same_arg(act, conds);
        for name in sc.names() {
            let k = *slot.entry(name.clone()).or_insert_with(|| {
                syscalls.push((name.clone(), Vec::new()));
                syscalls.len() - 1
            });
            syscalls[k].1.extend(rules.iter().cloned());
        }
    }

    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            // As runc: accepted, and without effect. The filter is loaded by a process of
            // one thread (the init or exec'd process, after fork), so there are no other
            // threads to synchronise, and with a listener TSYNC would need TSYNC_ESRCH.
            Flag::SeccompFilterFlagTsync => 0,
            Flag::SeccompFilterFlagLog => FLAG_LOG,
            Flag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            // Meaningful only with a listener (libseccomp ignores it otherwise).
            Flag::SeccompFilterFlagWaitKillableRecv if notify => FLAG_WAIT_KILLABLE_RECV,
            Flag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    // As runc: with no `flags` at all (not even an empty list), SPEC_ALLOW, so that loading
    // a filter does not also switch on the speculative store bypass mitigation, which
    // slows the container down (runc and Docker default to it; this kernel supports it).
    if s.flags().is_none() {
        flags |= FLAG_SPEC_ALLOW;
    }
    if notify {
        flags |= FLAG_NEW_LISTENER;
    }
    // As runc: not when the default lets calls through (a tracer handles new calls
    // itself), nor when the default already answers ENOSYS.
    let enosys_stub = !matches!(
        s.default_action(),
        Act::ScmpActAllow | Act::ScmpActLog | Act::ScmpActTrace
    ) && default_action != RET_ERRNO | libc::ENOSYS as u32;
    Ok(Profile {
        default_action,
        abis,
        syscalls,
        flags,
        enosys_stub,
        named,
    })
}
