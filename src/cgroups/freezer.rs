//! Freezing and signalling a whole cgroup: v1 `freezer.state` (FROZEN/THAWED, waiting until
//! it really reads FROZEN), v2 `cgroup.freeze` (waiting on `cgroup.events` "frozen 1"), and
//! `kill_all`: `cgroup.kill` for SIGKILL where the kernel has it, otherwise freeze, signal
//! every pid, thaw, so no process escapes by forking in between.

use super::{fsio, Cgroup};
use anyhow::{bail, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a freeze may take before hull gives up and thaws again.
const FREEZE_PATIENCE: Duration = Duration::from_secs(5);

/// The directory and flavour of the freezer this container uses: the v1 freezer when
/// mounted, else cgroup2's cgroup.freeze.
enum Freezer {
    V1(std::path::PathBuf),
    V2(std::path::PathBuf),
}

fn freezer(cg: &Cgroup) -> Result<Option<Freezer>> {
    if let Some(d) = cg.v1_dir("freezer")? {
        return Ok(Some(Freezer::V1(d)));
    }
    if let Some(d) = cg.v2_dir()? {
        if fsio::has(&d, "cgroup.freeze") || !d.exists() {
            return Ok(Some(Freezer::V2(d)));
        }
    }
    Ok(None)
}

pub fn set(cg: &Cgroup, frozen: bool) -> Result<()> {
    match freezer(cg)? {
        Some(Freezer::V1(d)) => set_v1(&d, frozen),
        Some(Freezer::V2(d)) => set_v2(&d, frozen),
        None => bail!(
            "cgroups: cannot {} the container: this host has neither the v1 freezer \
             controller nor cgroup2's cgroup.freeze",
            if frozen { "pause" } else { "resume" }
        ),
    }
}

pub fn is_frozen(cg: &Cgroup) -> Result<bool> {
    match freezer(cg)? {
        Some(Freezer::V1(d)) if d.exists() => Ok(fsio::read(&d, "freezer.state")? == "FROZEN"),
        Some(Freezer::V2(d)) if d.exists() => v2_frozen(&d),
        _ => Ok(false),
    }
}

/// Refuse a container's cgroup that exists already and is frozen (v1 freezer.state not
/// THAWED, or cgroup2 cgroup.freeze set): the init would be stopped the moment it entered
/// it, and create would wait for it forever. Checks both hierarchies of a hybrid host.
pub fn refuse_frozen(cg: &Cgroup) -> Result<()> {
    if let Some(d) = cg
        .v1_dir("freezer")?
        .filter(|d| fsio::has(d, "freezer.state"))
    {
        let state = fsio::read(&d, "freezer.state")?;
        if state != "THAWED" {
            bail!(
                "container's cgroup unexpectedly frozen: {}/freezer.state is {state}; \
                 thaw it (echo THAWED > that file) or choose another cgroupsPath",
                d.display()
            );
        }
    }
    if let Some(d) = cg.v2_dir()?.filter(|d| fsio::has(d, "cgroup.freeze")) {
        if fsio::read(&d, "cgroup.freeze")? == "1" || v2_frozen(&d)? {
            bail!(
                "container's cgroup unexpectedly frozen: {}/cgroup.freeze is 1; thaw it \
                 (echo 0 > that file) or choose another cgroupsPath",
                d.display()
            );
        }
    }
    Ok(())
}

/// Set a v1 freezer cgroup FROZEN or THAWED and wait until the kernel agrees. A freeze that
/// stays FREEZING past the deadline is undone and reported.
pub fn set_v1(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let start = Instant::now();
    let mut pause = Duration::from_micros(100);
    loop {
        // Writing FROZEN again nudges tasks that were busy (e.g. in vfork) the last time.
        fsio::write(dir, "freezer.state", want)?;
        let state = fsio::read(dir, "freezer.state")?;
        if state == want {
            return Ok(());
        }
        if start.elapsed() > FREEZE_PATIENCE {
            if frozen {
                let _ = fsio::write(dir, "freezer.state", "THAWED");
            }
            bail!(
                "cgroup freezer.state: still {state} after {:?} waiting for {want} (in {}){}",
                FREEZE_PATIENCE,
                dir.display(),
                if frozen { "; thawed it again" } else { "" }
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Set cgroup2's cgroup.freeze and wait for `cgroup.events` to report the new state.
pub fn set_v2(dir: &Path, frozen: bool) -> Result<()> {
    fsio::write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let start = Instant::now();
    let mut pause = Duration::from_micros(100);
    while v2_frozen(dir)? != frozen {
        if start.elapsed() > FREEZE_PATIENCE {
            if frozen {
                let _ = fsio::write(dir, "cgroup.freeze", "0");
            }
            bail!(
                "cgroup cgroup.events: not {} after {:?} (in {}){}",
                if frozen { "frozen" } else { "thawed" },
                FREEZE_PATIENCE,
                dir.display(),
                if frozen { "; thawed it again" } else { "" }
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
    Ok(())
}

/// The "frozen" key of cgroup.events.
pub fn v2_frozen(dir: &Path) -> Result<bool> {
    let events = fsio::read(dir, "cgroup.events")?;
    Ok(events.lines().any(|l| l.trim() == "frozen 1"))
}

/// Signal every process of the cgroup. Signal 0 (`kill -a ID 0`) only checks that each
/// process still exists, as kill(2) does, and changes nothing.
pub fn kill_all(cg: &Cgroup, sig: i32) -> Result<()> {
    if !cg.paths().iter().any(|p| p.is_dir()) {
        return Ok(()); // nothing left to signal
    }
    if sig == 0 {
        for pid in cg.pids()? {
            let _ = kill(Pid::from_raw(pid), None);
        }
        return Ok(());
    }
    let signal = Signal::try_from(sig)
        .map_err(|_| anyhow::anyhow!("cgroups: kill_all: {sig} is not a signal number"))?;
    if signal == Signal::SIGKILL {
        if let Some(d) = cg.v2_dir()? {
            if fsio::has(&d, "cgroup.kill") {
                match fsio::write_raw(&d, "cgroup.kill", "1") {
                    Ok(()) => {}
                    // Removed meanwhile (systemd removes an emptied scope at once): nothing
                    // is left to kill.
                    Err(e) if fsio::is_gone(&e) => return Ok(()),
                    Err(e) => bail!(
                        "cgroup cgroup.kill: write 1: {} (in {})",
                        fsio::describe(&e),
                        d.display()
                    ),
                }
                // On a hybrid host a paused container sits in the v1 freezer, whose frozen
                // tasks cannot die until thawed.
                if let Some(Freezer::V1(f)) = freezer(cg)? {
                    if f.exists() && fsio::read(&f, "freezer.state")? != "THAWED" {
                        set_v1(&f, false)?;
                    }
                }
                return Ok(());
            }
        }
    }
    let fz = freezer(cg)?.is_some();
    let was_frozen = fz && is_frozen(cg)?;
    // A failed freeze still leaves signalling worth doing; only the fork race reopens.
    let froze = fz && !was_frozen && set(cg, true).is_ok();
    let mut failed = Vec::new();
    for pid in cg.pids()? {
        match kill(Pid::from_raw(pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => failed.push(format!("{pid}: {}", e.desc())),
        }
    }
    // A frozen task cannot act on the signal; leave a paused container paused unless it is
    // being killed.
    if froze || (was_frozen && signal == Signal::SIGKILL) {
        set(cg, false)?;
    }
    if !failed.is_empty() {
        bail!("cgroups: signal {signal} to {}", failed.join(", "));
    }
    Ok(())
}
