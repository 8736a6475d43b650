//! The container's cgroup directories themselves: create them (with v1 cpuset's inherited
//! cpus/mems and, on pure v2, the controllers enabled down the path), move pids in, list the
//! pids inside, and remove the directories when the container is gone.

use super::{fsio, v2, Cgroup, Dir, Mode};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long `destroy` keeps retrying a directory the kernel still calls busy.
const RMDIR_PATIENCE: Duration = Duration::from_secs(1);

/// Make the directories: all of them, or only the cgroup2 (`Some(true)`) or v1
/// (`Some(false)`) ones.
pub fn create(cg: &Cgroup, only_v2: Option<bool>) -> Result<()> {
    for (d, dir) in cg.checked_dirs()? {
        if only_v2.is_some_and(|v2| v2 != d.v2) {
            continue;
        }
        check_mount(d)?;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cgroup: create {}", dir.display()))?;
        if !d.v2 && d.controllers.iter().any(|c| c == "cpuset") {
            inherit_cpuset(&d.mount, &dir)?;
        }
        if d.v2 && cg.mode == Mode::Unified {
            v2::enable_controllers(&d.mount, &dir)?;
        }
    }
    Ok(())
}

/// The hierarchy must still be mounted where the layout said: `/sys/fs/cgroup` is a tmpfs
/// here, and a mkdir there for an unmounted controller would make a plain directory.
fn check_mount(d: &Dir) -> Result<()> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};
    let want = if d.v2 {
        CGROUP2_SUPER_MAGIC
    } else {
        CGROUP_SUPER_MAGIC
    };
    match statfs(&d.mount) {
        Ok(s) if s.filesystem_type() == want => Ok(()),
        Ok(_) => bail!(
            "cgroup: {} is no longer a {} mount; refusing to create directories there",
            d.mount.display(),
            d.name()
        ),
        Err(e) => bail!(
            "cgroup: the {} hierarchy at {}: {}",
            d.name(),
            d.mount.display(),
            e.desc()
        ),
    }
}

/// A new v1 cpuset cgroup starts with empty cpus and mems, and no task can join it until
/// they are set: fill every empty one on the way down from the parent's values.
fn inherit_cpuset(mount: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(mount).unwrap_or(dir);
    let mut parent = mount.to_path_buf();
    for c in rel.components() {
        let child = parent.join(c);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if fsio::read(&child, file)?.is_empty() {
                let value = fsio::read(&parent, file)?;
                fsio::write(&child, file, &value)?;
            }
        }
        parent = child;
    }
    Ok(())
}

/// Write `pid` to `cgroup.procs` on every hierarchy, or only on the v2 (`Some(true)`) or
/// v1 (`Some(false)`) ones.
pub fn add(cg: &Cgroup, pid: i32, only_v2: Option<bool>) -> Result<()> {
    for (d, dir) in cg.checked_dirs()? {
        if only_v2.is_some_and(|v2| v2 != d.v2) {
            continue;
        }
        fsio::write(&dir, "cgroup.procs", &pid.to_string())?;
    }
    Ok(())
}

pub fn pids(cg: &Cgroup) -> Result<Vec<i32>> {
    let mut all = Vec::new();
    for (_, dir) in cg.checked_dirs()? {
        for d in fsio::subtree(&dir)? {
            all.extend(fsio::procs(&d)?);
        }
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

pub fn destroy(cg: &Cgroup) -> Result<()> {
    let mut failures = Vec::new();
    for (_, dir) in cg.checked_dirs()? {
        // The common case first: no sub-cgroups, nothing inside, one rmdir. Only when that
        // fails is the subtree listed (a container may have made child cgroups).
        match std::fs::remove_dir(&dir) {
            Ok(()) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => {}
        }
        let mut dirs = fsio::subtree(&dir)?;
        dirs.reverse(); // deepest first
        for d in dirs {
            if let Err(e) = rmdir_patiently(&d) {
                failures.push(e);
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        _ => bail!("{}", failures.join("; ")),
    }
}

/// rmdir, retrying EBUSY (tasks still exiting) for up to `RMDIR_PATIENCE`; gone is fine.
fn rmdir_patiently(d: &Path) -> std::result::Result<(), String> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(d) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < RMDIR_PATIENCE => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                let still = fsio::procs(d).unwrap_or_default();
                return Err(format!(
                    "cgroup: remove {}: {}{}",
                    d.display(),
                    fsio::describe(&e),
                    if still.is_empty() {
                        String::new()
                    } else {
                        format!(" (processes still inside: {still:?})")
                    }
                ));
            }
        }
    }
}
