//! `linux.sysctl`: only keys that belong to one of the container's own namespaces may be
//! set (checked in the parent before anything is created), written by the init after
//! pivot_root through hull's procfs handle (`crate::procfs`), never through the
//! container's /proc: that may be a symlink into a volume a neighbour rewrites. A sysctl
//! file acts on the writer's namespaces whichever proc instance it is reached through.
//! `rootfs::finish` calls `apply`.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

use crate::namespaces::NsPlan;

const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Refuse keys outside the container's namespaces, naming the key and the namespace needed.
pub fn validate(sysctl: &HashMap<String, String>, ns: &NsPlan) -> Result<()> {
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let k = key.replace('/', ".");
        let need = if IPC_KEYS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
            ("ipc", ns.has_ipc)
        } else if k.starts_with("net.") {
            ("network", ns.has_net)
        } else if k == "kernel.hostname" || k == "kernel.domainname" {
            ("uts", ns.has_uts)
        } else {
            bail!("linux.sysctl {key:?}: not namespaced, so a container may not set it");
        };
        if !need.1 {
            bail!(
                "linux.sysctl {key:?}: needs a private {} namespace in linux.namespaces",
                need.0
            );
        }
    }
    Ok(())
}

/// Write each value to `sys/KEY` beneath hull's procfs handle. A key that already holds
/// its value (compared word by word, as the kernel may reformat it) is not written again.
pub fn apply(sysctl: &HashMap<String, String>) -> Result<()> {
    let proc = crate::procfs::get()?;
    for (key, value) in sysctl {
        // Every '.' becomes '/', so no key can hold a `..` component.
        let rel = format!("sys/{}", key.replace('.', "/"));
        let path = format!("/proc/{rel}");
        let current = proc
            .open(&rel, libc::O_RDONLY)
            .and_then(crate::procfs::read)
            .with_context(|| format!("linux.sysctl {key:?}: read {path}"))?;
        if same_value(&current, value) {
            continue;
        }
        let f = proc
            .open(&rel, libc::O_WRONLY)
            .with_context(|| format!("linux.sysctl {key:?}: open {path}"))?;
        crate::procfs::write(f, value)
            .with_context(|| format!("linux.sysctl {key:?}: write {value:?} to {path}"))?;
    }
    Ok(())
}

/// Equal up to whitespace: `kernel.sem` reads back tab-separated.
fn same_value(current: &str, wanted: &str) -> bool {
    current.split_whitespace().eq(wanted.split_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(ipc: bool, net: bool, uts: bool) -> NsPlan {
        NsPlan {
            has_ipc: ipc,
            has_net: net,
            has_uts: uts,
            ..Default::default()
        }
    }

    #[test]
    fn values_compare_word_by_word() {
        assert!(same_value("250\t32000\t32\t128\n", "250 32000 32 128"));
        assert!(same_value("1\n", "1"));
        assert!(!same_value("0\n", "1"));
        assert!(!same_value("1 2\n", "1"));
    }

    #[test]
    fn namespaced_keys_need_their_namespace() {
        let m = |k: &str| HashMap::from([(k.to_string(), "1".to_string())]);
        assert!(validate(&m("net.ipv4.ip_forward"), &ns(false, true, false)).is_ok());
        assert!(validate(&m("kernel.shmmax"), &ns(true, false, false)).is_ok());
        assert!(validate(&m("fs.mqueue.msg_max"), &ns(true, false, false)).is_ok());
        let e = validate(&m("net.ipv4.ip_forward"), &ns(true, false, true)).unwrap_err();
        assert!(e.to_string().contains("private network namespace"), "{e}");
        let e = validate(&m("vm.swappiness"), &ns(true, true, true)).unwrap_err();
        assert!(e.to_string().contains("not namespaced"), "{e}");
    }
}
