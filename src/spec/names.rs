//! The runtime spec's vocabularies: the names config.json may use for namespaces, rlimits,
//! devices, hooks and capabilities. `features` lists what hull supports; this lists what is
//! valid at all.

/// `linux.namespaces[].type` values (config-linux.md).
pub const NAMESPACE_TYPES: &[&str] = &[
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

/// `process.rlimits[].type` values: every Linux rlimit (getrlimit(2)).
pub const RLIMIT_TYPES: &[&str] = &[
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
];

/// `linux.devices[].type` values a device node may have (`a` is only for cgroup rules).
pub const DEVICE_TYPES: &[&str] = &["c", "b", "u", "p"];

/// The hook lists of `hooks`, in the order the lifecycle runs them.
pub const HOOK_NAMES: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The capability sets of `process.capabilities`.
pub const CAPABILITY_SETS: &[&str] = &[
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// `linux.rootfsPropagation` values.
pub const PROPAGATIONS: &[&str] = &[
    "shared",
    "slave",
    "private",
    "unbindable",
    "rshared",
    "rslave",
    "rprivate",
    "runbindable",
];

/// Every capability name the `caps` crate knows, as `CAP_*`, in kernel number order.
pub fn capability_names() -> Vec<String> {
    let mut all: Vec<caps::Capability> = caps::all().into_iter().collect();
    all.sort_by_key(|c| c.index());
    all.iter().map(|c| c.to_string()).collect()
}

/// Whether `name` is a capability name exactly as the spec writes them (`CAP_CHOWN`).
pub fn is_capability(name: &str) -> bool {
    name.parse::<caps::Capability>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_start_with_chown_and_are_all_valid() {
        let names = capability_names();
        assert_eq!(names[0], "CAP_CHOWN");
        assert!(names.len() >= 41, "{names:?}");
        assert!(names.iter().all(|n| is_capability(n)));
        assert!(!is_capability("cap_chown"));
        assert!(!is_capability("CHOWN"));
    }
}
