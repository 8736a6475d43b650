//! Process attributes applied by the init (and exec) before dropping privileges:
//! `process.ioPriority`, `process.scheduler`, `process.execCPUAffinity` and
//! `linux.personality`. `check` refuses what cannot work before anything is created.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Process, Spec,
};

use crate::sys::sched::{ioprio_set_self, personality, sched_setattr_self, SchedAttr};

/// Validate the attributes in the parent.
pub fn check(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        if let Some(io) = p.io_priority() {
            if !(0..=7).contains(&io.priority()) {
                bail!(
                    "process.ioPriority.priority {}: must be 0..7",
                    io.priority()
                );
            }
        }
        if let Some(a) = p.exec_cpu_affinity() {
            for (field, v) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
                if let Some(v) = v {
                    cpu_list(v).with_context(|| format!("process.execCPUAffinity.{field}"))?;
                }
            }
        }
        // The kernel refuses SCHED_DEADLINE to a task whose cpuset is narrower than its
        // root domain; say so before anything exists (runc's words first).
        let deadline = p
            .scheduler()
            .as_ref()
            .is_some_and(|s| *s.policy() == LinuxSchedulerPolicy::SchedDeadline);
        let cpus = spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.cpu().as_ref())
            .and_then(|c| c.cpus().as_deref())
            .filter(|c| !c.is_empty());
        if let (true, Some(cpus)) = (deadline, cpus) {
            bail!(
                "process scheduler can't be used together with AllowedCPUs: \
                 process.scheduler.policy SCHED_DEADLINE with linux.resources.cpu.cpus \
                 {cpus:?}; drop one of them"
            );
        }
    }
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
            bail!("linux.personality.flags: no personality flags are supported (as in runc)");
        }
    }
    Ok(())
}

/// Apply everything the process asks for (in the init or the exec child, still privileged).
pub fn apply(process: &Process, pers: Option<&LinuxPersonality>) -> Result<()> {
    if let Some(p) = pers {
        let persona = match p.domain() {
            LinuxPersonalityDomain::PerLinux => 0x0000,
            LinuxPersonalityDomain::PerLinux32 => 0x0008,
        };
        personality(persona).context("linux.personality")?;
    }
    if let Some(io) = process.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        ioprio_set_self((class << 13) | io.priority() as i32).context("process.ioPriority")?;
    }
    if let Some(s) = process.scheduler() {
        let mut attr = SchedAttr {
            policy: match s.policy() {
                LinuxSchedulerPolicy::SchedOther => 0,
                LinuxSchedulerPolicy::SchedFifo => 1,
                LinuxSchedulerPolicy::SchedRr => 2,
                LinuxSchedulerPolicy::SchedBatch => 3,
                LinuxSchedulerPolicy::SchedIso => 4,
                LinuxSchedulerPolicy::SchedIdle => 5,
                LinuxSchedulerPolicy::SchedDeadline => 6,
            },
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0) as u32,
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
            ..Default::default()
        };
        for f in s.flags().iter().flatten() {
            attr.flags |= match f {
                LinuxSchedulerFlag::SchedResetOnFork => 0x01,
                LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
                LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
                LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
                LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
                LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
                LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
            };
        }
        sched_setattr_self(&mut attr).context("process.scheduler: sched_setattr")?;
    }
    // Once the process is in the container's cgroups: `final`; else, unless `initial` chose
    // CPUs, every CPU the container's cpuset allows, as runc does: the affinity of whoever
    // ran hull (`taskset -c 0 runc run`) is not the container's.
    let affinity = process.exec_cpu_affinity().as_ref();
    match affinity.and_then(|a| a.cpu_affinity_final().as_ref()) {
        Some(list) => set_affinity("final", list)?,
        None if affinity.and_then(|a| a.initial().as_ref()).is_none() => reset_affinity()?,
        None => {}
    }
    Ok(())
}

/// Allow every CPU: the kernel narrows the set to what the process's cpuset allows.
fn reset_affinity() -> Result<()> {
    let mut all = nix::sched::CpuSet::new();
    for cpu in 0..nix::sched::CpuSet::count() {
        all.set(cpu).context("building the all-CPU set")?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &all)
        .context("resetting the CPU affinity to the container's cpuset: sched_setaffinity")
}

/// `process.execCPUAffinity.initial` as a hex mask ("0x6" for "1-2"), for the debug line
/// runc writes (`nsexec...: affinity: 0x6`).
pub fn initial_mask(process: &Process) -> Option<String> {
    let list = process.exec_cpu_affinity().as_ref()?.initial().as_ref()?;
    let set = cpu_list(list).ok()?;
    let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect();
    let top = *cpus.last()?;
    let mut words = vec![0u64; top / 64 + 1];
    for c in cpus {
        words[c / 64] |= 1 << (c % 64);
    }
    let mut hex = format!("0x{:x}", words[words.len() - 1]);
    for w in words.iter().rev().skip(1) {
        hex.push_str(&format!("{w:016x}"));
    }
    Some(hex)
}

/// `process.execCPUAffinity.initial`: the first act of a process that will enter the
/// container, before it joins the container's cgroups (so hull's set-up work runs on
/// those CPUs, not on the container's).
pub fn apply_initial(process: &Process) -> Result<()> {
    if let Some(list) = process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().as_ref())
    {
        set_affinity("initial", list)?;
    }
    Ok(())
}

fn set_affinity(field: &str, list: &str) -> Result<()> {
    let set = cpu_list(list).with_context(|| format!("process.execCPUAffinity.{field}"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("process.execCPUAffinity.{field} {list:?}: sched_setaffinity"))
}

/// Parse a cpu list such as "0-3,7".
pub fn cpu_list(s: &str) -> Result<nix::sched::CpuSet> {
    let mut set = nix::sched::CpuSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let (a, b): (usize, usize) = (
            a.parse()
                .with_context(|| format!("{s:?}: {a:?} is not a cpu number"))?,
            b.parse()
                .with_context(|| format!("{s:?}: {b:?} is not a cpu number"))?,
        );
        if a > b {
            bail!("{s:?}: range {part:?} is backwards");
        }
        for cpu in a..=b {
            set.set(cpu)
                .map_err(|_| anyhow::anyhow!("{s:?}: cpu {cpu} is out of range"))?;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::{cpu_list, initial_mask};

    #[test]
    fn cpu_lists_parse_like_the_kernel_writes_them() {
        let s = cpu_list("0-2,5").unwrap();
        for (cpu, want) in [(0, true), (1, true), (2, true), (3, false), (5, true)] {
            assert_eq!(s.is_set(cpu).unwrap(), want, "cpu {cpu}");
        }
        assert!(cpu_list("3-1").is_err());
        assert!(cpu_list("a").is_err());
    }

    #[test]
    fn the_initial_mask_prints_as_runc_logs_it() {
        let p = |initial: &str| -> oci_spec::runtime::Process {
            serde_json::from_value(serde_json::json!({
                "cwd": "/", "args": ["true"], "user": {"uid": 0, "gid": 0},
                "execCPUAffinity": {"initial": initial}
            }))
            .unwrap()
        };
        assert_eq!(initial_mask(&p("1")).as_deref(), Some("0x2"));
        assert_eq!(initial_mask(&p("0-1")).as_deref(), Some("0x3"));
        assert_eq!(initial_mask(&p("0,2")).as_deref(), Some("0x5"));
        assert_eq!(
            initial_mask(&p("0,64")).as_deref(),
            Some("0x10000000000000001")
        );
    }
}
