//! `linux.resources` as systemd unit properties, the ones runc sets (cgroup v2 names on a
//! unified host, v1 names otherwise), so systemd's own view of the unit agrees with the
//! files hull writes afterwards and a later re-apply by systemd (daemon-reload,
//! SetUnitProperties) does not undo them. Properties newer than the running systemd are
//! left out (the cgroupfs write still sets the limit), as runc does.
//!
//! The CPU quota goes to systemd as CPUQuotaPerSecUSec, which systemd keeps in 10 ms steps:
//! the quota is rounded up to a step and the rounded value is what hull writes too, so both
//! agree (runc's rule).

use super::devices::device_properties;
use crate::cgroups::convert::{memory_swap_to_v2, shares_to_weight};
use crate::dbus::Value;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;

/// A unit property list: (name, value).
pub type Props = Vec<(String, Value)>;

/// The kernel's default CPU quota period, in µs.
const DEFAULT_PERIOD: u64 = 100_000;
/// systemd versions that first took a property.
const SD_CPU_QUOTA_PERIOD: u32 = 242;
const SD_ALLOWED_CPUS: u32 = 244;
const SD_CPU_IDLE: u32 = 252;

fn prop(name: &str, v: Value) -> (String, Value) {
    (name.to_string(), v)
}

/// The properties for `res` on a unified (`v2`) or v1/hybrid host under systemd `version`,
/// and `res` with the CPU quota rounded as systemd will keep it.
pub fn for_resources(
    res: &LinuxResources,
    v2: bool,
    version: u32,
) -> Result<(Props, LinuxResources)> {
    let mut out = Props::new();
    let mut adjusted = res.clone();
    if let Some(rules) = res.devices() {
        out.extend(device_properties(rules, v2, version));
    }
    if let Some(m) = res.memory() {
        if let Some(l) = m.limit().filter(|l| *l != 0) {
            let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
            out.push(prop(name, Value::U64(l as u64)));
        }
        if v2 {
            if let Some(r) = m.reservation().filter(|r| *r != 0) {
                out.push(prop("MemoryLow", Value::U64(r as u64)));
            }
            if let Some(s) = memory_swap_to_v2(m.swap(), m.limit())? {
                out.push(prop("MemorySwapMax", Value::U64(s as u64)));
            }
        }
    }
    if let Some(cpu) = res.cpu() {
        let idle = v2 && cpu.idle() == Some(1) && version >= SD_CPU_IDLE;
        if idle {
            // systemd sets cpu.idle=1 for CPUWeight=0.
            out.push(prop("CPUWeight", Value::U64(0)));
        }
        if let Some(s) = cpu.shares().filter(|s| *s != 0) {
            if !v2 {
                out.push(prop("CPUShares", Value::U64(s)));
            } else if !idle {
                out.push(prop("CPUWeight", Value::U64(shares_to_weight(s))));
            }
        }
        let quota = cpu.quota().unwrap_or(0);
        let period = cpu.period().unwrap_or(0);
        let (props, rounded) = cpu_quota(quota, period, version);
        out.extend(props);
        if rounded != quota {
            let mut c = cpu.clone();
            c.set_quota(Some(rounded));
            adjusted.set_cpu(Some(c));
        }
        if version >= SD_ALLOWED_CPUS {
            if let Some(cpus) = cpu.cpus().as_deref().filter(|s| !s.is_empty()) {
                let bits = range_to_bits(cpus).context("linux.resources.cpu.cpus")?;
                out.push(prop("AllowedCPUs", bytes(bits)));
            }
            if let Some(mems) = cpu.mems().as_deref().filter(|s| !s.is_empty()) {
                let bits = range_to_bits(mems).context("linux.resources.cpu.mems")?;
                out.push(prop("AllowedMemoryNodes", bytes(bits)));
            }
        }
    }
    if !v2 {
        if let Some(w) = res
            .block_io()
            .as_ref()
            .and_then(|b| b.weight())
            .filter(|w| *w != 0)
        {
            out.push(prop("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    if let Some(p) = res.pids() {
        match p.limit() {
            0 => {}
            l if l < 0 => out.push(prop("TasksMax", Value::U64(u64::MAX))),
            l => out.push(prop("TasksMax", Value::U64(l as u64))),
        }
    }
    if v2 {
        if let Some(u) = res.unified() {
            out.extend(super::unified::properties(u, version)?);
        }
    }
    Ok((out, adjusted))
}

/// CPUQuotaPeriodUSec (systemd >= 242) and CPUQuotaPerSecUSec for a quota and period (0 =
/// unset); returns the quota rounded up to systemd's 10 ms-per-second steps.
pub fn cpu_quota(quota: i64, period: u64, version: u32) -> (Props, i64) {
    let mut out = Props::new();
    if period != 0 && version >= SD_CPU_QUOTA_PERIOD {
        out.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    let mut quota = quota;
    if quota != 0 || period != 0 {
        // u64::MAX is systemd's USEC_INFINITY: no quota.
        let mut per_sec = u64::MAX;
        if quota > 0 {
            let period = if period == 0 { DEFAULT_PERIOD } else { period };
            per_sec = (quota as u64).saturating_mul(1_000_000) / period;
            if per_sec % 10_000 != 0 {
                per_sec = (per_sec / 10_000 + 1) * 10_000;
                quota = (per_sec.saturating_mul(period) / 1_000_000) as i64;
            }
        }
        out.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
    }
    (out, quota)
}

fn bytes(b: Vec<u8>) -> Value {
    Value::array("y", b.into_iter().map(Value::Byte).collect())
}

/// A cpuset list ("0-3,8") as the little-endian bitmask bytes systemd's AllowedCPUs and
/// AllowedMemoryNodes take: byte 0 holds CPUs 0-7, bit 0 CPU 0.
pub fn range_to_bits(list: &str) -> Result<Vec<u8>> {
    let mut bits: Vec<u8> = Vec::new();
    let mut set = |n: u32| {
        let i = (n / 8) as usize;
        if bits.len() <= i {
            bits.resize(i + 1, 0);
        }
        bits[i] |= 1 << (n % 8);
    };
    let num = |s: &str| -> Result<u32> {
        s.parse::<u32>()
            .with_context(|| format!("{list:?}: {s:?} is not a number"))
    };
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    bail!("{list:?}: range {part:?} runs backwards");
                }
                if b >= 1 << 16 {
                    bail!("{list:?}: {b} is larger than any CPU or node number");
                }
                (a..=b).for_each(&mut set);
            }
            None => {
                let n = num(part)?;
                if n >= 1 << 16 {
                    bail!("{list:?}: {n} is larger than any CPU or node number");
                }
                set(n);
            }
        }
    }
    if bits.is_empty() {
        bail!("{list:?}: lists no CPU or node");
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn names(p: &Props) -> Vec<&str> {
        p.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn get<'a>(p: &'a Props, name: &str) -> &'a Value {
        &p.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing: {p:?}"))
            .1
    }

    #[test]
    fn cpu_lists_become_runcs_bitmasks() {
        // runc's RangeToBits table (cpuset_test.go), in little-endian byte order.
        let cases: &[(&str, &[u8])] = &[
            ("0", &[1]),
            ("1", &[2]),
            ("0-1", &[3]),
            ("0,1", &[3]),
            (",0,1,", &[3]),
            ("0-3", &[0x0f]),
            ("0,1,2-3", &[0x0f]),
            ("4-7", &[0xf0]),
            ("0-7", &[0xff]),
            ("0-15", &[0xff, 0xff]),
            ("16", &[0, 0, 1]),
            ("0-3,32-33", &[0x0f, 0, 0, 0, 3]),
            ("1, 2, 1-2", &[6]),
            ("    , 1   , 3  ,  5-7,\t", &[0xea]),
        ];
        for (input, want) in cases {
            assert_eq!(range_to_bits(input).unwrap(), *want, "{input:?}");
        }
        for bad in ["", "-", "1-", "-3", "54-53", "1 - 2", "x", "99999999"] {
            assert!(range_to_bits(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cpu_quota_rounds_up_to_systemds_10ms_steps() {
        // 50 ms per 100 ms: 500000 µs/s, already a step.
        let (p, q) = cpu_quota(50_000, 100_000, 252);
        assert_eq!(names(&p), ["CPUQuotaPeriodUSec", "CPUQuotaPerSecUSec"]);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), &Value::U64(500_000));
        assert_eq!(q, 50_000);
        // 12345 µs per 100 ms = 123450 µs/s, rounded to 130000; the quota follows.
        let (p, q) = cpu_quota(12_345, 100_000, 252);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), &Value::U64(130_000));
        assert_eq!(q, 13_000);
        // No period: the kernel default; old systemd gets no period property.
        let (p, _) = cpu_quota(20_000, 0, 241);
        assert_eq!(names(&p), ["CPUQuotaPerSecUSec"]);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), &Value::U64(200_000));
        // Unlimited quota with a period: infinity.
        let (p, _) = cpu_quota(-1, 50_000, 252);
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), &Value::U64(u64::MAX));
        assert!(cpu_quota(0, 0, 252).0.is_empty());
    }

    #[test]
    fn v2_limits_use_v2_property_names() {
        let r = res(
            r#"{"memory":{"limit":67108864,"reservation":1048576,"swap":134217728},
                        "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1","mems":"0"},
                        "pids":{"limit":42},"blockIO":{"weight":500}}"#,
        );
        let (p, adj) = for_resources(&r, true, 252).unwrap();
        assert_eq!(get(&p, "MemoryMax"), &Value::U64(64 << 20));
        assert_eq!(get(&p, "MemoryLow"), &Value::U64(1 << 20));
        assert_eq!(get(&p, "MemorySwapMax"), &Value::U64(64 << 20));
        assert_eq!(get(&p, "CPUWeight"), &Value::U64(39));
        assert_eq!(get(&p, "TasksMax"), &Value::U64(42));
        assert_eq!(get(&p, "AllowedCPUs"), &bytes(vec![3]));
        assert_eq!(get(&p, "AllowedMemoryNodes"), &bytes(vec![1]));
        assert!(!names(&p).contains(&"BlockIOWeight"), "{p:?}");
        assert!(!names(&p).contains(&"MemoryLimit"), "{p:?}");
        assert_eq!(adj, r);
    }

    #[test]
    fn v1_limits_use_v1_property_names() {
        let r = res(r#"{"memory":{"limit":67108864,"reservation":1048576},
                        "cpu":{"shares":512},"pids":{"limit":-1},"blockIO":{"weight":300}}"#);
        let (p, _) = for_resources(&r, false, 252).unwrap();
        assert_eq!(
            names(&p),
            ["MemoryLimit", "CPUShares", "BlockIOWeight", "TasksMax"]
        );
        assert_eq!(get(&p, "CPUShares"), &Value::U64(512));
        assert_eq!(get(&p, "TasksMax"), &Value::U64(u64::MAX));
    }

    #[test]
    fn unset_and_zero_values_give_no_properties() {
        let r = res(r#"{"memory":{"limit":0},"cpu":{},"pids":{"limit":0}}"#);
        assert!(for_resources(&r, true, 252).unwrap().0.is_empty());
        assert!(for_resources(&LinuxResources::default(), false, 252)
            .unwrap()
            .0
            .is_empty());
    }

    #[test]
    fn idle_replaces_the_weight_on_new_systemd_only() {
        let r = res(r#"{"cpu":{"shares":1024,"idle":1}}"#);
        let (p, _) = for_resources(&r, true, 252).unwrap();
        assert_eq!(names(&p), ["CPUWeight"]);
        assert_eq!(get(&p, "CPUWeight"), &Value::U64(0));
        let (p, _) = for_resources(&r, true, 251).unwrap();
        assert_eq!(get(&p, "CPUWeight"), &Value::U64(39));
    }

    #[test]
    fn rounded_quota_is_handed_back_for_the_cgroupfs_write() {
        let r = res(r#"{"cpu":{"quota":12345,"period":100000}}"#);
        let (_, adj) = for_resources(&r, true, 252).unwrap();
        assert_eq!(adj.cpu().as_ref().unwrap().quota(), Some(13_000));
    }

    #[test]
    fn cpusets_are_left_to_cgroupfs_before_systemd_244() {
        let r = res(r#"{"cpu":{"cpus":"0"}}"#);
        assert!(for_resources(&r, true, 243).unwrap().0.is_empty());
        assert!(for_resources(&res(r#"{"cpu":{"cpus":"x"}}"#), true, 252).is_err());
    }
}
