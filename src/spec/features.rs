//! The runtime-spec features document (features.md) for what this build supports.
//!
//! Each list is a constant so a feature is switched on in one place when it lands.

use serde_json::json;

use super::names::{capability_names, HOOK_NAMES};

/// Hooks hull runs: all six lifecycle points.
pub const HOOKS: &[&str] = HOOK_NAMES;

/// mount(8) option names hull understands in `mounts[].options`.
/// (`remount` is refused, so it is not listed.)
pub const MOUNT_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "bind",
    "rbind",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "unbindable",
    "runbindable",
    "tmpcopyup",
    "idmap",
    "ridmap",
];

/// Namespace types hull can create or join.
pub const NAMESPACES: &[&str] = &[
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

/// cgroup managers compiled in: v1 and v2 (cgroupfs). The systemd driver is compiled in
/// too, but reported only where it can work: systemd booted with a socket to talk to
/// (`cgroups::systemd::available`); never on a host without systemd.
pub const CGROUP_V1: bool = true;
pub const CGROUP_V2: bool = true;
/// The rootless (user instance) systemd driver is not reported: it has not been tested
/// against a real user session yet.
pub const CGROUP_SYSTEMD_USER: bool = false;

/// Security modules hull can apply (seccomp: always, see `seccomp::features`).
pub const APPARMOR: bool = false;
pub const SELINUX: bool = false;

/// runc's annotation saying `checkpoint`/`restore` work (through criu, which must be
/// installed: see README "Checkpoint and restore").
pub const CHECKPOINT_ENABLED: (&str, &str) = ("org.opencontainers.runc.checkpoint.enabled", "true");

/// Config annotations that change what the runtime does beyond the container (runc's
/// list, of those hull reads): `org.systemd.property.` (prefix), `org.criu.config`.
pub const UNSAFE_ANNOTATIONS: &[&str] = &["org.systemd.property.", "org.criu.config"];

/// Features JSON; lists only what hull implements at this commit. (`linux.timeOffsets`
/// has no entry in the features document: the `time` namespace stands for it.)
pub fn features() -> serde_json::Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "mountExtensions": { "idmap": { "enabled": true } },
            "namespaces": NAMESPACES,
            "capabilities": capability_names(),
            "cgroup": {
                "v1": CGROUP_V1,
                "v2": CGROUP_V2,
                "systemd": crate::cgroups::systemd::available(),
                "systemdUser": CGROUP_SYSTEMD_USER,
            },
            "seccomp": crate::security::seccomp::features(),
            "apparmor": { "enabled": APPARMOR },
            "selinux": { "enabled": SELINUX },
            "intelRdt": { "enabled": false },
            "memoryPolicy": {
                "modes": crate::security::mempolicy::MODES,
                "flags": crate::security::mempolicy::FLAGS,
            },
            "netDevices": { "enabled": true },
        },
        "annotations": { CHECKPOINT_ENABLED.0: CHECKPOINT_ENABLED.1 },
        "potentiallyUnsafeConfigAnnotations": UNSAFE_ANNOTATIONS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Features, LinuxNamespaceType};

    #[test]
    fn features_parse_as_the_runtime_spec_features_type() {
        let f: Features = serde_json::from_value(features()).unwrap();
        assert_eq!(f.oci_version_min(), "1.0.0");
        assert_eq!(f.oci_version_max(), crate::OCI_VERSION);
        assert_eq!(f.hooks().as_deref().unwrap(), HOOKS);
        let ann = f.annotations().as_ref().unwrap();
        assert_eq!(
            ann.get("org.opencontainers.runc.checkpoint.enabled")
                .map(String::as_str),
            Some("true")
        );
        assert_eq!(
            f.potentially_unsafe_config_annotations()
                .as_deref()
                .unwrap(),
            UNSAFE_ANNOTATIONS
        );
        let linux = f.linux().as_ref().unwrap();
        let ns = linux.namespaces().as_ref().unwrap();
        assert_eq!(ns.len(), 8);
        assert!(ns.contains(&LinuxNamespaceType::Time));
        let caps = linux.capabilities().as_ref().unwrap();
        assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"), "{caps:?}");
        assert_eq!(linux.cgroup().as_ref().unwrap().v1(), &Some(true));
        assert_eq!(
            linux.cgroup().as_ref().unwrap().systemd(),
            &Some(crate::cgroups::systemd::available())
        );
        assert_eq!(linux.seccomp().as_ref().unwrap().enabled(), &Some(true));
        let mp = linux.memory_policy().as_ref().unwrap();
        assert_eq!(mp.modes().as_ref().unwrap().len(), 7);
        assert!(mp
            .flags()
            .as_ref()
            .unwrap()
            .iter()
            .any(|f| f == "MPOL_F_STATIC_NODES"));
        assert_eq!(linux.net_devices().as_ref().unwrap().enabled(), &Some(true));
    }

    #[test]
    fn supported_namespaces_are_valid_namespace_types() {
        for ns in NAMESPACES {
            assert!(crate::spec::names::NAMESPACE_TYPES.contains(ns), "{ns}");
        }
    }
}
