//! Who runs hull, for the two choices runc makes from it: where the default state root is,
//! and whether a cgroup hull may not create is tolerated. Rootless podman runs its runtime
//! as uid 0 inside a user namespace of its own: root there, but without any privilege over
//! the host's /run or cgroups, so euid alone cannot tell.

/// Whether hull runs in the initial user namespace (its uid_map is the identity over the
/// whole range, as runc's `RunningInUserNS` reads it).
pub fn in_initial_user_ns() -> bool {
    match crate::kfile::read("/proc/self/uid_map") {
        Ok(map) => is_identity_map(&map),
        // No /proc: nothing says we are in a user namespace.
        Err(_) => true,
    }
}

fn is_identity_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// The default state root is `$XDG_RUNTIME_DIR/hull` rather than `/run/hull` (runc's
/// `shouldHonorXDGRuntimeDir`): XDG_RUNTIME_DIR is set, and hull is either not root, or root
/// only inside a user namespace while `$USER` is not "root".
pub fn honors_xdg_runtime_dir(xdg_set: bool, euid_root: bool, user: Option<&str>) -> bool {
    if !xdg_set {
        return false;
    }
    if !euid_root {
        return true;
    }
    if in_initial_user_ns() {
        return false;
    }
    user != Some("root")
}

/// `--rootless auto` (runc's `shouldUseRootlessCgroupManager`): not root, or root inside a
/// user namespace, where cgroups hull was not delegated cannot be written.
pub fn auto_rootless(euid_root: bool) -> bool {
    !euid_root || !in_initial_user_ns()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_full_identity_map_is_the_initial_namespace() {
        assert!(is_identity_map("         0          0 4294967295\n"));
        assert!(!is_identity_map("         0       1000          1\n"));
        assert!(!is_identity_map("0 0 4294967295\n1 1 1\n"));
        assert!(!is_identity_map("0 100000 65536\n"));
    }

    #[test]
    fn xdg_runtime_dir_is_honoured_as_runc_does() {
        assert!(!honors_xdg_runtime_dir(false, false, Some("u")));
        assert!(honors_xdg_runtime_dir(true, false, Some("u")));
        // This test runs as root in the initial user namespace.
        if nix::unistd::geteuid().is_root() && in_initial_user_ns() {
            assert!(!honors_xdg_runtime_dir(true, true, Some("u")));
            assert!(!auto_rootless(true));
        }
        assert!(auto_rootless(false));
    }
}
