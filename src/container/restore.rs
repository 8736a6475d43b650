//! `restore`: a new container `ID` from a checkpoint's images, made by criu and recorded by
//! hull like a created-and-started one (its init's pid and start time), so that `state`,
//! `kill`, `exec`, `pause` and `delete` treat it as any other. As runc: the cgroup is made
//! and limited first and criu runs inside it (the restored tasks inherit it, and criu is
//! told the cgroup roots); the rootfs is bound onto `ROOT/.hull~criu~ID` for criu's root;
//! bind mounts, masked files and devices go back as external mounts; namespaces joined by
//! path are joined again; the stdio pipes recorded at checkpoint are the caller's stdio;
//! prestart and createRuntime hooks run when criu has set up the namespaces; a terminal's
//! new master goes to `--console-socket`. A failed restore leaves nothing: no process,
//! cgroup, mount or state.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxNamespaceType;

use super::checkpoint::{device_paths, ext_mount, make_dir, ns_name, open_dir, raw, DESCRIPTORS};
use super::criu_mounts;
use super::criu_opts::CriuFlags;
use super::{
    console_mode, destroy, plan_cgroup, resources_with_device_rules, status_of, write_pid_file,
    Undo,
};
use crate::cgroups::join::Join;
use crate::cgroups::Cgroup;
use crate::criu::{self, rpc, Event, Swrk};
use crate::hooks::{self, Kind};
use crate::runtime::Runtime;
use crate::state::{OciState, Status};

/// `restore`'s flags (runc's).
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub no_subreaper: bool,
    /// The flags checkpoint has too.
    pub criu: CriuFlags,
}

/// `restore ID`: detached, returns 0 once the container runs; attached, waits for its init
/// as `run` does and returns its exit status.
pub fn restore(rt: &Runtime, o: &RestoreOptions) -> Result<i32> {
    crate::id::validate(&o.id)?;
    let plan = crate::spec::load(&o.bundle)?;
    let descriptors = read_images(&o.image_path)?;
    o.criu.check()?;
    let console = console_mode(&plan, o.console_socket.as_deref(), o.detach)?;
    let ns_fds = namespace_files(&plan.spec)?;
    // Attached: signals are forwarded from before criu starts, as `run` does.
    let forward = (!o.detach)
        .then(|| crate::process::attached::Forwarder::install(!o.no_subreaper))
        .transpose()?;

    let cgroup = plan_cgroup(rt, &plan, &o.id)?;
    let mut rec = super::new_record(&o.id, &o.bundle, &plan, &cgroup)?;
    let st = rt.store()?;
    let entry = st.reserve_saved(&o.id, &rec)?;
    let mut undo = Undo {
        entry: Some(entry),
        cgroup: None,
        host_mounts: None,
    };
    let entry = undo.entry.as_ref().expect("just set");
    let res = resources_with_device_rules(&plan.spec);
    // cgroupfs: made and limited now, criu joins it. systemd: the unit is started with
    // criu's pid once criu exists (`Placement::place`, as create starts it with the init's),
    // and is this container's to remove only from then on.
    let mut placement = None;
    if cgroup.driver.is_cgroupfs() {
        cgroup.create()?;
        undo.cgroup = Some(cgroup.clone());
        cgroup.apply(&res)?;
    } else {
        let annotations = plan.spec.annotations().clone().unwrap_or_default();
        placement = Some(cgroup.prepare(&o.id, &res, &annotations, false)?);
    }

    // Beside the state directory, not in it: nothing that removes a directory tree may
    // ever reach into the rootfs through this mount.
    let root = CriuRoot::bind(
        &plan.rootfs,
        &st.root().join(format!(".hull~criu~{}", o.id)),
    )?;
    let images = open_dir(&o.image_path)
        .with_context(|| format!("--image-path {}", o.image_path.display()))?;
    let work = o
        .work_path
        .as_deref()
        .map(|w| make_dir(w, "--work-path").map(|(fd, _)| fd))
        .transpose()?;
    let log_dir = o.work_path.as_deref().unwrap_or(&o.image_path);

    let mut opts = base_opts(o, &root.path, &plan.spec)?;
    opts.set_images_dir_fd(raw(&images));
    if let Some(w) = &work {
        opts.set_work_dir_fd(raw(w));
    }
    add_namespaces(&mut opts, &ns_fds);
    // Mountpoints as create makes them (the rootfs may be a fresh copy); bind mounts from
    // their sources, at the destinations as resolved in the rootfs.
    let resolved = criu_mounts::prepare_restore(&plan.spec, &plan.rootfs, &plan.bundle)?;
    add_mounts(&mut opts, &plan, &resolved, &cgroup);
    add_stdio_pipes(&mut opts, &descriptors);
    let mut req = rpc::Criu_req::new();
    req.set_type(rpc::Criu_req_type::RESTORE);
    req.opts = Some(opts).into();

    let mut fds = vec![images.as_fd()];
    fds.extend(work.iter().map(|w| w.as_fd()));
    fds.extend(
        ns_fds
            .iter()
            .filter_map(|(_, _, f)| f.as_ref().map(|f| f.as_fd())),
    );
    let swrk = Swrk {
        criu: rt.criu_binary(),
        log: Some(log_dir.join("restore.log")),
        inherit_stdio: true,
        fds,
    };
    let mut pid = 0;
    let mut relay = None;
    let restored = swrk.call(req, |ev| match ev {
        Event::Spawned(criu_pid, req) => {
            // criu, and so every task it restores, runs in the container's cgroup.
            match placement.as_mut() {
                Some(p) => p
                    .place(criu_pid, &Join::default(), false)
                    .context("starting the container's systemd unit with criu in it")?,
                None => cgroup
                    .add(criu_pid)
                    .context("moving criu into the container's cgroup")?,
            }
            req.opts.mut_or_insert_default().cg_root = cgroup_roots(criu_pid)?;
            Ok(())
        }
        Event::Notify(n, fds) => match n.script() {
            "setup-namespaces" => {
                let state = OciState::new(
                    &rec.id,
                    Status::Creating,
                    n.pid(),
                    &rec.bundle,
                    &rec.annotations,
                )
                .to_json();
                hooks::run_all(rec.hooks.as_ref(), Kind::Prestart, &state)?;
                hooks::run_all(rec.hooks.as_ref(), Kind::CreateRuntime, &state)
            }
            "post-restore" => {
                pid = n.pid();
                Ok(())
            }
            "orphan-pts-master" => {
                let master = fds.into_iter().next().context("criu sent no pty master")?;
                relay = console.route(master)?;
                Ok(())
            }
            _ => Ok(()),
        },
    });
    drop(root);
    if let Some(p) = placement.as_ref().filter(|p| p.owns_cgroup()) {
        undo.cgroup = Some(p.cgroup().clone());
        // With the unit's InvocationID, as create records it.
        rec.cgroup = Some(p.cgroup().clone());
    }
    restored.with_context(|| {
        format!(
            "restore of container {} failed (criu's log: {})",
            o.id,
            log_dir.join("restore.log").display()
        )
    })?;
    if pid <= 0 {
        bail!(
            "restore of container {}: criu did not report the restored init",
            o.id
        );
    }
    rec.pid = pid;
    rec.init_start_time = crate::procinfo::stat(pid).map(|s| s.1).unwrap_or(0);
    rec.created_done = true;
    entry.save(&rec)?;
    entry.save_config(&plan.config_bytes)?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, pid)?;
    }
    let entry = undo.entry.take().expect("set at reserve");
    undo.cgroup = None;
    let Some(forward) = forward else {
        return Ok(0);
    };
    drop(entry);
    wait_attached(rt, &o.id, &forward, pid, relay)
}

/// criu's options from the flags, as runc sets them for a restore.
fn base_opts(
    o: &RestoreOptions,
    root: &Path,
    spec: &oci_spec::runtime::Spec,
) -> Result<rpc::Criu_opts> {
    let mut opts = o.criu.criu_opts("restore.log", root, spec)?;
    opts.set_evasive_devices(true);
    // The restored init becomes hull's child, as a created one is.
    opts.set_rst_sibling(true);
    Ok(opts)
}

/// Namespaces joined by path: network and pid ones handed over as fds under the keys of
/// the checkpoint, the others joined by criu.
fn add_namespaces(opts: &mut rpc::Criu_opts, ns_fds: &[(&'static str, PathBuf, Option<OwnedFd>)]) {
    for (kind, path, fd) in ns_fds {
        match fd {
            Some(fd) => {
                let mut i = rpc::Inherit_fd::new();
                i.set_key(criu::ns_key(kind));
                i.set_fd(raw(fd));
                opts.inherit_fd.push(i);
            }
            None => {
                let mut j = rpc::Join_namespace::new();
                j.set_ns(kind.to_string());
                j.set_ns_file(path.to_string_lossy().into_owned());
                opts.join_ns.push(j);
            }
        }
    }
}

/// External mounts: binds from their sources, the new container's own cgroup directories
/// where the old one's were, /dev/null for masked files, device nodes.
fn add_mounts(
    opts: &mut rpc::Criu_opts,
    plan: &crate::spec::Plan,
    resolved: &[(PathBuf, String)],
    cgroup: &Cgroup,
) {
    for b in criu_mounts::binds(&plan.spec, &plan.bundle) {
        let key = match resolved.iter().find(|(d, _)| *d == b.dest) {
            Some((_, r)) => r.clone(),
            None => b.dest.to_string_lossy().into_owned(),
        };
        opts.ext_mnt
            .push(ext_mount(&key, &b.source.to_string_lossy()));
    }
    for (dest, host) in criu_mounts::cgroup_binds(&plan.spec, cgroup) {
        opts.ext_mnt.push(ext_mount(&dest, &host));
    }
    let linux = plan.spec.linux().as_ref();
    let masked = linux.and_then(|l| l.masked_paths().as_ref());
    if masked.is_some_and(|m| !m.is_empty()) {
        opts.ext_mnt.push(ext_mount("/dev/null", "/dev/null"));
    }
    for dev in device_paths(&plan.spec) {
        opts.ext_mnt.push(ext_mount(&dev, &dev));
    }
}

/// The pipes the container's stdio was on, and the files outside it that checkpoint
/// recorded as external (`file[MNT_ID:INODE]`), are hull's own stdio now (criu inherits it).
fn add_stdio_pipes(opts: &mut rpc::Criu_opts, descriptors: &[String]) {
    for (fd, link) in descriptors.iter().enumerate() {
        if link.contains("pipe:") || link.starts_with("file[") {
            let mut i = rpc::Inherit_fd::new();
            i.set_key(link.clone());
            i.set_fd(fd as i32);
            opts.inherit_fd.push(i);
        }
    }
}

/// Attached: wait for the restored init as `run` does, then remove the container.
fn wait_attached(
    rt: &Runtime,
    id: &str,
    forward: &crate::process::attached::Forwarder,
    pid: i32,
    relay: Option<OwnedFd>,
) -> Result<i32> {
    let code = forward.wait_for(pid, relay);
    let entry = rt.store()?.lock(id)?;
    if let Some(rec) = entry.load()? {
        let status = status_of(&rec, entry.dir());
        destroy(entry, &rec, status)?;
    } else {
        entry.remove()?;
    }
    code
}

/// The image directory must hold a checkpoint (criu's inventory) and hull's record of the
/// init's stdio; returns that record.
fn read_images(dir: &Path) -> Result<Vec<String>> {
    let what = || format!("--image-path {}", dir.display());
    if !dir.is_dir() {
        bail!("{}: not a directory", what());
    }
    if !dir.join("inventory.img").is_file() {
        bail!(
            "{}: not a checkpoint (no inventory.img; make one with `hull checkpoint`)",
            what()
        );
    }
    let path = dir.join(DESCRIPTORS);
    let bytes =
        std::fs::read(&path).with_context(|| format!("{}: reading {DESCRIPTORS}", what()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: {DESCRIPTORS}", what()))
}

/// Namespaces the config joins by path: network and pid ones go to criu as open fds
/// (external namespaces, keyed as at checkpoint), the others by path (criu joins them).
/// A cgroup namespace by path is refused, as runc does (criu cannot join one).
fn namespace_files(
    spec: &oci_spec::runtime::Spec,
) -> Result<Vec<(&'static str, PathBuf, Option<OwnedFd>)>> {
    let mut out = Vec::new();
    let linux = spec.linux().as_ref();
    for ns in linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
    {
        let Some(path) = ns.path().clone() else {
            continue;
        };
        let t = ns.typ();
        let kind = ns_name(t);
        match t {
            LinuxNamespaceType::Network | LinuxNamespaceType::Pid => {
                let fd = std::fs::File::open(&path).with_context(|| {
                    format!("linux.namespaces: {kind} namespace {}", path.display())
                })?;
                out.push((kind, path, Some(OwnedFd::from(fd))));
            }
            LinuxNamespaceType::Cgroup => bail!(
                "linux.namespaces: restore cannot join the cgroup namespace {} (criu cannot)",
                path.display()
            ),
            _ => out.push((kind, path, None)),
        }
    }
    Ok(out)
}

/// criu's cgroup roots: where criu itself is, on each controller (`/proc/PID/cgroup`,
/// "" for cgroup2), so the restored tasks land in the new container's cgroup.
fn cgroup_roots(pid: i32) -> Result<Vec<rpc::Cgroup_root>> {
    let path = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    Ok(parse_cgroup_roots(&text)
        .into_iter()
        .map(|(ctrl, p)| {
            let mut r = rpc::Cgroup_root::new();
            r.set_ctrl(ctrl);
            r.set_path(p);
            r
        })
        .collect())
}

fn parse_cgroup_roots(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        for c in ctrls.split(',') {
            out.push((c.to_string(), path.to_string()));
        }
    }
    out
}

/// The rootfs bound (recursively) onto `ROOT/.hull~criu~ID`: criu's root must be a mount
/// point whose parent is not overmounted (runc uses its state directory's `criu-root`).
/// Unmounted and removed (never recursively) when dropped.
struct CriuRoot {
    path: PathBuf,
}

impl CriuRoot {
    fn bind(rootfs: &Path, path: &Path) -> Result<CriuRoot> {
        use nix::mount::{mount, MsFlags};
        std::fs::create_dir(path).with_context(|| format!("creating {}", path.display()))?;
        let root = CriuRoot {
            path: path.to_path_buf(),
        };
        mount(
            Some(rootfs),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("binding the rootfs onto {}", path.display()))?;
        Ok(root)
    }
}

impl Drop for CriuRoot {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_roots_are_one_per_controller_and_empty_for_cgroup2() {
        let roots = parse_cgroup_roots(
            "12:cpu,cpuacct:/hull/a\n1:name=systemd:/hull/a\n0::/system.slice/x\n",
        );
        assert_eq!(
            roots,
            vec![
                ("cpu".into(), "/hull/a".into()),
                ("cpuacct".into(), "/hull/a".into()),
                ("name=systemd".into(), "/hull/a".into()),
                ("".into(), "/system.slice/x".into()),
            ]
        );
    }
}
