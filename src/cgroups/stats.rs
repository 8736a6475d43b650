//! Resource usage for `events --stats`, in runc 1.1's JSON shape (`types.Stats`: cpu,
//! cpuset, memory, pids, blkio, hugetlb, ...), read from v1 controllers or the v2 directory.
//! Missing files leave their fields at zero, as runc does for absent controllers.

use super::{fsio, Cgroup, Mode};
use anyhow::Result;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One record of `events`, its keys in runc's order (`{"type":"stats","id":...,"data":...}`,
/// `{"type":"oom","id":...}`), which callers that match the line as text depend on.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a Stats>,
}

impl Event<'_> {
    /// The record as one JSON line (without the newline).
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: serde_json::Map<String, serde_json::Value>,
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Cgroup {
    /// The container's current resource usage.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        if self.mode == Mode::Unified {
            if let Some(d) = self.v2_dir()? {
                v2_stats(&d, &mut s);
            }
            return Ok(s);
        }
        if let Some(d) = self.v1_dir("cpuacct")? {
            v1_cpuacct(&d, &mut s.cpu.usage);
        }
        if let Some(d) = self.v1_dir("cpu")? {
            let kv = key_values(&d, "cpu.stat");
            throttling(&kv, 1, &mut s.cpu.throttling, "throttled_time");
        }
        if let Some(d) = self.v1_dir("cpuset")? {
            cpuset(&d, &mut s.cpuset);
        }
        if let Some(d) = self.v1_dir("memory")? {
            v1_memory(&d, &mut s.memory);
        }
        if let Some(d) = self.v1_dir("pids")? {
            pids(&d, &mut s.pids);
        }
        if let Some(d) = self.v1_dir("blkio")? {
            s.blkio.io_service_bytes_recursive =
                v1_blkio(&d, "blkio.throttle.io_service_bytes_recursive");
            s.blkio.io_serviced_recursive = v1_blkio(&d, "blkio.throttle.io_serviced_recursive");
        }
        match (self.v1_dir("hugetlb")?, self.v2_dir()?) {
            (Some(d), _) => hugetlb(&d, &mut s.hugetlb, false),
            (None, Some(d)) => hugetlb(&d, &mut s.hugetlb, true),
            _ => {}
        }
        Ok(s)
    }
}

/// A number file; "max" and missing files read as 0 except where noted by the caller.
fn num(dir: &Path, file: &str) -> u64 {
    fsio::read(dir, file)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// "key value" lines (cpu.stat, memory.stat, cpuacct.stat).
fn key_values(dir: &Path, file: &str) -> HashMap<String, u64> {
    let text = fsio::read(dir, file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn list(dir: &Path, file: &str) -> Vec<u64> {
    let text = fsio::read(dir, file).unwrap_or_default();
    text.split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// "0-2,4" -> [0, 1, 2, 4].
fn cpu_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
            out.extend(a..=b.max(a));
        }
    }
    out
}

fn ticks_to_ns(ticks: u64) -> u64 {
    // USER_HZ is 100 on every Linux ABI hull targets.
    ticks.saturating_mul(10_000_000)
}

fn v1_cpuacct(d: &Path, u: &mut CpuUsage) {
    u.total = num(d, "cpuacct.usage");
    u.percpu = list(d, "cpuacct.usage_percpu");
    u.percpu_kernel = list(d, "cpuacct.usage_percpu_sys");
    u.percpu_user = list(d, "cpuacct.usage_percpu_user");
    let kv = key_values(d, "cpuacct.stat");
    u.user = ticks_to_ns(kv.get("user").copied().unwrap_or(0));
    u.kernel = ticks_to_ns(kv.get("system").copied().unwrap_or(0));
}

fn throttling(kv: &HashMap<String, u64>, scale: u64, t: &mut Throttling, time_key: &str) {
    t.periods = kv.get("nr_periods").copied().unwrap_or(0);
    t.throttled_periods = kv.get("nr_throttled").copied().unwrap_or(0);
    t.throttled_time = kv.get(time_key).copied().unwrap_or(0) * scale;
}

fn cpuset(d: &Path, c: &mut CpuSet) {
    c.cpus = cpu_list(&fsio::read(d, "cpuset.cpus").unwrap_or_default());
    c.mems = cpu_list(&fsio::read(d, "cpuset.mems").unwrap_or_default());
    c.cpu_exclusive = num(d, "cpuset.cpu_exclusive");
    c.mem_hardwall = num(d, "cpuset.mem_hardwall");
    c.mem_exclusive = num(d, "cpuset.mem_exclusive");
    c.memory_migrate = num(d, "cpuset.memory_migrate");
    c.memory_spread_page = num(d, "cpuset.memory_spread_page");
    c.memory_spread_slab = num(d, "cpuset.memory_spread_slab");
    c.memory_pressure = num(d, "cpuset.memory_pressure");
    c.sched_load_balance = num(d, "cpuset.sched_load_balance");
    c.sched_relax_domain_level = fsio::read(d, "cpuset.sched_relax_domain_level")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
}

fn v1_memory(d: &Path, m: &mut Memory) {
    m.raw = key_values(d, "memory.stat").into_iter().collect();
    m.cache = m
        .raw
        .get("total_cache")
        .or(m.raw.get("cache"))
        .copied()
        .unwrap_or(0);
    let entry = |prefix: &str| MemoryEntry {
        limit: num(d, &format!("{prefix}.limit_in_bytes")),
        usage: num(d, &format!("{prefix}.usage_in_bytes")),
        max: num(d, &format!("{prefix}.max_usage_in_bytes")),
        failcnt: num(d, &format!("{prefix}.failcnt")),
    };
    m.usage = entry("memory");
    m.swap = entry("memory.memsw");
    m.kernel = entry("memory.kmem");
    m.kernel_tcp = entry("memory.kmem.tcp");
}

fn pids(d: &Path, p: &mut Pids) {
    p.current = num(d, "pids.current");
    p.limit = num(d, "pids.max"); // "max" reads as 0, runc's "no limit"
}

/// "8:0 Read 4096" lines; the "Total N" line is skipped.
fn v1_blkio(d: &Path, file: &str) -> Vec<BlkioEntry> {
    let text = fsio::read(d, file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let [dev, op, value] = f.as_slice() else {
                return None;
            };
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

fn hugetlb(d: &Path, out: &mut BTreeMap<String, Hugetlb>, v2: bool) {
    let Ok(rd) = std::fs::read_dir(d) else {
        return;
    };
    let suffix = if v2 { ".max" } else { ".limit_in_bytes" };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(size) = name
            .strip_prefix("hugetlb.")
            .and_then(|r| r.strip_suffix(suffix))
            .filter(|s| !s.contains('.'))
        else {
            continue;
        };
        let h = if v2 {
            Hugetlb {
                usage: num(d, &format!("hugetlb.{size}.current")),
                max: 0,
                failcnt: key_values(d, &format!("hugetlb.{size}.events"))
                    .get("max")
                    .copied()
                    .unwrap_or(0),
            }
        } else {
            Hugetlb {
                usage: num(d, &format!("hugetlb.{size}.usage_in_bytes")),
                max: num(d, &format!("hugetlb.{size}.max_usage_in_bytes")),
                failcnt: num(d, &format!("hugetlb.{size}.failcnt")),
            }
        };
        out.insert(size.to_string(), h);
    }
}

fn v2_stats(d: &Path, s: &mut Stats) {
    let cpu = key_values(d, "cpu.stat");
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    s.cpu.usage.total = us("usage_usec");
    s.cpu.usage.user = us("user_usec");
    s.cpu.usage.kernel = us("system_usec");
    throttling(&cpu, 1000, &mut s.cpu.throttling, "throttled_usec");
    s.cpuset.cpus = cpu_list(&fsio::read(d, "cpuset.cpus.effective").unwrap_or_default());
    s.cpuset.mems = cpu_list(&fsio::read(d, "cpuset.mems.effective").unwrap_or_default());
    let m = &mut s.memory;
    m.raw = key_values(d, "memory.stat").into_iter().collect();
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    let mem_max = num(d, "memory.max");
    m.usage = MemoryEntry {
        limit: if mem_max == 0 { u64::MAX } else { mem_max },
        usage: num(d, "memory.current"),
        max: num(d, "memory.peak"),
        failcnt: key_values(d, "memory.events")
            .get("max")
            .copied()
            .unwrap_or(0),
    };
    // v1-shaped: swap is memory+swap.
    let swap_max = num(d, "memory.swap.max");
    m.swap = MemoryEntry {
        limit: if swap_max == 0 || mem_max == 0 {
            u64::MAX
        } else {
            swap_max + mem_max
        },
        usage: num(d, "memory.swap.current") + m.usage.usage,
        max: 0,
        failcnt: 0,
    };
    pids(d, &mut s.pids);
    for line in fsio::read(d, "io.stat").unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|dev| dev.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let value = v.parse().unwrap_or(0);
            let (list, op) = match k {
                "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    hugetlb(d, &mut s.hugetlb, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_expand_ranges() {
        assert_eq!(cpu_list("0-2,4"), vec![0, 1, 2, 4]);
        assert_eq!(cpu_list(""), Vec::<u16>::new());
    }

    #[test]
    fn v2_stats_read_cpu_memory_pids_and_io() {
        let d = std::env::temp_dir().join(format!("hull-stats-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let files = [
            (
                "cpu.stat",
                "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 4\n",
            ),
            ("memory.current", "4096\n"),
            ("memory.max", "max\n"),
            ("memory.stat", "anon 1\nfile 7\n"),
            ("pids.current", "3\n"),
            ("pids.max", "10\n"),
            (
                "io.stat",
                "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0\n",
            ),
        ];
        for (f, v) in files {
            std::fs::write(d.join(f), v).unwrap();
        }
        let mut s = Stats::default();
        v2_stats(&d, &mut s);
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(
            (s.cpu.usage.total, s.cpu.usage.user, s.cpu.usage.kernel),
            (5000, 3000, 2000)
        );
        assert_eq!(s.cpu.throttling.periods, 4);
        assert_eq!((s.memory.usage.usage, s.memory.cache), (4096, 7));
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!((s.pids.current, s.pids.limit), (3, 10));
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_serviced_recursive[1].op, "Write");
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["memory"]["kernelTCP"].is_object());
        assert!(json["blkio"]["ioServiceBytesRecursive"].is_array());
    }
}
