//! v1-shaped OCI values turned into cgroup v2 values, with runc 1.1's formulas so a container
//! gets the same limits under hull as under runc.

use anyhow::{bail, Result};

/// cpu.shares [2, 262144] -> cpu.weight [1, 10000]: `1 + ((shares - 2) * 9999) / 262142`.
/// 0 means "not set". Out-of-range shares are clamped first (runc would wrap around).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// blkio.weight [10, 1000] -> io.weight [1, 10000]: `1 + (weight - 10) * 9999 / 990`.
/// 0 means "not set".
pub fn blkio_weight_to_io_weight(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    let w = weight.clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

/// OCI memory.swap is memory+swap; v2's memory.swap.max is swap alone. Returns the value
/// for memory.swap.max: None to leave it alone, Some(-1) for "max".
pub fn memory_swap_to_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<i64>> {
    let (swap, limit) = (swap.unwrap_or(0), limit.unwrap_or(0));
    // An unlimited memory without a swap value means both unlimited, as on v1.
    if limit == -1 && swap == 0 {
        return Ok(Some(-1));
    }
    match swap {
        0 => return Ok(None),
        -1 => return Ok(Some(-1)),
        _ => {}
    }
    if limit == 0 || limit == -1 {
        bail!("linux.resources.memory.swap {swap}: a swap limit needs a memory limit too");
    }
    if swap < limit {
        bail!(
            "linux.resources.memory.swap {swap}: must be >= memory.limit {limit} \
             (swap is memory+swap)"
        );
    }
    Ok(Some(swap - limit))
}

/// A limit as v2 writes it: negative means "max".
pub fn max_or(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_to_weight_with_runcs_formula() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(u64::MAX), 10_000);
    }

    #[test]
    fn blkio_weight_converts_to_io_weight_with_runcs_formula() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn memory_swap_becomes_swap_only_on_v2() {
        assert_eq!(memory_swap_to_v2(None, None).unwrap(), None);
        assert_eq!(memory_swap_to_v2(None, Some(-1)).unwrap(), Some(-1));
        assert_eq!(memory_swap_to_v2(Some(-1), Some(100)).unwrap(), Some(-1));
        assert_eq!(memory_swap_to_v2(Some(300), Some(100)).unwrap(), Some(200));
        assert!(memory_swap_to_v2(Some(50), Some(100)).is_err());
        assert!(memory_swap_to_v2(Some(50), None).is_err());
    }
}
