//! `checkpoint`: dump a running (or paused) container with criu into an image directory,
//! telling criu what it cannot see itself, as runc does: the container's rootfs, its bind
//! mounts, masked files and device nodes as external mounts, namespaces it joined by path
//! as external namespaces, its cgroup (to freeze it with, and how criu is to treat it) and
//! the pipes its stdio is on (`descriptors.json`, for restore). Afterwards the container is
//! gone (criu killed it), unless `--leave-running` or `--pre-dump`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::criu_opts::CriuFlags;
use super::{criu_mounts, destroy, Container, Status};
use crate::criu::{self, rpc, Event, Swrk};
use crate::runtime::Runtime;

/// runc's name for the list of the init's stdio, kept in the image directory.
pub(super) const DESCRIPTORS: &str = "descriptors.json";

/// `checkpoint`'s flags (runc's).
#[derive(Debug, Default)]
pub struct CheckpointOptions {
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    /// `--parent-path`: relative to the image path (a pre-dump's images).
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_skip_in_flight: bool,
    pub link_remap: bool,
    pub status_fd: Option<OwnedFd>,
    /// `--page-server ADDRESS:PORT`.
    pub page_server: Option<(String, i32)>,
    pub pre_dump: bool,
    /// The flags restore has too.
    pub criu: CriuFlags,
}

/// `checkpoint ID`.
pub fn checkpoint(rt: &Runtime, id: &str, mut o: CheckpointOptions) -> Result<()> {
    let c = Container::lock(rt, id)?;
    match c.status {
        Status::Running | Status::Paused => {}
        s => bail!(
            "container {id} cannot be checkpointed in {} state",
            s.as_str()
        ),
    }
    o.criu.check()?;
    check_parent(&o)?;
    let spec = recorded_spec(rt, &c)?;

    let mut opts = o.criu.criu_opts("dump.log", &c.rec.rootfs, &spec)?;
    opts.set_pid(c.rec.pid);
    opts.set_leave_running(o.leave_running);
    opts.set_tcp_skip_in_flight(o.tcp_skip_in_flight);
    opts.set_link_remap(o.link_remap);
    external_namespaces(&mut opts, &spec)?;
    // Frozen through the cgroup freezer rather than with ptrace, one task at a time.
    let cg = c.cgroup();
    let freezer = match cg.v1_dir("freezer")? {
        Some(d) => Some(d),
        None => cg.v2_dir()?,
    };
    if let Some(f) = freezer {
        opts.set_freeze_cgroup(f.to_string_lossy().into_owned());
    }
    if let Some((addr, port)) = &o.page_server {
        let mut ps = rpc::Criu_page_server_info::new();
        ps.set_address(addr.clone());
        ps.set_port(*port);
        opts.ps = Some(ps).into();
    }
    if let Some(p) = &o.parent_path {
        opts.set_parent_img(p.to_string_lossy().into_owned());
        opts.set_track_mem(true);
    }
    // What hull makes here is removed again if the dump fails, so a failed checkpoint
    // changes nothing; the container goes on running.
    let mut made = Made::default();
    let (images, new) = make_dir(&o.image_path, "--image-path")?;
    if new {
        made.dir = Some(o.image_path.clone());
    }
    let work = match o.work_path.as_deref().map(|w| make_dir(w, "--work-path")) {
        Some(Err(e)) => {
            made.undo();
            return Err(e);
        }
        Some(Ok((fd, _))) => Some(fd),
        None => None,
    };
    let log_dir = o.work_path.as_deref().unwrap_or(&o.image_path);

    opts.set_images_dir_fd(raw(&images));
    if let Some(w) = &work {
        opts.set_work_dir_fd(raw(w));
    }
    // A pre-dump saves memory only: no mounts, no descriptors.
    if !o.pre_dump {
        let rootfs = &c.rec.rootfs;
        for b in criu_mounts::binds(&spec, &c.rec.bundle) {
            let dest = criu_mounts::resolve_in_rootfs(rootfs, &b.dest);
            opts.ext_mnt.push(ext_mount(&dest, &dest));
        }
        for (dest, _) in criu_mounts::cgroup_binds(&spec, &cg) {
            opts.ext_mnt.push(ext_mount(&dest, &dest));
        }
        for path in masked_files(&spec, c.rec.pid) {
            opts.ext_mnt.push(ext_mount(&path, "/dev/null"));
        }
        for dev in device_paths(&spec) {
            opts.ext_mnt.push(ext_mount(&dev, &dev));
        }
        let fds = stdio_links(c.rec.pid);
        for f in fds.iter().filter(|f| f.starts_with("file[")) {
            if !opts.external.contains(f) {
                opts.external.push(f.clone());
            }
        }
        let json = serde_json::to_vec(&fds)?;
        let path = o.image_path.join(DESCRIPTORS);
        made.files.push(path.clone());
        if let Err(e) = std::fs::write(&path, json) {
            made.undo();
            return Err(e).with_context(|| format!("writing {}", path.display()));
        }
    }

    let mut req = rpc::Criu_req::new();
    req.set_type(if o.pre_dump {
        rpc::Criu_req_type::PRE_DUMP
    } else {
        rpc::Criu_req_type::DUMP
    });
    req.opts = Some(opts).into();
    let mut fds = vec![images.as_fd()];
    fds.extend(work.iter().map(|w| w.as_fd()));
    let swrk = Swrk {
        criu: rt.criu_binary(),
        log: Some(log_dir.join("dump.log")),
        inherit_stdio: false,
        fds,
    };
    // criu (3.15 and later) says when its lazy page server is up; hull passes it on to
    // --status-fd as one \0 and closes it, as runc does (no fd number goes to criu).
    let mut status_fd = o.status_fd.take();
    let dumped = swrk.call(req, |ev| {
        if let Event::Notify(n, _) = ev {
            if n.script() == "status-ready" {
                if let Some(fd) = status_fd.take() {
                    let _ = nix::unistd::write(&fd, &[0]);
                }
            }
        }
        Ok(())
    });
    if let Err(e) = dumped {
        made.undo();
        let hint = if o.work_path.is_none() && made.dir.is_some() {
            String::new()
        } else {
            format!(" (criu's log: {})", log_dir.join("dump.log").display())
        };
        return Err(e.context(format!("checkpoint of container {id} failed{hint}")));
    }
    if o.leave_running || o.pre_dump {
        return Ok(());
    }
    // criu killed the container's processes: remove what is left, as `delete` would.
    let (entry, rec, _) = c.into_parts();
    let entry = entry.context("internal: checkpoint without the container's lock")?;
    destroy(entry, &rec, Status::Stopped)
}

/// `--parent-path` must name an existing directory relative to the image path (runc's
/// rule), checked before anything is made.
fn check_parent(o: &CheckpointOptions) -> Result<()> {
    let Some(p) = &o.parent_path else {
        return Ok(());
    };
    if p.is_absolute() {
        bail!(
            "--parent-path {}: must be relative to --image-path",
            p.display()
        );
    }
    // Lexically, as runc's filepath.Join: the image directory may not exist yet.
    let real = super::absolute_clean(&o.image_path.join(p))?;
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!(
            "invalid --parent-path {}: {} is not a directory",
            p.display(),
            real.display()
        ),
        Err(e) => bail!(
            "invalid --parent-path {}: {}: {e}",
            p.display(),
            real.display()
        ),
    }
}

/// What the checkpoint made, removed again on failure: the image directory if it was
/// missing, and the files hull wrote into it. A work directory stays (it holds the log).
#[derive(Default)]
struct Made {
    dir: Option<PathBuf>,
    files: Vec<PathBuf>,
}

impl Made {
    fn undo(&self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Make `path` (mode 0700) if missing and open it for criu; true if it was made.
pub(super) fn make_dir(path: &Path, flag: &str) -> Result<(OwnedFd, bool)> {
    use std::os::unix::fs::DirBuilderExt;
    let what = || format!("{flag} {}", path.display());
    let made = match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(e).with_context(what),
    };
    Ok((open_dir(path).with_context(what)?, made))
}

/// A directory opened for criu (which gets its fd number).
pub(super) fn open_dir(path: &Path) -> Result<OwnedFd> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    Ok(open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

pub(super) fn raw(fd: &OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

/// The config `create` recorded (what the container runs with), else the bundle's.
pub(super) fn recorded_spec(rt: &Runtime, c: &Container) -> Result<Spec> {
    let plan = match rt.store()?.read_config(c.id())? {
        Some((bytes, path)) => crate::spec::load_recorded(bytes, &path, &c.rec.bundle)?,
        None => crate::spec::load(&c.rec.bundle)?,
    };
    Ok(plan.spec)
}

pub(super) fn ext_mount(key: &str, val: &str) -> rpc::Ext_mount_map {
    let mut m = rpc::Ext_mount_map::new();
    m.set_key(key.into());
    m.set_val(val.into());
    m
}

/// Masked paths that are files (hull binds /dev/null over them); directories get a tmpfs,
/// which criu dumps itself.
fn masked_files(spec: &Spec, pid: i32) -> Vec<String> {
    let linux = spec.linux().as_ref();
    let masked = linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    masked
        .into_iter()
        .filter(|p| {
            let inside = format!("/proc/{pid}/root/{}", p.trim_start_matches('/'));
            std::fs::metadata(inside).is_ok_and(|m| !m.is_dir())
        })
        .collect()
}

/// `linux.devices` paths (bound from the host where mknod is not allowed).
pub(super) fn device_paths(spec: &Spec) -> Vec<String> {
    let linux = spec.linux().as_ref();
    linux
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
        .iter()
        .map(|d| d.path().to_string_lossy().into_owned())
        .collect()
}

/// What the init's fds 0-2 are (`pipe:[123]`, `/dev/null`, ...), as runc records them;
/// except a file on a mount outside the container (a FIFO or file its caller handed it, as
/// containerd's hull shim does, or the host's /dev/null), which criu could not reopen: that
/// one is recorded as criu's key for an external file, `file[MNT_ID:INODE]` (hex), passed
/// to criu as external here and mapped onto the new stdio by restore.
fn stdio_links(pid: i32) -> Vec<String> {
    let mounts = container_mount_ids(pid);
    (0..3)
        .map(|fd| {
            let path = format!("/proc/{pid}/fd/{fd}");
            let Ok(link) = std::fs::read_link(&path) else {
                return "/dev/null".into();
            };
            let link = link.to_string_lossy().into_owned();
            let special = ["pipe:", "socket:", "anon_inode:", "/dev/pts/", "/dev/tty"];
            if special.iter().any(|p| link.starts_with(p)) {
                return link;
            }
            match (fd_mount_id(pid, fd), std::fs::metadata(&path)) {
                (Some(m), Ok(st)) if mounts.as_ref().is_some_and(|ms| !ms.contains(&m)) => {
                    use std::os::unix::fs::MetadataExt;
                    format!("file[{m:x}:{:x}]", st.ino())
                }
                _ => link,
            }
        })
        .collect()
}

/// The ids of the mounts in the container's mount namespace.
fn container_mount_ids(pid: i32) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect(),
    )
}

/// The mount an fd's file is on (`mnt_id` in /proc/PID/fdinfo/FD).
fn fd_mount_id(pid: i32, fd: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// criu's name for a namespace type.
pub(super) fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Time => "time",
    }
}

/// Network and pid namespaces the container joined by path are not dumped: criu notes
/// them as external (`net[INODE]:extRootNetNS`) and restore hands them back.
fn external_namespaces(opts: &mut rpc::Criu_opts, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    for ns in linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
    {
        let t = ns.typ();
        if !matches!(t, LinuxNamespaceType::Network | LinuxNamespaceType::Pid) {
            continue;
        }
        let Some(path) = ns.path() else { continue };
        let st = nix::sys::stat::stat(path).with_context(|| {
            format!(
                "linux.namespaces: {} namespace {}",
                ns_name(t),
                path.display()
            )
        })?;
        let name = ns_name(t);
        opts.external
            .push(format!("{name}[{}]:{}", st.st_ino, criu::ns_key(name)));
    }
    Ok(())
}
