//! `exec`: run a new process inside a created or running container. This side loads the
//! container, builds and checks the process from the config create recorded, opens the
//! init's namespaces and verifies the init, then has `process::exec` fork it. Attached, it then
//! forwards signals and returns the process's status (128+N on signal N).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;

use super::{Container, Status};
use crate::process::console::Console;
use crate::process::exec::Spawn;
use crate::process::exec_join::Joins;
use crate::process::exec_process::{self, Overrides};
use crate::runtime::Runtime;
use crate::spec::Plan;

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
pub fn exec(rt: &Runtime, o: &ExecOptions) -> Result<i32> {
    crate::id::validate(&o.id)?;
    crate::process::sealed_exe::ensure()?;
    let c = runnable(rt, o)?;
    let plan = recorded_plan(rt, &c)?;
    let container = plan
        .spec
        .process()
        .clone()
        .context("the container's config.json has no process")?;
    let mut process = build_process(o, &container)?;
    if o.tty {
        process.set_terminal(Some(true));
    }
    let console = Console::choose(
        process.terminal() == Some(true),
        o.console_socket.as_deref(),
        o.detach,
    )?;
    let linux = plan.spec.linux().as_ref();
    // The container's seccomp filter, compiled here, loaded by the child.
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::security::seccomp::compile)
        .transpose()?;
    let mut cgroup = c.cgroup();
    if !o.cgroup.is_empty() {
        cgroup = cgroup.sub(&o.cgroup)?;
    }
    let joins = Joins::open(c.rec.pid, c.rec.init_start_time)?;

    let forward = if o.detach {
        None
    } else {
        Some(crate::process::attached::Forwarder::install(false)?)
    };
    let on_listener = |pid: i32, fd: &std::os::fd::OwnedFd| send_listener(&plan, &c, pid, fd);
    let spawn = Spawn {
        id: &o.id,
        process: &process,
        console: &console,
        seccomp: seccomp.as_ref(),
        no_new_keyring: c.rec.no_new_keyring,
        personality: linux.and_then(|l| l.personality().as_ref()),
        mempolicy: linux.and_then(|l| l.memory_policy().as_ref()),
        preserve_fds: o.preserve_fds,
        on_listener: &on_listener,
    };
    let (child, master) = crate::process::exec::fork_child(&spawn, joins, &cgroup)?;
    if let Some(p) = &o.pid_file {
        super::write_pid_file(p, child.pid)?;
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

/// The container's config as `create` recorded it: seccomp, capabilities, no_new_privs
/// and the process defaults of an exec come from there, never from the bundle read again.
/// A container created by a hull that recorded none falls back to the bundle.
fn recorded_plan(rt: &Runtime, c: &Container) -> Result<Plan> {
    match rt.store()?.read_config(c.id())? {
        Some((bytes, path)) => crate::spec::load_recorded(bytes, &path, &c.rec.bundle),
        None => crate::spec::load(&c.rec.bundle)
            .context("exec takes its defaults from the container's config.json"),
    }
}

/// The container, if its status allows an exec.
fn runnable(rt: &Runtime, o: &ExecOptions) -> Result<Container> {
    let c = Container::read(rt, &o.id).map_err(|e| {
        if e.to_string().contains("still being created") {
            anyhow::anyhow!(
                "cannot exec in container {:?}: it is still being created",
                o.id
            )
        } else {
            e
        }
    })?;
    match c.status {
        Status::Created | Status::Running => Ok(c),
        Status::Paused if o.ignore_paused => Ok(c),
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Creating => bail!("cannot exec in a container that is still being created"),
    }
}

/// Hand the exec'd process's seccomp notify fd to `linux.seccomp.listenerPath`, as runc
/// does: the process's pid, the container's state (running, the init's pid).
fn send_listener(plan: &Plan, c: &Container, pid: i32, fd: &std::os::fd::OwnedFd) -> Result<()> {
    use std::os::fd::AsFd;
    let owner = crate::security::seccomp::ListenerOwner {
        id: c.id(),
        pid,
        init_pid: c.rec.pid,
        status: Status::Running,
        bundle: &c.rec.bundle,
    };
    crate::security::seccomp::send_to_agent(&plan.spec, &owner, fd.as_fd())
}
