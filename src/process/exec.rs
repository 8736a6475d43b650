//! `exec`: run a new process inside a created or running container. The parent (this
//! side) reads the state, builds and checks the process, opens the init's namespaces and
//! verifies the init, then forks once — inside the container's pid namespace, which it
//! joins just around the fork — places the child in the container's cgroup (or a
//! `--cgroup` sub-cgroup), lets it go and waits until it has exec'd. Attached, it then
//! forwards signals and returns the process's status (128+N on signal N).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;

use super::child::{gone, KillOnDrop};
use super::exec_child::ChildContext;
use super::exec_join::Joins;
use super::exec_process::{self, Overrides};
use super::sync::{self, Msg};
use crate::cgroups::{join::Join, Cgroup};
use crate::cli::Global;
use crate::container::Status;
use crate::state::{Record, Store};
use crate::sys::clone::{fork_into, Forked};

/// What `hull exec` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub id: String,
    /// `--process FILE`: the whole process; `overrides` are then ignored, as in runc.
    pub process_file: Option<PathBuf>,
    pub overrides: Overrides,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    /// `--cgroup [<controller>[,...]:]<path>` options.
    pub cgroup: Vec<String>,
    pub ignore_paused: bool,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
}

/// Run the exec. Returns hull's exit code: 0 when detached, else the process's status.
pub fn exec(g: &Global, o: &ExecOptions) -> Result<i32> {
    crate::id::validate(&o.id)?;
    let rec = running_record(g, o)?;
    let plan = crate::spec::load(&rec.bundle)
        .context("exec takes its defaults from the container's config.json")?;
    let container = plan
        .spec
        .process()
        .clone()
        .context("the container's config.json has no process")?;
    let mut process = build_process(o, &container)?;
    if o.tty {
        process.set_terminal(Some(true));
    }
    let console = super::console::Console::choose(
        process.terminal() == Some(true),
        o.console_socket.as_deref(),
        o.detach,
    )?;
    // The container's seccomp filter, compiled here, loaded by the child.
    let seccomp = plan
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::security::seccomp::compile)
        .transpose()?;
    if seccomp.as_ref().is_some_and(|p| p.has_listener()) {
        bail!("exec: containers whose seccomp profile uses SCMP_ACT_NOTIFY are not supported yet");
    }
    let mut cgroup = cgroup_of(&rec)?;
    if !o.cgroup.is_empty() {
        cgroup = cgroup.sub(&o.cgroup)?;
    }
    let joins = Joins::open(rec.pid, rec.init_start_time)?;

    let forward = if o.detach {
        None
    } else {
        Some(crate::process::attached::Forwarder::install(false)?)
    };
    let (child, master) = fork_child(o, &process, &console, seccomp.as_ref(), joins, &cgroup)?;
    if let Some(p) = &o.pid_file {
        crate::container::write_pid_file(p, child.pid)?;
    }
    let pid = child.release();
    match forward {
        None => Ok(0),
        Some(f) => f.wait_for(pid, master),
    }
}

fn build_process(o: &ExecOptions, container: &Process) -> Result<Process> {
    match &o.process_file {
        Some(f) => exec_process::from_file(f, container),
        None => exec_process::from_flags(container, &o.overrides),
    }
}

/// The container's record, if its status allows an exec.
fn running_record(g: &Global, o: &ExecOptions) -> Result<Record> {
    let st = Store::open(&g.root)?;
    let rec = st.read_opt(&o.id)?.with_context(|| {
        format!(
            "cannot exec in container {:?}: it is still being created",
            o.id
        )
    })?;
    let dir = st.root().join(&o.id);
    match crate::container::status_of(&rec, &dir) {
        Status::Created | Status::Running => Ok(rec),
        Status::Paused if o.ignore_paused => Ok(rec),
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Creating => bail!("cannot exec in a container that is still being created"),
    }
}

fn cgroup_of(rec: &Record) -> Result<Cgroup> {
    if rec.cgroup.is_null() {
        return Ok(Cgroup::default());
    }
    serde_json::from_value(rec.cgroup.clone()).context("state.json: cgroup")
}

/// Fork the child (inside the container's pid namespace), place it in `cgroup`, let it
/// go and wait until it has exec'd. The returned guard kills it unless released.
fn fork_child(
    o: &ExecOptions,
    process: &Process,
    console: &super::console::Console,
    seccomp: Option<&crate::security::seccomp::Program>,
    joins: Joins,
    cgroup: &Cgroup,
) -> Result<(KillOnDrop, Option<std::os::fd::OwnedFd>)> {
    let (parent_end, child_end) = sync::pair()?;
    // Keep our fds clear of the range handed to the process (3..3+preserve_fds).
    let floor = 3 + o.preserve_fds as i32;
    let child_end = child_end.above(floor)?;
    let joins = joins.above(floor)?;
    let env = process.env().clone().unwrap_or_default();

    let own_pid_ns = match &joins.pid {
        Some(ns) => {
            let own = std::fs::File::open("/proc/self/ns/pid").context("open /proc/self/ns/pid")?;
            super::exec_join::enter(ns)?;
            Some(own)
        }
        None => None,
    };
    // Born in the cgroup2 directory, joining the v1 hierarchies itself (cgroups::join).
    let join = Join::open(cgroup, floor, false)?;
    let forked = fork_into(0, join.v2_fd());
    // Only the parent goes back: the child's active pid namespace is the container's,
    // and a process may never setns to an ancestor pid namespace. Going back needs
    // CAP_SYS_ADMIN in the user namespace that owns hull's own pid namespace, which a
    // rootless hull (root only inside podman's user namespace) lacks: it then stays,
    // which is sound because exec forks nothing after this point (the setting only
    // decides where this process's future children would be born).
    if let (Some(own), Ok((Forked::Parent(_), _)) | Err(_)) = (&own_pid_ns, &forked) {
        use std::os::fd::AsRawFd;
        match crate::sys::nsfs::setns(own.as_raw_fd(), libc::CLONE_NEWPID) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            r => r.context("returning to hull's own pid namespace after fork")?,
        }
    }
    drop(own_pid_ns);
    match forked.context("fork of the exec'd process")? {
        (Forked::Child, _) => {
            drop(parent_end);
            super::exec_child::run(&ChildContext {
                id: &o.id,
                process,
                env: &env,
                joins: &joins,
                sync: &child_end,
                preserve_fds: o.preserve_fds,
                seccomp,
                join: &join,
            })
        }
        (Forked::Parent(pid), born_in_v2) => {
            drop(child_end);
            drop(joins);
            let child = KillOnDrop::new(pid);
            join.finish(cgroup, pid, born_in_v2).with_context(|| {
                format!("placing the exec'd process (pid {pid}) in the container's cgroup")
            })?;
            parent_end.send(&Msg::Go { host_pid: pid })?;
            crate::logging::debug(&format!(
                "nsexec container setup: pid {pid} joins the namespaces of container {}; \
                 child process in init(): placed in its cgroups",
                o.id
            ));
            let mut master = None;
            loop {
                match parent_end.recv_with_fd()? {
                    Some((Msg::Console, Some(m))) => master = console.route(m)?,
                    Some((Msg::Created, _)) => {
                        crate::logging::debug(&format!("setns_init: about to exec: pid {pid}"));
                        break;
                    }
                    Some((Msg::Error(e), _)) => bail!("{e}"),
                    Some((m, _)) => bail!("sync channel: unexpected {m:?} from the exec'd process"),
                    None => return Err(gone(pid, "exec'd process")),
                }
            }
            // Created means "about to execve": EOF now means it did (the socket is
            // close-on-exec); an error message means execve failed.
            match parent_end.recv()? {
                None => Ok((child, master)),
                Some(Msg::Error(e)) => bail!("{e}"),
                Some(m) => bail!("sync channel: unexpected {m:?} from the exec'd process"),
            }
        }
    }
}
