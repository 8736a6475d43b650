//! `linux.resources` written to cgroup v1 controllers (legacy and hybrid hosts). Each
//! controller's values go to the hierarchy that carries it; asking for a controller that is
//! not mounted is an error naming the setting. On hybrid hosts, hugetlb and rdma fall back to
//! the cgroup2 directory when they are enabled there, and the `unified` map is written there.

use super::{devices, fsio, v2, Cgroup, Mode};
use anyhow::{bail, Result};
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxNetwork, LinuxResources,
};
use std::path::{Path, PathBuf};

/// Every limit, device rules included (the v1 devices controller enforces them on hybrid
/// hosts too: no cgroup2 eBPF filter there, see `Cgroup::apply_device_filter`).
pub fn apply(cg: &Cgroup, res: &LinuxResources) -> Result<()> {
    if let Some(cpu) = res.cpu() {
        cpuset(cg, cpu)?;
    }
    if let Some(rules) = res.devices() {
        if !rules.is_empty() {
            devices::apply_v1(&need(cg, "devices", "devices")?, rules)?;
        }
    }
    if let Some(m) = res.memory() {
        memory(cg, m)?;
    }
    if let Some(cpu) = res.cpu() {
        cpu_limits(cg, cpu)?;
    }
    if let Some(p) = res.pids() {
        if p.limit() != 0 {
            let limit = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".to_string()
            };
            fsio::write(&need(cg, "pids", "pids.limit")?, "pids.max", &limit)?;
        }
    }
    if let Some(b) = res.block_io() {
        blkio(cg, b)?;
    }
    if let Some(h) = res.hugepage_limits() {
        hugetlb(cg, h)?;
    }
    if let Some(n) = res.network() {
        network(cg, n)?;
    }
    if let Some(r) = res.rdma() {
        if !r.is_empty() {
            match cg.v1_dir("rdma")? {
                Some(d) => v2::rdma(&d, r)?,
                None => v2::rdma(&hybrid_v2(cg, "rdma", "rdma.max")?, r)?,
            }
        }
    }
    if let Some(u) = res.unified() {
        if !u.is_empty() {
            match (cg.mode, cg.v2_dir()?) {
                (Mode::Hybrid, Some(d)) => {
                    hybrid_unified_keys(&d, u)?;
                    v2::unified(&d, u)?
                }
                _ => bail!(
                    "invalid configuration: linux.resources.unified: this host has no cgroup2 \
                     hierarchy (cgroup v1 only); use the v1 fields of linux.resources instead"
                ),
            }
        }
    }
    Ok(())
}

/// The container's directory for `controller`, or an error naming the setting.
/// On a hybrid host the cgroup2 hierarchy carries few controllers (here only hugetlb):
/// a `unified` key for any other (memory.min, pids.max) has no file to write, which is a
/// configuration that cannot work here, said as runc says it ("invalid configuration").
fn hybrid_unified_keys(dir: &Path, u: &std::collections::HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<_> = u.keys().collect();
    keys.sort();
    for k in keys {
        if !k.contains('/') && !k.starts_with('.') && !dir.join(k).exists() {
            let root_controllers = cg_root_controllers(dir);
            bail!(
                "invalid configuration: linux.resources.unified[{k:?}]: no such file in {}: \
                 on this hybrid host the cgroup2 hierarchy has only the controllers [{}]; set \
                 the v1 fields of linux.resources instead",
                dir.display(),
                root_controllers
            );
        }
    }
    Ok(())
}

/// The controllers of the cgroup2 hierarchy `dir` lies in (its mount root's
/// cgroup.controllers), for messages.
fn cg_root_controllers(dir: &Path) -> String {
    dir.ancestors()
        .filter_map(|a| std::fs::read_to_string(a.join("cgroup.controllers")).ok())
        .last()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn need(cg: &Cgroup, controller: &str, setting: &str) -> Result<PathBuf> {
    match cg.v1_dir(controller)? {
        Some(d) => Ok(d),
        None => bail!(
            "linux.resources.{setting}: the {controller} cgroup controller is not mounted on \
             this host (see /proc/self/mountinfo); remove the setting"
        ),
    }
}

/// On a hybrid host, the cgroup2 directory when `file` shows `controller` is enabled there.
fn hybrid_v2(cg: &Cgroup, controller: &str, file: &str) -> Result<PathBuf> {
    if let (Mode::Hybrid, Some(d)) = (cg.mode, cg.v2_dir()?) {
        // A listed controller with a file missing is a bad setting, for its writer to name.
        let listed = fsio::read(&d, "cgroup.controllers")
            .is_ok_and(|s| s.split_whitespace().any(|c| c == controller));
        if listed || fsio::has(&d, file) {
            return Ok(d);
        }
    }
    bail!(
        "linux.resources: the {controller} controller is neither mounted as cgroup v1 nor \
         enabled for the container's cgroup2 directory on this host; remove the {controller} \
         settings"
    )
}

fn cpuset(cg: &Cgroup, cpu: &LinuxCpu) -> Result<()> {
    if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
        fsio::write(&need(cg, "cpuset", "cpu.cpus")?, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
        fsio::write(&need(cg, "cpuset", "cpu.mems")?, "cpuset.mems", mems)?;
    }
    Ok(())
}

fn memory(cg: &Cgroup, m: &LinuxMemory) -> Result<()> {
    let dir = need(cg, "memory", "memory")?;
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    let memsw = "memory.memsw.limit_in_bytes";
    // Unlimited memory with no swap value means unlimited swap too (when accounted).
    if limit == -1 && swap == 0 && fsio::has(&dir, memsw) {
        swap = -1;
    }
    if swap != 0 && !fsio::has(&dir, memsw) {
        bail!(
            "linux.resources.memory.swap: this kernel does not account swap \
             (no {memsw}); remove the setting"
        );
    }
    // memsw must stay >= limit at every step: raise memsw first when it grows.
    let swap_first = limit != 0
        && swap != 0
        && (swap == -1 || current(&dir, "memory.limit_in_bytes") < swap as u64);
    if swap_first {
        fsio::write(&dir, memsw, &swap.to_string())?;
    }
    if limit != 0 {
        write_memory_limit(&dir, limit)?;
    }
    if swap != 0 && !swap_first {
        fsio::write(&dir, memsw, &swap.to_string())?;
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        fsio::write(&dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    #[allow(deprecated)]
    let kernel = [
        (m.kernel(), "memory.kmem.limit_in_bytes"),
        (m.kernel_tcp(), "memory.kmem.tcp.limit_in_bytes"),
    ];
    for (value, file) in kernel {
        if let Some(v) = value.filter(|v| *v != 0) {
            write_kernel_memory(&dir, file, v)?;
        }
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            bail!("linux.resources.memory.swappiness {s}: must be between 0 and 100");
        }
        fsio::write(&dir, "memory.swappiness", &s.to_string())?;
    }
    if m.disable_oom_killer() == Some(true) {
        fsio::write(&dir, "memory.oom_control", "1")?;
    }
    Ok(())
}

fn current(dir: &Path, file: &str) -> u64 {
    fsio::read(dir, file)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

/// EBUSY here means the cgroup already uses more than the new limit: say how much.
fn write_memory_limit(dir: &Path, limit: i64) -> Result<()> {
    let file = "memory.limit_in_bytes";
    match fsio::write_raw(dir, file, &limit.to_string()) {
        Ok(()) => Ok(()),
        Err(e) => {
            let usage = fsio::read(dir, "memory.usage_in_bytes").unwrap_or_default();
            bail!(
                "cgroup {file}: write {limit}: {} (in {}; current usage {usage} bytes)",
                fsio::describe(&e),
                dir.display()
            )
        }
    }
}

/// Kernel memory limits are obsolete (runtime-spec deprecates them; Linux >= 6.x refuses the
/// write): written only where the file exists, and a kernel that refuses it is not an error.
fn write_kernel_memory(dir: &Path, file: &str, v: i64) -> Result<()> {
    if !fsio::has(dir, file) {
        return Ok(());
    }
    match fsio::write_raw(dir, file, &v.to_string()) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
            ) =>
        {
            Ok(())
        }
        Err(e) => bail!(
            "cgroup {file}: write {v}: {} (in {})",
            fsio::describe(&e),
            dir.display()
        ),
    }
}

fn cpu_limits(cg: &Cgroup, cpu: &LinuxCpu) -> Result<()> {
    let wants = cpu.shares().is_some_and(|s| s != 0)
        || cpu.quota().is_some_and(|q| q != 0)
        || cpu.period().is_some_and(|p| p != 0)
        || cpu.burst().is_some()
        || cpu.realtime_runtime().is_some_and(|r| r != 0)
        || cpu.realtime_period().is_some_and(|p| p != 0)
        || cpu.idle().is_some();
    if !wants {
        return Ok(());
    }
    let dir = need(cg, "cpu", "cpu")?;
    if let Some(s) = cpu.shares().filter(|s| *s != 0) {
        fsio::write(&dir, "cpu.shares", &s.to_string())?;
        let got = fsio::read(&dir, "cpu.shares")?;
        if got != s.to_string() {
            bail!(
                "linux.resources.cpu.shares {s}: the kernel set {got} instead \
                 (cpu.shares must be between 2 and 262144)"
            );
        }
    }
    let period = cpu.period().filter(|p| *p != 0);
    let quota = cpu.quota().filter(|q| *q != 0);
    if let Some(p) = period {
        let res = fsio::write_raw(&dir, "cpu.cfs_period_us", &p.to_string());
        match (res, quota) {
            (Ok(()), _) => {}
            // A shorter period can be refused while the old quota is larger: quota first.
            (Err(e), Some(q)) if e.raw_os_error() == Some(libc::EINVAL) => {
                fsio::write(&dir, "cpu.cfs_quota_us", &q.to_string())?;
                fsio::write(&dir, "cpu.cfs_period_us", &p.to_string())?;
            }
            (Err(_), _) => fsio::write(&dir, "cpu.cfs_period_us", &p.to_string())?,
        }
    }
    if let Some(q) = quota {
        fsio::write(&dir, "cpu.cfs_quota_us", &q.to_string())?;
    }
    if let Some(b) = cpu.burst() {
        fsio::write(&dir, "cpu.cfs_burst_us", &b.to_string())?;
    }
    rt_limits(
        &dir,
        cpu.realtime_period().filter(|p| *p != 0),
        cpu.realtime_runtime().filter(|r| *r != 0),
    )?;
    if let Some(i) = cpu.idle() {
        fsio::write(&dir, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// cpu.rt_period_us and cpu.rt_runtime_us in an order the kernel accepts: it refuses a
/// period shorter than the runtime in force, so a period that goes below it is written
/// after the new runtime; otherwise the period first (a longer runtime needs it).
fn rt_limits(dir: &Path, period: Option<u64>, runtime: Option<i64>) -> Result<()> {
    let runtime_first = match (period, runtime) {
        (Some(p), Some(_)) => {
            let now: i64 = fsio::read(dir, "cpu.rt_runtime_us")?.parse().unwrap_or(-1);
            now > 0 && p < now as u64
        }
        _ => false,
    };
    if runtime_first {
        if let Some(r) = runtime {
            fsio::write(dir, "cpu.rt_runtime_us", &r.to_string())?;
        }
    }
    if let Some(p) = period {
        fsio::write(dir, "cpu.rt_period_us", &p.to_string())?;
    }
    if !runtime_first {
        if let Some(r) = runtime {
            fsio::write(dir, "cpu.rt_runtime_us", &r.to_string())?;
        }
    }
    Ok(())
}

fn blkio(cg: &Cgroup, b: &LinuxBlockIo) -> Result<()> {
    let dir = need(cg, "blkio", "blockIO")?;
    // CFQ exposes blkio.weight; BFQ (the only proportional scheduler left) its own file.
    let bfq = !fsio::has(&dir, "blkio.weight") && fsio::has(&dir, "blkio.bfq.weight");
    let (weight_file, weight_device_file) = if bfq {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("blkio.weight", "blkio.weight_device")
    };
    let need_file = |file: &str, setting: &str| -> Result<()> {
        if fsio::has(&dir, file) {
            Ok(())
        } else {
            bail!(
                "linux.resources.blockIO.{setting}: this host's blkio controller has no {file} \
                 (no CFQ/BFQ I/O scheduler); remove the setting"
            )
        }
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        need_file(weight_file, "weight")?;
        fsio::write(&dir, weight_file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        need_file("blkio.leaf_weight", "leafWeight")?;
        fsio::write(&dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for wd in b.weight_device().as_deref().unwrap_or_default() {
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            need_file(weight_device_file, "weightDevice")?;
            let v = format!("{}:{} {w}", wd.major(), wd.minor());
            fsio::write(&dir, weight_device_file, &v)?;
        }
        if let Some(w) = wd.leaf_weight().filter(|w| *w != 0) {
            need_file("blkio.leaf_weight_device", "weightDevice.leafWeight")?;
            let v = format!("{}:{} {w}", wd.major(), wd.minor());
            fsio::write(&dir, "blkio.leaf_weight_device", &v)?;
        }
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
        ),
    ];
    for (list, file) in throttles {
        for t in list.as_deref().unwrap_or_default() {
            let v = format!("{}:{} {}", t.major(), t.minor(), t.rate());
            fsio::write(&dir, file, &v)?;
        }
    }
    Ok(())
}

fn hugetlb(cg: &Cgroup, limits: &[LinuxHugepageLimit]) -> Result<()> {
    if limits.is_empty() {
        return Ok(());
    }
    let Some(dir) = cg.v1_dir("hugetlb")? else {
        let probe = format!("hugetlb.{}.max", limits[0].page_size());
        return v2::hugetlb(&hybrid_v2(cg, "hugetlb", &probe)?, limits);
    };
    for l in limits {
        let file = format!("hugetlb.{}.limit_in_bytes", l.page_size());
        if !fsio::has(&dir, &file) {
            bail!(
                "linux.resources.hugepageLimits: page size {:?} is not supported here \
                 (no {file})",
                l.page_size()
            );
        }
        fsio::write(&dir, &file, &l.limit().to_string())?;
        let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size());
        if fsio::has(&dir, &rsvd) {
            fsio::write(&dir, &rsvd, &l.limit().to_string())?;
        }
    }
    Ok(())
}

fn network(cg: &Cgroup, n: &LinuxNetwork) -> Result<()> {
    if let Some(id) = n.class_id() {
        let dir = need(cg, "net_cls", "network.classID")?;
        fsio::write(&dir, "net_cls.classid", &id.to_string())?;
    }
    let prios = n.priorities().as_deref().unwrap_or_default();
    if !prios.is_empty() {
        let dir = need(cg, "net_prio", "network.priorities")?;
        for p in prios {
            let v = format!("{} {}", p.name(), p.priority());
            fsio::write(&dir, "net_prio.ifpriomap", &v)?;
        }
    }
    Ok(())
}
