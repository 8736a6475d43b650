//! What criu is told about a container's mounts, shared by checkpoint and restore: the bind
//! mounts and hull's cgroup binds (external to criu: it cannot dump a mount whose source is
//! outside the container), destinations resolved inside the rootfs as the container saw
//! them (a destination through a symlink is where the mount really is), and, for restore,
//! the mountpoints made again in the rootfs as runc's prepareCriuRestoreMounts does (each
//! bind mounted while they are made, so mountpoints nested in it exist in its source).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::runtime::Spec;

use crate::rootfs::mounts::lexical_clean;
use crate::rootfs::safe_path::{open_in_root, Create};
use crate::sys::mount_api::{move_mount_fd, open_tree, AT_RECURSIVE, OPEN_TREE_CLONE};

/// A bind mount of the config: its destination (cleaned, not resolved) and its source
/// (made absolute against the bundle, as hull's create takes a relative one).
pub struct Bind {
    pub dest: PathBuf,
    pub source: PathBuf,
}

fn is_bind(m: &oci_spec::runtime::Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

/// A mount's source, absolute against the bundle and lexically clean (criu wants clean
/// paths: "bundle/." is no mount point to it).
fn source_of(m: &oci_spec::runtime::Mount, bundle: &Path) -> PathBuf {
    lexical_clean(&bundle.join(m.source().clone().unwrap_or_default()))
}

/// Every bind mount in `mounts[]`.
pub fn binds(spec: &Spec, bundle: &Path) -> Vec<Bind> {
    spec.mounts()
        .iter()
        .flatten()
        .filter(|m| is_bind(m))
        .map(|m| Bind {
            dest: lexical_clean(m.destination()),
            source: source_of(m, bundle),
        })
        .collect()
}

/// The cgroup mounts hull made (`mounts[]` of type cgroup or cgroup2), as destination and
/// the host directory bound there: hull binds the host's mount of the container's own
/// cgroup (rootfs/cgroup_mount.rs), a slave of the host's mount that criu cannot dump
/// ("unreachable sharing"), so each is external, as runc does with its v1 cgroup binds. On
/// a v1 or hybrid host the tmpfs at the destination holds one per hierarchy, named after
/// the hierarchy's mount point; with cgroup2 only, the destination is the bind.
pub fn cgroup_binds(spec: &Spec, cg: &crate::cgroups::Cgroup) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let only_v2 = match m.typ().as_deref() {
            Some("cgroup") => false,
            Some("cgroup2") => true,
            _ => continue,
        };
        let dest = lexical_clean(m.destination());
        let dirs: Vec<_> = cg.dirs.iter().filter(|d| d.v2 || !only_v2).collect();
        let single = dirs.iter().all(|d| d.v2);
        for d in dirs {
            let Ok(host) = d.dir() else { continue };
            let at = if single {
                dest.clone()
            } else {
                match d.mount.file_name() {
                    Some(name) => dest.join(name),
                    None => continue,
                }
            };
            out.push((
                at.to_string_lossy().into_owned(),
                host.to_string_lossy().into_owned(),
            ));
        }
    }
    out
}

/// `dest` as a path in the rootfs with its symlinks followed inside the rootfs (runc's
/// securejoin); lexically cleaned when it cannot be opened.
pub fn resolve_in_rootfs(rootfs: &Path, dest: &Path) -> String {
    let resolved = open_rootfs(rootfs)
        .ok()
        .and_then(|root| open_in_root(root.as_fd(), dest, Create::Nothing).ok())
        .and_then(|fd| inside(rootfs, &fd));
    resolved
        .unwrap_or_else(|| lexical_clean(dest))
        .to_string_lossy()
        .into_owned()
}

fn open_rootfs(rootfs: &Path) -> std::io::Result<OwnedFd> {
    crate::rootfs::safe_path::open_host_path(
        rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
    )
}

/// Where `fd` (opened inside `rootfs`) is, as a path from the rootfs's root.
fn inside(rootfs: &Path, fd: &OwnedFd) -> Option<PathBuf> {
    let host = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    let rel = host.strip_prefix(rootfs).ok()?;
    Some(Path::new("/").join(rel))
}

/// Binds made in the rootfs while mountpoints are made; unmounted when dropped.
struct TempBinds(Vec<PathBuf>);

impl Drop for TempBinds {
    fn drop(&mut self) {
        for b in self.0.iter().rev() {
            if let Err(e) = nix::mount::umount2(b, nix::mount::MntFlags::MNT_DETACH) {
                crate::logging::warn(&format!("restore: unmounting {}: {e}", b.display()));
            }
        }
    }
}

/// Make every mountpoint of `mounts[]` in `rootfs` as create would (criu mounts onto them
/// but makes none), except the cgroup mounts (criu restores their tmpfs, or the mountpoint
/// comes with /sys) and those on a tmpfs of the config (criu restores the tmpfs's
/// content). Each bind is mounted at its mountpoint while the later ones are made, so that
/// a mountpoint nested in it is made in the bind's source, as at create; all are unmounted
/// again before this returns (runc keeps them through the restore, but their unmount then
/// propagates into the restored container and takes its binds away). Returns each bind's
/// destination (as in config.json) with where it resolved in the rootfs.
pub fn prepare_restore(
    spec: &Spec,
    rootfs: &Path,
    bundle: &Path,
) -> Result<Vec<(PathBuf, String)>> {
    let mut binds = TempBinds(Vec::new());
    let mut resolved_binds = Vec::new();
    let root = open_rootfs(rootfs).with_context(|| format!("opening {}", rootfs.display()))?;
    let mounts: Vec<_> = spec.mounts().iter().flatten().collect();
    let tmpfs: Vec<PathBuf> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| lexical_clean(m.destination()))
        .collect();
    for (i, m) in mounts.iter().enumerate() {
        if matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")) {
            continue;
        }
        let dest = lexical_clean(m.destination());
        if tmpfs.iter().any(|t| dest != *t && dest.starts_with(t)) {
            continue;
        }
        let what = || {
            format!(
                "mounts[{i}] {}: making its mountpoint for criu",
                dest.display()
            )
        };
        let bind = is_bind(m);
        let source = source_of(m, bundle);
        let file = bind && std::fs::metadata(&source).is_ok_and(|md| !md.is_dir());
        let create = if file { Create::File } else { Create::Dir };
        let at = open_in_root(root.as_fd(), &dest, create).with_context(what)?;
        let resolved = inside(rootfs, &at).with_context(what)?;
        if !bind {
            continue;
        }
        let tree = open_tree(
            root.as_fd(),
            &source.to_string_lossy(),
            OPEN_TREE_CLONE | AT_RECURSIVE,
        )
        .with_context(|| format!("mounts[{i}]: bind source {}", source.display()))?;
        move_mount_fd(tree.as_fd(), at.as_fd()).with_context(what)?;
        binds
            .0
            .push(rootfs.join(resolved.strip_prefix("/").unwrap_or(&resolved)));
        resolved_binds.push((dest, resolved.to_string_lossy().into_owned()));
    }
    drop(binds);
    Ok(resolved_binds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_through_a_symlink_resolves_inside_the_rootfs() {
        let dir = std::env::temp_dir().join(format!("hull-criu-mounts-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("real/conf")).unwrap();
        std::os::unix::fs::symlink("/real/conf", dir.join("conf")).unwrap();
        let root = std::fs::canonicalize(&dir).unwrap();
        assert_eq!(resolve_in_rootfs(&root, Path::new("/conf")), "/real/conf");
        assert_eq!(
            resolve_in_rootfs(&root, Path::new("/missing/x")),
            "/missing/x"
        );
        assert_eq!(
            resolve_in_rootfs(&root, Path::new("/a/../real//conf")),
            "/real/conf"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
