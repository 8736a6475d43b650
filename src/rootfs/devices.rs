//! Device nodes and the standard /dev symlinks, made through fds inside the rootfs: the
//! default set (null, zero, full, random, urandom, tty) plus `linux.devices`, with mknod
//! or, where mknod is not permitted (a user namespace), by binding the host's device onto
//! an empty file, as runc does. A `/dev` that is a symlink in the image resolves inside the
//! rootfs like any other path.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{makedev, mknodat, umask, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::mounts::lexical_clean;
use super::safe_path::{open_in_root, open_parent_in_root, Create};
use crate::sys::mount_api::{move_mount_fd, open_tree, OPEN_TREE_CLONE};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

fn default_device(path: &str, major: u64, minor: u64) -> Device {
    Device {
        path: PathBuf::from(path),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    }
}

/// runc creates devices unless the config bind-mounts /dev.
pub fn needs_dev_setup(spec: &Spec) -> bool {
    !spec.mounts().as_deref().unwrap_or(&[]).iter().any(|m| {
        lexical_clean(m.destination()) == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .any(|o| o == "bind" || o == "rbind"))
    })
}

/// Whether the config mounts a devpts (then /dev/ptmx points at pts/ptmx).
pub fn has_devpts(spec: &Spec) -> bool {
    spec.mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|m| m.typ().as_deref() == Some("devpts"))
}

/// The default devices followed by `linux.devices` (a config entry replaces a default
/// with the same path).
pub fn device_list(spec: &Spec) -> Result<Vec<Device>> {
    let mut out = Vec::new();
    let configured = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for (i, d) in configured.iter().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => bail!(
                "linux.devices[{i}] ({}): type must be c, b, u or p",
                d.path().display()
            ),
        };
        if !d.path().is_absolute() {
            bail!("linux.devices[{i}].path {:?} must be absolute", d.path());
        }
        let num = |v: i64, what: &str| {
            u64::try_from(v)
                .map_err(|_| anyhow!("linux.devices[{i}].{what} {v} must not be negative"))
        };
        out.push(Device {
            path: lexical_clean(d.path()),
            kind,
            major: num(d.major(), "major")?,
            minor: num(d.minor(), "minor")?,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    let defaults = [
        default_device("/dev/null", 1, 3),
        default_device("/dev/zero", 1, 5),
        default_device("/dev/full", 1, 7),
        default_device("/dev/random", 1, 8),
        default_device("/dev/urandom", 1, 9),
        default_device("/dev/tty", 5, 0),
    ];
    let mut all: Vec<Device> = defaults
        .into_iter()
        .filter(|d| !out.iter().any(|c| c.path == d.path))
        .collect();
    all.append(&mut out);
    Ok(all)
}

/// Create every device inside `root`; `bind` binds the host's node instead of mknod.
pub fn create_devices(root: BorrowedFd<'_>, devices: &[Device], bind: bool) -> Result<()> {
    let old = umask(Mode::empty());
    let res = devices.iter().try_for_each(|d| {
        create_one(root, d, bind)
            .with_context(|| format!("device {} ({}:{})", d.path.display(), d.major, d.minor))
    });
    umask(old);
    res
}

fn create_one(root: BorrowedFd<'_>, d: &Device, bind: bool) -> Result<()> {
    let (dir, name) = open_parent_in_root(root, &d.path, true)
        .context("resolving its directory inside the rootfs")?;
    if bind {
        match nix::fcntl::openat(
            dir.as_fd(),
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(_) => {}
            // An existing node (or a symlink) is left as it is, as with mknod below.
            Err(Errno::ELOOP) | Err(Errno::ENXIO) | Err(Errno::EACCES) => return Ok(()),
            Err(e) => return Err(e).context("creating the bind target"),
        }
        let target = open_in_root(root, &d.path, Create::Nothing)?;
        let host = d
            .path
            .to_str()
            .ok_or_else(|| anyhow!("device path is not UTF-8"))?;
        let tree = open_tree(crate::sys::mount_api::at_fdcwd(), host, OPEN_TREE_CLONE)
            .with_context(|| format!("cloning the host's {host}"))?;
        move_mount_fd(tree.as_fd(), target.as_fd()).context("bind-mounting the host device")?;
        return Ok(());
    }
    let dev = makedev(d.major, d.minor);
    match mknodat(
        dir.as_fd(),
        name.as_str(),
        d.kind,
        Mode::from_bits_truncate(d.mode),
        dev,
    ) {
        Ok(()) => {}
        Err(Errno::EEXIST) => return Ok(()),
        Err(e) => return Err(e).context("mknod"),
    }
    fchownat(
        dir.as_fd(),
        name.as_str(),
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .context("chown")
}

/// /dev/fd, stdin, stdout, stderr, core (when the host has /proc/kcore) and, with
/// `ptmx`, /dev/ptmx -> pts/ptmx replacing whatever is there.
pub fn create_dev_links(root: BorrowedFd<'_>, ptmx: bool) -> Result<()> {
    let dev = open_in_root(root, Path::new("/dev"), Create::Dir)
        .context("resolving /dev inside the rootfs")?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).context(format!("symlink /dev/{name} -> {target}")),
        }
    }
    if ptmx {
        match unlinkat(dev.as_fd(), "ptmx", UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e).context("removing /dev/ptmx"),
        }
        symlinkat("pts/ptmx", dev.as_fd(), "ptmx").context("symlink /dev/ptmx -> pts/ptmx")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn config_device_replaces_default_with_same_path() {
        let s = spec(
            r#"{"ociVersion":"1.0.0","linux":{"devices":[
                {"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384,"uid":5},
                {"path":"/dev/net/tun","type":"c","major":10,"minor":200}]}}"#,
        );
        let d = device_list(&s).unwrap();
        assert_eq!(d.len(), 7);
        let null = d.iter().find(|d| d.path == Path::new("/dev/null")).unwrap();
        assert_eq!((null.mode, null.uid), (0o600, 5));
        assert!(d
            .iter()
            .any(|d| d.path == Path::new("/dev/net/tun") && d.minor == 200));
    }

    #[test]
    fn bind_mounted_dev_skips_device_setup() {
        let tmpfs = spec(
            r#"{"ociVersion":"1.0.0","mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs"}]}"#,
        );
        let bind = spec(
            r#"{"ociVersion":"1.0.0","mounts":[{"destination":"/dev/","type":"none","source":"/dev","options":["rbind"]}]}"#,
        );
        assert!(needs_dev_setup(&tmpfs));
        assert!(!needs_dev_setup(&bind));
    }
}
