//! The container's root filesystem: containerd hands the shim its mounts (an overlay of the
//! image's snapshots, usually) to mount at `BUNDLE/rootfs`, and the shim unmounts it at
//! delete. Also the shim's note in the bundle of how hull was run (`hull-shim.json`), for the
//! `delete` command containerd runs when a shim died without cleaning up.

use std::path::{Path, PathBuf};

use containerd_shim::protos::types::mount::Mount;
use nix::mount::MsFlags;

use crate::hull::Hull;

/// Mount `mounts` on `target` in order; `None` when there are none (the bundle's config
/// names its own root). On failure what was mounted is undone.
pub fn mount_all(mounts: &[Mount], target: &Path) -> Result<Option<PathBuf>, String> {
    if mounts.is_empty() {
        return Ok(None);
    }
    let _ = std::fs::create_dir_all(target);
    for (i, m) in mounts.iter().enumerate() {
        if let Err(e) = mount_one(m, target) {
            for _ in 0..i {
                unmount(target);
            }
            return Err(format!(
                "rootfs[{i}]: mounting {} {} on {}: {e}",
                m.type_,
                m.source,
                target.display()
            ));
        }
    }
    Ok(Some(target.to_path_buf()))
}

/// Mount flags and the filesystem's own options (`data`) of a mount's option list.
pub fn parse_options(options: &[String]) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    for o in options {
        let (set, clear) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other);
                continue;
            }
        };
        flags.insert(set);
        flags.remove(clear);
    }
    (flags, data.join(","))
}

/// mount(2) of one containerd mount (a bind, or a filesystem such as overlay). No helper
/// process: the shim has threads, so it does not fork.
fn mount_one(m: &Mount, target: &Path) -> Result<(), String> {
    use nix::mount::mount;
    let (flags, data) = parse_options(&m.options);
    // The kernel takes one page of options (a long overlay lowerdir does not fit).
    if data.len() >= 4096 {
        return Err(format!(
            "{} bytes of mount options: more than a page",
            data.len()
        ));
    }
    let fstype = (m.type_ != "bind").then_some(m.type_.as_str());
    let data = (!data.is_empty()).then_some(data.as_str());
    mount(Some(m.source.as_str()), target, fstype, flags, data).map_err(|e| e.to_string())?;
    // A bind mount takes read-only (and the other flags) only in a remount.
    if flags.contains(MsFlags::MS_BIND)
        && flags.intersects(
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        )
    {
        let re = flags | MsFlags::MS_REMOUNT;
        if let Err(e) = mount(None::<&str>, target, None::<&str>, re, None::<&str>) {
            unmount(target);
            return Err(format!("remounting read-only: {e}"));
        }
    }
    Ok(())
}

/// Unmount `target` at `Delete` without waiting for the filesystem to go: its mounts are
/// detached at once (`target` is a plain directory again when this returns), and the last
/// reference, an fd held for the purpose, is dropped in a thread of its own. Dropping it
/// unmounts the filesystem for good, and an overlay then syncs the whole filesystem its
/// upper layer is on: 1 to 10 ms here, more under write load, which `ctr run --rm` would
/// otherwise wait for. The sync still happens, only not in the reply's path.
pub fn unmount_in_background(target: &Path) {
    use nix::fcntl::{open, OFlag};
    use nix::mount::{umount2, MntFlags};
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let Ok(held) = open(target, flags, nix::sys::stat::Mode::empty()) else {
        return unmount(target);
    };
    for _ in 0..16 {
        if umount2(target, MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
    let spawned = std::thread::Builder::new()
        .name("unmount".into())
        .stack_size(64 * 1024)
        .spawn(move || drop(held));
    if let Err(e) = spawned {
        crate::log::warn(&format!("unmounting {} in a thread: {e}", target.display()));
    }
}

/// Unmount everything stacked on `target`.
pub fn unmount(target: &Path) {
    use nix::mount::{umount2, MntFlags};
    for _ in 0..16 {
        match umount2(target, MntFlags::empty()) {
            Ok(()) => continue,
            Err(nix::errno::Errno::EBUSY) => {
                let _ = umount2(target, MntFlags::MNT_DETACH);
            }
            Err(_) => return,
        }
    }
}

const RECORD: &str = "hull-shim.json";

/// Note hull's binary, root and driver in the bundle.
pub fn write_recorded(bundle: &Path, h: &Hull) -> std::io::Result<()> {
    let v = serde_json::json!({
        "binary": h.binary,
        "root": h.root,
        "systemd_cgroup": h.systemd_cgroup,
    });
    std::fs::write(bundle.join(RECORD), v.to_string())
}

/// The hull a bundle's container was created with.
pub fn read_recorded(bundle: &Path) -> Option<Hull> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join(RECORD)).ok()?).ok()?;
    Some(Hull {
        binary: v["binary"].as_str()?.into(),
        root: v["root"].as_str()?.into(),
        systemd_cgroup: v["systemd_cgroup"].as_bool().unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_and_filesystem_data() {
        let o = |v: &[&str]| parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let (f, d) = o(&["index=off", "workdir=/w", "upperdir=/u", "lowerdir=/l"]);
        assert_eq!(
            (f, d.as_str()),
            (
                MsFlags::empty(),
                "index=off,workdir=/w,upperdir=/u,lowerdir=/l"
            )
        );
        let (f, d) = o(&["rbind", "ro", "nosuid"]);
        assert_eq!(
            f,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        );
        assert_eq!(d, "");
        assert_eq!(o(&["ro", "rw"]).0, MsFlags::empty());
    }

    #[test]
    fn the_recorded_hull_reads_back() {
        let d = std::env::temp_dir().join(format!("hull-cshim-rec-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let h = Hull {
            binary: "/usr/bin/hull".into(),
            root: "/run/containerd/hull/default".into(),
            systemd_cgroup: true,
        };
        write_recorded(&d, &h).unwrap();
        let got = read_recorded(&d);
        let none = read_recorded(&d.join("missing"));
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(got, Some(h));
        assert_eq!(none, None);
        assert_eq!(mount_all(&[], Path::new("/nonexistent")).unwrap(), None);
    }
}
