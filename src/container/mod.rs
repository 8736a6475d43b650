//! Lifecycle operations over state, process, cgroups and hooks: create, start, run, kill,
//! delete, state and list (here), exec, checkpoint and restore (their own files). Status is never stored: it is derived from the init's liveness
//! (pid + start time), the exec fifo and the freezer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde::Serialize;

use crate::cgroups::Cgroup;
use crate::hooks::{self, Kind};
use crate::process::{exec_fifo, spawn};
use crate::runtime::Runtime;
pub use crate::state::Status;
use crate::state::{Entry, OciState, Record};

mod cgroup_ops;
mod checkpoint;
mod criu_mounts;
mod criu_opts;
mod exec;
mod instance;
mod restore;
pub use cgroup_ops::{events, parse_interval, pause, pids, ps_table, resume, stats_event, update};
pub use checkpoint::{checkpoint, CheckpointOptions};
pub use criu_opts::CriuFlags;
pub use exec::{exec, ExecOptions};
pub use instance::Container;
pub use restore::{restore, RestoreOptions};

/// The record of a container that is about to exist (pid 0: "creating"), for create and
/// restore.
fn new_record(
    id: &str,
    bundle: &std::path::Path,
    plan: &crate::spec::Plan,
    cgroup: &Cgroup,
) -> Result<Record> {
    Ok(Record {
        oci_version: crate::OCI_VERSION.into(),
        id: id.to_string(),
        bundle: absolute_clean(bundle)?,
        rootfs: plan.rootfs.clone(),
        created: crate::logging::rfc3339_nanos(SystemTime::now(), true),
        annotations: plan
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup: Some(cgroup.clone()),
        hooks: plan.spec.hooks().clone(),
        ..Default::default()
    })
}

/// What `create` and `run` need from the command line.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub detach: bool,
}

/// The state JSON of `hull state` (runtime-spec fields plus runc's rootfs/created/owner).
#[derive(Debug, Clone, Serialize)]
pub struct ListEntry {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// For a stopped container run under hull-shim: `{"code", "signal", "oomKilled",
    /// "exitedAt"}` as the shim recorded it, or `"unknown"` if the shim died first.
    #[serde(rename = "exitStatus", skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<serde_json::Value>,
}

/// Derive the status from the record and the live system.
pub fn status_of(rec: &Record, dir: &Path) -> Status {
    if rec.pid == 0 {
        // Recorded before the init was cloned: a create in progress, or one that died.
        return Status::Creating;
    }
    if !crate::procinfo::is_alive(rec.pid, rec.init_start_time) {
        return Status::Stopped;
    }
    if !rec.created_done {
        return Status::Creating;
    }
    if dir.join("exec.fifo").exists() {
        return Status::Created;
    }
    if rec
        .cgroup
        .as_ref()
        .is_some_and(|c| c.is_frozen().unwrap_or(false))
    {
        return Status::Paused;
    }
    Status::Running
}

/// What hull-shim recorded about a stopped container's exit (hull_common::exit_record).
fn shim_exit_status(dir: &Path, status: Status) -> Option<serde_json::Value> {
    let shim = dir.join("shim");
    if status != Status::Stopped || !shim.is_dir() {
        return None;
    }
    let Ok(Some(r)) = hull_common::exit_record::ExitRecord::read(&shim) else {
        return Some(serde_json::json!("unknown"));
    };
    Some(serde_json::json!({
        "code": r.exit_code,
        "signal": r.signal,
        "oomKilled": r.oom_killed,
        "exitedAt": r.exited_at,
    }))
}

fn entry_json(c: &Container) -> ListEntry {
    let rec = &c.rec;
    ListEntry {
        exit_status: shim_exit_status(c.dir(), c.status),
        oci_version: rec.oci_version.clone(),
        id: rec.id.clone(),
        pid: if c.status == Status::Stopped {
            0
        } else {
            rec.pid
        },
        status: c.status,
        bundle: rec.bundle.clone(),
        rootfs: rec.rootfs.clone(),
        created: rec.created.clone(),
        owner: rec.owner.clone(),
        annotations: rec.annotations.clone(),
    }
}

/// Removes what a failed create made, in reverse order, unless disarmed.
struct Undo {
    entry: Option<Entry>,
    cgroup: Option<Cgroup>,
    /// A rootfs whose mounts the init made in the host's mount namespace.
    host_mounts: Option<PathBuf>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(rootfs) = self.host_mounts.take() {
            if let Err(e) = crate::rootfs::host::detach_all_under(&rootfs) {
                crate::logging::warn(&format!("cleanup after failed create: {e:#}"));
            }
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill_all(libc::SIGKILL);
            if let Err(e) = cg.destroy() {
                crate::logging::warn(&format!("cleanup after failed create: {e:#}"));
            }
        }
        if let Some(e) = self.entry.take() {
            if let Err(e) = e.remove() {
                crate::logging::warn(&format!("cleanup after failed create: {e:#}"));
            }
        }
    }
}

/// A container that `create` left blocked until `start`.
pub struct Created {
    pub pid: i32,
    /// The pty master when `run` relays the terminal itself.
    pub console: Option<std::os::fd::OwnedFd>,
    /// With `release`: what `start_released` needs, handed over from the create.
    released: Option<Released>,
}

/// A container `create_inner` released: still locked, its record as saved, and the exec
/// fifo's read end, opened as soon as the init was set up.
struct Released {
    entry: Entry,
    rec: Record,
    reader: std::os::fd::OwnedFd,
}

/// Where a terminal's master goes, with runc's rules about sockets and detaching (create
/// and restore).
fn console_mode(
    plan: &crate::spec::Plan,
    console_socket: Option<&std::path::Path>,
    detach: bool,
) -> Result<spawn::Console> {
    let terminal = plan
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    spawn::Console::choose(terminal, console_socket, detach)
}

/// The container's cgroup as its `linux.cgroupsPath` and the runtime's flags ask for it
/// (create and restore).
fn plan_cgroup(rt: &Runtime, plan: &crate::spec::Plan, id: &str) -> Result<Cgroup> {
    let path = plan
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    Cgroup::plan(path.as_deref(), id, rt.systemd_cgroup, rt.is_rootless())
}

/// `create`: the container is `created` when this returns.
pub fn create(rt: &Runtime, o: &CreateOptions) -> Result<Created> {
    create_inner(rt, o, false)
}

/// `create`; with `release` (`run`, which starts the container next anyway) the exec
/// fifo's read end is opened the moment the init reports it is set up, so the init goes on
/// to its execve while this process saves the record (about 0.3 ms of each `run` that used
/// to be spent one after the other), and the container stays locked for `start_released`,
/// which needs neither to lock it again nor to read back the record.
fn create_inner(rt: &Runtime, o: &CreateOptions, release: bool) -> Result<Created> {
    crate::id::validate(&o.id)?;
    crate::process::sealed_exe::ensure()?;
    let plan = crate::spec::load(&o.bundle)?;
    let ns = spawn::check(&plan)?;
    let console = console_mode(&plan, o.console_socket.as_deref(), o.detach)?;
    let linux = plan.spec.linux().as_ref();
    // Compiled once, here in the parent before anything exists: the init only loads it.
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::security::seccomp::compile)
        .transpose()?;
    let rootless = rt.is_rootless();
    let mut cgroup = plan_cgroup(rt, &plan, &o.id)?;

    let host_mounts = !ns.has_mount;
    let mut rec = Record {
        host_mounts,
        no_new_keyring: o.no_new_keyring,
        ..new_record(&o.id, &o.bundle, &plan, &cgroup)?
    };
    // The id appears with this record (pid 0: status "creating"), before the cgroup exists,
    // so `delete --force` after a create killed anywhere from here on knows which cgroup to
    // remove.
    let st = rt.store()?;
    let entry = st.reserve_saved(&o.id, &rec)?;
    crate::fault::point("after-reserve");
    let mut undo = Undo {
        entry: Some(entry),
        cgroup: None,
        host_mounts: host_mounts.then(|| plan.rootfs.clone()),
    };
    let entry = undo.entry.as_ref().expect("just set");
    // On a v1 or hybrid host the v1 directories are made after the clone (Placement).
    let v1_later = cgroup.v1_after_clone(rootless);
    let resources = linux.and_then(|l| l.resources().as_ref());
    let hugetlb_under = crate::cgroups::hybrid::hugetlb_parent(&cgroup, resources)?;
    let made = if v1_later {
        cgroup.create_v2()
    } else {
        cgroup.create()
    };
    match made {
        Ok(()) => {
            crate::fault::point("after-cgroup-create");
            // Under systemd the unit name may still be another container's: the cgroup is
            // this one's to remove only once systemd started the unit for it (below).
            if cgroup.driver.is_cgroupfs() {
                undo.cgroup = Some(cgroup.clone());
            }
        }
        // Rootless without a delegated cgroup: run without one, as runc does, unless the
        // config asks for limits that then could not be enforced.
        Err(e) if rootless && cgroup.driver.is_cgroupfs() => {
            let wanted = linux
                .and_then(|l| l.resources().as_ref())
                .map(crate::cgroups::requested_limits)
                .unwrap_or_default();
            if !wanted.is_empty() {
                return Err(e.context(format!(
                    "linux.resources: cannot set the {} limits: the container could not \
                     create or join a cgroup (rootless without a delegated cgroup)",
                    wanted.join(", ")
                )));
            }
            crate::logging::debug(&format!("rootless: no cgroup for the container: {e:#}"));
            cgroup = Cgroup::default();
            rec.cgroup = None;
        }
        Err(e) => return Err(e),
    }
    if let Some(under) = &hugetlb_under {
        crate::cgroups::hybrid::enable_hugetlb(&cgroup, under)?;
    }
    let annotations = plan.spec.annotations().clone().unwrap_or_default();
    let mut placement = cgroup.prepare(
        &o.id,
        &resources_with_device_rules(&plan.spec),
        &annotations,
        v1_later,
    )?;
    let fifo = exec_fifo::create(&entry.exec_fifo())?;

    let (env, extra_fds) = user_env(&plan, o.preserve_fds)?;
    let opts = spawn::SpawnOptions {
        id: &o.id,
        console,
        plan: &plan,
        fifo: &fifo,
        extra_fds,
        env,
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        seccomp,
    };
    let spawned = spawn::spawn(&opts, &ns, &mut placement, |pid| {
        // Saved while the init sets up its rootfs (right after Go) and before it can outlive
        // hull, so a create killed half-way can still be cleaned up by `delete --force`.
        rec.pid = pid;
        rec.init_start_time = crate::procinfo::stat(pid).map(|s| s.1).unwrap_or(0);
        entry.save(&rec)?;
        entry.save_config(&plan.config_bytes)
    });
    if !cgroup.driver.is_cgroupfs() && placement.owns_cgroup() {
        undo.cgroup = Some(placement.cgroup().clone());
    }
    let child = spawned?;
    let reader = release
        .then(|| exec_fifo::open_reader(&entry.exec_fifo()))
        .transpose()?;
    // Under systemd the placed cgroup carries the unit's InvocationID.
    rec.cgroup = Some(placement.cgroup().clone());
    rec.created_done = true;
    crate::fault::point("before-created-saved");
    entry.save(&rec)?;
    crate::fault::point("after-created");
    if let Some(p) = &o.pid_file {
        write_pid_file(p, child.pid)?;
    }
    let entry = undo.entry.take().expect("set at reserve");
    undo.cgroup = None;
    undo.host_mounts = None;
    let (pid, console) = child.release();
    Ok(Created {
        pid,
        console,
        released: reader.map(|reader| Released { entry, rec, reader }),
    })
}

/// `linux.resources` with the full device rule list runc writes: the spec's rules, runc's
/// default allowed devices, and an allow rule for every `linux.devices` node.
fn resources_with_device_rules(spec: &oci_spec::runtime::Spec) -> LinuxResources {
    let linux = spec.linux().as_ref();
    let mut res = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let rules =
        crate::cgroups::devices::container_rules(res.devices().as_deref().unwrap_or_default());
    res.set_devices(Some(rules));
    res
}

/// The user process's environment and how many extra fds it gets (LISTEN_FDS + N).
fn user_env(plan: &crate::spec::Plan, preserve_fds: u32) -> Result<(Vec<String>, u32)> {
    let process = plan.spec.process().as_ref().context("process: required")?;
    let mut env = process.env().clone().unwrap_or_default();
    let mut extra = preserve_fds;
    // Socket activation (sd_listen_fds): honoured only when the fds are meant for this
    // process (LISTEN_PID is hull's pid) and there is at least one, as in runc; an
    // inherited environment must not leak fds into the container.
    if let Some(n) = listen_fds() {
        extra += n;
        env.retain(|kv| !kv.starts_with("LISTEN_FDS=") && !kv.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
    }
    Ok((env, extra))
}

/// `path` made absolute against the cwd and cleaned lexically (`.`, `..`, `//`) without
/// resolving symlinks: runc reports the bundle exactly as the caller named it.
fn absolute_clean(path: &Path) -> Result<PathBuf> {
    use std::path::Component;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .context("reading the current directory")?
            .join(path)
    };
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    Ok(out)
}

/// The number of socket-activation fds passed to hull, if they are for hull.
fn listen_fds() -> Option<u32> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let n: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    (pid == std::process::id() && n > 0).then_some(n)
}

/// Write the pid file atomically (temp file + rename), as runc does.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let dir = abs.parent().unwrap_or(Path::new("/"));
    let name = abs.file_name().context("--pid-file: not a file path")?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("--pid-file {}: write", abs.display()))?;
    std::fs::rename(&tmp, &abs).with_context(|| format!("--pid-file {}", abs.display()))
}

fn pidfd_verified(rec: &Record) -> Result<std::os::fd::OwnedFd> {
    let fd = crate::sys::pidfd::open(rec.pid).context("container init is gone")?;
    // Verify after opening the pidfd: from now on the pid cannot be reused under us.
    if !crate::procinfo::is_alive(rec.pid, rec.init_start_time) {
        bail!("container init is gone");
    }
    Ok(fd)
}

/// `start`: only from `created`.
pub fn start(rt: &Runtime, id: &str) -> Result<()> {
    let c = Container::lock(rt, id)?;
    match c.status {
        Status::Created => {}
        Status::Running | Status::Paused => bail!("cannot start an already running container"),
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Creating => bail!("cannot start a container that is still being created"),
    }
    let pidfd = pidfd_verified(&c.rec)?;
    let entry = c.entry()?;
    let reader = exec_fifo::open_reader(&entry.exec_fifo());
    finish_start(entry, &c.rec, &pidfd, reader, Poststart::Warn)
}

/// `start` of a container `create_inner` released, with the lock and record the create
/// held: its init may be running the user process already, or even be done (so no status
/// check); it is this process's unreaped child, so its pid is still its own.
fn start_released(c: &mut Created) -> Result<()> {
    let r = c
        .released
        .take()
        .context("start: the container was not released by its create")?;
    let pidfd = crate::sys::pidfd::open(c.pid).context("container init is gone")?;
    finish_start(&r.entry, &r.rec, &pidfd, Ok(r.reader), Poststart::Fatal)
}

/// What a failing poststart hook does. The runtime-spec's `start` logs it and goes on;
/// runc's `run` (no spec operation) kills the container and fails, and callers of `run`
/// rely on that.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Poststart {
    Warn,
    Fatal,
}

/// Wait on the exec fifo's read end until the user process runs, remove the fifo, then run
/// the poststart hooks.
fn finish_start(
    entry: &Entry,
    rec: &Record,
    pidfd: &std::os::fd::OwnedFd,
    reader: Result<std::os::fd::OwnedFd>,
    poststart: Poststart,
) -> Result<()> {
    let r = reader.and_then(|f| exec_fifo::wait_exec(f, pidfd));
    let _ = std::fs::remove_file(entry.exec_fifo());
    r?;
    let state = OciState::new(
        &rec.id,
        Status::Running,
        rec.pid,
        &rec.bundle,
        &rec.annotations,
    )
    .to_json();
    if poststart == Poststart::Warn {
        hooks::run_all_warn(rec.hooks.as_ref(), Kind::Poststart, &state);
        return Ok(());
    }
    hooks::run_all(rec.hooks.as_ref(), Kind::Poststart, &state).inspect_err(|_| {
        let _ = crate::sys::pidfd::send_signal(pidfd, libc::SIGKILL);
    })
}

/// `kill`: the init, or with `all` every process in the container's cgroup.
pub fn kill(rt: &Runtime, id: &str, sig: i32, all: bool) -> Result<()> {
    let c = Container::lock(rt, id)?;
    // Without a pid namespace of its own, the init's death does not end the container's
    // other processes: SIGKILL goes to the whole cgroup, as with runc, even once the init
    // is gone (the container then reads stopped but its cgroup still holds processes).
    if sig == libc::SIGKILL && !all && !init_owns_pid_ns(c.rec.pid) {
        let cg = c.cgroup();
        if c.status != Status::Stopped || !cg.pids().unwrap_or_default().is_empty() {
            return cg.kill_all(sig);
        }
    }
    if c.status == Status::Stopped {
        // --all has nothing left to signal: not an error (runc's `kill -a ID 0`).
        if all {
            return Ok(());
        }
        bail!("container not running");
    }
    if all {
        return c.cgroup().kill_all(sig);
    }
    let pidfd = pidfd_verified(&c.rec)?;
    crate::sys::pidfd::send_signal(&pidfd, sig)
        .with_context(|| format!("sending signal {sig} to the container init"))
}

/// Whether `pid` is pid 1 of its own pid namespace (the last NSpid of /proc/PID/status):
/// false for a container sharing the host's or another container's pid namespace, and
/// for an init that is gone (then, with its own namespace, its processes died with it).
fn init_owns_pid_ns(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|l| l.split_whitespace().last().map(|p| p == "1"))
        })
        .unwrap_or(false)
}

/// `delete`: a stopped (or created, as in runc) container; `force` kills a running one.
pub fn delete(rt: &Runtime, id: &str, force: bool) -> Result<()> {
    crate::id::validate(id)?;
    let st = rt.store()?;
    let entry = st.lock(id)?;
    let rec = match entry.load() {
        Ok(r) => r,
        // A record torn by a host crash describes processes that died with the host.
        Err(e) => {
            crate::logging::warn(&format!("{id}: unreadable state, removing it: {e:#}"));
            return entry.remove();
        }
    };
    let Some(rec) = rec else {
        // A create that died before its init existed: nothing runs, remove the directory.
        return entry.remove();
    };
    let status = status_of(&rec, entry.dir());
    match status {
        Status::Stopped | Status::Created | Status::Creating => {}
        Status::Running | Status::Paused if force => {}
        s => bail!(
            "cannot delete container {id} that is not stopped: {}",
            s.as_str()
        ),
    }
    destroy(entry, &rec, status)
}

/// Kill whatever is left, wait for the init, run poststop hooks, remove cgroups and state.
fn destroy(entry: Entry, rec: &Record, status: Status) -> Result<()> {
    let cg = rec.cgroup.clone().unwrap_or_default().unless_reused();
    if status != Status::Stopped {
        if let Ok(fd) = pidfd_verified(rec) {
            let _ = crate::sys::pidfd::send_signal(&fd, libc::SIGKILL);
            wait_exit(&fd, Duration::from_secs(10));
        }
    }
    cg.kill_all(libc::SIGKILL)
        .context("killing the container's remaining processes")?;
    if status != Status::Creating {
        hooks::run_all_warn(
            rec.hooks.as_ref(),
            Kind::Poststop,
            &OciState::new(
                &rec.id,
                Status::Stopped,
                rec.pid,
                &rec.bundle,
                &rec.annotations,
            )
            .to_json(),
        );
    }
    cg.destroy()?;
    if rec.host_mounts {
        crate::rootfs::host::detach_all_under(&rec.rootfs)?;
    }
    entry.remove()
}

/// Wait until the process behind `pidfd` exits (zombie is enough) or the timeout passes.
fn wait_exit(pidfd: &std::os::fd::OwnedFd, timeout: Duration) {
    use std::os::fd::AsRawFd;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let mut p = [libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let r = crate::sys::poll::poll(&mut p, left.as_millis() as i32);
        if r != 0 && !(r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR))
        {
            return;
        }
    }
}

/// `state`: the container's state JSON.
pub fn state(rt: &Runtime, id: &str) -> Result<ListEntry> {
    crate::id::validate(id)?;
    match rt.store()?.read_opt(id)? {
        Some(rec) => Ok(entry_json(&Container::from_record(rec, rt.root.join(id)))),
        None => Ok(creating_entry(id)),
    }
}

/// A reserved id whose create has not recorded anything yet (or crashed before it could).
fn creating_entry(id: &str) -> ListEntry {
    ListEntry {
        oci_version: crate::OCI_VERSION.into(),
        id: id.into(),
        pid: 0,
        status: Status::Creating,
        bundle: PathBuf::new(),
        rootfs: PathBuf::new(),
        created: String::new(),
        owner: String::new(),
        annotations: BTreeMap::new(),
        exit_status: None,
    }
}

/// `list`: every container under the root.
pub fn list(rt: &Runtime) -> Result<Vec<ListEntry>> {
    let st = rt.store()?;
    let mut out = Vec::new();
    for id in st.ids()? {
        // A container deleted while we list is simply skipped.
        match st.read_opt(&id) {
            Ok(Some(rec)) => {
                let dir = st.root().join(&id);
                out.push(entry_json(&Container::from_record(rec, dir)));
            }
            Ok(None) => out.push(creating_entry(&id)),
            Err(_) => {}
        }
    }
    Ok(out)
}

/// runc's `list` table: tab-aligned columns (min width 12, padding 3).
pub fn list_table(s: &[ListEntry]) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "ID".into(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ]];
    for e in s {
        rows.push([
            e.id.clone(),
            e.pid.to_string(),
            e.status.as_str().to_string(),
            e.bundle.display().to_string(),
            e.created.clone(),
            e.owner.clone(),
        ]);
    }
    let mut width = [0usize; 6];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max((c.len() + 3).max(12));
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i == 5 {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}", w = width[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// `run --detach --shim`: hand the container to hull-shim (next to this binary, or
/// `$HULL_SHIM`), which creates and starts it and stays as its monitor. Returns the init pid.
pub fn run_with_shim(rt: &Runtime, id: &str, bundle: &Path) -> Result<i32> {
    crate::id::validate(id)?;
    let me = std::env::current_exe().context("locating the hull binary")?;
    let shim = std::env::var_os("HULL_SHIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| me.with_file_name("hull-shim"));
    let root = absolute_clean(&rt.root)?;
    let bundle = absolute_clean(bundle)?;
    let out = std::process::Command::new(&shim)
        .arg("--hull")
        .arg(&me)
        .arg("--root")
        .arg(&root)
        .arg("--bundle")
        .arg(&bundle)
        .arg("--id")
        .arg(id)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("--shim: running {} (set HULL_SHIM)", shim.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("{}", err.trim().trim_start_matches("hull-shim: "));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .context("--shim: hull-shim did not report the container's pid")?;
    v["pid"]
        .as_i64()
        .map(|p| p as i32)
        .context("--shim: hull-shim did not report the container's pid")
}

/// `run`: create + start; attached, wait for the init and exit with its status.
pub fn run(rt: &Runtime, o: &CreateOptions, keep: bool, no_subreaper: bool) -> Result<i32> {
    if o.detach {
        let mut c = create_inner(rt, o, true)?;
        // As runc's `run`, a container that failed to start is not left behind.
        if let Err(e) = start_released(&mut c) {
            remove_after_run(rt, &o.id)?;
            return Err(e);
        }
        return Ok(0);
    }
    let forward = crate::process::attached::Forwarder::install(!no_subreaper)?;
    let mut c = create_inner(rt, o, true)?;
    let result = start_released(&mut c).and_then(|_| forward.wait_for(c.pid, c.console));
    if !keep {
        remove_after_run(rt, &o.id)?;
    }
    result
}

/// Delete what `run` made, killing what is left of it.
fn remove_after_run(rt: &Runtime, id: &str) -> Result<()> {
    let st = rt.store()?;
    if let Ok(entry) = st.lock(id) {
        if let Ok(Some(rec)) = entry.load() {
            let status = status_of(&rec, entry.dir());
            destroy(entry, &rec, status)?;
        } else {
            entry.remove()?;
        }
    }
    Ok(())
}
