//! `hull update`: change the resource limits of a running container.

use std::io::Read;

use anyhow::{bail, Context, Result};
use clap::Args;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct UpdateArgs {
    /// File with LinuxResources JSON, or - for stdin
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CFS quota in µs per period, -1 for none
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CFS burst in µs: time a cgroup may run beyond its quota, saved from earlier periods
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// 1 makes the cgroup SCHED_IDLE-like (runs only when nothing else wants the CPU), 0 not
    #[arg(long = "cpu-idle", allow_negative_numbers = true)]
    pub cpu_idle: Option<i64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (e.g. 512m, 1g, bytes), -1 for none
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit, -1 for unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Kernel memory limits: obsolete in the kernel; accepted and ignored, as by runc
    #[arg(long = "kernel-memory", allow_hyphen_values = true, hide = true)]
    pub kernel_memory: Option<String>,
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true, hide = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Maximum number of tasks, -1 for none
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: UpdateArgs) -> anyhow::Result<i32> {
    let res = resources(&a)?;
    crate::container::update(&g.rt, &a.id, &res)?;
    Ok(0)
}

/// The LinuxResources to apply: `--resources FILE|-` as the base, flags on top.
fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        bail!("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported by hull");
    }
    let mut v = match a.resources.as_deref() {
        None => json!({}),
        Some(src) => {
            let text = if src == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("--resources -: reading stdin")?;
                s
            } else {
                std::fs::read_to_string(src).with_context(|| format!("--resources {src}"))?
            };
            serde_json::from_str(&text)
                .with_context(|| format!("--resources {src}: not LinuxResources JSON"))?
        }
    };
    let mut set = |section: &str, key: &str, val: Value| {
        if !v[section].is_object() {
            v[section] = json!({});
        }
        v[section][key] = val;
    };
    if let Some(w) = a.blkio_weight {
        set("blockIO", "weight", json!(w));
    }
    if let Some(x) = a.cpu_period {
        set("cpu", "period", json!(x));
    }
    if let Some(x) = a.cpu_quota {
        set("cpu", "quota", json!(x));
    }
    if let Some(x) = a.cpu_burst {
        set("cpu", "burst", json!(x));
    }
    if let Some(x) = a.cpu_idle {
        set("cpu", "idle", json!(x));
    }
    if let Some(x) = a.cpu_share {
        set("cpu", "shares", json!(x));
    }
    if let Some(x) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", json!(x));
    }
    if let Some(x) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", json!(x));
    }
    if let Some(x) = &a.cpuset_cpus {
        set("cpu", "cpus", json!(x));
    }
    if let Some(x) = &a.cpuset_mems {
        set("cpu", "mems", json!(x));
    }
    for (flag, key, val) in [
        ("--memory", "limit", &a.memory),
        ("--memory-reservation", "reservation", &a.memory_reservation),
        ("--memory-swap", "swap", &a.memory_swap),
    ] {
        if let Some(x) = val {
            set("memory", key, json!(parse_bytes(flag, x)?));
        }
    }
    if let Some(x) = a.pids_limit {
        set("pids", "limit", json!(x));
    }
    if a.kernel_memory.is_some() || a.kernel_memory_tcp.is_some() {
        crate::logging::warn("--kernel-memory/--kernel-memory-tcp are obsolete and ignored");
    }
    // As for config.json: an explicit pids limit of 0 means 1 (runc >= 1.2); the
    // resources type cannot tell it from an absent one, so it is mapped on the JSON.
    if let Some(l) = v
        .pointer_mut("/pids/limit")
        .filter(|l| l.as_i64() == Some(0))
    {
        *l = json!(1);
    }
    serde_json::from_value(v).context("update: the resulting resources are not valid")
}

/// Byte sizes as runc's update accepts them: plain numbers, -1, or units (k, m, g, t; KiB-based).
fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.trim_end_matches('b').trim_end_matches('i');
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: i64 = num
        .trim()
        .parse()
        .with_context(|| format!("{flag} {s:?}: not a size (e.g. 512m, 1g, 1048576, -1)"))?;
    n.checked_mul(mul)
        .with_context(|| format!("{flag} {s:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_parse_like_runc_update() {
        assert_eq!(parse_bytes("--memory", "1048576").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("--memory", "20m").unwrap(), 20 << 20);
        assert_eq!(parse_bytes("--memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("--memory", "-1").unwrap(), -1);
        assert!(parse_bytes("--memory", "lots").is_err());
    }
}
