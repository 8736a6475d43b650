//! `Stats`: hull's `events --stats` record (runc's JSON stats) as the cgroup v1 `Metrics`
//! message containerd decodes (`ctr task metrics`, CRI's container stats).

use containerd_shim::protos::cgroups::metrics::{
    BlkIOEntry, BlkIOStat, CPUStat, CPUUsage, HugetlbStat, MemoryEntry, MemoryStat, Metrics,
    PidsStat, Throttle,
};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn entry(v: &Value) -> MemoryEntry {
    let mut e = MemoryEntry::new();
    e.limit = n(&v["limit"]);
    e.usage = n(&v["usage"]);
    e.max = n(&v["max"]);
    e.failcnt = n(&v["failcnt"]);
    e
}

fn blkio(v: &Value) -> Vec<BlkIOEntry> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let mut e = BlkIOEntry::new();
            e.major = n(&x["major"]);
            e.minor = n(&x["minor"]);
            e.op = x["op"].as_str().unwrap_or_default().to_string();
            e.value = n(&x["value"]);
            e
        })
        .collect()
}

fn memory(m: &Value) -> MemoryStat {
    let raw = &m["raw"];
    let r = |k: &str| n(&raw[k]);
    let mut s = MemoryStat::new();
    s.cache = r("cache");
    s.rss = r("rss");
    s.rss_huge = r("rss_huge");
    s.mapped_file = r("mapped_file");
    s.dirty = r("dirty");
    s.writeback = r("writeback");
    s.pg_pg_in = r("pgpgin");
    s.pg_pg_out = r("pgpgout");
    s.pg_fault = r("pgfault");
    s.pg_maj_fault = r("pgmajfault");
    s.inactive_anon = r("inactive_anon");
    s.active_anon = r("active_anon");
    s.inactive_file = r("inactive_file");
    s.active_file = r("active_file");
    s.unevictable = r("unevictable");
    s.hierarchical_memory_limit = r("hierarchical_memory_limit");
    s.hierarchical_swap_limit = r("hierarchical_memsw_limit");
    s.total_cache = r("total_cache");
    s.total_rss = r("total_rss");
    s.total_rss_huge = r("total_rss_huge");
    s.total_mapped_file = r("total_mapped_file");
    s.total_dirty = r("total_dirty");
    s.total_writeback = r("total_writeback");
    s.total_pg_pg_in = r("total_pgpgin");
    s.total_pg_pg_out = r("total_pgpgout");
    s.total_pg_fault = r("total_pgfault");
    s.total_pg_maj_fault = r("total_pgmajfault");
    s.total_inactive_anon = r("total_inactive_anon");
    s.total_active_anon = r("total_active_anon");
    s.total_inactive_file = r("total_inactive_file");
    s.total_active_file = r("total_active_file");
    s.total_unevictable = r("total_unevictable");
    if raw.get("total_inactive_file").is_none() && raw.get("anon").is_some() {
        v2_counters(&mut s, raw);
    }
    if s.cache == 0 {
        s.cache = n(&m["cache"]);
    }
    s.usage = Some(entry(&m["usage"])).into();
    s.swap = Some(entry(&m["swap"])).into();
    s.kernel = Some(entry(&m["kernel"])).into();
    s.kernel_tcp = Some(entry(&m["kernelTCP"])).into();
    s
}

/// A cgroup v2 memory.stat (already hierarchical, other names) in the v1 fields: what
/// containerd's CRI reads from v1 metrics — the working set is usage minus
/// total_inactive_file, RSS is rss — is then right on a v2 host too.
fn v2_counters(s: &mut MemoryStat, raw: &Value) {
    let r = |k: &str| n(&raw[k]);
    s.rss = r("anon");
    s.total_rss = s.rss;
    s.cache = r("file");
    s.total_cache = s.cache;
    s.mapped_file = r("file_mapped");
    s.total_mapped_file = s.mapped_file;
    s.dirty = r("file_dirty");
    s.total_dirty = s.dirty;
    s.writeback = r("file_writeback");
    s.total_writeback = s.writeback;
    s.total_inactive_anon = s.inactive_anon;
    s.total_active_anon = s.active_anon;
    s.total_inactive_file = s.inactive_file;
    s.total_active_file = s.active_file;
    s.total_unevictable = s.unevictable;
    s.total_pg_fault = s.pg_fault;
    s.total_pg_maj_fault = s.pg_maj_fault;
}

/// The `data` of a stats record as `Metrics`.
pub fn metrics(d: &Value) -> Metrics {
    let mut m = Metrics::new();
    let mut pids = PidsStat::new();
    pids.current = n(&d["pids"]["current"]);
    pids.limit = n(&d["pids"]["limit"]);
    m.pids = Some(pids).into();

    let cpu = &d["cpu"];
    let mut usage = CPUUsage::new();
    usage.total = n(&cpu["usage"]["total"]);
    usage.kernel = n(&cpu["usage"]["kernel"]);
    usage.user = n(&cpu["usage"]["user"]);
    usage.per_cpu = cpu["usage"]["percpu"]
        .as_array()
        .into_iter()
        .flatten()
        .map(n)
        .collect();
    let mut thr = Throttle::new();
    thr.periods = n(&cpu["throttling"]["periods"]);
    thr.throttled_periods = n(&cpu["throttling"]["throttledPeriods"]);
    thr.throttled_time = n(&cpu["throttling"]["throttledTime"]);
    let mut c = CPUStat::new();
    c.usage = Some(usage).into();
    c.throttling = Some(thr).into();
    m.cpu = Some(c).into();

    m.memory = Some(memory(&d["memory"])).into();

    let b = &d["blkio"];
    let mut io = BlkIOStat::new();
    io.io_service_bytes_recursive = blkio(&b["ioServiceBytesRecursive"]);
    io.io_serviced_recursive = blkio(&b["ioServicedRecursive"]);
    m.blkio = Some(io).into();

    if let Some(h) = d["hugetlb"].as_object() {
        for (size, v) in h {
            let mut s = HugetlbStat::new();
            s.pagesize = size.clone();
            s.usage = n(&v["usage"]);
            s.max = n(&v["max"]);
            s.failcnt = n(&v["failcnt"]);
            m.hugetlb.push(s);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_stats_json_becomes_v1_metrics() {
        let d = serde_json::json!({
            "cpu": {"usage": {"total": 5, "percpu": [2, 3], "kernel": 1, "user": 4},
                    "throttling": {"periods": 7, "throttledPeriods": 1, "throttledTime": 9}},
            "memory": {"cache": 11, "usage": {"limit": 64, "usage": 32, "max": 40, "failcnt": 1},
                       "swap": {"limit": 1}, "kernel": {"limit": 2}, "kernelTCP": {"limit": 3},
                       "raw": {"rss": 20, "total_inactive_file": 6, "pgfault": 8}},
            "pids": {"current": 1, "limit": 10},
            "blkio": {"ioServiceBytesRecursive": [{"major": 8, "minor": 0, "op": "Read", "value": 100}]},
            "hugetlb": {"2MB": {"usage": 0, "failcnt": 0}}
        });
        let m = metrics(&d);
        assert_eq!((m.pids.current, m.pids.limit), (1, 10));
        assert_eq!(m.cpu.usage.total, 5);
        assert_eq!(m.cpu.usage.per_cpu, vec![2, 3]);
        assert_eq!(m.cpu.throttling.throttled_time, 9);
        let mem = &m.memory;
        assert_eq!(
            (mem.usage.limit, mem.usage.usage, mem.usage.max),
            (64, 32, 40)
        );
        assert_eq!(
            (mem.cache, mem.rss, mem.total_inactive_file, mem.pg_fault),
            (11, 20, 6, 8)
        );
        assert_eq!(mem.kernel_tcp.limit, 3);
        assert_eq!(m.blkio.io_service_bytes_recursive[0].value, 100);
        assert_eq!(m.hugetlb[0].pagesize, "2MB");
        // A cgroup v2 host's memory.stat: the v1 fields containerd's CRI reads are filled.
        let d = serde_json::json!({"memory": {"usage": {"usage": 100},
            "raw": {"anon": 30, "file": 50, "inactive_file": 40, "active_file": 10,
                    "pgfault": 7, "file_mapped": 5}}});
        let mem = metrics(&d).memory;
        assert_eq!(
            (mem.rss, mem.total_rss, mem.cache, mem.mapped_file),
            (30, 30, 50, 5)
        );
        assert_eq!(
            (
                mem.total_inactive_file,
                mem.total_active_file,
                mem.total_pg_fault
            ),
            (40, 10, 7)
        );
        // An empty record is all zeros, not an error.
        assert_eq!(metrics(&serde_json::json!({})).pids.current, 0);
    }
}
