//! `linux.memoryPolicy` (runtime-spec 1.3): the NUMA memory policy of every process that
//! enters the container, set with `set_mempolicy(2)` by the process itself just before
//! execve (the policy is inherited across fork and kept across execve). `check` refuses in
//! the parent what is wrong on its face: a node this host does not have, nodes given to a
//! mode that takes none (or missing where one needs them), two node-numbering flags;
//! anything else the kernel refuses fails at `apply`, naming the field.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Spec};

/// Mode names `hull features` reports, in the kernel's numbering order.
pub const MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_PREFERRED",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_LOCAL",
    "MPOL_PREFERRED_MANY",
    "MPOL_WEIGHTED_INTERLEAVE",
];
pub const FLAGS: &[&str] = &[
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// Largest node number accepted (the kernel's MAX_NUMNODES is at most 1024).
const MAX_NODE: usize = 1023;

fn mode_number(m: MemoryPolicyModeType) -> i32 {
    use MemoryPolicyModeType::*;
    match m {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    }
}

fn flag_bit(f: MemoryPolicyFlagType) -> i32 {
    use MemoryPolicyFlagType::*;
    match f {
        MpolFStaticNodes => 1 << 15,
        MpolFRelativeNodes => 1 << 14,
        MpolFNumaBalancing => 1 << 13,
    }
}

fn policy(spec: &Spec) -> Option<&LinuxMemoryPolicy> {
    spec.linux().as_ref()?.memory_policy().as_ref()
}

/// Validate `linux.memoryPolicy` in the parent, before anything is created.
pub fn check(spec: &Spec) -> Result<()> {
    let Some(p) = policy(spec) else {
        return Ok(());
    };
    let mode = p.mode();
    let flags = p.flags().as_deref().unwrap_or(&[]);
    let nodes = nodes_of(p)?;
    let name = mode.to_string();
    use MemoryPolicyFlagType::*;
    use MemoryPolicyModeType::*;
    let numbering = |f: &MemoryPolicyFlagType| matches!(f, MpolFStaticNodes | MpolFRelativeNodes);
    if flags.iter().filter(|f| numbering(f)).count() > 1 {
        bail!("linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
    }
    match mode {
        MpolDefault | MpolLocal if !nodes.is_empty() => {
            bail!(
                "linux.memoryPolicy.nodes: {name} takes no nodes (mode requires 0 nodes but \
                 got {}); remove them",
                nodes.len()
            )
        }
        MpolDefault if !flags.is_empty() => {
            bail!("linux.memoryPolicy.flags: {name} takes no flags; remove them")
        }
        MpolBind | MpolInterleave | MpolWeightedInterleave | MpolPreferredMany
            if nodes.is_empty() =>
        {
            bail!("linux.memoryPolicy.nodes: {name} needs at least one node")
        }
        _ => {}
    }
    // Relative and static node numbers may name nodes the host lacks: they are read
    // against the allowed set (relative) or kept for when the set changes (static).
    if !flags.iter().any(numbering) {
        let online = online_nodes();
        if let Some(n) = nodes.iter().find(|n| !online.contains(n)) {
            bail!(
                "linux.memoryPolicy.nodes {:?}: node {n} does not exist on this host (online: {})",
                p.nodes().as_deref().unwrap_or(""),
                crate::kfile::read("/sys/devices/system/node/online")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "0".into())
            );
        }
    }
    Ok(())
}

/// Set the policy for the calling process (the init or an exec'd process, before execve).
pub fn apply(p: &LinuxMemoryPolicy) -> Result<()> {
    let nodes = nodes_of(p)?;
    let mut mask = Vec::new();
    if let Some(max) = nodes.iter().max() {
        mask = vec![0u64; max / 64 + 1];
        for n in &nodes {
            mask[n / 64] |= 1 << (n % 64);
        }
    }
    let flags = p.flags().as_deref().unwrap_or(&[]);
    let bits = flags
        .iter()
        .fold(mode_number(p.mode()), |b, f| b | flag_bit(*f));
    crate::sys::sched::set_mempolicy(bits, &mask).with_context(|| {
        let names: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        format!(
            "linux.memoryPolicy: the kernel refused mode {} with flags [{}] and nodes {:?} (set_mempolicy)",
            p.mode(),
            names.join(", "),
            p.nodes().as_deref().unwrap_or("")
        )
    })
}

fn nodes_of(p: &LinuxMemoryPolicy) -> Result<Vec<usize>> {
    let s = p.nodes().as_deref().unwrap_or("");
    node_list(s)
        .with_context(|| format!("invalid memory policy node: linux.memoryPolicy.nodes {s:?}"))
}

/// Parse a node list such as "0-3,7" (the kernel's list format).
pub fn node_list(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let num = |x: &str| -> Result<usize> {
            x.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{x:?} is not a node number"))
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            bail!("range {part:?} is backwards");
        }
        if b > MAX_NODE {
            bail!("node {b} is beyond the largest node number ({MAX_NODE})");
        }
        out.extend(a..=b);
    }
    Ok(out)
}

fn online_nodes() -> Vec<usize> {
    crate::kfile::read("/sys/devices/system/node/online")
        .ok()
        .and_then(|s| node_list(s.trim()).ok())
        .unwrap_or_else(|| vec![0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mp: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.3.0", "root": {"path": "rootfs"},
            "linux": {"memoryPolicy": mp}
        }))
        .unwrap()
    }

    #[test]
    fn node_lists_parse_like_the_kernel_writes_them() {
        assert_eq!(node_list("0-2,7").unwrap(), vec![0, 1, 2, 7]);
        assert_eq!(node_list("").unwrap(), Vec::<usize>::new());
        assert!(node_list("3-1").is_err());
        assert!(node_list("x").is_err());
        assert!(node_list("4096").is_err());
    }

    #[test]
    fn checks_name_the_field_and_the_problem() {
        let err = |v| format!("{:#}", check(&spec(v)).unwrap_err());
        assert!(err(serde_json::json!({"mode": "MPOL_BIND"})).contains("needs at least one node"));
        assert!(
            err(serde_json::json!({"mode": "MPOL_BIND", "nodes": "0,63"}))
                .contains("node 63 does not exist")
        );
        assert!(
            err(serde_json::json!({"mode": "MPOL_LOCAL", "nodes": "0"})).contains("takes no nodes")
        );
        assert!(err(serde_json::json!({"mode": "MPOL_BIND", "nodes": "0",
            "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}))
        .contains("exclude each other"));
        check(&spec(serde_json::json!({"mode": "MPOL_DEFAULT"}))).unwrap();
        check(&spec(serde_json::json!({"mode": "MPOL_PREFERRED"}))).unwrap();
        check(&spec(serde_json::json!({"mode": "MPOL_BIND", "nodes": "5",
            "flags": ["MPOL_F_RELATIVE_NODES"]})))
        .unwrap();
    }
}
