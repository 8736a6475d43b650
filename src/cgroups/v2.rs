//! `linux.resources` written to a cgroup v2 directory (pure v2 hosts, and the hugetlb, rdma
//! and `unified` pieces a hybrid host routes to its cgroup2 hierarchy). v1-shaped values are
//! converted as runc converts them (see `convert`). Every function takes the directory, so
//! tests can point them at a directory of plain files.

use super::convert::{blkio_weight_to_io_weight, max_or, memory_swap_to_v2, shares_to_weight};
use super::fsio;
use anyhow::{bail, Result};
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxRdma, LinuxResources,
};
use std::collections::HashMap;
use std::path::Path;

/// Every limit but `devices`: the eBPF device filter is `Cgroup::apply_device_filter`'s.
pub fn apply(dir: &Path, res: &LinuxResources) -> Result<()> {
    if let Some(cpu) = res.cpu() {
        cpu_limits(dir, cpu)?;
    }
    if let Some(m) = res.memory() {
        memory(dir, m)?;
    }
    if let Some(p) = res.pids() {
        if p.limit() != 0 {
            fsio::write(dir, "pids.max", &max_or(p.limit()))?;
        }
    }
    if let Some(b) = res.block_io() {
        io(dir, b)?;
    }
    if let Some(h) = res.hugepage_limits() {
        hugetlb(dir, h)?;
    }
    if let Some(r) = res.rdma() {
        rdma(dir, r)?;
    }
    if let Some(n) = res.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            bail!(
                "linux.resources.network: cgroup v2 has no net_cls/net_prio controllers; \
                 remove the setting"
            );
        }
    }
    if let Some(u) = res.unified() {
        unified(dir, u)?;
    }
    Ok(())
}

/// Enable every available controller in `cgroup.subtree_control` from the hierarchy root
/// down to `dir`'s parent, as runc does, so `dir` gets the controllers' files. A controller
/// that cannot be enabled somewhere (e.g. a parent holding processes) is skipped; writing
/// its limit then fails with a message naming the file.
pub fn enable_controllers(mount: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(mount).unwrap_or(dir);
    let mut cur = mount.to_path_buf();
    for c in rel.components() {
        enable_in(&cur, cur == mount);
        cur.push(c);
    }
    Ok(())
}

/// Enable every available controller for the children of `dir`: all at once, else one by
/// one (one may be refused, e.g. cpu while a realtime task runs) — except below the root
/// in a cgroup that holds processes. There the domain controllers (memory, io) are refused
/// by the no-internal-processes rule, and enabling only the threaded ones (cpu, pids,
/// cpuset) would turn it into a threaded domain whose domain children — the container's
/// cgroup — can take no process at all (EOPNOTSUPP). Left alone, the limit that needs a
/// controller fails with an error naming its file.
fn enable_in(dir: &Path, is_root: bool) {
    let Ok(avail) = fsio::read(dir, "cgroup.controllers") else {
        return;
    };
    let all: Vec<String> = avail.split_whitespace().map(|c| format!("+{c}")).collect();
    if all.is_empty() || fsio::write_raw(dir, "cgroup.subtree_control", &all.join(" ")).is_ok() {
        return;
    }
    if !is_root && fsio::read(dir, "cgroup.procs").is_ok_and(|p| !p.is_empty()) {
        return;
    }
    for c in all {
        let _ = fsio::write_raw(dir, "cgroup.subtree_control", &c);
    }
}

fn cpu_limits(dir: &Path, cpu: &LinuxCpu) -> Result<()> {
    if cpu.realtime_runtime().is_some_and(|r| r != 0)
        || cpu.realtime_period().is_some_and(|p| p != 0)
    {
        bail!(
            "linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime \
             group scheduling; remove the settings"
        );
    }
    if let Some(s) = cpu.shares().filter(|s| *s != 0) {
        fsio::write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
    }
    let quota = cpu.quota().filter(|q| *q != 0);
    let period = cpu.period().filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        let mut v = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        if let Some(p) = period {
            v.push_str(&format!(" {p}"));
        }
        fsio::write(dir, "cpu.max", &v)?;
    }
    if let Some(b) = cpu.burst() {
        fsio::write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = cpu.idle() {
        fsio::write(dir, "cpu.idle", &i.to_string())?;
    }
    if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
        fsio::write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
        fsio::write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// memory.swap.max first, then memory.max, then memory.low (runc's order). Swappiness,
/// disableOOMKiller and kernel limits have no v2 file and are ignored, as runc does.
fn memory(dir: &Path, m: &LinuxMemory) -> Result<()> {
    if let Some(swap) = memory_swap_to_v2(m.swap(), m.limit())? {
        let v = max_or(swap);
        if fsio::has(dir, "memory.swap.max") {
            fsio::write(dir, "memory.swap.max", &v)?;
        } else if swap != -1 {
            bail!(
                "linux.resources.memory.swap: this kernel does not account swap \
                 (no memory.swap.max); remove the setting"
            );
        }
    }
    if let Some(l) = m.limit().filter(|l| *l != 0) {
        fsio::write(dir, "memory.max", &max_or(l))?;
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        fsio::write(dir, "memory.low", &max_or(r))?;
    }
    Ok(())
}

/// BFQ takes blkio-range weights in io.bfq.weight; otherwise io.weight, converted.
fn io(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let bfq = fsio::has(dir, "io.bfq.weight");
    let weight = |w: u16| -> (&'static str, u64) {
        if bfq {
            ("io.bfq.weight", u64::from(w))
        } else {
            ("io.weight", blkio_weight_to_io_weight(u64::from(w)))
        }
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        let (file, v) = weight(w);
        fsio::write(dir, file, &format!("default {v}"))?;
    }
    for wd in b.weight_device().as_deref().unwrap_or_default() {
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            let (file, v) = weight(w);
            fsio::write(dir, file, &format!("{}:{} {v}", wd.major(), wd.minor()))?;
        }
    }
    let throttles = [
        (b.throttle_read_bps_device(), "rbps"),
        (b.throttle_write_bps_device(), "wbps"),
        (b.throttle_read_iops_device(), "riops"),
        (b.throttle_write_iops_device(), "wiops"),
    ];
    for (list, key) in throttles {
        for t in list.as_deref().unwrap_or_default() {
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            fsio::write(
                dir,
                "io.max",
                &format!("{}:{} {key}={rate}", t.major(), t.minor()),
            )?;
        }
    }
    Ok(())
}

pub fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<()> {
    for l in limits {
        let file = format!("hugetlb.{}.max", l.page_size());
        if !fsio::has(dir, &file) {
            bail!(
                "linux.resources.hugepageLimits: page size {:?} is not available in {} \
                 (no {file})",
                l.page_size(),
                dir.display()
            );
        }
        fsio::write(dir, &file, &max_or(l.limit()))?;
        let rsvd = format!("hugetlb.{}.rsvd.max", l.page_size());
        if fsio::has(dir, &rsvd) {
            fsio::write(dir, &rsvd, &max_or(l.limit()))?;
        }
    }
    Ok(())
}

/// rdma.max takes "DEVICE hca_handle=N hca_object=M" (the same line on v1 and v2).
pub fn rdma(dir: &Path, limits: &HashMap<String, LinuxRdma>) -> Result<()> {
    let mut devs: Vec<_> = limits.iter().collect();
    devs.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, l) in devs {
        let n = |v: Option<u32>| v.map_or("max".to_string(), |v| v.to_string());
        let v = format!(
            "{dev} hca_handle={} hca_object={}",
            n(l.hca_handles()),
            n(l.hca_objects())
        );
        fsio::write(dir, "rdma.max", &v)?;
    }
    Ok(())
}

/// `linux.resources.unified`: each key is a file in the cgroup directory, written as is.
pub fn unified(dir: &Path, map: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<_> = map.keys().collect();
    keys.sort();
    for k in keys {
        if k.is_empty() || k.contains('/') || k.starts_with('.') || !k.contains('.') {
            bail!("linux.resources.unified[{k:?}]: not a cgroup file name (like \"memory.high\")");
        }
        let v = &map[k];
        if let Err(e) = fsio::write_raw(dir, k, v) {
            if e.kind() == std::io::ErrorKind::NotFound {
                bail!(
                    "linux.resources.unified[{k:?}]: no such file in {} (is its controller \
                     enabled there?)",
                    dir.display()
                );
            }
            bail!(
                "cgroup {k}: write {v}: {} (in {})",
                fsio::describe(&e),
                dir.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of plain files standing in for a v2 cgroup.
    struct FakeCgroup(std::path::PathBuf);

    impl FakeCgroup {
        fn new(tag: &str, files: &[&str]) -> FakeCgroup {
            let d = std::env::temp_dir().join(format!("hull-v2-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            for f in files {
                std::fs::write(d.join(f), "").unwrap();
            }
            FakeCgroup(d)
        }
        fn get(&self, f: &str) -> String {
            std::fs::read_to_string(self.0.join(f)).unwrap()
        }
    }

    impl Drop for FakeCgroup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const V2_FILES: &[&str] = &[
        "cpu.weight",
        "cpu.max",
        "cpu.max.burst",
        "cpu.idle",
        "cpuset.cpus",
        "cpuset.mems",
        "memory.max",
        "memory.low",
        "memory.high",
        "memory.swap.max",
        "pids.max",
        "io.weight",
        "io.max",
        "hugetlb.2MB.max",
        "hugetlb.2MB.rsvd.max",
    ];

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn cpu_and_cpuset_values_are_converted_and_written() {
        let c = FakeCgroup::new("cpu", V2_FILES);
        let r = res(
            r#"{"cpu":{"shares":1024,"quota":50000,"period":100000,"burst":1000,
                      "idle":1,"cpus":"0-1","mems":"0"}}"#,
        );
        apply(&c.0, &r).unwrap();
        assert_eq!(c.get("cpu.weight"), "39");
        assert_eq!(c.get("cpu.max"), "50000 100000");
        assert_eq!(c.get("cpu.max.burst"), "1000");
        assert_eq!(c.get("cpu.idle"), "1");
        assert_eq!(c.get("cpuset.cpus"), "0-1");
        assert_eq!(c.get("cpuset.mems"), "0");
    }

    #[test]
    fn unlimited_quota_writes_max_with_the_period() {
        let c = FakeCgroup::new("cpumax", V2_FILES);
        apply(&c.0, &res(r#"{"cpu":{"quota":-1,"period":20000}}"#)).unwrap();
        assert_eq!(c.get("cpu.max"), "max 20000");
    }

    #[test]
    fn memory_limit_reservation_and_swap_go_to_v2_files() {
        let c = FakeCgroup::new("mem", V2_FILES);
        let r = res(r#"{"memory":{"limit":1048576,"reservation":524288,"swap":3145728}}"#);
        apply(&c.0, &r).unwrap();
        assert_eq!(c.get("memory.max"), "1048576");
        assert_eq!(c.get("memory.low"), "524288");
        assert_eq!(c.get("memory.swap.max"), "2097152");
        apply(&c.0, &res(r#"{"memory":{"limit":-1}}"#)).unwrap();
        assert_eq!(c.get("memory.max"), "max");
        assert_eq!(c.get("memory.swap.max"), "max");
    }

    #[test]
    fn pids_io_and_hugetlb_limits_are_written() {
        let c = FakeCgroup::new("pio", V2_FILES);
        let r = res(r#"{"pids":{"limit":42},"blockIO":{"weight":500,
              "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1000}]},
              "hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#);
        apply(&c.0, &r).unwrap();
        assert_eq!(c.get("pids.max"), "42");
        assert_eq!(c.get("io.weight"), "default 4950");
        assert_eq!(c.get("io.max"), "8:0 rbps=1000");
        assert_eq!(c.get("hugetlb.2MB.max"), "4194304");
        assert_eq!(c.get("hugetlb.2MB.rsvd.max"), "4194304");
        apply(&c.0, &res(r#"{"pids":{"limit":-1}}"#)).unwrap();
        assert_eq!(c.get("pids.max"), "max");
    }

    #[test]
    fn unified_map_is_passed_through_and_bad_keys_are_refused() {
        let c = FakeCgroup::new("uni", V2_FILES);
        apply(&c.0, &res(r#"{"unified":{"memory.high":"65536"}}"#)).unwrap();
        assert_eq!(c.get("memory.high"), "65536");
        let e = apply(&c.0, &res(r#"{"unified":{"../x.y":"1"}}"#)).unwrap_err();
        assert!(e.to_string().contains("linux.resources.unified"), "{e}");
        let e = apply(&c.0, &res(r#"{"unified":{"nosuch.file":"1"}}"#)).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
    }

    #[test]
    fn missing_controller_file_names_file_and_value() {
        let c = FakeCgroup::new("missing", &[]);
        let e = apply(&c.0, &res(r#"{"pids":{"limit":7}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cgroup pids.max: write 7: No such file"),
            "{e}"
        );
    }

    #[test]
    fn realtime_and_network_settings_are_refused_on_v2() {
        let c = FakeCgroup::new("rt", V2_FILES);
        assert!(apply(&c.0, &res(r#"{"cpu":{"realtimeRuntime":1000}}"#)).is_err());
        assert!(apply(&c.0, &res(r#"{"network":{"classID":1}}"#)).is_err());
    }
}
