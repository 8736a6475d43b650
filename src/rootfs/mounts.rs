//! One `mounts[]` entry made inside the rootfs: a bind (clone of the source tree) or a new
//! filesystem (fsopen/fsconfig/fsmount), given its attributes detached, then attached onto
//! the target fd resolved inside the rootfs, then given its propagation.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::fstat;
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};
use oci_spec::runtime::Mount;

use super::cgroup_mount;
use super::mount_options::{bind_change, ms_names, MountOptions, MS_ATIME, MS_LOCKABLE};
use super::propagation;
use super::safe_path::{
    is_root, open_host_path, open_in_root, open_ordinary_dir, Create, NotOrdinary,
};
use crate::sys::mount_api::{
    fs_error_message, fsconfig_create, fsconfig_set, fsmount, mount_setattr, move_mount_fd,
    open_tree, MountAttr, AT_RECURSIVE, MOUNT_ATTR_RDONLY, OPEN_TREE_CLONE,
};

/// Files under /proc that may be covered by a mount (lxcfs and similar do this).
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// What the rootfs setup knows while making mounts.
pub struct Ctx<'a> {
    /// O_PATH fd of the rootfs root (after the root bind).
    pub root: BorrowedFd<'a>,
    /// Running in a user namespace (no mknod, some filesystems refused).
    pub userns: bool,
    /// The container has a cgroup namespace of its own (a fresh cgroup mount is then
    /// rooted at it; see cgroup_mount).
    pub own_cgroupns: bool,
    /// The rootfs as the config names it: a destination under it is taken as the path
    /// inside (runc strips it).
    pub rootfs: &'a Path,
    /// Bind sources the parent makes: idmapped ones, and ones the init cannot reach.
    pub from_parent: &'a super::FromParent<'a>,
}

/// Whether a new filesystem's `ro` waits until the rootfs is complete (runc's
/// finalizeRootfs): a tmpfs or /dev may still get mount points and device nodes made in it.
fn readonly_later(typ: &str, bind: bool, clean: &Path) -> bool {
    !bind && (typ == "tmpfs" || clean == Path::new("/dev"))
}

/// The mounts made writable for now whose `ro` `rootfs::finish` applies: (index,
/// destination inside the rootfs).
pub fn readonly_later_mounts(mounts: &[Mount], rootfs: &Path) -> Vec<(usize, PathBuf)> {
    let mut out = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let Ok(opts) = MountOptions::parse(m.options().as_deref().unwrap_or(&[])) else {
            continue;
        };
        let typ = m.typ().as_deref().unwrap_or("");
        let clean = inside_rootfs(lexical_clean(m.destination()), rootfs);
        let bind = opts.bind || typ == "bind";
        if opts.attrs.set & MOUNT_ATTR_RDONLY != 0 && readonly_later(typ, bind, &clean) {
            out.push((i, clean));
        }
    }
    out
}

/// A warning for each relative destination: the runtime spec requires absolute ones, runc
/// still takes them from the container's `/` (and warns), and so does hull.
pub fn relative_destination_warnings(mounts: &[Mount]) -> Vec<String> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.destination().is_absolute())
        .map(|(i, m)| {
            format!(
                "mounts[{i}].destination {:?} is not absolute: taken as relative to the \
                 container's / (the runtime spec requires an absolute path)",
                m.destination()
            )
        })
        .collect()
}

/// `mounts[i]` made inside the rootfs; errors read as runc's, then name the entry:
/// `error mounting "SRC" to rootfs at "DEST": mounts[i] TYPE: ...`.
pub fn mount_entry(ctx: &Ctx<'_>, index: usize, m: &Mount) -> Result<()> {
    let dest = m.destination();
    let typ = m.typ().clone().unwrap_or_default();
    let src = m.source().as_deref().unwrap_or(Path::new(""));
    let label = format!(
        "error mounting {:?} to rootfs at {:?}: mounts[{index}] {}",
        src.display().to_string(),
        dest.display().to_string(),
        if typ.is_empty() { "(no type)" } else { &typ },
    );
    mount_entry_inner(ctx, index, m, &typ).context(label)
}

fn mount_entry_inner(ctx: &Ctx<'_>, index: usize, m: &Mount, typ: &str) -> Result<()> {
    let dest = m.destination();
    let mut opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]))?;
    let bind = opts.bind || typ == "bind";
    let clean = inside_rootfs(lexical_clean(dest), ctx.rootfs);
    if clean == Path::new("/") {
        bail!("mounting over the container's / is not allowed; use root.path");
    }
    if !proc_target_allowed(&clean, typ, bind, false) {
        bail!("{PROC_REFUSED}");
    }
    if (typ == "cgroup" || typ == "cgroup2") && !bind {
        return cgroup_mount::mount_cgroup(ctx, &clean, &opts, typ == "cgroup2");
    }
    // A tmpfs target that already exists is resolved once, before the tmpfs is made: its
    // mode is the one inherited, and it is the directory mounted on.
    let mut existing_dir = None;
    let (mnt, is_dir) = if bind {
        let source = m
            .source()
            .as_ref()
            .ok_or_else(|| anyhow!("a bind mount needs a source"))?;
        let tree = bind_source(ctx, index, source, &opts)?;
        set_bind_attrs(tree.as_fd(), &opts)?;
        let st = fstat(tree.as_fd()).context("fstat of the bind source")?;
        (tree, st.st_mode & libc::S_IFMT == libc::S_IFDIR)
    } else {
        if typ.is_empty() {
            bail!("type is required for a mount that is not a bind");
        }
        if opts.idmap || opts.ridmap {
            bail!("options idmap/ridmap: only bind mounts can be idmapped");
        }
        let source = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned());
        if typ == "tmpfs" {
            existing_dir = existing_tmpfs_target(ctx.root, &clean, &mut opts);
        }
        if readonly_later(typ, bind, &clean) {
            opts.attrs.set &= !MOUNT_ATTR_RDONLY;
        }
        match new_fs(typ, source.as_deref().unwrap_or(typ), &opts) {
            Ok(mnt) => (mnt, true),
            // A user namespace that does not own the network (IPC) namespace may not mount
            // sysfs (mqueue): bind the host's instead, as runc does.
            Err(e) if ctx.userns && is_eperm(&e) && (typ == "sysfs" || typ == "mqueue") => {
                let mut o = opts.clone();
                o.recursive = true;
                let host = if typ == "sysfs" {
                    "/sys"
                } else {
                    "/dev/mqueue"
                };
                let tree = clone_tree(Path::new(host), o.recursive)?;
                set_attrs(tree.as_fd(), &o)?;
                (tree, true)
            }
            Err(e) => return Err(e),
        }
    };
    let target = match existing_dir {
        Some(fd) => {
            refuse_root(fd.as_fd(), ctx.root, &clean)?;
            fd
        }
        None => resolve_target(ctx.root, &clean, typ, bind, is_dir)?,
    };
    let on_proc = fstatfs(target.as_fd())
        .map(|s| s.filesystem_type() == PROC_SUPER_MAGIC)
        .unwrap_or(false);
    if !proc_target_allowed(&clean, typ, bind, on_proc) {
        bail!("{PROC_REFUSED}");
    }
    if opts.tmpcopyup && typ == "tmpfs" && is_dir {
        super::copyup::copy_tree(target.as_fd(), mnt.as_fd())?;
    }
    move_mount_fd(mnt.as_fd(), target.as_fd()).context("mount")?;
    propagation::apply(mnt.as_fd(), &opts.propagation).context("setting propagation")?;
    Ok(())
}

/// A tmpfs without `mode=` over an existing directory takes that directory's mode (setuid,
/// setgid and sticky bits included), as runc does, so covering a 0710 directory does not
/// open it to everyone; over a directory hull creates it keeps tmpfs's default (1777).
/// Returns the existing directory, which is then the mount's target.
fn existing_tmpfs_target(
    root: BorrowedFd<'_>,
    clean: &Path,
    opts: &mut MountOptions,
) -> Option<OwnedFd> {
    let fd = open_in_root(root, clean, Create::Nothing).ok()?;
    let st = nix::sys::stat::fstat(&fd).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return None;
    }
    if !opts.data.iter().any(|(k, _)| k == "mode") {
        opts.data
            .push(("mode".into(), Some(format!("{:o}", st.st_mode & 0o7777))));
    }
    Some(fd)
}

/// The mount's target, resolved once inside the rootfs; what it resolved to decides:
/// never the rootfs root itself, and proc or sysfs only on an ordinary directory.
fn resolve_target(
    root: BorrowedFd<'_>,
    clean: &Path,
    typ: &str,
    bind: bool,
    is_dir: bool,
) -> Result<OwnedFd> {
    let resolving = || format!("resolving {} inside the rootfs", clean.display());
    let target = if !bind && (typ == "proc" || typ == "sysfs") {
        match open_ordinary_dir(root, clean).with_context(resolving)? {
            Ok(fd) => fd,
            Err(why) => bail!(
                "filesystem {typ:?} must be mounted on ordinary directory ({} {})",
                clean.display(),
                match why {
                    NotOrdinary::Symlink => "is or passes through a symlink",
                    NotOrdinary::NotDir => "is not a directory",
                }
            ),
        }
    } else {
        let create = if is_dir { Create::Dir } else { Create::File };
        open_in_root(root, clean, create).with_context(resolving)?
    };
    refuse_root(target.as_fd(), root, clean)?;
    Ok(target)
}

/// Refuse a target that is the rootfs root: a mount there would replace the container's
/// `/` (with, say, a volume the attacker fills), whatever the destination says.
pub fn refuse_root(target: BorrowedFd<'_>, root: BorrowedFd<'_>, dest: &Path) -> Result<()> {
    if is_root(target, root).context("statx of the mount target")? {
        bail!(
            "destination {:?} resolves to the container's root (possibly malicious path \
             detected -- refusing to operate on /)",
            dest.display().to_string()
        );
    }
    Ok(())
}

fn is_eperm(e: &anyhow::Error) -> bool {
    has_errno(e, libc::EPERM)
}

fn is_eacces(e: &anyhow::Error) -> bool {
    has_errno(e, libc::EACCES)
}

fn has_errno(e: &anyhow::Error, errno: i32) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(errno))
    })
}

/// `..` and `.` removed lexically, clamped at `/`: the path as the config means it.
pub fn lexical_clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// A destination that starts with the rootfs path is that path inside the rootfs, as in
/// runc (configs that name `ROOTFS/mnt` for `/mnt` exist).
fn inside_rootfs(clean: PathBuf, rootfs: &Path) -> PathBuf {
    let root = lexical_clean(rootfs);
    if root == Path::new("/") {
        return clean;
    }
    match clean.strip_prefix(&root) {
        Ok(rest) => Path::new("/").join(rest),
        Err(_) => clean,
    }
}

const PROC_REFUSED: &str =
    "the target is inside /proc, where only a proc mount at /proc and a few files are allowed";

/// Whether a mount may land at `clean`, given whether its resolved target is on procfs:
/// only a proc mount (or a bind) at /proc itself and a few files tools such as lxcfs
/// cover (CVE-2019-19921 class: a symlink in the image steering a mount onto
/// /proc/self/attr and the like). Checked lexically before anything is created, and
/// again on the resolved target.
fn proc_target_allowed(clean: &Path, typ: &str, bind: bool, on_proc: bool) -> bool {
    if !on_proc && !clean.starts_with("/proc") {
        return true;
    }
    if clean == Path::new("/proc") && !on_proc && (typ == "proc" || bind) {
        return true;
    }
    PROC_ALLOWED.iter().any(|a| clean == Path::new(a))
}

/// The detached source tree of a bind: made by the parent when idmapped, or when the init
/// in its user namespace may not reach it (runc's mount source fds); else cloned here.
fn bind_source(ctx: &Ctx<'_>, index: usize, source: &Path, opts: &MountOptions) -> Result<OwnedFd> {
    let fp = ctx.from_parent;
    let ask = |why: &str| match fp.ask {
        Some(ask) => ask(index).with_context(|| format!("the parent making the source ({why})")),
        None => bail!("idmapped mounts need hull to run as root"),
    };
    if fp.idmapped.contains(&index) {
        return ask("idmapped");
    }
    match clone_tree(source, opts.recursive) {
        Err(e) if ctx.userns && fp.ask.is_some() && is_eacces(&e) => {
            ask("the container's root may not reach it")
        }
        other => other,
    }
}

/// A detached copy of the host path `source` (its whole tree with `recursive`).
fn clone_tree(source: &Path, recursive: bool) -> Result<OwnedFd> {
    let src = open_host_path(source, OFlag::empty())
        .with_context(|| format!("opening the bind source {}", source.display()))?;
    let mut flags = OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    open_tree(src.as_fd(), "", flags)
        .with_context(|| format!("cloning the mount of {}", source.display()))
}

/// A bind's flags as runc sets them (its MS_BIND|MS_REMOUNT): none given keeps the
/// source's; any given, set or cleared, makes the mount exactly those, the atime mode kept
/// unless one is asked for. Flags the kernel locked on the source (a container in a user
/// namespace binding a host mount) are then kept, unless the config asks to clear one:
/// that fails, naming it. Then the recursive attributes.
fn set_bind_attrs(mnt: BorrowedFd<'_>, opts: &MountOptions) -> Result<()> {
    if opts.ms_set != 0 || opts.ms_clr != 0 {
        let apply = |ms: u64| {
            let c = bind_change(ms);
            let attr = MountAttr {
                attr_set: c.set,
                attr_clr: c.clr,
                ..MountAttr::default()
            };
            mount_setattr(mnt, 0, &attr)
        };
        match apply(opts.ms_set) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                let locked = source_ms_flags(mnt)? & MS_LOCKABLE;
                let cannot = locked & opts.ms_clr;
                if cannot != 0 {
                    return Err(anyhow::Error::new(e)).context(format!(
                        "setting mount flags: the source's {} cannot be cleared (locked by \
                         the kernel for a mount from a more privileged namespace)",
                        ms_names(cannot)
                    ));
                }
                let asked_atime = opts.ms_set & MS_ATIME;
                if asked_atime != 0 && asked_atime != locked & MS_ATIME {
                    return Err(anyhow::Error::new(e)).context(format!(
                        "setting mount flags: the source's atime flags ({}) are locked and \
                         differ from the requested {}",
                        ms_names(locked & MS_ATIME),
                        ms_names(asked_atime)
                    ));
                }
                apply(opts.ms_set | locked).with_context(|| {
                    format!(
                        "setting mount flags (with the source's locked {} kept)",
                        ms_names(locked)
                    )
                })?;
            }
            other => other.context("setting mount flags")?,
        }
    }
    if !opts.rec_attrs.is_empty() {
        let attr = MountAttr {
            attr_set: opts.rec_attrs.set,
            attr_clr: opts.rec_attrs.clr,
            ..MountAttr::default()
        };
        mount_setattr(mnt, AT_RECURSIVE, &attr).context("setting recursive mount flags")?;
    }
    Ok(())
}

/// The per-mount flags of `mnt` as MS_* flags (statfs reports them; strictatime is the
/// absence of noatime and relatime).
fn source_ms_flags(mnt: BorrowedFd<'_>) -> Result<u64> {
    use nix::sys::statvfs::FsFlags;
    let st = nix::sys::statvfs::fstatvfs(mnt).context("statfs of the bind source")?;
    let f = st.flags();
    let pairs = [
        (FsFlags::ST_RDONLY, libc::MS_RDONLY),
        (FsFlags::ST_NOSUID, libc::MS_NOSUID),
        (FsFlags::ST_NODEV, libc::MS_NODEV),
        (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
        (FsFlags::ST_NOATIME, libc::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, libc::MS_RELATIME),
    ];
    let ms = pairs
        .iter()
        .filter(|(st, _)| f.contains(*st))
        .fold(0, |acc, (_, ms)| acc | *ms);
    let modes = libc::MS_NOATIME | libc::MS_RELATIME;
    Ok(if ms & modes == 0 {
        ms | libc::MS_STRICTATIME
    } else {
        ms
    })
}

/// Top-mount attributes, then recursive ones, on a (detached) mount.
fn set_attrs(mnt: BorrowedFd<'_>, opts: &MountOptions) -> Result<()> {
    if !opts.attrs.is_empty() {
        let attr = MountAttr {
            attr_set: opts.attrs.set,
            attr_clr: opts.attrs.clr,
            ..MountAttr::default()
        };
        mount_setattr(mnt, 0, &attr).context("setting mount flags")?;
    }
    if !opts.rec_attrs.is_empty() {
        let attr = MountAttr {
            attr_set: opts.rec_attrs.set,
            attr_clr: opts.rec_attrs.clr,
            ..MountAttr::default()
        };
        mount_setattr(mnt, AT_RECURSIVE, &attr).context("setting recursive mount flags")?;
    }
    Ok(())
}

/// A new, detached filesystem of type `typ` configured with the options' data.
pub fn new_fs(typ: &str, source: &str, opts: &MountOptions) -> Result<OwnedFd> {
    let fs = crate::sys::mount_api::fsopen(typ)
        .with_context(|| format!("filesystem type {typ:?} is not available"))?;
    // Keep the io::Error as the source (its errno matters to the caller) and add the
    // kernel's own explanation, when it left one, to the context.
    let explain = |what: String, e: std::io::Error| match fs_error_message(fs.as_fd()) {
        Some(msg) => anyhow::Error::new(e).context(format!("{what} ({msg})")),
        None => anyhow::Error::new(e).context(what),
    };
    fsconfig_set(fs.as_fd(), "source", Some(source))
        .map_err(|e| explain(format!("source={source}"), e))?;
    for (k, v) in &opts.data {
        fsconfig_set(fs.as_fd(), k, v.as_deref()).map_err(|e| {
            let what = match v {
                Some(v) => format!("option {k}={v}"),
                None => format!("option {k}"),
            };
            explain(what, e)
        })?;
    }
    fsconfig_create(fs.as_fd()).map_err(|e| explain("mount".to_string(), e))?;
    let mnt = fsmount(fs.as_fd(), opts.attrs.set).map_err(|e| explain("mount".to_string(), e))?;
    if opts.attrs.clr & !crate::sys::mount_api::MOUNT_ATTR_ATIME_MASK != 0
        || !opts.rec_attrs.is_empty()
    {
        set_attrs(mnt.as_fd(), opts)?;
    }
    Ok(mnt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_proc_itself_and_listed_files_may_be_mounted_in_proc() {
        let p = Path::new;
        assert!(proc_target_allowed(p("/proc"), "proc", false, false));
        assert!(!proc_target_allowed(p("/proc"), "tmpfs", false, false));
        assert!(!proc_target_allowed(p("/proc"), "proc", false, true));
        assert!(proc_target_allowed(p("/proc/meminfo"), "bind", true, true));
        assert!(!proc_target_allowed(
            p("/proc/self/attr"),
            "tmpfs",
            false,
            false
        ));
        assert!(!proc_target_allowed(p("/p/attr"), "tmpfs", false, true));
        assert!(proc_target_allowed(p("/srv/proc"), "tmpfs", false, false));
    }

    #[test]
    fn lexical_clean_clamps_dotdot_at_root() {
        assert_eq!(
            lexical_clean(Path::new("/proc/../etc")),
            PathBuf::from("/etc")
        );
        assert_eq!(
            lexical_clean(Path::new("../../x/./y")),
            PathBuf::from("/x/y")
        );
        assert_eq!(lexical_clean(Path::new("/..")), PathBuf::from("/"));
    }
}
