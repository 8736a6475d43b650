//! `linux.resources.unified` entries that have a systemd property (runc's table): cpu.max,
//! cpu.weight, cpu.idle, cpuset.cpus/mems, memory.{min,low,high,max,swap.max} and pids.max.
//! Every other key has none; hull writes all of them to the cgroup files anyway.

use super::properties::{cpu_quota, range_to_bits, Props};
use crate::dbus::Value;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;

const SD_ALLOWED_CPUS: u32 = 244;
const SD_CPU_IDLE: u32 = 252;

/// "max" or a number, as a u64 with "max" as infinity.
fn max_or_number(key: &str, v: &str) -> Result<u64> {
    if v == "max" {
        return Ok(u64::MAX);
    }
    v.parse().with_context(|| {
        format!("linux.resources.unified[{key:?}] = {v:?}: not a number or \"max\"")
    })
}

pub fn properties(map: &HashMap<String, String>, version: u32) -> Result<Props> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let idle = map.get("cpu.idle").map(|v| v.trim()) == Some("1") && version >= SD_CPU_IDLE;
    let mut out = Props::new();
    for k in keys {
        let v = map[k].trim();
        let field = || format!("linux.resources.unified[{k:?}] = {v:?}");
        match k.as_str() {
            "cpu.idle" if idle => out.push(("CPUWeight".into(), Value::U64(0))),
            "cpu.weight" if !idle => {
                let n: u64 = v
                    .parse()
                    .with_context(|| format!("{}: not a number", field()))?;
                out.push(("CPUWeight".into(), Value::U64(n)));
            }
            "cpu.max" => {
                let f: Vec<&str> = v.split_whitespace().collect();
                if f.is_empty() || f.len() > 2 {
                    bail!("{}: expected \"QUOTA [PERIOD]\"", field());
                }
                let quota = match f[0] {
                    "max" => 0,
                    q => q
                        .parse()
                        .with_context(|| format!("{}: bad quota", field()))?,
                };
                let period = match f.get(1) {
                    Some(p) => p
                        .parse()
                        .with_context(|| format!("{}: bad period", field()))?,
                    None => 100_000,
                };
                out.extend(cpu_quota(quota, period, version).0);
            }
            "cpuset.cpus" | "cpuset.mems" if version >= SD_ALLOWED_CPUS => {
                let bits = range_to_bits(v).with_context(field)?;
                let name = if k == "cpuset.cpus" {
                    "AllowedCPUs"
                } else {
                    "AllowedMemoryNodes"
                };
                out.push((
                    name.into(),
                    Value::array("y", bits.into_iter().map(Value::Byte).collect()),
                ));
            }
            "memory.min" | "memory.low" | "memory.high" | "memory.max" | "memory.swap.max" => {
                let name = match k.as_str() {
                    "memory.min" => "MemoryMin",
                    "memory.low" => "MemoryLow",
                    "memory.high" => "MemoryHigh",
                    "memory.max" => "MemoryMax",
                    _ => "MemorySwapMax",
                };
                out.push((name.into(), Value::U64(max_or_number(k, v)?)));
            }
            "pids.max" => {
                // systemd refuses TasksMax=0.
                let n = max_or_number(k, v)?.max(1);
                out.push(("TasksMax".into(), Value::U64(n)));
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn known_keys_become_properties_and_others_are_skipped() {
        let m = map(&[
            ("memory.high", "1048576"),
            ("memory.max", "max"),
            ("pids.max", "0"),
            ("cpu.max", "max 50000"),
            ("cpu.weight", " 200 "),
            ("io.latency", "8:0 target=10"),
        ]);
        let p = properties(&m, 252).unwrap();
        assert_eq!(
            p,
            vec![
                ("CPUQuotaPeriodUSec".to_string(), Value::U64(50_000)),
                ("CPUQuotaPerSecUSec".to_string(), Value::U64(u64::MAX)),
                ("CPUWeight".to_string(), Value::U64(200)),
                ("MemoryHigh".to_string(), Value::U64(1 << 20)),
                ("MemoryMax".to_string(), Value::U64(u64::MAX)),
                ("TasksMax".to_string(), Value::U64(1)),
            ]
        );
    }

    #[test]
    fn idle_wins_over_weight_and_bad_values_name_the_key() {
        let p = properties(&map(&[("cpu.idle", "1"), ("cpu.weight", "5")]), 252).unwrap();
        assert_eq!(p, vec![("CPUWeight".to_string(), Value::U64(0))]);
        let e = properties(&map(&[("memory.max", "lots")]), 252).unwrap_err();
        assert!(
            e.to_string()
                .contains("linux.resources.unified[\"memory.max\"]"),
            "{e}"
        );
        assert!(properties(&map(&[("cpu.max", "1 2 3")]), 252).is_err());
    }
}
